// ASCII case and white space for protocol text: header names, addresses, keywords, config values.
// Only A-Z change case and only ASCII white space is trimmed; bytes of UTF-8 text (>= 0x80) are
// left as they are, whatever the process locale.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

namespace desk {

inline std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Without leading and trailing space, tab, CR, LF, VT and FF.
inline std::string_view TrimSpace(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n\v\f";
  const size_t b = s.find_first_not_of(kSpace);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(kSpace) - b + 1);
}

// Without leading and trailing space and tab only (a header value's blanks; CR and LF stay).
inline std::string_view TrimBlanks(std::string_view s) {
  const size_t b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

}  // namespace desk
