// See dirs.h.
#include "config/dirs.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace desk::config {
namespace {

std::string DefaultTempDir() {
  const char* env = std::getenv("TMPDIR");
  if (env != nullptr && env[0] != '\0') return env;
  return "/tmp";
}

// "" when dir is a directory this process may create files in; else the reason.
std::string WritableReason(const std::string& dir) {
  struct stat sb;
  if (::stat(dir.c_str(), &sb) != 0) return std::strerror(errno);
  if (!S_ISDIR(sb.st_mode)) return "not a directory";
  if (::faccessat(AT_FDCWD, dir.c_str(), W_OK | X_OK, AT_EACCESS) != 0) {
    return std::string("not writable: ") + std::strerror(errno);
  }
  return "";
}

std::string Parent(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  size_t slash = p.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return p.substr(0, slash);
}

bool Exists(const std::string& path) {
  struct stat sb;
  return ::lstat(path.c_str(), &sb) == 0 || (errno != ENOENT && errno != ENOTDIR);
}

class Checker {
 public:
  explicit Checker(const std::string& file) : file_(file) {}

  // The directory must exist and be writable. False when a problem was added.
  bool MustExist(const char* key, const std::string& dir) {
    std::string why = WritableReason(dir);
    if (!why.empty()) Add(key, dir, why);
    return why.empty();
  }

  // The directory is created when missing: it, or its nearest existing ancestor (only the parent
  // when levels is 1), must be writable.
  bool MayCreate(const char* key, const std::string& dir, int levels) {
    if (Exists(dir)) return MustExist(key, dir);
    std::string up = dir;
    for (int i = 0; i < levels; ++i) {
      up = Parent(up);
      if (Exists(up)) {
        std::string why = WritableReason(up);
        if (!why.empty()) Add(key, dir, "missing, and cannot be created in " + up + ": " + why);
        return why.empty();
      }
      if (up == "/" || up == ".") break;
    }
    Add(key, dir, "missing, and so is its parent " + Parent(dir));
    return false;
  }

  std::vector<std::string> take() { return std::move(problems_); }

 private:
  void Add(const char* key, const std::string& dir, const std::string& why) {
    problems_.push_back(file_ + ": " + key + ": " + dir + ": " + why);
  }

  const std::string& file_;
  std::vector<std::string> problems_;
};

}  // namespace

std::vector<std::string> CheckWritableDirs(const Config& config, const std::string& file) {
  Checker c(file);
  const bool store_ok = c.MayCreate("store.dir", config.store_dir, 1);
  if (config.attachments_store_dir.empty()) {
    // Inside store.dir: a problem there is already reported once.
    if (store_ok) c.MayCreate("attachments.store_dir", config.store_dir + "/attachments", 2);
  } else {
    c.MayCreate("attachments.store_dir", config.attachments_store_dir, 64);
  }
  c.MustExist("store.spool_dir", config.spool_dir.empty() ? DefaultTempDir() : config.spool_dir);
  if (config.scanner_enabled) {
    c.MustExist("scanner.temp_dir",
                config.scanner_temp_dir.empty() ? DefaultTempDir() : config.scanner_temp_dir);
  }
  return c.take();
}

}  // namespace desk::config
