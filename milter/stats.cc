// See stats.h.
#include "milter/stats.h"

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <mutex>
#include <thread>

#include "milter/log.h"
#include "milter/metrics_http.h"

namespace desk::milter {
namespace {

// Set once by StartMetrics before the milter runs; read by every connection afterwards.
std::atomic<Metrics*> g_metrics{nullptr};
std::unique_ptr<Metrics> g_owned;
MetricsSources g_sources;
MetricsHttpServer g_http;

std::mutex g_flush_mu;
std::condition_variable g_flush_cv;
bool g_flush_stop = false;  // guarded by g_flush_mu
std::thread g_flush_thread;

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

}  // namespace

void SetOutboxLength(uint64_t messages) {
  if (Metrics* m = g_metrics.load()) m->SetOutboxLength(messages);
}

namespace {

// Writes the pending minute counts in one store write; gives them back on failure.
void Flush(Metrics* m) {
  std::vector<MinuteCount> counts = m->TakeMinuteCounts();
  if (counts.empty() || g_sources.store == nullptr) return;
  static bool failing = false;  // only the flush thread (and StopMetrics after it) flushes
  Status st = g_sources.store->AddMinuteCounts(counts, Now() / 60 - kKeepMinutes);
  if (!st.ok()) {
    m->ReturnMinuteCounts(counts);
    if (!failing) LogWarning("metrics: storing the per-minute counts failed: " + st.ToString());
    failing = true;
  } else {
    failing = false;
  }
}

// The gauges sampled at scrape time, then the text.
std::string Render(Metrics* m) {
  if (g_sources.store != nullptr) {
    StoreUsage usage;
    if (g_sources.store->Usage(&usage).ok()) m->SetStoreUsage(usage.map_bytes, usage.used_bytes);
  }
  if (g_sources.scanner) {
    if (std::shared_ptr<ScannerHolder> holder = g_sources.scanner()) {
      std::shared_ptr<const VirusScanner> s = holder->Get();
      m->SetScannerDatabase(s->database_version(), s->database_time(), s->signatures());
      m->SetScannerReloads(holder->failed_reload_count(), holder->database_stale());
    }
  }
  return m->RenderPrometheus(Now());
}

}  // namespace

void RecordMessage(const MessageSample& sample) {
  if (Metrics* m = g_metrics.load()) m->Record(sample);
}

Status StartMetrics(const Config& config, MetricsSources sources) {
  MetricsLimits limits;
  limits.max_series = static_cast<size_t>(config.metrics_max_series);
  limits.max_virus_names = static_cast<size_t>(config.metrics_max_virus_names);
  g_owned = std::make_unique<Metrics>(limits);
  g_owned->SetStartTime(Now());
  g_sources = std::move(sources);
  Metrics* m = g_owned.get();
  if (config.metrics_http_enabled) {
    Status st = g_http.Start(config.metrics_http_address,
                             static_cast<int>(config.metrics_http_port), [m] { return Render(m); });
    if (!st.ok()) return st;
    LogInfo("metrics at http://" +
            (config.metrics_http_address.find(':') != std::string::npos
                 ? "[" + config.metrics_http_address + "]"
                 : config.metrics_http_address) +
            ":" + std::to_string(config.metrics_http_port) + "/metrics");
  }
  g_metrics = m;
  const auto every = std::chrono::seconds(config.metrics_flush_seconds);
  g_flush_thread = std::thread([m, every] {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    std::unique_lock<std::mutex> lock(g_flush_mu);
    while (!g_flush_stop) {
      g_flush_cv.wait_for(lock, every, [] { return g_flush_stop; });
      lock.unlock();
      Flush(m);
      lock.lock();
    }
  });
  return Status::Ok();
}

void StopMetrics() {
  g_http.Stop();
  if (g_flush_thread.joinable()) {
    {
      std::lock_guard<std::mutex> lock(g_flush_mu);
      g_flush_stop = true;
    }
    g_flush_cv.notify_all();
    g_flush_thread.join();
  }
  // Connections may still run (a stop that timed out): the registry stays; only flush.
  if (Metrics* m = g_metrics.load()) Flush(m);
}

}  // namespace desk::milter
