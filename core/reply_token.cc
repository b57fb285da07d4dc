// Reply tokens: see reply_token.h. HMAC through GLib's GHmac.
#include "core/reply_token.h"

#include <glib.h>

#include <cctype>
#include <charconv>

namespace desk {
namespace {

constexpr size_t kMacHexDigits = 12;
constexpr int64_t kDay = 86400;

std::string Mac(std::string_view secret, const std::string& data) {
  GHmac* hmac = g_hmac_new(G_CHECKSUM_SHA256, reinterpret_cast<const guchar*>(secret.data()),
                           secret.size());
  g_hmac_update(hmac, reinterpret_cast<const guchar*>(data.data()),
                static_cast<gssize>(data.size()));
  std::string hex = g_hmac_get_string(hmac);  // owned by hmac
  g_hmac_unref(hmac);
  return hex.substr(0, kMacHexDigits);
}

// A decimal without sign or leading zero, at most 18 digits.
std::optional<uint64_t> Number(std::string_view s) {
  uint64_t n = 0;
  if (s.empty() || s.size() > 18 || s[0] == '0') return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return n;
}

// Constant time over the MAC, so a forger learns nothing from timing.
bool SameMac(const std::string& want, std::string_view got) {
  if (got.size() != want.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    diff |= static_cast<unsigned char>(want[i] ^ std::tolower(static_cast<unsigned char>(got[i])));
  }
  return diff == 0;
}

}  // namespace

std::string MakeReplyToken(std::string_view secret, std::string_view queue, uint64_t ticket,
                           int64_t now) {
  const std::string n = std::to_string(ticket);
  const std::string day = std::to_string(now > 0 ? now / kDay : 0);
  return n + "-" + day + "-" +
         Mac(secret, "deskmilter-reply-token:v2:" + std::string(queue) + ":" + n + ":" + day);
}

std::optional<uint64_t> CheckReplyToken(std::string_view secret, std::string_view queue,
                                        std::string_view token, int64_t now,
                                        int64_t max_age_seconds, bool* expired) {
  if (expired != nullptr) *expired = false;
  if (secret.empty()) return std::nullopt;
  const size_t dash = token.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  const auto n = Number(token.substr(0, dash));
  if (!n) return std::nullopt;
  const std::string_view rest = token.substr(dash + 1);
  const size_t dash2 = rest.find('-');
  if (dash2 == std::string_view::npos) {
    // The first format, without a date: only while tokens never expire.
    if (max_age_seconds > 0) return std::nullopt;
    const std::string want = Mac(secret, "deskmilter-reply-token:v1:" + std::string(queue) + ":" +
                                             std::to_string(*n));
    return SameMac(want, rest) ? n : std::nullopt;
  }
  const std::string_view day_text = rest.substr(0, dash2);
  const auto day = day_text == "0" ? std::optional<uint64_t>(0) : Number(day_text);
  if (!day || *day > static_cast<uint64_t>(INT64_MAX / kDay)) return std::nullopt;
  const std::string want = Mac(secret, "deskmilter-reply-token:v2:" + std::string(queue) + ":" +
                                           std::to_string(*n) + ":" + std::string(day_text));
  if (!SameMac(want, rest.substr(dash2 + 1))) return std::nullopt;
  if (max_age_seconds > 0 && now - static_cast<int64_t>(*day) * kDay > max_age_seconds) {
    if (expired != nullptr) *expired = true;
    return std::nullopt;
  }
  return n;
}

}  // namespace desk
