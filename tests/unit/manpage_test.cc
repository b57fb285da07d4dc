// Tests of config/manpage.cc: man/deskmilter.toml.5 is what the generator makes from the schema
// tables (the drift check docs/CONFIG.md has in config_test.cc), and roff escaping.
//
// Regenerate man/deskmilter.toml.5 after changing the tables:
//   DESK_REGENERATE_DOCS=1 build/desk_unit_tests --gtest_filter='ManPage.*'
#include "config/manpage.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "config/schema.h"

namespace desk::config {
namespace {

const std::string kManPath = std::string(DESK_SOURCE_DIR) + "/man/deskmilter.toml.5";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(ManPage, MatchesTheSchema) {
  std::string want = ManPage();
  if (std::getenv("DESK_REGENERATE_DOCS") != nullptr) {
    std::ofstream(kManPath, std::ios::binary) << want;
  }
  std::string got = ReadFile(kManPath);
  ASSERT_FALSE(got.empty()) << kManPath << " is missing or empty";
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
    ADD_FAILURE() << kManPath << " differs from the schema tables at line " << number
                  << ":\n  file:   " << got_line << "\n  tables: " << want_line
                  << "\nRegenerate it with\n  DESK_REGENERATE_DOCS=1 build/desk_unit_tests "
                     "--gtest_filter='ManPage.*'";
  }
  // Independently of the generator: every option has its own tagged paragraph and its doc.
  for (const Option& o : Options()) {
    EXPECT_NE(got.find(".SS [" + RoffEscape(SectionOf(o.name)) + "]\n"), std::string::npos)
        << o.name;
    EXPECT_NE(got.find(".B " + RoffEscape(KeyOf(o.name)) + "\n"), std::string::npos) << o.name;
    EXPECT_NE(got.find(RoffEscape(o.doc)), std::string::npos) << o.name;
  }
  for (const QueueOption& o : QueueOptions()) {
    EXPECT_NE(got.find(".B " + RoffEscape(o.name) + "\n"), std::string::npos) << o.name;
  }
  for (const AgentOption& o : AgentOptions()) {
    EXPECT_NE(got.find(".B " + RoffEscape(o.name) + "\n"), std::string::npos) << o.name;
  }
}

TEST(ManPage, RoffEscape) {
  struct Case {
    const char* in;
    const char* want;
  } cases[] = {
      {"plain", "plain"},
      {"a-b", "a\\-b"},
      {"back\\slash", "back\\eslash"},
      {".starts with a dot", "\\&.starts with a dot"},
      {"'quote", "\\&'quote"},
      {"mid . dot", "mid . dot"},
      {"two\n.lines", "two\n\\&.lines"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(RoffEscape(c.in), c.want) << c.in;
  }
}

// Every line of the page is either a request (".XX") or text that does not begin with a control
// character, so no option doc can turn into a roff request.
TEST(ManPage, NoStrayRequests) {
  std::istringstream in(ManPage());
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty() || line[0] != '.') continue;
    bool known = line.starts_with(".\\\"") || line.starts_with(".TH ") ||
                 line.starts_with(".SH ") || line.starts_with(".SS ") || line == ".TP" ||
                 line == ".PP" || line == ".IP" || line.starts_with(".B ") ||
                 line.starts_with(".I ") || line.starts_with(".BR ") || line.starts_with(".IR ") ||
                 line.starts_with(".RB ");
    EXPECT_TRUE(known) << "line " << number << ": " << line;
  }
}

}  // namespace
}  // namespace desk::config
