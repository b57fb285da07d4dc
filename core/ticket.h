// Tickets, their messages and events: the records the TicketStore keeps.
//
// Plain data. Times are seconds since the epoch, supplied by the caller (the core has no clock).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/message.h"

namespace desk {

enum class TicketStatus { kOpen, kClosed };
const char* TicketStatusName(TicketStatus s);  // "open", "closed"

// RFC 2392 mid: URL of a Message-ID (no angle brackets): "mid:" and the id with URL-unsafe bytes
// %-encoded. Used by the "latest email" event.
std::string MidUrl(const std::string& message_id);
// "Name <address>", or the address alone when there is no name.
std::string FormatMailbox(const Mailbox& m);

enum class Direction { kInbound, kOutbound };
const char* DirectionName(Direction d);  // "inbound", "outbound"

struct StoredAttachment {
  std::string filename;
  std::string declared_type;
  std::string detected_type;  // filled by attachment filtering (later issue); "" until then
  uint64_t size = 0;
  std::string sha256;
  std::string verdict;  // "allowed" | "stripped" | "rejected" | "held"; "" until filtering exists
  std::string reason;
  std::string virus;
};

struct TicketMessage {
  uint32_t seq = 0;  // 1-based position on the ticket, assigned by the store
  Direction direction = Direction::kInbound;
  std::string kind;        // "new", "reply", ... as decided by the core
  std::string message_id;  // no angle brackets
  std::string queue_id;    // the MTA's queue id ("" from deskctl)
  Mailbox from;
  std::vector<Mailbox> to;
  std::vector<Mailbox> cc;
  std::string envelope_from;
  std::vector<std::string> envelope_rcpts;  // support recipients this copy was received at
  std::string subject;
  std::string date;
  int64_t received_at = 0;
  uint64_t size = 0;
  std::string body;  // text body, cut at max_body_chars with a visible marker
  bool body_truncated = false;
  std::string agent;  // agent login/address for outbound messages; "" otherwise
  std::vector<StoredAttachment> attachments;
  // SHA-256 (lower-case hex) of the message as received, kept in the content-addressed store
  // (core/record_store.h) when the queue keeps originals; "" when not kept.
  std::string original_sha256;
};

struct TicketEvent {
  uint32_t seq = 0;  // assigned by the store
  int64_t at = 0;
  // "created" (the standard comment), "latest_email" (a mid: URL), "tag_ignored", "reopened",
  // "closed", "linked", "duplicate"; later issues add more.
  std::string type;
  std::string text;
  uint64_t related_ticket = 0;  // for "linked" and similar; 0 if none
};

struct Ticket {
  uint64_t number = 0;  // assigned by the store, monotonic from 1
  std::string queue;
  TicketStatus status = TicketStatus::kOpen;
  std::string title;  // subject of the first mail
  Mailbox requester;
  std::string description;  // text body of the first mail (already truncated)
  std::string received_at;  // the support address the first mail was received at
  std::string assigned_agent;  // "" = unassigned
  int64_t created_at = 0;
  int64_t updated_at = 0;
  uint64_t linked_from = 0;  // when opened by a reply to a closed ticket (closed_reply = "new")
  // The ticket a reply to this closed one opened (closed_reply = "new"); later replies to this
  // ticket join that one instead of opening another. 0 = none.
  uint64_t successor = 0;
  // Lower-case addresses that may use the ticket's subject tag: the requester and everyone who wrote
  // to or was copied on it.
  std::vector<std::string> participants;
  uint32_t message_count = 0;
  uint32_t event_count = 0;
  // Message-IDs indexed for this ticket that no stored message had (ids its mail named), bounded
  // by tickets.max_named_ids (TicketWrite::max_named_ids).
  uint32_t named_ids = 0;
  std::string brand;  // brand name resolved when the ticket was opened (core/brand.h); "" = none
  std::vector<std::string> tags;  // set by triggers (set_tag), in the order first set
  uint32_t auto_answers = 0;  // automatic answers queued for it (OutboxItem::max_per_ticket)
};

}  // namespace desk
