#include "core/ticket.h"

#include <cctype>
#include <string_view>

namespace desk {

const char* TicketStatusName(TicketStatus s) {
  return s == TicketStatus::kOpen ? "open" : "closed";
}

std::string MidUrl(const std::string& message_id) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out = "mid:";
  for (unsigned char c : message_id) {
    if (std::isalnum(c) || std::string_view("!$&'()*+,;=:@-._~").find(static_cast<char>(c)) !=
                               std::string_view::npos) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string FormatMailbox(const Mailbox& m) {
  if (m.name.empty()) return m.address;
  return m.name + " <" + m.address + ">";
}

const char* DirectionName(Direction d) {
  return d == Direction::kInbound ? "inbound" : "outbound";
}

}  // namespace desk
