// `deskctl ingest`: runs message files through the engine as if they had arrived by SMTP.
//
// Each file is streamed into the Transaction in 64 KiB chunks (the Spool moves big messages to a temp
// file), so a large file is never held whole in memory. One JSON line per file, in argument order,
// flushed as it is decided, so a crash still leaves the lines of the files before it.
// With --dry-run nothing is committed, and a store that does not exist yet is not created.
//
// Limits: files are read one at a time; "-" (standard input) may be given once.
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <string_view>

#include "deskctl/commands.h"
#include "deskctl/json_output.h"

namespace desk::ctl {
namespace {

constexpr size_t kChunk = 64 * 1024;

// "<a@b>" -> "a@b", "<>" -> "": the Envelope holds addresses with brackets stripped.
std::string StripBrackets(std::string s) {
  if (s.size() >= 2 && s.front() == '<' && s.back() == '>') s = s.substr(1, s.size() - 2);
  return s;
}

void PrintLine(const Json& j) {
  std::string line = Dump(j);
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

std::string ErrnoText(int err) { return std::strerror(err); }

// Opens file for reading ("-": standard input). Returns -1 and sets *error on failure.
int OpenInput(const std::string& file, std::string* error) {
  int fd = file == "-" ? STDIN_FILENO : ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *error = ErrnoText(errno);
    return -1;
  }
  struct stat sb;
  if (::fstat(fd, &sb) != 0) {
    *error = ErrnoText(errno);
  } else if (S_ISDIR(sb.st_mode)) {
    *error = ErrnoText(EISDIR);
  } else {
    return fd;
  }
  if (fd != STDIN_FILENO) ::close(fd);
  return -1;
}

// Streams fd into tx. Returns false and sets *error on a read error.
bool Feed(int fd, Transaction* tx, std::string* error) {
  std::string buf(kChunk, '\0');
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      *error = ErrnoText(errno);
      return false;
    }
    if (n == 0) return true;
    tx->Raw(std::string_view(buf.data(), static_cast<size_t>(n)));
  }
}

}  // namespace

int RunIngest(const std::string& config_path, const IngestOptions& opts) {
  Context ctx;
  int rc = OpenContext(config_path, opts.dry_run ? StoreMode::kIfExists : StoreMode::kCreate, &ctx);
  if (rc != kExitOk) return rc;

  Envelope base;
  base.mail_from = StripBrackets(opts.mail_from);
  for (const std::string& r : opts.rcpts) base.rcpts.push_back(StripBrackets(r));
  base.queue_id = opts.queue_id;
  base.auth_user = opts.auth_user;
  base.client_addr = opts.client_addr;

  int status = kExitOk;
  for (const std::string& file : opts.files) {
    std::string error;
    int fd = OpenInput(file, &error);
    if (fd < 0) {
      PrintLine(UnreadableFileJson(file, error));
      status = kExitFailure;
      continue;
    }
    Transaction tx(*ctx.engine, base);
    // Mail with no support recipient is decided without its content, as the milter does; the file
    // is still opened so a typo in its name is reported.
    bool fed = true;
    if (tx.IsRelevant()) fed = Feed(fd, &tx, &error);
    if (fd != STDIN_FILENO) ::close(fd);
    if (!fed) {
      PrintLine(UnreadableFileJson(file, error));
      status = kExitFailure;
      continue;
    }
    Decision d = tx.EndOfMessage(static_cast<int64_t>(std::time(nullptr)), opts.dry_run);
    PrintLine(DecisionJson(file, d));
  }
  return status;
}

}  // namespace desk::ctl
