// `deskctl stats [--json]`: the last hour's mail per minute from the store, and the running
// daemon's counters from its metrics endpoint when [metrics] http_enabled is set (docs/METRICS.md).
//
// Two sources, because they answer different questions and each works without the other:
//   - the store's per-minute counts (written by the daemon every metrics.flush_seconds) need no
//     listener and survive restarts: they give the chart and the last hour's totals;
//   - the endpoint gives the live counters since the daemon started (by queue, kind, failure,
//   virus,
//     latency, scanner database). When it is off or unreachable, stats says so and still prints
//     the chart; the exit status is 0 as long as the store could be read.
// The store is opened without building the Engine, so stats never loads the virus database.
//
// Limits: the endpoint's answer is read for at most kHttpTimeout and kMaxAnswerBytes.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/loader.h"
#include "core/lmdb_store.h"
#include "core/metrics.h"
#include "deskctl/commands.h"
#include "deskctl/json_output.h"

namespace desk::ctl {
namespace {

constexpr int kMinutes = 60;
constexpr int kChartRows = 6;
constexpr size_t kMaxAnswerBytes = 16u << 20;
constexpr int kHttpTimeoutSeconds = 3;

struct PromSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// Parses the Prometheus text format (what deskmilter writes: no timestamps, no exemplars); lines
// that do not parse are skipped.
std::vector<PromSample> ParseProm(std::string_view text) {
  std::vector<PromSample> out;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (line.empty() || line[0] == '#') continue;
    PromSample s;
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    s.name = std::string(line.substr(0, i));
    bool ok = true;
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (ok && i < line.size() && line[i] != '}') {
        size_t eq = line.find('=', i);
        if (eq == std::string_view::npos || eq + 1 >= line.size() || line[eq + 1] != '"') {
          ok = false;
          break;
        }
        std::string key(line.substr(i, eq - i)), value;
        i = eq + 2;
        while (i < line.size() && line[i] != '"') {
          if (line[i] == '\\' && i + 1 < line.size()) {
            ++i;
            value += line[i] == 'n' ? '\n' : line[i];
          } else {
            value += line[i];
          }
          ++i;
        }
        if (i >= line.size()) ok = false;
        ++i;  // the closing quote
        if (i < line.size() && line[i] == ',') ++i;
        s.labels[key] = value;
      }
      ++i;  // '}'
    }
    if (!ok || i >= line.size()) continue;
    std::string rest(line.substr(i));
    char* end = nullptr;
    s.value = std::strtod(rest.c_str(), &end);
    if (end == rest.c_str()) continue;
    out.push_back(std::move(s));
  }
  return out;
}

// GETs http://address:port/metrics; "" and *error set on failure.
std::string FetchMetrics(const std::string& address, int port, std::string* error) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (address.find(':') != std::string::npos) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET6, address.c_str(), &a->sin6_addr) != 1) *error = "not an IP address";
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, address.c_str(), &a->sin_addr) != 1) *error = "not an IP address";
    len = sizeof *a;
  }
  if (!error->empty()) return "";
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = std::string("socket: ") + std::strerror(errno);
    return "";
  }
  timeval tv{kHttpTimeoutSeconds, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);  // bounds connect() too on Linux
  std::string answer;
  if (connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    *error = std::string("connect: ") + std::strerror(errno);
  } else {
    const std::string req = "GET /metrics HTTP/1.0\r\nHost: deskmilter\r\n\r\n";
    if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
      *error = std::string("send: ") + std::strerror(errno);
    }
    const time_t deadline = std::time(nullptr) + kHttpTimeoutSeconds;
    char buf[16384];
    while (error->empty()) {
      ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) *error = std::string("recv: ") + std::strerror(errno);
      if (n <= 0) break;
      answer.append(buf, static_cast<size_t>(n));
      if (answer.size() > kMaxAnswerBytes) *error = "answer larger than 16 MiB";
      if (std::time(nullptr) > deadline) *error = "answer took too long";
    }
  }
  close(fd);
  if (!error->empty()) return "";
  size_t body = answer.find("\r\n\r\n");
  if (answer.rfind("HTTP/1.", 0) != 0 || body == std::string::npos) {
    *error = "not an HTTP answer";
    return "";
  }
  std::string status = answer.substr(9, answer.find("\r\n") - 9);
  if (status.rfind("200", 0) != 0) {
    *error = "HTTP " + status;
    return "";
  }
  return answer.substr(body + 4);
}

std::string Bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", b, units[u]);
  return buf;
}

std::string Duration(int64_t s) {
  char buf[32];
  if (s < 120)
    std::snprintf(buf, sizeof buf, "%" PRId64 " s", s);
  else if (s < 7200)
    std::snprintf(buf, sizeof buf, "%" PRId64 " min", s / 60);
  else if (s < 2 * 86400)
    std::snprintf(buf, sizeof buf, "%" PRId64 " h", s / 3600);
  else
    std::snprintf(buf, sizeof buf, "%" PRId64 " days", s / 86400);
  return buf;
}

// counts[i] for minute (now_minute - kMinutes + 1 + i), by verdict.
using Hour = std::vector<std::vector<uint64_t>>;

uint64_t Total(const std::vector<uint64_t>& v) {
  uint64_t t = 0;
  for (uint64_t n : v) t += n;
  return t;
}

// A bar chart, one column per minute, kChartRows rows of eighth blocks.
std::string Chart(const Hour& hour) {
  uint64_t max = 0;
  for (const auto& m : hour) max = std::max(max, Total(m));
  static const char* kBlocks[] = {" ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  const std::string top = std::to_string(max);
  const size_t w = std::max<size_t>(top.size(), 1);
  std::string out;
  for (int row = kChartRows - 1; row >= 0; --row) {
    std::string label = row == kChartRows - 1 ? top : (row == 0 ? "0" : "");
    out += "  " + std::string(w - label.size(), ' ') + label + " |";
    for (const auto& m : hour) {
      uint64_t t = Total(m);
      // Eighths of the chart's height, at least one for a minute with mail.
      uint64_t level = max == 0 ? 0 : (t * kChartRows * 8 + max - 1) / max;
      int64_t cell = static_cast<int64_t>(level) - row * 8;
      out += kBlocks[std::clamp<int64_t>(cell, 0, 8)];
    }
    out += "\n";
  }
  out += "  " + std::string(w, ' ') + " +" + std::string(kMinutes, '-') + "\n";
  out += "  " + std::string(w, ' ') + "  -60 min" + std::string(kMinutes - 11, ' ') + "now\n";
  return out;
}

// "a 3, b 1" from the samples of one metric summed by one label, largest first.
std::vector<std::pair<std::string, double>> SumBy(const std::vector<PromSample>& samples,
                                                  const std::string& name,
                                                  const std::string& label) {
  std::map<std::string, double> sums;
  for (const PromSample& s : samples) {
    if (s.name != name) continue;
    auto it = s.labels.find(label);
    sums[it == s.labels.end() ? "" : it->second] += s.value;
  }
  std::vector<std::pair<std::string, double>> out(sums.begin(), sums.end());
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  return out;
}

std::string List(const std::vector<std::pair<std::string, double>>& v) {
  if (v.empty()) return "none";
  std::string out;
  for (const auto& [k, n] : v) {
    if (!out.empty()) out += ", ";
    out += k + " " + std::to_string(static_cast<uint64_t>(std::llround(n)));
  }
  return out;
}

std::optional<double> Value(const std::vector<PromSample>& samples, const std::string& name) {
  for (const PromSample& s : samples) {
    if (s.name == name) return s.value;
  }
  return std::nullopt;
}

}  // namespace

int RunStats(const std::string& config_path, bool json) {
  std::shared_ptr<const Config> config;
  Status st = config::LoadFile(config_path, &config);
  if (!st.ok()) {
    std::fprintf(stderr, "deskctl: %s\n", st.message().c_str());
    return kExitConfig;
  }
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  const int64_t now_minute = now / 60;
  Hour hour(kMinutes, std::vector<uint64_t>(kMinuteVerdictCount, 0));
  std::optional<StoreUsage> usage;
  struct stat sb;
  if (::stat(config->store_dir.c_str(), &sb) == 0) {
    LmdbOptions lo;
    lo.dir = config->store_dir;
    if (config->store_map_mb > 0) lo.map_size = static_cast<uint64_t>(config->store_map_mb) << 20;
    std::unique_ptr<TicketStore> store;
    st = OpenLmdbTicketStore(lo, &store);
    std::vector<MinuteCount> minutes;
    if (st.ok()) st = store->GetMinuteCounts(now_minute - kMinutes + 1, now_minute, &minutes);
    if (!st.ok()) {
      std::fprintf(stderr, "deskctl: %s: %s\n", config->store_dir.c_str(), st.ToString().c_str());
      return kExitFailure;
    }
    for (const MinuteCount& m : minutes) {
      auto& slot = hour[static_cast<size_t>(m.minute - (now_minute - kMinutes + 1))];
      for (size_t i = 0; i < m.counts.size() && i < slot.size(); ++i) slot[i] += m.counts[i];
    }
    StoreUsage u;
    if (store->Usage(&u).ok()) usage = u;
  }
  std::vector<uint64_t> by_verdict(kMinuteVerdictCount, 0);
  for (const auto& m : hour) {
    for (size_t i = 0; i < m.size(); ++i) by_verdict[i] += m[i];
  }

  std::string url, error;
  std::vector<PromSample> samples;
  if (config->metrics_http_enabled) {
    const std::string& a = config->metrics_http_address;
    url = "http://" + (a.find(':') != std::string::npos ? "[" + a + "]" : a) + ":" +
          std::to_string(config->metrics_http_port) + "/metrics";
    std::string text = FetchMetrics(a, static_cast<int>(config->metrics_http_port), &error);
    if (error.empty()) samples = ParseProm(text);
  }

  if (json) {
    Json j;
    Json minutes = Json::array();
    for (int i = 0; i < kMinutes; ++i) {
      Json m;
      m["minute"] = (now_minute - kMinutes + 1 + i) * 60;
      m["total"] = Total(hour[i]);
      for (size_t v = 0; v < kMinuteVerdictCount; ++v)
        m[std::string(kMinuteVerdicts[v])] = hour[i][v];
      minutes.push_back(m);
    }
    j["last_hour"] = Json::object();
    j["last_hour"]["total"] = Total(by_verdict);
    for (size_t v = 0; v < kMinuteVerdictCount; ++v) {
      j["last_hour"][std::string(kMinuteVerdicts[v])] = by_verdict[v];
    }
    j["minutes"] = minutes;
    if (usage) {
      j["store"] = {{"map_bytes", usage->map_bytes}, {"used_bytes", usage->used_bytes}};
    } else {
      j["store"] = nullptr;
    }
    Json d;
    d["enabled"] = config->metrics_http_enabled;
    d["url"] = url.empty() ? Json(nullptr) : Json(url);
    d["error"] = error.empty() ? Json(nullptr) : Json(error);
    Json metrics = Json::array();
    for (const PromSample& s : samples) {
      Json labels = Json::object();
      for (const auto& [k, v] : s.labels) labels[k] = v;
      metrics.push_back({{"name", s.name}, {"labels", labels}, {"value", s.value}});
    }
    d["metrics"] = metrics;
    j["daemon"] = d;
    std::printf("%s\n", Dump(j).c_str());
    return kExitOk;
  }

  std::string out =
      "Mail decided per minute, last hour (from the store): " + std::to_string(Total(by_verdict)) +
      " message(s)\n";
  out += Chart(hour);
  out += "  ";
  for (size_t v = 0; v < kMinuteVerdictCount; ++v) {
    if (v == kMinuteVerdictCount - 1 && by_verdict[v] == 0) break;  // "other" only when seen
    out +=
        (v > 0 ? ", " : "") + std::string(kMinuteVerdicts[v]) + " " + std::to_string(by_verdict[v]);
  }
  out += "\n";
  if (usage) {
    char pct[32];
    std::snprintf(pct, sizeof pct, "%.1f %%",
                  usage->map_bytes == 0 ? 0.0 : 100.0 * usage->used_bytes / usage->map_bytes);
    out += "Store: " + Bytes(usage->used_bytes) + " used of a " + Bytes(usage->map_bytes) +
           " map (" + pct + ")\n";
  } else {
    out += "Store: " + config->store_dir + " does not exist yet\n";
  }
  out += "\n";
  if (!config->metrics_http_enabled) {
    out += "Daemon counters: the metrics listener is off ([metrics] http_enabled = false)\n";
  } else if (!error.empty()) {
    out += "Daemon counters: " + url + ": " + error + "\n";
  } else {
    out += "Daemon counters since start (" + url + "):\n";
    out +=
        "  by verdict:     " + List(SumBy(samples, "deskmilter_messages_total", "verdict")) + "\n";
    out += "  by queue:       " + List(SumBy(samples, "deskmilter_messages_total", "queue")) + "\n";
    out += "  by kind:        " + List(SumBy(samples, "deskmilter_messages_total", "kind")) + "\n";
    out +=
        "  automatic mail: " + List(SumBy(samples, "deskmilter_auto_mail_total", "class")) + "\n";
    out += "  attachments:    " + List(SumBy(samples, "deskmilter_attachments_total", "outcome")) +
           "\n";
    out += "  viruses:        " + List(SumBy(samples, "deskmilter_viruses_total", "name")) + "\n";
    out += "  failures:       " + List(SumBy(samples, "deskmilter_failures_total", "class")) + "\n";
    std::optional<double> count = Value(samples, "deskmilter_eom_duration_seconds_count");
    std::optional<double> sum = Value(samples, "deskmilter_eom_duration_seconds_sum");
    if (count && sum && *count > 0) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.0f timed, mean %.1f ms", *count, 1000 * *sum / *count);
      out += std::string("  end of message: ") + buf + "\n";
    }
    std::optional<double> version = Value(samples, "deskmilter_scanner_database_version");
    std::optional<double> age = Value(samples, "deskmilter_scanner_database_age_seconds");
    std::optional<double> sigs = Value(samples, "deskmilter_scanner_signatures");
    if (age) {
      out += "  virus database: version " +
             std::to_string(static_cast<uint64_t>(version.value_or(0))) + ", " +
             Duration(static_cast<int64_t>(*age)) + " old, " +
             std::to_string(static_cast<uint64_t>(sigs.value_or(0))) + " signatures" +
             (Value(samples, "deskmilter_scanner_database_stale").value_or(0) > 0
                  ? ", STALE: the last reload failed"
                  : "") +
             "\n";
    } else {
      out += "  virus database: scanning is off\n";
    }
  }
  std::fputs(out.c_str(), stdout);
  return kExitOk;
}

}  // namespace desk::ctl
