// Tests for core/metrics (the registry and its Prometheus text), the store's per-minute counts and
// usage (core/lmdb_store), and the scanner's database version and time (core/virus_scanner).
#include "core/metrics.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <utime.h>

#include <string>
#include <thread>
#include <vector>

#include "core/lmdb_store.h"
#include "core/virus_scanner.h"
#include "tests/unit/attach_fixtures.h"

namespace desk {
namespace {

using namespace desk::testing;

MessageSample Sample(std::string verdict, std::string kind = "new", std::string queue = "support") {
  MessageSample s;
  s.now = 1'700'000'000;
  s.verdict = std::move(verdict);
  s.kind = std::move(kind);
  s.queue = std::move(queue);
  return s;
}

// The value of the one line of text that starts with series + " ", or "" when there is none.
std::string ValueOf(const std::string& text, const std::string& series) {
  size_t at = 0;
  std::string found;
  int hits = 0;
  while ((at = text.find(series + " ", at)) != std::string::npos) {
    if (at == 0 || text[at - 1] == '\n') {
      size_t end = text.find('\n', at);
      found = text.substr(at + series.size() + 1, end - at - series.size() - 1);
      ++hits;
    }
    at += series.size();
  }
  return hits == 1 ? found : (hits == 0 ? "" : "several");
}

TEST(MetricsTest, CountsByLabelsAsPrometheusText) {
  Metrics m;
  m.Record(Sample("accept"));
  m.Record(Sample("accept"));
  m.Record(Sample("accept", "reply"));
  MessageSample fail = Sample("tempfail", "error", "");
  fail.failure = "store";
  m.Record(fail);
  MessageSample bounce = Sample("accept", "bounce");
  bounce.auto_class = "bounce";
  bounce.auto_rule = "null_sender";
  m.Record(bounce);
  MessageSample virus = Sample("reject", "new");
  virus.attachments = {{"infected", "reject", "Test.EICAR"}, {"allowed", "accept", ""}};
  m.Record(virus);

  const std::string got = m.RenderPrometheus(0);
  struct Case {
    std::string series, want;
  } cases[] = {
      {R"(deskmilter_messages_total{queue="support",kind="new",verdict="accept"})", "2"},
      {R"(deskmilter_messages_total{queue="support",kind="reply",verdict="accept"})", "1"},
      {R"(deskmilter_messages_total{queue="none",kind="error",verdict="tempfail"})", "1"},
      {R"(deskmilter_messages_total{queue="support",kind="new",verdict="reject"})", "1"},
      {R"(deskmilter_failures_total{class="store"})", "1"},
      {R"(deskmilter_auto_mail_total{class="bounce",rule="null_sender"})", "1"},
      {R"(deskmilter_attachments_total{outcome="infected",action="reject"})", "1"},
      {R"(deskmilter_attachments_total{outcome="allowed",action="accept"})", "1"},
      {R"(deskmilter_viruses_total{name="Test.EICAR"})", "1"},
      {R"(deskmilter_eom_duration_seconds_count)", "0"},
  };
  for (const Case& c : cases) EXPECT_EQ(ValueOf(got, c.series), c.want) << c.series << "\n" << got;
  EXPECT_NE(got.find("# TYPE deskmilter_messages_total counter\n"), std::string::npos);
  // Gauges that were never set are absent, the outbox hook included.
  EXPECT_EQ(got.find("deskmilter_store_map_bytes"), std::string::npos);
  EXPECT_EQ(got.find("deskmilter_outbox_messages"), std::string::npos);
}

TEST(MetricsTest, HistogramBucketsAreCumulative) {
  Metrics m;
  for (double v : {0.001, 0.02, 0.02, 3.0, 100.0}) {
    MessageSample s = Sample("accept");
    s.eom_seconds = v;
    m.Record(s);
  }
  const std::string got = m.RenderPrometheus(0);
  EXPECT_EQ(ValueOf(got, R"(deskmilter_eom_duration_seconds_bucket{le="0.005"})"), "1");
  EXPECT_EQ(ValueOf(got, R"(deskmilter_eom_duration_seconds_bucket{le="0.025"})"), "3");
  EXPECT_EQ(ValueOf(got, R"(deskmilter_eom_duration_seconds_bucket{le="2.5"})"), "3");
  EXPECT_EQ(ValueOf(got, R"(deskmilter_eom_duration_seconds_bucket{le="5"})"), "4");
  EXPECT_EQ(ValueOf(got, R"(deskmilter_eom_duration_seconds_bucket{le="60"})"), "4");
  EXPECT_EQ(ValueOf(got, R"(deskmilter_eom_duration_seconds_bucket{le="+Inf"})"), "5");
  EXPECT_EQ(ValueOf(got, "deskmilter_eom_duration_seconds_count"), "5");
  EXPECT_DOUBLE_EQ(std::stod(ValueOf(got, "deskmilter_eom_duration_seconds_sum")), 103.041);
}

TEST(MetricsTest, VirusNamesAreCappedThenOther) {
  MetricsLimits limits;
  limits.max_virus_names = 3;
  Metrics m(limits);
  for (int i = 0; i < 1000; ++i) {
    MessageSample s = Sample("reject");
    s.attachments = {{"infected", "reject", "Evil." + std::to_string(i)}};
    m.Record(s);
  }
  const std::string got = m.RenderPrometheus(0);
  EXPECT_EQ(ValueOf(got, R"(deskmilter_viruses_total{name="Evil.0"})"), "1");
  EXPECT_EQ(ValueOf(got, R"(deskmilter_viruses_total{name="Evil.2"})"), "1");
  EXPECT_EQ(ValueOf(got, R"(deskmilter_viruses_total{name="Evil.3"})"), "");
  EXPECT_EQ(ValueOf(got, R"(deskmilter_viruses_total{name="other"})"), "997");
  size_t lines = 0;
  for (size_t at = 0; (at = got.find("\ndeskmilter_viruses_total{", at)) != std::string::npos;
       ++at) {
    ++lines;
  }
  EXPECT_EQ(lines, 4u);
}

TEST(MetricsTest, EverySeriesFamilyIsCapped) {
  MetricsLimits limits;
  limits.max_series = 10;
  Metrics m(limits);
  for (int i = 0; i < 500; ++i) {
    MessageSample s = Sample("accept", "new", "q" + std::to_string(i));
    s.auto_class = "list";
    s.auto_rule = "rule" + std::to_string(i);
    m.Record(s);
  }
  const std::string got = m.RenderPrometheus(0);
  EXPECT_EQ(
      ValueOf(got, R"(deskmilter_messages_total{queue="other",kind="other",verdict="other"})"),
      "490");
  EXPECT_EQ(ValueOf(got, R"(deskmilter_auto_mail_total{class="other",rule="other"})"), "490");
}

TEST(MetricsTest, LabelValuesAreEscapedAndBounded) {
  Metrics m;
  MessageSample s = Sample("reject");
  s.attachments = {{"infected", "reject", "a\"b\\c\nd" + std::string(500, 'x')}};
  m.Record(s);
  const std::string got = m.RenderPrometheus(0);
  // The newline became '_' (control characters are replaced), quote and backslash are escaped,
  // and the value is cut at kMaxLabelBytes.
  const std::string want = "deskmilter_viruses_total{name=\"a\\\"b\\\\c_d" +
                           std::string(Metrics::kMaxLabelBytes - 7, 'x') + "\"} 1\n";
  EXPECT_NE(got.find(want), std::string::npos) << got;
  EXPECT_EQ(EscapeLabelValue("x\"y\\z\n"), "x\\\"y\\\\z\\n");
}

TEST(MetricsTest, GaugesAndScannerAge) {
  Metrics m;
  m.SetStoreUsage(64 << 20, 1 << 20);
  m.SetScannerDatabase(27100, 1'700'000'000, 42);
  m.SetOutboxLength(3);
  const std::string got = m.RenderPrometheus(1'700'000'000 + 3 * 86400);
  EXPECT_EQ(ValueOf(got, "deskmilter_store_map_bytes"), "67108864");
  EXPECT_EQ(ValueOf(got, "deskmilter_store_used_bytes"), "1048576");
  EXPECT_EQ(ValueOf(got, "deskmilter_scanner_database_version"), "27100");
  EXPECT_EQ(ValueOf(got, "deskmilter_scanner_database_timestamp_seconds"), "1700000000");
  EXPECT_EQ(ValueOf(got, "deskmilter_scanner_database_age_seconds"), "259200");
  EXPECT_EQ(ValueOf(got, "deskmilter_scanner_signatures"), "42");
  EXPECT_EQ(ValueOf(got, "deskmilter_outbox_messages"), "3");
}

TEST(MetricsTest, ScannerReloadFailuresAndStaleGauge) {
  Metrics m;
  std::string got = m.RenderPrometheus(0);
  EXPECT_EQ(got.find("deskmilter_scanner_database_stale"), std::string::npos) << got;  // unset
  EXPECT_EQ(got.find("deskmilter_scanner_database_reload_failures_total"), std::string::npos);
  m.SetScannerReloads(3, true);
  got = m.RenderPrometheus(0);
  EXPECT_EQ(ValueOf(got, "deskmilter_scanner_database_reload_failures_total"), "3");
  EXPECT_EQ(ValueOf(got, "deskmilter_scanner_database_stale"), "1");
  EXPECT_NE(got.find("# TYPE deskmilter_scanner_database_reload_failures_total counter\n"),
            std::string::npos)
      << got;
  EXPECT_NE(got.find("# TYPE deskmilter_scanner_database_stale gauge\n"), std::string::npos);
  m.SetScannerReloads(3, false);
  got = m.RenderPrometheus(0);
  EXPECT_EQ(ValueOf(got, "deskmilter_scanner_database_reload_failures_total"), "3");
  EXPECT_EQ(ValueOf(got, "deskmilter_scanner_database_stale"), "0");
}

TEST(MetricsTest, MinuteCountsAreTakenOnceAndCanBeGivenBack) {
  Metrics m;
  MessageSample a = Sample("accept");
  a.now = 60 * 1000 + 5;
  m.Record(a);
  m.Record(a);
  MessageSample t = Sample("tempfail");
  t.now = 60 * 1001;
  m.Record(t);
  MessageSample odd = Sample("something-new");
  odd.now = 60 * 1001 + 59;
  m.Record(odd);

  std::vector<MinuteCount> got = m.TakeMinuteCounts();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].minute, 1000);
  EXPECT_EQ(got[0].counts, (std::vector<uint64_t>{2, 0, 0, 0, 0, 0}));
  EXPECT_EQ(got[1].minute, 1001);
  EXPECT_EQ(got[1].counts, (std::vector<uint64_t>{0, 0, 1, 0, 0, 1}));
  EXPECT_TRUE(m.TakeMinuteCounts().empty());

  m.ReturnMinuteCounts(got);
  m.Record(a);
  std::vector<MinuteCount> again = m.TakeMinuteCounts();
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[0].counts[0], 3u);
}

TEST(MetricsTest, PendingMinutesAreBounded) {
  Metrics m;
  for (int64_t minute = 0; minute < 1000; ++minute) {
    MessageSample s = Sample("accept");
    s.now = (1'000'000 + minute) * 60;
    m.Record(s);
  }
  std::vector<MinuteCount> got = m.TakeMinuteCounts();
  ASSERT_EQ(got.size(), Metrics::kMaxPendingMinutes);
  EXPECT_EQ(got.back().minute, 1'000'000 + 999);  // the newest are kept
}

TEST(MetricsTest, RecordFromManyThreads) {
  Metrics m;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&m] {
      for (int i = 0; i < 1000; ++i) m.Record(Sample("accept"));
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ValueOf(m.RenderPrometheus(0),
                    R"(deskmilter_messages_total{queue="support",kind="new",verdict="accept"})"),
            "4000");
}

TEST(MinuteStoreTest, AddsUpReadsRangesAndDropsOldMinutes) {
  TempDir dir;
  LmdbOptions o;
  o.dir = dir.path() + "/store";
  o.map_size = 1 << 20;
  std::unique_ptr<TicketStore> store;
  ASSERT_TRUE(OpenLmdbTicketStore(o, &store).ok());

  ASSERT_TRUE(store->AddMinuteCounts({{100, {1, 2}}, {101, {0, 0, 5}}}, 0).ok());
  ASSERT_TRUE(store->AddMinuteCounts({{100, {1, 0, 0, 1}}, {-5, {9}}}, -10).ok());
  std::vector<MinuteCount> got;
  ASSERT_TRUE(store->GetMinuteCounts(-100, 1000, &got).ok());
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].minute, -5);
  EXPECT_EQ(got[1].minute, 100);
  EXPECT_EQ(got[1].counts, (std::vector<uint64_t>{2, 2, 0, 1}));
  EXPECT_EQ(got[2].minute, 101);
  EXPECT_EQ(got[2].counts, (std::vector<uint64_t>{0, 0, 5}));

  ASSERT_TRUE(store->GetMinuteCounts(101, 101, &got).ok());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].minute, 101);

  // Minutes before drop_before go, with what arrives for them.
  ASSERT_TRUE(store->AddMinuteCounts({{99, {7}}}, 101).ok());
  ASSERT_TRUE(store->GetMinuteCounts(-100, 1000, &got).ok());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].minute, 101);

  // They survive a reopen.
  store.reset();
  ASSERT_TRUE(OpenLmdbTicketStore(o, &store).ok());
  ASSERT_TRUE(store->GetMinuteCounts(0, 1000, &got).ok());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].counts, (std::vector<uint64_t>{0, 0, 5}));

  StoreUsage usage;
  ASSERT_TRUE(store->Usage(&usage).ok());
  EXPECT_EQ(usage.map_bytes, 1u << 20);
  EXPECT_GT(usage.used_bytes, 0u);
  EXPECT_LE(usage.used_bytes, usage.map_bytes);
}

TEST(ScannerDatabaseTest, TimeOfTheNewestFileWithoutAnOfficialDatabase) {
  TempDir db;
  WriteFile(db.File("a.hdb"), "44d88612fea8a8f36de82e1278abb02f:68:Test.EICAR\n");
  WriteFile(db.File("b.ndb"), "Test.ClamExe:0:*:434c414d657373616765426f7841\n");
  utimbuf old{1'600'000'000, 1'600'000'000};
  utimbuf newer{1'650'000'000, 1'650'000'000};
  ASSERT_EQ(utime(db.File("a.hdb").c_str(), &old), 0);
  ASSERT_EQ(utime(db.File("b.ndb").c_str(), &newer), 0);
  ScannerOptions o;
  o.database_dir = db.path();
  std::shared_ptr<VirusScanner> scanner;
  Status st = VirusScanner::Create(o, &scanner);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(scanner->database_version(), 0u);
  EXPECT_EQ(scanner->database_time(), 1'650'000'000);
  EXPECT_EQ(scanner->signatures(), 2u);
}

}  // namespace
}  // namespace desk
