// See notify.h.
#include "milter/notify.h"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <atomic>
#include <mutex>

namespace desk::milter {
namespace {

std::atomic<uint64_t> g_mails{0};
std::atomic<uint64_t> g_tickets{0};

std::mutex g_status_mu;
std::string g_last_status;  // guarded by g_status_mu

}  // namespace

void CountMail(bool ticket_created) {
  g_mails.fetch_add(1, std::memory_order_relaxed);
  if (ticket_created) g_tickets.fetch_add(1, std::memory_order_relaxed);
}

uint64_t MailsHandled() { return g_mails.load(std::memory_order_relaxed); }
uint64_t TicketsCreated() { return g_tickets.load(std::memory_order_relaxed); }

std::string StatusText() {
  return std::to_string(MailsHandled()) + " mails handled, " + std::to_string(TicketsCreated()) +
         " tickets created";
}

void NotifyReady() { sd_notify(0, "READY=1"); }

void NotifyReloading() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  uint64_t usec =
      static_cast<uint64_t>(ts.tv_sec) * 1000000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
  std::string msg = "RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec);
  sd_notify(0, msg.c_str());
}

void NotifyStopping() { sd_notify(0, "STOPPING=1"); }

void NotifyStatus(bool force) {
  std::string text = StatusText();
  {
    std::lock_guard<std::mutex> lock(g_status_mu);
    if (!force && text == g_last_status) return;
    g_last_status = text;
  }
  sd_notify(0, ("STATUS=" + text).c_str());
}

void NotifyFailure(const std::string& reason) {
  // STATUS= ends at a newline: keep the first line of the reason.
  std::string line = reason.substr(0, reason.find('\n'));
  sd_notify(0, ("STATUS=failed: " + line).c_str());
}

void NotifyWatchdog() { sd_notify(0, "WATCHDOG=1"); }

std::chrono::microseconds WatchdogInterval() {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::chrono::microseconds(0);
  return std::chrono::microseconds(usec / 2);
}

}  // namespace desk::milter
