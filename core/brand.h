// brand: which brand a ticket carries, from its queue and the support address mail came in at.
//
// A queue may name a brand (queue.brand, with queue.brand_display_name for the From of replies and
// automatic answers) and may give single support addresses their own ("ADDRESS=BRAND" entries of
// queue.address_brands, for one queue answering for several brands). The brand is resolved once,
// when the ticket is opened, and recorded on it (Ticket::brand): renaming a brand later does not
// rewrite history.
//
// Thread-safety: pure functions.
#pragma once

#include <string>

#include "core/config.h"

namespace desk {

struct Brand {
  std::string name;          // "" = no brand
  std::string display_name;  // for the From of replies; the name when none is configured
};

// received_at: the support address the mail was received at (any case). The address's own brand
// wins over the queue's; an address brand's display name is its name.
Brand ResolveBrand(const QueueConfig& queue, const std::string& received_at);

}  // namespace desk
