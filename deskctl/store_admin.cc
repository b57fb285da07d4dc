// `deskctl quarantine list|get|purge` and `deskctl purge --closed-before DATE`: the admin's
// retention and recovery commands.
//
// quarantine: the originals of mail whose attachments were stripped (core/quarantine.h); needs only
// the config, never the store. purge: deletes closed tickets last updated before DATE
// (LmdbDeleteTickets), then the attachment files no remaining ticket references. Attachment files
// changed within the last hour are kept: the daemon renames a new attachment into place just before
// its ticket commit, so a younger unreferenced file may belong to mail in flight.
//
// Limits: purge reads every ticket's messages once to collect the referenced attachments (an
// admin's occasional command, not the mail path). Thread-safety: single-threaded tool.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <limits>
#include <set>
#include <system_error>

#include "config/loader.h"
#include "core/attachment_stage.h"
#include "core/lmdb_store.h"
#include "core/quarantine.h"
#include "core/record_store.h"
#include "deskctl/commands.h"
#include "deskctl/json_output.h"
#include "deskctl/text_output.h"

namespace desk::ctl {
namespace {

constexpr int64_t kAttachmentGraceSeconds = 3600;

void Print(const std::string& s) {
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fflush(stdout);
}

int LoadConfig(const std::string& path, std::shared_ptr<const Config>* out) {
  Status st = config::LoadFile(path, out);
  if (!st.ok()) {
    std::fprintf(stderr, "deskctl: %s\n", st.message().c_str());
    return kExitConfig;
  }
  return kExitOk;
}

// "YYYY-MM-DD" (00:00 UTC) or "YYYY-MM-DDTHH:MM:SSZ" -> seconds since the epoch.
bool ParseDate(const std::string& s, int64_t* out) {
  std::tm tm{};
  const char* end = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  if (end == nullptr || *end != '\0') {
    tm = std::tm{};
    end = strptime(s.c_str(), "%Y-%m-%d", &tm);
    if (end == nullptr || *end != '\0') return false;
  }
  *out = static_cast<int64_t>(timegm(&tm));
  return true;
}

}  // namespace

int RunQuarantineList(const std::string& config_path, bool json) {
  std::shared_ptr<const Config> cfg;
  if (int rc = LoadConfig(config_path, &cfg); rc != kExitOk) return rc;
  std::vector<QuarantineEntry> entries;
  Status st = ListQuarantine(QuarantineDir(*cfg), &entries);
  if (!st.ok()) {
    std::fprintf(stderr, "deskctl: %s\n", st.message().c_str());
    return kExitFailure;
  }
  if (json) {
    Json arr = Json::array();
    for (const QuarantineEntry& e : entries) {
      Json j;
      j["id"] = e.id;
      j["received_at"] = IsoTime(e.received_at);
      j["size"] = e.size;
      Json stripped = Json::array();
      for (const auto& [k, v] : e.fields) {
        if (k == "stripped") stripped.push_back(v);
        else if (!j.contains(k)) j[k] = v;
      }
      j["stripped"] = std::move(stripped);
      arr.push_back(std::move(j));
    }
    Print(Dump(arr) + "\n");
    return kExitOk;
  }
  std::string out = "ID                          RECEIVED              SIZE      TICKET  FROM / STRIPPED\n";
  for (const QuarantineEntry& e : entries) {
    char line[160];
    std::snprintf(line, sizeof line, "%-27s %-21s %-9llu %-7s ", Fit(e.id, 27).c_str(),
                  IsoTime(e.received_at).c_str(), static_cast<unsigned long long>(e.size),
                  Fit(e.Field("ticket").empty() ? "-" : e.Field("ticket"), 7).c_str());
    out += line + Printable(e.Field("from")) + "\n";
    for (const auto& [k, v] : e.fields) {
      if (k == "stripped") out += "    stripped " + Printable(v) + "\n";
    }
  }
  Print(out);
  return kExitOk;
}

int RunQuarantineGet(const std::string& config_path, const std::string& id,
                     const std::string& output) {
  std::shared_ptr<const Config> cfg;
  if (int rc = LoadConfig(config_path, &cfg); rc != kExitOk) return rc;
  std::string path;
  Status st = QuarantineMessagePath(QuarantineDir(*cfg), id, &path);
  if (!st.ok()) {
    std::fprintf(stderr, "deskctl: quarantine %s: %s\n", id.c_str(), st.message().c_str());
    return kExitFailure;
  }
  int in = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) {
    std::fprintf(stderr, "deskctl: %s: %s\n", path.c_str(), std::strerror(errno));
    return kExitFailure;
  }
  int out = STDOUT_FILENO;
  if (!output.empty() && output != "-") {
    out = open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (out < 0) {
      std::fprintf(stderr, "deskctl: %s: %s\n", output.c_str(), std::strerror(errno));
      close(in);
      return kExitFailure;
    }
  }
  char buf[64 * 1024];
  int rc = kExitOk;
  for (;;) {
    ssize_t n = read(in, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::fprintf(stderr, "deskctl: %s: %s\n", path.c_str(), std::strerror(errno));
      rc = kExitFailure;
    }
    if (n <= 0) break;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(out, buf + off, static_cast<size_t>(n - off));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        std::fprintf(stderr, "deskctl: write: %s\n", std::strerror(errno));
        close(in);
        if (out != STDOUT_FILENO) close(out);
        return kExitFailure;
      }
      off += w;
    }
  }
  close(in);
  if (out != STDOUT_FILENO && close(out) != 0) rc = kExitFailure;
  return rc;
}

int RunQuarantinePurge(const std::string& config_path, int64_t older_than_days) {
  std::shared_ptr<const Config> cfg;
  if (int rc = LoadConfig(config_path, &cfg); rc != kExitOk) return rc;
  int64_t days = older_than_days >= 0 ? older_than_days : cfg->attachments_quarantine_days;
  uint64_t removed = 0;
  // 0 days: every entry, also one written this very second.
  const int64_t cutoff = days == 0 ? std::numeric_limits<int64_t>::max()
                                   : static_cast<int64_t>(std::time(nullptr)) - days * 86400;
  Status st = PurgeQuarantine(QuarantineDir(*cfg), cutoff, &removed);
  if (!st.ok()) {
    std::fprintf(stderr, "deskctl: %s\n", st.message().c_str());
    return kExitFailure;
  }
  std::printf("removed %llu quarantine entr%s older than %lld days\n",
              static_cast<unsigned long long>(removed), removed == 1 ? "y" : "ies",
              static_cast<long long>(days));
  return kExitOk;
}

int RunPurge(const std::string& config_path, const PurgeOptions& opts) {
  int64_t cutoff = 0;
  if (!ParseDate(opts.closed_before, &cutoff)) {
    std::fprintf(stderr, "deskctl: --closed-before %s: not a date (YYYY-MM-DD or "
                         "YYYY-MM-DDTHH:MM:SSZ)\n", opts.closed_before.c_str());
    return kExitUsage;
  }
  Context ctx;
  int rc = OpenContext(config_path, StoreMode::kRequired, &ctx);
  if (rc != kExitOk) return rc;

  TicketFilter filter;
  filter.status = TicketStatus::kClosed;
  std::vector<Ticket> closed;
  Status st = ctx.store->ListTickets(filter, &closed);
  std::vector<uint64_t> doomed;
  for (const Ticket& t : closed) {
    if (t.updated_at < cutoff) doomed.push_back(t.number);
  }
  uint64_t deleted = 0;
  if (st.ok() && !opts.dry_run) st = LmdbDeleteTickets(ctx.store.get(), doomed, &deleted);
  if (!st.ok()) {
    std::fprintf(stderr, "deskctl: %s\n", st.ToString().c_str());
    return kExitFailure;
  }

  // The external store: every file a remaining ticket names stays (its attachments, the originals
  // of its messages, its PDF transcript); the rest is swept. The tickets were deleted (committed)
  // above, before any file: a crash in between leaves orphan files, which the next purge sweeps,
  // never a ticket naming a missing file.
  std::set<std::string> attachments, originals;
  std::set<uint64_t> live;
  std::vector<uint64_t> remaining;
  st = ctx.store->ScanTickets(TicketFilter{}, [&](const Ticket& t) {
    if (!opts.dry_run || std::find(doomed.begin(), doomed.end(), t.number) == doomed.end()) {
      remaining.push_back(t.number);
    }
    return true;
  });
  for (size_t i = 0; st.ok() && i < remaining.size(); ++i) {
    live.insert(remaining[i]);
    std::vector<TicketMessage> messages;
    st = ctx.store->GetMessages(remaining[i], &messages);
    if (st.IsNotFound()) {  // deleted meanwhile (another purge)
      live.erase(remaining[i]);
      st = Status::Ok();
    }
    for (const TicketMessage& m : messages) {
      if (!m.original_sha256.empty()) originals.insert(m.original_sha256);
      for (const StoredAttachment& a : m.attachments) {
        if (!a.sha256.empty()) attachments.insert(a.sha256);
      }
    }
  }
  if (!st.ok()) {
    std::fprintf(stderr, "deskctl: %s\n", st.ToString().c_str());
    return kExitFailure;
  }
  SweepResult swept;
  // Files younger than the grace period may belong to mail in flight (its ticket is committed
  // after its files are in place) or to a ticket created after the scan.
  st = SweepRecordStore(
      AttachmentStoreDir(*ctx.config), attachments, originals,
      [&](uint64_t n) { return live.count(n) != 0; },
      std::filesystem::file_time_type::clock::now() -
          std::chrono::seconds(kAttachmentGraceSeconds),
      opts.dry_run, &swept);
  if (!st.ok()) {
    std::fprintf(stderr, "deskctl: %s\n", st.ToString().c_str());
    return kExitFailure;
  }
  std::printf("%s %llu closed ticket(s) last updated before %s, %llu unreferenced attachment "
              "file(s), %llu original(s), %llu transcript(s), %llu temporary file(s) (%llu "
              "bytes)\n",
              opts.dry_run ? "would delete" : "deleted",
              static_cast<unsigned long long>(opts.dry_run ? doomed.size() : deleted),
              opts.closed_before.c_str(), static_cast<unsigned long long>(swept.attachments),
              static_cast<unsigned long long>(swept.originals),
              static_cast<unsigned long long>(swept.transcripts),
              static_cast<unsigned long long>(swept.temp_files),
              static_cast<unsigned long long>(swept.bytes));
  return kExitOk;
}

int RunReindex(const std::string& config_path, bool restart) {
  Context ctx;
  int rc = OpenContext(config_path, StoreMode::kRequired, &ctx);
  if (rc != kExitOk) return rc;
  WordIndexState state;
  Status st = LmdbBuildWordIndex(ctx.store.get(), restart, {}, &state);
  if (!st.ok()) {
    std::fprintf(stderr, "deskctl: reindex: %s\n", st.ToString().c_str());
    return kExitFailure;
  }
  std::printf("reindex: word index complete, %llu ticket(s) indexed now\n",
              static_cast<unsigned long long>(state.tickets));
  return kExitOk;
}

}  // namespace desk::ctl
