// record_store: the content-addressed file store that keeps attachments, original messages and
// PDF transcripts of tickets outside LMDB ("the external store").
//
// Layout under the store directory (attachments.store_dir, default <store.dir>/attachments):
//   ab/cd/<sha256>            one blob per distinct attachment content: written once to a temp
//                             file, fsynced, renamed into place (core/attachment_stage.h)
//   originals/ab/cd/<sha256>  the same for messages as received (queues with keep_original)
//   transcripts/<N>.pdf       the PDF transcript of ticket N (queues with transcript = "pdf")
// A blob is named by the lower-case hex SHA-256 of its bytes, so the same attachment or the same
// message sent twice is kept once, and a reader can check what it got.
//
// Reading is only ever by hash: a name that is not 64 hex digits is rejected before any path is
// built, so a caller cannot reach a file outside the store; the blob is opened with O_NOFOLLOW and
// must be a regular file.
//
// Errors: kInvalid for a malformed hash, kNotFound for a blob that is not stored, kStore for I/O.
// Thread-safety: stateless functions; concurrent writers of the same blob are safe (each writes its
// own temp file; rename is atomic and the contents are equal).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/spool.h"
#include "core/status.h"

namespace desk {

struct Config;

// true when s is 64 hex digits (either case).
bool IsSha256Hex(std::string_view s);
// Lower-cases a valid hash; kInvalid (naming it) when it is malformed.
Status NormalizeSha256(std::string_view s, std::string* out);

// Stores the whole spool as a blob, durable (fsync'd) before it takes its name; nothing is written
// when it is already stored. *sha256 is its lower-case hex SHA-256. A file at the blob's path with
// another size (not a whole blob) is written again.
Status StoreBlob(const std::string& dir, const Spool& content, std::string* sha256);

// The pieces StoreBlob is made of, for the attachment store (which renames later):
// true when a regular file of exactly `size` bytes is at path (a whole blob);
bool BlobPresent(const std::string& path, uint64_t size);
// writes content to a new temp file in dir (made when missing) and fsyncs it;
Status WriteTempBlob(const std::string& dir, const Spool& content, std::string* tmp_path);
// renames it to its blob path, making the fan-out directories when missing.
Status RenameIntoStore(const std::string& tmp_path, const std::string& final_path);

// Opens the blob for reading. *fd is owned by the caller. kInvalid / kNotFound / kStore as above.
Status OpenBlob(const std::string& dir, std::string_view sha256, int* fd, uint64_t* size);
// Copies the blob to out_fd (standard output or a file).
Status CopyBlob(const std::string& dir, std::string_view sha256, int out_fd);

// <dir>/originals: the blob directory of original messages.
std::string OriginalsDir(const std::string& dir);

// A blob reference as core/forget.h lists them: "original:<sha256>" or "attachment:<sha256>".
// Its file under the store directory dir; "" when ref is malformed.
std::string BlobRefPath(const std::string& dir, const std::string& ref);

// <dir>/transcripts/<ticket>.pdf, and the directory it lives in (created on demand by callers).
std::string TranscriptDir(const std::string& dir);
std::string TranscriptPath(const std::string& dir, uint64_t ticket);

// What a sweep found to remove (or removed).
struct SweepResult {
  uint64_t attachments = 0, originals = 0, transcripts = 0, temp_files = 0;
  uint64_t bytes = 0;
};

// The orphan sweep of deskctl purge: removes from the external store dir every file that no ticket
// in the store references: attachment blobs whose hash is not in attachments, original blobs not
// in originals, transcripts/<N>.pdf whose ticket does not exist (ticket_exists(N) false; numbers
// are never reused), and temporary files left by a writer that died (".tmp-" names). Files
// changed at or after keep_after are kept: they may belong to mail in flight, whose ticket is
// committed only after its files are in place. Only names of the layout above are touched; dry_run
// counts without removing. Crash safety comes from the order the callers keep: the store change is
// committed first, files are removed after, so a crash leaves orphan files (the next sweep takes
// them), never a ticket that names a missing file.
Status SweepRecordStore(const std::string& dir, const std::set<std::string>& attachments,
                        const std::set<std::string>& originals,
                        const std::function<bool(uint64_t)>& ticket_exists,
                        std::filesystem::file_time_type keep_after, bool dry_run,
                        SweepResult* result);

}  // namespace desk
