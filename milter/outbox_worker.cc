// The outbox worker (see the header).
#include "milter/outbox_worker.h"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <mutex>
#include <thread>

#include "core/logline.h"
#include "core/outbox.h"
#include "core/smtp_client.h"
#include "milter/log.h"
#include "milter/runtime.h"
#include "milter/stats.h"

namespace desk::milter {
namespace {

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

class Worker {
 public:
  void Start(TicketStore* store) {
    std::lock_guard<std::mutex> lock(mu_);
    if (thread_.joinable() || stopped_) return;
    store_ = store;
    thread_ = std::thread([this] {
      sigset_t all;
      sigfillset(&all);
      pthread_sigmask(SIG_BLOCK, &all, nullptr);  // signals belong to the main thread
      Loop();
    });
  }

  void Wake() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      woken_ = true;
    }
    cv_.notify_one();
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopped_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  bool Stopped() {
    std::lock_guard<std::mutex> lock(mu_);
    return stopped_;
  }

  void Loop() {
    bool failing = false;
    while (!Stopped()) {
      int64_t wait = kOutboxIdleSeconds;
      std::shared_ptr<const Engine> engine = CurrentEngine();
      if (engine != nullptr) {
        std::vector<OutboxMail> mails;
        Status st = store_->GetOutbox(&mails);
        if (!st.ok()) {
          if (!failing) LogError("outbox: reading the outbox failed: " + st.ToString());
          failing = true;
        } else {
          failing = false;
          SetOutboxLength(mails.size());
          const SmtpTarget target = SmtpTargetFromConfig(engine->config());
          const RetryPolicy policy = RetryPolicyFromConfig(engine->config());
          bool any = false;
          for (const OutboxMail& m : mails) {
            if (Stopped()) return;
            if (m.due_at > Now()) continue;
            Attempt(target, policy, m);
            any = true;
          }
          if (any) continue;  // read again: the length, and what became due meanwhile
          const int64_t next = NextDue(mails);
          if (next != INT64_MAX) wait = std::clamp<int64_t>(next - Now(), 0, kOutboxIdleSeconds);
        }
      }
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::seconds(wait), [this] { return stopped_ || woken_; });
      woken_ = false;
    }
  }

  void Attempt(const SmtpTarget& target, const RetryPolicy& policy, const OutboxMail& m) {
    const SmtpResult r = SubmitSmtp(target, m);
    const OutboxStep step = NextOutboxStep(m, r, Now(), policy);
    Status st = step.finish
                    ? store_->FinishOutbox(m.seq, step.events, Now())
                    : store_->RescheduleOutbox(m.seq, step.due_at, step.attempts, step.error);
    const char* result = !step.finish ? "deferred" : (step.failed ? "failed" : "sent");
    std::string line =
        "outbox: seq=" + std::to_string(m.seq) + ", ticket=" + std::to_string(m.ticket) +
        ", message_id=" + LogEscape(m.message_id) +
        ", to=" + LogEscape(m.recipients.empty() ? std::string("-") : m.recipients.front()) +
        ", result=" + result +
        ", attempts=" + std::to_string(step.finish ? m.attempts + 1 : step.attempts) +
        ", detail=" + LogEscape(r.detail);
    if (!step.finish) line += ", next_in=" + std::to_string(step.due_at - Now()) + "s";
    if (step.failed) {
      LogWarning(line);
    } else {
      LogInfo(line);
    }
    if (!st.ok() && !st.IsNotFound()) {
      LogError("outbox: seq=" + std::to_string(m.seq) +
               ": updating the outbox failed: " + st.ToString());
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;  // guarded by mu_
  bool woken_ = false;    // guarded by mu_
  TicketStore* store_ = nullptr;
  std::thread thread_;
};

Worker& TheWorker() {
  static Worker* w = new Worker();  // never destroyed: StopOutboxWorker ends its thread
  return *w;
}

}  // namespace

void StartOutboxWorker(TicketStore* store) { TheWorker().Start(store); }
void WakeOutbox() { TheWorker().Wake(); }
void StopOutboxWorker() { TheWorker().Stop(); }

}  // namespace desk::milter
