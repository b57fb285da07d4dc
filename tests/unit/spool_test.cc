// Spool: memory/disk switch, content and SHA-256 across the switch, header formatting, Reset, errors.
#include "core/spool.h"

#include <dirent.h>
#include <glib.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace desk {
namespace {

std::string Sha256(const std::string& s) {
  gchar* hex = g_compute_checksum_for_data(G_CHECKSUM_SHA256,
                                           reinterpret_cast<const guchar*>(s.data()), s.size());
  std::string out(hex);
  g_free(hex);
  return out;
}

// Everything the spool holds, read back the way a parser would.
std::string Contents(const Spool& spool) {
  if (!spool.on_disk()) return spool.data();
  std::string out(spool.size(), '\0');
  size_t got = 0;
  while (got < out.size()) {
    ssize_t n = pread(spool.fd(), out.data() + got, out.size() - got, static_cast<off_t>(got));
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  out.resize(got);
  return out;
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/spool_test_XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { rmdir(path_.c_str()); }
  const std::string& path() const { return path_; }
  int Entries() const {
    int n = 0;
    DIR* d = opendir(path_.c_str());
    while (dirent* e = readdir(d)) {
      if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") ++n;
    }
    closedir(d);
    return n;
  }

 private:
  std::string path_;
};

TEST(SpoolTest, StaysInMemoryUpToThreshold) {
  TempDir dir;
  Spool spool(dir.path(), 10);
  ASSERT_TRUE(spool.Append("0123456789").ok());
  EXPECT_FALSE(spool.on_disk());
  EXPECT_EQ(spool.fd(), -1);
  EXPECT_EQ(spool.data(), "0123456789");
  EXPECT_EQ(spool.size(), 10u);
  EXPECT_EQ(spool.Sha256Hex(), Sha256("0123456789"));
}

TEST(SpoolTest, MovesToUnlinkedFileOverThreshold) {
  TempDir dir;
  Spool spool(dir.path(), 4096);
  std::string want;
  for (int i = 0; i < 1000; ++i) {
    std::string chunk = "line " + std::to_string(i) + " of the body\r\n";
    ASSERT_TRUE(spool.Append(chunk).ok());
    want += chunk;
  }
  ASSERT_TRUE(spool.on_disk());
  EXPECT_GE(spool.fd(), 0);
  EXPECT_TRUE(spool.data().empty());
  EXPECT_EQ(spool.size(), want.size());
  EXPECT_EQ(Contents(spool), want);
  EXPECT_EQ(spool.Sha256Hex(), Sha256(want));
  EXPECT_EQ(dir.Entries(), 0) << "the temp file must not have a name";
}

TEST(SpoolTest, OffsetOfDescriptorDoesNotMatter) {
  TempDir dir;
  Spool spool(dir.path(), 4);
  ASSERT_TRUE(spool.Append("abcdefgh").ok());
  ASSERT_TRUE(spool.on_disk());
  ASSERT_EQ(lseek(spool.fd(), 0, SEEK_SET), 0);  // a reader rewound it
  ASSERT_TRUE(spool.Append("ijkl").ok());
  EXPECT_EQ(Contents(spool), "abcdefghijkl");
}

TEST(SpoolTest, Sha256IsIncrementalAndRepeatable) {
  Spool spool("", 1 << 20);
  ASSERT_TRUE(spool.Append("hello").ok());
  EXPECT_EQ(spool.Sha256Hex(), Sha256("hello"));
  EXPECT_EQ(spool.Sha256Hex(), Sha256("hello"));  // asking does not finalize
  ASSERT_TRUE(spool.Append("\n").ok());
  EXPECT_EQ(spool.Sha256Hex(), Sha256("hello\n"));
}

TEST(SpoolTest, AppendHeader) {
  struct Case {
    std::string name, value, want;
  };
  const std::vector<Case> cases = {
      {"Subject", "hi", "Subject: hi\r\n"},
      {"Subject", "folded\n\tvalue", "Subject: folded\r\n\tvalue\r\n"},
      {"Subject", "already\r\n crlf", "Subject: already\r\n crlf\r\n"},
      {"X-Two", "a\n b\n c", "X-Two: a\r\n b\r\n c\r\n"},
      {"X-Empty", "", "X-Empty: \r\n"},
  };
  for (const Case& c : cases) {
    Spool spool("", 1 << 20);
    ASSERT_TRUE(spool.AppendHeader(c.name, c.value).ok());
    std::string got_ = spool.data();
    EXPECT_EQ(got_, c.want) << c.value;
  }
}

TEST(SpoolTest, ResetForReuse) {
  TempDir dir;
  Spool spool(dir.path(), 8);
  ASSERT_TRUE(spool.Append("a long first message").ok());
  ASSERT_TRUE(spool.on_disk());
  spool.Reset();
  EXPECT_FALSE(spool.on_disk());
  EXPECT_EQ(spool.size(), 0u);
  EXPECT_EQ(spool.Sha256Hex(), Sha256(""));
  ASSERT_TRUE(spool.Append("second").ok());
  EXPECT_FALSE(spool.on_disk());
  EXPECT_EQ(spool.data(), "second");
  EXPECT_EQ(spool.Sha256Hex(), Sha256("second"));
  ASSERT_TRUE(spool.Append(" grows past").ok());
  EXPECT_TRUE(spool.on_disk());
  EXPECT_EQ(Contents(spool), "second grows past");
}

TEST(SpoolTest, EmptyDirMeansTmpdir) {
  TempDir dir;
  const char* old = getenv("TMPDIR");
  std::string saved = old != nullptr ? old : "";
  setenv("TMPDIR", dir.path().c_str(), 1);
  Spool spool("", 2);
  Status s = spool.Append("abc");
  if (old != nullptr) {
    setenv("TMPDIR", saved.c_str(), 1);
  } else {
    unsetenv("TMPDIR");
  }
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(spool.on_disk());
}

TEST(SpoolTest, UnusableDirIsInternalError) {
  Spool spool("/nonexistent/deskmilter/spool", 2);
  ASSERT_TRUE(spool.Append("ab").ok());  // still in memory
  Status s = spool.Append("c");
  EXPECT_EQ(s.error_class(), ErrorClass::kInternal);
  EXPECT_NE(s.message().find("No such file"), std::string::npos) << s.message();
  EXPECT_EQ(spool.size(), 2u);  // the failed append left the spool as it was
  EXPECT_EQ(spool.data(), "ab");
}

}  // namespace
}  // namespace desk
