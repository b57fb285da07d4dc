// The daemon's metrics (docs/METRICS.md): the process-wide registry (core/metrics.h), the thread
// that flushes per-minute mail counts to the store for `deskctl stats`, and the optional HTTP
// listener (milter/metrics_http.h).
//
// The per-minute counts are written by the flush thread every metrics.flush_seconds, in one store
// write whatever the number of messages: the per-message path never writes them. A crash loses at
// most the last flush interval's counts (the tickets themselves are unaffected). Stored minutes
// older than kKeepMinutes are dropped by the same write.
//
// Thread-safety: StartMetrics and StopMetrics from the main thread (before and after the milter
// runs); RecordMessage from any thread, and a no-op before StartMetrics.
#pragma once

#include <functional>
#include <memory>

#include "core/config.h"
#include "core/metrics.h"
#include "core/status.h"
#include "core/ticket_store.h"
#include "core/virus_scanner.h"

namespace desk::milter {

inline constexpr int64_t kKeepMinutes = 24 * 60;

// Counts one decided message (from the one place that logs decisions, milter/filter.cc).
void RecordMessage(const MessageSample& sample);

struct MetricsSources {
  TicketStore* store = nullptr;  // outlives StopMetrics
  // The current virus scanner; null when scanning is off or the scanner is busy reloading (the
  // scanner gauges then keep their last values).
  std::function<std::shared_ptr<ScannerHolder>()> scanner;
};

// The outbox worker's count of queued mails (deskmilter_outbox_messages); a no-op before
// StartMetrics.
void SetOutboxLength(uint64_t messages);

// Creates the registry with config's [metrics] limits, starts the flush thread and, when
// metrics.http_enabled, the HTTP listener. A listener that cannot bind is returned as an error
// naming metrics.http_address and the port (the daemon refuses to start: the admin asked for it).
Status StartMetrics(const Config& config, MetricsSources sources);
// Stops the listener and the flush thread, then flushes what is pending.
void StopMetrics();

}  // namespace desk::milter
