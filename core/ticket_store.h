// TicketStore: where tickets, their messages and events, and the Message-ID index live.
//
// One interface, swappable backends (OpenSMTPD style); LmdbTicketStore (core/lmdb_store.h) is the
// one shipped. Every write is one short transaction, committed and durable when the call returns, so
// the milter can answer end-of-message only after the ticket is safe.
//
// Thread-safety: implementations are safe to call from many threads at once.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
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
  // stored: who sent it and what it said, so that a later mail with the same id is a duplicate only
  // when it is the same message (ContentSignature, core/threading.h); "" for entries written before
  // signatures were kept (such an entry makes every reuse a duplicate, as before).
  std::string signature;
  bool outbound = false;  // stored: the message was ours (an agent's mail going out)
  // stored: another message arrived with this id and was kept under a generated storage id
  // (TicketWrite::collided_id); the id names two messages, so threading never follows it.
  bool contested = false;
};

// Flood counting inside a write (TicketWrite::flood, flood_network): one occurrence is counted
// under (queue, sender) in a fixed window that survives restarts; when the window stored for the
// key started window_seconds or more before the write's now (or none is stored), a new window
// starts at now with count 1, otherwise the count grows by one. Counters whose window has ended
// are pruned by later writes (a few per write, oldest first), so the table holds only the
// counters of recent windows.
struct FloodCount {
  std::string queue;
  std::string sender;  // the key within the queue: a normalized address and network, or a network
  int64_t window_seconds = 0;
  uint64_t max = 0;  // more than max in the window: the write is flooded
};

// Bound on ids a sender may have indexed as named-only (TicketWrite::named_ids_sender): counted
// like a FloodCount, by the number of ids indexed, per key and window.
struct NamedIdsBound {
  std::string key;  // e.g. the normalized sender
  int64_t window_seconds = 0;
  uint64_t max = 0;  // 0: no bound
};

// A mail queued for sending (an automatic answer, a notification), written with the ticket change
// that caused it; the outbox worker (milter/outbox_worker.h) submits it by SMTP when due_at has
// come, reschedules it after a temporary failure and removes it after success or a final failure.
// A row is removed only after the MTA accepted it, so a crash between acceptance and removal sends
// it again, with the same Message-ID (message_id, already in raw).
struct OutboxMail {
  uint64_t seq = 0;     // assigned by the store, from 1
  uint64_t ticket = 0;  // the ticket of the write that queued it
  int64_t queued_at = 0;
  std::string sender;                   // envelope MAIL FROM; "" = the null sender <>
  std::vector<std::string> recipients;  // envelope RCPT TO
  std::string message_id;               // no angle brackets; the one in raw
  std::string kind;                     // "automatic", ... (what the ticket event names)
  int64_t due_at = 0;                   // not sent before this time (a "wait" action)
  uint32_t attempts = 0;                // failed attempts so far
  std::string last_error;               // the last temporary failure, for deskctl
  std::string raw;      // the complete message (RFC 5322, CRLF line ends)
};

// In an outbox mail planned before its ticket is known (a new ticket), this marker stands for the
// ticket number in raw and in the recorded message's subject and body; the store replaces it at
// commit. Untrusted text put into a planned mail must have control characters removed so that it
// cannot carry the marker.
inline constexpr std::string_view kTicketNumberMarker = "\x01ticket\x01";

// A counter an outbox mail must pass to be queued (at most `max` in a fixed window per key, like
// FloodCount, surviving restarts): e.g. one automatic answer per sender per queue per day.
struct OutboxLimit {
  std::string key;
  int64_t window_seconds = 0;
  uint64_t max = 1;
};

// One mail to queue with a ticket change (TicketWrite::outbox). The store, inside the write:
// checks the limits and max_per_ticket (against Ticket::auto_answers); when one is reached, the
// mail is dropped (WriteResult::outbox_dropped) and nothing of it is written; else the counters
// grow, the row is queued with the ticket's number, and `record` (when set) is appended to the
// ticket as a message with its Message-ID indexed, so a reply to it threads.
struct OutboxItem {
  OutboxMail mail;  // seq, ticket and queued_at are set by the store
  std::optional<TicketMessage> record;
  std::vector<OutboxLimit> limits;
  uint32_t max_per_ticket = 0;  // 0: no bound; counted in Ticket::auto_answers
};

// An agent's state (core/routing.h has the rules). No record = "offline" (In-Email is never set
// automatically, so an agent is not available until they or a manager set it).
struct AgentStateRecord {
  std::string address;  // the agent's address, lower-case (the key)
  std::string state;    // canonical lower-case state name ("in-email", "in-call", ...)
  // While an override (in-call, in-chat) lasts: the state it returns to when cleared; "" otherwise.
  std::string base;
  int64_t since = 0;    // when state was set
  std::string set_by;   // who set it ("manager", "agent", "deskctl", a login, ...)
};

// One entry of an agent's state history (the agent_events table).
struct AgentStateEvent {
  uint64_t seq = 0;  // assigned by the store, from 1, over all agents
  std::string address;
  int64_t at = 0;
  std::string by;
  std::string old_state;  // "" = no state was recorded (offline)
  std::string new_state;
};

// What UpdateAgentState's decide callback returns: the new record, its history event, and mails
// to queue (a confirmation) in the same transaction. decide returning non-OK writes nothing.
struct AgentStateChange {
  AgentStateRecord record;
  AgentStateEvent event;
  std::vector<OutboxItem> outbox;  // queued without a ticket (OutboxMail::ticket 0)
};

// What to do with a reply that threads into a ticket found closed at commit
// (TicketWrite::on_closed, called inside the write transaction).
struct ClosedChoice {
  enum class Op {
    kAppend,  // record it on the closed ticket, which stays closed
    kReopen,  // record it and set the ticket open again
    kNew,     // open a new ticket instead (new_ticket); the closed one points to it (successor)
  };
  Op op = Op::kReopen;
  std::vector<TicketEvent> lead_events;  // recorded before TicketWrite::events
  Ticket new_ticket;  // kNew: the new ticket's fields; number, linked_from and counts by the store
};

// One atomic change: create a ticket or append to one, with its message and events; or only
// events; or nothing but the flood count. Everything in one TicketWrite is one write transaction.
struct TicketWrite {
  enum class Op {
    kCreate,  // a new ticket with message and events
    kAppend,  // message and events on ticket `ticket`
    kEvents,  // only events on ticket `ticket` (e.g. a delivery failure reported by a bounce)
    kNone,    // no ticket change (flood counting only)
  };
  Op op = Op::kCreate;
  uint64_t ticket = 0;  // kAppend, kEvents: the ticket
  Ticket new_ticket;    // kCreate: the ticket's fields; number, counts and times set by the store
  TicketMessage message;
  std::vector<TicketEvent> events;  // appended after the message, in order
  bool reopen = false;              // kAppend without on_closed: set status back to open
  std::vector<std::string> participants;    // lower-case addresses to add to the ticket
  size_t max_participants = 0;  // the ticket keeps at most this many (0: no bound); more are dropped
  std::vector<std::string> add_tags;        // tags to add to the ticket (if not already set)
  std::vector<std::string> referenced_ids;  // ids to index as stored=false (if not already indexed)
  // Bounds on those ids (issue 18 item 1): a ticket indexes at most max_named_ids of them (0: no
  // bound, Ticket::named_ids counts them), a sender at most named_ids_sender->max per window.
  // Ids over a bound are not indexed (WriteResult::named_ids_dropped); the message is still stored.
  size_t max_named_ids = 0;
  std::optional<NamedIdsBound> named_ids_sender;
  // The message's ContentSignature (core/threading.h), kept in its Message-ID entry. A stored entry
  // with another non-empty signature makes the write fail (kInternal: a different message with
  // this id was committed since threading; the retry finds the collision).
  std::string signature;
  // A Message-ID already stored for another message: this message is stored under a generated id
  // (message.message_id) and collided_id's entry is marked contested.
  std::string collided_id;
  int64_t now = 0;                          // becomes updated_at (and created_at on create)

  // Mails to queue for sending with this change (PlanStep side effects); written only when the
  // ticket change is (not for a duplicate or a flooded message).
  std::vector<OutboxItem> outbox;
  // Assignment (core/routing.h). set_assignee: kAppend / kEvents set the ticket's assigned_agent
  // to it ("" = unassigned); kCreate takes new_ticket.assigned_agent. With only_if_unassigned the
  // kEvents write is skipped (WriteResult::assign_skipped, nothing written) when the ticket is
  // assigned or closed by then. route_mark: when the ticket is assigned by automatic routing, the
  // routing table remembers (queue, agent) -> this ticket's number (round robin).
  std::optional<std::string> set_assignee;
  bool only_if_unassigned = false;
  bool route_mark = false;
  // Counted first, in the same transaction; when flooded, the counter is committed and nothing
  // else is written (WriteResult::flooded).
  std::optional<FloodCount> flood;
  // A second count, over the client's network whatever the sender (rotating senders); counted
  // with flood and flooding the write the same way.
  std::optional<FloodCount> flood_network;
  // kAppend: called with the ticket as it is inside the transaction when it is closed (after
  // following closed tickets' successors, at most kMaxSuccessorHops). Null: `reopen` applies.
  // Must not throw; may be called more than once for one write (a batch rerun after the map
  // grew), so it must depend on its argument only.
  std::function<ClosedChoice(const Ticket& closed)> on_closed;
};

struct WriteResult {
  uint64_t ticket = 0;     // the ticket created or appended to
  bool duplicate = false;  // message.message_id was already stored: nothing was written
  bool created = false;    // a ticket was created (kCreate, or kAppend turned kNew)
  bool reopened = false;   // the ticket was closed and is open again
  bool closed_kept = false;  // recorded on a ticket that stays closed (ClosedChoice::kAppend)
  uint64_t linked_from = 0;  // kNew: the closed ticket the reply was to
  uint64_t flood_count = 0;  // with TicketWrite::flood: the count after this message
  bool flooded = false;      // flood_count > flood->max: only the counter was written
  bool assign_skipped = false;  // only_if_unassigned and the ticket was no longer waiting
  uint32_t outbox_queued = 0;   // TicketWrite::outbox mails queued
  uint32_t outbox_dropped = 0;  // ... dropped by their limits
  uint64_t flood_network_count = 0;  // with TicketWrite::flood_network: the count after this one
  bool flooded_network = false;      // flooded because flood_network_count > flood_network->max
  size_t named_ids_dropped = 0;      // referenced ids not indexed because of a bound
};

// A trigger as stored (core/triggers.h gives its meaning): its number and its JSON document.
struct StoredTrigger {
  uint64_t id = 0;
  std::string json;
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

  // Applies w in one write transaction: the flood count, then (unless flooded) the ticket change.
  // If w.message.message_id is already stored on some ticket (kCreate, kAppend), writes no ticket
  // change and returns OK with result->duplicate = true and result->ticket = that ticket.
  // kAppend or kEvents to a missing ticket is kNotFound. Store failures are kStore.
  virtual Status Write(const TicketWrite& w, WriteResult* result) = 0;

  // Sets the status and records ev (its type and text as given). kNotFound if no such ticket.
  virtual Status SetStatus(uint64_t ticket, TicketStatus status, const TicketEvent& ev,
                           int64_t now) = 0;

  // Appends events (their type, text and related ticket as given) to a ticket without a message,
  // e.g. a delivery failure reported by a bounce. kNotFound if no such ticket.
  virtual Status AddEvents(uint64_t ticket, const std::vector<TicketEvent>& events,
                           int64_t now) = 0;

  // Counts one occurrence under key in a fixed window (a write of its own; the pipeline counts
  // floods inside Write through TicketWrite::flood) that survives restarts (flood protection):
  // when the window stored for key started window_seconds or more before now (or none is stored),
  // a new window starts at now with count 1; otherwise the count grows by one. *count is the count
  // after this occurrence.
  virtual Status CountInWindow(const std::string& key, int64_t now, int64_t window_seconds,
                               uint64_t* count) = 0;

  // The queued mails, oldest first.
  virtual Status GetOutbox(std::vector<OutboxMail>* out) = 0;
  // After a temporary failure: sets the row's due_at, attempts and last_error. kNotFound if the
  // row is gone.
  virtual Status RescheduleOutbox(uint64_t seq, int64_t due_at, uint32_t attempts,
                                  const std::string& error) {
    (void)seq, (void)due_at, (void)attempts, (void)error;
    return Status::NotFound("this store has no outbox");
  }
  // After success or a final failure: removes the row and appends events to its ticket (when the
  // ticket still exists), in one transaction. kNotFound if the row is gone.
  virtual Status FinishOutbox(uint64_t seq, const std::vector<TicketEvent>& events, int64_t now) {
    (void)seq, (void)events, (void)now;
    return Status::NotFound("this store has no outbox");
  }

  // Triggers (core/triggers.h), by id.
  virtual Status GetTriggers(std::vector<StoredTrigger>* out) {
    out->clear();
    return Status::Ok();
  }
  // id 0: a new trigger, *t->id set to the next number; else replaces trigger id (kNotFound if
  // there is none).
  virtual Status PutTrigger(StoredTrigger* t) {
    (void)t;
    return Status::NotFound("this store has no triggers");
  }
  // kNotFound if there is no such trigger.
  virtual Status DeleteTrigger(uint64_t id) {
    (void)id;
    return Status::NotFound("this store has no triggers");
  }
  // Adds defaults as new triggers the first time it is called on a store (a meta flag remembers
  // it, so a default deleted later does not come back); later calls change nothing.
  virtual Status SeedTriggers(const std::vector<std::string>& defaults) {
    (void)defaults;
    return Status::Ok();
  }
  // kNotFound when the id is not indexed.
  virtual Status FindMessageId(const std::string& message_id, MessageIdEntry* out) = 0;
  // kNotFound when there is no such ticket.
  virtual Status GetTicket(uint64_t number, Ticket* out) = 0;
  virtual Status GetMessages(uint64_t number, std::vector<TicketMessage>* out) = 0;
  virtual Status GetEvents(uint64_t number, std::vector<TicketEvent>* out) = 0;
  virtual Status ListTickets(const TicketFilter& filter, std::vector<Ticket>* out) = 0;
  // Streams the tickets that pass filter (queue, status; at most filter.limit), newest number
  // first, one decoded at a time, until fn returns false. fn runs inside the store's read
  // transaction and must not call the store.
  virtual Status ScanTickets(const TicketFilter& filter,
                             const std::function<bool(const Ticket&)>& fn) = 0;
  // Word search through the store's word index: the numbers (newest first) of a superset of the
  // tickets whose title or messages hold every word of words (as SearchWords in
  // core/ticket_view.h makes them); the caller checks each with MatchesWords. kNotFound when the
  // store has no complete index: then scan.
  virtual Status WordCandidates(const std::vector<std::string>& words,
                                std::vector<uint64_t>* out) {
    (void)words;
    out->clear();
    return Status::NotFound("this store has no word index");
  }

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
  // Agent states (core/routing.h). Every agent with a record, ordered by address.
  virtual Status GetAgentStates(std::vector<AgentStateRecord>* out) = 0;
  // The state history of one agent ("" = every agent), oldest first.
  virtual Status GetAgentStateEvents(const std::string& address,
                                     std::vector<AgentStateEvent>* out) = 0;
  // In one write transaction: reads address's record (nullptr when none), calls decide with it and
  // writes the change it returns (record, event numbered by the store, outbox mails). decide may be
  // called more than once (a batch rerun after the map grew): it must depend on its argument only.
  virtual Status UpdateAgentState(
      const std::string& address,
      const std::function<Status(const AgentStateRecord* current, AgentStateChange* change)>& decide,
      int64_t now) = 0;
  // Automatic routing's memory: for each of agents (addresses), the number of the last ticket of
  // queue that automatic routing gave them (TicketWrite::route_mark); 0 = none. marks has one entry
  // per agent.
  virtual Status GetRouteMarks(const std::string& queue, const std::vector<std::string>& agents,
                               std::vector<uint64_t>* marks) = 0;

  // Forgetting a person (core/forget.h): in one transaction, replaces the ticket's own fields with
  // fields (its number, status, counters and creation time are kept), replaces each message of
  // messages and each event of replace_events (matched by seq; an unknown seq is kNotFound), then
  // appends add_events and deletes the outbox rows whose seq is in outbox (a row already gone,
  // sent meanwhile, is skipped; *outbox_removed, when not null, is the number deleted). kNotFound
  // if no such ticket.
  virtual Status Redact(uint64_t ticket, const Ticket& fields,
                        const std::vector<TicketMessage>& messages,
                        const std::vector<TicketEvent>& replace_events,
                        const std::vector<TicketEvent>& add_events,
                        const std::vector<uint64_t>& outbox, int64_t now,
                        size_t* outbox_removed) = 0;
  // Deletes the outbox rows whose seq is in seqs, in one transaction, without events (forget: mail
  // outside any changed ticket). A row already gone is skipped; *removed is the number deleted.
  virtual Status DeleteOutbox(const std::vector<uint64_t>& seqs, size_t* removed) {
    (void)seqs;
    *removed = 0;
    return Status::NotFound("this store has no outbox");
  }
};

}  // namespace desk
