// record_store: content-addressed blobs in the external store (see the header).
#include "core/record_store.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/attachment_stage.h"

namespace desk {
namespace {

constexpr size_t kChunk = 1 << 16;

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

// mkdir -p (the store directory and its two fan-out levels), from the deepest level up: a blob's new
// fan-out directory costs one or two mkdir calls, not one per path component.
Status MakeDirs(const std::string& path) {
  if (path.empty() || path == "/") return Status::Ok();
  if (::mkdir(path.c_str(), 0750) == 0 || errno == EEXIST) return Status::Ok();
  if (errno == ENOENT) {
    const size_t slash = path.rfind('/');
    if (slash != std::string::npos && slash != 0) {
      Status s = MakeDirs(path.substr(0, slash));
      if (!s.ok()) return s;
    }
    if (::mkdir(path.c_str(), 0750) == 0 || errno == EEXIST) return Status::Ok();
  }
  return Status::Store(Errno("record store: mkdir " + path));
}

Status WriteAll(int fd, const char* data, size_t len) {
  while (len > 0) {
    ssize_t n = ::write(fd, data, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::Store(Errno("record store: write"));
    data += n;
    len -= static_cast<size_t>(n);
  }
  return Status::Ok();
}

}  // namespace

bool IsSha256Hex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
  }
  return true;
}

Status NormalizeSha256(std::string_view s, std::string* out) {
  if (!IsSha256Hex(s)) {
    std::string shown(s.substr(0, 80));
    for (char& c : shown) {
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
    }
    return Status::Invalid("\"" + shown + "\" is not a SHA-256 (64 hex digits)");
  }
  out->assign(s);
  for (char& c : *out) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  }
  return Status::Ok();
}

bool BlobPresent(const std::string& path, uint64_t size) {
  struct stat sb;
  return ::stat(path.c_str(), &sb) == 0 && S_ISREG(sb.st_mode) &&
         static_cast<uint64_t>(sb.st_size) == size;
}

Status WriteTempBlob(const std::string& dir, const Spool& content, std::string* tmp_path) {
  std::string tmp = dir + "/.tmp-XXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0 && errno == ENOENT) {  // the store's first file: make its directory
    Status s = MakeDirs(dir);
    if (!s.ok()) return s;
    tmp = dir + "/.tmp-XXXXXX";
    fd = ::mkstemp(tmp.data());
  }
  if (fd < 0) return Status::Store(Errno("record store: mkstemp in " + dir));
  Status s;
  if (content.on_disk()) {
    std::string buf;
    for (uint64_t off = 0; off < content.size() && s.ok();) {
      s = content.Read(off, kChunk, &buf);
      if (s.ok() && buf.empty()) s = Status::Internal("record store: short read of the spool");
      if (s.ok()) s = WriteAll(fd, buf.data(), buf.size());
      off += buf.size();
    }
  } else {
    s = WriteAll(fd, content.data().data(), content.data().size());
  }
  if (s.ok() && ::fsync(fd) != 0) s = Status::Store(Errno("record store: fsync"));
  if (::close(fd) != 0 && s.ok()) s = Status::Store(Errno("record store: close"));
  if (!s.ok()) {
    ::unlink(tmp.c_str());
    return s;
  }
  *tmp_path = std::move(tmp);
  return Status::Ok();
}

Status RenameIntoStore(const std::string& tmp_path, const std::string& final_path) {
  if (::rename(tmp_path.c_str(), final_path.c_str()) == 0) return Status::Ok();
  if (errno == ENOENT) {  // the fan-out directories (ab/cd) do not exist yet
    Status s = MakeDirs(final_path.substr(0, final_path.rfind('/')));
    if (!s.ok()) return s;
    if (::rename(tmp_path.c_str(), final_path.c_str()) == 0) return Status::Ok();
  }
  return Status::Store(Errno("record store: rename to " + final_path));
}

Status StoreBlob(const std::string& dir, const Spool& content, std::string* sha256) {
  Status s = content.Sha256Hex(sha256);
  if (!s.ok()) return s;
  const std::string final_path = AttachmentStorePath(dir, *sha256);
  if (BlobPresent(final_path, content.size())) return Status::Ok();  // stored once
  std::string tmp;
  s = WriteTempBlob(dir, content, &tmp);
  if (!s.ok()) return s;
  s = RenameIntoStore(tmp, final_path);
  if (!s.ok()) ::unlink(tmp.c_str());
  return s;
}

Status OpenBlob(const std::string& dir, std::string_view sha256, int* fd, uint64_t* size) {
  std::string hex;
  Status s = NormalizeSha256(sha256, &hex);
  if (!s.ok()) return s;
  const std::string path = AttachmentStorePath(dir, hex);
  int f = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (f < 0) {
    if (errno == ENOENT) return Status::NotFound(hex + ": not in the store " + dir);
    return Status::Store(Errno(path));
  }
  struct stat sb;
  if (::fstat(f, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    ::close(f);
    return Status::Store(path + ": not a regular file");
  }
  *fd = f;
  *size = static_cast<uint64_t>(sb.st_size);
  return Status::Ok();
}

Status CopyBlob(const std::string& dir, std::string_view sha256, int out_fd) {
  int fd = -1;
  uint64_t size = 0;
  Status s = OpenBlob(dir, sha256, &fd, &size);
  if (!s.ok()) return s;
  std::string buf(kChunk, '\0');
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      s = Status::Store(Errno("record store: read"));
      break;
    }
    if (n == 0) break;
    s = WriteAll(out_fd, buf.data(), static_cast<size_t>(n));
    if (!s.ok()) break;
  }
  ::close(fd);
  return s;
}

std::string OriginalsDir(const std::string& dir) { return dir + "/originals"; }

std::string BlobRefPath(const std::string& dir, const std::string& ref) {
  const size_t colon = ref.find(':');
  if (colon == std::string::npos) return "";
  const std::string kind = ref.substr(0, colon), sha = ref.substr(colon + 1);
  if (!IsSha256Hex(sha)) return "";
  if (kind == "original") return AttachmentStorePath(OriginalsDir(dir), sha);
  if (kind == "attachment") return AttachmentStorePath(dir, sha);
  return "";
}

std::string TranscriptDir(const std::string& dir) { return dir + "/transcripts"; }

std::string TranscriptPath(const std::string& dir, uint64_t ticket) {
  return TranscriptDir(dir) + "/" + std::to_string(ticket) + ".pdf";
}

namespace {

bool IsLowerHex64(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

}  // namespace

Status SweepRecordStore(const std::string& dir, const std::set<std::string>& attachments,
                        const std::set<std::string>& originals,
                        const std::function<bool(uint64_t)>& ticket_exists,
                        std::filesystem::file_time_type keep_after, bool dry_run,
                        SweepResult* result) {
  namespace fs = std::filesystem;
  *result = SweepResult();
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return Status::Ok();  // nothing stored yet
  // Removes p when it is an old enough regular file (never follows a link); counts it in *n.
  auto take = [&](const fs::directory_entry& e, uint64_t* n) {
    std::error_code fec;
    if (!e.is_regular_file(fec) || e.is_symlink(fec)) return;
    const auto mtime = e.last_write_time(fec);
    if (fec || mtime >= keep_after) return;
    const uint64_t size = e.file_size(fec);
    if (fec) return;
    if (!dry_run && !fs::remove(e.path(), fec)) return;
    ++*n;
    result->bytes += size;
  };
  // Blobs: BASE/ab/cd/<sha256>, the name's first four digits naming the two levels.
  auto blobs = [&](const fs::path& base, const std::set<std::string>& keep, uint64_t* n) {
    std::error_code bec;
    if (!fs::is_directory(base, bec)) return;
    for (const auto& l1 : fs::directory_iterator(base, bec)) {
      const std::string a = l1.path().filename().string();
      std::error_code dec;
      if (a.size() != 2 || !l1.is_directory(dec) || l1.is_symlink(dec)) continue;
      for (const auto& l2 : fs::directory_iterator(l1.path(), dec)) {
        const std::string b = l2.path().filename().string();
        std::error_code eec;
        if (b.size() != 2 || !l2.is_directory(eec) || l2.is_symlink(eec)) continue;
        for (const auto& f : fs::directory_iterator(l2.path(), eec)) {
          const std::string name = f.path().filename().string();
          if (!IsLowerHex64(name) || name.compare(0, 2, a) != 0 || name.compare(2, 2, b) != 0) {
            continue;
          }
          if (keep.count(name) == 0) take(f, n);
        }
      }
    }
    // Temporary files of StoreBlob that a crash left behind.
    for (const auto& f : fs::directory_iterator(base, bec)) {
      if (f.path().filename().string().rfind(".tmp-", 0) == 0) take(f, &result->temp_files);
    }
  };
  blobs(dir, attachments, &result->attachments);
  blobs(OriginalsDir(dir), originals, &result->originals);
  const fs::path tdir = TranscriptDir(dir);
  if (fs::is_directory(tdir, ec)) {
    for (const auto& f : fs::directory_iterator(tdir, ec)) {
      const std::string name = f.path().filename().string();
      const size_t dot = name.find(".pdf");
      if (dot == 0 || dot == std::string::npos || dot > 19 ||
          name.find_first_not_of("0123456789") != dot) {
        continue;
      }
      const std::string rest = name.substr(dot);
      if (rest == ".pdf") {
        if (!ticket_exists(std::stoull(name.substr(0, dot)))) take(f, &result->transcripts);
      } else if (rest.rfind(".pdf.tmp-", 0) == 0) {
        take(f, &result->temp_files);
      }
    }
  }
  return Status::Ok();
}

}  // namespace desk
