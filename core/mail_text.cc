// Text for mail deskmilter writes: see mail_text.h.
#include "core/mail_text.h"

#include <glib.h>

#include <algorithm>

namespace desk {
namespace {

constexpr size_t kMaxLine = 900;  // RFC 5322 allows 998; room for the field name and folding

std::string Base64(const std::string& s) {
  gchar* b = g_base64_encode(reinterpret_cast<const guchar*>(s.data()), s.size());
  std::string out(b);
  g_free(b);
  return out;
}

}  // namespace

bool IsAscii(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x80; });
}

std::string EncodeHeaderText(const std::string& s) {
  if (IsAscii(s) && s.find("=?") == std::string::npos && s.size() <= kMaxLine) return s;
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    size_t end = std::min(s.size(), i + 45);
    while (end < s.size() && end > i && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
    if (end == i) end = std::min(s.size(), i + 45);
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + Base64(s.substr(i, end - i)) + "?=";
    i = end;
  }
  return out;
}

void EncodeTextBody(const std::string& text, std::string* body, std::string* cte) {
  std::string crlf;
  size_t line = 0, longest = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;  // CRLF in: one end
    if (c == '\n') {
      crlf += "\r\n";
      longest = std::max(longest, line);
      line = 0;
    } else {
      crlf.push_back(c);
      ++line;
    }
  }
  longest = std::max(longest, line);
  if (!crlf.empty() && crlf.back() != '\n') crlf += "\r\n";
  if (IsAscii(crlf) && longest <= kMaxLine) {
    *cte = "7bit";
    *body = crlf;
    return;
  }
  *cte = "base64";
  const std::string b = Base64(crlf);
  body->clear();
  for (size_t i = 0; i < b.size(); i += 76) body->append(b, i, 76).append("\r\n");
}

}  // namespace desk
