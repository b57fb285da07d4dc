// LmdbTicketStore: the TicketStore on LMDB (liblmdb), embedded in the deskmilter process.
//
// Layout (named databases in one environment; every value starts with a one-byte encoding version,
// then CBOR, so a later version can read older records):
//   meta      "version" -> schema version, "next_ticket" -> u64
//   tickets   u64 big-endian number -> Ticket (without messages and events)
//   messages  u64 ticket ++ u32 seq (big-endian) -> TicketMessage
//   events    u64 ticket ++ u32 seq -> TicketEvent
//   msgids    Message-ID -> MessageIdEntry
// Writes are short transactions; MDB_MAP_FULL grows the map (doubling) and retries; MDB_READERS_FULL
// is a kStore error. Opening an existing store keeps its content; an unknown schema version is kStore.
//
// Thread-safety: safe from many threads (MDB_NOTLS; one write transaction at a time, as LMDB does).
#pragma once

#include <memory>
#include <string>

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
};

// Opens (creating if needed) the store in options.dir.
Status OpenLmdbTicketStore(const LmdbOptions& options, std::unique_ptr<TicketStore>* out);

}  // namespace desk
