// CheckWritableDirs: every directory the daemon writes is checked at start-up and by -n, each
// problem named by file, key, directory and reason. Table of cases over a scratch tree; the
// permission cases run in a child process as an unprivileged user (as the service user would).
#include "config/dirs.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "config/loader.h"

namespace desk::config {
namespace {

namespace fs = std::filesystem;

class Scratch {
 public:
  Scratch() {
    char tmpl[] = "/tmp/desk-dirs-XXXXXX";
    path_ = mkdtemp(tmpl);
    chmod(path_.c_str(), 0755);
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A config whose four directories all exist and are writable under root.
Config GoodConfig(const std::string& root) {
  Config c = DefaultConfig();
  c.store_dir = root + "/store";
  c.spool_dir = root + "/spool";
  c.scanner_temp_dir = root + "/scantmp";
  c.attachments_store_dir = "";
  c.scanner_enabled = true;
  for (const char* d : {"/store", "/spool", "/scantmp"}) fs::create_directories(root + d);
  return c;
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += s + "\n";
  return out;
}

TEST(DirsTest, AllGoodHasNoProblems) {
  Scratch s;
  EXPECT_EQ(Join(CheckWritableDirs(GoodConfig(s.path()), "f.toml")), "");
}

TEST(DirsTest, Table) {
  struct Case {
    const char* name;
    void (*edit)(Config* c, const std::string& root);
    std::string want;  // substring of the one expected line; root stands for the scratch dir
  };
  const Case cases[] = {
      {"missing spool dir",
       [](Config* c, const std::string& r) { c->spool_dir = r + "/nospool"; },
       "f.toml: store.spool_dir: ROOT/nospool: No such file or directory"},
      {"spool dir is a file",
       [](Config* c, const std::string& r) {
         std::FILE* f = std::fopen((r + "/afile").c_str(), "w");
         std::fclose(f);
         c->spool_dir = r + "/afile";
       },
       "f.toml: store.spool_dir: ROOT/afile: not a directory"},
      {"missing scanner temp dir",
       [](Config* c, const std::string& r) { c->scanner_temp_dir = r + "/none"; },
       "f.toml: scanner.temp_dir: ROOT/none: No such file or directory"},
      {"missing store dir is created: fine",
       [](Config* c, const std::string& r) { c->store_dir = r + "/newstore"; }, ""},
      {"store dir two levels missing",
       [](Config* c, const std::string& r) { c->store_dir = r + "/a/b"; },
       "f.toml: store.dir: ROOT/a/b: missing, and so is its parent ROOT/a"},
      {"attachment dir deep missing is created: fine",
       [](Config* c, const std::string& r) { c->attachments_store_dir = r + "/x/y/z"; }, ""},
      {"attachment dir below a file",
       [](Config* c, const std::string& r) {
         std::FILE* f = std::fopen((r + "/plain").c_str(), "w");
         std::fclose(f);
         c->attachments_store_dir = r + "/plain/att";
       },
       "f.toml: attachments.store_dir: ROOT/plain/att: missing, and cannot be created in "
       "ROOT/plain: not a directory"},
  };
  for (const Case& tc : cases) {
    Scratch s;
    Config c = GoodConfig(s.path());
    tc.edit(&c, s.path());
    std::string got = Join(CheckWritableDirs(c, "f.toml"));
    std::string want = tc.want;
    if (size_t p = want.find("ROOT"); p != std::string::npos) want.replace(p, 4, s.path());
    while (want.find("ROOT") != std::string::npos) want.replace(want.find("ROOT"), 4, s.path());
    if (want.empty()) {
      EXPECT_EQ(got, "") << tc.name;
    } else {
      EXPECT_EQ(got, want + "\n") << tc.name;
    }
  }
}

TEST(DirsTest, ScannerTempDirIgnoredWhenScanningIsOff) {
  Scratch s;
  Config c = GoodConfig(s.path());
  c.scanner_temp_dir = s.path() + "/none";
  c.scanner_enabled = false;
  EXPECT_EQ(Join(CheckWritableDirs(c, "f.toml")), "");
}

TEST(DirsTest, EveryProblemIsReportedAtOnce) {
  Scratch s;
  Config c = GoodConfig(s.path());
  c.spool_dir = s.path() + "/n1";
  c.scanner_temp_dir = s.path() + "/n2";
  c.store_dir = s.path() + "/n3/n4";
  EXPECT_EQ(CheckWritableDirs(c, "f.toml").size(), 3u);  // store (attachments inside), spool, temp
}

// Checked as the user running the check: a directory owned by root with mode 0755 is not writable
// for an unprivileged service user, even when root runs the tests.
TEST(DirsTest, UnwritableForTheServiceUser) {
  Scratch s;
  Config c = GoodConfig(s.path());
  chmod((s.path() + "/spool").c_str(), 0555);
  chmod((s.path() + "/store").c_str(), 0555);
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(2);
    std::string out = Join(CheckWritableDirs(c, "f.toml"));
    ssize_t n = write(fds[1], out.data(), out.size());
    _exit(n == static_cast<ssize_t>(out.size()) ? 0 : 3);
  }
  close(fds[1]);
  std::string got;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) got.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  const std::string r = s.path();
  EXPECT_EQ(got,
            "f.toml: store.dir: " + r + "/store: not writable: Permission denied\n"
            "f.toml: store.spool_dir: " + r + "/spool: not writable: Permission denied\n"
            "f.toml: scanner.temp_dir: " + r + "/scantmp: not writable: Permission denied\n");
}

}  // namespace
}  // namespace desk::config
