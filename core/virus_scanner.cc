// VirusScanner, ScannerHolder: libclamav engine, scans and reloads. See virus_scanner.h.
#include "core/virus_scanner.h"

#include <clamav.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>
#include <string_view>

namespace desk {
namespace {

constexpr std::string_view kLimitPrefix = "Heuristics.Limits.Exceeded";

void SilentMessage(enum cl_msg, const char*, const char*, void*) {}

// libclamav 1.4 may return CL_VIRUS with *virname left null (seen for a top-level file over
// max_file_size); the virus-found callback always gets the name. context: the scan's std::string.
void VirusFound(int, const char* virname, void* context) {
  auto* name = static_cast<std::string*>(context);
  if (name != nullptr && name->empty() && virname != nullptr) *name = virname;
}

// cl_init once per process; its result is remembered for every later Create.
cl_error_t InitOnce() {
  static std::once_flag once;
  static cl_error_t result = CL_SUCCESS;
  std::call_once(once, [] {
    cl_set_clcb_msg(SilentMessage);
    result = cl_init(CL_INIT_DEFAULT);
  });
  return result;
}

struct cl_scan_options ScanOptions() {
  struct cl_scan_options o = {};
  o.general = CL_SCAN_GENERAL_HEURISTICS;
  o.parse = ~0u;
  o.heuristic = CL_SCAN_HEURISTIC_EXCEEDS_MAX;
  return o;
}

ScanResult ResultOf(cl_error_t r, const char* virname, const std::string& found) {
  ScanResult out;
  if (r == CL_CLEAN) {
    out.outcome = ScanResult::kClean;
  } else if (r == CL_VIRUS) {
    std::string name = virname ? virname : found.empty() ? "unknown" : found;
    if (std::string_view(name).substr(0, kLimitPrefix.size()) == kLimitPrefix) {
      out.outcome = ScanResult::kScanLimit;
      out.error = name;
    } else {
      out.outcome = ScanResult::kInfected;
    }
    out.virus = std::move(name);
  } else if (r == CL_EMAXREC || r == CL_EMAXSIZE || r == CL_EMAXFILES || r == CL_ETIMEOUT) {
    out.outcome = ScanResult::kScanLimit;
    out.error = cl_strerror(r);
  } else {
    out.outcome = ScanResult::kError;
    out.error = cl_strerror(r);
  }
  return out;
}

}  // namespace

const char* ScanOutcomeName(ScanResult::Outcome o) {
  switch (o) {
    case ScanResult::kClean:
      return "clean";
    case ScanResult::kInfected:
      return "infected";
    case ScanResult::kScanLimit:
      return "scan_limit";
    case ScanResult::kError:
      return "error";
  }
  return "error";
}

namespace {

// The modification time of the newest regular file directly in dir; 0 when none can be read.
int64_t NewestFileTime(const std::string& dir) {
  std::error_code ec;
  int64_t newest = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    struct stat st;
    if (::stat(e.path().c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_mtime > newest) {
      newest = st.st_mtime;
    }
  }
  return newest;
}

}  // namespace

Status VirusScanner::Create(const ScannerOptions& options, std::shared_ptr<VirusScanner>* out) {
  cl_error_t r = InitOnce();
  if (r != CL_SUCCESS) return Status::Scanner(std::string("cl_init: ") + cl_strerror(r));
  const std::string& dir = options.database_dir;
  if (dir.empty()) return Status::Scanner("no database directory configured");
  cl_engine* engine = cl_engine_new();
  if (engine == nullptr) return Status::Scanner("cl_engine_new failed");
  auto fail = [&](const std::string& what, cl_error_t err) {
    cl_engine_free(engine);
    return Status::Scanner(what + ": " + cl_strerror(err));
  };
  if (!options.temp_dir.empty() &&
      (r = cl_engine_set_str(engine, CL_ENGINE_TMPDIR, options.temp_dir.c_str())) != CL_SUCCESS) {
    return fail("temp_dir " + options.temp_dir, r);
  }
  struct {
    cl_engine_field field;
    long long value;
    const char* name;
  } limits[] = {
      {CL_ENGINE_MAX_SCANSIZE, (long long)options.max_scan_size, "max_scan_size"},
      {CL_ENGINE_MAX_FILESIZE, (long long)options.max_file_size, "max_file_size"},
      {CL_ENGINE_MAX_RECURSION, options.max_recursion, "max_recursion"},
      {CL_ENGINE_MAX_FILES, options.max_files, "max_files"},
      {CL_ENGINE_MAX_SCANTIME, options.max_scan_time_ms, "max_scan_time_ms"},
  };
  for (const auto& l : limits) {
    if ((r = cl_engine_set_num(engine, l.field, l.value)) != CL_SUCCESS) {
      return fail(std::string("setting ") + l.name, r);
    }
  }
  cl_engine_set_clcb_virus_found(engine, VirusFound);
  unsigned int signatures = 0;
  r = cl_load(dir.c_str(), engine, &signatures, CL_DB_STDOPT);
  if (r == CL_EOPEN && signatures == 0) {
    cl_engine_free(engine);
    return Status::Scanner("no supported database files found in " + dir);
  }
  if (r != CL_SUCCESS) return fail("loading the database " + dir, r);
  if (signatures == 0) {
    cl_engine_free(engine);
    return Status::Scanner("no signatures loaded from " + dir);
  }
  if ((r = cl_engine_compile(engine)) != CL_SUCCESS)
    return fail("compiling the database " + dir, r);
  auto* scanner = new VirusScanner(engine, signatures, options);
  int err = 0;
  long long version = cl_engine_get_num(engine, CL_ENGINE_DB_VERSION, &err);
  if (err == CL_SUCCESS && version > 0) scanner->database_version_ = static_cast<uint64_t>(version);
  long long built = cl_engine_get_num(engine, CL_ENGINE_DB_TIME, &err);
  scanner->database_time_ = err == CL_SUCCESS && built > 0 ? built : NewestFileTime(dir);
  if (err == CL_SUCCESS && version > 0) scanner->db_version_ = static_cast<unsigned int>(version);
  out->reset(scanner);
  return Status::Ok();
}

VirusScanner::~VirusScanner() { cl_engine_free(static_cast<cl_engine*>(engine_)); }

ScanResult VirusScanner::Scan(const char* data, size_t len) const {
  if (!options_.fault_marker.empty() &&
      std::string_view(data, len).find(options_.fault_marker) != std::string_view::npos) {
    return ScanResult{ScanResult::kError, "", "fault injected for testing"};
  }
  if (len == 0) return ScanResult{ScanResult::kClean, "", ""};
  cl_fmap_t* map = cl_fmap_open_memory(data, len);
  if (map == nullptr) return ScanResult{ScanResult::kError, "", "cl_fmap_open_memory failed"};
  struct cl_scan_options opts = ScanOptions();
  const char* virname = nullptr;
  unsigned long scanned = 0;
  std::string found;
  cl_error_t r = cl_scanmap_callback(map, nullptr, &virname, &scanned,
                                     static_cast<const cl_engine*>(engine_), &opts, &found);
  ScanResult out = ResultOf(r, virname, found);
  cl_fmap_close(map);
  return out;
}

ScanResult VirusScanner::ScanFd(int fd) const {
  if (!options_.fault_marker.empty()) {
    // Tests only: look for the marker from the current offset, then rewind to it.
    off_t start = lseek(fd, 0, SEEK_CUR);
    std::string buf(64 * 1024, '\0');
    std::string tail;
    bool hit = false;
    for (off_t at = start; !hit && at >= 0;) {
      ssize_t n = pread(fd, buf.data(), buf.size(), at);
      if (n <= 0) break;
      tail.append(buf.data(), static_cast<size_t>(n));
      hit = tail.find(options_.fault_marker) != std::string::npos;
      if (tail.size() > options_.fault_marker.size()) {
        tail.erase(0, tail.size() - options_.fault_marker.size());
      }
      at += n;
    }
    if (hit) return ScanResult{ScanResult::kError, "", "fault injected for testing"};
  }
  struct cl_scan_options opts = ScanOptions();
  const char* virname = nullptr;
  unsigned long scanned = 0;
  std::string found;
  cl_error_t r = cl_scandesc_callback(fd, nullptr, &virname, &scanned,
                                      static_cast<const cl_engine*>(engine_), &opts, &found);
  return ResultOf(r, virname, found);
}

ScannerHolder::ScannerHolder(ScannerOptions options) : options_(std::move(options)) {}

ScannerHolder::~ScannerHolder() {
  if (stat_ != nullptr) {
    cl_statfree(static_cast<cl_stat*>(stat_));
    delete static_cast<cl_stat*>(stat_);
  }
}

Status ScannerHolder::Create(const ScannerOptions& options, std::unique_ptr<ScannerHolder>* out) {
  std::unique_ptr<ScannerHolder> h(new ScannerHolder(options));
  std::lock_guard<std::mutex> lock(h->mu_);
  Status st = h->Rebuild();
  if (!st.ok()) return st;
  h->reloads_ = 0;
  h->failed_reloads_ = 0;
  *out = std::move(h);
  return Status::Ok();
}

Status ScannerHolder::Rebuild() {
  // Record the directory before loading: a change during the load is seen by the next check.
  auto* stat = new cl_stat{};
  if (cl_statinidir(options_.database_dir.c_str(), stat) != CL_SUCCESS) {
    delete stat;
    stat = nullptr;
  }
  if (stat_ != nullptr) {
    cl_statfree(static_cast<cl_stat*>(stat_));
    delete static_cast<cl_stat*>(stat_);
  }
  stat_ = stat;
  std::shared_ptr<VirusScanner> engine;
  Status st = VirusScanner::Create(options_, &engine);
  if (!st.ok()) {
    failed_reloads_.fetch_add(1);
    stale_.store(true);
    return st;
  }
  current_.store(std::move(engine));
  reloads_.fetch_add(1);
  stale_.store(false);
  return Status::Ok();
}

Status ScannerHolder::MaybeReload(bool* reloaded) {
  if (reloaded) *reloaded = false;
  std::lock_guard<std::mutex> lock(mu_);
  auto* stat = static_cast<cl_stat*>(stat_);
  bool changed = stat == nullptr || cl_statchkdir(stat) == 1;
  if (!changed) {
    // cl_statchkdir sees added and changed files, not removed ones: compare the count too.
    cl_stat now{};
    if (cl_statinidir(options_.database_dir.c_str(), &now) == CL_SUCCESS) {
      changed = now.entries != stat->entries;
      cl_statfree(&now);
    }
  }
  if (!changed) return Status::Ok();
  Status st = Rebuild();
  if (st.ok() && reloaded) *reloaded = true;
  return st;
}

Status ScannerHolder::ReloadNow() {
  std::lock_guard<std::mutex> lock(mu_);
  return Rebuild();
}

}  // namespace desk
