// Agents' mail: see agents.h. Identification, the creation rules, the rewrite of an agent's mail
// to a customer, reply tokens (GLib's GHmac), and the agent pipeline that threads and stores it.
#include "core/agents.h"

#include <arpa/inet.h>
#include <glib.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <map>

#include "core/brand.h"
#include "core/engine.h"
#include "core/threading.h"

namespace desk {
namespace {

constexpr size_t kMacHexDigits = 12;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool ContainsNoCase(std::string_view hay, std::string_view needle) {
  if (needle.empty()) return false;
  return Lower(hay).find(Lower(needle)) != std::string::npos;
}



std::string AgentLabel(const AgentConfig& a) {
  return a.name.empty() ? a.address : a.name + " <" + a.address + ">";
}

// Parses "192.0.2.0/24" or "2001:db8::/32" into family, bytes and prefix length.
bool ParseCidr(std::string_view cidr, int* family, unsigned char bytes[16], int* bits) {
  size_t slash = cidr.find('/');
  std::string addr(cidr.substr(0, slash));
  *family = addr.find(':') != std::string::npos ? AF_INET6 : AF_INET;
  if (inet_pton(*family, addr.c_str(), bytes) != 1) return false;
  int max = *family == AF_INET6 ? 128 : 32;
  *bits = max;
  if (slash != std::string_view::npos) {
    std::string_view b = cidr.substr(slash + 1);
    int v = -1;
    auto [p, ec] = std::from_chars(b.data(), b.data() + b.size(), v);
    if (ec != std::errc() || p != b.data() + b.size() || v < 0 || v > max) return false;
    *bits = v;
  }
  return true;
}

bool SameQueue(const QueueConfig* a, const QueueConfig* b) { return a != nullptr && a == b; }

const QueueConfig* QueueByName(const Config& config, const std::string& name) {
  for (const QueueConfig& q : config.queues) {
    if (q.name == name) return &q;
  }
  return nullptr;
}

// Deletes or changes headers; edits of one name are emitted from the highest index down so the
// indexes of the remaining ones stay valid.
struct HeaderPlan {
  std::map<std::string, std::vector<HeaderEdit>> by_name;  // lower-case name -> edits
  std::vector<HeaderEdit> adds;

  void Change(const std::string& name, int index, std::string value) {
    by_name[Lower(name)].push_back({HeaderEdit::Op::kChange, name, std::move(value), index});
  }
  void Emit(std::vector<HeaderEdit>* out) {
    for (auto& [n, edits] : by_name) {
      std::sort(edits.begin(), edits.end(),
                [](const HeaderEdit& a, const HeaderEdit& b) { return a.index > b.index; });
      out->insert(out->end(), edits.begin(), edits.end());
    }
    out->insert(out->end(), adds.begin(), adds.end());
  }
};

struct Rewrite {
  const QueueConfig* queue = nullptr;
  const AgentConfig* agent = nullptr;
  std::string via;       // reply-via address
  std::string reply_to;  // Reply-To address
  uint64_t ticket = 0;   // 0: unknown (dry run of a new ticket): no tag
  std::vector<std::string> personal;  // addresses to scrub from the headers
};

void PlanRewrite(const Rewrite& r, const ParsedMessage& msg, Decision* d) {
  const QueueConfig& q = *r.queue;
  // A brand's display name (core/brand.h) stands for the queue name.
  const Brand brand = ResolveBrand(q, r.via);
  const std::string shown = brand.display_name.empty() ? q.name : brand.display_name;
  std::string display = shown;
  if (q.reply_name == ReplyName::kAgentViaQueue) {
    std::string who = r.agent->name;
    if (who.empty()) who = r.agent->address.substr(0, r.agent->address.find('@'));
    display = who + " via " + shown;
  }
  HeaderPlan plan;
  std::map<std::string, int> seen;  // lower-case name -> count so far
  bool have_from = false, have_reply_to = false, have_subject = false;
  std::string raw_subject;
  for (const auto& [name, value] : msg.headers) {
    const std::string n = Lower(name);
    const int index = ++seen[n];
    if (n == "from") {
      if (index == 1) {
        plan.Change(name, 1, FormatFromHeader(display, r.via));
        have_from = true;
      } else {
        plan.Change(name, index, "");
      }
    } else if (n == "reply-to") {
      if (index == 1) {
        plan.Change(name, 1, r.reply_to);
        have_reply_to = true;
      } else {
        plan.Change(name, index, "");
      }
    } else if (n == "sender" || n == "return-path") {
      plan.Change(name, index, "");
    } else if (n == "subject") {
      if (index == 1) {
        have_subject = true;
        raw_subject = value;
      }
    } else if (n == "to" || n == "cc" || n == "bcc" || n == "received" || n == "message-id" ||
               n == "in-reply-to" || n == "references") {
      // What the agent addressed, and the MTA's trace: left as they are.
    } else {
      for (const std::string& p : r.personal) {
        if (ContainsNoCase(value, p)) {
          plan.Change(name, index, "");
          break;
        }
      }
    }
  }
  if (!have_from) plan.adds.push_back({HeaderEdit::Op::kAdd, "From", FormatFromHeader(display, r.via), 1});
  if (!have_reply_to) plan.adds.push_back({HeaderEdit::Op::kAdd, "Reply-To", r.reply_to, 1});
  if (r.ticket != 0 && q.tag_subject && FindSubjectTag(msg.subject, q.subject_tag) != r.ticket) {
    const std::string tag = FormatSubjectTag(q.subject_tag, r.ticket);
    if (have_subject) {
      plan.Change("Subject", 1, tag + " " + raw_subject);
    } else {
      plan.adds.push_back({HeaderEdit::Op::kAdd, "Subject", tag, 1});
    }
  }
  plan.Emit(&d->header_changes);
  if (q.rewrite_envelope) d->envelope_from = r.via;
}

}  // namespace

bool InNetworks(const std::vector<std::string>& cidrs, std::string_view addr) {
  if (addr.size() > 5 && Lower(addr.substr(0, 5)) == "ipv6:") addr.remove_prefix(5);
  if (addr.size() >= 2 && addr.front() == '[' && addr.back() == ']') {
    addr = addr.substr(1, addr.size() - 2);
  }
  std::string a(addr);
  int family = a.find(':') != std::string::npos ? AF_INET6 : AF_INET;
  unsigned char bytes[16];
  if (a.empty() || inet_pton(family, a.c_str(), bytes) != 1) return false;
  for (const std::string& cidr : cidrs) {
    int net_family = 0, bits = 0;
    unsigned char net[16];
    if (!ParseCidr(cidr, &net_family, net, &bits) || net_family != family) continue;
    bool match = true;
    for (int i = 0; match && i < bits; i += 8) {
      int take = std::min(8, bits - i);
      unsigned char mask = static_cast<unsigned char>(0xff << (8 - take));
      match = (bytes[i / 8] & mask) == (net[i / 8] & mask);
    }
    if (match) return true;
  }
  return false;
}

const AgentConfig* FindAgentByAddress(const Config& config, std::string_view addr) {
  const std::string a = NormalizeAddress(addr);
  if (a.empty()) return nullptr;
  for (const QueueConfig& q : config.queues) {
    for (const AgentConfig& agent : q.agents) {
      if (agent.address == a) return &agent;
    }
  }
  return nullptr;
}

AgentIdentity IdentifyAgent(const Config& config, std::string_view auth_user,
                            std::string_view client_addr, std::string_view mail_from) {
  AgentIdentity id;
  if (!auth_user.empty()) {
    const std::string user = Lower(auth_user);
    for (const QueueConfig& q : config.queues) {
      for (const AgentConfig& a : q.agents) {
        if (!a.login.empty() && Lower(a.login) == user) {
          id.agent = &a;
          id.queue = &q;
          id.via = "auth";
          return id;
        }
      }
    }
    // Authenticated as somebody else: the envelope sender of a trusted client proves nothing
    // more than the login did.
    return id;
  }
  if (config.trusted_networks.empty() || !InNetworks(config.trusted_networks, client_addr)) {
    return id;
  }
  const std::string from = NormalizeAddress(mail_from);
  for (const QueueConfig& q : config.queues) {
    for (const AgentConfig& a : q.agents) {
      if (!from.empty() && a.address == from) {
        id.agent = &a;
        id.queue = &q;
        id.via = "trusted_network";
        return id;
      }
    }
  }
  return id;
}

const char* AgentMailKindName(AgentMailKind k) {
  switch (k) {
    case AgentMailKind::kPersonal: return "personal";
    case AgentMailKind::kSupport: return "support";
    case AgentMailKind::kReply: return "agent_reply";
    case AgentMailKind::kInternalNote: return "internal_note";
    case AgentMailKind::kNew: return "agent_new";
  }
  return "unknown";
}

AgentMailKind ClassifyAgentMail(const AgentMailFacts& f) {
  if (f.threads) return f.outside_rcpt ? AgentMailKind::kReply : AgentMailKind::kInternalNote;
  if (f.outside_rcpt) return f.support_involved ? AgentMailKind::kNew : AgentMailKind::kPersonal;
  return f.to_support ? AgentMailKind::kSupport : AgentMailKind::kPersonal;
}

std::string MakeReplyToken(std::string_view secret, std::string_view queue, uint64_t ticket) {
  const std::string n = std::to_string(ticket);
  const std::string data = "deskmilter-reply-token:v1:" + std::string(queue) + ":" + n;
  GHmac* hmac = g_hmac_new(G_CHECKSUM_SHA256, reinterpret_cast<const guchar*>(secret.data()),
                           secret.size());
  g_hmac_update(hmac, reinterpret_cast<const guchar*>(data.data()),
                static_cast<gssize>(data.size()));
  std::string hex = g_hmac_get_string(hmac);  // owned by hmac
  g_hmac_unref(hmac);
  return n + "-" + hex.substr(0, kMacHexDigits);
}

std::optional<uint64_t> CheckReplyToken(std::string_view secret, std::string_view queue,
                                        std::string_view token) {
  if (secret.empty()) return std::nullopt;
  size_t dash = token.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash > 18 ||
      token.size() != dash + 1 + kMacHexDigits) {
    return std::nullopt;
  }
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(token.data(), token.data() + dash, n);
  if (ec != std::errc() || p != token.data() + dash || n == 0 || token[0] == '0') {
    return std::nullopt;
  }
  const std::string want = MakeReplyToken(secret, queue, n);
  // Constant time over the MAC, so a forger learns nothing from timing.
  unsigned char diff = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    diff |= static_cast<unsigned char>(want[i] ^ std::tolower(static_cast<unsigned char>(token[i])));
  }
  if (diff != 0) return std::nullopt;
  return n;
}

std::string ReplyViaAddress(const QueueRouter& router, const QueueConfig& queue,
                            const std::string& received_at) {
  QueueMatch m = router.Match(received_at);
  if (SameQueue(m.queue, &queue) && !m.wildcard) return m.support_address;
  return queue.default_address;
}

std::string FormatFromHeader(const std::string& name, const std::string& address) {
  if (name.empty()) return address;
  bool ascii = true, specials = false;
  for (unsigned char c : name) {
    if (c >= 0x80 || c < 0x20 || c == 0x7f) ascii = false;
    if (std::strchr("()<>[]:;@\\,.\"", c) != nullptr) specials = true;
  }
  std::string shown;
  if (!ascii) {
    gchar* b64 = g_base64_encode(reinterpret_cast<const guchar*>(name.data()), name.size());
    shown = std::string("=?UTF-8?B?") + b64 + "?=";
    g_free(b64);
  } else {
    (void)specials;  // quote always: simplest, and always valid
    shown = "\"";
    for (char c : name) {
      if (c == '"' || c == '\\') shown += '\\';
      shown += c;
    }
    shown += "\"";
  }
  return shown + " <" + address + ">";
}

bool AgentEndOfMessage(const Engine& engine, const Envelope& envelope, const AgentIdentity& id,
                       const std::vector<QueueMatch>& support_rcpts, const ParsedMessage& msg,
                       int64_t now, bool dry_run, Decision* out) {
  const Config& cfg = engine.config();
  const QueueRouter& router = engine.router();
  const AgentConfig& agent = *id.agent;
  TicketStore* store = engine.store();

  // Who the mail goes to, and which support address it involves (From first, then To, Cc, and
  // the envelope, which also sees Bcc).
  auto outside = [&](const std::string& addr) {
    std::string a = NormalizeAddress(addr);
    return !a.empty() && a.find('@') != std::string::npos && !router.IsSupportAddress(a) &&
           FindAgentByAddress(cfg, a) == nullptr;
  };
  std::vector<std::string> outside_rcpts;
  for (const std::string& r : envelope.rcpts) {
    if (outside(r)) outside_rcpts.push_back(NormalizeAddress(r));
  }
  QueueMatch involved = router.Match(msg.from.address);
  for (const auto* list : {&msg.to, &msg.cc}) {
    for (const Mailbox& m : *list) {
      if (involved.queue == nullptr) involved = router.Match(m.address);
    }
  }
  if (involved.queue == nullptr && !support_rcpts.empty()) involved = support_rcpts.front();

  QueueMatch thread_match;
  thread_match.queue = involved.queue != nullptr ? involved.queue : id.queue;
  ThreadResult thread;
  Status st = ResolveThread(store, msg, thread_match, agent.address, cfg.max_references, &thread,
                            cfg.reply_token_secret);
  if (!st.ok()) {
    *out = engine.FailureDecision(st);
    return true;
  }
  Ticket ticket;
  bool have_ticket = false;
  if (thread.kind == ThreadResult::Kind::kNew && thread.ignored_tag_ticket != 0) {
    // An identified agent may name any existing ticket by its tag.
    st = store->GetTicket(thread.ignored_tag_ticket, &ticket);
    if (st.ok()) {
      thread.kind = ThreadResult::Kind::kReply;
      thread.ticket = ticket.number;
      thread.matched_by = "subject_tag";
      have_ticket = true;
    } else if (!st.IsNotFound()) {
      *out = engine.FailureDecision(st);
      return true;
    }
  }
  if (thread.kind != ThreadResult::Kind::kNew && !have_ticket) {
    st = store->GetTicket(thread.ticket, &ticket);
    if (!st.ok()) {
      *out = engine.FailureDecision(st);
      return true;
    }
  }

  AgentMailFacts facts;
  facts.threads = thread.kind != ThreadResult::Kind::kNew;
  facts.outside_rcpt = !outside_rcpts.empty();
  facts.support_involved = involved.queue != nullptr;
  facts.to_support = !support_rcpts.empty();
  const AgentMailKind kind = ClassifyAgentMail(facts);
  if (kind == AgentMailKind::kSupport) return false;

  Decision d;
  d.message_id = msg.message_id;
  d.log_fields.emplace_back("agent", agent.address);
  d.log_fields.emplace_back("agent_by", id.via);
  d.reasons.push_back("agent:" + id.via);
  if (kind == AgentMailKind::kPersonal) {
    d.kind = "not_support";
    d.ticket_action = "none";
    d.reasons.push_back("agent_personal");
    *out = std::move(d);
    return true;
  }

  const QueueConfig* queue = facts.threads ? QueueByName(cfg, ticket.queue) : involved.queue;
  if (queue == nullptr) queue = thread_match.queue;  // the ticket's queue left the config
  d.queue = queue->name;
  d.kind = AgentMailKindName(kind);
  if (!thread.matched_by.empty()) d.reasons.push_back("thread:" + thread.matched_by);

  TicketWrite w;
  w.now = now;
  TicketMessage& tm = w.message;
  tm.direction = Direction::kOutbound;
  tm.kind = d.kind;
  tm.message_id = msg.message_id;
  tm.queue_id = envelope.queue_id;
  tm.from = msg.from;  // the agent's own From, kept on the ticket
  tm.to = msg.to;
  tm.cc = msg.cc;
  tm.envelope_from = envelope.mail_from;
  for (const std::string& r : envelope.rcpts) tm.envelope_rcpts.push_back(NormalizeAddress(r));
  tm.subject = msg.subject;
  tm.date = msg.date;
  tm.received_at = now;
  tm.size = msg.size_bytes;
  tm.body = msg.text_body;
  if (msg.text_body_truncated) {
    tm.body += "\n[... truncated by deskmilter at " + std::to_string(cfg.max_body_chars) +
               " characters ...]";
  }
  tm.body_truncated = msg.text_body_truncated;
  tm.agent = agent.address;
  for (const AttachmentInfo& a : msg.attachments) {
    StoredAttachment sa;
    sa.filename = a.filename;
    sa.declared_type = a.declared_type;
    sa.size = a.size;
    sa.sha256 = a.sha256;
    tm.attachments.push_back(std::move(sa));
  }
  w.referenced_ids = ReferencedIds(msg, cfg.max_references);
  // The customers become participants (their tagged replies then thread); the agent does not.
  for (const auto* list : {&msg.to, &msg.cc}) {
    for (const Mailbox& m : *list) {
      std::string a = NormalizeAddress(m.address);
      if (outside(a) && std::find(w.participants.begin(), w.participants.end(), a) ==
                            w.participants.end()) {
        w.participants.push_back(a);
      }
    }
  }
  for (const std::string& a : outside_rcpts) {
    if (std::find(w.participants.begin(), w.participants.end(), a) == w.participants.end()) {
      w.participants.push_back(a);
    }
  }

  std::string received_at = ticket.received_at;
  const bool create = kind == AgentMailKind::kNew;
  if (create) {
    w.op = TicketWrite::Op::kCreate;
    Ticket& t = w.new_ticket;
    t.queue = queue->name;
    t.title = msg.subject;
    for (const auto* list : {&msg.to, &msg.cc}) {
      for (const Mailbox& m : *list) {
        if (t.requester.address.empty() && outside(m.address)) t.requester = m;
      }
    }
    if (t.requester.address.empty()) t.requester.address = outside_rcpts.front();
    t.description = tm.body;
    t.received_at = involved.address;
    t.assigned_agent = agent.address;
    received_at = t.received_at;
    TicketEvent created;
    created.at = now;
    created.type = "created";
    created.text = "Sent by: " + AgentLabel(agent) + "\nSent to: " + FormatMailbox(t.requester) +
                   "\nReceived by: " + involved.address + "\nSession ID: " + envelope.queue_id +
                   "\nAssigned agent: " + AgentLabel(agent) + "\nQueue: " + queue->name +
                   "\nSubject: " + msg.subject;
    w.events.push_back(std::move(created));
  } else {
    w.op = TicketWrite::Op::kAppend;
    w.ticket = thread.ticket;
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
  TicketEvent latest;
  latest.at = now;
  latest.type = "latest_email";
  latest.text = MidUrl(msg.message_id);
  w.events.push_back(std::move(latest));

  if (thread.kind == ThreadResult::Kind::kDuplicate) {
    // An SMTP retry of a mail already stored: nothing to write, but the copy that goes out now
    // must be rewritten exactly as the first one was.
    d.kind = "duplicate";
    d.ticket = thread.ticket;
    d.ticket_action = "none";
    d.reasons.push_back("duplicate_message_id");
  } else if (dry_run || store == nullptr) {
    d.ticket_action = create ? "created" : "appended";
    if (!create) d.ticket = w.ticket;
    d.reasons.push_back("dry_run");
  } else {
    WriteResult res;
    st = store->Write(w, &res);
    if (!st.ok()) {
      *out = engine.FailureDecision(st);
      return true;
    }
    d.ticket = res.ticket;
    d.ticket_action = res.duplicate ? "none" : (create ? "created" : "appended");
    if (res.duplicate) {
      d.kind = "duplicate";
      d.reasons.push_back("duplicate_message_id");
    }
  }

  if (msg.message_id_generated) {
    d.header_changes.push_back({HeaderEdit::Op::kAdd, "Message-ID", "<" + msg.message_id + ">", 1});
  }
  if (kind == AgentMailKind::kInternalNote) {
    d.log_fields.emplace_back("thread", thread.matched_by.empty() ? "-" : thread.matched_by);
    *out = std::move(d);
    return true;
  }

  Rewrite r;
  r.queue = queue;
  r.agent = &agent;
  r.via = ReplyViaAddress(router, *queue, received_at);
  r.reply_to = r.via;
  r.ticket = d.ticket.value_or(0);
  if (queue->reply_token && !cfg.reply_token_secret.empty() && r.ticket != 0) {
    size_t at = r.via.rfind('@');
    r.reply_to = r.via.substr(0, at) + "+" +
                 MakeReplyToken(cfg.reply_token_secret, queue->name, r.ticket) + r.via.substr(at);
  }
  for (const std::string& p : {agent.address, NormalizeAddress(envelope.mail_from),
                               NormalizeAddress(msg.from.address)}) {
    if (!p.empty() && !router.IsSupportAddress(p) &&
        std::find(r.personal.begin(), r.personal.end(), p) == r.personal.end()) {
      r.personal.push_back(p);
    }
  }
  PlanRewrite(r, msg, &d);
  d.log_fields.emplace_back("reply_via", r.via);
  d.log_fields.emplace_back("thread", thread.matched_by.empty() ? "-" : thread.matched_by);
  *out = std::move(d);
  return true;
}

}  // namespace desk
