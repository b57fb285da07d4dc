// Automatic answers and the trigger PlanStep (see the header).
#include "core/auto_answer.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <ctime>

#include "core/ascii.h"
#include "core/address.h"
#include "core/agents.h"
#include "core/brand.h"
#include "core/mail_text.h"
#include "core/sha256.h"
#include "core/threading.h"

namespace desk {
namespace {

constexpr size_t kMaxReferences = 10;  // References of an answer: the newest ids only

// Untrusted text for a header or body we build: control characters (the ticket marker's bytes,
// CR and LF in a header) become spaces; tabs and, where allowed, newlines stay.
std::string Clean(const std::string& s, bool keep_newlines) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\n' && keep_newlines) {
      out.push_back('\n');
    } else if (c < 0x20 && c != '\t') {
      if (c != '\r') out.push_back(' ');
    } else if (c == 0x7f) {
      out.push_back(' ');
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

std::string RfcDate(int64_t now) {
  time_t t = static_cast<time_t>(now);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[64];
  strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

std::string DomainOf(const std::string& address) {
  size_t at = address.rfind('@');
  return at == std::string::npos ? std::string("localhost") : address.substr(at + 1);
}

// An address that can be written in a header and a RCPT command as it is: one '@', a local part
// of atext and dots, a domain of letters, digits, '-' and '.' (UTF-8 allowed in both, SMTPUTF8),
// or an address literal. NormalizeAddress removes a quoted local part's quotes, so a quoted local
// part with spaces, brackets or commas ("c>, victim@x"@d) fails here: written back unquoted it
// would read as more than one address.
bool PlainAddress(const std::string& a) {
  const size_t at = a.find('@');
  if (at == std::string::npos || at == 0 || at + 1 >= a.size() ||
      a.find('@', at + 1) != std::string::npos) {
    return false;
  }
  for (size_t i = 0; i < at; ++i) {
    const unsigned char c = static_cast<unsigned char>(a[i]);
    if (!(std::isalnum(c) || c >= 0x80 || std::strchr("!#$%&'*+-/=?^_`{|}~.", c) != nullptr) ||
        c == '\0') {
      return false;
    }
  }
  const std::string domain = a.substr(at + 1);
  if (domain.front() == '[' && domain.back() == ']') {
    return domain.find_first_not_of("0123456789abcdefABCDEF.:[]IPvV6", 0) == std::string::npos;
  }
  for (unsigned char c : domain) {
    if (!(std::isalnum(c) || c >= 0x80 || c == '-' || c == '.')) return false;
  }
  return true;
}

}  // namespace

bool IsNoReplyAddress(const std::string& address) {
  const std::string a = AsciiLower(address);
  const std::string local = a.substr(0, a.rfind('@'));
  std::string bare;  // without '-', '_' and '.'
  for (char c : local) {
    if (c != '-' && c != '_' && c != '.') bare.push_back(c);
  }
  for (const char* name : {"noreply", "donotreply", "dontreply", "mailerdaemon", "postmaster",
                           "bounce", "bounces", "listserv", "majordomo", "autoreply",
                           "autoresponder", "notification", "notifications", "nobody"}) {
    if (bare == name) return true;
  }
  auto starts = [&](const char* p) { return local.rfind(p, 0) == 0; };
  auto ends = [&](const std::string& s) {
    return local.size() >= s.size() && local.compare(local.size() - s.size(), s.size(), s) == 0;
  };
  return starts("owner-") || starts("noreply") || starts("no-reply") || starts("donotreply") ||
         starts("do-not-reply") || starts("bounce") || ends("-request") || ends("-bounces") ||
         ends("-owner");
}

std::string AnswerRefusal(const MessageContext& ctx) {
  if (ctx.role != MailRole::kCustomer) return "not_customer";
  if (ctx.auto_verdict.kind != AutoKind::kNone) {
    return std::string("auto:") + AutoKindName(ctx.auto_verdict.kind);
  }
  if (NormalizeAddress(ctx.envelope.mail_from).empty()) return "null_sender";
  if (ctx.sender.empty()) return "no_address";
  if (!PlainAddress(ctx.sender)) return "unsafe_address";
  if (ctx.env.router != nullptr && ctx.env.router->IsSupportAddress(ctx.sender)) {
    return "own_address";
  }
  if (IsNoReplyAddress(ctx.sender)) return "noreply_address";
  return "";
}

OutboxItem BuildAutoAnswer(const AutoAnswer& a) {
  OutboxItem item;
  OutboxMail& m = item.mail;
  m.sender = "";  // RFC 3834: the null envelope sender, so nothing answers the answer
  m.recipients = {a.to_address};
  m.message_id = a.message_id;
  m.kind = "automatic";
  m.due_at = a.now;

  std::string subject = Clean(a.subject, false);
  if (subject.rfind("Re:", 0) != 0 && subject.rfind("RE:", 0) != 0) {
    subject = subject.empty() ? std::string("Re: your message") : "Re: " + subject;
  }
  std::string tag;
  if (!a.subject_tag.empty()) {
    tag = a.subject_tag;
    size_t hole = tag.find("{n}");
    if (hole != std::string::npos) tag.replace(hole, 3, kTicketNumberMarker);
  }
  std::vector<std::string> refs;
  for (const std::string& r : a.references) refs.push_back(Clean(r, false));
  if (!a.in_reply_to.empty() && std::find(refs.begin(), refs.end(), a.in_reply_to) == refs.end()) {
    refs.push_back(Clean(a.in_reply_to, false));
  }
  if (refs.size() > kMaxReferences) refs.erase(refs.begin(), refs.end() - kMaxReferences);
  // The body is the trigger's template (no control characters: ParseTrigger) filled with values
  // cleaned by the caller; it may hold kTicketNumberMarker, which the store replaces.
  std::string body, cte;
  std::string text;
  for (char c : a.body) {
    if (c != '\r') text.push_back(c);
  }
  EncodeTextBody(text, &body, &cte);

  std::string h;
  h += "From: " + FormatFromHeader(Clean(a.from_name, false), a.from_address) + "\r\n";
  h += "To: " + FormatFromHeader(Clean(a.to_name, false), a.to_address) + "\r\n";
  h += "Subject: " + (tag.empty() ? std::string() : tag + " ") + EncodeHeaderText(subject) + "\r\n";
  h += "Date: " + RfcDate(a.now) + "\r\n";
  h += "Message-ID: <" + a.message_id + ">\r\n";
  if (!a.in_reply_to.empty()) h += "In-Reply-To: <" + Clean(a.in_reply_to, false) + ">\r\n";
  if (!refs.empty()) {
    h += "References:";
    for (const std::string& r : refs) h += "\r\n <" + r + ">";
    h += "\r\n";
  }
  h += "Auto-Submitted: auto-replied\r\n";
  h += "X-Auto-Response-Suppress: All\r\n";
  h += "X-Deskmilter-Ticket: " + std::string(kTicketNumberMarker) + "\r\n";
  if (!a.loop_header.empty() && !a.loop_stamp.empty()) {
    h += a.loop_header + ": " + a.loop_stamp + "\r\n";
  }
  h += "MIME-Version: 1.0\r\n";
  h += "Content-Type: text/plain; charset=UTF-8\r\n";
  h += "Content-Transfer-Encoding: " + cte + "\r\n";
  m.raw = h + "\r\n" + body;

  TicketMessage rec;
  rec.direction = Direction::kOutbound;
  rec.kind = "automatic";
  rec.message_id = a.message_id;
  rec.from = {Clean(a.from_name, false), a.from_address};
  rec.to = {{Clean(a.to_name, false), a.to_address}};
  rec.subject = (tag.empty() ? std::string() : tag + " ") + subject;
  rec.date = RfcDate(a.now);
  rec.received_at = a.now;
  rec.size = m.raw.size();
  rec.body = text;
  item.record = std::move(rec);
  return item;
}

Status SeedDefaultTriggers(TicketStore* store) {
  std::vector<std::string> docs;
  for (const Trigger& t : DefaultTriggers()) docs.push_back(TriggerJson(t));
  return store->SeedTriggers(docs);
}

Status TriggerStep::Plan(MessageContext& ctx) const {
  TicketStore* store = ctx.env.store;
  const TicketWrite& w0 = ctx.plan.ticket_write;
  if (store == nullptr || ctx.role != MailRole::kCustomer || ctx.queue == nullptr) {
    return Status::Ok();
  }
  if (w0.op != TicketWrite::Op::kCreate && w0.op != TicketWrite::Op::kAppend) return Status::Ok();
  const TriggerEvent event = w0.op == TicketWrite::Op::kCreate ? TriggerEvent::kTicketOpened
                                                               : TriggerEvent::kCustomerReply;
  std::vector<StoredTrigger> stored;
  Status st = store->GetTriggers(&stored);
  if (!st.ok()) return st;
  std::vector<std::pair<uint64_t, Trigger>> active;
  for (const StoredTrigger& s : stored) {
    Trigger t;
    if (!ParseTrigger(s.json, &t).ok()) continue;  // deskctl stores only valid ones
    if (t.enabled && t.event == event) active.emplace_back(s.id, std::move(t));
  }
  if (active.empty()) return Status::Ok();

  const Config& cfg = *ctx.env.config;
  const QueueConfig& queue = *ctx.queue;
  TicketWrite& w = ctx.plan.ticket_write;
  TriggerFacts facts;
  facts.account_status = state_->QueueAccountStatus(queue.name, ctx.now);
  facts.business_hours = state_->WithinBusinessHours(queue.name, ctx.now);
  facts.queue = queue.name;
  facts.received_at = AsciiLower(ctx.route.address);
  facts.sender_domain = AsciiLower(DomainOf(ctx.sender));
  facts.ticket_status = "open";
  std::string received_at = ctx.route.address;
  Ticket existing;
  if (event == TriggerEvent::kCustomerReply) {
    st = store->GetTicket(w.ticket, &existing);
    if (!st.ok()) return st;
    facts.ticket_status = TicketStatusName(existing.status);
    received_at = existing.received_at;
  }
  bool need_waiting = false, need_agent = false;
  for (const auto& [id, t] : active) {
    need_waiting = need_waiting || NeedsWaitingTickets(t);
    need_agent = need_agent || NeedsLastAgentReply(t);
  }
  if (need_waiting) {
    TicketFilter f;
    f.queue = queue.name;
    f.status = TicketStatus::kOpen;
    std::vector<Ticket> open;
    st = store->ListTickets(f, &open);
    if (!st.ok()) return st;
    facts.waiting_tickets = static_cast<int64_t>(open.size());
  }
  if (need_agent && event == TriggerEvent::kCustomerReply) {
    std::vector<TicketMessage> messages;
    st = store->GetMessages(w.ticket, &messages);
    if (!st.ok()) return st;
    for (const TicketMessage& m : messages) {
      if (m.direction == Direction::kOutbound && !m.agent.empty()) {
        facts.since_last_agent_reply = ctx.now - m.received_at;
      }
    }
  }

  const std::string refusal = AnswerRefusal(ctx);
  const std::string via = ReplyViaAddress(*ctx.env.router, queue, received_at);
  const Brand brand = ResolveBrand(queue, via);
  TemplateValues values;
  values.ticket_id = std::string(kTicketNumberMarker);
  values.ticket_subject = Clean(ctx.msg.subject, false);
  values.queue_name = brand.display_name.empty() ? queue.name : brand.display_name;
  values.requester_name = Clean(ctx.msg.from.name.empty() ? ctx.sender : ctx.msg.from.name, false);
  bool refused_logged = false;
  for (const auto& [id, t] : active) {
    if (!TriggerMatches(t, facts)) continue;
    ctx.d.reasons.push_back("trigger:" + std::to_string(id));
    int64_t delay = 0;
    for (size_t i = 0; i < t.actions.size(); ++i) {
      const TriggerAction& a = t.actions[i];
      if (a.type == TriggerAction::Type::kWait) {
        delay += a.seconds;
      } else if (a.type == TriggerAction::Type::kSetTag) {
        if (std::find(w.add_tags.begin(), w.add_tags.end(), a.text) == w.add_tags.end()) {
          w.add_tags.push_back(a.text);
          TicketEvent ev;
          ev.at = ctx.now;
          ev.type = "tag_added";
          ev.text = a.text + " (trigger " + std::to_string(id) + ")";
          w.events.push_back(std::move(ev));
        }
      } else if (!refusal.empty()) {
        if (!refused_logged) ctx.d.reasons.push_back("auto_answer_refused:" + refusal);
        refused_logged = true;
      } else {
        AutoAnswer ans;
        ans.from_name = values.queue_name;
        ans.from_address = via;
        ans.to_name = ctx.msg.from.name;
        ans.to_address = ctx.sender;
        ans.subject = RemoveForeignTags(ctx.msg.subject, queue.subject_tag, 0);
        ans.subject_tag = queue.subject_tag;
        ans.body = ExpandTemplate(a.text, values);
        ans.message_id =
            "auto." +
            Sha256Hex(ctx.msg.message_id + '\x1f' + std::to_string(id) + '\x1f' + std::to_string(i))
                .substr(0, 32) +
            "@" + DomainOf(via);
        ans.in_reply_to = ctx.msg.message_id;
        ans.references = ctx.msg.references;
        ans.loop_header = ctx.env.auto_rules->loop_stamp_header;
        ans.loop_stamp = ctx.env.auto_rules->installation_id;
        ans.now = ctx.now;
        OutboxItem item = BuildAutoAnswer(ans);
        item.mail.due_at = ctx.now + delay;
        item.limits.push_back({queue.name + '\x1f' + ctx.sender, cfg.auto_answer_window, 1});
        item.max_per_ticket = static_cast<uint32_t>(cfg.auto_answer_max_per_ticket);
        ctx.plan.effects.outbox.push_back(std::move(item));
      }
    }
  }
  return Status::Ok();
}

}  // namespace desk
