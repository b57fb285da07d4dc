// Loading deskmilter's TOML configuration into a desk::Config.
//
// Every option comes from the one schema table (config/schema.h): the loader applies its defaults,
// types and bounds, and rejects unknown keys. Every error names the file, the key and the reason:
//   "/etc/deskmilter.toml: limits.max_mime_depth: 0 is below the minimum 1"
// Validation beyond single options (a queue without addresses, two queues claiming one address, a
// malformed socket spec) is done here too, so `deskmilter -n -c FILE` catches everything start-up does.
//
// Thread-safety: pure functions.
#pragma once

#include <memory>
#include <string>

#include "core/config.h"
#include "core/mime_parser.h"
#include "core/status.h"

namespace desk::config {

// Loads and validates path. Errors are kConfig with "FILE: KEY: reason".
Status LoadFile(const std::string& path, std::shared_ptr<const Config>* out);
// Same, from text; name stands in for the file name in messages.
Status LoadString(const std::string& toml, const std::string& name,
                  std::shared_ptr<const Config>* out);

// A Config with every default from the schema and no queues (for tests and tools).
Config DefaultConfig();
// A queue with every default from the schema; name and addresses empty (for tests and tools).
QueueConfig DefaultQueueConfig();
// The parser limits of DefaultConfig() (tests, the fuzzer: the same limits as production).
ParseLimits DefaultParseLimits();

// The options reference printed by `deskmilter --help`: one line per option from the schema table.
std::string OptionsHelp();

}  // namespace desk::config
