// See metrics.h. Series are kept in std::map so the text output is sorted and stable (tests compare
// it; Prometheus does not care).
#include "core/metrics.h"

#include <cinttypes>
#include <cstdio>

namespace desk {
namespace {

constexpr std::string_view kOther = "other";

// Printable, bounded label value; "" becomes "none" so every series has a visible value.
std::string LabelValue(std::string_view v) {
  if (v.empty()) return "none";
  std::string out;
  for (char c : v.substr(0, Metrics::kMaxLabelBytes)) {
    unsigned char u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? '_' : c;
  }
  return out;
}

size_t MinuteSlot(std::string_view verdict) {
  for (size_t i = 0; i + 1 < kMinuteVerdictCount; ++i) {
    if (kMinuteVerdicts[i] == verdict) return i;
  }
  return kMinuteVerdictCount - 1;
}

// Shortest form that reads back as the same double where that matters: "0.005", "2.5", "60".
std::string Number(double v, int digits = 17) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}

void Header(std::string* out, const char* name, const char* type, const char* help) {
  *out += "# HELP ";
  *out += name;
  *out += ' ';
  *out += help;
  *out += "\n# TYPE ";
  *out += name;
  *out += ' ';
  *out += type;
  *out += '\n';
}

void Gauge(std::string* out, const char* name, const char* help, const std::string& value) {
  Header(out, name, "gauge", help);
  *out += name;
  *out += ' ';
  *out += value;
  *out += '\n';
}

}  // namespace

std::string EscapeLabelValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

Metrics::Metrics(MetricsLimits limits) : limits_(limits) {
  messages_.label_names = {"queue", "kind", "verdict"};
  auto_mail_.label_names = {"class", "rule"};
  attachments_.label_names = {"outcome", "action"};
  viruses_.label_names = {"name"};
  failures_.label_names = {"class"};
  for (Family* f : {&messages_, &auto_mail_, &attachments_, &failures_}) {
    f->max_series = limits_.max_series;
  }
  viruses_.max_series = limits_.max_virus_names;
}

void Metrics::Inc(Family* f, std::vector<std::string> values) {
  for (std::string& v : values) v = LabelValue(v);
  auto it = f->series.find(values);
  if (it == f->series.end() && f->series.size() >= f->max_series) {
    // The cap: new label sets share one "other" series (which may itself be the one over the cap).
    for (std::string& v : values) v = std::string(kOther);
  }
  if (it != f->series.end()) {
    ++it->second;
  } else {
    ++f->series[std::move(values)];
  }
}

void Metrics::AddMinute(int64_t minute, size_t verdict, uint64_t n) {
  std::vector<uint64_t>& counts = pending_minutes_[minute];
  counts.resize(kMinuteVerdictCount, 0);
  counts[verdict] += n;
  while (pending_minutes_.size() > kMaxPendingMinutes)
    pending_minutes_.erase(pending_minutes_.begin());
}

void Metrics::Record(const MessageSample& s) {
  std::lock_guard<std::mutex> lock(mu_);
  Inc(&messages_, {s.queue, s.kind, s.verdict});
  if (!s.auto_class.empty()) Inc(&auto_mail_, {s.auto_class, s.auto_rule});
  if (!s.failure.empty()) Inc(&failures_, {s.failure});
  for (const MessageSample::Attachment& a : s.attachments) {
    Inc(&attachments_, {a.outcome, a.action});
    if (!a.virus.empty()) Inc(&viruses_, {a.virus});
  }
  if (s.eom_seconds) {
    const double v = *s.eom_seconds < 0 ? 0 : *s.eom_seconds;
    for (size_t i = 0; i < std::size(kEomBuckets); ++i) {
      if (v <= kEomBuckets[i]) {
        ++eom_buckets_[i];
        break;
      }
    }
    ++eom_count_;
    eom_sum_ += v;
  }
  if (s.now > 0) AddMinute(s.now / 60, MinuteSlot(s.verdict), 1);
}

void Metrics::SetStoreUsage(uint64_t map_bytes, uint64_t used_bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  store_usage_ = {map_bytes, used_bytes};
}

void Metrics::SetScannerDatabase(uint64_t version, int64_t time, uint64_t signatures) {
  std::lock_guard<std::mutex> lock(mu_);
  scanner_ = ScannerDb{version, time, signatures};
}

void Metrics::SetScannerReloads(uint64_t failed, bool stale) {
  std::lock_guard<std::mutex> lock(mu_);
  scanner_reloads_ = {failed, stale};
}

void Metrics::SetOutboxLength(uint64_t messages) {
  std::lock_guard<std::mutex> lock(mu_);
  outbox_ = messages;
}

void Metrics::SetStartTime(int64_t start_time) {
  std::lock_guard<std::mutex> lock(mu_);
  start_time_ = start_time;
}

std::vector<MinuteCount> Metrics::TakeMinuteCounts() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<MinuteCount> out;
  out.reserve(pending_minutes_.size());
  for (auto& [minute, counts] : pending_minutes_) out.push_back({minute, std::move(counts)});
  pending_minutes_.clear();
  return out;
}

void Metrics::ReturnMinuteCounts(const std::vector<MinuteCount>& counts) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const MinuteCount& m : counts) {
    for (size_t i = 0; i < m.counts.size() && i < kMinuteVerdictCount; ++i) {
      if (m.counts[i] > 0) AddMinute(m.minute, i, m.counts[i]);
    }
  }
}

std::string Metrics::RenderPrometheus(int64_t now) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  auto counters = [&out](const char* name, const char* help, const Family& f) {
    Header(&out, name, "counter", help);
    for (const auto& [values, n] : f.series) {
      out += name;
      out += '{';
      for (size_t i = 0; i < values.size(); ++i) {
        if (i > 0) out += ',';
        out += f.label_names[i] + "=\"" + EscapeLabelValue(values[i]) + '"';
      }
      out += "} " + std::to_string(n) + '\n';
    }
  };
  counters("deskmilter_messages_total",
           "Support and agent messages decided, by queue, kind and verdict.", messages_);
  counters("deskmilter_auto_mail_total",
           "Automatic mail (bounces, auto-replies, lists, loops, floods) by class and the rule "
           "that classified it.",
           auto_mail_);
  counters("deskmilter_attachments_total",
           "Attachments by what was found (outcome) and done (action).", attachments_);
  counters("deskmilter_viruses_total", "Attachments found infected, by signature name.", viruses_);
  counters("deskmilter_failures_total", "Messages decided by a failure action, by failure class.",
           failures_);

  const char* h = "deskmilter_eom_duration_seconds";
  Header(&out, h, "histogram", "Time from end of headers to the decision, per message.");
  uint64_t cumulative = 0;
  for (size_t i = 0; i < std::size(kEomBuckets); ++i) {
    cumulative += eom_buckets_[i];
    out += std::string(h) + "_bucket{le=\"" + Number(kEomBuckets[i], 6) + "\"} " +
           std::to_string(cumulative) + '\n';
  }
  out += std::string(h) + "_bucket{le=\"+Inf\"} " + std::to_string(eom_count_) + '\n';
  out += std::string(h) + "_sum " + Number(eom_sum_) + '\n';
  out += std::string(h) + "_count " + std::to_string(eom_count_) + '\n';

  if (store_usage_) {
    Gauge(&out, "deskmilter_store_map_bytes", "Size of the ticket store's LMDB map.",
          std::to_string(store_usage_->first));
    Gauge(&out, "deskmilter_store_used_bytes", "Bytes of the LMDB map in use.",
          std::to_string(store_usage_->second));
  }
  if (scanner_) {
    Gauge(&out, "deskmilter_scanner_database_version",
          "Version of the loaded official ClamAV database (daily); 0 without one.",
          std::to_string(scanner_->version));
    Gauge(&out, "deskmilter_scanner_database_timestamp_seconds",
          "When the loaded virus database was built (or its newest file written).",
          std::to_string(scanner_->time));
    Gauge(&out, "deskmilter_scanner_database_age_seconds",
          "Age of the loaded virus database at scrape time.", std::to_string(now - scanner_->time));
    Gauge(&out, "deskmilter_scanner_signatures", "Signatures in the loaded virus database.",
          std::to_string(scanner_->signatures));
  }
  if (scanner_reloads_) {
    const char* c = "deskmilter_scanner_database_reload_failures_total";
    Header(&out, c, "counter", "Virus database reloads that failed (the loaded one was kept).");
    out += std::string(c) + ' ' + std::to_string(scanner_reloads_->first) + '\n';
    Gauge(&out, "deskmilter_scanner_database_stale",
          "1 when the last virus database reload failed, 0 after a good one.",
          scanner_reloads_->second ? "1" : "0");
  }
  if (outbox_) {
    Gauge(&out, "deskmilter_outbox_messages", "Messages waiting in the outbox.",
          std::to_string(*outbox_));
  }
  if (start_time_) {
    Gauge(&out, "deskmilter_start_time_seconds", "When the daemon started.",
          std::to_string(*start_time_));
  }
  return out;
}

}  // namespace desk
