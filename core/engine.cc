// Engine and Transaction: see engine.h. This file holds routing, the limits while feeding, and
// the hand-over to the end-of-message pipeline (core/pipeline.h).
#include "core/engine.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "core/attachment_stage.h"
#include "core/routing.h"

namespace desk {
namespace {

constexpr size_t kRawChunk = 64 * 1024;
constexpr char kLoopStampHeader[] = "X-Deskmilter-Loop";

// The first Subject header of a control mail (unfolded, at most 200 bytes), read from the first
// 64 KiB of the spool: the control mail needs no MIME parse.
std::string ControlSubject(const Spool& spool) {
  std::string head;
  if (!spool.Read(0, static_cast<size_t>(std::min<uint64_t>(spool.size(), 64 * 1024)), &head).ok()) {
    return "";
  }
  std::string subject;
  bool in_subject = false;
  size_t pos = 0;
  while (pos < head.size()) {
    size_t eol = head.find('\n', pos);
    if (eol == std::string::npos) eol = head.size();
    std::string line = head.substr(pos, eol - pos);
    pos = eol + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) break;  // end of the header block
    if (line[0] == ' ' || line[0] == '\t') {
      if (in_subject) subject += line;
      continue;
    }
    if (in_subject) break;
    if (line.size() >= 8) {
      std::string name = line.substr(0, 8);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (name == "subject:") {
        in_subject = true;
        subject = line.substr(8);
      }
    }
  }
  return subject.substr(0, 200);
}

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
  e->plan_steps_.push_back(MakeRoutingStep());  // automatic queues only (core/routing.h)
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
  const std::string& control = engine_.config().control_address;
  for (const std::string& r : envelope_.rcpts) {
    control_ = control_ || (!control.empty() && NormalizeAddress(r) == control);
  }
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
  if (control_) return ControlMail(now, dry_run);
  MessageContext ctx{.env = engine_.stage_env(),
                     .envelope = envelope_,
                     .support = support_,
                     .agent = agent_,
                     .spool = spool_,
                     .now = now,
                     .dry_run = dry_run};
  return RunPipeline(ctx);
}

Decision Transaction::ControlMail(int64_t now, bool dry_run) {
  const Config& cfg = engine_.config();
  Decision d;
  d.kind = "agent_control";
  d.ticket_action = "none";
  if (!IsAgent()) {
    // Only an identified agent (SMTP AUTH, or trusted network + envelope sender) sets a state.
    d.Set(Outcome::kReject, FailureClass::kNone,
          "mail to the control address from no identified agent is refused");
    d.reasons.push_back("control:refused");
    return d;
  }
  const std::string& who = agent_.agent->address;
  // The subject: "state NAME" (case-insensitive, surrounding spaces ignored).
  std::string subject;
  for (char c : ControlSubject(spool_)) {
    subject += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  size_t b = subject.find_first_not_of(" \t");
  subject = b == std::string::npos ? "" : subject.substr(b);
  while (!subject.empty() && std::isspace(static_cast<unsigned char>(subject.back()))) {
    subject.pop_back();
  }
  d.log_fields.emplace_back("agent", who);
  if (subject.rfind("state ", 0) != 0) {
    d.Set(Outcome::kReject, FailureClass::kNone,
          "control mail subject must be \"state NAME\"");
    d.reasons.push_back("control:bad_subject");
    return d;
  }
  StateRequest req;
  req.address = who;
  req.state = subject.substr(6);
  req.actor = StateActor::kAgent;
  req.by = agent_.via == "auth" ? "agent (SMTP AUTH " + envelope_.auth_user + ")"
                                : "agent (" + agent_.via + ")";
  req.now = now;
  if (dry_run || engine_.store() == nullptr) {
    AgentStateChange change;
    Status st = DecideAgentState(cfg, req, nullptr, &change);
    if (!st.ok()) {
      d.Set(Outcome::kReject, FailureClass::kNone, st.message());
      d.reasons.push_back("control:refused_state");
      return d;
    }
    d.Set(Outcome::kDiscard, FailureClass::kNone, "agent state control mail");
    d.reasons.push_back("dry_run");
    return d;
  }
  AgentStateChange applied;
  std::vector<std::pair<uint64_t, std::string>> assigned;
  Status st = SetAgentState(engine_.store(), cfg, req, /*confirm=*/true, &applied, &assigned);
  if (st.error_class() == ErrorClass::kInvalid || st.IsNotFound()) {
    d.Set(Outcome::kReject, FailureClass::kNone, st.message());
    d.reasons.push_back("control:refused_state");
    return d;
  }
  if (!st.ok()) return engine_.FailureDecision(st);
  d.Set(Outcome::kDiscard, FailureClass::kNone, "agent state control mail");
  d.reasons.push_back("control:state");
  d.log_fields.emplace_back("old_state", applied.event.old_state.empty() ? "offline"
                                                                        : applied.event.old_state);
  d.log_fields.emplace_back("state", applied.record.state);
  for (const auto& [ticket, agent] : assigned) {
    d.reasons.push_back("assigned:" + std::to_string(ticket) + ":" + agent);
  }
  return d;
}

}  // namespace desk
