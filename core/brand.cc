// brand: resolution of a ticket's brand (see the header).
#include "core/brand.h"

#include "core/address.h"

namespace desk {

Brand ResolveBrand(const QueueConfig& queue, const std::string& received_at) {
  const std::string addr = NormalizeAddress(received_at);
  for (const std::string& entry : queue.address_brands) {
    const size_t eq = entry.find('=');
    if (eq == std::string::npos) continue;  // the schema rejects these; stay total anyway
    if (!addr.empty() && NormalizeAddress(entry.substr(0, eq)) == addr) {
      Brand b;
      b.name = entry.substr(eq + 1);
      b.display_name = b.name;
      return b;
    }
  }
  Brand b;
  b.name = queue.brand;
  b.display_name = queue.brand_display_name.empty() ? queue.brand : queue.brand_display_name;
  return b;
}

}  // namespace desk
