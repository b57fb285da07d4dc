// Agents' mail: see agents.h. Identification, the creation rules and the rewrite of an agent's mail
// to a customer. The pipeline that threads and stores it is core/pipeline.cc's, shared with
// customers' mail.
#include "core/agents.h"

#include <arpa/inet.h>
#include <glib.h>
#include <gmime/gmime.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <map>

#include "core/ascii.h"
#include "core/brand.h"
#include "core/threading.h"

namespace desk {
namespace {

bool ContainsNoCase(std::string_view hay, std::string_view needle) {
  if (needle.empty()) return false;
  return AsciiLower(hay).find(AsciiLower(needle)) != std::string::npos;
}

// A character that can continue an address or login on either side (RFC 5322 atext, '.', '@').
bool AddressChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || static_cast<unsigned char>(c) >= 0x80 ||
         std::strchr("!#$%&'*+-/=?^_`{|}~.@", c) != nullptr;
}

// True when hay names word as a whole address (not inside a longer one): "for <alice@x>" names
// alice@x, "malice@x" and "alice@x.y" do not. Case-insensitive.
bool NamesWord(std::string_view hay, std::string_view word) {
  if (word.empty()) return false;
  const std::string h = AsciiLower(hay), w = AsciiLower(word);
  for (size_t at = h.find(w); at != std::string::npos; at = h.find(w, at + 1)) {
    const size_t end = at + w.size();
    const bool before = at > 0 && AddressChar(h[at - 1]);
    // A trailing '.' ends a sentence, not the address.
    const bool after = end < h.size() && AddressChar(h[end]) &&
                       !(h[end] == '.' && (end + 1 == h.size() || !AddressChar(h[end + 1])));
    if (!before && !after) return true;
  }
  return false;
}

// Groups nest only in hostile mail; the walk stops there (as core/mime_parser.cc's does).
constexpr int kMaxGroupDepth = 8;

// Removes from list every mailbox whose address is one of personal (case-insensitive), in groups
// too. Returns how many were removed.
int RemoveMailboxes(InternetAddressList* list, const std::vector<std::string>& personal,
                    int depth = 0) {
  if (list == nullptr || depth > kMaxGroupDepth) return 0;
  int removed = 0;
  for (int i = internet_address_list_length(list) - 1; i >= 0; --i) {
    InternetAddress* ia = internet_address_list_get_address(list, i);
    if (INTERNET_ADDRESS_IS_GROUP(ia)) {
      removed += RemoveMailboxes(internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia)),
                                 personal, depth + 1);
    } else if (INTERNET_ADDRESS_IS_MAILBOX(ia)) {
      const char* addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));
      const std::string a = AsciiLower(addr != nullptr ? addr : "");
      if (std::find(personal.begin(), personal.end(), a) != personal.end()) {
        internet_address_list_remove_at(list, i);
        ++removed;
      }
    }
  }
  return removed;
}

// The To or Cc value without the agent's personal addresses. Returns false when value names none
// of them (the header is left byte for byte). Else *out is the remaining list as GMime writes a
// header (the other addresses unchanged in meaning; display names GMime re-encodes where it must;
// folded with CRLF), or ""
// to delete the header: nothing is left, or a personal address is still named outside an address
// (in a display name, a comment, or text GMime could not parse as an address).
bool ScrubAddressList(const std::string& value, const std::vector<std::string>& personal,
                      std::string* out) {
  bool named = false;
  for (const std::string& p : personal) named = named || NamesWord(value, p);
  if (!named) return false;
  std::vector<std::string> lower;
  for (const std::string& p : personal) lower.push_back(AsciiLower(p));
  InternetAddressList* list = internet_address_list_parse(nullptr, value.c_str());
  out->clear();
  if (list == nullptr) return true;
  RemoveMailboxes(list, lower);
  if (internet_address_list_length(list) > 0) {
    // Folded at 78 columns (a long list on one line would pass RFC 5322's 998), CRLF + tab.
    GString* text = g_string_new("");
    internet_address_list_encode(list, nullptr, text);
    std::string rest;
    for (const char* c = text->str; *c != '\0'; ++c) {
      if (*c == '\n') rest += '\r';
      rest += *c;
    }
    g_string_free(text, TRUE);
    while (!rest.empty() && (rest.back() == '\n' || rest.back() == '\r')) rest.pop_back();
    bool still = false;
    for (const std::string& p : personal) still = still || NamesWord(rest, p);
    if (!still) *out = std::move(rest);
  }
  g_object_unref(list);
  return true;
}

// True when a Received value names queue id qid as its "id" clause ("... with ESMTPSA id 4XyZ1
// for <...>"), the word after "id" being exactly qid.
bool NamesQueueId(const std::string& value, const std::string& qid) {
  if (qid.empty()) return false;
  const std::string key = "id " + qid;
  for (size_t at = value.find(key); at != std::string::npos; at = value.find(key, at + 1)) {
    const size_t end = at + key.size();
    const bool before = at == 0 || std::isspace(static_cast<unsigned char>(value[at - 1]));
    const bool after = end == value.size() ||
                       std::isspace(static_cast<unsigned char>(value[end])) || value[end] == ';';
    if (before && after) return true;
  }
  return false;
}

// A Received header the customer must not see: it names a personal address ("for <alice@...>")
// or the agent's SASL login the way Postfix writes it ("(Authenticated sender: alice)").
bool TraceNamesAgent(const std::string& value, const AgentRewrite& r) {
  for (const std::string& p : r.personal) {
    if (NamesWord(value, p)) return true;
  }
  if (r.agent != nullptr && !r.agent->login.empty()) {
    const std::string v = AsciiLower(value);
    const std::string key = "authenticated sender: ";
    const std::string login = AsciiLower(r.agent->login);
    for (size_t at = v.find(key); at != std::string::npos; at = v.find(key, at + 1)) {
      const size_t start = at + key.size();
      const size_t end = start + login.size();
      if (v.compare(start, login.size(), login) == 0 && (end == v.size() || !AddressChar(v[end]))) {
        return true;
      }
    }
  }
  return false;
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

// Deletes or changes headers; edits of one name are emitted from the highest index down so the
// indexes of the remaining ones stay valid.
struct HeaderPlan {
  std::map<std::string, std::vector<HeaderEdit>> by_name;  // lower-case name -> edits
  std::vector<HeaderEdit> adds;

  void Change(const std::string& name, int index, std::string value) {
    by_name[AsciiLower(name)].push_back({HeaderEdit::Op::kChange, name, std::move(value), index});
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

}  // namespace

std::string AgentLabel(const AgentConfig& a) {
  return a.name.empty() ? a.address : a.name + " <" + a.address + ">";
}

void PlanAgentRewrite(const AgentRewrite& r, const ParsedMessage& msg, Decision* d) {
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
  const bool skip_first = !msg.headers.empty() && AsciiLower(msg.headers.front().first) == "received" &&
                          NamesQueueId(msg.headers.front().second, r.queue_id);
  std::map<std::string, int> seen;  // lower-case name -> count so far
  bool have_from = false, have_reply_to = false, have_subject = false;
  std::string raw_subject;
  for (const auto& [name, value] : msg.headers) {
    const std::string n = AsciiLower(name);
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
    } else if (n == "to" || n == "cc") {
      // The customer answers all of them: only the agent's own mailboxes go.
      std::string rest;
      if (ScrubAddressList(value, r.personal, &rest)) plan.Change(name, index, rest);
    } else if (n == "received") {
      // Trace text is never edited (RFC 5321 4.4): a header that names the agent goes whole.
      // The MTA's own Received, when the milter is shown it (AgentRewrite::queue_id), is outside
      // smfi_chgheader's indexes and cannot be deleted.
      if (skip_first && index == 1) continue;
      const int mta_index = skip_first ? index - 1 : index;
      if (TraceNamesAgent(value, r)) plan.Change(name, mta_index, "");
    } else if (n == "bcc" || n == "message-id" || n == "in-reply-to" || n == "references") {
      // Left as they are: ids thread the customer's answer; the MTA removes Bcc.
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

bool InNetworks(const std::vector<std::string>& cidrs, std::string_view addr) {
  if (addr.size() > 5 && AsciiLower(addr.substr(0, 5)) == "ipv6:") addr.remove_prefix(5);
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
    const std::string user = AsciiLower(auth_user);
    for (const QueueConfig& q : config.queues) {
      for (const AgentConfig& a : q.agents) {
        if (!a.login.empty() && AsciiLower(a.login) == user) {
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

std::string ReplyViaAddress(const QueueRouter& router, const QueueConfig& queue,
                            const std::string& received_at) {
  QueueMatch m = router.Match(received_at);
  // The queue's reply_via mapping first, by the configured address matched (exact or *@domain).
  if (m.queue == &queue) {
    const std::string prefix = m.support_address + "=";
    for (const std::string& rv : queue.reply_via) {
      if (rv.starts_with(prefix)) return rv.substr(prefix.size());
    }
  }
  if (m.queue == &queue && !m.wildcard) return m.support_address;
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

}  // namespace desk
