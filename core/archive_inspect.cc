// ArchiveInspector: libarchive listing with limits. See archive_inspect.h.
#include "core/archive_inspect.h"

#include <archive.h>
#include <archive_entry.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "core/child_process.h"

namespace desk {
namespace {

struct ArchiveCloser {
  void operator()(archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveCloser>;

// raw_only: the fallback for a compressed single file (gzip of a non-tar), which no archive format
// claims. Only used when a real compression filter was found, so plain data never becomes "data".
// zip_only: the zip reader alone, no compression filters (ArchiveLimits::zip_only).
ArchivePtr NewReader(bool raw_only, bool zip_only) {
  ArchivePtr a(archive_read_new());
  if (zip_only) {
    archive_read_support_format_zip(a.get());
    return a;
  }
  archive_read_support_filter_all(a.get());
  if (raw_only) {
    archive_read_support_format_raw(a.get());
    return a;
  }
  archive_read_support_format_zip(a.get());
  archive_read_support_format_7zip(a.get());
  archive_read_support_format_rar(a.get());
  archive_read_support_format_rar5(a.get());
  archive_read_support_format_tar(a.get());
  archive_read_support_format_cpio(a.get());
  archive_read_support_format_cab(a.get());
  archive_read_support_format_lha(a.get());
  archive_read_support_format_ar(a.get());
  archive_read_support_format_iso9660(a.get());
  return a;
}

std::string ErrorOf(archive* a) {
  const char* e = archive_error_string(a);
  return e ? e : "unknown libarchive error";
}

// Where the bytes of one level come from, so the raw fallback can start over.
struct Source {
  std::string_view data;  // memory source when fd < 0
  int fd = -1;
  off_t fd_start = -1;  // -1 when the fd cannot seek back
};

int Open(archive* a, const Source& src) {
  if (src.fd < 0) return archive_read_open_memory(a, src.data.data(), src.data.size());
  return archive_read_open_fd(a, src.fd, 64 * 1024);
}

class Walker {
 public:
  Walker(const ArchiveLimits& limits, const DescendFn& descend, ArchiveListing* out)
      : limits_(limits), descend_(descend), out_(out) {}

  // Lists one archive level. Status::Malformed only when the very first header cannot be read.
  Status Level(const Source& src, int depth, const std::string& prefix) {
    ArchivePtr a = NewReader(false, limits_.zip_only);
    archive_entry* entry = nullptr;
    int r = Open(a.get(), src);
    const bool opened = r == ARCHIVE_OK;
    if (opened) r = archive_read_next_header(a.get(), &entry);
    if (r < ARCHIVE_WARN) {
      // Only a reader that chose a format can be asked (libarchive crashes otherwise).
      if (opened && archive_read_has_encrypted_entries(a.get()) > 0) {
        out_->encrypted_headers = true;
        return Status::Ok();
      }
      // No archive format claims it (format bidding happens at open). A compressed single file
      // (x.exe.gz) is read with the raw format, but only when a real compression filter is found,
      // so plain data is never taken for an archive.
      Status not_archive = Status::Malformed("archive: " + ErrorOf(a.get()));
      if (src.fd >= 0 && (src.fd_start < 0 || lseek(src.fd, src.fd_start, SEEK_SET) < 0)) {
        return not_archive;
      }
      if (limits_.zip_only) return not_archive;
      a = NewReader(true, false);
      if (Open(a.get(), src) != ARCHIVE_OK || archive_filter_count(a.get()) < 2) return not_archive;
      r = archive_read_next_header(a.get(), &entry);
      if (r < ARCHIVE_WARN) return Status::Malformed("archive: " + ErrorOf(a.get()));
    }
    if (depth == 1) out_->format = archive_format_name(a.get()) ? archive_format_name(a.get()) : "";

    for (; r != ARCHIVE_EOF; r = archive_read_next_header(a.get(), &entry)) {
      if (stopped_) break;
      if (r < ARCHIVE_WARN) {
        if (archive_read_has_encrypted_entries(a.get()) > 0) out_->encrypted_headers = true;
        Incomplete("read error in " + Where(prefix) + ": " + ErrorOf(a.get()));
        break;
      }
      if (++seen_entries_ > limits_.max_entries) {
        Incomplete("max_entries " + std::to_string(limits_.max_entries) + " reached");
        stopped_ = true;
        break;
      }
      if (archive_entry_filetype(entry) == AE_IFDIR) continue;
      if (!Entry(a.get(), entry, depth, prefix)) break;
    }
    return Status::Ok();
  }

 private:
  // Lists one entry and, when asked, the archive inside it. Returns false to stop this level.
  bool Entry(archive* a, archive_entry* entry, int depth, const std::string& prefix) {
    ArchiveEntry e;
    const char* name = archive_entry_pathname_utf8(entry);
    if (name == nullptr) name = archive_entry_pathname(entry);
    e.name = name ? name : "";
    e.path = prefix + e.name;
    e.depth = depth;
    if (archive_entry_size_is_set(entry) && archive_entry_size(entry) > 0) {
      e.size = uint64_t(archive_entry_size(entry));
    }
    e.encrypted = archive_entry_is_encrypted(entry) != 0;
    if (!AddBytes(e.size)) return false;
    uint64_t counted = e.size;

    std::string content;  // the head, or the whole entry when it is opened in turn
    bool regular = archive_entry_filetype(entry) == AE_IFREG || archive_entry_filetype(entry) == 0;
    if (regular && !e.encrypted) {
      if (!Read(a, limits_.head_bytes, e, &counted, &content)) return false;
    }
    e.head = content.substr(0, limits_.head_bytes);
    bool descend =
        regular && !e.encrypted && descend_ && !e.head.empty() && descend_(e.name, e.head);
    size_t index = out_->entries.size();
    out_->entries.push_back(std::move(e));
    if (!descend) return true;

    const std::string path = out_->entries[index].path;
    if (depth >= limits_.max_depth) {
      Incomplete("max_depth " + std::to_string(limits_.max_depth) + " reached at " + path);
      return true;
    }
    if (content.size() == limits_.head_bytes &&
        !Read(a, limits_.max_nested_bytes + 1, out_->entries[index], &counted, &content)) {
      return false;
    }
    if (content.size() > limits_.max_nested_bytes) {
      Incomplete("max_nested_bytes " + std::to_string(limits_.max_nested_bytes) + " exceeded by " +
                 path);
      return true;
    }
    Source inner{content};
    Status st = Level(inner, depth + 1, path + ArchiveInspector::kPathSeparator);
    // Not an archive after all (or a format we do not read): listed, not opened. The policy decides
    // what an unopened archive entry means.
    if (st.ok()) out_->entries[index].opened = true;
    return !stopped_;
  }

  // Reads the entry's data until *content holds up to `want` bytes. Returns false (and marks the
  // listing incomplete) on a read error or when max_bytes is used up.
  bool Read(archive* a, size_t want, const ArchiveEntry& e, uint64_t* counted,
            std::string* content) {
    char buf[16 * 1024];
    while (content->size() < want) {
      la_ssize_t n = archive_read_data(a, buf, std::min(sizeof buf, want - content->size()));
      if (n == 0) break;
      if (n < 0) {
        Incomplete("read error in " + e.path + ": " + ErrorOf(a));
        return false;
      }
      content->append(buf, size_t(n));
      // The declared size was counted already; count what a lying header did not declare.
      if (content->size() > *counted) {
        uint64_t extra = content->size() - *counted;
        *counted = content->size();
        if (!AddBytes(extra)) return false;
      }
    }
    return true;
  }

  // Counts bytes against max_bytes; false (and stop) once exceeded.
  bool AddBytes(uint64_t n) {
    bytes_ += n;
    if (bytes_ <= limits_.max_bytes) return true;
    Incomplete("max_bytes " + std::to_string(limits_.max_bytes) + " reached");
    stopped_ = true;
    return false;
  }

  void Incomplete(std::string why) {
    if (out_->incomplete.empty()) out_->incomplete = std::move(why);
  }

  static std::string Where(const std::string& prefix) {
    return prefix.empty() ? std::string("archive") : prefix.substr(0, prefix.size() - 1);
  }

  const ArchiveLimits& limits_;
  const DescendFn& descend_;
  ArchiveListing* out_;
  uint64_t seen_entries_ = 0;
  uint64_t bytes_ = 0;
  bool stopped_ = false;
};

// The child's answer: List's Status and listing, as length-prefixed fields (host byte order: the
// reader is our own parent).
void PutU64(std::string* out, uint64_t v) { out->append(reinterpret_cast<const char*>(&v), sizeof v); }
void PutString(std::string* out, std::string_view v) {
  PutU64(out, v.size());
  out->append(v);
}

std::string EncodeResult(const Status& st, const ArchiveListing& l) {
  std::string out;
  PutU64(&out, static_cast<uint64_t>(st.error_class()));
  PutString(&out, st.message());
  PutString(&out, l.format);
  PutU64(&out, l.encrypted_headers);
  PutString(&out, l.incomplete);
  PutU64(&out, l.entries.size());
  for (const ArchiveEntry& e : l.entries) {
    PutString(&out, e.name);
    PutString(&out, e.path);
    PutU64(&out, static_cast<uint64_t>(e.depth));
    PutU64(&out, e.size);
    PutU64(&out, (e.encrypted ? 1u : 0u) | (e.opened ? 2u : 0u));
    PutString(&out, e.head);
  }
  return out;
}

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool U64(uint64_t* v) {
    if (in_.size() < sizeof *v) return false;
    std::memcpy(v, in_.data(), sizeof *v);
    in_.remove_prefix(sizeof *v);
    return true;
  }
  bool String(std::string* v) {
    uint64_t n;
    if (!U64(&n) || n > in_.size()) return false;
    v->assign(in_.data(), n);
    in_.remove_prefix(n);
    return true;
  }
  bool done() const { return in_.empty(); }

 private:
  std::string_view in_;
};

Status DecodeResult(std::string_view in, ArchiveListing* l) {
  Reader r(in);
  uint64_t cls, flag, count;
  std::string message;
  if (!r.U64(&cls) || !r.String(&message) || !r.String(&l->format) || !r.U64(&flag) ||
      !r.String(&l->incomplete) || !r.U64(&count)) {
    return Status::Internal("archive listing: truncated result from the child process");
  }
  l->encrypted_headers = flag != 0;
  for (uint64_t i = 0; i < count; ++i) {
    ArchiveEntry e;
    uint64_t depth, flags;
    if (!r.String(&e.name) || !r.String(&e.path) || !r.U64(&depth) || !r.U64(&e.size) ||
        !r.U64(&flags) || !r.String(&e.head)) {
      return Status::Internal("archive listing: truncated result from the child process");
    }
    e.depth = static_cast<int>(depth);
    e.encrypted = flags & 1;
    e.opened = flags & 2;
    l->entries.push_back(std::move(e));
  }
  if (!r.done()) return Status::Internal("archive listing: trailing bytes from the child process");
  switch (static_cast<ErrorClass>(cls)) {
    case ErrorClass::kOk: return Status::Ok();
    case ErrorClass::kMalformed: return Status::Malformed(message);
    default: return Status::Internal(message);
  }
}

// Runs walk in a child process when the limits say so (see ArchiveLimits::child_memory_mb).
Status Run(const ArchiveLimits& limits, int keep_fd,
           const std::function<Status(ArchiveListing*)>& walk, ArchiveListing* out) {
  *out = ArchiveListing();
  if (limits.child_memory_mb == 0) return walk(out);
  ChildLimits cl;
  cl.memory_mb = limits.child_memory_mb;
  cl.time_ms = limits.child_time_ms;
  // Every entry's head, name and path of ordinary length, with room to spare. Long names repeated
  // in every nested path can pass it: Malformed, like the other limits.
  cl.max_output = (limits.max_entries + 1) * (limits.head_bytes + 3 * 4096 + 64);
  std::string result;
  std::vector<int> keep;
  if (keep_fd >= 0) keep.push_back(keep_fd);
  Status st = RunInChild(cl, keep, [&] {
    ArchiveListing l;
    Status s = walk(&l);
    return EncodeResult(s, l);
  }, &result);
  if (!st.ok()) {
    out->incomplete = "archive listing " + st.message();
    return st.error_class() == ErrorClass::kMalformed ? Status::Malformed(out->incomplete) : st;
  }
  st = DecodeResult(result, out);
  if (st.error_class() == ErrorClass::kInternal) *out = ArchiveListing();
  return st;
}

}  // namespace

Status ArchiveInspector::List(std::string_view data, const DescendFn& descend,
                              ArchiveListing* out) const {
  return Run(limits_, -1, [&](ArchiveListing* l) {
    Walker w(limits_, descend, l);
    return w.Level(Source{data}, 1, "");
  }, out);
}

Status ArchiveInspector::ListFd(int fd, const DescendFn& descend, ArchiveListing* out) const {
  return Run(limits_, fd, [&](ArchiveListing* l) {
    Source src;
    src.fd = fd;
    src.fd_start = lseek(fd, 0, SEEK_CUR);
    Walker w(limits_, descend, l);
    return w.Level(src, 1, "");
  }, out);
}

}  // namespace desk
