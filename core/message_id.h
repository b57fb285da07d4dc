// Message-IDs: the one rule for what counts as an id, used for a message's own Message-ID, for
// In-Reply-To and References (core/mime_parser.cc) and for the ids threading looks up
// (core/threading.cc). An id is an addr-spec-like token: something, '@', something; at most 250
// bytes; no spaces, control bytes, non-ASCII or angle brackets. Tokens without '@' are not ids
// (as in JWZ's threader): a Message-ID header without one is treated as missing (the parser
// generates an id), and such tokens in In-Reply-To or References are skipped. Ids compare byte
// for byte.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

namespace desk {

constexpr size_t kMaxMessageIdBytes = 250;

// True when id (without angle brackets) is an id by the rule above.
bool WellFormedMessageId(std::string_view id);

// The id of a Message-ID header value: the first <...> token, or the whole trimmed value when it
// has no '<' (some clients omit the brackets); "" when that is not well formed.
std::string MessageIdOf(std::string_view header_value);

}  // namespace desk
