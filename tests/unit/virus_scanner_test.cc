#include "core/virus_scanner.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <functional>
#include <thread>

#include "tests/unit/attach_fixtures.h"

namespace desk {
namespace {

using namespace desk::testing;

// The signatures of shared/notes/clamav.md: EICAR by MD5, ClamAV's clam.exe by a body pattern.
constexpr const char* kEicarHdb = "44d88612fea8a8f36de82e1278abb02f:68:Test.EICAR\n";
constexpr const char* kClamNdb = "Test.ClamExe:0:*:434c414d657373616765426f7841\n";

std::string Hex(const std::string& s) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  for (unsigned char ch : s) {
    out += kDigits[ch >> 4];
    out += kDigits[ch & 15];
  }
  return out;
}

class VirusScannerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteFile(db_.File("test.hdb"), kEicarHdb);
    WriteFile(db_.File("test.ndb"), kClamNdb);
  }
  ScannerOptions Options() const {
    ScannerOptions o;
    o.database_dir = db_.path();
    o.temp_dir = tmp_.path();
    return o;
  }
  std::shared_ptr<VirusScanner> NewScanner(const ScannerOptions& o) {
    std::shared_ptr<VirusScanner> s;
    Status st = VirusScanner::Create(o, &s);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return s;
  }
  static ScanResult Scan(const VirusScanner& s, const std::string& data) {
    return s.Scan(data.data(), data.size());
  }
  TempDir db_;
  TempDir tmp_;
};

std::string Mime(const std::string& filename, const std::string& body) {
  static const char* kB64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string b64;
  for (size_t i = 0; i < body.size(); i += 3) {
    uint32_t n = uint32_t(uint8_t(body[i])) << 16;
    if (i + 1 < body.size()) n |= uint32_t(uint8_t(body[i + 1])) << 8;
    if (i + 2 < body.size()) n |= uint8_t(body[i + 2]);
    b64 += kB64[n >> 18 & 63];
    b64 += kB64[n >> 12 & 63];
    b64 += i + 1 < body.size() ? kB64[n >> 6 & 63] : '=';
    b64 += i + 2 < body.size() ? kB64[n & 63] : '=';
    if (b64.size() % 77 == 76) b64 += "\n";
  }
  return "From: a@example.com\nTo: support@example.com\nSubject: file\nMIME-Version: 1.0\n"
         "Content-Type: multipart/mixed; boundary=\"b1\"\n\n--b1\nContent-Type: text/plain\n\n"
         "see attached\n--b1\nContent-Type: application/octet-stream; name=\"" +
         filename + "\"\nContent-Transfer-Encoding: base64\nContent-Disposition: attachment\n\n" +
         b64 + "\n--b1--\n";
}

TEST_F(VirusScannerTest, NoDatabaseIsAClearError) {
  TempDir empty;
  ScannerOptions o;
  o.database_dir = empty.path();
  std::shared_ptr<VirusScanner> s;
  Status st = VirusScanner::Create(o, &s);
  EXPECT_EQ(st.error_class(), ErrorClass::kScanner);
  EXPECT_EQ(st.message(), "no supported database files found in " + empty.path());
  EXPECT_EQ(s, nullptr);

  o.database_dir = empty.path() + "/missing";
  st = VirusScanner::Create(o, &s);
  EXPECT_EQ(st.error_class(), ErrorClass::kScanner);
  EXPECT_NE(st.message().find(o.database_dir), std::string::npos) << st.message();

  WriteFile(empty.File("broken.ndb"), "this is not a signature\n");
  o.database_dir = empty.path();
  st = VirusScanner::Create(o, &s);
  EXPECT_EQ(st.error_class(), ErrorClass::kScanner);
  EXPECT_NE(st.message().find(empty.path()), std::string::npos) << st.message();

  std::unique_ptr<ScannerHolder> h;
  EXPECT_EQ(ScannerHolder::Create(o, &h).error_class(), ErrorClass::kScanner);
}

TEST_F(VirusScannerTest, EicarEverywhere) {
  auto s = NewScanner(Options());
  ASSERT_NE(s, nullptr);
  EXPECT_GE(s->signatures(), 2u);
  const std::string eicar = Eicar();
  ASSERT_EQ(eicar.size(), 68u);
  std::string zip = MakeArchive({{"eicar.com", eicar}});
  struct Case {
    const char* label;
    std::string data;
    ScanResult::Outcome want;
  } cases[] = {
      {"plain", eicar, ScanResult::kInfected},
      {"zip", zip, ScanResult::kInfected},
      {"zip in zip", MakeArchive({{"inner.zip", zip}, {"a.pdf", Pdf()}}), ScanResult::kInfected},
      {"zip in 7z in zip", MakeArchive({{"m.7z", MakeArchive({{"inner.zip", zip}}, "7zip")}}),
       ScanResult::kInfected},
      {"tar.gz", MakeArchive({{"x/eicar.txt", eicar}}, "ustar", "gzip"), ScanResult::kInfected},
      {"base64 in MIME", Mime("eicar.com", eicar), ScanResult::kInfected},
      {"zipped in MIME", Mime("e.zip", zip), ScanResult::kInfected},
      {"attached message",
       "From: x@example.com\nSubject: fwd\nMIME-Version: 1.0\nContent-Type: multipart/mixed; "
       "boundary=\"o\"\n\n--o\nContent-Type: message/rfc822\n\n" +
           Mime("eicar.com", eicar) + "\n--o--\n",
       ScanResult::kInfected},
      {"clean pdf", Pdf(), ScanResult::kClean},
      {"clean zip", MakeArchive({{"a.pdf", Pdf()}, {"b.png", Png()}}), ScanResult::kClean},
      {"clean mail", Mime("a.pdf", Pdf()), ScanResult::kClean},
      {"eicar cut by one byte", eicar.substr(0, 67), ScanResult::kClean},
      {"empty", "", ScanResult::kClean},
  };
  for (const auto& c : cases) {
    ScanResult got = Scan(*s, c.data);
    EXPECT_EQ(ScanOutcomeName(got.outcome), std::string(ScanOutcomeName(c.want)))
        << c.label << ": " << got.virus << got.error;
    if (c.want == ScanResult::kInfected) {
      EXPECT_EQ(got.virus, "Test.EICAR.UNOFFICIAL") << c.label;
    }
  }
}

TEST_F(VirusScannerTest, ScanFd) {
  auto s = NewScanner(Options());
  ASSERT_NE(s, nullptr);
  TempDir dir;
  WriteFile(dir.File("e.zip"), MakeArchive({{"eicar.com", Eicar()}}));
  WriteFile(dir.File("clean.pdf"), Pdf());
  int fd = open(dir.File("e.zip").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ScanResult got = s->ScanFd(fd);
  close(fd);
  EXPECT_EQ(got.outcome, ScanResult::kInfected) << got.error;
  fd = open(dir.File("clean.pdf").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  got = s->ScanFd(fd);
  close(fd);
  EXPECT_EQ(got.outcome, ScanResult::kClean) << got.virus << got.error;
  got = s->ScanFd(-1);
  EXPECT_EQ(got.outcome, ScanResult::kError);
}

TEST_F(VirusScannerTest, EveryClamavTestFileDetected) {
  if (!std::filesystem::exists(kClamTestFiles)) FAIL() << "clamav-testfiles not installed (scripts/install-deps.sh installs it)";
  auto s = NewScanner(Options());
  ASSERT_NE(s, nullptr);
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(kClamTestFiles)) {
    if (e.is_regular_file()) names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  ASSERT_FALSE(names.empty());
  std::vector<std::string> misses;
  for (const std::string& n : names) {
    std::string data = ReadFileOrDie(std::string(kClamTestFiles) + "/" + n);
    ScanResult got = Scan(*s, data);
    if (got.outcome != ScanResult::kInfected) {
      misses.push_back(n + " (" + ScanOutcomeName(got.outcome) + got.error + ")");
    }
  }
  std::string list;
  for (const auto& m : misses) list += "\n  " + m;
  EXPECT_TRUE(misses.empty()) << misses.size() << " of " << names.size() << " missed:" << list;
  std::printf("clamav-testfiles: %zu of %zu detected\n", names.size() - misses.size(),
              names.size());
}

TEST_F(VirusScannerTest, LimitsAreNeverClean) {
  std::string zip = MakeArchive({{"eicar.com", Eicar()}});
  std::string deep =
      MakeArchive({{"l2.zip", MakeArchive({{"l3.zip", MakeArchive({{"a.txt", "hello"}})}})}});
  std::vector<FixtureEntry> many;
  for (int i = 0; i < 10; ++i)
    many.push_back({"f" + std::to_string(i) + ".txt", "clean " + std::to_string(i)});
  struct Case {
    const char* label;
    std::function<void(ScannerOptions*)> set;
    std::string data;
    ScanResult::Outcome want;
  } cases[] = {
      {"max_file_size", [](ScannerOptions* o) { o->max_file_size = 1000; }, std::string(5000, 'a'),
       ScanResult::kScanLimit},
      {"max_file_size, small enough", [](ScannerOptions* o) { o->max_file_size = 1000; },
       std::string(500, 'a'), ScanResult::kClean},
      {"max_recursion", [](ScannerOptions* o) { o->max_recursion = 1; }, deep,
       ScanResult::kScanLimit},
      {"max_files", [](ScannerOptions* o) { o->max_files = 2; }, MakeArchive(many),
       ScanResult::kScanLimit},
      {"max_scan_size", [](ScannerOptions* o) { o->max_scan_size = 2000; },
       MakeArchive({{"a.txt", std::string(3000, 'a')}, {"b.txt", std::string(3000, 'b')}}),
       ScanResult::kScanLimit},
      // A virus found before a limit is reached is still a virus (the zip counts as file 1).
      {"virus and limit", [](ScannerOptions* o) { o->max_files = 2; },
       MakeArchive({{"eicar.com", Eicar()}, {"a.txt", "x"}, {"b.txt", "y"}}),
       ScanResult::kInfected},
  };
  for (const auto& c : cases) {
    ScannerOptions o = Options();
    c.set(&o);
    auto s = NewScanner(o);
    ASSERT_NE(s, nullptr);
    ScanResult got = Scan(*s, c.data);
    EXPECT_EQ(ScanOutcomeName(got.outcome), std::string(ScanOutcomeName(c.want)))
        << c.label << ": " << got.virus << " " << got.error;
    if (got.outcome == ScanResult::kScanLimit) {
      EXPECT_FALSE(got.error.empty()) << c.label;
    }
  }
}

TEST_F(VirusScannerTest, ReloadSwapsEngineWhileOldOneKeepsScanning) {
  std::unique_ptr<ScannerHolder> holder;
  Status st = ScannerHolder::Create(Options(), &holder);
  ASSERT_TRUE(st.ok()) << st.ToString();
  const std::string marker = "DESKMILTER-RELOAD-TEST-MARKER-" + std::to_string(getpid());
  const std::string sample = "harmless text with " + marker + " inside\n";

  std::shared_ptr<const VirusScanner> old_engine = holder->Get();
  EXPECT_EQ(Scan(*old_engine, sample).outcome, ScanResult::kClean);
  bool reloaded = true;
  ASSERT_TRUE(holder->MaybeReload(&reloaded).ok());
  EXPECT_FALSE(reloaded);  // nothing changed
  EXPECT_EQ(holder->Get(), old_engine);

  // A scan on the old engine runs on another thread across the reload.
  std::atomic<bool> stop{false};
  std::atomic<int> old_scans{0}, old_wrong{0};
  std::thread scanner([&] {
    while (!stop.load() || old_scans.load() < 5) {
      if (Scan(*old_engine, Eicar()).outcome != ScanResult::kInfected ||
          Scan(*old_engine, sample).outcome != ScanResult::kClean) {
        old_wrong++;
      }
      old_scans++;
    }
  });

  WriteFile(db_.File("new.ndb"), "Test.Reload:0:*:" + Hex(marker) + "\n");
  ASSERT_TRUE(holder->MaybeReload(&reloaded).ok());
  EXPECT_TRUE(reloaded);
  EXPECT_EQ(holder->reload_count(), 1u);
  std::shared_ptr<const VirusScanner> new_engine = holder->Get();
  EXPECT_NE(new_engine, old_engine);
  ScanResult got = Scan(*new_engine, sample);
  EXPECT_EQ(got.outcome, ScanResult::kInfected);
  EXPECT_EQ(got.virus, "Test.Reload.UNOFFICIAL");
  EXPECT_EQ(Scan(*new_engine, Eicar()).outcome, ScanResult::kInfected);

  stop = true;
  scanner.join();
  EXPECT_GE(old_scans.load(), 5);
  EXPECT_EQ(old_wrong.load(), 0);
  // The old engine is alive as long as someone holds it, and still answers with the old signatures.
  EXPECT_EQ(Scan(*old_engine, sample).outcome, ScanResult::kClean);

  EXPECT_FALSE(holder->database_stale());
  EXPECT_EQ(holder->failed_reload_count(), 0u);
  // A broken update keeps the current engine, is counted and marks the database stale.
  WriteFile(db_.File("broken.ndb"), "not a signature\n");
  st = holder->MaybeReload(&reloaded);
  EXPECT_EQ(st.error_class(), ErrorClass::kScanner);
  EXPECT_FALSE(reloaded);
  EXPECT_EQ(holder->Get(), new_engine);
  EXPECT_TRUE(holder->database_stale());
  EXPECT_EQ(holder->failed_reload_count(), 1u);
  // ... and is not retried until the directory changes again (still stale, not counted again).
  EXPECT_TRUE(holder->MaybeReload(&reloaded).ok());
  EXPECT_FALSE(reloaded);
  EXPECT_TRUE(holder->database_stale());
  EXPECT_EQ(holder->failed_reload_count(), 1u);
  // SIGHUP with the broken file: counted again.
  EXPECT_EQ(holder->ReloadNow().error_class(), ErrorClass::kScanner);
  EXPECT_EQ(holder->failed_reload_count(), 2u);
  // Removing the broken file is a change too; the good database is no longer stale.
  std::filesystem::remove(db_.File("broken.ndb"));
  ASSERT_TRUE(holder->MaybeReload(&reloaded).ok());
  EXPECT_TRUE(reloaded);
  EXPECT_FALSE(holder->database_stale());
  EXPECT_EQ(holder->failed_reload_count(), 2u);
  EXPECT_EQ(holder->reload_count(), 2u);
  EXPECT_EQ(Scan(*holder->Get(), sample).outcome, ScanResult::kInfected);
  // Removing a signature file takes its signatures away.
  std::filesystem::remove(db_.File("new.ndb"));
  ASSERT_TRUE(holder->MaybeReload(&reloaded).ok());
  EXPECT_TRUE(reloaded);
  EXPECT_EQ(Scan(*holder->Get(), sample).outcome, ScanResult::kClean);
  // SIGHUP: reload whatever the directory says.
  EXPECT_TRUE(holder->ReloadNow().ok());
  EXPECT_EQ(holder->reload_count(), 4u);
}

TEST_F(VirusScannerTest, ScansDuringReloadsNeverFail) {
  std::unique_ptr<ScannerHolder> holder;
  ASSERT_TRUE(ScannerHolder::Create(Options(), &holder).ok());
  std::atomic<bool> stop{false};
  std::atomic<int> scans{0}, wrong{0};
  std::vector<std::thread> threads;
  const std::string zip = MakeArchive({{"eicar.com", Eicar()}});
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&] {
      while (!stop.load()) {
        auto engine = holder->Get();
        if (Scan(*engine, zip).outcome != ScanResult::kInfected) wrong++;
        if (Scan(*engine, Pdf()).outcome != ScanResult::kClean) wrong++;
        scans++;
      }
    });
  }
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(holder->ReloadNow().ok());
  stop = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(holder->reload_count(), 5u);
  EXPECT_GT(scans.load(), 0);
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace desk
