// Tests of core/quarantine: entry ids, save/list/get, purge by age, hostile ids and values.
#include "core/quarantine.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace desk {
namespace {

class QuarantineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/desk-quarantine-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    dir_ = root_ + "/q";
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  Status Save(const std::string& id, int64_t now, const std::string& text,
              std::vector<std::pair<std::string, std::string>> fields = {}) {
    Spool spool(root_, 1 << 20);
    Status st = spool.Append(text);
    if (!st.ok()) return st;
    return SaveQuarantine(dir_, id, now, fields, spool);
  }

  static std::string Read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  std::string root_, dir_;
};

TEST(QuarantineIdTest, TimeAndFilteredQueueId) {
  struct Case {
    int64_t now;
    std::string qid, want;
  } cases[] = {
      {1700000000, "4QkM2x1abc", "1700000000-4QkM2x1abc"},
      {1700000000, "", "1700000000-noqueue"},
      {1700000000, "../../etc/passwd", "1700000000-etcpasswd"},
      {-5, "A", "0-A"},
  };
  for (const Case& c : cases) EXPECT_EQ(QuarantineId(c.now, c.qid), c.want) << c.qid;
}

TEST_F(QuarantineTest, SaveListGetRoundTrip) {
  const std::string msg = "From: a@b.test\r\nSubject: x\r\n\r\nbody with the attachment\r\n";
  ASSERT_TRUE(Save("1700000000-Q1", 1700000000, msg,
                   {{"queue_id", "Q1"}, {"stripped", "a.exe: refused\r\nInjected: 1"},
                    {"stripped", "b.bat: refused"}})
                  .ok());
  std::vector<QuarantineEntry> entries;
  ASSERT_TRUE(ListQuarantine(dir_, &entries).ok());
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].id, "1700000000-Q1");
  EXPECT_EQ(entries[0].received_at, 1700000000);
  EXPECT_EQ(entries[0].size, msg.size());
  EXPECT_EQ(entries[0].Field("queue_id"), "Q1");
  ASSERT_EQ(entries[0].fields.size(), 3u);
  EXPECT_EQ(entries[0].fields[1].second, "a.exe: refused  Injected: 1");  // stays one line
  std::string path;
  ASSERT_TRUE(QuarantineMessagePath(dir_, "1700000000-Q1", &path).ok());
  EXPECT_EQ(Read(path), msg);
}

TEST_F(QuarantineTest, MissingDirIsEmptyAndBadIdsAreRefused) {
  std::vector<QuarantineEntry> entries;
  EXPECT_TRUE(ListQuarantine(dir_, &entries).ok());
  EXPECT_TRUE(entries.empty());
  std::string path;
  EXPECT_TRUE(QuarantineMessagePath(dir_, "1-x", &path).IsNotFound());
  for (const char* bad : {"../x", "", "abc", "1/../../etc", "1-a.b"}) {
    EXPECT_EQ(QuarantineMessagePath(dir_, bad, &path).error_class(), ErrorClass::kInvalid) << bad;
    EXPECT_FALSE(Save(bad, 1, "x").ok()) << bad;
  }
}

TEST_F(QuarantineTest, ListIsOldestFirstAndSkipsIncompleteEntries) {
  ASSERT_TRUE(Save("200-B", 200, "b").ok());
  ASSERT_TRUE(Save("1000-A", 1000, "a").ok());
  ASSERT_TRUE(Save("30-C", 30, "c").ok());
  std::filesystem::remove(dir_ + "/200-B.eml");  // a crash between the two files
  std::vector<QuarantineEntry> entries;
  ASSERT_TRUE(ListQuarantine(dir_, &entries).ok());
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].id, "30-C");
  EXPECT_EQ(entries[1].id, "1000-A");
}

TEST_F(QuarantineTest, PurgeRemovesOnlyEntriesBeforeTheCutoff) {
  ASSERT_TRUE(Save("100-A", 100, "a").ok());
  ASSERT_TRUE(Save("200-B", 200, "b").ok());
  ASSERT_TRUE(Save("300-C", 300, "c").ok());
  std::filesystem::remove(dir_ + "/100-A.meta");  // incomplete entries are purged too
  uint64_t removed = 0;
  ASSERT_TRUE(PurgeQuarantine(dir_, 200, &removed).ok());
  EXPECT_EQ(removed, 1u);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/100-A.eml"));
  std::vector<QuarantineEntry> entries;
  ASSERT_TRUE(ListQuarantine(dir_, &entries).ok());
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].id, "200-B");
  ASSERT_TRUE(PurgeQuarantine(root_ + "/missing", 1000, &removed).ok());
  EXPECT_EQ(removed, 0u);
}

}  // namespace
}  // namespace desk
