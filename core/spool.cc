// Spool implementation: a std::string until the threshold, then an unlinked temp file.
//
// The file is opened with O_TMPFILE when the file system supports it, else created with mkostemp
// and unlinked at once, so a crash never leaves a message behind. Writes use pwrite at size_, so
// the descriptor's offset is irrelevant and readers (the MIME parser reads through a dup()) may
// move it freely. The SHA-256 is computed only when asked (GLib's GChecksum over the memory buffer,
// or the file read back with pread in 64 KiB blocks): it is needed only for mail without a
// Message-ID, and hashing every byte on arrival cost ~60% of the CPU for a 1 MB message.
//
// Thread-safety: none; one Spool per transaction.
#include "core/spool.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "core/sha256.h"

namespace desk {

namespace {

std::string ErrnoText(const char* what, int err) {
  return std::string(what) + ": " + std::strerror(err);
}

std::string TempDir(const std::string& dir) {
  if (!dir.empty()) return dir;
  const char* env = std::getenv("TMPDIR");
  if (env != nullptr && env[0] != '\0') return env;
  return "/tmp";
}

// Opens an anonymous read-write file in dir; returns the fd or -1 with *error set.
int OpenTempFile(const std::string& dir, std::string* error) {
  int fd = -1;
#ifdef O_TMPFILE
  fd = open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0) return fd;
    // Not all file systems support O_TMPFILE (EOPNOTSUPP, EISDIR on old kernels): fall back.
#endif
  std::string path = dir + "/deskmilter-spool-XXXXXX";
  fd = mkostemp(path.data(), O_CLOEXEC);
  if (fd < 0) {
    *error = ErrnoText(("spool: cannot create temp file in " + dir).c_str(), errno);
    return -1;
  }
  if (unlink(path.c_str()) != 0) {
    int err = errno;
    close(fd);
    *error = ErrnoText(("spool: unlink " + path).c_str(), err);
    return -1;
  }
  return fd;
}

Status WriteAllAt(int fd, std::string_view data, uint64_t offset) {
  while (!data.empty()) {
    ssize_t n = pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::Internal(ErrnoText("spool: write", errno));
    }
    data.remove_prefix(static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
  return Status::Ok();
}

}  // namespace

Spool::Spool(std::string dir, uint64_t threshold)
    : dir_(std::move(dir)), threshold_(threshold) {}

Spool::~Spool() {
  if (fd_ >= 0) close(fd_);
}

Status Spool::Append(std::string_view data) {
  if (data.empty()) return Status::Ok();
  if (fd_ < 0 && size_ + data.size() > threshold_) {
    std::string error;
    int fd = OpenTempFile(TempDir(dir_), &error);
    if (fd < 0) return Status::Internal(error);
    Status s = WriteAllAt(fd, memory_, 0);
    if (!s.ok()) {
      close(fd);
      return s;
    }
    fd_ = fd;
    std::string().swap(memory_);  // release the buffer, not just its contents
  }
  if (fd_ >= 0) {
    Status s = WriteAllAt(fd_, data, size_);
    if (!s.ok()) return s;
  } else {
    memory_.append(data);
  }
  size_ += data.size();
  return Status::Ok();
}

Status Spool::AppendHeader(std::string_view name, std::string_view value) {
  std::string line;
  line.reserve(name.size() + value.size() + 8);
  line.append(name);
  line.append(": ");
  for (size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (c == '\n' && (i == 0 || value[i - 1] != '\r')) line.push_back('\r');
    line.push_back(c);
  }
  line.append("\r\n");
  return Append(line);
}

Status Spool::Sha256Hex(std::string* hex) const {
  Sha256 sum;
  if (fd_ < 0) {
    sum.Update(memory_);
  } else {
    constexpr size_t kBlock = 64 << 10;
    std::string block(kBlock, '\0');
    uint64_t offset = 0;
    while (offset < size_) {
      const size_t want = static_cast<size_t>(std::min<uint64_t>(kBlock, size_ - offset));
      ssize_t n = pread(fd_, block.data(), want, static_cast<off_t>(offset));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        return Status::Internal(n == 0 ? std::string("spool: file shorter than its size")
                                       : ErrnoText("spool: pread", errno));
      }
      sum.Update(std::string_view(block.data(), static_cast<size_t>(n)));
      offset += static_cast<uint64_t>(n);
    }
  }
  *hex = sum.HexDigest();
  return Status::Ok();
}

std::string Spool::Sha256Hex() const {
  std::string hex;
  if (!Sha256Hex(&hex).ok()) hex.clear();
  return hex;
}

void Spool::Reset() {
  if (fd_ >= 0) {
    close(fd_);
    fd_ = -1;
  }
  memory_.clear();
  size_ = 0;
}

Status Spool::Read(uint64_t offset, size_t len, std::string* out) const {
  out->clear();
  if (offset >= size_) return Status::Ok();
  len = static_cast<size_t>(std::min<uint64_t>(len, size_ - offset));
  if (fd_ < 0) {
    out->assign(memory_, static_cast<size_t>(offset), len);
    return Status::Ok();
  }
  out->resize(len);
  size_t done = 0;
  while (done < len) {
    ssize_t n = pread(fd_, out->data() + done, len - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::Internal(std::string("spool: pread: ") + std::strerror(errno));
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  out->resize(done);
  return Status::Ok();
}

}  // namespace desk
