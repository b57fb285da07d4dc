// Threading: which ticket, if any, a message belongs to.
//
// Rules, in order (never on subject text alone):
//   0. The message's own Message-ID stored already -> a duplicate.
//   1. In-Reply-To, then References newest first (at most the last max_references, malformed ids
//      skipped), against every Message-ID the store has indexed. Trust decides the order, not
//      position: (a) a parent stored as a message on a ticket; else (b) the message's own id
//      named earlier by a ticket's mail (a reply that arrived before its parent), taken only when
//      the message's To or Cc names a participant of that ticket other than a support or agent
//      address (else reported: unjoined_referenced_by); else (c) an id some ticket's mail merely
//      named. Anyone can name any id first, so a named-only id never beats a stored parent, and
//      naming a customer's next id does not pull her new mail into the namer's ticket
//      (Message-ID squatting). Within a kind, In-Reply-To wins, then the newest reference;
//      another ticket named is reported (also_ticket).
//   1d. The reply token of the support recipient's plus address (support+TOKEN@domain, see
//      core/agents.h), when reply_token_secret is set; a token that fails its MAC, names no
//      ticket, or is older than reply_token_max_age (expired_token), is ignored (ignored_token).
//   2. The receiving queue's subject tag (e.g. "[#42]"), only when the mail has a strict From
//      (StrictFrom) and that sender is a participant of ticket 42; otherwise the tag is ignored
//      and reported (ignored_tag_ticket), and a new ticket is opened.
//   3. Otherwise a new ticket.
// A Message-ID already stored makes the message a duplicate (SMTP retry, one mail to two support
// addresses) only when it is the same message: the same ContentSignature (envelope sender and
// body). A different message reusing a stored id (planted by someone who knew the id first) is a
// collision: it is stored under a generated id (CollisionStorageId), threaded by its other headers
// (never by its own id), its ticket's event records the collision, and the id is marked contested
// in the index, so that no later mail threads by it (it names two messages). Rule 1 skips
// contested ids.
//
// Thread-safety: pure functions over a TicketStore, which is itself thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/address.h"
#include "core/message.h"
#include "core/spool.h"
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
  uint64_t also_ticket = 0;  // another ticket the message's references named (not joined)
  bool ignored_token = false;  // the recipient's plus tag looked like a reply token but failed
  bool expired_token = false;  // ... because it was genuine but older than the configured age
  // The message's own Message-ID is stored for another message (a different signature): the
  // ticket that holds it, and the generated id this message is stored under.
  uint64_t collision_ticket = 0;
  std::string storage_id;
  // The message's own id was named by this ticket's mail, but the message is addressed to none of
  // its participants: rule 1b did not join it (issue 18 item 1).
  uint64_t unjoined_referenced_by = 0;
};

struct ThreadOptions {
  int64_t max_references = 20;
  std::string_view reply_token_secret;  // "": rule 1d off
  // The message's ContentSignature. "": every reuse of a stored id is a duplicate.
  std::string_view signature;
  int64_t now = 0;                   // seconds since the epoch: the age of reply tokens
  int64_t reply_token_max_age = 0;   // seconds; 0: tokens never expire
  // True for a normalized address that proves nothing about who received a message: a support or
  // agent address (anyone can write one into a ticket's mail). Empty: no address is excluded.
  std::function<bool(const std::string&)> inside;
};

// What makes two mails with one Message-ID the same message: the normalized envelope sender and
// the body bytes (from body_offset to the end of the spool; headers differ between an SMTP retry
// and the first try, e.g. Postfix's Received). 32 hex digits of SHA-256; "" on a spool read error.
// Reads the body once.
std::string ContentSignature(const Spool& spool, const ParsedMessage& msg,
                             const std::string& envelope_sender);

// The id a colliding message is stored under: derived from the id and the signature, so a retry of
// the colliding message finds it stored and is a duplicate.
std::string CollisionStorageId(const std::string& message_id, std::string_view signature);

// Ids a message names, for threading and for indexing: In-Reply-To first, then References newest
// first, at most max_references of them, malformed ids (no '@', spaces, over 250 bytes) dropped,
// no repeats, never the message's own id.
std::vector<std::string> ReferencedIds(const ParsedMessage& msg, int64_t max_references);

// store may be nullptr (nothing is known: every message is new).
Status ResolveThread(TicketStore* store, const ParsedMessage& msg, const QueueMatch& match,
                     const std::string& sender, const ThreadOptions& options, ThreadResult* out);

// Strict From (issue 18 item 3): exactly one From header holding exactly one mailbox, no list,
// group or route form, no text after the '>', and GMime's reading of it is that same address.
// Only mail with a strict From may join a ticket by its subject tag or add participants to a
// ticket (core/plan_stage.cc); other mail may still open a ticket of its own.
bool StrictFrom(const ParsedMessage& msg);

// True when the topmost Authentication-Results header has an authserv-id in trusted_authserv_ids
// and a dmarc=pass result whose header.from is the domain of a strict From. Only the topmost
// header counts: the MTA's own checker inserts its header above any the sender wrote (the MTA must
// also remove headers that claim its authserv-id, as OpenDMARC and Postfix setups do).
bool DmarcPassFromTrusted(const ParsedMessage& msg,
                          const std::vector<std::string>& trusted_authserv_ids);

// Finds the first ticket number written in subject with the tag format (e.g. "[#{n}]").
std::optional<uint64_t> FindSubjectTag(const std::string& subject, const std::string& format);
// subject without every tag of the format that names a ticket other than keep (0: every tag),
// each with the spaces after it: the delivered copy of mail that did not join ticket N carries no
// "[#N]" an agent's reply could thread by. Linear in the subject's length.
std::string RemoveForeignTags(const std::string& subject, const std::string& format, uint64_t keep);
// The tag for ticket n: format with "{n}" replaced.
std::string FormatSubjectTag(const std::string& format, uint64_t n);

}  // namespace desk
