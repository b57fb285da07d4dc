// See log.h.
#include "milter/log.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include <string>

namespace desk::milter {
namespace {

bool g_syslog = false;

// True when a syslog daemon (rsyslog, journald) takes datagrams on _PATH_LOG. syslog(3) drops
// lines silently when nobody does, which would leave an admin with no log at all.
bool SyslogReachable() {
  const char* path = std::getenv("DESKMILTER_TEST_SYSLOG_PATH");  // tests: a path with no daemon
  if (path == nullptr) path = _PATH_LOG;
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  if (std::strlen(path) >= sizeof sun.sun_path) return false;
  std::strcpy(sun.sun_path, path);
  for (int type : {SOCK_DGRAM, SOCK_STREAM}) {
    int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    int rc = connect(fd, reinterpret_cast<sockaddr*>(&sun), sizeof sun);
    close(fd);
    if (rc == 0) return true;
  }
  return false;
}

}  // namespace

void InitLog(bool to_syslog) {
  g_syslog = to_syslog && SyslogReachable();
  if (g_syslog) {
    openlog("deskmilter", LOG_PID | LOG_NDELAY, LOG_MAIL);
  } else if (to_syslog) {
    Log(LogLevel::kWarning, "no syslog daemon reachable at /dev/log: logging to stderr");
  }
}

void Log(LogLevel level, const std::string& line) {
  std::string text;
  text.reserve(line.size() + 16);
  int priority = LOG_INFO;
  if (level == LogLevel::kWarning) {
    text = "warning: ";
    priority = LOG_WARNING;
  } else if (level == LogLevel::kError) {
    text = "error: ";
    priority = LOG_ERR;
  }
  for (char c : line) text += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  if (g_syslog) {
    syslog(priority, "%s", text.c_str());
    return;
  }
  std::string out = "deskmilter[" + std::to_string(getpid()) + "]: " + text + "\n";
  const char* p = out.data();
  size_t left = out.size();
  while (left > 0) {
    ssize_t n = write(STDERR_FILENO, p, left);
    if (n <= 0) break;  // nothing sensible to do when stderr is gone
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace desk::milter
