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
};

// false when the ticket holds nothing of address (then *plan is untouched).
bool PlanForget(const std::string& address, const Ticket& t,
                const std::vector<TicketMessage>& messages, const std::vector<TicketEvent>& events,
                int64_t now, ForgetPlan* plan);

// Every blob a message references (its original and its stored attachments), as above.
std::vector<std::string> MessageBlobs(const TicketMessage& m);

}  // namespace desk
