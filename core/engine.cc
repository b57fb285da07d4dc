// Engine and Transaction: see engine.h. This file holds routing, the limits while feeding, and
// the hand-over to the end-of-message pipeline (core/pipeline.h).
#include "core/engine.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "core/attachment_stage.h"

namespace desk {
namespace {

constexpr size_t kRawChunk = 64 * 1024;
constexpr char kLoopStampHeader[] = "X-Deskmilter-Loop";

}  // namespace

const char* HeaderEditOpName(HeaderEdit::Op op) {
  switch (op) {
    case HeaderEdit::Op::kAdd: return "add";
    case HeaderEdit::Op::kChange: return "change";
    case HeaderEdit::Op::kInsert: return "insert";
  }
  return "unknown";
}

Status Engine::Create(std::shared_ptr<const Config> config, TicketStore* store,
                      std::unique_ptr<Engine>* out) {
  return Create(std::move(config), store, nullptr, out);
}

Status Engine::Create(std::shared_ptr<const Config> config, TicketStore* store,
                      std::shared_ptr<ScannerHolder> scanner, std::unique_ptr<Engine>* out) {
  std::unique_ptr<Engine> e(new Engine());
  e->config_ = std::move(config);
  e->store_ = store;
  Status st = QueueRouter::Build(*e->config_, &e->router_);
  if (!st.ok()) return st;
  const Config& c = *e->config_;
  AutoMailRules& rules = e->auto_rules_;
  for (const QueueConfig& q : c.queues) {
    rules.own_addresses.insert(rules.own_addresses.end(), q.addresses.begin(), q.addresses.end());
    if (!q.default_address.empty()) rules.own_addresses.push_back(q.default_address);
  }
  rules.blocked_senders = c.blocked_senders;
  rules.loop_stamp_header = kLoopStampHeader;
  rules.installation_id = c.installation_id.empty() ? c.hostname : c.installation_id;
  rules.max_received = static_cast<int>(c.max_received);
  st = AttachmentContext::Create(c, std::move(scanner), &e->attachments_);
  if (!st.ok()) return st;
  e->env_.config = e->config_.get();
  e->env_.router = &e->router_;
  e->env_.auto_rules = &e->auto_rules_;
  e->env_.store = e->store_;
  e->env_.attachments = e->attachments_.get();
  e->env_.plan_steps = &e->plan_steps_;
  *out = std::move(e);
  return Status::Ok();
}

Decision Engine::FailureDecision(const Status& st) const { return desk::FailureDecision(*config_, st); }

Status Engine::SetTicketStatus(uint64_t ticket, TicketStatus status, int64_t now) const {
  if (store_ == nullptr) return Status::Invalid("no ticket store");
  TicketEvent ev;
  ev.at = now;
  ev.type = status == TicketStatus::kClosed ? "closed" : "reopened";
  ev.text = status == TicketStatus::kClosed ? "Ticket closed" : "Ticket reopened";
  return store_->SetStatus(ticket, status, ev, now);
}

Transaction::Transaction(const Engine& engine, Envelope envelope)
    : engine_(engine),
      envelope_(std::move(envelope)),
      spool_(engine.config().spool_dir, static_cast<uint64_t>(engine.config().spool_threshold)) {
  for (const std::string& r : envelope_.rcpts) {
    QueueMatch m = engine_.router().Match(r);
    if (m.queue != nullptr) support_.push_back(std::move(m));
  }
  agent_ = IdentifyAgent(engine_.config(), envelope_.auth_user, envelope_.client_addr,
                         envelope_.mail_from);
}

Transaction::~Transaction() = default;

void Transaction::Header(std::string_view name, std::string_view value) {
  if (!feed_status_.ok()) return;
  header_bytes_ += name.size() + value.size() + 4;
  if (header_bytes_ > static_cast<uint64_t>(engine_.config().max_header_bytes)) {
    feed_status_ = Status::Malformed("header bytes exceed limit " +
                                     std::to_string(engine_.config().max_header_bytes));
    return;
  }
  feed_status_ = spool_.AppendHeader(name, value);
}

void Transaction::EndOfHeaders() {
  if (!feed_status_.ok()) return;
  feed_status_ = spool_.Append("\r\n");
}

void Transaction::Body(std::string_view chunk) {
  if (!feed_status_.ok()) return;
  if (spool_.size() + chunk.size() > static_cast<uint64_t>(engine_.config().max_message_bytes)) {
    feed_status_ = Status::Malformed("message size exceeds limit " +
                                     std::to_string(engine_.config().max_message_bytes));
    return;
  }
  feed_status_ = spool_.Append(chunk);
}

void Transaction::Raw(std::string_view chunk) {
  while (!chunk.empty() && feed_status_.ok()) {
    size_t n = std::min(chunk.size(), kRawChunk);
    Body(chunk.substr(0, n));
    chunk.remove_prefix(n);
  }
}

Decision Transaction::EndOfMessage(int64_t now, bool dry_run) {
  if (!IsRelevant()) {
    Decision d;
    d.kind = "not_support";
    d.ticket_action = "none";
    return d;
  }
  if (!feed_status_.ok()) return engine_.FailureDecision(feed_status_);
  MessageContext ctx{.env = engine_.stage_env(),
                     .envelope = envelope_,
                     .support = support_,
                     .agent = agent_,
                     .spool = spool_,
                     .now = now,
                     .dry_run = dry_run};
  return RunPipeline(ctx);
}

}  // namespace desk
