// See log.h.
#include "milter/log.h"

#include <syslog.h>
#include <unistd.h>

#include <string>

namespace desk::milter {
namespace {

bool g_syslog = false;

}  // namespace

void InitLog(bool to_syslog) {
  g_syslog = to_syslog;
  if (g_syslog) openlog("deskmilter", LOG_PID | LOG_NDELAY, LOG_MAIL);
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
