#include "core/child_process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace desk {
namespace {

TEST(ChildProcessTest, ReturnsWhatTheChildProduced) {
  std::string big(3 << 20, 'x');  // larger than a pipe's buffer: read while the child writes
  big[12345] = 'y';
  std::string out;
  Status st = RunInChild(ChildLimits{}, {}, [&] { return big + "!"; }, &out);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(out, big + "!");
}

TEST(ChildProcessTest, ChildWritesDoNotReachTheCaller) {
  int counter = 1;
  std::string out;
  ASSERT_TRUE(RunInChild(ChildLimits{}, {}, [&] {
                counter = 99;
                return std::string("done");
              }, &out).ok());
  EXPECT_EQ(counter, 1);
  EXPECT_EQ(out, "done");
}

TEST(ChildProcessTest, MemoryPastTheLimitStopsTheChildNotTheCaller) {
  ChildLimits limits;
  limits.memory_mb = 64;
  std::string out;
  Status st = RunInChild(limits, {}, [] {
    // 1 GiB, touched in 16 MiB blocks: far past the child's 64 MiB.
    std::vector<std::string> blocks;
    for (int i = 0; i < 64; ++i) blocks.emplace_back(16u << 20, char('a' + i % 26));
    return std::to_string(blocks.size());
  }, &out);
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(out.empty());
#if !defined(__SANITIZE_ADDRESS__)  // there operator new dies on failure instead of throwing
  EXPECT_EQ(st.error_class(), ErrorClass::kMalformed);
  EXPECT_NE(st.message().find("out of memory (limit 64 MiB)"), std::string::npos) << st.message();
#endif
}

TEST(ChildProcessTest, TimeLimitStopsAChildThatNeverEnds) {
  ChildLimits limits;
  limits.time_ms = 300;
  std::string out;
  Status st = RunInChild(limits, {}, [] {
    for (;;) asm volatile("" ::: "memory");  // spins; the barrier keeps the loop
    return std::string();
  }, &out);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error_class(), ErrorClass::kMalformed);
  EXPECT_NE(st.message().find("time limit (300 ms)"), std::string::npos) << st.message();
}

// A result over max_output is the input's doing (long names repeated in every nested path, say):
// Malformed, so the mail is held rather than tempfailed for ever.
TEST(ChildProcessTest, OutputOverTheLimitIsMalformed) {
  ChildLimits limits;
  limits.max_output = 1000;
  std::string out;
  Status st = RunInChild(limits, {}, [] { return std::string(5000, 'z'); }, &out);
  EXPECT_EQ(st.error_class(), ErrorClass::kMalformed) << st.ToString();
  EXPECT_NE(st.message().find("result over 1000 bytes"), std::string::npos) << st.message();
  EXPECT_TRUE(out.empty());
}

TEST(ChildProcessTest, ChildKeepsOnlyTheDescriptorsItIsGiven) {
  int kept[2], other[2];
  ASSERT_EQ(pipe(kept), 0);
  ASSERT_EQ(pipe(other), 0);
  std::string out;
  Status st = RunInChild(ChildLimits{}, {kept[0]}, [&] {
    std::string s;
    s += fcntl(kept[0], F_GETFD) >= 0 ? "kept-open " : "kept-closed ";
    s += fcntl(other[0], F_GETFD) >= 0 ? "other-open" : "other-closed";
    return s;
  }, &out);
  for (int fd : {kept[0], kept[1], other[0], other[1]}) close(fd);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(out, "kept-open other-closed");
}

TEST(ChildProcessTest, AnExceptionInTheChildIsAnInternalError) {
  std::string out;
  Status st = RunInChild(ChildLimits{}, {}, []() -> std::string {
    throw std::runtime_error("bug");
  }, &out);
  EXPECT_EQ(st.error_class(), ErrorClass::kInternal) << st.ToString();
  EXPECT_NE(st.message().find("exception"), std::string::npos) << st.message();
}

TEST(ChildProcessTest, ACrashInTheChildIsMalformedAndNamesTheSignal) {
  std::string out;
  Status st = RunInChild(ChildLimits{}, {}, []() -> std::string {
    raise(SIGTERM);  // not SIGSEGV: AddressSanitizer turns that into an abort
    return "unreached";
  }, &out);
  EXPECT_EQ(st.error_class(), ErrorClass::kMalformed) << st.ToString();
  EXPECT_NE(st.message().find("killed by signal 15"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace desk
