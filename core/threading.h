// Threading: which ticket, if any, a message belongs to.
//
// Rules, in order (never on subject text alone):
//   1. In-Reply-To, then References newest first, against every Message-ID the store has indexed.
//   2. The receiving queue's subject tag (e.g. "[#42]"), only when the sender is a participant of
//      ticket 42; otherwise the tag is ignored and reported (ignored_tag_ticket), and a new ticket
//      is opened.
//   3. Otherwise a new ticket.
// A Message-ID already stored makes the message a duplicate (SMTP retry, one mail to two support
// addresses).
//
// Thread-safety: pure functions over a TicketStore, which is itself thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/address.h"
#include "core/message.h"
#include "core/status.h"
#include "core/ticket_store.h"

namespace desk {

struct ThreadResult {
  enum class Kind { kNew, kReply, kDuplicate };
  Kind kind = Kind::kNew;
  uint64_t ticket = 0;            // kReply / kDuplicate: the ticket
  std::string matched_by;         // "in_reply_to", "references", "subject_tag"; "" for kNew
  std::string matched_id;         // the Message-ID that matched, if any
  uint64_t ignored_tag_ticket = 0;  // a subject tag named this ticket but the sender is no
                                    // participant
};

// store may be nullptr (nothing is known: every message is new).
Status ResolveThread(TicketStore* store, const ParsedMessage& msg, const QueueMatch& match,
                     const std::string& sender, ThreadResult* out);

// Finds the first ticket number written in subject with the tag format (e.g. "[#{n}]").
std::optional<uint64_t> FindSubjectTag(const std::string& subject, const std::string& format);
// The tag for ticket n: format with "{n}" replaced.
std::string FormatSubjectTag(const std::string& format, uint64_t n);

}  // namespace desk
