#include "core/logline.h"

#include <cstdio>

namespace desk {

std::string LogEscape(std::string_view value) {
  bool quote = value.empty();
  std::string out;
  out.reserve(value.size() + 2);
  for (unsigned char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
      quote = true;
    } else if (c < 0x20 || c >= 0x7f) {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      if (c == ' ' || c == ',' || c == '=') quote = true;
      out += static_cast<char>(c);
    }
  }
  return quote ? "\"" + out + "\"" : out;
}

std::string FormatLogLine(std::string_view queue_id,
                          const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string line = queue_id.empty() ? std::string("NOQUEUE") : LogEscape(queue_id);
  line += ":";
  bool first = true;
  for (const auto& [k, v] : fields) {
    line += first ? " " : ", ";
    first = false;
    line += k;
    line += '=';
    line += LogEscape(v);
  }
  return line;
}

}  // namespace desk
