#include "core/ticket.h"

namespace desk {

const char* TicketStatusName(TicketStatus s) {
  return s == TicketStatus::kOpen ? "open" : "closed";
}

const char* DirectionName(Direction d) {
  return d == Direction::kInbound ? "inbound" : "outbound";
}

}  // namespace desk
