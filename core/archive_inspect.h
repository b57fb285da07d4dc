// ArchiveInspector: lists the entries of an archive attachment (libarchive), for the attachment
// policy.
//
// Reads zip, 7z, rar (v4 and v5), tar, cpio, cab, lha, ar and iso9660, through any compression
// filter libarchive knows (gzip, bzip2, xz, lzma, zstd, ...); a compressed single file (x.exe.gz)
// is listed as one entry named "data". Each entry comes with its name, its size and its first
// head_bytes bytes, so the caller can detect its true type. Nested archives are opened in turn when
// the caller's Descend predicate says so, down to max_depth; entries are returned flat, each with
// its depth and its path through the archives ("outer.zip/inner.7z/x.exe" uses kPathSeparator
// between levels).
//
// Guarantees and limits (all in ArchiveLimits): at most max_entries entries in all, at most
// max_bytes of entry data read or declared in all (compressed-stream skipping decompresses, so
// declared sizes count too), nested archives read into memory only up to max_nested_bytes. Reaching
// a limit stops the listing and says which limit in ArchiveListing::incomplete; an archive that
// breaks part way does the same. Nothing is ever written to disk. Encrypted entries are listed with
// encrypted = true and no head bytes; a 7z with encrypted headers lists nothing and sets
// encrypted_headers. What the policy makes of all this is decided in attachment_policy.h, never
// here.
//
// Resources: with ArchiveLimits::child_memory_mb set, each List* call forks one short-lived child,
// which runs the descend predicate too (so it must use only what the calling thread owns).
//
// Thread-safety: an ArchiveInspector is immutable; List* may run concurrently from many threads.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace desk {

struct ArchiveLimits {
  int max_depth = 3;                        // 1 = only the entries of the attachment itself
  uint64_t max_entries = 1000;              // entries listed in all, every level together
  uint64_t max_bytes = 200ull << 20;        // entry bytes read or declared, every level together
  uint64_t max_nested_bytes = 50ull << 20;  // largest nested archive read into memory to open
  size_t head_bytes = 64 * 1024;            // leading bytes kept per entry for type detection
  // Where libarchive runs. 0: in the calling process (unit tests, fuzzing). Otherwise in a child
  // process (core/child_process.h) that may grow by child_memory_mb MiB over the caller and is
  // stopped after child_time_ms: libarchive 3.6 allocates what a 7z header declares before reading
  // it, so a small attachment can ask for gigabytes. A child stopped by either limit makes List
  // return Status::Malformed with the reason, as an archive libarchive cannot read does.
  uint64_t child_memory_mb = 0;
  int64_t child_time_ms = 10000;
  // Only the zip format, without compression filters: how the daemon lists an office document or
  // a zip whose nested archives it does not open, in its own process (no fork per attachment).
  bool zip_only = false;
};

struct ArchiveEntry {
  std::string name;   // as stored in the archive (not a path we ever open); may be empty
  std::string path;   // archive chain + name: "inner.zip/evil.exe" for depth 2
  int depth = 1;      // 1 = inside the attachment, 2 = inside an archive inside it, ...
  uint64_t size = 0;  // uncompressed size as declared (0 when the format does not say)
  bool encrypted = false;
  bool opened = false;  // this entry was itself opened as an archive; its entries follow it
  std::string head;     // the first head_bytes of the content ("" when encrypted or empty)
};

struct ArchiveListing {
  std::string format;  // libarchive's name of the outer format, e.g. "ZIP 2.0 (deflation)"
  std::vector<ArchiveEntry> entries;
  bool encrypted_headers = false;  // some level could not even list names (encrypted 7z headers)
  // Why the listing is not complete: "" when it is, else e.g. "max_entries 1000 reached",
  // "max_depth 3 reached at inner.zip", "read error in inner.zip: ...".
  std::string incomplete;
};

// Asked for each entry: should this entry be opened as an archive in turn? name is the entry name,
// head its first bytes. Typically: the detected category of head is archive.
using DescendFn = std::function<bool(std::string_view name, std::string_view head)>;

class ArchiveInspector {
 public:
  static constexpr char kPathSeparator = '/';

  explicit ArchiveInspector(ArchiveLimits limits = {}) : limits_(limits) {}

  // Lists the archive in data into *out. Status::Malformed when data is not an archive libarchive
  // can open at all; problems after the first entry are reported in out->incomplete with Status OK.
  // A null descend never opens nested archives.
  Status List(std::string_view data, const DescendFn& descend, ArchiveListing* out) const;

  // The same from a file descriptor (read from its current offset; the fd stays open).
  Status ListFd(int fd, const DescendFn& descend, ArchiveListing* out) const;

  const ArchiveLimits& limits() const { return limits_; }

 private:
  ArchiveLimits limits_;
};

}  // namespace desk
