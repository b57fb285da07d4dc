// TicketStore: where tickets, their messages and events, and the Message-ID index live.
//
// One interface, swappable backends (OpenSMTPD style); LmdbTicketStore (core/lmdb_store.h) is the
// one shipped. Every write is one short transaction, committed and durable when the call returns, so
// the milter can answer end-of-message only after the ticket is safe.
//
// Thread-safety: implementations are safe to call from many threads at once.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/ticket.h"

namespace desk {

// What the Message-ID index says about an id.
struct MessageIdEntry {
  uint64_t ticket = 0;
  // true: a message with this id is stored on the ticket. false: the id was only named (In-Reply-To
  // or References) by a message of the ticket (used by reference threading, a later issue).
  bool stored = false;
};

// One atomic change: create a ticket or append to one, with its message and events.
struct TicketWrite {
  enum class Op { kCreate, kAppend };
  Op op = Op::kCreate;
  uint64_t ticket = 0;  // kAppend: the ticket to append to
  Ticket new_ticket;    // kCreate: the ticket's fields; number, counts and times set by the store
  TicketMessage message;
  std::vector<TicketEvent> events;  // appended after the message, in order
  bool reopen = false;              // kAppend: set status back to open
  std::vector<std::string> participants;    // lower-case addresses to add to the ticket
  std::vector<std::string> referenced_ids;  // ids to index as stored=false (if not already indexed)
  int64_t now = 0;                          // becomes updated_at (and created_at on create)
};

struct WriteResult {
  uint64_t ticket = 0;     // the ticket created or appended to
  bool duplicate = false;  // message.message_id was already stored: nothing was written
};

// Messages decided in one minute, by verdict (core/metrics.h: kMinuteVerdicts gives the order).
struct MinuteCount {
  int64_t minute = 0;            // seconds since the epoch / 60
  std::vector<uint64_t> counts;  // one per verdict
};

// How full the store's map is.
struct StoreUsage {
  uint64_t map_bytes = 0;   // the map's current size (it grows when full)
  uint64_t used_bytes = 0;  // pages in use times the page size
};

struct TicketFilter {
  std::string queue;                   // "" = any
  std::optional<TicketStatus> status;  // nullopt = any
  uint64_t limit = 0;                  // 0 = no limit; newest first
};

class TicketStore {
 public:
  virtual ~TicketStore() = default;

  // Applies w in one write transaction. If w.message.message_id is already stored on some ticket,
  // writes nothing and returns OK with result->duplicate = true and result->ticket = that ticket.
  // kAppend to a missing ticket is kNotFound. Store failures are kStore.
  virtual Status Write(const TicketWrite& w, WriteResult* result) = 0;

  // Sets the status and records ev (its type and text as given). kNotFound if no such ticket.
  virtual Status SetStatus(uint64_t ticket, TicketStatus status, const TicketEvent& ev,
                           int64_t now) = 0;

  // Appends events (their type, text and related ticket as given) to a ticket without a message,
  // e.g. a delivery failure reported by a bounce. kNotFound if no such ticket.
  virtual Status AddEvents(uint64_t ticket, const std::vector<TicketEvent>& events,
                           int64_t now) = 0;

  // Counts one occurrence under key in a fixed window that survives restarts (flood protection):
  // when the window stored for key started window_seconds or more before now (or none is stored),
  // a new window starts at now with count 1; otherwise the count grows by one. *count is the count
  // after this occurrence.
  virtual Status CountInWindow(const std::string& key, int64_t now, int64_t window_seconds,
                               uint64_t* count) = 0;

  // kNotFound when the id is not indexed.
  virtual Status FindMessageId(const std::string& message_id, MessageIdEntry* out) = 0;
  // kNotFound when there is no such ticket.
  virtual Status GetTicket(uint64_t number, Ticket* out) = 0;
  virtual Status GetMessages(uint64_t number, std::vector<TicketMessage>* out) = 0;
  virtual Status GetEvents(uint64_t number, std::vector<TicketEvent>* out) = 0;
  virtual Status ListTickets(const TicketFilter& filter, std::vector<Ticket>* out) = 0;

  // Statistics (core/metrics.h). The defaults are for stores without them: kNotFound / no-op.
  // Adds add's counts to the stored minutes, and drops stored minutes before drop_before, in one
  // write. The daemon calls it from a background thread every few seconds, never per message.
  virtual Status AddMinuteCounts(const std::vector<MinuteCount>& add, int64_t drop_before) {
    (void)add;
    (void)drop_before;
    return Status::Ok();
  }
  // The stored minutes in [from, to], oldest first (minutes without mail are absent).
  virtual Status GetMinuteCounts(int64_t from, int64_t to, std::vector<MinuteCount>* out) {
    (void)from;
    (void)to;
    out->clear();
    return Status::Ok();
  }
  virtual Status Usage(StoreUsage* out) {
    (void)out;
    return Status::NotFound("this store does not report its size");
  }
  // Forgetting a person (core/forget.h): in one transaction, replaces the ticket's own fields with
  // fields (its number, status, counters and creation time are kept), replaces each message of
  // messages and each event of replace_events (matched by seq; an unknown seq is kNotFound), then
  // appends add_events. kNotFound if no such ticket.
  virtual Status Redact(uint64_t ticket, const Ticket& fields,
                        const std::vector<TicketMessage>& messages,
                        const std::vector<TicketEvent>& replace_events,
                        const std::vector<TicketEvent>& add_events, int64_t now) = 0;
};

}  // namespace desk
