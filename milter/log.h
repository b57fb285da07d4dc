// Daemon logging for deskmilter: one line per event, to syslog (facility mail) or to stderr.
//
// Postfix conventions: plain lines for events ("QID: key=value, ..."), "warning: " and "error: "
// prefixes for trouble. Control bytes in a message are replaced by '?', so whatever a caller passes
// stays one line (decision lines are escaped before, by desk::FormatLogLine).
//
// Only milter/ logs; core/ returns values. Thread-safety: Log may be called from any thread after
// InitLog; each line is written with a single write(2) or syslog(3) call, so lines never interleave.
#pragma once

#include <string>

namespace desk::milter {

enum class LogLevel { kInfo, kWarning, kError };

// to_syslog: openlog("deskmilter", LOG_PID, LOG_MAIL) and log there, unless no syslog daemon
// listens on /dev/log (then one warning and stderr, never nowhere); else to stderr as
// "deskmilter[PID]: LINE". Call once, before threads start.
void InitLog(bool to_syslog);

void Log(LogLevel level, const std::string& line);
inline void LogInfo(const std::string& line) { Log(LogLevel::kInfo, line); }
inline void LogWarning(const std::string& line) { Log(LogLevel::kWarning, line); }
inline void LogError(const std::string& line) { Log(LogLevel::kError, line); }

}  // namespace desk::milter
