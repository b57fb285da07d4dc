// forget: what forgetting a person (a data-subject erasure request) changes on one ticket.
//
// Pure planner: given an address and a ticket with its messages and events, says which records to
// rewrite and which stored blobs (originals, attachments) the rewritten messages no longer
// reference. The caller (deskctl forget) applies the plan with TicketStore::Redact, deletes a blob
// only when no message left in the store still references it, and removes or rebuilds the PDF.
//
// What goes:
//  - On a ticket the person opened (requester): every message, both directions (agents' replies
//    quote the customer): subject, body, From/To/Cc, envelope sender, attachments and original;
//    the ticket's title, description and requester.
//  - On any other ticket: the messages the person sent (From or envelope sender), as above; the
//    person's address in the To/Cc of the other messages.
//  - Everywhere: the address in the participants, and the text of events that mention the address
//    (and, on the person's own tickets, every event text but the mid: URLs of latest_email).
//  - The outbox: mail queued but not yet sent (automatic answers, notifications) that holds the
//    person: every row of a ticket the person opened, and anywhere else a row the person sends,
//    receives or whose message names the address (PlanForgetOutbox). The rows of a ticket go in
//    its Redact transaction; rows outside the changed tickets with TicketStore::DeleteOutbox.
// What stays: ticket numbers, message and event sequence, directions, kinds, Message-IDs (threading
// and duplicate detection keep working), times, sizes, support addresses, agents. One "forgotten"
// event is added saying what was removed, without naming the person.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/ticket.h"
#include "core/ticket_store.h"

namespace desk {

inline constexpr const char* kForgottenText = "[forgotten]";

struct ForgetPlan {
  uint64_t ticket = 0;
  bool requester = false;  // the person opened the ticket
  Ticket fields;           // the ticket's new fields
  std::vector<TicketMessage> messages;  // rewritten messages (only those that change)
  std::vector<uint32_t> removed_messages;  // seqs whose content goes
  std::vector<TicketEvent> events;      // rewritten events (only those that change)
  // Blobs the removed messages held, as "original:<sha256>" / "attachment:<sha256>", sorted.
  std::vector<std::string> blobs;
  TicketEvent note;                     // the "forgotten" event to add
  std::vector<uint64_t> outbox;         // seqs of the ticket's outbox rows to delete, sorted
};

// false when the ticket holds nothing of address (then *plan is untouched).
bool PlanForget(const std::string& address, const Ticket& t,
                const std::vector<TicketMessage>& messages, const std::vector<TicketEvent>& events,
                int64_t now, ForgetPlan* plan);

// Whether a queued mail holds address: its envelope sender or a recipient is the address, or the
// message (headers and body as queued) contains it as a whole address, in any case (not inside a
// longer one: bob@example.com is not in jimbob@example.com). An address only inside an encoded
// part (an answer's base64 body, an RFC 2047 word) is not seen; on the person's own tickets every
// queued mail goes whatever it contains.
bool OutboxHoldsPerson(const std::string& address, const OutboxMail& m);

// Sorts the queued mails into plans: on a ticket the person opened every row goes, on the other
// planned tickets the rows that hold the person (ForgetPlan::outbox). Returns the seqs of the rows
// that hold the person but belong to no planned ticket (ticket 0: a mail queued without a ticket,
// such as an agent's state confirmation), sorted.
std::vector<uint64_t> PlanForgetOutbox(const std::string& address,
                                       const std::vector<OutboxMail>& outbox,
                                       std::vector<ForgetPlan>* plans);

// Every blob a message references (its original and its stored attachments), as above.
std::vector<std::string> MessageBlobs(const TicketMessage& m);

}  // namespace desk
