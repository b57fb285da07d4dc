// `deskctl forget ADDRESS [--dry-run]`: erase a person's data from the store (core/forget.h).
//
// Reads every ticket once: tickets that hold the person are planned, and every message's blobs are
// counted, so a blob (an original or attachment) is deleted only when no message left after the
// rewrite references it. Each affected ticket is rewritten in one store transaction with a
// "forgotten" event; then unreferenced blobs are deleted and the ticket's PDF transcript is rebuilt
// (queues with transcript = "pdf") or removed. --dry-run prints the same lines, prefixed
// "would", and changes nothing. The output never prints the message contents it removes.
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <map>

#include "core/attachment_stage.h"
#include "core/forget.h"
#include "core/record_store.h"
#include "core/transcript_pdf.h"
#include "deskctl/commands.h"

namespace desk::ctl {

int RunForget(const std::string& config_path, const std::string& address, bool dry_run) {
  Context ctx;
  int rc = OpenContext(config_path, StoreMode::kIfExists, &ctx);
  if (rc != kExitOk) return rc;
  if (address.find('@') == std::string::npos) {
    std::fprintf(stderr, "deskctl: forget: \"%s\" is not an address\n", address.c_str());
    return kExitUsage;
  }
  const char* would = dry_run ? "would " : "";
  if (ctx.store == nullptr) {
    std::printf("forget: no store, nothing to do\n");
    return kExitOk;
  }
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  std::vector<Ticket> tickets;
  Status st = ctx.store->ListTickets({}, &tickets);
  if (!st.ok()) {
    std::fprintf(stderr, "deskctl: %s\n", st.ToString().c_str());
    return kExitFailure;
  }
  std::map<std::string, int> refs;  // blob -> messages referencing it after the rewrite
  std::vector<ForgetPlan> plans;
  for (const Ticket& t : tickets) {
    std::vector<TicketMessage> messages;
    std::vector<TicketEvent> events;
    st = ctx.store->GetMessages(t.number, &messages);
    if (st.ok()) st = ctx.store->GetEvents(t.number, &events);
    if (!st.ok()) {
      std::fprintf(stderr, "deskctl: ticket %llu: %s\n", static_cast<unsigned long long>(t.number),
                   st.ToString().c_str());
      return kExitFailure;
    }
    ForgetPlan plan;
    const bool touched = PlanForget(address, t, messages, events, now, &plan);
    for (const TicketMessage& m : messages) {
      bool removed = false;
      if (touched) {
        for (uint32_t seq : plan.removed_messages) removed = removed || seq == m.seq;
      }
      if (removed) continue;
      for (const std::string& b : MessageBlobs(m)) ++refs[b];
    }
    if (touched) plans.push_back(std::move(plan));
  }

  const std::string store_dir = AttachmentStoreDir(*ctx.config);
  size_t blobs_deleted = 0, blobs_kept = 0;
  for (const ForgetPlan& p : plans) {
    std::printf("ticket %llu: %s%s %zu message(s)%s\n", static_cast<unsigned long long>(p.ticket),
                would, "remove", p.removed_messages.size(),
                p.requester ? ", requester, title and description" : "");
    if (!dry_run) {
      st = ctx.store->Redact(p.ticket, p.fields, p.messages, p.events, {p.note}, now);
      if (!st.ok()) {
        std::fprintf(stderr, "deskctl: ticket %llu: %s\n",
                     static_cast<unsigned long long>(p.ticket), st.ToString().c_str());
        return kExitFailure;
      }
    }
  }
  std::map<std::string, bool> seen;
  for (const ForgetPlan& p : plans) {
    for (const std::string& b : p.blobs) {
      if (seen[b]) continue;
      seen[b] = true;
      if (refs[b] > 0) {
        ++blobs_kept;
        continue;
      }
      std::printf("blob %s: %sdelete\n", b.c_str(), would);
      ++blobs_deleted;
      const std::string path = BlobRefPath(store_dir, b);
      if (!dry_run && !path.empty()) ::unlink(path.c_str());
    }
    const std::string pdf = TranscriptPath(store_dir, p.ticket);
    if (::access(pdf.c_str(), F_OK) != 0) continue;
    bool rebuild = false;
    for (const QueueConfig& q : ctx.config->queues) {
      rebuild = rebuild || (q.name == p.fields.queue && q.transcript == "pdf");
    }
    std::printf("transcript %s: %s%s\n", pdf.c_str(), would, rebuild ? "rebuild" : "delete");
    if (dry_run) continue;
    ::unlink(pdf.c_str());
    if (rebuild) {
      Ticket t;
      std::vector<TicketMessage> messages;
      std::vector<TicketEvent> events;
      st = ctx.store->GetTicket(p.ticket, &t);
      if (st.ok()) st = ctx.store->GetMessages(p.ticket, &messages);
      if (st.ok()) st = ctx.store->GetEvents(p.ticket, &events);
      if (st.ok()) st = WriteTranscriptPdf(t, messages, events, pdf);
      if (!st.ok()) std::fprintf(stderr, "deskctl: %s\n", st.ToString().c_str());
    }
  }
  std::printf("forget: %s%zu ticket(s), %zu blob(s) %s, %zu blob(s) kept (referenced by other "
              "messages)\n",
              dry_run ? "dry run, " : "", plans.size(), blobs_deleted,
              dry_run ? "to delete" : "deleted", blobs_kept);
  return kExitOk;
}

}  // namespace desk::ctl
