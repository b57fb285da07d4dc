// The schema: every deskmilter option, declared once.
//
// Two tables in schema.cc hold each option's name, type, default, bounds, one-line doc and the
// desk::Config member it fills: Options() for the global sections ([milter], [store], [limits],
// [actions], [tickets], [agents]), QueueOptions() for the keys of each [[queue]] and AgentOptions()
// for the keys of each [[queue.agent]] inside a queue. The loader, OptionsHelp()
// (`deskmilter --help`), docs/CONFIG.md (ReferenceMarkdown()) and config/deskmilter.example.toml all
// follow these tables; tests/unit/config_test.cc fails when one of them drifts.
//
// Defaults are TOML literals exactly as one would write them in the file ("600", "\"0660\""): the
// loader parses a missing option's default through the same code as a value from the file, so a
// default is held to its own type and bounds.
//
// Thread-safety: the tables are immutable; every function here is pure.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/config.h"

namespace desk::config {

enum class Type {
  kString,
  kInt,
  kBool,
  kAction,       // accept|tempfail|reject|hold|discard (a desk::Outcome)
  kEnum,         // one of Option::choices; fills an enum by its index in choices
  kOctalMode,    // file permissions: "0660" (octal string) or an integer (0o660)
  kSize,         // bytes: an integer, or a string with a K, M or G suffix (powers of 1024)
  kStringArray,  // an array of strings (min = the least number of elements)
};
const char* TypeName(Type t);  // "string", "integer", ..., for docs and messages

// The member of C an option fills. Its alternative must fit the option's Type (the loader reports
// a mismatch as a config error, so a wrong table entry fails every test that loads a config).
template <typename C>
using Field = std::variant<std::string C::*, int64_t C::*, bool C::*, Outcome C::*, ClosedReply C::*,
                           TicketEffect C::*, ArchiveMode C::*, ScannerDatabaseFailure C::*,
                           EncryptedMode C::*, std::vector<std::string> C::*, ReplyName C::*>;

template <typename C>
struct OptionSpec {
  // Global options: "section.key". Queue options: the key inside [[queue]].
  std::string_view name;
  Type type = Type::kString;
  // The default as a TOML literal; "" when the option is required or its default is computed by
  // the loader (then default_doc says how).
  std::string_view default_value;
  bool required = false;
  std::string_view default_doc;  // shown instead of default_value when that is ""
  // Bounds for kInt, kSize, kOctalMode (inclusive); for kStringArray, min is the least count.
  int64_t min = 0;
  int64_t max = 0;
  std::string_view choices;  // kEnum: "reopen|new", in the order of the target enum
  std::string_view doc;      // one line
  Field<C> field;
  // Further check of a kString value or of each kStringArray element: "" if fine, else the reason
  // ("'foo' is not a host name").
  std::string (*check)(std::string_view value) = nullptr;
  // A reload (SIGHUP) cannot apply it: the listening socket and the store stay as opened.
  bool restart_only = false;
};

using Option = OptionSpec<Config>;
using QueueOption = OptionSpec<QueueConfig>;
using AgentOption = OptionSpec<AgentConfig>;

// The name of the array of tables holding the queues.
inline constexpr std::string_view kQueueSection = "queue";
// The key, inside one [[queue]], of its array of agent tables ([[queue.agent]]).
inline constexpr std::string_view kAgentKey = "agent";
inline constexpr std::string_view kAgentSection = "queue.agent";

std::span<const Option> Options();
std::span<const QueueOption> QueueOptions();
std::span<const AgentOption> AgentOptions();

// The sections of Options(), in table order: "milter", "store", ...
std::vector<std::string_view> Sections();
// "limits" for "limits.max_mime_depth"; "max_mime_depth" for the key.
std::string_view SectionOf(std::string_view name);
std::string_view KeyOf(std::string_view name);

// nullptr when there is no such option.
const Option* FindOption(std::string_view name);
const QueueOption* FindQueueOption(std::string_view key);
const AgentOption* FindAgentOption(std::string_view key);

// The value an option has in a Config, as a TOML literal (the form of default_value).
std::string FormatValue(const Option& option, const Config& config);
std::string FormatValue(const QueueOption& option, const QueueConfig& queue);
std::string FormatValue(const AgentOption& option, const AgentConfig& agent);

// What the docs show as the default: the literal, "required", or default_doc.
std::string DefaultText(const Option& option);
std::string DefaultText(const QueueOption& option);
std::string DefaultText(const AgentOption& option);
// "1..86400", "0..0777", "one of reopen, new"; "" when the option has no bounds to show.
std::string RangeText(const Option& option);
std::string RangeText(const QueueOption& option);
std::string RangeText(const AgentOption& option);

// The options reference in Markdown: the content of docs/CONFIG.md.
std::string ReferenceMarkdown();

// A TOML basic string literal for s: quotes, with \\, \" and control characters escaped.
std::string QuoteToml(std::string_view s);

}  // namespace desk::config
