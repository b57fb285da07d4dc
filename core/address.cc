#include "core/address.h"

#include <algorithm>
#include <cctype>

#include "core/ascii.h"

namespace desk {
namespace {

bool ValidDomain(std::string_view d) {
  if (d.empty() || d.size() > 253 || d.front() == '.' || d.back() == '.') return false;
  for (unsigned char c : d) {
    if (!(std::isalnum(c) || c == '-' || c == '.' || c == '_')) return false;
  }
  return true;
}

bool ValidLocal(std::string_view l) {
  if (l.empty() || l.size() > 64) return false;
  for (unsigned char c : l) {
    if (c <= ' ' || c >= 0x7f || c == '@' || c == '<' || c == '>' || c == ',' || c == '"') {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string NormalizeAddress(std::string_view addr) {
  while (!addr.empty() && std::isspace(static_cast<unsigned char>(addr.front()))) {
    addr.remove_prefix(1);
  }
  while (!addr.empty() && std::isspace(static_cast<unsigned char>(addr.back()))) {
    addr.remove_suffix(1);
  }
  if (addr.size() >= 2 && addr.front() == '<' && addr.back() == '>') {
    addr = addr.substr(1, addr.size() - 2);
  }
  // A source route "@relay1,@relay2:local@domain" (RFC 5321 says ignore it; Postfix drops it).
  if (!addr.empty() && addr.front() == '@') {
    size_t colon = addr.find(':');
    if (colon != std::string_view::npos) addr.remove_prefix(colon + 1);
  }
  // The local part as Postfix keeps it internally: quotes removed and backslash escapes resolved
  // ("support"@d and "sup\port"@d are support@d). The '@' that separates the domain is the last
  // one outside quotes.
  std::string local;
  size_t i = 0;
  bool quoted = false;
  size_t at = std::string_view::npos;
  for (; i < addr.size(); ++i) {
    char c = addr[i];
    if (quoted && c == '\\' && i + 1 < addr.size()) {
      local.push_back(addr[++i]);
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == '@' && !quoted && addr.find('@', i + 1) == std::string_view::npos) {
      at = i;
      break;
    } else {
      local.push_back(c);
    }
  }
  if (at == std::string_view::npos) return AsciiLower(local);
  std::string_view domain = addr.substr(at + 1);
  // "support@example.test." names the same host as "support@example.test".
  while (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
  return AsciiLower(local) + "@" + AsciiLower(domain);
}

void SplitPlus(std::string_view normalized, std::string* base, std::string* tag) {
  size_t at = normalized.rfind('@');
  size_t plus = normalized.find('+');
  if (at == std::string_view::npos || plus == std::string_view::npos || plus > at || plus == 0) {
    *base = std::string(normalized);
    tag->clear();
    return;
  }
  *base = std::string(normalized.substr(0, plus)) + std::string(normalized.substr(at));
  *tag = std::string(normalized.substr(plus + 1, at - plus - 1));
}

Status QueueRouter::Build(const Config& config, QueueRouter* out) {
  QueueRouter r;
  for (const QueueConfig& q : config.queues) {
    for (const std::string& raw : q.addresses) {
      std::string a = NormalizeAddress(raw);
      size_t at = a.rfind('@');
      if (at == std::string::npos || !ValidDomain(std::string_view(a).substr(at + 1))) {
        return Status::Config("queue " + q.name + ": '" + raw + "' is not an address");
      }
      std::string local = a.substr(0, at), domain = a.substr(at + 1);
      auto& table = local == "*" ? r.wildcard_domains_ : r.exact_;
      const std::string key = local == "*" ? domain : a;
      if (local != "*" && !ValidLocal(local)) {
        return Status::Config("queue " + q.name + ": '" + raw + "' is not an address");
      }
      auto [it, inserted] = table.emplace(key, &q);
      if (!inserted && it->second != &q) {
        return Status::Config("address '" + raw + "' is claimed by queues " + it->second->name +
                              " and " + q.name);
      }
    }
  }
  *out = std::move(r);
  return Status::Ok();
}

QueueMatch QueueRouter::Match(std::string_view rcpt) const {
  QueueMatch m;
  m.address = NormalizeAddress(rcpt);
  size_t at = m.address.rfind('@');
  if (at == std::string::npos) return m;
  if (auto it = exact_.find(m.address); it != exact_.end()) {
    m.queue = it->second;
    m.support_address = m.address;
    return m;
  }
  std::string base, tag;
  SplitPlus(m.address, &base, &tag);
  if (!tag.empty()) {
    if (auto it = exact_.find(base); it != exact_.end()) {
      m.queue = it->second;
      m.support_address = base;
      m.plus_tag = tag;
      return m;
    }
  }
  if (auto it = wildcard_domains_.find(m.address.substr(at + 1)); it != wildcard_domains_.end()) {
    m.queue = it->second;
    m.support_address = "*@" + it->first;
    m.wildcard = true;
  }
  return m;
}

}  // namespace desk
