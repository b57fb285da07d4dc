// See listen.h.
#include "milter/listen.h"

#include <dirent.h>
#include <errno.h>
#include <libmilter/mfapi.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "milter/log.h"

namespace desk::milter {
namespace {

std::string Errno(int e) { return std::strerror(e); }

// mkdir -p for the directories above a socket path.
Status MakeParents(const std::string& key, const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) return Status::Ok();
  std::string dir = path.substr(0, slash);
  for (size_t i = 1; i <= dir.size(); ++i) {
    if (i != dir.size() && dir[i] != '/') continue;
    std::string part = dir.substr(0, i);
    if (mkdir(part.c_str(), 0755) != 0 && errno != EEXIST) {
      return Status::Internal(key + ": cannot create directory " + part + ": " + Errno(errno));
    }
  }
  struct stat st;
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status::Config(key + ": " + dir + " is not a directory");
  }
  return Status::Ok();
}

// Removes a socket file left behind by a previous run; refuses a live one or a non-socket.
Status RemoveStaleSocket(const std::string& key, const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::Ok();
    return Status::Internal(key + ": " + path + ": " + Errno(errno));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return Status::Config(key + ": " + path + " exists and is not a socket; not removing it");
  }
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  if (path.size() >= sizeof sun.sun_path) {
    return Status::Config(key + ": " + path + ": path too long for a unix socket");
  }
  std::memcpy(sun.sun_path, path.c_str(), path.size() + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    int rc = connect(fd, reinterpret_cast<sockaddr*>(&sun), sizeof sun);
    close(fd);
    if (rc == 0) {
      return Status::Internal(key + ": " + path +
                            ": another process is listening on it (is deskmilter already running?)");
    }
  }
  if (unlink(path.c_str()) != 0) {
    return Status::Internal(key + ": cannot remove stale socket " + path + ": " + Errno(errno));
  }
  LogInfo("removed stale socket " + path);
  return Status::Ok();
}

// Why binding host:port fails, for the start-up error (libmilter only logs to syslog).
std::string DiagnoseBind(int port, bool v6) {
  int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno(errno);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  int rc;
  if (v6) {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(static_cast<uint16_t>(port));
    a.sin6_addr = in6addr_any;
    rc = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  } else {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    rc = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  int e = errno;
  close(fd);
  return rc == 0 ? "unknown reason (see syslog)" : Errno(e);
}

}  // namespace

int SetNoDelayOnListeners(int port) {
  int changed = 0;
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return 0;
  int self = dirfd(d);
  while (dirent* e = readdir(d)) {
    char* end = nullptr;
    long fd = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || fd == self) continue;
    int listening = 0;
    socklen_t len = sizeof listening;
    if (getsockopt(static_cast<int>(fd), SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 ||
        listening == 0) {
      continue;
    }
    sockaddr_storage ss{};
    socklen_t sl = sizeof ss;
    if (getsockname(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&ss), &sl) != 0) continue;
    int bound = -1;
    if (ss.ss_family == AF_INET) {
      bound = ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    } else if (ss.ss_family == AF_INET6) {
      bound = ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
    }
    if (bound != port) continue;
    int one = 1;
    if (setsockopt(static_cast<int>(fd), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0) {
      ++changed;
    }
  }
  closedir(d);
  return changed;
}

Status OpenListener(const Config& config) {
  const std::string key = "milter.socket";
  const std::string& spec = config.socket;
  size_t colon = spec.find(':');
  if (colon == std::string::npos) return Status::Config(key + ": '" + spec + "' has no type");
  const std::string proto = spec.substr(0, colon);
  const std::string rest = spec.substr(colon + 1);
  const bool is_unix = proto == "unix" || proto == "local";
  const bool is_inet = proto == "inet" || proto == "inet6";
  if (!is_unix && !is_inet) return Status::Config(key + ": '" + spec + "': unknown socket type");

  // Kept for the life of the process in case libmilter holds on to the pointer.
  static std::string conn;
  conn = spec;
  if (smfi_setconn(conn.data()) != MI_SUCCESS) {
    return Status::Config(key + ": '" + spec + "' refused by libmilter");
  }
  if (config.timeout_seconds > 0 &&
      smfi_settimeout(static_cast<int>(config.timeout_seconds)) != MI_SUCCESS) {
    return Status::Config("milter.timeout_seconds: refused by libmilter");
  }

  if (is_unix) {
    const std::string& path = rest;
    if (path.empty()) return Status::Config(key + ": '" + spec + "' has no path");
    Status st = MakeParents(key, path);
    if (!st.ok()) return st;
    st = RemoveStaleSocket(key, path);
    if (!st.ok()) return st;
    mode_t old_mask = umask(077);
    int rc = smfi_opensocket(true);
    umask(old_mask);
    if (rc != MI_SUCCESS) {
      std::string dir = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/'));
      std::string why = access(dir.empty() ? "/" : dir.c_str(), W_OK) != 0
                            ? dir + " is not writable: " + Errno(errno)
                            : "see syslog for libmilter's reason";
      return Status::Internal(key + ": cannot listen on " + path + ": " + why);
    }
    if (chmod(path.c_str(), static_cast<mode_t>(config.socket_mode)) != 0) {
      return Status::Config("milter.socket_mode: chmod " + path + ": " + Errno(errno));
    }
    return Status::Ok();
  }

  size_t at = rest.find('@');
  std::string port_text = rest.substr(0, at);
  char* end = nullptr;
  long port = std::strtol(port_text.c_str(), &end, 10);
  if (port_text.empty() || *end != '\0' || port < 1 || port > 65535) {
    return Status::Config(key + ": '" + spec + "' has no port in 1..65535");
  }
  if (smfi_opensocket(true) != MI_SUCCESS) {
    return Status::Internal(key + ": cannot listen on " + spec + ": " +
                          DiagnoseBind(static_cast<int>(port), proto == "inet6"));
  }
  int n = SetNoDelayOnListeners(static_cast<int>(port));
  if (n == 0) {
    LogWarning(key + ": listening socket for port " + std::to_string(port) +
               " not found: TCP_NODELAY not set; expect ~40 ms stalls per message");
  }
  return Status::Ok();
}

}  // namespace desk::milter
