// Agents' mail: see agents.h. Identification, the creation rules and the rewrite of an agent's mail
// to a customer. The pipeline that threads and stores it is core/pipeline.cc's, shared with
// customers' mail.
#include "core/agents.h"

#include <arpa/inet.h>
#include <glib.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <map>

#include "core/brand.h"
#include "core/threading.h"

namespace desk {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool ContainsNoCase(std::string_view hay, std::string_view needle) {
  if (needle.empty()) return false;
  return Lower(hay).find(Lower(needle)) != std::string::npos;
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
