// The pipeline's last stages (contracts in pipeline.h): Plan, with the one builder of the stored
// message and its events for both directions; Commit, the one write; and the delivery edits.
#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

#include "core/brand.h"
#include "core/pipeline.h"
#include "core/record_store.h"

namespace desk {
namespace {

bool SameNameNoCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// First value of a top-level header (case-insensitive name), and how many there are.
int FindHeader(const ParsedMessage& msg, std::string_view name, std::string* first) {
  int count = 0;
  for (const auto& [n, v] : msg.headers) {
    if (SameNameNoCase(n, name)) {
      if (count++ == 0 && first != nullptr) *first = v;
    }
  }
  return count;
}

// A generated Message-ID goes into the delivered copy: added when the mail had none, in place of
// the first one when that was no id (core/message_id.h), so replies to the copy name an id we know.
void AddGeneratedMessageId(const ParsedMessage& msg, Decision* d) {
  if (!msg.message_id_generated) return;
  const std::string value = "<" + msg.message_id + ">";
  if (FindHeader(msg, "Message-ID", nullptr) > 0) {
    d->header_changes.push_back({HeaderEdit::Op::kChange, "Message-ID", value, 1});
  } else {
    d->header_changes.push_back({HeaderEdit::Op::kAdd, "Message-ID", value, 1});
  }
}

// ---- The one builder of stored messages and ticket events -----------------------------------

TicketEvent Event(int64_t now, std::string type, std::string text, uint64_t related = 0) {
  TicketEvent ev;
  ev.at = now;
  ev.type = std::move(type);
  ev.text = std::move(text);
  ev.related_ticket = related;
  return ev;
}

// The message as the ticket keeps it, inbound (a customer's) or outbound (an agent's). The text
// body moves out of ctx.msg (no later stage reads it): no copy of the body.
TicketMessage BuildStoredMessage(MessageContext& ctx) {
  ParsedMessage& msg = ctx.msg;
  const bool outbound = ctx.role != MailRole::kCustomer;
  TicketMessage tm;
  tm.direction = outbound ? Direction::kOutbound : Direction::kInbound;
  tm.message_id = msg.message_id;
  tm.queue_id = ctx.envelope.queue_id;
  tm.from = msg.from;  // an agent's own From is kept on the ticket
  tm.to = msg.to;
  tm.cc = msg.cc;
  tm.envelope_from = ctx.envelope.mail_from;
  if (outbound) {
    for (const std::string& r : ctx.envelope.rcpts) tm.envelope_rcpts.push_back(NormalizeAddress(r));
    tm.agent = ctx.agent.agent->address;
  } else {
    for (const QueueMatch& m : ctx.support) tm.envelope_rcpts.push_back(m.address);
  }
  tm.subject = msg.subject;
  tm.date = msg.date;
  tm.received_at = ctx.now;
  tm.size = msg.size_bytes;
  tm.body = std::move(msg.text_body);
  if (msg.text_body_truncated) {
    tm.body += "\n[... truncated by deskmilter at " +
               std::to_string(ctx.env.config->max_body_chars) + " characters ...]";
  }
  tm.body_truncated = msg.text_body_truncated;
  tm.attachments = ctx.stored_attachments;
  return tm;
}

// The fields of a ticket this message opens (requester: the customer; for agent_new the first
// outside recipient).
Ticket BuildNewTicket(const MessageContext& ctx, const TicketMessage& tm) {
  const ParsedMessage& msg = ctx.msg;
  Ticket t;
  t.queue = ctx.queue->name;
  t.title = msg.subject;
  t.description = tm.body;
  t.received_at = ctx.route.address;
  t.brand = ResolveBrand(*ctx.queue, ctx.route.address).name;  // core/brand.h
  if (ctx.role == MailRole::kAgentNew) {
    for (const auto* list : {&msg.to, &msg.cc}) {
      for (const Mailbox& m : *list) {
        const std::string a = NormalizeAddress(m.address);
        if (t.requester.address.empty() &&
            std::find(ctx.outside_rcpts.begin(), ctx.outside_rcpts.end(), a) !=
                ctx.outside_rcpts.end()) {
          t.requester = m;
        }
      }
    }
    if (t.requester.address.empty()) t.requester.address = ctx.outside_rcpts.front();
    t.assigned_agent = ctx.agent.agent->address;
  } else {
    t.requester = msg.from;
    if (t.requester.address.empty()) t.requester.address = ctx.envelope.mail_from;
  }
  return t;
}

// The standard "created" comment of a new ticket.
TicketEvent CreatedEvent(const MessageContext& ctx, const Ticket& t) {
  std::string text;
  if (ctx.role == MailRole::kAgentNew) {
    const std::string agent = AgentLabel(*ctx.agent.agent);
    text = "Sent by: " + agent + "\nSent to: " + FormatMailbox(t.requester) +
           "\nReceived by: " + ctx.route.address + "\nSession ID: " + ctx.envelope.queue_id +
           "\nAssigned agent: " + agent;
  } else {
    text = "Sent by: " + FormatMailbox(t.requester) + "\nReceived by: " + ctx.route.address +
           "\nSession ID: " + ctx.envelope.queue_id + "\nAssigned agent: unassigned";
  }
  text += "\nQueue: " + ctx.queue->name + "\nSubject: " + ctx.msg.subject;
  return Event(ctx.now, "created", std::move(text));
}

// Adds addr (normalized) to list unless empty, not an address, excluded, or present.
template <typename Exclude>
void AddParticipant(const std::string& addr, Exclude exclude, std::vector<std::string>* list) {
  std::string a = NormalizeAddress(addr);
  if (a.empty() || a.find('@') == std::string::npos || exclude(a)) return;
  if (std::find(list->begin(), list->end(), a) == list->end()) list->push_back(std::move(a));
}

// Who joins the ticket: customers' mail, the sender and everyone copied (no support address);
// agents' mail, the customers it goes to (the agent does not).
std::vector<std::string> Participants(const MessageContext& ctx) {
  const ParsedMessage& msg = ctx.msg;
  const QueueRouter& router = *ctx.env.router;
  std::vector<std::string> out;
  const std::string& by = ctx.thread.matched_by;
  // Threaded by an id the mail itself carries, or by a reply token: the sender saw that ticket's
  // mail. The subject tag is guessable and so adds nobody (issue 18 item 3).
  const bool trusted_thread = by == "in_reply_to" || by == "references" ||
                              by == "referenced_by" || by == "reply_token";
  if (ctx.role == MailRole::kCustomer) {
    // Participants only from a strict From, and only from mail that opens its own ticket, threaded
    // by Message-ID or token, or was authenticated by the MTA (SMTP AUTH, or DMARC pass in a
    // trusted Authentication-Results header).
    const bool opens = ctx.thread.kind == ThreadResult::Kind::kNew;
    const bool authenticated =
        !ctx.envelope.auth_user.empty() ||
        DmarcPassFromTrusted(msg, ctx.env.config->trusted_authserv_ids);
    if (!StrictFrom(msg) || !(opens || trusted_thread || authenticated)) {
      return out;
    }
    auto support = [&](const std::string& a) { return router.IsSupportAddress(a); };
    AddParticipant(msg.from.address, support, &out);
    if (msg.from.address.empty()) AddParticipant(ctx.envelope.mail_from, support, &out);
    for (const Mailbox& m : msg.to) AddParticipant(m.address, support, &out);
    for (const Mailbox& m : msg.cc) AddParticipant(m.address, support, &out);
    return out;
  }
  const Config& cfg = *ctx.env.config;
  auto inside = [&](const std::string& a) {
    return router.IsSupportAddress(a) || FindAgentByAddress(cfg, a) != nullptr;
  };
  // An agent's reply joined by the subject tag alone adds no outside recipient: the tag may come
  // from an outsider's mail to the agent. New tickets and replies threaded by id or token do.
  if (ctx.role == MailRole::kAgentReply && !trusted_thread) return out;
  for (const auto* list : {&msg.to, &msg.cc}) {
    for (const Mailbox& m : *list) AddParticipant(m.address, inside, &out);
  }
  for (const std::string& a : ctx.outside_rcpts) AddParticipant(a, inside, &out);
  return out;
}

// What a reply that finds its ticket closed at commit does (customers' mail; agents' mail is
// recorded on the ticket as it is).
ClosedChoice ChooseForClosed(const MessageContext& ctx, const Ticket& closed) {
  ClosedChoice c;
  if (!ctx.may_open) {
    // Automatic mail (an out-of-office answer to the closing notice) is recorded on the closed
    // ticket: it neither reopens it nor, with closed_reply = new, opens a ticket.
    c.op = ClosedChoice::Op::kAppend;
  } else if (ctx.queue->closed_reply == ClosedReply::kNew) {
    c.op = ClosedChoice::Op::kNew;
    c.new_ticket = BuildNewTicket(ctx, ctx.plan.ticket_write.message);
    c.lead_events.push_back(CreatedEvent(ctx, c.new_ticket));
    c.lead_events.push_back(Event(ctx.now, "linked",
                                  "Reply to closed ticket " + std::to_string(closed.number) +
                                      " opened this ticket",
                                  closed.number));
  } else {
    c.op = ClosedChoice::Op::kReopen;
    c.lead_events.push_back(
        Event(ctx.now, "reopened", "Ticket reopened by a reply from " + FormatMailbox(ctx.msg.from)));
  }
  return c;
}

// Customers' mail of a class that opens no ticket: at most a bounce's delivery-failure event on
// the ticket of the message it reports.
Status PlanTicketless(MessageContext& ctx, TicketWrite* w) {
  TicketStore* store = ctx.env.store;
  const AutoVerdict& av = ctx.auto_verdict;
  ctx.d.ticket_action = "none";
  if (av.kind != AutoKind::kBounce || ctx.class_effect != TicketEffect::kRecord ||
      store == nullptr) {
    return Status::Ok();
  }
  for (const std::string& id : av.reported_message_ids) {
    MessageIdEntry e;
    Status st = store->FindMessageId(id, &e);
    if (st.IsNotFound()) continue;
    if (!st.ok()) return st;
    // Only mail we sent can bounce back to a support address (issue 12 item 8): a bounce naming
    // a customer's Message-ID, or an id merely named, is forged or misdirected and joins no
    // ticket (it stays ticketless under the bounce action).
    if (!e.stored || !e.outbound || e.contested) {
      ctx.d.reasons.push_back("bounce_not_ours");
      continue;
    }
    ctx.d.ticket = e.ticket;
    ctx.d.ticket_action = "event";
    w->op = TicketWrite::Op::kEvents;
    w->ticket = e.ticket;
    w->events.push_back(Event(ctx.now, "delivery_failure",
                              "Delivery failure reported for message " + id + " (" + av.rule +
                                  "): " + ctx.msg.subject));
    ctx.plan.write = true;
    break;
  }
  return Status::Ok();
}

// The ticket change of a message that joins or opens a ticket.
void PlanTicketChange(MessageContext& ctx, TicketWrite* w) {
  Decision& d = ctx.d;
  const ThreadResult& thread = ctx.thread;
  const bool customer = ctx.role == MailRole::kCustomer;
  if (thread.kind == ThreadResult::Kind::kDuplicate) {
    // An SMTP retry, or one mail to two support addresses: nothing is written twice (an agent's
    // copy that goes out now is still rewritten exactly as the first one was).
    d.kind = "duplicate";
    d.ticket = thread.ticket;
    d.ticket_action = "none";
    d.reasons.push_back("duplicate_message_id");
    w->op = TicketWrite::Op::kNone;
    return;
  }
  if (customer) {
    d.kind = thread.kind == ThreadResult::Kind::kReply ? "reply" : "new";
    if (thread.kind == ThreadResult::Kind::kReply) d.reasons.push_back("thread:" + thread.matched_by);
  }
  w->message = BuildStoredMessage(ctx);
  w->signature = ctx.signature;
  if (thread.collision_ticket != 0) {
    // A planted duplicate (issue 18 item 2): kept as its own message under a generated id.
    w->message.message_id = thread.storage_id;
    w->collided_id = ctx.msg.message_id;
  }
  w->message.kind = customer && !d.auto_class.empty() ? d.auto_class : d.kind;  // automatic mail is marked so
  w->referenced_ids = ReferencedIds(ctx.msg, ctx.env.config->max_references);
  w->participants = Participants(ctx);
  w->max_participants = static_cast<size_t>(ctx.env.config->max_participants);
  w->max_named_ids = static_cast<size_t>(ctx.env.config->max_named_ids);
  NamedIdsBound bound;
  bound.key = NormalizeAddress(ctx.envelope.mail_from);
  if (bound.key.empty()) bound.key = ctx.sender;
  bound.window_seconds = 86400;
  bound.max = static_cast<uint64_t>(ctx.env.config->max_named_ids_per_sender);
  w->named_ids_sender = std::move(bound);
  const bool create = customer ? thread.kind == ThreadResult::Kind::kNew
                               : ctx.role == MailRole::kAgentNew;
  // What the queue keeps of a message (core/record_store.h): without the text copy, the body is
  // not stored (the original, if kept, still has it).
  if (!ctx.queue->keep_text) {
    w->message.body.clear();
    w->message.body_truncated = false;
  }
  if (create) {
    w->op = TicketWrite::Op::kCreate;
    w->new_ticket = BuildNewTicket(ctx, w->message);
    w->events.push_back(CreatedEvent(ctx, w->new_ticket));
    if (thread.ignored_tag_ticket != 0 && customer) {
      w->events.push_back(Event(
          ctx.now, "tag_ignored",
          "Subject tag " + FormatSubjectTag(ctx.queue->subject_tag, thread.ignored_tag_ticket) +
              " ignored: " + (ctx.sender.empty() ? std::string("the sender") : ctx.sender) +
              " is not a participant of that ticket",
          thread.ignored_tag_ticket));
      d.reasons.push_back("tag_ignored:" + std::to_string(thread.ignored_tag_ticket));
    }
  } else {
    w->op = TicketWrite::Op::kAppend;
    w->ticket = thread.ticket;
    if (customer) {
      w->on_closed = [&ctx](const Ticket& closed) { return ChooseForClosed(ctx, closed); };
    }
  }
  if (thread.expired_token) d.reasons.push_back("reply_token_expired");
  if (thread.collision_ticket != 0) {
    w->events.push_back(Event(ctx.now, "message_id_collision",
                              "Message-ID <" + ctx.msg.message_id +
                                  "> was already stored for another message on ticket " +
                                  std::to_string(thread.collision_ticket) +
                                  "; this message is stored as <" + thread.storage_id + ">",
                              thread.collision_ticket));
    d.reasons.push_back("message_id_collision:" + std::to_string(thread.collision_ticket));
  }
  if (thread.also_ticket != 0) {
    w->events.push_back(Event(ctx.now, "also_referenced",
                              "This message also referred to ticket " +
                                  std::to_string(thread.also_ticket),
                              thread.also_ticket));
    d.reasons.push_back("also_referenced:" + std::to_string(thread.also_ticket));
  }
  if (thread.unjoined_referenced_by != 0) {
    // Issue 18 item 1: the message's own id was named by that ticket's mail first, but nothing
    // shows its people received this message, so it did not join (and its id is now stored here).
    const std::string n = std::to_string(thread.unjoined_referenced_by);
    w->events.push_back(Event(ctx.now, "late_parent_not_joined",
                              "This message's Message-ID was named earlier by ticket " + n +
                                  ", but it is addressed to none of that ticket's participants",
                              thread.unjoined_referenced_by));
    d.reasons.push_back("late_parent_not_joined:" + n);
  }
  w->events.insert(w->events.end(), ctx.attachment_events.begin(), ctx.attachment_events.end());
  w->events.push_back(Event(ctx.now, "latest_email", MidUrl(ctx.msg.message_id)));
  ctx.plan.write = true;
}

// Reasons and ticket_action from what the store did (or, in a dry run, would do).
void ApplyWriteResult(MessageContext& ctx, const WriteResult& r) {
  Decision& d = ctx.d;
  d.ticket = r.ticket != 0 ? std::optional<uint64_t>(r.ticket) : std::nullopt;
  if (r.duplicate) {  // raced with a copy committed since threading
    d.kind = "duplicate";
    d.ticket_action = "none";
    d.reasons.push_back("duplicate_message_id");
    return;
  }
  // Agents' mail is recorded on a closed ticket as it is (no reason to report).
  if (r.closed_kept && ctx.role == MailRole::kCustomer) {
    d.reasons.push_back("closed_reply:auto_not_reopened");
  }
  if (r.linked_from != 0) d.reasons.push_back("closed_reply:new:" + std::to_string(r.linked_from));
  if (r.reopened) d.reasons.push_back("closed_reply:reopen");
  d.ticket_action = r.created ? "created" : (r.reopened ? "reopened" : "appended");
}

// A dry run's answer: what the write would do, from the ticket as it is now.
Status PredictWrite(MessageContext& ctx, WriteResult* r) {
  const TicketWrite& w = ctx.plan.ticket_write;
  r->created = w.op == TicketWrite::Op::kCreate;
  r->ticket = r->created ? 0 : w.ticket;
  TicketStore* store = ctx.env.store;
  if (w.op != TicketWrite::Op::kAppend || !w.on_closed || store == nullptr) return Status::Ok();
  Ticket t;
  Status st = store->GetTicket(w.ticket, &t);
  if (!st.ok()) return st;
  if (t.status != TicketStatus::kClosed) return Status::Ok();
  const ClosedChoice c = w.on_closed(t);
  r->closed_kept = c.op == ClosedChoice::Op::kAppend;
  r->reopened = c.op == ClosedChoice::Op::kReopen;
  if (c.op == ClosedChoice::Op::kNew) {
    r->created = true;
    r->linked_from = t.number;
    r->ticket = 0;
  }
  return Status::Ok();
}

// The client's network for flood keys: a.b.c.0/24 for IPv4, the first 64 bits for IPv6, "local"
// without a client address (deskctl), the text itself when it is no address.
std::string ClientNetwork(std::string_view addr) {
  if (addr.size() > 5 && SameNameNoCase(addr.substr(0, 5), "IPv6:")) addr.remove_prefix(5);
  if (addr.empty()) return "local";
  const std::string a(addr);
  unsigned char buf[16];
  char text[INET6_ADDRSTRLEN];
  if (inet_pton(AF_INET, a.c_str(), buf) == 1) {
    buf[3] = 0;
    inet_ntop(AF_INET, buf, text, sizeof(text));
    return std::string(text) + "/24";
  }
  if (inet_pton(AF_INET6, a.c_str(), buf) == 1) {
    std::fill(buf + 8, buf + 16, 0);
    inet_ntop(AF_INET6, buf, text, sizeof(text));
    return std::string(text) + "/64";
  }
  return a;
}

// A decoded subject as a header value: as it is when printable ASCII with no encoded-word
// opener, else one RFC 2047 base64 UTF-8 word.
std::string EncodeSubject(const std::string& subject) {
  bool plain = subject.find("=?") == std::string::npos;
  for (unsigned char c : subject) plain = plain && c >= ' ' && c < 0x7f;
  if (plain) return subject;
  static const char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out = "=?UTF-8?B?";
  size_t i = 0;
  for (; i + 2 < subject.size(); i += 3) {
    uint32_t v = (static_cast<unsigned char>(subject[i]) << 16) |
                 (static_cast<unsigned char>(subject[i + 1]) << 8) |
                 static_cast<unsigned char>(subject[i + 2]);
    for (int k = 18; k >= 0; k -= 6) out.push_back(kB64[(v >> k) & 63]);
  }
  if (i < subject.size()) {
    uint32_t v = static_cast<unsigned char>(subject[i]) << 16;
    if (i + 1 < subject.size()) v |= static_cast<unsigned char>(subject[i + 1]) << 8;
    out.push_back(kB64[(v >> 18) & 63]);
    out.push_back(kB64[(v >> 12) & 63]);
    out.push_back(i + 1 < subject.size() ? kB64[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out + "?=";
}

void AddCustomerDeliveryHeaders(MessageContext& ctx) {
  const Config& cfg = *ctx.env.config;
  const ParsedMessage& msg = ctx.msg;
  Decision& d = ctx.d;
  const QueueConfig& queue = *ctx.support.front().queue;
  AddGeneratedMessageId(msg, &d);
  // The loop stamp: a copy of this mail that comes back to a queue is recognised. Another
  // installation's stamp does not stand for ours (mail may pass two help desks), so ours is added
  // unless this very stamp is already there (a loop let through by loop_action).
  const std::string& stamp = ctx.env.auto_rules->installation_id;
  const std::string& stamp_header = ctx.env.auto_rules->loop_stamp_header;
  bool stamped = false;
  for (const auto& [name, value] : msg.headers) {
    if (SameNameNoCase(name, stamp_header)) {
      std::string_view v = value;
      while (!v.empty() && std::isspace(static_cast<unsigned char>(v.front()))) v.remove_prefix(1);
      while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back()))) v.remove_suffix(1);
      stamped = stamped || v == stamp;
    }
  }
  if (!stamp.empty() && !stamped) {
    d.header_changes.push_back({HeaderEdit::Op::kAdd, stamp_header, stamp, 1});
  }
  // Our headers never come from outside (issue 12 item 3): every X-Deskmilter-* header the mail
  // arrived with is removed, except the loop stamp (how a copy that comes back is recognised) and
  // X-Deskmilter-Ticket when it is replaced below.
  const bool set_ticket_header = d.ticket && cfg.add_ticket_header;
  std::vector<std::string> seen;
  for (const auto& [name, value] : msg.headers) {
    if (name.size() < 13 || !SameNameNoCase(name.substr(0, 13), "X-Deskmilter-")) continue;
    if (SameNameNoCase(name, stamp_header)) continue;
    if (set_ticket_header && SameNameNoCase(name, "X-Deskmilter-Ticket")) continue;
    bool done = false;
    for (const std::string& s : seen) done = done || SameNameNoCase(s, name);
    if (done) continue;
    seen.push_back(name);
    for (int i = FindHeader(msg, name, nullptr); i >= 1; --i) {
      d.header_changes.push_back({HeaderEdit::Op::kChange, name, "", i});
    }
  }
  // A subject tag naming a ticket this mail did not join is removed from the delivered copy.
  const uint64_t joined = d.ticket ? *d.ticket : 0;
  const bool foreign_tag = RemoveForeignTags(msg.subject, queue.subject_tag, joined) != msg.subject;
  if (!d.ticket) {
    if (foreign_tag) {
      d.header_changes.push_back(
          {HeaderEdit::Op::kChange, "Subject",
           EncodeSubject(RemoveForeignTags(msg.subject, queue.subject_tag, 0)), 1});
    }
    return;
  }
  const std::string n = std::to_string(*d.ticket);
  if (cfg.add_ticket_header) {
    int existing = FindHeader(msg, "X-Deskmilter-Ticket", nullptr);
    // Replace any copy that came from outside; delete extras from the highest index down so
    // earlier indexes stay valid.
    for (int i = existing; i >= 2; --i) {
      d.header_changes.push_back({HeaderEdit::Op::kChange, "X-Deskmilter-Ticket", "", i});
    }
    if (existing > 0) {
      d.header_changes.push_back({HeaderEdit::Op::kChange, "X-Deskmilter-Ticket", n, 1});
    } else {
      d.header_changes.push_back({HeaderEdit::Op::kAdd, "X-Deskmilter-Ticket", n, 1});
    }
  }
  if (foreign_tag) {
    std::string rest = RemoveForeignTags(msg.subject, queue.subject_tag, joined);
    if (queue.tag_subject && FindSubjectTag(rest, queue.subject_tag) != *d.ticket) {
      const std::string tag = FormatSubjectTag(queue.subject_tag, *d.ticket);
      rest = rest.empty() ? tag : tag + " " + rest;
    }
    d.header_changes.push_back({HeaderEdit::Op::kChange, "Subject", EncodeSubject(rest), 1});
  } else if (queue.tag_subject && FindSubjectTag(msg.subject, queue.subject_tag) != *d.ticket) {
    const std::string tag = FormatSubjectTag(queue.subject_tag, *d.ticket);
    std::string raw;
    if (FindHeader(msg, "Subject", &raw) > 0) {
      d.header_changes.push_back({HeaderEdit::Op::kChange, "Subject", tag + " " + raw, 1});
    } else {
      d.header_changes.push_back({HeaderEdit::Op::kAdd, "Subject", tag, 1});
    }
  }
}

void AddAgentDeliveryEdits(MessageContext& ctx) {
  const Config& cfg = *ctx.env.config;
  const QueueRouter& router = *ctx.env.router;
  const AgentConfig& agent = *ctx.agent.agent;
  const ParsedMessage& msg = ctx.msg;
  Decision& d = ctx.d;
  AddGeneratedMessageId(msg, &d);
  const std::string thread = ctx.thread.matched_by.empty() ? "-" : ctx.thread.matched_by;
  if (ctx.role == MailRole::kAgentNote) {
    d.log_fields.emplace_back("thread", thread);
    return;
  }
  const QueueConfig& queue = *ctx.queue;
  const std::string received_at =
      ctx.role == MailRole::kAgentNew ? ctx.route.address : ctx.ticket.received_at;
  AgentRewrite r;
  r.queue = &queue;
  r.agent = &agent;
  r.via = ReplyViaAddress(router, queue, received_at);
  r.reply_to = r.via;
  r.ticket = d.ticket.value_or(0);
  if (queue.reply_token && !cfg.reply_token_secret.empty() && r.ticket != 0) {
    size_t at = r.via.rfind('@');
    r.reply_to = r.via.substr(0, at) + "+" +
                 MakeReplyToken(cfg.reply_token_secret, queue.name, r.ticket, ctx.now) + r.via.substr(at);
  }
  for (const std::string& p : {agent.address, NormalizeAddress(ctx.envelope.mail_from),
                               NormalizeAddress(msg.from.address)}) {
    if (!p.empty() && !router.IsSupportAddress(p) &&
        std::find(r.personal.begin(), r.personal.end(), p) == r.personal.end()) {
      r.personal.push_back(p);
    }
  }
  r.queue_id = ctx.envelope.queue_id;
  PlanAgentRewrite(r, msg, &d);
  d.log_fields.emplace_back("reply_via", r.via);
  d.log_fields.emplace_back("thread", thread);
}

}  // namespace

Step PlanStage(MessageContext& ctx) {
  const Config& cfg = *ctx.env.config;
  TicketWrite& w = ctx.plan.ticket_write;
  w.now = ctx.now;
  if (ctx.ticketless) {
    w.op = TicketWrite::Op::kNone;
    Status st = PlanTicketless(ctx, &w);
    if (!st.ok()) {
      ctx.d = FailureDecision(cfg, st);
      return Step::kDone;
    }
  } else {
    PlanTicketChange(ctx, &w);
  }
  // Flood: counted for customers' mail but our own and loops, which have their own answers.
  const AutoKind kind = ctx.auto_verdict.kind;
  if (ctx.role == MailRole::kCustomer && cfg.flood_max > 0 && kind != AutoKind::kOwn &&
      kind != AutoKind::kLoop) {
    FloodCount f;
    f.queue = ctx.route.queue->name;
    f.sender = NormalizeAddress(ctx.envelope.mail_from);
    if (f.sender.empty()) f.sender = NormalizeAddress(ctx.msg.from.address);
    // Keyed by sender and the client's network (issue 12 item 5): mail forged as carol@ from
    // elsewhere fills another counter than carol's own.
    const std::string network = ClientNetwork(ctx.envelope.client_addr);
    f.sender += " from " + network;
    f.window_seconds = cfg.flood_window;
    f.max = static_cast<uint64_t>(cfg.flood_max);
    w.flood = std::move(f);
    ctx.plan.write = true;
    // Rotating senders from one network (issue 12 item 5): a count over the network alone. Mail
    // without a client address (deskctl) has no network to count.
    if (cfg.flood_max_per_network > 0 && network != "local") {
      FloodCount n;
      n.queue = ctx.route.queue->name;
      n.sender = "network " + network;
      n.window_seconds = cfg.flood_window;
      n.max = static_cast<uint64_t>(cfg.flood_max_per_network);
      w.flood_network = std::move(n);
    }
  }
  if (ctx.env.plan_steps != nullptr) {
    for (const auto& step : *ctx.env.plan_steps) {
      Status st = step->Plan(ctx);
      if (!st.ok()) {
        ctx.d = FailureDecision(cfg, st);
        return Step::kDone;
      }
    }
  }
  return Step::kNext;
}

Step CommitStage(MessageContext& ctx) {
  const Config& cfg = *ctx.env.config;
  Decision& d = ctx.d;
  TicketWrite& w = ctx.plan.ticket_write;
  const bool ticket_change = w.op == TicketWrite::Op::kCreate || w.op == TicketWrite::Op::kAppend;
  if (!ctx.plan.effects.outbox.empty()) {
    if (!ticket_change) {
      // Outbox mail belongs to a ticket change; refuse rather than lose it (never lose mail).
      ctx.d = FailureDecision(cfg, Status::Internal("outbox mail planned without a ticket change"));
      return Step::kDone;
    }
    w.outbox = ctx.plan.effects.outbox;
  }
  d.add_recipients = ctx.plan.effects.add_recipients;
  TicketStore* store = ctx.env.store;
  if (ctx.dry_run || store == nullptr) {
    if (ticket_change) {
      WriteResult r;
      Status st = PredictWrite(ctx, &r);
      if (!st.ok()) {
        ctx.d = FailureDecision(cfg, st);
        return Step::kDone;
      }
      ApplyWriteResult(ctx, r);
      d.reasons.push_back("dry_run");
    }
    return Step::kNext;
  }
  if (!ctx.plan.write) return Step::kNext;
  if (ticket_change && ctx.collector != nullptr) {
    Status st = ctx.collector->CommitFiles();
    if (!st.ok()) {
      ctx.d = FailureDecision(cfg, st);
      return Step::kDone;
    }
  }
  // The original as received, content-addressed beside the attachments, before the ticket names
  // it (a store failure tempfails: the mail is retried, never recorded without its original).
  if (ticket_change && ctx.queue != nullptr && ctx.queue->keep_original) {
    Status st = StoreBlob(OriginalsDir(AttachmentStoreDir(cfg)), ctx.spool, &w.message.original_sha256);
    if (!st.ok()) {
      ctx.d = FailureDecision(cfg, st);
      return Step::kDone;
    }
  }
  WriteResult& r = ctx.plan.result;
  Status st = store->Write(w, &r);
  if (!st.ok()) {
    ctx.d = FailureDecision(cfg, st);
    return Step::kDone;
  }
  if (r.flooded) {
    const std::string who = r.flooded_network ? w.flood_network->sender
                            : w.flood->sender.empty() ? "<>" : w.flood->sender;
    const uint64_t count = r.flooded_network ? r.flood_network_count : r.flood_count;
    const int64_t max = r.flooded_network ? cfg.flood_max_per_network : cfg.flood_max;
    const Outcome flood = cfg.flood_action;
    d.kind = "flood";
    d.auto_class = "flood";
    d.auto_rule = std::string(r.flooded_network ? "flood_network:" : "flood:") +
                  std::to_string(count) + "/" + std::to_string(max) + "/" +
                  std::to_string(cfg.flood_window) + "s";
    d.queue = ctx.queue->name;  // the flood line names the queue and the message
    d.message_id = ctx.msg.message_id;
    d.ticket = std::nullopt;
    d.ticket_action = "none";
    if (OutcomeSeverity(flood) >= OutcomeSeverity(d.verdict)) {
      d.Set(flood, FailureClass::kFlood,
            "too many messages from " + who + " to " + w.flood->queue);
    }
    if (d.verdict != Outcome::kAccept && d.verdict != Outcome::kHold) {
      d.replacement_body.reset();
      return Step::kDone;
    }
    return Step::kDeliver;
  }
  if (ticket_change) ApplyWriteResult(ctx, r);
  d.outbox_queued = r.outbox_queued;
  if (r.outbox_queued != 0) d.reasons.push_back("outbox_queued:" + std::to_string(r.outbox_queued));
  if (r.outbox_dropped != 0) {
    d.reasons.push_back("outbox_limited:" + std::to_string(r.outbox_dropped));
  }
  if (r.named_ids_dropped != 0) {
    d.reasons.push_back("named_ids_not_indexed:" + std::to_string(r.named_ids_dropped));
  }
  return Step::kNext;
}

Step DeliveryEditsStage(MessageContext& ctx) {
  Decision& d = ctx.d;
  if (d.verdict != Outcome::kAccept && d.verdict != Outcome::kHold) return Step::kDone;
  if (ctx.role != MailRole::kCustomer) {
    AddAgentDeliveryEdits(ctx);
    return Step::kNext;
  }
  AddCustomerDeliveryHeaders(ctx);
  if (!ctx.ticketless && d.kind != "flood") {
    if (!d.auto_class.empty()) d.reasons.push_back("auto:" + d.auto_class + ":" + d.auto_rule);
    d.log_fields.emplace_back("thread",
                              ctx.thread.matched_by.empty() ? "-" : ctx.thread.matched_by);
    d.log_fields.emplace_back("attachments", std::to_string(ctx.msg.attachments.size()));
  }
  return Step::kNext;
}

}  // namespace desk
