// systemd service notification (sd_notify) and the two counters its STATUS= line shows.
//
// Under systemd with Type=notify, NOTIFY_SOCKET names a unix datagram socket; deskmilter tells it:
//   READY=1                       the milter socket listens and the first Engine is published
//   RELOADING=1 + MONOTONIC_USEC  a SIGHUP reload starts (MONOTONIC_USEC is what systemd 253+'s
//                                 Type=notify-reload wants; older systemd ignores it)
//   READY=1                       the reload is done, whether it succeeded or kept the old config
//   STOPPING=1                    a stop has begun (open connections are drained afterwards)
//   STATUS=...                    "N mails handled, M tickets created", refreshed from the
//                                 main loop, or the reason start-up failed
//   WATCHDOG=1                    from the main loop, every half of WATCHDOG_USEC (WatchdogSec=);
//                                 only when systemd asked for it
// Without NOTIFY_SOCKET every call here is a no-op; a notification that cannot be sent is ignored
// (systemd then restarts or times out the unit, which is the point).
//
// Counters: mails handled (every logged decision: ticket, pass-through by policy, failure action)
// and tickets created. Two relaxed atomics, bumped by the libmilter worker threads once per
// message; a metrics registry may read them through MailsHandled()/TicketsCreated().
//
// Thread-safety: every function may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace desk::milter {

// One message decided (and logged); ticket_created when its decision made a new ticket.
void CountMail(bool ticket_created);
uint64_t MailsHandled();
uint64_t TicketsCreated();

// "N mails handled, M tickets created".
std::string StatusText();

void NotifyReady();
void NotifyReloading();
void NotifyStopping();
// STATUS= with StatusText(), only when it changed since the last call (or force).
void NotifyStatus(bool force = false);
// STATUS= with a start-up failure.
void NotifyFailure(const std::string& reason);
void NotifyWatchdog();

// How often the main loop must ping the watchdog: half of WATCHDOG_USEC, or zero when systemd did
// not ask for a watchdog (WATCHDOG_USEC unset, or WATCHDOG_PID names another process).
std::chrono::microseconds WatchdogInterval();

}  // namespace desk::milter
