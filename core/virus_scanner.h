// VirusScanner and ScannerHolder: libclamav in process, one engine shared by every connection.
//
// VirusScanner owns one compiled libclamav engine loaded from a database directory (cl_load with
// CL_DB_STDOPT). Scans parse archives, mail, PDF, OLE2 and the rest (parse = ~0u) and run with the
// general heuristics on, including "alert when a limit is exceeded": reaching max_scan_size,
// max_file_size, max_recursion, max_files or max_scan_time is reported as kScanLimit, never as
// clean. Other heuristic alerts (Heuristics.Broken.Executable, phishing, ...) are reported as
// infected, as clamd does with its default HeuristicAlerts yes.
//
// ScannerHolder keeps the current engine and swaps in a new one when the database directory changes
// (MaybeReload, from a background thread, e.g. every few seconds) or on demand (ReloadNow, on
// SIGHUP). The new engine is built in the calling thread while scans continue on the old one; a
// scan holds its engine through a shared_ptr, so the old engine is freed when its last scan ends.
// While a reload runs, memory holds both engines (about twice the database size: ~2.4 GiB with the
// official signatures). A reload that fails keeps the old engine, returns the error, counts the
// failure and marks the loaded database stale until a reload succeeds; what scans do meanwhile is
// the caller's choice (scanner.on_database_failure, core/attachment_stage.cc).
//
// Limits: no database (an empty directory) or a broken one is Status::Scanner from Create
// ("no supported database files found in DIR"). libclamav writes temporary files while it unpacks
// archives, under ScannerOptions::temp_dir (default: libclamav's, $TMPDIR or /tmp).
//
// The core never logs: libclamav's own messages are silenced (cl_set_clcb_msg) the first time an
// engine is created; errors come back as Status and ScanResult::error.
//
// Thread-safety: Scan and ScanFd are safe from any number of threads on one VirusScanner.
// ScannerHolder::Get is lock-free (atomic shared_ptr); MaybeReload and ReloadNow are serialized by
// an internal mutex and may be called from any thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "core/status.h"

namespace desk {

struct ScannerOptions {
  std::string database_dir;               // directory of .cvd/.cld/.hdb/.ndb/... files
  std::string temp_dir;                   // "" = libclamav's default
  uint64_t max_scan_size = 400ull << 20;  // bytes scanned per attachment, all nested files together
  uint64_t max_file_size = 100ull << 20;  // largest single (nested) file scanned
  uint32_t max_recursion = 17;            // archive / container nesting
  uint32_t max_files = 10000;             // files scanned inside one attachment
  uint32_t max_scan_time_ms = 120000;     // wall time per scan
  // Fault injection for tests only (the daemon sets it from $DESKMILTER_TEST_SCANNER_FAULT): content
  // holding this byte string scans as kError, as a failing libclamav would; "" (production) = off.
  // libclamav itself shrugs off the failures one could provoke from outside (an unwritable temp
  // directory), so the scanner-error path needs this to be tested end to end.
  std::string fault_marker;
};

struct ScanResult {
  enum Outcome { kClean, kInfected, kScanLimit, kError };
  Outcome outcome = kError;
  std::string virus;  // signature name when kInfected; the limit's heuristic name when kScanLimit
  std::string error;  // libclamav's message when kError; which limit when kScanLimit
};
const char* ScanOutcomeName(ScanResult::Outcome o);  // "clean", "infected", "scan_limit", "error"

class VirusScanner {
 public:
  // Loads and compiles the databases of options.database_dir. Status::Scanner on any failure,
  // naming the directory and libclamav's reason.
  static Status Create(const ScannerOptions& options, std::shared_ptr<VirusScanner>* out);
  ~VirusScanner();
  VirusScanner(const VirusScanner&) = delete;
  VirusScanner& operator=(const VirusScanner&) = delete;

  // Scans len bytes of decoded content in memory.
  ScanResult Scan(const char* data, size_t len) const;
  // Scans a file from its current offset to its end; the fd stays open.
  ScanResult ScanFd(int fd) const;

  unsigned int signatures() const { return signatures_; }
  // The database version libclamav reports (the newest of daily/main/bytecode that carries one;
  // 0 for a directory of plain signature files such as a test's .hdb).
  unsigned int db_version() const { return db_version_; }
  const ScannerOptions& options() const { return options_; }
  // The official database's version (libclamav's CL_ENGINE_DB_VERSION: daily.cvd/.cld's); 0 when
  // only other files (.hdb, .ndb, ...) were loaded.
  uint64_t database_version() const { return database_version_; }
  // When the database was built (CL_ENGINE_DB_TIME, seconds since the epoch); without an official
  // database, the modification time of the newest file in database_dir when it was loaded.
  int64_t database_time() const { return database_time_; }

 private:
  VirusScanner(void* engine, unsigned int signatures, ScannerOptions options)
      : engine_(engine), signatures_(signatures), options_(std::move(options)) {}
  void* engine_;  // struct cl_engine*, compiled; read-only from here on
  unsigned int signatures_;
  unsigned int db_version_ = 0;
  ScannerOptions options_;
  uint64_t database_version_ = 0;
  int64_t database_time_ = 0;
};

class ScannerHolder {
 public:
  // Builds the first engine (VirusScanner::Create) and records the state of the directory.
  static Status Create(const ScannerOptions& options, std::unique_ptr<ScannerHolder>* out);
  ~ScannerHolder();

  // The current engine; never null after a successful Create. Scan through the returned pointer:
  // it keeps that engine alive however many reloads happen meanwhile.
  std::shared_ptr<const VirusScanner> Get() const { return current_.load(); }

  // Rebuilds the engine when a database file of the directory was added, removed or changed since
  // the last (attempted) load (cl_statchkdir, whose mtime has a one-second grain, plus a file
  // count for removals); sets *reloaded when it did. A failed rebuild keeps the current
  // engine, returns the error, and is not retried until the directory changes again (or ReloadNow).
  Status MaybeReload(bool* reloaded = nullptr);

  // Rebuilds the engine now, whatever the directory says.
  Status ReloadNow();

  // How many engines were swapped in since Create.
  uint64_t reload_count() const { return reloads_.load(); }
  // How many reloads (MaybeReload or ReloadNow) failed since Create.
  uint64_t failed_reload_count() const { return failed_reloads_.load(); }
  // True after a failed reload, false again after a successful one: the engine Get returns is
  // not what the directory now holds.
  bool database_stale() const { return stale_.load(); }

 private:
  explicit ScannerHolder(ScannerOptions options);
  Status Rebuild();  // with mu_ held

  ScannerOptions options_;
  std::atomic<std::shared_ptr<const VirusScanner>> current_;
  std::atomic<uint64_t> reloads_{0};
  std::atomic<uint64_t> failed_reloads_{0};
  std::atomic<bool> stale_{false};
  std::mutex mu_;         // serializes reloads and guards stat_
  void* stat_ = nullptr;  // struct cl_stat*, state of database_dir at the last load attempt
};

}  // namespace desk
