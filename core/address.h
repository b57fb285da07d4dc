// Support addresses: normalisation and the recipient -> queue router.
//
// A queue lists addresses of three shapes: exact ("support@example.com"), wildcard
// ("*@help.example.com", any local part at that domain) and, implicitly, plus-addressed forms of an
// exact address ("support+anything@example.com" matches "support@example.com"). Matching ignores case
// and surrounding angle brackets. Exact addresses win over wildcards. Lookups are hash lookups, so
// thousands of support addresses cost nothing per recipient.
//
// Thread-safety: a built QueueRouter is immutable and safe to share.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/config.h"
#include "core/status.h"

namespace desk {

// The canonical form of an address as the MTA routes it: "<Foo@Example.COM>" -> "foo@example.com";
// quoted local parts unquoted ("\"support\"@d" and "sup\\port" in quotes -> "support@d"), trailing
// dots of the domain and a source route ("@a,@b:") dropped, everything lower-case. Returns "" for
// the null sender "<>". Every comparison of addresses goes through it, so a recipient spelled in
// another form that reaches the same mailbox is the same support address (issue 12, item 2).
std::string NormalizeAddress(std::string_view addr);

// Splits "local+tag@domain" into base "local@domain" and tag "tag" (tag "" when there is none).
void SplitPlus(std::string_view normalized, std::string* base, std::string* tag);

struct QueueMatch {
  const QueueConfig* queue = nullptr;  // nullptr: not a support address
  std::string address;      // the normalized recipient as received
  std::string support_address;  // the configured address it matched ("*@d" for a wildcard)
  std::string plus_tag;     // "anything" from support+anything@...; "" if none
  bool wildcard = false;
};

class QueueRouter {
 public:
  // Validates the queues' addresses (kConfig on a malformed pattern or an address claimed by two
  // queues) and builds the lookup tables. The router keeps pointers into config.queues: the Config
  // must outlive it.
  static Status Build(const Config& config, QueueRouter* out);

  // Returns the match for one envelope recipient; queue == nullptr when it is no support address.
  QueueMatch Match(std::string_view rcpt) const;

  // True when addr (any form) is one of our support addresses.
  bool IsSupportAddress(std::string_view addr) const { return Match(addr).queue != nullptr; }

 private:
  std::unordered_map<std::string, const QueueConfig*> exact_;
  std::unordered_map<std::string, const QueueConfig*> wildcard_domains_;
};

}  // namespace desk
