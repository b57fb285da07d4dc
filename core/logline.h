// Postfix-style log lines: "QUEUEID: key=value, key=value".
//
// Values come from the mail (addresses, subjects, Message-IDs) and are untrusted: LogEscape makes
// them printable and unambiguous (control bytes and non-ASCII as \xHH, backslash doubled, and a value
// holding a space, comma, '=' or '"' is double-quoted with '"' escaped), so one decision stays one
// line that a script can split on ", ".
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace desk {

std::string LogEscape(std::string_view value);

// "QID: k1=v1, k2=v2". An empty queue id is written as "NOQUEUE".
std::string FormatLogLine(std::string_view queue_id,
                          const std::vector<std::pair<std::string, std::string>>& fields);

}  // namespace desk
