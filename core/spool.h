// Spool: the raw bytes of one message, in memory up to a threshold, then in an unlinked temp file.
//
// The milter adapter writes the headers it receives ("Name: value\r\n"), a blank line, then body
// chunks; deskctl writes a message file as is. Parsers read it back through data() (in memory) or
// fd() (on disk) without ever loading a large body into memory.
//
// It also computes, on request, the SHA-256 of everything appended, which gives mail without a
// Message-ID a stable generated one (an SMTP retry of the same bytes gets the same id). The hash is
// not kept up to date while appending: each call reads the whole spool back (memory, or pread from
// the file), so ask once per message, and only when needed.
//
// Thread-safety: one Spool belongs to one transaction; not shared between threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace desk {

class Spool {
 public:
  // threshold: bytes kept in memory before moving to a temp file in dir (created with O_TMPFILE or
  // mkstemp+unlink, so nothing is left behind on a crash).
  Spool(std::string dir, uint64_t threshold);
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  // Appends bytes. Fails with kInternal if the temp file cannot be created or written.
  Status Append(std::string_view data);
  // Appends one header as "name: value\r\n"; bare LF in a folded value becomes CRLF.
  Status AppendHeader(std::string_view name, std::string_view value);

  uint64_t size() const { return size_; }
  bool on_disk() const { return fd_ >= 0; }
  // In memory: the bytes. On disk: empty.
  const std::string& data() const { return memory_; }
  // On disk: a readable descriptor positioned anywhere (readers must use pread or lseek); else -1.
  int fd() const { return fd_; }
  // Copies up to len bytes from offset into *out (fewer at the end). kInternal on a read error.
  Status Read(uint64_t offset, size_t len, std::string* out) const;
  // Lower-case hex SHA-256 of everything appended so far, computed now. kInternal on a read error.
  Status Sha256Hex(std::string* hex) const;
  // The same; an empty string on a read error.
  std::string Sha256Hex() const;
  // Discards content so the Spool can be reused for the next transaction of a connection.
  void Reset();

 private:
  std::string dir_;
  uint64_t threshold_;
  std::string memory_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

}  // namespace desk
