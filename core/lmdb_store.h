// LmdbTicketStore: the TicketStore on LMDB (liblmdb), embedded in the deskmilter process.
//
// Layout (named databases in one environment; every value starts with a one-byte encoding version,
// then CBOR, so a later version can read older records):
//   meta      "version" -> schema version, "next_ticket" -> u64,
//             "installation_id" -> 0x01 ++ the id (LmdbInstallationId)
//   tickets   u64 big-endian number -> Ticket (without messages and events)
//   messages  u64 ticket ++ u32 seq (big-endian) -> TicketMessage
//   events    u64 ticket ++ u32 seq -> TicketEvent
//   msgids    Message-ID -> MessageIdEntry
//   counters  flood counter key (queue, sender), named-id counter key (sender) -> window start
//             and count
//   expiry    u64 end of a counter's window ++ its key -> "" (expired counters are pruned by
//             later counting writes, oldest first, kPrunePerWrite at a time)
//   outbox    u64 seq big-endian -> OutboxMail (meta "next_outbox" numbers them)
//   minutes   u64 minute -> mail decided that minute, per verdict (AddMinuteCounts; kept 24 hours
//             by the daemon's flush, written by a background thread, not per message)
//   agents    agent address (hashed like a long Message-ID) -> AgentStateRecord (core/routing.h)
//   agent_events  u64 seq big-endian -> AgentStateEvent (meta "next_agent_event" numbers them)
//   routing   (queue, agent) -> u64 ticket last given to the agent by automatic routing
// Stores made before these tables get them (empty) when opened; the schema version is unchanged.
//   words     word index (MDB_DUPSORT): index key (core/ticket_view.h IndexWords) -> u64 ticket
//             numbers. Kept in the same transaction as the ticket by Write (create/append),
//             Redact and LmdbDeleteTickets; complete when meta "words_built" is set (new stores at
//             once; a store from schema version 1 after LmdbBuildWordIndex). WordCandidates walks
//             the distinct keys, so `deskctl tickets --search` reads only the matching tickets.
// All encodings are core/ticket_codec.h's.
// Writes are short transactions; MDB_MAP_FULL grows the map (doubling) and retries; MDB_READERS_FULL
// is a kStore error. Opening an existing store keeps its content; an unknown schema version is kStore.
//
// Group commit. LMDB has one writer at a time and each commit costs an fsync (0.3-10 ms on a busy
// disk), so concurrent SMTP sessions would otherwise queue behind each other's fsyncs. Every write
// call instead enqueues its transaction body and waits. A thread that finds no batch running becomes
// the leader: it takes up to 64 queued bodies (oldest first), runs them in ONE write transaction,
// each inside its own nested transaction (mdb_txn_begin with the parent), and commits once. Writes
// that arrive meanwhile form the next batch. Guarantees:
//   - Durability is unchanged: a call returns only after the commit (fsync) that contains its change,
//     or with an error / duplicate answer for which nothing of its own was written.
//   - Isolation per caller: a body that fails (kNotFound, a codec error) or writes nothing (a
//     duplicate) has its nested transaction aborted; the other bodies of the batch still commit.
//     Bodies run in queue order and see the writes of earlier bodies in the batch, as if the calls
//     had run one after another (e.g. the same Message-ID twice: the second is a duplicate).
//   - MDB_MAP_FULL anywhere in a batch: the batch is aborted, the map doubled, and the whole batch
//     run again; every caller's answer comes from the final run.
//   - If the one commit fails, every caller in the batch gets that error (kStore) and nothing of the
//     batch is stored.
// The cost: a call may wait for the batch before it (at most one commit) plus its own batch.
//
// Thread-safety: safe from many threads (MDB_NOTLS; one batch leader at a time, as LMDB has one
// writer).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/ticket_store.h"

namespace desk {

struct LmdbOptions {
  std::string dir;                    // created if missing
  uint64_t map_size = 64ull << 20;   // initial map size in bytes
  int max_readers = 512;
  // MDB_NOSYNC: commits are not fsynced, so a crash may lose recent writes. For bulk fills in
  // bench/store_bench.cc only; deskmilter and deskctl never set it.
  bool no_sync = false;
  // Tests only: called by the leader of each write batch, with its size, before it runs.
  std::function<void(size_t batch_size)> before_batch;
};

// Opens (creating if needed) the store in options.dir.
Status OpenLmdbTicketStore(const LmdbOptions& options, std::unique_ptr<TicketStore>* out);

// The random id of this installation (the loop stamp when loops.installation_id is not set): the
// one stored in the store's meta database, or candidate, stored now, when there is none yet (the
// first start). The caller makes candidate (core has no randomness of its own); an empty
// candidate only reads (kNotFound when none is stored yet: deskctl). store must come from
// OpenLmdbTicketStore (else kInvalid). Uses its own short write
// transaction, outside the group-commit batches; safe from any thread.
Status LmdbInstallationId(TicketStore* store, const std::string& candidate, std::string* out);

// Deletes the tickets numbered in numbers (unknown ones are skipped) with their messages, events and
// every Message-ID index entry pointing at them, in one transaction: all or nothing. *deleted
// counts the tickets removed, and their word index entries. Files of the external store are not
// touched: deskctl purge sweeps the ones no remaining ticket references afterwards
// (SweepRecordStore, core/record_store.h). Ticket numbers are never reused (next_ticket stays). store must
// come from OpenLmdbTicketStore (else kInvalid). Retention (deskctl purge), not the mail path.
Status LmdbDeleteTickets(TicketStore* store, const std::vector<uint64_t>& numbers,
                         uint64_t* deleted);

struct WordIndexState {
  bool built = false;    // the index is complete
  uint64_t tickets = 0;  // tickets indexed by this call
};

// Builds the word index of a store written before it had one (schema version 1), in chunks of a
// few hundred tickets per write transaction; it goes on where a stopped build left off, and returns
// at once when the index is complete. restart: drop the index and build it anew (a repair).
// progress (may be empty) is called after each chunk with the next ticket number to index and the
// store's next ticket number. Safe while the daemon writes: its writes keep the index themselves.
// store must come from OpenLmdbTicketStore (else kInvalid).
Status LmdbBuildWordIndex(TicketStore* store, bool restart,
                          const std::function<void(uint64_t, uint64_t)>& progress,
                          WordIndexState* state);
// The number of counters (flood and named-id counts) and of expiry entries stored: what pruning
// keeps bounded. store must come from OpenLmdbTicketStore (else kInvalid). Tests and statistics.
Status LmdbCountCounters(TicketStore* store, uint64_t* counters, uint64_t* expiry);

}  // namespace desk
