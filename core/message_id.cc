#include "core/message_id.h"

namespace desk {

bool WellFormedMessageId(std::string_view id) {
  if (id.empty() || id.size() > kMaxMessageIdBytes) return false;
  const size_t at = id.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == id.size()) return false;
  for (unsigned char c : id) {
    if (c <= ' ' || c >= 0x7f || c == '<' || c == '>') return false;
  }
  return true;
}

std::string MessageIdOf(std::string_view v) {
  auto trim = [](std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' ||
                          s.front() == '\n')) {
      s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' ||
                          s.back() == '\n')) {
      s.remove_suffix(1);
    }
    return s;
  };
  std::string_view id = trim(v);
  const size_t lt = id.find('<');
  if (lt != std::string_view::npos) {
    const size_t gt = id.find('>', lt + 1);
    if (gt == std::string_view::npos) return "";
    id = trim(id.substr(lt + 1, gt - lt - 1));
  }
  return WellFormedMessageId(id) ? std::string(id) : std::string();
}

}  // namespace desk
