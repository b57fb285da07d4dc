// `deskctl attachment get` and `deskctl message get`: handing out what the external store keeps.
//
// Both read only from the content-addressed store (core/record_store.h) by hash: an attachment by
// the SHA-256 the ticket lists, an original message by the hash recorded on the message. Output
// goes to standard output byte for byte, or to -o FILE (created 0640, replaced when it exists).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "core/attachment_stage.h"
#include "core/record_store.h"
#include "deskctl/commands.h"

namespace desk::ctl {
namespace {

int Fail(const std::string& msg) {
  std::fprintf(stderr, "deskctl: %s\n", msg.c_str());
  return kExitFailure;
}

// Copies blob sha256 to out_path ("" or "-" = standard output).
int Emit(const std::string& store_dir, const std::string& sha256, const std::string& out_path) {
  int fd = STDOUT_FILENO;
  std::string tmp;
  if (!out_path.empty() && out_path != "-") {
    tmp = out_path + ".tmp-XXXXXX";
    fd = ::mkstemp(tmp.data());
    if (fd < 0) return Fail(out_path + ": cannot create a file beside it");
    ::fchmod(fd, 0640);
  }
  std::fflush(stdout);
  Status st = CopyBlob(store_dir, sha256, fd);
  if (fd != STDOUT_FILENO) {
    if (::close(fd) != 0 && st.ok()) st = Status::Store(out_path + ": write failed");
    if (st.ok() && ::rename(tmp.c_str(), out_path.c_str()) != 0) {
      st = Status::Store(out_path + ": cannot rename into place");
    }
    if (!st.ok()) ::unlink(tmp.c_str());
  }
  if (!st.ok()) return Fail(st.message());
  return kExitOk;
}

}  // namespace

int RunAttachmentGet(const std::string& config_path, const std::string& sha256,
                     const std::string& out_path) {
  Context ctx;
  int rc = OpenContext(config_path, StoreMode::kIfExists, &ctx);
  if (rc != kExitOk) return rc;
  std::string hex;
  Status st = NormalizeSha256(sha256, &hex);
  if (!st.ok()) return Fail("attachment get: " + st.message());
  return Emit(AttachmentStoreDir(*ctx.config), hex, out_path);
}

int RunMessageGet(const std::string& config_path, uint64_t ticket, uint32_t seq,
                  const std::string& out_path) {
  Context ctx;
  int rc = OpenContext(config_path, StoreMode::kIfExists, &ctx);
  if (rc != kExitOk) return rc;
  const std::string what = "ticket " + std::to_string(ticket) + " message " + std::to_string(seq);
  if (ctx.store == nullptr) return Fail("ticket " + std::to_string(ticket) + ": no such ticket");
  std::vector<TicketMessage> messages;
  Ticket t;
  Status st = ctx.store->GetTicket(ticket, &t);
  if (st.IsNotFound()) return Fail("ticket " + std::to_string(ticket) + ": no such ticket");
  if (st.ok()) st = ctx.store->GetMessages(ticket, &messages);
  if (!st.ok()) return Fail(st.ToString());
  for (const TicketMessage& m : messages) {
    if (m.seq != seq) continue;
    if (m.original_sha256.empty()) {
      return Fail(what + ": the original was not kept (queue option keep_original)");
    }
    return Emit(OriginalsDir(AttachmentStoreDir(*ctx.config)), m.original_sha256, out_path);
  }
  return Fail(what + ": no such message");
}

}  // namespace desk::ctl
