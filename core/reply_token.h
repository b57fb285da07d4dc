// Reply tokens: "N-MAC", N the ticket number in decimal and MAC the first 12 hex digits (48 bits)
// of HMAC-SHA256(secret, "deskmilter-reply-token:v1:QUEUE:N"); lower case, so they survive the
// case folding of addresses. Agents' replies carry one in Reply-To (support+TOKEN@domain,
// core/agents.h); threading checks it (core/threading.h). Below both, so neither includes the other.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace desk {

// secret must not be empty.
std::string MakeReplyToken(std::string_view secret, std::string_view queue, uint64_t ticket);
// The ticket number when token is well formed and its MAC is right; nullopt otherwise.
std::optional<uint64_t> CheckReplyToken(std::string_view secret, std::string_view queue,
                                        std::string_view token);

}  // namespace desk
