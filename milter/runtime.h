// Process-wide state of the deskmilter daemon that the libmilter callbacks reach: the current
// Engine snapshot and the number of open milter connections.
//
// A connection takes the current snapshot once, at connect, and keeps it until it closes; a SIGHUP
// reload publishes a new snapshot (new Config and Engine over the same, still open, TicketStore)
// for connections opened afterwards. An Engine snapshot is freed when its last connection closes.
//
// Thread-safety: every function may be called from any thread.
#pragma once

#include <chrono>
#include <memory>

#include "core/engine.h"

namespace desk::milter {

// The Engine new connections use; nullptr before the first PublishEngine.
std::shared_ptr<const Engine> CurrentEngine();
void PublishEngine(std::shared_ptr<const Engine> engine);

// Open connections (connect seen, close not yet), for a clean shutdown.
void ConnectionOpened();
void ConnectionClosed();
// Waits until no connection is open or timeout passes; returns how many are still open.
int WaitForConnections(std::chrono::milliseconds timeout);

}  // namespace desk::milter
