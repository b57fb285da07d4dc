// Engine and Transaction: see engine.h. This file holds the per-message pipeline: limits while
// feeding, parse, route, thread, build the ticket write, commit, and turn it into a Decision.
#include "core/engine.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "core/attachment_stage.h"
#include "core/brand.h"
#include "core/mime_parser.h"
#include "core/record_store.h"
#include "core/threading.h"

namespace desk {
namespace {

constexpr size_t kRawChunk = 64 * 1024;
constexpr char kLoopStampHeader[] = "X-Deskmilter-Loop";

// The decision for an action taken on a class of mail (automatic mail, flood), with its reply.
Decision ActionDecision(Action action, const std::string& why) {
  Decision d;
  d.ticket_action = "none";
  switch (action) {
    case Action::kAccept: break;
    case Action::kTempfail:
      d.verdict = Verdict::kTempfail;
      d.rcode = "451";
      d.xcode = "4.7.1";
      d.reply_text = "deskmilter: " + why + ", try again later";
      break;
    case Action::kReject:
      d.verdict = Verdict::kReject;
      d.rcode = "550";
      d.xcode = "5.7.1";
      d.reply_text = "deskmilter: " + why;
      break;
    case Action::kHold:
      d.verdict = Verdict::kHold;
      d.hold_reason = why;
      break;
    case Action::kDiscard: d.verdict = Verdict::kDiscard; break;
  }
  return d;
}



// First value of a top-level header (case-insensitive name), and how many there are.
int FindHeader(const ParsedMessage& msg, std::string_view name, std::string* first) {
  int count = 0;
  for (const auto& [n, v] : msg.headers) {
    if (n.size() == name.size() &&
        std::equal(n.begin(), n.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      if (count++ == 0 && first != nullptr) *first = v;
    }
  }
  return count;
}

// Adds addr (normalized) to list unless empty, a support address, or present.
void AddParticipant(const QueueRouter& router, const std::string& addr,
                    std::vector<std::string>* list) {
  std::string a = NormalizeAddress(addr);
  if (a.empty() || a.find('@') == std::string::npos || router.IsSupportAddress(a)) return;
  if (std::find(list->begin(), list->end(), a) == list->end()) list->push_back(a);
}

std::string TruncatedBody(const ParsedMessage& msg, int64_t max_chars) {
  if (!msg.text_body_truncated) return msg.text_body;
  return msg.text_body + "\n[... truncated by deskmilter at " + std::to_string(max_chars) +
         " characters ...]";
}

}  // namespace

const char* VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kAccept: return "accept";
    case Verdict::kReject: return "reject";
    case Verdict::kTempfail: return "tempfail";
    case Verdict::kHold: return "hold";
    case Verdict::kDiscard: return "discard";
  }
  return "unknown";
}

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
  *out = std::move(e);
  return Status::Ok();
}

Decision Engine::FailureDecision(const Status& st) const {
  const Config& c = *config_;
  Action action = c.on_internal_error;
  const char* what = "internal error";
  std::string rcode = "554", xcode = "5.3.0";
  switch (st.error_class()) {
    case ErrorClass::kMalformed:
      action = c.on_malformed;
      what = "malformed message";
      rcode = "550";
      xcode = "5.6.0";
      break;
    case ErrorClass::kStore:
      action = c.on_store_error;
      what = "ticket store error";
      break;
    default:
      break;
  }
  Decision d;
  d.kind = "error";
  d.ticket_action = "none";
  d.error = st.ToString();
  d.reasons.push_back(std::string(ErrorClassName(st.error_class())));
  switch (action) {
    case Action::kAccept: d.verdict = Verdict::kAccept; break;
    case Action::kTempfail:
      d.verdict = Verdict::kTempfail;
      d.rcode = "451";
      d.xcode = "4.3.0";
      d.reply_text = std::string("deskmilter: ") + what + ", try again later";
      break;
    case Action::kReject:
      d.verdict = Verdict::kReject;
      d.rcode = rcode;
      d.xcode = xcode;
      // Malformed-mail reasons describe the sender's mail and help its author; other failures
      // stay generic on the wire and are detailed in the log.
      d.reply_text = std::string("deskmilter: ") + what +
                     (st.error_class() == ErrorClass::kMalformed ? ": " + st.message() : "");
      break;
    case Action::kHold:
      d.verdict = Verdict::kHold;
      d.hold_reason = std::string(what) + ": " + st.message();
      break;
    case Action::kDiscard: d.verdict = Verdict::kDiscard; break;
  }
  return d;
}

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

bool Transaction::AutoStage(const ParsedMessage& msg, const QueueMatch& route, int64_t now,
                            bool dry_run, Decision* d, bool* may_open) {
  const Config& cfg = engine_.config();
  TicketStore* store = engine_.store();
  *may_open = true;
  std::string body_prefix;
  Status st = spool_.Read(msg.body_offset, kAutoMailBodyScanBytes, &body_prefix);
  if (!st.ok()) {
    *d = engine_.FailureDecision(st);
    return true;
  }
  size_t skip = body_prefix.rfind("\r\n", 0) == 0 ? 2 : (body_prefix.rfind("\n", 0) == 0 ? 1 : 0);
  AutoMailInput in;
  in.envelope_from = envelope_.mail_from;
  in.msg = &msg;
  in.raw_body_prefix = std::string_view(body_prefix).substr(skip);
  AutoVerdict av = ClassifyAutoMail(in, engine_.auto_rules());
  const std::string cls = av.kind == AutoKind::kNone ? "" : AutoKindName(av.kind);

  // Flood: counted for everything but our own mail and loops, which have their own answers.
  if (cfg.flood_max > 0 && store != nullptr && !dry_run && av.kind != AutoKind::kOwn &&
      av.kind != AutoKind::kLoop) {
    std::string who = NormalizeAddress(envelope_.mail_from);
    if (who.empty()) who = NormalizeAddress(msg.from.address);
    uint64_t count = 0;
    st = store->CountInWindow("flood\x1f" + route.queue->name + "\x1f" + who, now,
                              cfg.flood_window, &count);
    if (!st.ok()) {
      *d = engine_.FailureDecision(st);
      return true;
    }
    if (count > static_cast<uint64_t>(cfg.flood_max)) {
      *d = ActionDecision(cfg.flood_action, "too many messages from " + (who.empty() ? "<>" : who) +
                                                " to " + route.queue->name);
      d->kind = "flood";
      d->auto_class = "flood";
      d->queue = route.queue->name;  // the flood line names the queue and the message
      d->message_id = msg.message_id;
      d->auto_rule = "flood:" + std::to_string(count) + "/" + std::to_string(cfg.flood_max) +
                     "/" + std::to_string(cfg.flood_window) + "s";
      return true;
    }
  }
  if (av.kind == AutoKind::kNone) return false;

  Action action = Action::kAccept;
  TicketEffect effect = TicketEffect::kNone;
  switch (av.kind) {
    case AutoKind::kLoop: action = cfg.loop_action; break;
    case AutoKind::kOwn: action = cfg.own_action; effect = cfg.own_ticket; break;
    case AutoKind::kBounce: action = cfg.bounce_action; effect = cfg.bounce_ticket; break;
    case AutoKind::kAutoReply:
      action = cfg.auto_reply_action;
      effect = cfg.auto_reply_ticket;
      break;
    case AutoKind::kList: action = cfg.list_action; effect = cfg.list_ticket; break;
    case AutoKind::kNone: break;
  }
  const bool writes = action == Action::kAccept || action == Action::kHold;
  const std::string why = cls + " (" + av.rule + ")";
  if (writes && (effect == TicketEffect::kOpen ||
                 (effect == TicketEffect::kRecord && av.kind != AutoKind::kBounce))) {
    // Threading continues; the verdict (accept or hold) is the configured action's, so a held
    // auto-reply is both held and recorded on its ticket.
    *d = ActionDecision(action, why);
    d->auto_class = cls;
    d->auto_rule = av.rule;
    // kRecord: joins its ticket if it threads, never opens one.
    *may_open = effect == TicketEffect::kOpen;
    return false;
  }
  *d = ActionDecision(action, why);
  d->kind = cls;
  d->auto_class = cls;
  d->auto_rule = av.rule;
  d->queue = route.queue->name;
  d->message_id = msg.message_id;
  if (effect == TicketEffect::kRecord && writes && store != nullptr) {
    // A bounce: a delivery-failure event on the ticket of the message it reports.
    for (const std::string& id : av.reported_message_ids) {
      MessageIdEntry e;
      st = store->FindMessageId(id, &e);
      if (st.IsNotFound()) continue;
      if (!st.ok()) {
        *d = engine_.FailureDecision(st);
        return true;
      }
      d->ticket = e.ticket;
      d->ticket_action = "event";
      if (!dry_run) {
        TicketEvent ev;
        ev.at = now;
        ev.type = "delivery_failure";
        ev.text = "Delivery failure reported for message " + id + " (" + av.rule + "): " +
                  msg.subject;
        st = store->AddEvents(e.ticket, {ev}, now);
        if (!st.ok()) {
          *d = engine_.FailureDecision(st);
          return true;
        }
      }
      break;
    }
  }
  return true;
}

void Transaction::AddDeliveryHeaders(const ParsedMessage& msg, Decision* d) const {
  const Config& cfg = engine_.config();
  const QueueConfig& queue = *support_.front().queue;
  if (msg.message_id_generated) {
    d->header_changes.push_back({HeaderEdit::Op::kAdd, "Message-ID", "<" + msg.message_id + ">", 1});
  }
  // The loop stamp: a copy of this mail that comes back to a queue is recognised. Another
  // installation's stamp does not stand for ours (mail may pass two help desks), so ours is added
  // unless this very stamp is already there (a loop let through by loop_action).
  const std::string& stamp = engine_.auto_rules().installation_id;
  bool stamped = false;
  for (const auto& [name, value] : msg.headers) {
    if (name.size() == sizeof kLoopStampHeader - 1 &&
        std::equal(name.begin(), name.end(), kLoopStampHeader, [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      std::string_view v = value;
      while (!v.empty() && std::isspace(static_cast<unsigned char>(v.front()))) v.remove_prefix(1);
      while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back()))) v.remove_suffix(1);
      stamped = stamped || v == stamp;
    }
  }
  if (!stamp.empty() && !stamped) {
    d->header_changes.push_back({HeaderEdit::Op::kAdd, kLoopStampHeader, stamp, 1});
  }
  if (!d->ticket) return;
  const std::string n = std::to_string(*d->ticket);
  if (cfg.add_ticket_header) {
    int existing = FindHeader(msg, "X-Deskmilter-Ticket", nullptr);
    // Replace any copy that came from outside; delete extras from the highest index down so
    // earlier indexes stay valid.
    for (int i = existing; i >= 2; --i) {
      d->header_changes.push_back({HeaderEdit::Op::kChange, "X-Deskmilter-Ticket", "", i});
    }
    if (existing > 0) {
      d->header_changes.push_back({HeaderEdit::Op::kChange, "X-Deskmilter-Ticket", n, 1});
    } else {
      d->header_changes.push_back({HeaderEdit::Op::kAdd, "X-Deskmilter-Ticket", n, 1});
    }
  }
  if (queue.tag_subject && FindSubjectTag(msg.subject, queue.subject_tag) != *d->ticket) {
    const std::string tag = FormatSubjectTag(queue.subject_tag, *d->ticket);
    std::string raw;
    if (FindHeader(msg, "Subject", &raw) > 0) {
      d->header_changes.push_back({HeaderEdit::Op::kChange, "Subject", tag + " " + raw, 1});
    } else {
      d->header_changes.push_back({HeaderEdit::Op::kAdd, "Subject", tag, 1});
    }
  }
}

Decision Transaction::EndOfMessage(int64_t now, bool dry_run) {
  const Config& cfg = engine_.config();
  if (!IsRelevant()) {
    Decision d;
    d.kind = "not_support";
    d.ticket_action = "none";
    return d;
  }
  if (!feed_status_.ok()) return engine_.FailureDecision(feed_status_);

  ParseLimits limits;
  limits.max_header_bytes = cfg.max_header_bytes;
  limits.max_mime_depth = cfg.max_mime_depth;
  limits.max_mime_parts = cfg.max_mime_parts;
  limits.max_body_chars = cfg.max_body_chars;
  limits.hostname = cfg.hostname;
  limits.decode_dir = cfg.spool_dir;
  limits.decode_threshold = static_cast<uint64_t>(cfg.spool_threshold);
  // Attachment filtering: each attachment of support mail is typed, scanned and judged as
  // it is decoded (agents' own mail to customers is not filtered here).
  std::unique_ptr<AttachmentCollector> attachments;
  if (IsSupport()) {
    const QueueMatch& first = support_.front();
    attachments = std::make_unique<AttachmentCollector>(
        engine_.attachments(), *first.queue,
        static_cast<size_t>(first.queue - cfg.queues.data()),
        !dry_run && engine_.store() != nullptr);
  }
  ParsedMessage msg;
  Status st = ParseMessage(spool_, limits, attachments.get(), &msg);
  if (!st.ok()) return engine_.FailureDecision(st);

  // Issue 5: agents' mail has its own pipeline (core/agents.cc); false = ordinary support mail.
  if (Decision agent_decision;
      IsAgent() && AgentEndOfMessage(engine_, envelope_, agent_, support_, msg, now, dry_run,
                                     &agent_decision)) {
    return agent_decision;
  }

  const QueueMatch& route = support_.front();
  const QueueConfig& queue = *route.queue;
  std::string sender = NormalizeAddress(msg.from.address);
  if (sender.empty()) sender = NormalizeAddress(envelope_.mail_from);

  TicketStore* store = engine_.store();
  Decision d;
  bool may_open = true;
  if (AutoStage(msg, route, now, dry_run, &d, &may_open)) {
    if (d.verdict == Verdict::kAccept || d.verdict == Verdict::kHold) AddDeliveryHeaders(msg, &d);
    return d;
  }
  // Attachment stage: reject/tempfail end here; hold and strip go on to the ticket.
  std::vector<StoredAttachment> stored_attachments;
  std::vector<TicketEvent> attachment_events;
  {
    bool refused = false;
    st = attachments->Finish(spool_, msg, now, &d, &stored_attachments, &attachment_events,
                             &refused);
    if (!st.ok()) return engine_.FailureDecision(st);
    if (refused) {
      d.kind = "attachment";
      d.ticket_action = "none";
      d.queue = queue.name;
      d.message_id = msg.message_id;
      return d;
    }
  }
  ThreadResult thread;
  st = ResolveThread(store, msg, route, sender, cfg.max_references, &thread,
                     cfg.reply_token_secret);
  if (!st.ok()) return engine_.FailureDecision(st);
  if (!may_open && thread.kind == ThreadResult::Kind::kNew) {
    // Automatic mail that does not thread opens no ticket.
    d.kind = d.auto_class;
    d.queue = queue.name;
    d.message_id = msg.message_id;
    d.ticket_action = "none";
    AddDeliveryHeaders(msg, &d);
    return d;
  }
  d.queue = queue.name;
  d.message_id = msg.message_id;

  TicketWrite w;
  w.now = now;
  TicketMessage& tm = w.message;
  tm.direction = Direction::kInbound;
  tm.message_id = msg.message_id;
  tm.queue_id = envelope_.queue_id;
  tm.from = msg.from;
  tm.to = msg.to;
  tm.cc = msg.cc;
  tm.envelope_from = envelope_.mail_from;
  for (const QueueMatch& m : support_) tm.envelope_rcpts.push_back(m.address);
  tm.subject = msg.subject;
  tm.date = msg.date;
  tm.received_at = now;
  tm.size = msg.size_bytes;
  tm.body = TruncatedBody(msg, cfg.max_body_chars);
  tm.body_truncated = msg.text_body_truncated;
  tm.attachments = stored_attachments;
  w.referenced_ids = ReferencedIds(msg, cfg.max_references);
  AddParticipant(engine_.router(), msg.from.address, &w.participants);
  if (msg.from.address.empty()) AddParticipant(engine_.router(), envelope_.mail_from, &w.participants);
  for (const Mailbox& m : msg.to) AddParticipant(engine_.router(), m.address, &w.participants);
  for (const Mailbox& m : msg.cc) AddParticipant(engine_.router(), m.address, &w.participants);

  // Decide create / append / reopen.
  bool create = thread.kind == ThreadResult::Kind::kNew;
  uint64_t linked_from = 0;
  if (thread.kind == ThreadResult::Kind::kDuplicate) {
    d.kind = "duplicate";
    d.ticket = thread.ticket;
    d.ticket_action = "none";
    d.reasons.push_back("duplicate_message_id");
  } else if (thread.kind == ThreadResult::Kind::kReply) {
    d.kind = "reply";
    d.reasons.push_back("thread:" + thread.matched_by);
    Ticket old;
    st = store->GetTicket(thread.ticket, &old);
    if (!st.ok()) return engine_.FailureDecision(st);
    if (old.status == TicketStatus::kClosed && !may_open) {
      // Automatic mail (an out-of-office answer to the closing notice) is recorded on the closed
      // ticket: it neither reopens it nor, with closed_reply = new, opens a ticket.
      w.op = TicketWrite::Op::kAppend;
      w.ticket = thread.ticket;
      d.reasons.push_back("closed_reply:auto_not_reopened");
    } else if (old.status == TicketStatus::kClosed && queue.closed_reply == ClosedReply::kNew) {
      create = true;
      linked_from = old.number;
      d.reasons.push_back("closed_reply:new:" + std::to_string(old.number));
    } else {
      w.op = TicketWrite::Op::kAppend;
      w.ticket = thread.ticket;
      if (old.status == TicketStatus::kClosed) {
        w.reopen = true;
        d.reasons.push_back("closed_reply:reopen");
        TicketEvent ev;
        ev.at = now;
        ev.type = "reopened";
        ev.text = "Ticket reopened by a reply from " + FormatMailbox(msg.from);
        w.events.push_back(std::move(ev));
      }
    }
  } else {
    d.kind = "new";
  }

  if (thread.kind != ThreadResult::Kind::kDuplicate) {
    tm.kind = d.auto_class.empty() ? d.kind : d.auto_class;  // automatic mail is marked so
    if (create) {
      w.op = TicketWrite::Op::kCreate;
      Ticket& t = w.new_ticket;
      t.queue = queue.name;
      t.title = msg.subject;
      t.requester = msg.from;
      if (t.requester.address.empty()) t.requester.address = envelope_.mail_from;
      t.description = tm.body;
      t.received_at = route.address;
      t.linked_from = linked_from;
      TicketEvent created;
      created.at = now;
      created.type = "created";
      created.text = "Sent by: " + FormatMailbox(t.requester) + "\nReceived by: " + route.address +
                     "\nSession ID: " + envelope_.queue_id + "\nAssigned agent: unassigned" +
                     "\nQueue: " + queue.name + "\nSubject: " + msg.subject;
      w.events.push_back(std::move(created));
      if (linked_from != 0) {
        TicketEvent ev;
        ev.at = now;
        ev.type = "linked";
        ev.related_ticket = linked_from;
        ev.text = "Reply to closed ticket " + std::to_string(linked_from) + " opened this ticket";
        w.events.push_back(std::move(ev));
      }
      if (thread.ignored_tag_ticket != 0) {
        TicketEvent ev;
        ev.at = now;
        ev.type = "tag_ignored";
        ev.related_ticket = thread.ignored_tag_ticket;
        ev.text = "Subject tag " + FormatSubjectTag(queue.subject_tag, thread.ignored_tag_ticket) +
                  " ignored: " + (sender.empty() ? std::string("the sender") : sender) +
                  " is not a participant of that ticket";
        w.events.push_back(std::move(ev));
        d.reasons.push_back("tag_ignored:" + std::to_string(thread.ignored_tag_ticket));
      }
    }
    if (thread.also_ticket != 0) {
      TicketEvent ev;
      ev.at = now;
      ev.type = "also_referenced";
      ev.related_ticket = thread.also_ticket;
      ev.text = "This message also referred to ticket " + std::to_string(thread.also_ticket);
      w.events.push_back(std::move(ev));
      d.reasons.push_back("also_referenced:" + std::to_string(thread.also_ticket));
    }
    w.events.insert(w.events.end(), attachment_events.begin(), attachment_events.end());
    TicketEvent latest;
    latest.at = now;
    latest.type = "latest_email";
    latest.text = MidUrl(msg.message_id);
    w.events.push_back(std::move(latest));

    // The ticket record: brand, text copy and original as the queue keeps them (core/brand.h,
    // core/record_store.h).
    if (create) w.new_ticket.brand = ResolveBrand(queue, route.address).name;
    if (!queue.keep_text) {
      tm.body.clear();
      tm.body_truncated = false;
      if (create) w.new_ticket.description.clear();
    }
    if (queue.keep_original && !dry_run && store != nullptr) {
      st = StoreBlob(OriginalsDir(AttachmentStoreDir(cfg)), spool_, &tm.original_sha256);
      if (!st.ok()) return engine_.FailureDecision(st);
    }
    if (dry_run || store == nullptr) {
      d.ticket_action = create ? "created" : (w.reopen ? "reopened" : "appended");
      if (!create) d.ticket = w.ticket;
      d.reasons.push_back("dry_run");
    } else {
      WriteResult res;
      st = store->Write(w, &res);
      if (!st.ok()) return engine_.FailureDecision(st);
      d.ticket = res.ticket;
      if (res.duplicate) {  // raced with a copy committed since ResolveThread
        d.kind = "duplicate";
        d.ticket_action = "none";
        d.reasons.push_back("duplicate_message_id");
      } else {
        d.ticket_action = create ? "created" : (w.reopen ? "reopened" : "appended");
      }
    }
  }

  AddDeliveryHeaders(msg, &d);
  if (!d.auto_class.empty()) d.reasons.push_back("auto:" + d.auto_class + ":" + d.auto_rule);
  d.log_fields.emplace_back("thread", thread.matched_by.empty() ? "-" : thread.matched_by);
  d.log_fields.emplace_back("attachments", std::to_string(msg.attachments.size()));
  return d;
}

}  // namespace desk
