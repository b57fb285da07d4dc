// `deskctl forget ADDRESS [--dry-run] [--json]`: erase a person's data from the store
// (core/forget.h).
//
// Reads every ticket once: tickets that hold the person are planned, and every message's blobs are
// counted, so a blob (an original or attachment) is deleted only when no message left after the
// rewrite references it. Each affected ticket is rewritten in one store transaction with a
// "forgotten" event; then unreferenced blobs are deleted and the ticket's PDF transcript is rebuilt
// (queues with transcript = "pdf") or removed. Queued outbox mail that holds the person is deleted
// in the ticket's transaction (PlanForgetOutbox), rows outside the changed tickets in one more.
// --dry-run prints the same lines, prefixed "would", and changes nothing; --json prints one summary
// object instead of the lines. The output never prints the message contents it removes.
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <map>

#include "core/attachment_stage.h"
#include "core/forget.h"
#include "core/record_store.h"
#include "core/transcript_pdf.h"
#include "deskctl/commands.h"
#include "deskctl/json_output.h"

namespace desk::ctl {

int RunForget(const std::string& config_path, const std::string& address, bool dry_run, bool json) {
  Context ctx;
  int rc = OpenContext(config_path, StoreMode::kIfExists, &ctx);
  if (rc != kExitOk) return rc;
  if (address.find('@') == std::string::npos) {
    std::fprintf(stderr, "deskctl: forget: \"%s\" is not an address\n", address.c_str());
    return kExitUsage;
  }
  const char* would = dry_run ? "would " : "";
  Json summary = Json::object();
  summary["dry_run"] = dry_run;
  summary["tickets"] = Json::array();
  summary["messages"] = 0;
  summary["blobs_deleted"] = 0;
  summary["blobs_kept"] = 0;
  summary["transcripts"] = 0;
  summary["outbox_removed"] = 0;
  if (ctx.store == nullptr) {
    if (json) {
      std::printf("%s\n", Dump(summary).c_str());
    } else {
      std::printf("forget: no store, nothing to do\n");
    }
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
  std::vector<OutboxMail> outbox;
  st = ctx.store->GetOutbox(&outbox);
  if (!st.ok()) {
    std::fprintf(stderr, "deskctl: outbox: %s\n", st.ToString().c_str());
    return kExitFailure;
  }
  const std::vector<uint64_t> other_outbox = PlanForgetOutbox(address, outbox, &plans);

  const std::string store_dir = AttachmentStoreDir(*ctx.config);
  size_t blobs_deleted = 0, blobs_kept = 0, messages = 0, transcripts = 0, outbox_removed = 0;
  for (const ForgetPlan& p : plans) {
    size_t removed = p.outbox.size();
    if (!dry_run) {
      st = ctx.store->Redact(p.ticket, p.fields, p.messages, p.events, {p.note}, p.outbox, now,
                             &removed);
      if (!st.ok()) {
        std::fprintf(stderr, "deskctl: ticket %llu: %s\n",
                     static_cast<unsigned long long>(p.ticket), st.ToString().c_str());
        return kExitFailure;
      }
    }
    if (!json) {
      std::printf("ticket %llu: %sremove %zu message(s)%s",
                  static_cast<unsigned long long>(p.ticket), would, p.removed_messages.size(),
                  p.requester ? ", requester, title and description" : "");
      if (removed > 0) std::printf(", %zu queued outbox mail(s)", removed);
      std::printf("\n");
    }
    summary["tickets"].push_back(p.ticket);
    messages += p.removed_messages.size();
    outbox_removed += removed;
  }
  if (!other_outbox.empty()) {
    size_t removed = other_outbox.size();
    if (!dry_run) {
      st = ctx.store->DeleteOutbox(other_outbox, &removed);
      if (!st.ok()) {
        std::fprintf(stderr, "deskctl: outbox: %s\n", st.ToString().c_str());
        return kExitFailure;
      }
    }
    if (!json) {
      std::printf("outbox: %sremove %zu queued mail(s) of no changed ticket\n", would, removed);
    }
    outbox_removed += removed;
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
      if (!json) std::printf("blob %s: %sdelete\n", b.c_str(), would);
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
    if (!json) {
      std::printf("transcript %s: %s%s\n", pdf.c_str(), would, rebuild ? "rebuild" : "delete");
    }
    ++transcripts;
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
  summary["messages"] = messages;
  summary["blobs_deleted"] = blobs_deleted;
  summary["blobs_kept"] = blobs_kept;
  summary["transcripts"] = transcripts;
  summary["outbox_removed"] = outbox_removed;
  if (json) {
    std::printf("%s\n", Dump(summary).c_str());
    return kExitOk;
  }
  std::printf("forget: %s%zu ticket(s), %zu blob(s) %s, %zu blob(s) kept (referenced by other "
              "messages), %zu queued outbox mail(s) %s\n",
              dry_run ? "dry run, " : "", plans.size(), blobs_deleted,
              dry_run ? "to delete" : "deleted", blobs_kept, outbox_removed,
              dry_run ? "to remove" : "removed");
  return kExitOk;
}

}  // namespace desk::ctl
