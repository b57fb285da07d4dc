// libFuzzer target over the archive inspector: each input is an attachment given to
// ArchiveInspector::List with nested archives opened (every entry is tried), under small limits so
// a run stays fast. The listing must respect the limits: at most max_entries entries, depth at most
// max_depth, heads at most head_bytes. Built like attachment_fuzz.cc.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/archive_inspect.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  desk::ArchiveLimits limits;
  limits.max_entries = 200;
  limits.max_depth = 3;
  limits.max_bytes = 16ull << 20;
  limits.max_nested_bytes = 4ull << 20;
  desk::ArchiveInspector inspector(limits);
  desk::ArchiveListing listing;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  desk::Status st = inspector.List(
      in, [](std::string_view, std::string_view head) { return head.size() >= 4; }, &listing);
  if (!st.ok()) return 0;
  if (listing.entries.size() > static_cast<size_t>(limits.max_entries)) std::abort();
  for (const desk::ArchiveEntry& e : listing.entries) {
    if (e.depth < 1 || e.depth > limits.max_depth) std::abort();
    if (e.head.size() > limits.head_bytes) std::abort();
  }
  return 0;
}
