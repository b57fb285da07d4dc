#include "core/logline.h"

#include <gtest/gtest.h>

namespace desk {
namespace {

TEST(LogLineTest, Escape) {
  struct Case {
    const char* in;
    const char* want;
  } cases[] = {
      {"plain", "plain"},
      {"two words", "\"two words\""},
      {"a,b", "\"a,b\""},
      {"k=v", "\"k=v\""},
      {"quote\"d", "\"quote\\\"d\""},
      {"new\nline", "new\\x0aline"},
      {"back\\slash", "back\\\\slash"},
      {"caf\xc3\xa9", "caf\\xc3\\xa9"},
      {"", "\"\""},
  };
  for (const auto& c : cases) EXPECT_EQ(LogEscape(c.in), c.want) << c.in;
}

TEST(LogLineTest, Format) {
  EXPECT_EQ(FormatLogLine("4XyZ1", {{"from", "a@b"}, {"subject", "hi there"}}),
            "4XyZ1: from=a@b, subject=\"hi there\"");
  EXPECT_EQ(FormatLogLine("", {{"verdict", "accept"}}), "NOQUEUE: verdict=accept");
  // A forged line break in a value cannot start a second log line.
  std::string got = FormatLogLine("Q", {{"subject", "x\r\nQ2: verdict=accept"}});
  EXPECT_EQ(got.find('\n'), std::string::npos);
}

}  // namespace
}  // namespace desk
