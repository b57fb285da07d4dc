// Metrics: deskmilter's counters, one registry per daemon, rendered in the Prometheus text format.
//
// The adapter (milter/) builds one MessageSample per decided message, at the one place where it
// logs the decision, and calls Record; it sets the gauges it samples (store map, scanner database)
// before rendering. The core keeps no clock: the sample carries the end-of-message latency the
// adapter measured and the time (seconds since the epoch) of the decision, which picks the minute
// bucket.
//
// What is counted (docs/METRICS.md names every metric):
//   messages by queue, kind and verdict; automatic mail by class and rule; attachments by outcome
//   and action;
//   viruses by signature name; failures by class; an end-of-message latency histogram; the
//   number of messages per minute and verdict (TakeMinuteCounts), which the daemon flushes to the
//   store every few seconds so `deskctl stats` can chart the last hour without the HTTP listener.
//
// Limits (an outsider must not grow memory through label values):
//   - every family holds at most MetricsLimits::max_series label sets; a new label set beyond that
//     is counted under the label set whose every value is "other" (deskmilter_viruses_total has its
//     own, smaller, max_virus_names);
//   - label values are cut to kMaxLabelBytes bytes and made printable;
//   - pending minute counts are kept for at most kMaxPendingMinutes minutes (if the store cannot
//     take them that long, the oldest are dropped).
//
// Thread-safety: every method may be called from any thread (one mutex; Record takes it once).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/ticket_store.h"

namespace desk {

// One decided message, as the adapter logged it.
struct MessageSample {
  int64_t now = 0;         // seconds since the epoch at the decision
  std::string verdict;     // "accept", "reject", "tempfail", "hold", "discard"
  std::string kind;        // Decision::kind ("" = "none")
  std::string queue;       // "" = "none" (a failure before routing)
  std::string auto_class;  // "" for a person's mail (not counted)
  std::string auto_rule;
  std::string failure;  // error class name ("store", "scanner", ...); "" = none
  struct Attachment {
    std::string outcome;  // what was found: "allowed", "infected", "refused_type", ...
    std::string action;   // what was done: "accept", "strip", "reject", "hold", ...
    std::string virus;    // "" = none found
  };
  std::vector<Attachment> attachments;
  std::optional<double> eom_seconds;  // end of headers to decision; nullopt when not measured
};

struct MetricsLimits {
  size_t max_series = 500;       // label sets per family
  size_t max_virus_names = 100;  // distinct virus names; then "other"
};

// The verdicts of the per-minute counts, in the order of MinuteCount::counts; anything else is
// counted in the last slot, "other".
inline constexpr std::string_view kMinuteVerdicts[] = {"accept", "reject",  "tempfail",
                                                       "hold",   "discard", "other"};
inline constexpr size_t kMinuteVerdictCount = std::size(kMinuteVerdicts);

// The upper bounds (seconds) of the end-of-message latency histogram buckets; +Inf is implied.
inline constexpr double kEomBuckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                         1,     2.5,  5,     10,   30,  60};

class Metrics {
 public:
  static constexpr size_t kMaxLabelBytes = 128;
  static constexpr size_t kMaxPendingMinutes = 180;

  explicit Metrics(MetricsLimits limits = {});
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  void Record(const MessageSample& s);

  // Gauges the adapter samples (at scrape time). Unset gauges are not rendered.
  void SetStoreUsage(uint64_t map_bytes, uint64_t used_bytes);
  // version: the official database version (0 without daily/main .cvd/.cld); time: when the
  // database was built (seconds since the epoch), see VirusScanner::database_time().
  void SetScannerDatabase(uint64_t version, int64_t time, uint64_t signatures);
  // failed: database reloads that failed since the scanner was created (ScannerHolder::
  // failed_reload_count); stale: the last reload failed (ScannerHolder::database_stale).
  void SetScannerReloads(uint64_t failed, bool stale);
  // Messages waiting in the outbox (milter/outbox_worker.h sets it at each look);
  // deskmilter_outbox_messages is not rendered until it is first set.
  void SetOutboxLength(uint64_t messages);
  void SetStartTime(int64_t start_time);

  // The whole registry in the Prometheus text exposition format (version 0.0.4). now (seconds
  // since the epoch) gives deskmilter_scanner_database_age_seconds.
  std::string RenderPrometheus(int64_t now) const;

  // The per-minute counts recorded since the last call, oldest minute first; they are forgotten
  // here. Give them back with ReturnMinuteCounts when they could not be stored.
  std::vector<MinuteCount> TakeMinuteCounts();
  void ReturnMinuteCounts(const std::vector<MinuteCount>& counts);

 private:
  struct Family {
    std::vector<std::string> label_names;
    size_t max_series = 0;
    std::map<std::vector<std::string>, uint64_t> series;
  };
  static void Inc(Family* f, std::vector<std::string> values);
  void AddMinute(int64_t minute, size_t verdict, uint64_t n);  // with mu_ held

  const MetricsLimits limits_;
  mutable std::mutex mu_;
  Family messages_, auto_mail_, attachments_, viruses_, failures_;  // guarded by mu_
  uint64_t eom_buckets_[std::size(kEomBuckets)] = {};         // guarded by mu_; not cumulative
  uint64_t eom_count_ = 0;                                    // guarded by mu_
  double eom_sum_ = 0;                                        // guarded by mu_
  std::map<int64_t, std::vector<uint64_t>> pending_minutes_;  // guarded by mu_
  std::optional<std::pair<uint64_t, uint64_t>> store_usage_;  // guarded by mu_
  struct ScannerDb {
    uint64_t version = 0;
    int64_t time = 0;
    uint64_t signatures = 0;
  };
  std::optional<ScannerDb> scanner_;   // guarded by mu_
  std::optional<std::pair<uint64_t, bool>> scanner_reloads_;  // guarded by mu_
  std::optional<uint64_t> outbox_;     // guarded by mu_
  std::optional<int64_t> start_time_;  // guarded by mu_
};

// A label value as Prometheus text wants it inside quotes: \ " and newline escaped.
std::string EscapeLabelValue(std::string_view v);

}  // namespace desk
