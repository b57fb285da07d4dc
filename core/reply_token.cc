// Reply tokens: see reply_token.h. HMAC through GLib's GHmac.
#include "core/reply_token.h"

#include <glib.h>

#include <cctype>
#include <charconv>

namespace desk {
namespace {

constexpr size_t kMacHexDigits = 12;

}  // namespace

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

}  // namespace desk
