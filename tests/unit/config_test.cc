// Tests of the config module: the schema tables, the TOML loader, and the agreement of the example
// config, docs/CONFIG.md and OptionsHelp() with the tables.
//
// Regenerate docs/CONFIG.md after changing the tables:
//   DESK_REGENERATE_DOCS=1 build/desk_unit_tests --gtest_filter='ConfigDocs.*'
#include <gtest/gtest.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "config/loader.h"
#include "config/schema.h"
#include "core/config.h"
#include "core/status.h"

namespace desk::config {
namespace {

const std::string kSourceDir = DESK_SOURCE_DIR;
const std::string kExamplePath = kSourceDir + "/config/deskmilter.example.toml";
const std::string kDocsPath = kSourceDir + "/docs/CONFIG.md";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Squeeze(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == ' ' || c == '\n' || c == '\t') {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += c;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// "section.key": lower-case letters, one dot, then lower-case letters and underscores.
bool IsSectionDotKey(const std::string& name) {
  size_t dot = name.find('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == name.size()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (i > dot && c == '_') || i == dot;
    if (!ok) return false;
  }
  return true;
}

// Loads text, expecting success.
std::shared_ptr<const Config> MustLoad(const std::string& text) {
  std::shared_ptr<const Config> config;
  Status s = LoadString(text, "x.toml", &config);
  EXPECT_TRUE(s.ok()) << s.ToString() << "\n--- in ---\n" << text;
  return config;
}

// ---------------------------------------------------------------------------------------------
// The tables themselves.

TEST(ConfigSchema, NamesAreUniqueAndWellFormed) {
  std::set<std::string> seen;
  for (const Option& o : Options()) {
    std::string name(o.name);
    EXPECT_TRUE(IsSectionDotKey(name)) << name;
    EXPECT_TRUE(seen.insert(name).second) << "duplicate " << name;
    EXPECT_NE(SectionOf(o.name), kQueueSection) << name;
    EXPECT_FALSE(o.doc.empty()) << name;
    EXPECT_FALSE(o.required) << name << ": global options need a default";
    EXPECT_FALSE(o.default_value.empty()) << name;
  }
  std::set<std::string> queue_seen;
  for (const QueueOption& o : QueueOptions()) {
    EXPECT_TRUE(queue_seen.insert(std::string(o.name)).second) << "duplicate " << o.name;
    EXPECT_FALSE(o.doc.empty()) << o.name;
    EXPECT_TRUE(o.required || !o.default_value.empty() || !o.default_doc.empty()) << o.name;
  }
  // Sections come in blocks, so each section is listed once.
  auto sections = Sections();
  EXPECT_EQ(std::set<std::string_view>(sections.begin(), sections.end()).size(), sections.size());
}

TEST(ConfigSchema, DefaultsRoundTripThroughTheirFields) {
  // Each default is parsed, checked, stored in its Config member and formatted back; a default
  // outside its bounds or a Field that does not fit the Type breaks this.
  Config config = DefaultConfig();
  for (const Option& o : Options()) {
    EXPECT_EQ(FormatValue(o, config), o.default_value) << o.name;
  }
  auto loaded = MustLoad("[[queue]]\nname = \"q\"\naddresses = [\"q@example.com\"]\n");
  ASSERT_TRUE(loaded);
  ASSERT_EQ(loaded->queues.size(), 1u);
  for (const QueueOption& o : QueueOptions()) {
    if (o.default_value.empty()) continue;
    EXPECT_EQ(FormatValue(o, loaded->queues[0]), o.default_value) << o.name;
  }
}

TEST(ConfigSchema, DefaultConfigMatchesTheIssue) {
  // Written out by hand from the issue, independently of the table.
  Config got = DefaultConfig();
  struct Case {
    const char* name;
    std::string got_, want_;
  } cases[] = {
      {"socket", got.socket, "unix:run/deskmilter.sock"},
      {"socket_mode", std::to_string(got.socket_mode), std::to_string(0660)},
      {"timeout_seconds", std::to_string(got.timeout_seconds), "600"},
      {"hostname", got.hostname, "localhost"},
      {"store_dir", got.store_dir, "var/store"},
      {"store_map_mb", std::to_string(got.store_map_mb), "64"},
      {"spool_dir", got.spool_dir, ""},
      {"spool_threshold", std::to_string(got.spool_threshold), "1048576"},
      {"max_message_bytes", std::to_string(got.max_message_bytes), "104857600"},
      {"max_header_bytes", std::to_string(got.max_header_bytes), "262144"},
      {"max_mime_depth", std::to_string(got.max_mime_depth), "20"},
      {"max_mime_parts", std::to_string(got.max_mime_parts), "500"},
      {"max_body_chars", std::to_string(got.max_body_chars), "65000"},
      {"on_internal_error", OutcomeName(got.on_internal_error), "tempfail"},
      {"on_store_error", OutcomeName(got.on_store_error), "tempfail"},
      {"on_malformed", OutcomeName(got.on_malformed), "tempfail"},
      {"add_ticket_header", got.add_ticket_header ? "true" : "false", "true"},
      {"max_references", std::to_string(got.max_references), "20"},
      {"queues", std::to_string(got.queues.size()), "0"},
      {"source_file", got.source_file, ""},
  };
  for (const auto& c : cases) EXPECT_EQ(c.got_, c.want_) << c.name;
}

TEST(ConfigSchema, QueueDefaults) {
  auto config = MustLoad(
      "[[queue]]\nname = \"support\"\n"
      "addresses = [\"*@Help.Example.com\", \"Support@Example.COM\", \"other@example.com\"]\n");
  ASSERT_TRUE(config);
  const QueueConfig& q = config->queues.at(0);
  EXPECT_EQ(q.name, "support");
  EXPECT_EQ(q.color, "#1f77b4");
  EXPECT_EQ(q.addresses, (std::vector<std::string>{"*@help.example.com", "support@example.com",
                                                   "other@example.com"}));
  EXPECT_EQ(q.default_address, "support@example.com");  // the first exact one, lower-cased
  EXPECT_EQ(q.subject_tag, "[#{n}]");
  EXPECT_TRUE(q.tag_subject);
  EXPECT_EQ(q.closed_reply, ClosedReply::kReopen);
}

// ---------------------------------------------------------------------------------------------
// Valid configs.

TEST(ConfigLoad, FullConfigSetsEveryMember) {
  auto config = MustLoad(R"toml(
[milter]
socket = "inet6:10025@::1"
socket_mode = 0o640
timeout_seconds = 30
hostname = "desk.example.org"
[store]
dir = "/var/lib/deskmilter"
map_mb = 1024
spool_dir = "/var/spool/deskmilter"
spool_threshold = "64K"
[limits]
max_message_bytes = "20M"
max_header_bytes = 1024
max_mime_depth = 100
max_mime_parts = 1
max_body_chars = 100
[actions]
on_internal_error = "accept"
on_store_error = "hold"
on_malformed = "reject"
[tickets]
add_ticket_header = false
max_references = 1000
[[queue]]
name = "sales-eu"
color = "#ABCdef"
addresses = ["*@sales.example.eu"]
default_address = "Team@Sales.Example.eu"
subject_tag = "(Case {n})"
tag_subject = false
closed_reply = "new"
[[queue]]
name = "b"
addresses = ["b@example.com"]
)toml");
  ASSERT_TRUE(config);
  const Config& c = *config;
  EXPECT_EQ(c.source_file, "x.toml");
  EXPECT_EQ(c.socket, "inet6:10025@::1");
  EXPECT_EQ(c.socket_mode, 0640);
  EXPECT_EQ(c.timeout_seconds, 30);
  EXPECT_EQ(c.hostname, "desk.example.org");
  EXPECT_EQ(c.store_dir, "/var/lib/deskmilter");
  EXPECT_EQ(c.store_map_mb, 1024);
  EXPECT_EQ(c.spool_dir, "/var/spool/deskmilter");
  EXPECT_EQ(c.spool_threshold, 64 * 1024);
  EXPECT_EQ(c.max_message_bytes, 20 * 1024 * 1024);
  EXPECT_EQ(c.max_header_bytes, 1024);
  EXPECT_EQ(c.max_mime_depth, 100);
  EXPECT_EQ(c.max_mime_parts, 1);
  EXPECT_EQ(c.max_body_chars, 100);
  EXPECT_EQ(c.on_internal_error, Outcome::kAccept);
  EXPECT_EQ(c.on_store_error, Outcome::kHold);
  EXPECT_EQ(c.on_malformed, Outcome::kReject);
  EXPECT_FALSE(c.add_ticket_header);
  EXPECT_EQ(c.max_references, 1000);
  ASSERT_EQ(c.queues.size(), 2u);
  const QueueConfig& q = c.queues[0];
  EXPECT_EQ(q.name, "sales-eu");
  EXPECT_EQ(q.color, "#ABCdef");
  EXPECT_EQ(q.addresses, std::vector<std::string>{"*@sales.example.eu"});
  EXPECT_EQ(q.default_address, "team@sales.example.eu");
  EXPECT_EQ(q.subject_tag, "(Case {n})");
  EXPECT_FALSE(q.tag_subject);
  EXPECT_EQ(q.closed_reply, ClosedReply::kNew);
  EXPECT_EQ(c.queues[1].default_address, "b@example.com");
}

TEST(ConfigLoad, AcceptedValueShapes) {
  struct Case {
    std::string toml;
    std::string option;
    std::string want_;  // FormatValue of the loaded option
  } cases[] = {
      {"[milter]\nsocket = \"unix:/run/d.sock\"", "milter.socket", "\"unix:/run/d.sock\""},
      {"[milter]\nsocket = \"unix:rel/d.sock\"", "milter.socket", "\"unix:rel/d.sock\""},
      {"[milter]\nsocket = \"local:/run/d.sock\"", "milter.socket", "\"local:/run/d.sock\""},
      {"[milter]\nsocket = \"inet:1@localhost\"", "milter.socket", "\"inet:1@localhost\""},
      {"[milter]\nsocket = \"inet:65535@0.0.0.0\"", "milter.socket", "\"inet:65535@0.0.0.0\""},
      {"[milter]\nsocket_mode = \"0600\"", "milter.socket_mode", "\"0600\""},
      {"[milter]\nsocket_mode = \"660\"", "milter.socket_mode", "\"0660\""},
      {"[milter]\nsocket_mode = \"0o644\"", "milter.socket_mode", "\"0644\""},
      {"[milter]\nsocket_mode = 432", "milter.socket_mode", "\"0660\""},
      {"[milter]\nsocket_mode = 0", "milter.socket_mode", "\"0000\""},
      {"[milter]\ntimeout_seconds = 1", "milter.timeout_seconds", "1"},
      {"[milter]\ntimeout_seconds = 86400", "milter.timeout_seconds", "86400"},
      {"[store]\nspool_threshold = 4096", "store.spool_threshold", "4096"},
      {"[store]\nspool_threshold = \"4k\"", "store.spool_threshold", "4096"},
      {"[store]\nspool_threshold = \"1G\"", "store.spool_threshold", "1073741824"},
      {"[limits]\nmax_message_bytes = \"2m\"", "limits.max_message_bytes", "2097152"},
      {"milter.hostname = \"mx1\"", "milter.hostname", "\"mx1\""},  // dotted key, no header
      {"[actions]\non_store_error = \"discard\"", "actions.on_store_error", "\"discard\""},
  };
  for (const auto& c : cases) {
    auto config = MustLoad(c.toml);
    if (!config) continue;
    const Option* option = FindOption(c.option);
    ASSERT_NE(option, nullptr) << c.option;
    EXPECT_EQ(FormatValue(*option, *config), c.want_) << c.toml;
  }
}

TEST(ConfigLoad, ZeroQueuesIsValid) {
  auto config = MustLoad("queue = []\n");
  ASSERT_TRUE(config);
  EXPECT_TRUE(config->queues.empty());
}

TEST(ConfigLoad, FileErrorsNameTheFile) {
  std::shared_ptr<const Config> config;
  Status s = LoadFile("/nonexistent/desk.toml", &config);
  EXPECT_EQ(s.error_class(), ErrorClass::kConfig);
  EXPECT_EQ(s.message(), "/nonexistent/desk.toml: cannot open: No such file or directory");
  EXPECT_FALSE(config);

  std::string path = ::testing::TempDir() + "/deskmilter_config_test.toml";
  std::ofstream(path) << "[limits]\nmax_mime_depth = 0\n";
  s = LoadFile(path, &config);
  EXPECT_EQ(s.message(), path + ": limits.max_mime_depth: 0 is below the minimum 1");
  std::ofstream(path) << "[limits]\nmax_mime_depth = 7\n";
  s = LoadFile(path, &config);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(config->max_mime_depth, 7);
  EXPECT_EQ(config->source_file, path);
  std::remove(path.c_str());
}

// ---------------------------------------------------------------------------------------------
// Errors: one row per error class, with the exact message.

const std::string kQ = "[[queue]]\nname = \"a\"\naddresses = [\"a@example.com\"]\n";

TEST(ConfigLoad, Errors) {
  struct Case {
    std::string toml;
    std::string want_;
  } cases[] = {
      // Unknown keys and sections.
      {"colour = \"red\"", "x.toml: colour: unknown key"},
      {"[foo]\nbar = 1", "x.toml: foo: unknown section"},
      {"[milter]\nsockt = \"unix:x\"", "x.toml: milter.sockt: unknown key"},
      {"[milter.extra]\na = 1", "x.toml: milter.extra: unknown key"},
      {kQ + "colour = \"#000000\"", "x.toml: queue[0].colour: unknown key"},
      {"milter = 5", "x.toml: milter: expected a table ([milter]), got an integer"},
      {"[queue]\nname = \"a\"", "x.toml: queue: expected an array of tables ([[queue]]), got a table"},
      {"queue = [1]", "x.toml: queue[0]: expected a table, got an integer"},
      // Wrong types.
      {"[milter]\nsocket = 5", "x.toml: milter.socket: expected a string, got an integer"},
      {"[milter]\ntimeout_seconds = \"600\"",
       "x.toml: milter.timeout_seconds: expected an integer, got a string"},
      {"[limits]\nmax_mime_depth = 2.5",
       "x.toml: limits.max_mime_depth: expected an integer, got a floating-point number"},
      {"[tickets]\nadd_ticket_header = \"yes\"",
       "x.toml: tickets.add_ticket_header: expected a boolean (true or false), got a string"},
      {"[actions]\non_malformed = 1", "x.toml: actions.on_malformed: expected a string, got an integer"},
      {"[milter]\nsocket_mode = true",
       "x.toml: milter.socket_mode: expected an octal string such as \"0660\" or an integer, got a "
       "boolean"},
      {"[store]\nspool_threshold = 1.5",
       "x.toml: store.spool_threshold: expected an integer or a size string such as \"100M\", got a "
       "floating-point number"},
      {"[[queue]]\nname = 1", "x.toml: queue[0].name: expected a string, got an integer"},
      {"[[queue]]\nname = \"a\"\naddresses = \"a@example.com\"",
       "x.toml: queue[0].addresses: expected an array of strings, got a string"},
      {"[[queue]]\nname = \"a\"\naddresses = [1]",
       "x.toml: queue[0].addresses[0]: expected a string, got an integer"},
      {kQ + "tag_subject = 1", "x.toml: queue[0].tag_subject: expected a boolean (true or false), got an integer"},
      // Out of range.
      {"[limits]\nmax_mime_depth = 0", "x.toml: limits.max_mime_depth: 0 is below the minimum 1"},
      {"[limits]\nmax_mime_depth = 101",
       "x.toml: limits.max_mime_depth: 101 is above the maximum 100"},
      {"[milter]\ntimeout_seconds = -5",
       "x.toml: milter.timeout_seconds: -5 is below the minimum 1"},
      {"[milter]\ntimeout_seconds = 86401",
       "x.toml: milter.timeout_seconds: 86401 is above the maximum 86400"},
      {"[store]\nmap_mb = 0", "x.toml: store.map_mb: 0 is below the minimum 1"},
      {"[store]\nspool_threshold = \"1K\"",
       "x.toml: store.spool_threshold: 1024 is below the minimum 4096"},
      {"[limits]\nmax_header_bytes = 1023",
       "x.toml: limits.max_header_bytes: 1023 is below the minimum 1024"},
      {"[limits]\nmax_mime_parts = 100001",
       "x.toml: limits.max_mime_parts: 100001 is above the maximum 100000"},
      {"[limits]\nmax_body_chars = 99", "x.toml: limits.max_body_chars: 99 is below the minimum 100"},
      {"[tickets]\nmax_references = 0", "x.toml: tickets.max_references: 0 is below the minimum 1"},
      {"[milter]\nsocket_mode = \"01777\"",
       "x.toml: milter.socket_mode: 01777 is above the maximum 0777"},
      {"[milter]\nsocket_mode = 512", "x.toml: milter.socket_mode: 01000 is above the maximum 0777"},
      // Bad values of a type.
      {"[store]\nspool_threshold = \"12X\"",
       "x.toml: store.spool_threshold: '12X' is not a size (bytes, or a number with K, M or G)"},
      {"[milter]\nsocket_mode = \"0980\"",
       "x.toml: milter.socket_mode: '0980' is not an octal mode such as \"0660\""},
      {"[actions]\non_malformed = \"bounce\"",
       "x.toml: actions.on_malformed: 'bounce' is not one of accept, tempfail, reject, hold, "
       "discard"},
      {"[scanner]\non_database_failure = \"tempfail\"",
       "x.toml: scanner.on_database_failure: 'tempfail' is not one of keep, fail"},
      {"[scanner]\non_database_failure = 1",
       "x.toml: scanner.on_database_failure: expected a string, got an integer"},
      {kQ + "closed_reply = \"maybe\"",
       "x.toml: queue[0].closed_reply: 'maybe' is not one of reopen, new"},
      {"[milter]\nsocket = \"tcp:25@host\"",
       "x.toml: milter.socket: 'tcp:25@host' is not a socket (unix:PATH, local:PATH, "
       "inet:PORT@HOST or inet6:PORT@HOST)"},
      {"[milter]\nsocket = \"/run/d.sock\"",
       "x.toml: milter.socket: '/run/d.sock' is not a socket (unix:PATH, local:PATH, "
       "inet:PORT@HOST or inet6:PORT@HOST)"},
      {"[milter]\nsocket = \"inet:25\"",
       "x.toml: milter.socket: 'inet:25' is not a socket (unix:PATH, local:PATH, inet:PORT@HOST "
       "or inet6:PORT@HOST)"},
      {"[milter]\nsocket = \"inet:0@127.0.0.1\"",
       "x.toml: milter.socket: 'inet:0@127.0.0.1' has no port in 1..65535"},
      {"[milter]\nsocket = \"inet6:65536@::1\"",
       "x.toml: milter.socket: 'inet6:65536@::1' has no port in 1..65535"},
      {"[milter]\nsocket = \"inet:x@h\"", "x.toml: milter.socket: 'inet:x@h' has no port in 1..65535"},
      {"[milter]\nsocket = \"inet:25@\"", "x.toml: milter.socket: 'inet:25@' has no host"},
      {"[milter]\nsocket = \"unix:\"", "x.toml: milter.socket: 'unix:' has no path"},
      {"[milter]\nhostname = \"bad host\"", "x.toml: milter.hostname: 'bad host' is not a host name"},
      {"[milter]\nhostname = \"\"", "x.toml: milter.hostname: '' is not a host name"},
      {"[store]\ndir = \"\"", "x.toml: store.dir: must not be empty"},
      // Queues.
      {"[[queue]]\naddresses = [\"a@example.com\"]", "x.toml: queue[0].name: required"},
      {"[[queue]]\nname = \"a\"", "x.toml: queue[0].addresses: required"},
      {"[[queue]]\nname = \"a\"\naddresses = []", "x.toml: queue[0].addresses: needs at least 1 entry"},
      {"[[queue]]\nname = \"a b\"\naddresses = [\"a@example.com\"]",
       "x.toml: queue[0].name: 'a b' is not a queue name (1 to 64 letters, digits, '-', '_', '.')"},
      {"[[queue]]\nname = \"\"\naddresses = [\"a@example.com\"]",
       "x.toml: queue[0].name: '' is not a queue name (1 to 64 letters, digits, '-', '_', '.')"},
      {kQ + kQ, "x.toml: queue[1].name: 'a' is already the name of queue[0]"},
      {kQ + "[[queue]]\nname = \"b\"\naddresses = [\"c@example.com\"]\n" +
           "[[queue]]\nname = \"c\"\naddresses = [\"foo\"]",
       "x.toml: queue[2].addresses[0]: 'foo' is not an address or *@domain pattern"},
      {kQ + "[[queue]]\nname = \"b\"\naddresses = [\"b@example.com\", \"A@Example.com\"]",
       "x.toml: queue[1].addresses[1]: 'a@example.com' is already claimed by queue 'a'"},
      {"[[queue]]\nname = \"a\"\naddresses = [\"*@x.org\", \"*@X.org\"]",
       "x.toml: queue[0].addresses[1]: '*@x.org' is listed twice in this queue"},
      {"[[queue]]\nname = \"a\"\naddresses = [\"*@help.example.com\"]",
       "x.toml: queue[0].default_address: required when the queue has only *@domain addresses "
       "(replies need a real sender address)"},
      {kQ + "default_address = \"x@other.com\"",
       "x.toml: queue[0].default_address: 'x@other.com' is not one of the queue's addresses"},
      {"[[queue]]\nname = \"a\"\naddresses = [\"*@a.org\"]\ndefault_address = \"x@b.a.org\"",
       "x.toml: queue[0].default_address: 'x@b.a.org' is not one of the queue's addresses"},
      {kQ + "default_address = \"*@example.com\"",
       "x.toml: queue[0].default_address: '*@example.com' is not an address (user@domain)"},
      {kQ + "color = \"#12345\"", "x.toml: queue[0].color: '#12345' is not a #RRGGBB color"},
      {kQ + "color = \"red\"", "x.toml: queue[0].color: 'red' is not a #RRGGBB color"},
      {kQ + "color = \"#12345g\"", "x.toml: queue[0].color: '#12345g' is not a #RRGGBB color"},
      {kQ + "subject_tag = \"[#]\"", "x.toml: queue[0].subject_tag: '[#]' must contain {n} exactly once"},
      {kQ + "subject_tag = \"{n}{n}\"",
       "x.toml: queue[0].subject_tag: '{n}{n}' must contain {n} exactly once"},
  };
  for (const auto& c : cases) {
    std::shared_ptr<const Config> config;
    Status s = LoadString(c.toml, "x.toml", &config);
    EXPECT_EQ(s.error_class(), ErrorClass::kConfig) << c.toml;
    EXPECT_EQ(s.message(), c.want_) << "--- in ---\n" << c.toml;
    EXPECT_FALSE(config) << c.toml;
  }
}

TEST(ConfigLoad, ScannerOnDatabaseFailure) {
  struct Case {
    std::string toml;
    ScannerDatabaseFailure want_;
  };
  const std::vector<Case> cases = {
      {"", ScannerDatabaseFailure::kKeep},
      {"[scanner]\non_database_failure = \"keep\"", ScannerDatabaseFailure::kKeep},
      {"[scanner]\non_database_failure = \"fail\"", ScannerDatabaseFailure::kFail},
  };
  for (const Case& c : cases) {
    std::shared_ptr<const Config> config = MustLoad(c.toml);
    ASSERT_TRUE(config) << c.toml;
    EXPECT_EQ(config->scanner_on_database_failure, c.want_) << c.toml;
  }
  EXPECT_EQ(DefaultConfig().scanner_on_database_failure, ScannerDatabaseFailure::kKeep);
}

TEST(ConfigLoad, BadAddressShapes) {
  for (std::string bad : {"a@", "@b.com", "a b@c.com", "*@", "*x@c.com", "x*@c.com", "a@b..com",
                          "a@-b.com", "a@b.com.", ".a@b.com", "a..b@c.com", "<a@b.com>", "a@b@c.com",
                          "*@*.b.com", "a@b_c.com", ""}) {
    std::shared_ptr<const Config> config;
    Status s = LoadString("[[queue]]\nname = \"a\"\naddresses = [\"" + bad + "\"]", "x.toml", &config);
    EXPECT_EQ(s.message(),
              "x.toml: queue[0].addresses[0]: '" + bad + "' is not an address or *@domain pattern");
  }
  for (std::string good : {"a@b", "first.last+tag@sub.example.com", "o'brien@x.ie", "*@a-b.example",
                           "x@123.example"}) {
    EXPECT_TRUE(MustLoad("[[queue]]\nname = \"a\"\naddresses = [\"" + good + "\"]\n" +
                         (good[0] == '*' ? "default_address = \"q" + good.substr(1) + "\"\n" : "")))
        << good;
  }
}

TEST(ConfigLoad, SyntaxErrorNamesItsLine) {
  std::shared_ptr<const Config> config;
  Status s = LoadString("[milter]\n\nsocket = \n", "deskmilter.toml", &config);
  EXPECT_EQ(s.error_class(), ErrorClass::kConfig);
  EXPECT_EQ(s.message().rfind("deskmilter.toml: line 3, column ", 0), 0u) << s.message();
  s = LoadString("[milter\n", "deskmilter.toml", &config);
  EXPECT_EQ(s.message().rfind("deskmilter.toml: line 1, column ", 0), 0u) << s.message();
  s = LoadString("[milter]\nsocket = \"unix:a\"\nsocket = \"unix:b\"\n", "deskmilter.toml", &config);
  EXPECT_EQ(s.message().rfind("deskmilter.toml: line 3, column ", 0), 0u) << s.message();
  EXPECT_NE(s.message().find("socket"), std::string::npos) << s.message();
  EXPECT_FALSE(config);
}

// ---------------------------------------------------------------------------------------------
// The example config, docs/CONFIG.md and --help agree with the tables.

struct ExampleKey {
  std::string section;  // "milter", ..., or "queue"
  std::string key;
  std::string value;    // as written after "="
  bool commented = false;
  std::string doc;      // the comment block right above, squeezed to one line
  int line = 0;
};

// "[name]" or "[[name]]" -> name; "" for any other line.
std::string SectionHeader(const std::string& line) {
  size_t open = line.find_first_not_of('[');
  size_t close = line.find(']');
  if (!line.starts_with("[") || open == std::string::npos || close == std::string::npos) return "";
  return line.substr(open, close - open);
}

// "key = value" or "# key = value": true with *key and *value set.
bool KeyLine(const std::string& line, bool* commented, std::string* key, std::string* value) {
  std::string rest = line;
  *commented = rest.starts_with("# ");
  if (*commented) rest = rest.substr(2);
  size_t eq = rest.find(" = ");
  if (eq == std::string::npos || eq == 0) return false;
  *key = rest.substr(0, eq);
  for (char c : *key) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') {
      return false;
    }
  }
  *value = rest.substr(eq + 3);
  return true;
}

// Every "key = value" line of the example, also commented-out ones ("# key = value").
std::vector<ExampleKey> ScanExample(const std::string& text) {
  std::vector<ExampleKey> out;
  std::istringstream in(text);
  std::string line, section, block, key, value;
  bool commented = false;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (std::string name = SectionHeader(line); !name.empty()) {
      section = name;
      block.clear();
    } else if (KeyLine(line, &commented, &key, &value)) {
      out.push_back({section, key, value, commented, Squeeze(block), number});
      block.clear();
    } else if (line.starts_with("#")) {
      block += line.substr(1) + "\n";
    } else {
      block.clear();
    }
  }
  return out;
}

TEST(ConfigExample, LoadsWithTheIssuesValues) {
  std::shared_ptr<const Config> config;
  Status s = LoadFile(kExamplePath, &config);
  ASSERT_TRUE(s.ok()) << s.ToString();
  // The packaged layout the systemd unit may write (absolute: deskctl run from any directory finds
  // the same store), and the socket spelling of docs/OPERATIONS.md for Debian's chrooted smtpd.
  EXPECT_EQ(config->socket, "unix:/var/spool/postfix/deskmilter/deskmilter.sock");
  EXPECT_EQ(config->store_dir, "/var/lib/deskmilter/store");
  EXPECT_EQ(config->spool_dir, "/var/lib/deskmilter/spool");
  ASSERT_EQ(config->queues.size(), 2u);
  const QueueConfig& support = config->queues[0];
  EXPECT_EQ(support.name, "support");
  EXPECT_EQ(support.color, "#2e86de");
  EXPECT_EQ(support.addresses,
            (std::vector<std::string>{"support@example.com", "*@help.example.com"}));
  EXPECT_EQ(support.default_address, "support@example.com");
  EXPECT_EQ(support.closed_reply, ClosedReply::kReopen);
  // Regression: the example's login was "alice", which Postfix never reports ({auth_authen} is
  // user@REALM, docs/AGENTS.md), so the agent's replies passed untouched.
  ASSERT_EQ(support.agents.size(), 1u);
  EXPECT_EQ(support.agents[0].login, "alice@example.com");
  const QueueConfig& billing = config->queues[1];
  EXPECT_EQ(billing.name, "billing");
  EXPECT_EQ(billing.addresses, std::vector<std::string>{"billing@example.com"});
  EXPECT_EQ(billing.closed_reply, ClosedReply::kNew);
}

TEST(ConfigExample, HasNoUndocumentedOption) {
  // Also commented-out lines: a typo there would mislead whoever uncomments it.
  auto keys = ScanExample(ReadFile(kExamplePath));
  ASSERT_FALSE(keys.empty());
  for (const auto& k : keys) {
    bool known = k.section == kQueueSection   ? FindQueueOption(k.key) != nullptr
                 : k.section == kAgentSection ? FindAgentOption(k.key) != nullptr
                                              : FindOption(k.section + "." + k.key) != nullptr;
    EXPECT_TRUE(known) << "line " << k.line << ": [" << k.section << "] " << k.key
                       << " is not in the schema table (config/schema.cc)";
  }
}

TEST(ConfigExample, DocumentsEveryOptionWithItsDefault) {
  auto keys = ScanExample(ReadFile(kExamplePath));
  auto check = [&](const std::string& section, const auto& option, std::string_view key) {
    const ExampleKey* first = nullptr;
    for (const auto& k : keys) {
      if (k.section == section && k.key == key) {
        first = &k;
        break;
      }
    }
    ASSERT_NE(first, nullptr) << section << "." << key << " is missing from the example config";
    EXPECT_NE(first->doc.find(Squeeze(std::string(option.doc))), std::string::npos)
        << section << "." << key << ": line " << first->line
        << " is not preceded by its doc line from the table: " << option.doc;
    std::string want_default = option.required ? "Required." : "Default: " + DefaultText(option);
    EXPECT_NE(first->doc.find(want_default), std::string::npos)
        << section << "." << key << ": line " << first->line << " lacks \"" << want_default << "\"";
    // A commented-out line claims to show the default.
    if (first->commented && !option.default_value.empty()) {
      EXPECT_EQ(first->value, option.default_value) << section << "." << key;
    }
  };
  for (const Option& o : Options()) check(std::string(SectionOf(o.name)), o, KeyOf(o.name));
  for (const QueueOption& o : QueueOptions()) check(std::string(kQueueSection), o, o.name);
  for (const AgentOption& o : AgentOptions()) check(std::string(kAgentSection), o, o.name);
}

TEST(ConfigDocs, MatchTheSchema) {
  std::string want = ReferenceMarkdown();
  if (std::getenv("DESK_REGENERATE_DOCS") != nullptr) {
    std::ofstream(kDocsPath, std::ios::binary) << want;
  }
  std::string got = ReadFile(kDocsPath);
  if (got != want) {
    std::istringstream got_lines(got), want_lines(want);
    std::string got_line, want_line;
    int number = 0;
    while (true) {
      ++number;
      bool more_got = static_cast<bool>(std::getline(got_lines, got_line));
      bool more_want = static_cast<bool>(std::getline(want_lines, want_line));
      if (!more_got && !more_want) break;
      if (more_got != more_want || got_line != want_line) break;
    }
    ADD_FAILURE() << kDocsPath << " differs from the schema tables at line " << number
                  << ":\n  file:   " << got_line << "\n  tables: " << want_line
                  << "\nRegenerate it with\n  DESK_REGENERATE_DOCS=1 build/desk_unit_tests "
                     "--gtest_filter='ConfigDocs.*'";
  }
  // And independently of the generator: each option has a row with its doc.
  for (const Option& o : Options()) {
    EXPECT_NE(got.find("## [" + std::string(SectionOf(o.name)) + "]"), std::string::npos);
    EXPECT_NE(got.find("| `" + std::string(KeyOf(o.name)) + "` |"), std::string::npos) << o.name;
    EXPECT_NE(got.find(std::string(o.doc)), std::string::npos) << o.name;
  }
  for (const QueueOption& o : QueueOptions()) {
    EXPECT_NE(got.find("| `" + std::string(o.name) + "` |"), std::string::npos) << o.name;
  }
}

TEST(ConfigHelp, OneLinePerOption) {
  std::string help = OptionsHelp();
  std::map<std::string, std::string> lines;  // option name -> its line
  std::istringstream in(help);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string first;
    words >> first;
    if (line.starts_with("  ")) {
      EXPECT_TRUE(lines.emplace(first, line).second) << first;
    }
  }
  EXPECT_EQ(lines.size(), Options().size() + QueueOptions().size() + AgentOptions().size());
  for (const Option& o : Options()) {
    ASSERT_TRUE(lines.count(std::string(o.name))) << o.name;
    const std::string& l = lines[std::string(o.name)];
    EXPECT_NE(l.find(std::string(o.doc)), std::string::npos) << l;
    EXPECT_NE(l.find("default " + std::string(o.default_value)), std::string::npos) << l;
  }
  for (const QueueOption& o : QueueOptions()) {
    EXPECT_TRUE(lines.count("queue." + std::string(o.name))) << o.name;
  }
  EXPECT_NE(help.find("limits.max_mime_depth"), std::string::npos);
  EXPECT_NE(help.find("1..100:"), std::string::npos);
}

}  // namespace
}  // namespace desk::config
