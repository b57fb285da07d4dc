// The transcript worker (see the header).
#include "milter/transcript_worker.h"

#include <sys/stat.h>

#include <cerrno>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <thread>

#include "core/attachment_stage.h"
#include "core/record_store.h"
#include "core/transcript_pdf.h"
#include "milter/log.h"

namespace desk::milter {
namespace {

struct Job {
  std::shared_ptr<const Engine> engine;
  uint64_t ticket = 0;
};

class Worker {
 public:
  void Enqueue(Job job) {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    if (pending_.count(job.ticket) != 0) return;  // one PDF covers both messages
    if (jobs_.size() >= kMaxPendingTranscripts) {
      LogWarning("transcript: " + std::to_string(job.ticket) + ": skipped, " +
                 std::to_string(jobs_.size()) + " transcripts pending");
      return;
    }
    pending_.insert(job.ticket);
    jobs_.push_back(std::move(job));
    if (!thread_.joinable()) thread_ = std::thread([this] { Loop(); });
    cv_.notify_one();
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopped_ = true;
      jobs_.clear();
      pending_.clear();
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Loop() {
    for (;;) {
      Job job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stopped_ || !jobs_.empty(); });
        if (stopped_) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
        pending_.erase(job.ticket);
      }
      Write(job);
    }
  }

  static void Write(const Job& job) {
    TicketStore* store = job.engine->store();
    if (store == nullptr) return;
    Ticket t;
    std::vector<TicketMessage> messages;
    std::vector<TicketEvent> events;
    Status st = store->GetTicket(job.ticket, &t);
    if (st.ok()) st = store->GetMessages(job.ticket, &messages);
    if (st.ok()) st = store->GetEvents(job.ticket, &events);
    const std::string dir = AttachmentStoreDir(job.engine->config());
    const std::string path = TranscriptPath(dir, job.ticket);
    if (st.ok()) {
      for (const std::string& d : {dir, TranscriptDir(dir)}) {
        if (::mkdir(d.c_str(), 0750) != 0 && errno != EEXIST) {
          st = Status::Store("cannot create " + d);
          break;
        }
      }
    }
    if (st.ok()) st = WriteTranscriptPdf(t, messages, events, path);
    if (!st.ok()) {
      LogError("transcript: ticket=" + std::to_string(job.ticket) + ", error=" + st.ToString());
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  std::set<uint64_t> pending_;
  bool stopped_ = false;
  std::thread thread_;
};

Worker& TheWorker() {
  static Worker* w = new Worker();  // never destroyed: StopTranscriptWorker ends its thread
  return *w;
}

}  // namespace

void EnqueueTranscript(const std::shared_ptr<const Engine>& engine, const Decision& d) {
  if (engine == nullptr || !d.ticket || d.queue.empty()) return;
  if (d.ticket_action != "created" && d.ticket_action != "appended" &&
      d.ticket_action != "reopened" && d.ticket_action != "event") {
    return;
  }
  for (const QueueConfig& q : engine->config().queues) {
    if (q.name == d.queue && q.transcript == "pdf") {
      TheWorker().Enqueue({engine, *d.ticket});
      return;
    }
  }
}

void StopTranscriptWorker() { TheWorker().Stop(); }

}  // namespace desk::milter
