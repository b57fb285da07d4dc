// Automatic answers (RFC 3834) and the PlanStep that runs the triggers (core/triggers.h).
//
// An automatic answer is an outbox mail (core/ticket_store.h OutboxItem) queued in the same write
// as the ticket change of the customer's mail that caused it:
//   - Auto-Submitted: auto-replied, null envelope sender (MAIL FROM:<>), From the queue's reply-via
//     address, In-Reply-To / References to the customer's mail, the ticket tag in the subject
//     (the queue's subject_tag), our loop stamp (X-Deskmilter-Loop) so a copy that comes back is a
//     loop, X-Auto-Response-Suppress: All so Exchange answers nothing;
//   - never to mail of an automatic class (bounce, auto_reply, list, own, loop; flood writes
//     nothing at all), never to a null envelope sender, never to one of our own addresses and
//     never to a no-reply-like address (AnswerRefusal);
//   - at most one per sender per queue per auto_answers.window and at most
//     auto_answers.max_per_ticket per ticket: limits the store checks inside the write, so two
//     mails at once cannot both pass;
//   - recorded on the ticket as an outbound message of kind "automatic", its Message-ID indexed
//     so the customer's reply to it threads into the ticket.
// The Message-ID is derived from the customer's Message-ID, the trigger and the action (an SMTP
// retry of the same mail is a duplicate and queues nothing; the answer keeps its id on every
// submission attempt).
//
// Thread-safety: TriggerStep is immutable after construction; the DeskState it holds must be
// thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/desk_state.h"
#include "core/pipeline.h"
#include "core/triggers.h"

namespace desk {

// Why an automatic answer to this mail must not be sent ("auto:bounce", "null_sender",
// "own_address", "noreply_address", "not_customer", "no_address", "unsafe_address": the
// requester's address cannot be written unquoted as one address), or "" when it may be.
std::string AnswerRefusal(const MessageContext& ctx);

// True for local parts that say nobody reads the mailbox or that it is a robot's: noreply,
// no-reply, do-not-reply, donotreply, mailer-daemon, postmaster, bounce(s), listserv, majordomo,
// owner-*, *-request, *-bounces, notification(s), auto-reply (RFC 3834 section 2 and common use).
bool IsNoReplyAddress(const std::string& address);

struct AutoAnswer {
  std::string from_name;     // the queue's display name
  std::string from_address;  // reply-via
  std::string to_name;
  std::string to_address;
  std::string subject;      // the customer's subject, decoded (our tags removed)
  std::string subject_tag;  // the queue's tag format with "{n}", "" for none
  std::string body;         // UTF-8 text; untrusted parts already without control characters
  std::string message_id;   // ours, no brackets
  std::string in_reply_to;  // the customer's Message-ID, no brackets
  std::vector<std::string> references;  // the customer's References, oldest first
  std::string loop_header, loop_stamp;
  int64_t now = 0;
};

// The outbox item of an answer: the RFC 5322 message (kTicketNumberMarker for the ticket number)
// and the outbound message recorded on the ticket.
OutboxItem BuildAutoAnswer(const AutoAnswer& a);

// The PlanStep: the enabled triggers of the mail's event, read from the store for each message
// (so deskctl's changes apply at once), matched against the facts, their actions planned.
// Stores the default triggers (inactive) the first time it runs on a store (TicketStore::
// SeedTriggers): the daemon calls it at start.
Status SeedDefaultTriggers(TicketStore* store);

class TriggerStep : public PlanStep {
 public:
  explicit TriggerStep(std::shared_ptr<const DeskState> state) : state_(std::move(state)) {}
  const char* name() const override { return "triggers"; }
  Status Plan(MessageContext& ctx) const override;

 private:
  std::shared_ptr<const DeskState> state_;
};

}  // namespace desk
