// deskmilter.toml(5): the configuration file's manual page, generated from the schema tables.
//
// ManPage() renders every option of Options(), QueueOptions() and AgentOptions() (name, type,
// default, range, one-line doc) in man(7) roff, framed by fixed text on the file's syntax, its
// paths and reloading. The page is checked in as man/deskmilter.toml.5 and installed by
// `cmake --install`; tests/unit/manpage_test.cc fails when the file and the tables differ (the same
// drift check as docs/CONFIG.md). The page carries no version or date, so it changes only when the
// tables or this generator do.
//
// Thread-safety: pure functions over immutable tables.
#pragma once

#include <string>
#include <string_view>

namespace desk::config {

// The whole page, ready to be written to man/deskmilter.toml.5.
std::string ManPage();

// s as roff text: backslashes and hyphens escaped, a leading '.' or '\'' made literal.
std::string RoffEscape(std::string_view s);

}  // namespace desk::config
