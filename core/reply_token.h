// Reply tokens: "N-D-MAC", N the ticket number and D the day it was issued (days since the epoch),
// both in decimal, and MAC the first 12 hex digits (48 bits) of
// HMAC-SHA256(secret, "deskmilter-reply-token:v2:QUEUE:N:D"); lower case, so they survive the case
// folding of addresses. Agents' replies carry one in Reply-To (support+TOKEN@domain,
// core/agents.h); threading checks it (core/threading.h). A token older than the configured age
// (agents.reply_token_max_age_days) no longer threads. Tokens of the first format, "N-MAC" (MAC over
// "...:v1:QUEUE:N", no date), are accepted only when tokens never expire (max age 0). Below both,
// so neither includes the other.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace desk {

// secret must not be empty. now: seconds since the epoch (the day issued).
std::string MakeReplyToken(std::string_view secret, std::string_view queue, uint64_t ticket,
                           int64_t now);
// The ticket number when token is well formed, its MAC is right and, with max_age_seconds > 0, it
// was issued at most max_age_seconds before now (by its day); nullopt otherwise. *expired (when
// given) is set when the token is genuine but too old.
std::optional<uint64_t> CheckReplyToken(std::string_view secret, std::string_view queue,
                                        std::string_view token, int64_t now = 0,
                                        int64_t max_age_seconds = 0, bool* expired = nullptr);

}  // namespace desk
