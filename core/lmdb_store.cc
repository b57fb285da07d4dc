// LmdbTicketStore: the TicketStore on LMDB (layout and encodings in lmdb_store.h / ticket_codec.h).
//
// Guarantees: every write call (Write, SetStatus, AddEvents, CountInWindow, and Open's schema setup)
// returns only after its change is committed with LMDB's default fsync, or after it is known that
// it wrote nothing (an error, or a duplicate). Writes are group-committed (design in lmdb_store.h):
// callers queue their transaction bodies; one leader runs up to kMaxBatch of them in one write
// transaction, each body in its own nested transaction, and commits (one fsync) for all. A body that
// fails, or ends with *commit = false, has its nested transaction aborted and leaves the others
// alone. MDB_MAP_FULL anywhere aborts the whole batch, the map is doubled and the batch is run again
// from scratch (at most kMaxGrowRetries times). MDB_MAP_RESIZED (another process grew the map)
// adopts the new size and retries. If the outer commit fails, every caller of the batch gets that
// error (even a failed or duplicate body saw the batch's uncommitted writes). Changing the map size
// needs no live transaction in this process, so every transaction runs under resize_mu_ held
// shared, and a resize holds it exclusive.
// Lock order: batch_mu_ is never held while a transaction runs or while waiting for resize_mu_;
// resize_mu_ (shared) is held around a whole transaction, including LMDB's own writer lock; a
// thread never waits for resize_mu_ while it holds a transaction, so they cannot deadlock.
//
// Limits: ScanTickets / ListTickets walk the tickets table newest first and filter as they go (no
// index on queue or status yet). The word index costs the writer one pair per distinct word of a
// message (docs/BENCHMARKS.md, "Views with the word index"). An event whose `at` is 0 is stamped with the write's `now`. GetMessages and
// GetEvents are kNotFound for a missing ticket.
//
// Limits: a batch's bodies share LMDB's per-transaction dirty-page limit (MDB_TXN_FULL, ~512 MiB
// of 4 KiB pages); with stored bodies capped by max_body_chars, 64 writes stay far below it. A body
// that throws (std::bad_alloc) fails its whole batch with kInternal; the leader flag is reset, so
// later writes go on.
//
// Thread-safety: all methods may be called from many threads (MDB_NOTLS; one leader at a time runs
// the write batches, LMDB serializes writers across processes).
#include "core/lmdb_store.h"

#include <lmdb.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <filesystem>
#include <functional>
#include <iterator>
#include <limits>
#include <mutex>
#include <shared_mutex>
#include <string_view>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/ascii.h"
#include "core/ticket_codec.h"
#include "core/ticket_view.h"

namespace desk {
namespace {

// 2: the `words` index (version 1 stores are migrated on open; the index is then built by
// LmdbBuildWordIndex). A version 1 build refuses a version 2 store, so it cannot write tickets
// the index would miss.
constexpr uint64_t kSchemaVersion = 2;
constexpr uint64_t kOldestMigratableVersion = 1;
constexpr int kMaxGrowRetries = 8;
constexpr size_t kMaxBatch = 64;
constexpr int kMaxResizedRetries = 8;
constexpr unsigned kMaxDbs = 32;
// LmdbBuildWordIndex: tickets indexed per write transaction.
constexpr uint64_t kIndexChunk = 256;
// Expired counters removed per counting write (oldest first); more than a write adds (at most
// three counters), so expired counters never pile up.
constexpr int kPrunePerWrite = 16;
// Closed tickets followed through their successors before a reply is placed.
constexpr int kMaxSuccessorHops = 8;
constexpr std::string_view kMetaVersion = "version";
constexpr std::string_view kMetaNextTicket = "next_ticket";
constexpr std::string_view kMetaNextOutbox = "next_outbox";
constexpr std::string_view kMetaNextTrigger = "next_trigger";
constexpr std::string_view kMetaTriggersSeeded = "triggers_seeded";

// s with every kTicketNumberMarker replaced by number.
std::string WithTicketNumber(std::string s, uint64_t number) {
  const std::string n = std::to_string(number);
  for (size_t pos = s.find(kTicketNumberMarker); pos != std::string::npos;
       pos = s.find(kTicketNumberMarker, pos + n.size())) {
    s.replace(pos, kTicketNumberMarker.size(), n);
  }
  return s;
}
constexpr std::string_view kMetaInstallationId = "installation_id";
constexpr std::string_view kMetaNextAgentEvent = "next_agent_event";
// u64: 1 when every ticket's words are in the words table; absent while LmdbBuildWordIndex has not
// finished ("words_next" is then the next ticket number it will index).
constexpr std::string_view kMetaWordsBuilt = "words_built";
constexpr std::string_view kMetaWordsNext = "words_next";

Status MdbError(const char* op, int rc) {
  return Status::Store(std::string(op) + ": " + mdb_strerror(rc));
}

MDB_val Val(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}

std::string_view View(const MDB_val& v) {
  return std::string_view(static_cast<const char*>(v.mv_data), v.mv_size);
}

// Adds lower-cased addresses to list, keeping order and skipping empties and ones already present,
// until list holds max entries (0: no bound). Linear in the sizes (a hash set of what is there):
// it runs inside the single writer, where every microsecond stalls all writes.
void MergeParticipants(const std::vector<std::string>& add, std::vector<std::string>* list,
                       size_t max = 0) {
  if (add.empty()) return;
  std::unordered_set<std::string> seen(list->begin(), list->end());
  for (const std::string& a : add) {
    if (max != 0 && list->size() >= max) return;
    std::string l = AsciiLower(a);
    if (l.empty() || !seen.insert(l).second) continue;
    list->push_back(std::move(l));
  }
}

// Owns one transaction; aborts it unless committed.
class Txn {
 public:
  Txn() = default;
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  ~Txn() { Abort(); }

  // parent: nullptr, or the write transaction to nest this one in.
  int Begin(MDB_env* env, MDB_txn* parent, unsigned flags) {
    return mdb_txn_begin(env, parent, flags, &txn_);
  }
  // The handle is freed whether or not the commit succeeds.
  int Commit() {
    int rc = mdb_txn_commit(txn_);
    txn_ = nullptr;
    return rc;
  }
  void Abort() {
    if (txn_ != nullptr) mdb_txn_abort(txn_);
    txn_ = nullptr;
  }
  MDB_txn* get() const { return txn_; }

 private:
  MDB_txn* txn_ = nullptr;
};

// Owns one cursor. Declare it after its Txn so it closes first.
class Cursor {
 public:
  Cursor() = default;
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;
  ~Cursor() {
    if (cursor_ != nullptr) mdb_cursor_close(cursor_);
  }
  int Open(MDB_txn* txn, MDB_dbi dbi) { return mdb_cursor_open(txn, dbi, &cursor_); }
  int Get(MDB_val* key, MDB_val* val, MDB_cursor_op op) { return mdb_cursor_get(cursor_, key, val, op); }

 private:
  MDB_cursor* cursor_ = nullptr;
};

// Visits the records of dbi in key order: fn(key, value, &stop) for each until fn sets stop or
// fails (its Status is returned). The views are valid only inside fn.
Status ForEachRecord(
    MDB_txn* txn, MDB_dbi dbi,
    const std::function<Status(std::string_view key, std::string_view value, bool* stop)>& fn) {
  Cursor cursor;
  int rc = cursor.Open(txn, dbi);
  if (rc != 0) return MdbError("mdb_cursor_open", rc);
  MDB_val k, val;
  for (rc = cursor.Get(&k, &val, MDB_FIRST); rc == 0; rc = cursor.Get(&k, &val, MDB_NEXT)) {
    bool stop = false;
    Status s = fn(View(k), View(val), &stop);
    if (!s.ok() || stop) return s;
  }
  if (rc != MDB_NOTFOUND) return MdbError("mdb_cursor_get", rc);
  return Status::Ok();
}

// Get/Put inside one transaction, with errors as Status. Remembers MDB_MAP_FULL so the caller can
// grow the map and rerun the transaction.
class Ops {
 public:
  explicit Ops(MDB_txn* txn) : txn_(txn) {}

  MDB_txn* txn() const { return txn_; }
  bool map_full() const { return map_full_; }

  // kNotFound when absent. *val points into the map and lives until the next write or txn end.
  Status Get(MDB_dbi dbi, std::string_view key, std::string_view* val) {
    if (key.empty()) return Status::NotFound("empty key");
    MDB_val k = Val(key), v;
    int rc = mdb_get(txn_, dbi, &k, &v);
    if (rc == MDB_NOTFOUND) return Status::NotFound("not found");
    if (rc != 0) return MdbError("mdb_get", rc);
    *val = View(v);
    return Status::Ok();
  }

  // Deleting an absent key is OK.
  Status Del(MDB_dbi dbi, std::string_view key) {
    MDB_val k = Val(key);
    int rc = mdb_del(txn_, dbi, &k, nullptr);
    if (rc == MDB_MAP_FULL) map_full_ = true;
    if (rc != 0 && rc != MDB_NOTFOUND) return MdbError("mdb_del", rc);
    return Status::Ok();
  }

  Status Put(MDB_dbi dbi, std::string_view key, std::string_view val) {
    MDB_val k = Val(key), v = Val(val);
    int rc = mdb_put(txn_, dbi, &k, &v, 0);
    if (rc == MDB_MAP_FULL) map_full_ = true;
    if (rc != 0) return MdbError("mdb_put", rc);
    return Status::Ok();
  }

  // A key/value pair of a MDB_DUPSORT table; a pair already there is left as it is.
  Status PutDup(MDB_dbi dbi, std::string_view key, std::string_view val) {
    MDB_val k = Val(key), v = Val(val);
    int rc = mdb_put(txn_, dbi, &k, &v, MDB_NODUPDATA);
    if (rc == MDB_KEYEXIST) return Status::Ok();
    if (rc == MDB_MAP_FULL) map_full_ = true;
    if (rc != 0) return MdbError("mdb_put", rc);
    return Status::Ok();
  }

  // Deletes one pair of a MDB_DUPSORT table; a pair that is not there is no error.
  Status DelDup(MDB_dbi dbi, std::string_view key, std::string_view val) {
    MDB_val k = Val(key), v = Val(val);
    int rc = mdb_del(txn_, dbi, &k, &v);
    if (rc == MDB_NOTFOUND) return Status::Ok();
    if (rc == MDB_MAP_FULL) map_full_ = true;
    if (rc != 0) return MdbError("mdb_del", rc);
    return Status::Ok();
  }

 private:
  MDB_txn* txn_;
  bool map_full_ = false;
};

// One caller's transaction body, queued for the next batch. run(ctx, ...) calls the caller's body.
struct WriteRequest {
  void* ctx = nullptr;
  Status (*run)(void* ctx, Ops& ops, bool* commit) = nullptr;
  Status status;
  bool done = false;  // guarded by batch_mu_
};

class LmdbTicketStore : public TicketStore {
 public:
  LmdbTicketStore() = default;
  ~LmdbTicketStore() override {
    if (env_ != nullptr) mdb_env_close(env_);
  }

  Status Open(const LmdbOptions& options);

  Status Write(const TicketWrite& w, WriteResult* result) override;
  Status SetStatus(uint64_t ticket, TicketStatus status, const TicketEvent& ev,
                   int64_t now) override;
  Status AddEvents(uint64_t ticket, const std::vector<TicketEvent>& events, int64_t now) override;
  Status CountInWindow(const std::string& key, int64_t now, int64_t window_seconds,
                       uint64_t* count) override;
  Status FindMessageId(const std::string& message_id, MessageIdEntry* out) override;
  Status GetTicket(uint64_t number, Ticket* out) override;
  Status GetOutbox(std::vector<OutboxMail>* out) override;
  Status GetAgentStates(std::vector<AgentStateRecord>* out) override;
  Status GetAgentStateEvents(const std::string& address,
                             std::vector<AgentStateEvent>* out) override;
  Status UpdateAgentState(
      const std::string& address,
      const std::function<Status(const AgentStateRecord*, AgentStateChange*)>& decide,
      int64_t now) override;
  Status GetRouteMarks(const std::string& queue, const std::vector<std::string>& agents,
                       std::vector<uint64_t>* marks) override;
  Status RescheduleOutbox(uint64_t seq, int64_t due_at, uint32_t attempts,
                          const std::string& error) override;
  Status FinishOutbox(uint64_t seq, const std::vector<TicketEvent>& events, int64_t now) override;
  Status GetTriggers(std::vector<StoredTrigger>* out) override;
  Status PutTrigger(StoredTrigger* t) override;
  Status DeleteTrigger(uint64_t id) override;
  Status SeedTriggers(const std::vector<std::string>& defaults) override;
  Status GetMessages(uint64_t number, std::vector<TicketMessage>* out) override;
  Status GetEvents(uint64_t number, std::vector<TicketEvent>* out) override;
  Status ListTickets(const TicketFilter& filter, std::vector<Ticket>* out) override;
  Status ScanTickets(const TicketFilter& filter,
                     const std::function<bool(const Ticket&)>& fn) override;
  Status WordCandidates(const std::vector<std::string>& words,
                        std::vector<uint64_t>* out) override;
  Status AddMinuteCounts(const std::vector<MinuteCount>& add, int64_t drop_before) override;
  Status GetMinuteCounts(int64_t from, int64_t to, std::vector<MinuteCount>* out) override;
  Status Usage(StoreUsage* out) override;
  Status Redact(uint64_t ticket, const Ticket& fields, const std::vector<TicketMessage>& messages,
                const std::vector<TicketEvent>& replace_events,
                const std::vector<TicketEvent>& add_events, const std::vector<uint64_t>& outbox,
                int64_t now, size_t* outbox_removed) override;
  Status DeleteOutbox(const std::vector<uint64_t>& seqs, size_t* removed) override;

  // See LmdbInstallationId. A plain write transaction of its own, outside the batch writer.
  Status GetOrPutMetaString(std::string_view key, const std::string& candidate, std::string* out);
  // See LmdbDeleteTickets. One plain write transaction, outside the batch writer.
  Status DeleteTickets(const std::vector<uint64_t>& numbers, uint64_t* deleted);
  // See LmdbBuildWordIndex.
  Status BuildWordIndex(bool restart, const std::function<void(uint64_t, uint64_t)>& progress,
                        WordIndexState* state);
  // See LmdbCountCounters.
  Status CountCounters(uint64_t* counters, uint64_t* expiry);

 private:
  // Runs body(Ops&, bool* commit) in the next batch and returns its status once the batch is
  // durable. Set *commit = false to end an OK body without writing.
  template <typename Body>
  Status RunWrite(Body&& body);
  // Runs the bodies in one write transaction, each nested, and commits once; sets every status.
  void RunBatch(const std::vector<WriteRequest*>& batch);
  template <typename Body>
  Status RunRead(Body&& body);

  size_t MapSize() const;
  Status GrowMap(size_t seen);
  Status AdoptMapSize();

  Status OpenBody(Ops& ops);
  Status WriteBody(Ops& ops, const TicketWrite& w, WriteResult* result, bool* commit);
  Status CountFlood(Ops& ops, const FloodCount& f, int64_t now, uint64_t* count);
  // Queues items with the change to t (nullptr: a mail of no ticket, e.g. an agent's state
  // confirmation: ticket 0, no per-ticket bound, nothing recorded); counts into result if set.
  Status QueueOutbox(Ops& ops, const std::vector<OutboxItem>& items, int64_t now, Ticket* t,
                     WriteResult* result);
  // Deletes the outbox rows of seqs that are there; *removed counts them.
  Status DelOutboxRows(Ops& ops, const std::vector<uint64_t>& seqs, size_t* removed);
  Status AddTrigger(Ops& ops, StoredTrigger* t);
  // Adds add to the counter under key (a counters-table key) in its fixed window and keeps the
  // expiry index; *count is the count after it.
  Status Count(Ops& ops, const std::string& key, int64_t now, int64_t window, uint64_t add,
               uint64_t* count);
  // The count under key now (0 when absent or its window has ended).
  Status PeekCount(Ops& ops, const std::string& key, int64_t now, int64_t window, uint64_t* count);
  // Removes up to kPrunePerWrite counters whose window ended at or before now.
  Status PruneCounters(Ops& ops, int64_t now);
  Status LoadTicket(Ops& ops, uint64_t number, Ticket* out);
  Status PutRouteMark(Ops& ops, const Ticket& t);
  Status AppendEvent(Ops& ops, Ticket* t, TicketEvent ev, int64_t now);
  // The word index keys of a stored ticket: its title and every stored message.
  Status StoredIndexKeys(Ops& ops, const Ticket& t, std::vector<std::string>* keys);
  // Adds (or removes) the pairs key -> ticket for every key.
  Status IndexPut(Ops& ops, uint64_t ticket, const std::vector<std::string>& keys);
  Status IndexDel(Ops& ops, uint64_t ticket, const std::vector<std::string>& keys);
  template <typename Record, typename Decode>
  Status ReadEntries(MDB_dbi dbi, uint64_t number, Decode decode, std::vector<Record>* out);

  MDB_env* env_ = nullptr;
  MDB_dbi meta_ = 0, tickets_ = 0, messages_ = 0, events_ = 0, msgids_ = 0, counters_ = 0,
          outbox_ = 0, triggers_ = 0;
  MDB_dbi minutes_ = 0;  // per-minute mail counts (AddMinuteCounts)
  MDB_dbi agents_ = 0, agent_events_ = 0, routing_ = 0;  // agent states (core/routing.h)
  MDB_dbi words_ = 0;    // word index: key -> ticket numbers (MDB_DUPSORT | MDB_DUPFIXED)
  MDB_dbi expiry_ = 0;   // counters by the end of their window (PruneCounters)
  std::shared_mutex resize_mu_;
  std::function<void(size_t)> before_batch_;

  std::mutex batch_mu_;
  std::condition_variable batch_cv_;
  std::deque<WriteRequest*> queue_;  // guarded by batch_mu_
  bool leader_active_ = false;       // guarded by batch_mu_
};

size_t LmdbTicketStore::MapSize() const {
  MDB_envinfo info;
  mdb_env_info(env_, &info);
  return info.me_mapsize;
}

Status LmdbTicketStore::GrowMap(size_t seen) {
  std::unique_lock lock(resize_mu_);
  const size_t current = MapSize();
  if (current > seen) return Status::Ok();  // another thread grew it meanwhile
  if (current > std::numeric_limits<size_t>::max() / 2) {
    return Status::Store("mdb_env_set_mapsize: map cannot grow beyond " + std::to_string(current));
  }
  int rc = mdb_env_set_mapsize(env_, current * 2);
  if (rc != 0) return MdbError("mdb_env_set_mapsize", rc);
  return Status::Ok();
}

Status LmdbTicketStore::AdoptMapSize() {
  std::unique_lock lock(resize_mu_);
  int rc = mdb_env_set_mapsize(env_, 0);
  if (rc != 0) return MdbError("mdb_env_set_mapsize", rc);
  return Status::Ok();
}

template <typename Body>
Status LmdbTicketStore::RunWrite(Body&& body) {
  WriteRequest req;
  req.ctx = &body;
  req.run = [](void* ctx, Ops& ops, bool* commit) -> Status {
    return (*static_cast<std::remove_reference_t<Body>*>(ctx))(ops, commit);
  };
  std::unique_lock lock(batch_mu_);
  queue_.push_back(&req);
  while (!req.done) {
    if (leader_active_) {
      batch_cv_.wait(lock);
      continue;
    }
    // Lead one batch: the oldest queued requests (not necessarily including req when more than
    // kMaxBatch are ahead of it; then the loop leads or waits again).
    leader_active_ = true;
    std::vector<WriteRequest*> batch;
    while (!queue_.empty() && batch.size() < kMaxBatch) {
      batch.push_back(queue_.front());
      queue_.pop_front();
    }
    lock.unlock();
    // Nothing may leave this block by a throw with the leader flag set (every later write would
    // wait for ever): a throw fails the batch's callers with kInternal, and the transactions it
    // unwound through were aborted by their RAII owners.
    try {
      if (before_batch_) before_batch_(batch.size());
      RunBatch(batch);
    } catch (const std::exception& e) {
      for (WriteRequest* r : batch) r->status = Status::Internal(std::string("write batch: ") + e.what());
    } catch (...) {
      for (WriteRequest* r : batch) r->status = Status::Internal("write batch: unknown exception");
    }
    lock.lock();
    for (WriteRequest* r : batch) r->done = true;
    leader_active_ = false;
    batch_cv_.notify_all();
  }
  return req.status;
}

void LmdbTicketStore::RunBatch(const std::vector<WriteRequest*>& batch) {
  auto fail_all = [&batch](const Status& s) {
    for (WriteRequest* r : batch) r->status = s;
  };
  int grown = 0, resized = 0;
  for (;;) {
    size_t seen = 0;
    bool map_full = false;
    {
      std::shared_lock lock(resize_mu_);
      seen = MapSize();
      Txn txn;
      int rc = txn.Begin(env_, nullptr, 0);
      if (rc == MDB_MAP_RESIZED && resized < kMaxResizedRetries) {
        ++resized;
      } else if (rc != 0) {
        return fail_all(MdbError("mdb_txn_begin", rc));
      } else {
        bool wrote = false;
        for (WriteRequest* r : batch) {
          // Each body in its own nested transaction: a failing one is rolled back alone.
          Txn child;
          rc = child.Begin(env_, txn.get(), 0);
          if (rc == MDB_MAP_FULL) {
            map_full = true;
            break;
          }
          if (rc != 0) {
            r->status = MdbError("mdb_txn_begin (nested)", rc);
            continue;
          }
          Ops ops(child.get());
          bool commit = true;
          r->status = r->run(r->ctx, ops, &commit);
          if (ops.map_full()) {
            map_full = true;
            break;
          }
          if (!r->status.ok() || !commit) continue;  // child aborts on scope exit
          rc = child.Commit();
          if (rc == MDB_MAP_FULL) {
            map_full = true;
            break;
          }
          if (rc != 0) {
            r->status = MdbError("mdb_txn_commit (nested)", rc);
            continue;
          }
          wrote = true;
        }
        if (!map_full) {
          // Nothing to write (all failed or were duplicates): the answers stand without a commit.
          if (!wrote) return;
          rc = txn.Commit();
          if (rc == 0) return;
          if (rc != MDB_MAP_FULL) {
            // Even a failed or read-only body saw the batch's uncommitted writes, so its answer
            // is void too.
            return fail_all(MdbError("mdb_txn_commit", rc));
          }
          map_full = true;
        }
      }
    }  // the transactions are gone before the lock is released
    for (WriteRequest* r : batch) r->status = Status::Ok();  // the rerun answers afresh
    if (map_full) {
      if (grown++ >= kMaxGrowRetries) {
        return fail_all(Status::Store("mdb_put: " + std::string(mdb_strerror(MDB_MAP_FULL)) +
                                      " after " + std::to_string(kMaxGrowRetries) +
                                      " map doublings"));
      }
      Status s = GrowMap(seen);
      if (!s.ok()) return fail_all(s);
    } else {
      Status s = AdoptMapSize();
      if (!s.ok()) return fail_all(s);
    }
  }
}

template <typename Body>
Status LmdbTicketStore::RunRead(Body&& body) {
  for (int resized = 0;; ++resized) {
    {
      std::shared_lock lock(resize_mu_);
      Txn txn;
      int rc = txn.Begin(env_, nullptr, MDB_RDONLY);
      if (rc == 0) {
        Ops ops(txn.get());
        return body(ops);
      }
      if (rc != MDB_MAP_RESIZED || resized >= kMaxResizedRetries) {
        return MdbError("mdb_txn_begin", rc);
      }
    }
    Status s = AdoptMapSize();
    if (!s.ok()) return s;
  }
}

Status LmdbTicketStore::Open(const LmdbOptions& options) {
  std::error_code ec;
  if (!std::filesystem::is_directory(options.dir, ec)) {
    std::filesystem::path dir(options.dir);
    if (dir.has_parent_path()) std::filesystem::create_directories(dir.parent_path(), ec);
    if (::mkdir(options.dir.c_str(), 0750) != 0 && errno != EEXIST) {
      return Status::Store("mkdir " + options.dir + ": " + std::strerror(errno));
    }
  }
  before_batch_ = options.before_batch;
  int rc = mdb_env_create(&env_);
  if (rc != 0) {
    env_ = nullptr;
    return MdbError("mdb_env_create", rc);
  }
  if ((rc = mdb_env_set_maxdbs(env_, kMaxDbs)) != 0) return MdbError("mdb_env_set_maxdbs", rc);
  if (options.max_readers > 0 &&
      (rc = mdb_env_set_maxreaders(env_, static_cast<unsigned>(options.max_readers))) != 0) {
    return MdbError("mdb_env_set_maxreaders", rc);
  }
  if (options.map_size > 0 &&
      (rc = mdb_env_set_mapsize(env_, static_cast<size_t>(options.map_size))) != 0) {
    return MdbError("mdb_env_set_mapsize", rc);
  }
  // Default flags keep fsync on commit: a write is durable when Write returns (unless no_sync).
  const unsigned flags = MDB_NOTLS | (options.no_sync ? MDB_NOSYNC : 0u);
  if ((rc = mdb_env_open(env_, options.dir.c_str(), flags, 0640)) != 0) {
    return Status::Store("mdb_env_open " + options.dir + ": " + mdb_strerror(rc));
  }
  int dead = 0;
  if ((rc = mdb_reader_check(env_, &dead)) != 0) return MdbError("mdb_reader_check", rc);
  // The handles stay valid only if this transaction commits, so they are opened (and the schema
  // checked) in one write transaction.
  return RunWrite([this](Ops& ops, bool*) { return OpenBody(ops); });
}

Status LmdbTicketStore::OpenBody(Ops& ops) {
  struct Named {
    const char* name;
    MDB_dbi* dbi;
  };
  for (const Named& n : {Named{"meta", &meta_}, Named{"tickets", &tickets_},
                         Named{"messages", &messages_}, Named{"events", &events_},
                         Named{"msgids", &msgids_}, Named{"counters", &counters_},
                         Named{"outbox", &outbox_}, Named{"minutes", &minutes_},
                         Named{"agents", &agents_}, Named{"agent_events", &agent_events_},
                         Named{"routing", &routing_}, Named{"triggers", &triggers_},
                         Named{"expiry", &expiry_}}) {
    int rc = mdb_dbi_open(ops.txn(), n.name, MDB_CREATE, n.dbi);
    if (rc != 0) return Status::Store(std::string("mdb_dbi_open ") + n.name + ": " + mdb_strerror(rc));
  }
  int rc = mdb_dbi_open(ops.txn(), "words", MDB_CREATE | MDB_DUPSORT | MDB_DUPFIXED, &words_);
  if (rc != 0) return Status::Store(std::string("mdb_dbi_open words: ") + mdb_strerror(rc));
  std::string_view v;
  Status s = ops.Get(meta_, kMetaVersion, &v);
  if (s.IsNotFound()) {  // a new store: its (empty) word index is complete
    s = ops.Put(meta_, kMetaVersion, codec::EncodeMetaU64(kSchemaVersion));
    if (s.ok()) s = ops.Put(meta_, kMetaNextTicket, codec::EncodeMetaU64(1));
    if (s.ok()) s = ops.Put(meta_, kMetaWordsBuilt, codec::EncodeMetaU64(1));
    return s;
  }
  if (!s.ok()) return s;
  uint64_t version = 0;
  s = codec::DecodeMetaU64(v, &version);
  if (!s.ok()) return s;
  if (version >= kOldestMigratableVersion && version < kSchemaVersion) {
    // Version 1 -> 2: the words table is there now (empty); from this commit on every write keeps
    // it, and LmdbBuildWordIndex adds the tickets written before. Until then searches scan.
    return ops.Put(meta_, kMetaVersion, codec::EncodeMetaU64(kSchemaVersion));
  }
  if (version != kSchemaVersion) {
    return Status::Store("store has schema version " + std::to_string(version) +
                         "; this build supports version " + std::to_string(kSchemaVersion));
  }
  return Status::Ok();
}

// Meta strings are stored as the encoding version byte 1 followed by the raw bytes.
Status LmdbTicketStore::GetOrPutMetaString(std::string_view key, const std::string& candidate,
                                           std::string* out) {
  std::shared_lock lock(resize_mu_);
  Txn txn;
  int rc = txn.Begin(env_, nullptr, 0);
  if (rc != 0) return MdbError("mdb_txn_begin", rc);
  Ops ops(txn.get());
  std::string_view v;
  Status s = ops.Get(meta_, key, &v);
  if (s.ok()) {
    if (v.empty() || v[0] != 1) return Status::Store("meta " + std::string(key) + ": bad encoding");
    *out = std::string(v.substr(1));
    return Status::Ok();  // the transaction aborts: nothing written
  }
  if (!s.IsNotFound()) return s;
  if (candidate.empty()) return Status::NotFound("meta " + std::string(key) + " not set");
  s = ops.Put(meta_, key, std::string(1, '\x01') + candidate);
  if (!s.ok()) return s;
  if ((rc = txn.Commit()) != 0) return MdbError("mdb_txn_commit", rc);
  *out = candidate;
  return Status::Ok();
}

Status LmdbTicketStore::DeleteTickets(const std::vector<uint64_t>& numbers, uint64_t* deleted) {
  *deleted = 0;
  if (numbers.empty()) return Status::Ok();
  std::vector<uint64_t> sorted = numbers;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  std::shared_lock lock(resize_mu_);
  Txn txn;
  int rc = txn.Begin(env_, nullptr, 0);
  if (rc != 0) return MdbError("mdb_txn_begin", rc);
  auto del = [&](MDB_dbi dbi, const std::string& key) -> Status {
    MDB_val k = Val(key);
    int r = mdb_del(txn.get(), dbi, &k, nullptr);
    if (r == MDB_MAP_FULL) return Status::Store("store map full while deleting: retry");
    if (r != 0 && r != MDB_NOTFOUND) return MdbError("mdb_del", r);
    return Status::Ok();
  };
  // Keys first, deletes after: a cursor is not used across its own deletions.
  auto keys_with_prefix = [&](MDB_dbi dbi, uint64_t number, std::vector<std::string>* keys) {
    Cursor cursor;
    int r = cursor.Open(txn.get(), dbi);
    if (r != 0) return MdbError("mdb_cursor_open", r);
    const std::string prefix = codec::TicketKey(number);
    const std::string start = codec::EntryKey(number, 0);
    MDB_val k = Val(start), val;
    for (r = cursor.Get(&k, &val, MDB_SET_RANGE); r == 0; r = cursor.Get(&k, &val, MDB_NEXT)) {
      if (!View(k).starts_with(prefix)) break;
      keys->emplace_back(View(k));
    }
    if (r != 0 && r != MDB_NOTFOUND) return MdbError("mdb_cursor_get", r);
    return Status::Ok();
  };
  for (uint64_t number : sorted) {
    const std::string ticket_key = codec::TicketKey(number);
    MDB_val k = Val(ticket_key), v;
    rc = mdb_get(txn.get(), tickets_, &k, &v);
    if (rc == MDB_NOTFOUND) continue;
    if (rc != 0) return MdbError("mdb_get", rc);
    std::vector<std::string> messages, events, words;
    Ops ops(txn.get());
    Ticket t;
    Status s = codec::DecodeTicket(View(v), &t);
    if (s.ok()) s = StoredIndexKeys(ops, t, &words);
    if (s.ok()) s = IndexDel(ops, number, words);
    if (ops.map_full()) return Status::Store("store map full while deleting: retry");
    if (s.ok()) s = keys_with_prefix(messages_, number, &messages);
    if (s.ok()) s = keys_with_prefix(events_, number, &events);
    for (const std::string& key : messages) {
      if (s.ok()) s = del(messages_, key);
    }
    for (const std::string& key : events) {
      if (s.ok()) s = del(events_, key);
    }
    if (s.ok()) s = del(tickets_, ticket_key);
    if (!s.ok()) return s;
    ++*deleted;
  }
  // Message-IDs pointing at a deleted ticket (stored or only named): one pass over the index.
  std::vector<std::string> ids;
  Status scan = ForEachRecord(txn.get(), msgids_, [&](std::string_view key, std::string_view value,
                                                      bool*) {
    MessageIdEntry e;
    if (codec::DecodeMessageIdEntry(value, &e).ok() &&
        std::binary_search(sorted.begin(), sorted.end(), e.ticket)) {
      ids.emplace_back(key);
    }
    return Status::Ok();
  });
  if (!scan.ok()) return scan;
  for (const std::string& key : ids) {
    Status s = del(msgids_, key);
    if (!s.ok()) return s;
  }
  if ((rc = txn.Commit()) != 0) return MdbError("mdb_txn_commit", rc);
  return Status::Ok();
}

Status LmdbTicketStore::LoadTicket(Ops& ops, uint64_t number, Ticket* out) {
  std::string_view v;
  Status s = ops.Get(tickets_, codec::TicketKey(number), &v);
  if (s.IsNotFound()) return Status::NotFound("ticket " + std::to_string(number) + " not found");
  if (!s.ok()) return s;
  return codec::DecodeTicket(v, out);
}

Status LmdbTicketStore::AppendEvent(Ops& ops, Ticket* t, TicketEvent ev, int64_t now) {
  if (t->event_count == std::numeric_limits<uint32_t>::max()) {
    return Status::Store("ticket " + std::to_string(t->number) + " has too many events");
  }
  ev.seq = ++t->event_count;
  if (ev.at == 0) ev.at = now;
  return ops.Put(events_, codec::EntryKey(t->number, ev.seq), codec::EncodeEvent(ev));
}

Status LmdbTicketStore::StoredIndexKeys(Ops& ops, const Ticket& t, std::vector<std::string>* keys) {
  std::vector<TicketMessage> messages;
  Cursor cursor;
  int rc = cursor.Open(ops.txn(), messages_);
  if (rc != 0) return MdbError("mdb_cursor_open", rc);
  const std::string prefix = codec::TicketKey(t.number);
  const std::string start = codec::EntryKey(t.number, 0);
  MDB_val k = Val(start), val;
  for (rc = cursor.Get(&k, &val, MDB_SET_RANGE); rc == 0; rc = cursor.Get(&k, &val, MDB_NEXT)) {
    if (!View(k).starts_with(prefix)) break;
    Status st = codec::DecodeMessage(View(val), &messages.emplace_back());
    if (!st.ok()) return st;
  }
  if (rc != 0 && rc != MDB_NOTFOUND) return MdbError("mdb_cursor_get", rc);
  std::vector<const TicketMessage*> ptrs;
  for (const TicketMessage& m : messages) ptrs.push_back(&m);
  *keys = IndexKeys(&t.title, ptrs);
  return Status::Ok();
}

Status LmdbTicketStore::IndexPut(Ops& ops, uint64_t ticket, const std::vector<std::string>& keys) {
  const std::string number = codec::TicketKey(ticket);
  for (const std::string& key : keys) {
    Status s = ops.PutDup(words_, key, number);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

Status LmdbTicketStore::IndexDel(Ops& ops, uint64_t ticket, const std::vector<std::string>& keys) {
  const std::string number = codec::TicketKey(ticket);
  for (const std::string& key : keys) {
    Status s = ops.DelDup(words_, key, number);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

Status LmdbTicketStore::CountFlood(Ops& ops, const FloodCount& f, int64_t now, uint64_t* count) {
  return Count(ops, codec::FloodCounterKey(f.queue, f.sender), now, f.window_seconds, 1, count);
}

namespace {

// expiry: u64 big-endian end of the window (seconds + 2^63) ++ the counter's key -> "".
std::string ExpiryKey(int64_t end, std::string_view counter_key) {
  uint64_t u = static_cast<uint64_t>(end) ^ (1ull << 63);
  std::string k(8, '\0');
  for (int i = 7; i >= 0; --i, u >>= 8) k[i] = static_cast<char>(u & 0xff);
  k.append(counter_key);
  return k;
}

}  // namespace

Status LmdbTicketStore::PeekCount(Ops& ops, const std::string& key, int64_t now, int64_t window,
                                  uint64_t* count) {
  *count = 0;
  std::string_view v;
  Status s = ops.Get(counters_, key, &v);
  if (s.IsNotFound()) return Status::Ok();
  if (!s.ok()) return s;
  int64_t start = 0;
  uint64_t n = 0;
  if (codec::DecodeCounter(v, &start, &n) && now - start < window && now >= start) *count = n;
  return Status::Ok();
}

Status LmdbTicketStore::Count(Ops& ops, const std::string& key, int64_t now, int64_t window,
                              uint64_t add, uint64_t* count) {
  std::string_view v;
  Status s = ops.Get(counters_, key, &v);
  if (!s.ok() && !s.IsNotFound()) return s;
  int64_t start = now;
  uint64_t n = 0;
  const bool have = s.ok() && codec::DecodeCounter(v, &start, &n);
  if (!have || now - start >= window || now < start) {
    if (have) {
      s = ops.Del(expiry_, ExpiryKey(start + window, key));
      if (!s.ok()) return s;
    }
    start = now;
    n = 0;
    s = ops.Put(expiry_, ExpiryKey(now + window, key), "");
    if (!s.ok()) return s;
  }
  n += add;
  *count = n;
  s = ops.Put(counters_, key, codec::EncodeCounter(start, n));
  if (!s.ok()) return s;
  return PruneCounters(ops, now);
}

Status LmdbTicketStore::PruneCounters(Ops& ops, int64_t now) {
  std::vector<std::string> expired;  // expiry keys; deleted after the cursor is closed
  const std::string limit = ExpiryKey(now, "");
  Status scan = ForEachRecord(ops.txn(), expiry_, [&](std::string_view key, std::string_view,
                                                      bool* stop) {
    if (key.size() < 8 || key.substr(0, 8) > std::string_view(limit)) {
      *stop = true;
    } else {
      expired.emplace_back(key);
      *stop = static_cast<int>(expired.size()) >= kPrunePerWrite;
    }
    return Status::Ok();
  });
  if (!scan.ok()) return scan;
  for (const std::string& e : expired) {
    const std::string counter_key = e.substr(8);
    std::string_view v;
    Status s = ops.Get(counters_, counter_key, &v);
    int64_t start = 0;
    uint64_t n = 0;
    // A counter renewed since this entry was written started at or after its end: it stays.
    uint64_t end_u = 0;
    for (int i = 0; i < 8; ++i) end_u = (end_u << 8) | static_cast<unsigned char>(e[i]);
    const int64_t end = static_cast<int64_t>(end_u ^ (1ull << 63));
    if (s.ok() && codec::DecodeCounter(v, &start, &n) && start < end) {
      s = ops.Del(counters_, counter_key);
      if (!s.ok()) return s;
    } else if (!s.ok() && !s.IsNotFound()) {
      return s;
    }
    s = ops.Del(expiry_, e);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

Status LmdbTicketStore::QueueOutbox(Ops& ops, const std::vector<OutboxItem>& items, int64_t now,
                                    Ticket* t, WriteResult* result) {
  if (items.empty()) return Status::Ok();
  std::string_view v;
  uint64_t next = 1;
  Status s = ops.Get(meta_, kMetaNextOutbox, &v);
  if (s.ok()) s = codec::DecodeMetaU64(v, &next);
  if (!s.ok() && !s.IsNotFound()) return s;
  for (const OutboxItem& item : items) {
    bool pass = t == nullptr || item.max_per_ticket == 0 || t->auto_answers < item.max_per_ticket;
    // The limits are counted only when every one lets the mail pass (PeekCount first); Count keeps
    // the counters' expiry index, so outsiders' answer counters are pruned like flood counters.
    for (const OutboxLimit& l : item.limits) {
      uint64_t n = 0;
      s = PeekCount(ops, codec::FloodCounterKey("outbox", l.key), now, l.window_seconds, &n);
      if (!s.ok()) return s;
      if (n >= l.max) pass = false;
    }
    if (!pass) {
      if (result != nullptr) ++result->outbox_dropped;
      continue;
    }
    for (const OutboxLimit& l : item.limits) {
      uint64_t n = 0;
      s = Count(ops, codec::FloodCounterKey("outbox", l.key), now, l.window_seconds, 1, &n);
      if (!s.ok()) return s;
    }
    if (t != nullptr && item.max_per_ticket != 0) ++t->auto_answers;
    OutboxMail m = item.mail;
    m.seq = next++;
    m.ticket = t != nullptr ? t->number : 0;
    m.queued_at = now;
    if (t != nullptr) m.raw = WithTicketNumber(std::move(m.raw), t->number);
    s = ops.Put(outbox_, codec::TicketKey(m.seq), codec::EncodeOutboxMail(m));
    if (!s.ok()) return s;
    if (t != nullptr && item.record) {
      if (t->message_count == std::numeric_limits<uint32_t>::max()) {
        return Status::Store("ticket " + std::to_string(t->number) + " has too many messages");
      }
      TicketMessage rec = *item.record;
      rec.subject = WithTicketNumber(std::move(rec.subject), t->number);
      rec.body = WithTicketNumber(std::move(rec.body), t->number);
      ++t->message_count;
      s = ops.Put(messages_, codec::EntryKey(t->number, t->message_count),
                  codec::EncodeMessage(rec, t->message_count));
      const std::string id_key = codec::MessageIdKey(rec.message_id);
      if (s.ok() && !id_key.empty()) {
        s = ops.Put(msgids_, id_key, codec::EncodeMessageIdEntry({t->number, true}));
      }
      if (!s.ok()) return s;
    }
    if (result != nullptr) ++result->outbox_queued;
  }
  return ops.Put(meta_, kMetaNextOutbox, codec::EncodeMetaU64(next));
}

Status LmdbTicketStore::WriteBody(Ops& ops, const TicketWrite& w, WriteResult* result,
                                  bool* commit) {
  *result = WriteResult();
  Status s;
  if (w.flood) {
    s = CountFlood(ops, *w.flood, w.now, &result->flood_count);
    if (!s.ok()) return s;
    if (result->flood_count > w.flood->max) result->flooded = true;
  }
  if (w.flood_network) {
    s = CountFlood(ops, *w.flood_network, w.now, &result->flood_network_count);
    if (!s.ok()) return s;
    if (result->flood_network_count > w.flood_network->max) {
      result->flooded_network = !result->flooded;
      result->flooded = true;
    }
  }
  if (result->flooded) return Status::Ok();  // the counters alone are committed
  const bool counted = w.flood.has_value() || w.flood_network.has_value();
  if (w.op == TicketWrite::Op::kNone) {
    *commit = counted;
    return Status::Ok();
  }
  if (w.op == TicketWrite::Op::kEvents) {
    Ticket t;
    s = LoadTicket(ops, w.ticket, &t);
    if (!s.ok()) return s;
    result->ticket = t.number;
    if (w.only_if_unassigned &&
        (!t.assigned_agent.empty() || t.status == TicketStatus::kClosed)) {
      result->assign_skipped = true;
      *commit = w.flood.has_value();
      return Status::Ok();
    }
    t.updated_at = w.now;
    if (w.set_assignee) t.assigned_agent = *w.set_assignee;
    for (const TicketEvent& ev : w.events) {
      s = AppendEvent(ops, &t, ev, w.now);
      if (!s.ok()) return s;
    }
    if (w.route_mark) {
      s = PutRouteMark(ops, t);
      if (!s.ok()) return s;
    }
    s = QueueOutbox(ops, w.outbox, w.now, &t, result);
    if (!s.ok()) return s;
    return ops.Put(tickets_, codec::TicketKey(t.number), codec::EncodeTicket(t));
  }

  const std::string id_key = codec::MessageIdKey(w.message.message_id);
  std::string_view v;
  s = ops.Get(msgids_, id_key, &v);
  if (s.ok()) {
    MessageIdEntry e;
    s = codec::DecodeMessageIdEntry(v, &e);
    if (!s.ok()) return s;
    if (e.stored) {
      if (!e.signature.empty() && !w.signature.empty() && e.signature != w.signature) {
        return Status::Internal("Message-ID " + w.message.message_id +
                                " was stored for another message since threading");
      }
      result->ticket = e.ticket;
      result->duplicate = true;
      *commit = counted;  // the flood counts stand
      return Status::Ok();
    }
  } else if (!s.IsNotFound()) {
    return s;
  }

  // The ticket as it is now, inside this transaction: the closed-ticket decision acts on it.
  Ticket t;
  bool create = w.op == TicketWrite::Op::kCreate;
  const Ticket* fields = &w.new_ticket;
  const std::vector<TicketEvent>* lead = nullptr;
  ClosedChoice choice;
  if (!create) {
    s = LoadTicket(ops, w.ticket, &t);
    if (!s.ok()) return s;
    for (int hop = 0; t.status == TicketStatus::kClosed && t.successor != 0 &&
                      hop < kMaxSuccessorHops; ++hop) {
      Ticket next;
      s = LoadTicket(ops, t.successor, &next);
      if (s.IsNotFound()) break;  // a dangling link: the closed ticket decides
      if (!s.ok()) return s;
      t = std::move(next);
    }
    if (t.status == TicketStatus::kClosed) {
      if (w.on_closed) {
        choice = w.on_closed(t);
      } else {
        choice.op = w.reopen ? ClosedChoice::Op::kReopen : ClosedChoice::Op::kAppend;
      }
      lead = &choice.lead_events;
      switch (choice.op) {
        case ClosedChoice::Op::kAppend: result->closed_kept = true; break;
        case ClosedChoice::Op::kReopen:
          t.status = TicketStatus::kOpen;
          result->reopened = true;
          break;
        case ClosedChoice::Op::kNew: {
          create = true;
          fields = &choice.new_ticket;
          result->linked_from = t.number;
          break;
        }
      }
    }
  }
  if (create) {
    uint64_t next = 0;
    s = ops.Get(meta_, kMetaNextTicket, &v);
    if (s.ok()) s = codec::DecodeMetaU64(v, &next);
    if (!s.ok()) return s.IsNotFound() ? Status::Store("meta next_ticket missing") : s;
    if (result->linked_from != 0) {
      // The closed ticket points to its successor, so the next reply to it joins this one.
      Ticket closed = std::move(t);
      closed.successor = next;
      s = ops.Put(tickets_, codec::TicketKey(closed.number), codec::EncodeTicket(closed));
      if (!s.ok()) return s;
    }
    t = *fields;
    t.number = next;
    t.created_at = w.now;
    t.message_count = 0;
    t.event_count = 0;
    t.successor = 0;
    if (result->linked_from != 0) t.linked_from = result->linked_from;
    std::vector<std::string> given = std::move(t.participants);
    t.participants.clear();
    MergeParticipants(given, &t.participants, w.max_participants);
    s = ops.Put(meta_, kMetaNextTicket, codec::EncodeMetaU64(next + 1));
    if (!s.ok()) return s;
    result->created = true;
  }
  MergeParticipants(w.participants, &t.participants, w.max_participants);
  for (const std::string& tag : w.add_tags) {
    if (std::find(t.tags.begin(), t.tags.end(), tag) == t.tags.end() && t.tags.size() < 100) {
      t.tags.push_back(tag);
    }
  }

  // An id only referenced so far (stored=false) is upgraded to point at this ticket.
  if (!id_key.empty()) {
    MessageIdEntry own{t.number, true};
    own.signature = w.signature;
    own.outbound = w.message.direction == Direction::kOutbound;
    s = ops.Put(msgids_, id_key, codec::EncodeMessageIdEntry(own));
    if (!s.ok()) return s;
  }
  if (!w.collided_id.empty()) {
    // The id now names two messages: threading stops following it (MessageIdEntry::contested).
    const std::string key = codec::MessageIdKey(w.collided_id);
    s = ops.Get(msgids_, key, &v);
    MessageIdEntry e;
    if (s.ok()) s = codec::DecodeMessageIdEntry(v, &e);
    if (s.ok() && !e.contested) {
      e.contested = true;
      s = ops.Put(msgids_, key, codec::EncodeMessageIdEntry(e));
    }
    if (!s.ok() && !s.IsNotFound()) return s;
  }
  // Named-only ids are bounded per ticket and per sender (issue 18 item 1): beyond a bound they
  // are not indexed, so nobody can grow the index, or claim ids, without limit.
  std::vector<std::string> named;
  for (const std::string& ref : w.referenced_ids) {
    const std::string ref_key = codec::MessageIdKey(ref);
    if (ref_key.empty()) continue;
    s = ops.Get(msgids_, ref_key, &v);
    if (s.ok()) continue;  // already indexed: keep what is there
    if (!s.IsNotFound()) return s;
    if (std::find(named.begin(), named.end(), ref_key) == named.end()) named.push_back(ref_key);
  }
  size_t room = named.size();
  if (w.max_named_ids != 0) {
    room = std::min(room, w.max_named_ids > t.named_ids ? w.max_named_ids - t.named_ids : 0);
  }
  std::string sender_key;
  if (w.named_ids_sender && w.named_ids_sender->max != 0 && room > 0) {
    sender_key = "named\x1f" + w.named_ids_sender->key;
    sender_key = codec::MessageIdKey(sender_key);
    uint64_t used = 0;
    s = PeekCount(ops, sender_key, w.now, w.named_ids_sender->window_seconds, &used);
    if (!s.ok()) return s;
    const uint64_t max = w.named_ids_sender->max;
    room = std::min<uint64_t>(room, used < max ? max - used : 0);
  }
  for (size_t i = 0; i < room; ++i) {
    s = ops.Put(msgids_, named[i], codec::EncodeMessageIdEntry({t.number, false}));
    if (!s.ok()) return s;
  }
  result->named_ids_dropped = named.size() - room;
  t.named_ids = static_cast<uint32_t>(
      std::min<uint64_t>(uint64_t{t.named_ids} + room, std::numeric_limits<uint32_t>::max()));
  if (!sender_key.empty() && room > 0) {
    uint64_t after = 0;
    s = Count(ops, sender_key, w.now, w.named_ids_sender->window_seconds, room, &after);
    if (!s.ok()) return s;
  }

  if (t.message_count == std::numeric_limits<uint32_t>::max()) {
    return Status::Store("ticket " + std::to_string(t.number) + " has too many messages");
  }
  // Encoded from w directly (no copy of the body): the seq is the only field the store sets.
  ++t.message_count;
  s = ops.Put(messages_, codec::EntryKey(t.number, t.message_count),
              codec::EncodeMessage(w.message, t.message_count));
  if (!s.ok()) return s;
  // The word index in the same transaction: the new ticket's title, the message's words.
  s = IndexPut(ops, t.number, IndexKeys(result->created ? &t.title : nullptr, {&w.message}));
  if (!s.ok()) return s;
  if (lead != nullptr) {
    for (const TicketEvent& ev : *lead) {
      s = AppendEvent(ops, &t, ev, w.now);
      if (!s.ok()) return s;
    }
  }
  for (const TicketEvent& ev : w.events) {
    s = AppendEvent(ops, &t, ev, w.now);
    if (!s.ok()) return s;
  }
  if (!w.outbox.empty()) {
    s = QueueOutbox(ops, w.outbox, w.now, &t, result);
    if (!s.ok()) return s;
  }
  t.updated_at = w.now;
  if (w.set_assignee && !result->created) t.assigned_agent = *w.set_assignee;
  if (w.route_mark && !t.assigned_agent.empty()) {
    s = PutRouteMark(ops, t);
    if (!s.ok()) return s;
  }
  s = ops.Put(tickets_, codec::TicketKey(t.number), codec::EncodeTicket(t));
  if (!s.ok()) return s;
  result->ticket = t.number;
  result->duplicate = false;
  return Status::Ok();
}

Status LmdbTicketStore::PutRouteMark(Ops& ops, const Ticket& t) {
  if (t.assigned_agent.empty()) return Status::Ok();
  return ops.Put(routing_, codec::RouteMarkKey(t.queue, t.assigned_agent),
                 codec::EncodeMetaU64(t.number));
}

Status LmdbTicketStore::GetAgentStates(std::vector<AgentStateRecord>* out) {
  std::vector<AgentStateRecord> got;
  Status s = RunRead([&](Ops& ops) {
    return ForEachRecord(ops.txn(), agents_, [&](std::string_view, std::string_view value, bool*) {
      return codec::DecodeAgentState(value, &got.emplace_back());
    });
  });
  if (!s.ok()) return s;
  std::sort(got.begin(), got.end(),
            [](const AgentStateRecord& a, const AgentStateRecord& b) { return a.address < b.address; });
  *out = std::move(got);
  return s;
}

Status LmdbTicketStore::GetAgentStateEvents(const std::string& address,
                                            std::vector<AgentStateEvent>* out) {
  std::vector<AgentStateEvent> got;
  Status s = RunRead([&](Ops& ops) {
    return ForEachRecord(ops.txn(), agent_events_,
                         [&](std::string_view, std::string_view value, bool*) {
                           AgentStateEvent e;
                           Status st = codec::DecodeAgentStateEvent(value, &e);
                           if (st.ok() && (address.empty() || e.address == address)) {
                             got.push_back(std::move(e));
                           }
                           return st;
                         });
  });
  if (s.ok()) *out = std::move(got);
  return s;
}

Status LmdbTicketStore::UpdateAgentState(
    const std::string& address,
    const std::function<Status(const AgentStateRecord*, AgentStateChange*)>& decide,
    int64_t now) {
  return RunWrite([&](Ops& ops, bool*) {
    const std::string key = codec::AgentKey(address);
    std::string_view v;
    Status s = ops.Get(agents_, key, &v);
    if (!s.ok() && !s.IsNotFound()) return s;
    AgentStateRecord current;
    const bool have = s.ok();
    if (have) {
      s = codec::DecodeAgentState(v, &current);
      if (!s.ok()) return s;
    }
    AgentStateChange change;
    s = decide(have ? &current : nullptr, &change);
    if (!s.ok()) return s;
    change.record.address = address;
    s = ops.Put(agents_, key, codec::EncodeAgentState(change.record));
    if (!s.ok()) return s;
    uint64_t next = 1;
    s = ops.Get(meta_, kMetaNextAgentEvent, &v);
    if (s.ok()) s = codec::DecodeMetaU64(v, &next);
    if (!s.ok() && !s.IsNotFound()) return s;
    change.event.seq = next;
    change.event.address = address;
    if (change.event.at == 0) change.event.at = now;
    s = ops.Put(agent_events_, codec::TicketKey(next), codec::EncodeAgentStateEvent(change.event));
    if (!s.ok()) return s;
    s = ops.Put(meta_, kMetaNextAgentEvent, codec::EncodeMetaU64(next + 1));
    if (!s.ok()) return s;
    return QueueOutbox(ops, change.outbox, now, nullptr, nullptr);
  });
}

Status LmdbTicketStore::GetRouteMarks(const std::string& queue,
                                      const std::vector<std::string>& agents,
                                      std::vector<uint64_t>* marks) {
  std::vector<uint64_t> got(agents.size(), 0);
  Status s = RunRead([&](Ops& ops) {
    for (size_t i = 0; i < agents.size(); ++i) {
      std::string_view v;
      Status st = ops.Get(routing_, codec::RouteMarkKey(queue, agents[i]), &v);
      if (st.IsNotFound()) continue;
      if (st.ok()) st = codec::DecodeMetaU64(v, &got[i]);
      if (!st.ok()) return st;
    }
    return Status::Ok();
  });
  if (s.ok()) *marks = std::move(got);
  return s;
}

Status LmdbTicketStore::Write(const TicketWrite& w, WriteResult* result) {
  if ((w.op == TicketWrite::Op::kCreate || w.op == TicketWrite::Op::kAppend) &&
      w.message.message_id.empty()) {
    return Status::Internal("ticket write without a Message-ID");
  }
  WriteResult r;
  Status s = RunWrite([&](Ops& ops, bool* commit) { return WriteBody(ops, w, &r, commit); });
  if (s.ok()) *result = r;
  return s;
}

Status LmdbTicketStore::SetStatus(uint64_t ticket, TicketStatus status, const TicketEvent& ev,
                                  int64_t now) {
  return RunWrite([&](Ops& ops, bool*) {
    Ticket t;
    Status s = LoadTicket(ops, ticket, &t);
    if (!s.ok()) return s;
    t.status = status;
    t.updated_at = now;
    s = AppendEvent(ops, &t, ev, now);
    if (!s.ok()) return s;
    return ops.Put(tickets_, codec::TicketKey(t.number), codec::EncodeTicket(t));
  });
}

Status LmdbTicketStore::Redact(uint64_t ticket, const Ticket& fields,
                               const std::vector<TicketMessage>& messages,
                               const std::vector<TicketEvent>& replace_events,
                               const std::vector<TicketEvent>& add_events,
                               const std::vector<uint64_t>& outbox, int64_t now,
                               size_t* outbox_removed) {
  size_t removed = 0;
  Status st = RunWrite([&](Ops& ops, bool*) {
    removed = 0;  // a batch rerun starts again
    Ticket t;
    Status s = LoadTicket(ops, ticket, &t);
    if (!s.ok()) return s;
    std::vector<std::string> old_keys;
    s = StoredIndexKeys(ops, t, &old_keys);
    if (!s.ok()) return s;
    std::string_view old;
    for (const TicketMessage& m : messages) {
      const std::string key = codec::EntryKey(ticket, m.seq);
      s = ops.Get(messages_, key, &old);
      if (s.ok()) s = ops.Put(messages_, key, codec::EncodeMessage(m));
      if (!s.ok()) return s;
    }
    for (const TicketEvent& e : replace_events) {
      const std::string key = codec::EntryKey(ticket, e.seq);
      s = ops.Get(events_, key, &old);
      if (s.ok()) s = ops.Put(events_, key, codec::EncodeEvent(e));
      if (!s.ok()) return s;
    }
    Ticket n = fields;
    n.number = t.number;
    n.status = t.status;
    n.message_count = t.message_count;
    n.event_count = t.event_count;
    n.created_at = t.created_at;
    n.updated_at = now;
    for (const TicketEvent& ev : add_events) {
      s = AppendEvent(ops, &n, ev, now);
      if (!s.ok()) return s;
    }
    s = ops.Put(tickets_, codec::TicketKey(n.number), codec::EncodeTicket(n));
    if (!s.ok()) return s;
    // The index forgets the words that are gone (a forgotten name must not stay searchable).
    std::vector<std::string> new_keys, gone;
    s = StoredIndexKeys(ops, n, &new_keys);
    if (!s.ok()) return s;
    std::set_difference(old_keys.begin(), old_keys.end(), new_keys.begin(), new_keys.end(),
                        std::back_inserter(gone));
    s = IndexDel(ops, n.number, gone);
    if (s.ok()) s = IndexPut(ops, n.number, new_keys);
    if (s.ok()) s = DelOutboxRows(ops, outbox, &removed);
    return s;
  });
  if (st.ok() && outbox_removed != nullptr) *outbox_removed = removed;
  return st;
}

Status LmdbTicketStore::DelOutboxRows(Ops& ops, const std::vector<uint64_t>& seqs,
                                      size_t* removed) {
  for (uint64_t seq : seqs) {
    std::string_view v;
    Status s = ops.Get(outbox_, codec::TicketKey(seq), &v);
    if (s.IsNotFound()) continue;
    if (s.ok()) s = ops.Del(outbox_, codec::TicketKey(seq));
    if (!s.ok()) return s;
    ++*removed;
  }
  return Status::Ok();
}

Status LmdbTicketStore::DeleteOutbox(const std::vector<uint64_t>& seqs, size_t* removed) {
  size_t n = 0;
  Status st = RunWrite([&](Ops& ops, bool*) {
    n = 0;
    return DelOutboxRows(ops, seqs, &n);
  });
  *removed = st.ok() ? n : 0;
  return st;
}

Status LmdbTicketStore::AddEvents(uint64_t ticket, const std::vector<TicketEvent>& events,
                                  int64_t now) {
  return RunWrite([&](Ops& ops, bool*) {
    Ticket t;
    Status s = LoadTicket(ops, ticket, &t);
    if (!s.ok()) return s;
    t.updated_at = now;
    for (const TicketEvent& ev : events) {
      s = AppendEvent(ops, &t, ev, now);
      if (!s.ok()) return s;
    }
    return ops.Put(tickets_, codec::TicketKey(t.number), codec::EncodeTicket(t));
  });
}

// The counters table's encoding is the codec's (codec::EncodeCounter).
Status LmdbTicketStore::CountInWindow(const std::string& key, int64_t now, int64_t window_seconds,
                                      uint64_t* count) {
  const std::string k = codec::MessageIdKey(key);  // same length cap and hashing as Message-IDs
  return RunWrite([&](Ops& ops, bool*) { return Count(ops, k, now, window_seconds, 1, count); });
}

namespace {

// minutes: u64 big-endian (minute + 2^63, so negative minutes sort too) -> 1 (encoding version),
// then one u64 big-endian count per verdict.
std::string MinuteKey(int64_t minute) {
  uint64_t u = static_cast<uint64_t>(minute) ^ (1ull << 63);
  std::string k(8, '\0');
  for (int i = 7; i >= 0; --i, u >>= 8) k[i] = static_cast<char>(u & 0xff);
  return k;
}

int64_t MinuteOfKey(std::string_view k) {
  uint64_t u = 0;
  for (char c : k) u = u << 8 | static_cast<unsigned char>(c);
  return static_cast<int64_t>(u ^ (1ull << 63));
}

std::vector<uint64_t> DecodeMinuteCounts(std::string_view v) {
  std::vector<uint64_t> counts;
  if (v.empty() || v[0] != 1) return counts;  // an unknown encoding reads as no mail
  for (size_t off = 1; off + 8 <= v.size(); off += 8) {
    uint64_t n = 0;
    for (size_t i = 0; i < 8; ++i) n = n << 8 | static_cast<unsigned char>(v[off + i]);
    counts.push_back(n);
  }
  return counts;
}

std::string EncodeMinuteCounts(const std::vector<uint64_t>& counts) {
  std::string v(1, '\1');
  for (uint64_t n : counts) {
    for (int i = 7; i >= 0; --i) v += static_cast<char>((n >> (8 * i)) & 0xff);
  }
  return v;
}

}  // namespace

Status LmdbTicketStore::AddMinuteCounts(const std::vector<MinuteCount>& add, int64_t drop_before) {
  return RunWrite([&](Ops& ops, bool*) {
    for (const MinuteCount& m : add) {
      if (m.minute < drop_before) continue;
      const std::string k = MinuteKey(m.minute);
      std::string_view v;
      Status s = ops.Get(minutes_, k, &v);
      if (!s.ok() && !s.IsNotFound()) return s;
      std::vector<uint64_t> counts = s.ok() ? DecodeMinuteCounts(v) : std::vector<uint64_t>();
      if (counts.size() < m.counts.size()) counts.resize(m.counts.size(), 0);
      for (size_t i = 0; i < m.counts.size(); ++i) counts[i] += m.counts[i];
      s = ops.Put(minutes_, k, EncodeMinuteCounts(counts));
      if (!s.ok()) return s;
    }
    // Drop what is older than drop_before: the oldest keys come first.
    const std::string limit = MinuteKey(drop_before);
    std::vector<std::string> old;
    Status scan = ForEachRecord(ops.txn(), minutes_, [&](std::string_view key, std::string_view,
                                                         bool* stop) {
      *stop = key >= std::string_view(limit);
      if (!*stop) old.emplace_back(key);
      return Status::Ok();
    });
    if (!scan.ok()) return scan;
    for (const std::string& key : old) {
      MDB_val dk = Val(key);
      int rc = mdb_del(ops.txn(), minutes_, &dk, nullptr);
      if (rc != 0 && rc != MDB_NOTFOUND) return MdbError("mdb_del", rc);
    }
    return Status::Ok();
  });
}

Status LmdbTicketStore::GetMinuteCounts(int64_t from, int64_t to, std::vector<MinuteCount>* out) {
  out->clear();
  return RunRead([&](Ops& ops) {
    Cursor cur;
    int rc = cur.Open(ops.txn(), minutes_);
    if (rc != 0) return MdbError("mdb_cursor_open", rc);
    std::string start = MinuteKey(from);
    MDB_val k = Val(start), v;
    for (rc = cur.Get(&k, &v, MDB_SET_RANGE); rc == 0; rc = cur.Get(&k, &v, MDB_NEXT)) {
      if (k.mv_size != 8) continue;
      int64_t minute = MinuteOfKey(View(k));
      if (minute > to) break;
      out->push_back({minute, DecodeMinuteCounts(View(v))});
    }
    if (rc != 0 && rc != MDB_NOTFOUND) return MdbError("mdb_cursor_get", rc);
    return Status::Ok();
  });
}

Status LmdbTicketStore::Usage(StoreUsage* out) {
  std::shared_lock lock(resize_mu_);
  MDB_envinfo info;
  MDB_stat st;
  int rc = mdb_env_info(env_, &info);
  if (rc == 0) rc = mdb_env_stat(env_, &st);
  if (rc != 0) return MdbError("mdb_env_info", rc);
  out->map_bytes = info.me_mapsize;
  out->used_bytes = static_cast<uint64_t>(info.me_last_pgno + 1) * st.ms_psize;
  return Status::Ok();
}

Status LmdbTicketStore::FindMessageId(const std::string& message_id, MessageIdEntry* out) {
  return RunRead([&](Ops& ops) {
    std::string_view v;
    Status s = ops.Get(msgids_, codec::MessageIdKey(message_id), &v);
    if (s.IsNotFound()) return Status::NotFound("message id not indexed");
    if (!s.ok()) return s;
    return codec::DecodeMessageIdEntry(v, out);
  });
}

Status LmdbTicketStore::GetTicket(uint64_t number, Ticket* out) {
  return RunRead([&](Ops& ops) { return LoadTicket(ops, number, out); });
}

template <typename Record, typename Decode>
Status LmdbTicketStore::ReadEntries(MDB_dbi dbi, uint64_t number, Decode decode,
                                    std::vector<Record>* out) {
  std::vector<Record> got;
  Status s = RunRead([&](Ops& ops) {
    std::string_view v;
    Status st = ops.Get(tickets_, codec::TicketKey(number), &v);
    if (st.IsNotFound()) return Status::NotFound("ticket " + std::to_string(number) + " not found");
    if (!st.ok()) return st;
    Cursor cursor;
    int rc = cursor.Open(ops.txn(), dbi);
    if (rc != 0) return MdbError("mdb_cursor_open", rc);
    const std::string prefix = codec::TicketKey(number);
    const std::string start = codec::EntryKey(number, 0);
    MDB_val k = Val(start), val;
    for (rc = cursor.Get(&k, &val, MDB_SET_RANGE); rc == 0; rc = cursor.Get(&k, &val, MDB_NEXT)) {
      if (!View(k).starts_with(prefix)) break;
      st = decode(View(val), &got.emplace_back());
      if (!st.ok()) return st;
    }
    if (rc != 0 && rc != MDB_NOTFOUND) return MdbError("mdb_cursor_get", rc);
    return Status::Ok();
  });
  if (s.ok()) *out = std::move(got);
  return s;
}

Status LmdbTicketStore::GetMessages(uint64_t number, std::vector<TicketMessage>* out) {
  return ReadEntries(messages_, number, codec::DecodeMessage, out);
}

Status LmdbTicketStore::GetEvents(uint64_t number, std::vector<TicketEvent>* out) {
  return ReadEntries(events_, number, codec::DecodeEvent, out);
}

Status LmdbTicketStore::GetOutbox(std::vector<OutboxMail>* out) {
  std::vector<OutboxMail> got;
  Status s = RunRead([&](Ops& ops) {
    return ForEachRecord(ops.txn(), outbox_, [&](std::string_view, std::string_view value, bool*) {
      return codec::DecodeOutboxMail(value, &got.emplace_back());
    });
  });
  if (s.ok()) *out = std::move(got);
  return s;
}

Status LmdbTicketStore::RescheduleOutbox(uint64_t seq, int64_t due_at, uint32_t attempts,
                                         const std::string& error) {
  return RunWrite([&](Ops& ops, bool*) {
    std::string_view v;
    Status s = ops.Get(outbox_, codec::TicketKey(seq), &v);
    if (s.IsNotFound()) return Status::NotFound("no outbox mail " + std::to_string(seq));
    OutboxMail m;
    if (s.ok()) s = codec::DecodeOutboxMail(v, &m);
    if (!s.ok()) return s;
    m.due_at = due_at;
    m.attempts = attempts;
    m.last_error = error;
    return ops.Put(outbox_, codec::TicketKey(seq), codec::EncodeOutboxMail(m));
  });
}

Status LmdbTicketStore::FinishOutbox(uint64_t seq, const std::vector<TicketEvent>& events,
                                     int64_t now) {
  return RunWrite([&](Ops& ops, bool*) {
    std::string_view v;
    Status s = ops.Get(outbox_, codec::TicketKey(seq), &v);
    if (s.IsNotFound()) return Status::NotFound("no outbox mail " + std::to_string(seq));
    OutboxMail m;
    if (s.ok()) s = codec::DecodeOutboxMail(v, &m);
    if (s.ok()) s = ops.Del(outbox_, codec::TicketKey(seq));
    if (!s.ok() || events.empty()) return s;
    Ticket t;
    s = LoadTicket(ops, m.ticket, &t);
    if (s.IsNotFound()) return Status::Ok();  // deleted meanwhile: the row alone goes
    if (!s.ok()) return s;
    for (const TicketEvent& ev : events) {
      s = AppendEvent(ops, &t, ev, now);
      if (!s.ok()) return s;
    }
    return ops.Put(tickets_, codec::TicketKey(t.number), codec::EncodeTicket(t));
  });
}

Status LmdbTicketStore::GetTriggers(std::vector<StoredTrigger>* out) {
  std::vector<StoredTrigger> got;
  Status s = RunRead([&](Ops& ops) {
    return ForEachRecord(ops.txn(), triggers_,
                         [&](std::string_view key, std::string_view value, bool*) {
                           StoredTrigger t;
                           if (!codec::ParseTicketKey(key, &t.id) || value.empty() ||
                               value[0] != 1) {
                             return Status::Store("corrupt record (trigger)");
                           }
                           t.json.assign(value.substr(1));
                           got.push_back(std::move(t));
                           return Status::Ok();
                         });
  });
  if (s.ok()) *out = std::move(got);
  return s;
}

// Trigger values: the encoding version byte 1, then the JSON text (core/triggers.h).
Status LmdbTicketStore::AddTrigger(Ops& ops, StoredTrigger* t) {
  std::string_view v;
  uint64_t next = 1;
  Status s = ops.Get(meta_, kMetaNextTrigger, &v);
  if (s.ok()) s = codec::DecodeMetaU64(v, &next);
  if (!s.ok() && !s.IsNotFound()) return s;
  t->id = next;
  s = ops.Put(triggers_, codec::TicketKey(next), std::string(1, '\x01') + t->json);
  if (!s.ok()) return s;
  return ops.Put(meta_, kMetaNextTrigger, codec::EncodeMetaU64(next + 1));
}

Status LmdbTicketStore::PutTrigger(StoredTrigger* t) {
  StoredTrigger copy = *t;
  Status s = RunWrite([&](Ops& ops, bool*) {
    if (copy.id == 0) return AddTrigger(ops, &copy);
    std::string_view v;
    Status st = ops.Get(triggers_, codec::TicketKey(copy.id), &v);
    if (st.IsNotFound()) return Status::NotFound("no trigger " + std::to_string(copy.id));
    if (!st.ok()) return st;
    return ops.Put(triggers_, codec::TicketKey(copy.id), std::string(1, '\x01') + copy.json);
  });
  if (s.ok()) *t = std::move(copy);
  return s;
}

Status LmdbTicketStore::DeleteTrigger(uint64_t id) {
  return RunWrite([&](Ops& ops, bool*) {
    std::string_view v;
    Status s = ops.Get(triggers_, codec::TicketKey(id), &v);
    if (s.IsNotFound()) return Status::NotFound("no trigger " + std::to_string(id));
    if (!s.ok()) return s;
    return ops.Del(triggers_, codec::TicketKey(id));
  });
}

Status LmdbTicketStore::SeedTriggers(const std::vector<std::string>& defaults) {
  return RunWrite([&](Ops& ops, bool* commit) {
    std::string_view v;
    Status s = ops.Get(meta_, kMetaTriggersSeeded, &v);
    if (s.ok()) {
      *commit = false;
      return Status::Ok();
    }
    if (!s.IsNotFound()) return s;
    for (const std::string& json : defaults) {
      StoredTrigger t{0, json};
      s = AddTrigger(ops, &t);
      if (!s.ok()) return s;
    }
    return ops.Put(meta_, kMetaTriggersSeeded, codec::EncodeMetaU64(1));
  });
}

Status LmdbTicketStore::ListTickets(const TicketFilter& filter, std::vector<Ticket>* out) {
  std::vector<Ticket> got;
  Status s = ScanTickets(filter, [&got](const Ticket& t) {
    got.push_back(t);
    return true;
  });
  if (s.ok()) *out = std::move(got);
  return s;
}

Status LmdbTicketStore::ScanTickets(const TicketFilter& filter,
                                    const std::function<bool(const Ticket&)>& fn) {
  return RunRead([&](Ops& ops) {
    Cursor cursor;
    int rc = cursor.Open(ops.txn(), tickets_);
    if (rc != 0) return MdbError("mdb_cursor_open", rc);
    MDB_val k, val;
    uint64_t given = 0;
    Ticket t;
    for (rc = cursor.Get(&k, &val, MDB_LAST); rc == 0; rc = cursor.Get(&k, &val, MDB_PREV)) {
      t = Ticket();
      Status st = codec::DecodeTicket(View(val), &t);
      if (!st.ok()) return st;
      if (!filter.queue.empty() && t.queue != filter.queue) continue;
      if (filter.status.has_value() && t.status != *filter.status) continue;
      ++given;
      if (!fn(t)) return Status::Ok();
      if (filter.limit != 0 && given >= filter.limit) return Status::Ok();
    }
    if (rc != MDB_NOTFOUND) return MdbError("mdb_cursor_get", rc);
    return Status::Ok();
  });
}

// For each word: every index key that contains it (a walk over the distinct keys, not over the
// tickets), the union of their tickets; then the intersection over the words.
Status LmdbTicketStore::WordCandidates(const std::vector<std::string>& words,
                                       std::vector<uint64_t>* out) {
  out->clear();
  std::vector<uint64_t> result;
  Status s = RunRead([&](Ops& ops) {
    std::string_view v;
    Status st = ops.Get(meta_, kMetaWordsBuilt, &v);
    if (st.IsNotFound()) return Status::NotFound("the word index is not built (deskctl reindex)");
    if (!st.ok()) return st;
    Cursor cursor;
    int rc = cursor.Open(ops.txn(), words_);
    if (rc != 0) return MdbError("mdb_cursor_open", rc);
    std::vector<std::vector<uint64_t>> per_word(words.size());
    MDB_val k, val;
    for (rc = cursor.Get(&k, &val, MDB_FIRST); rc == 0;
         rc = cursor.Get(&k, &val, MDB_NEXT_NODUP)) {
      const std::string_view key = View(k);
      std::vector<size_t> hit;
      for (size_t i = 0; i < words.size(); ++i) {
        if (key.find(words[i]) != std::string_view::npos) hit.push_back(i);
      }
      if (hit.empty()) continue;
      // The key's tickets: val is the first; the rest by MDB_NEXT_DUP.
      int r = 0;
      for (; r == 0; r = cursor.Get(&k, &val, MDB_NEXT_DUP)) {
        uint64_t n = 0;
        for (char c : View(val)) n = n << 8 | static_cast<unsigned char>(c);
        for (size_t i : hit) per_word[i].push_back(n);
      }
      if (r != MDB_NOTFOUND) return MdbError("mdb_cursor_get", r);
    }
    if (rc != MDB_NOTFOUND) return MdbError("mdb_cursor_get", rc);
    for (size_t i = 0; i < per_word.size(); ++i) {
      std::vector<uint64_t>& p = per_word[i];
      std::sort(p.begin(), p.end());
      p.erase(std::unique(p.begin(), p.end()), p.end());
      if (i == 0) {
        result = std::move(p);
        continue;
      }
      std::vector<uint64_t> both;
      std::set_intersection(result.begin(), result.end(), p.begin(), p.end(),
                            std::back_inserter(both));
      result = std::move(both);
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  std::reverse(result.begin(), result.end());  // newest first, as ScanTickets
  *out = std::move(result);
  return Status::Ok();
}

Status LmdbTicketStore::BuildWordIndex(bool restart,
                                       const std::function<void(uint64_t, uint64_t)>& progress,
                                       WordIndexState* state) {
  if (restart) {
    Status s = RunWrite([&](Ops& ops, bool*) {
      int rc = mdb_drop(ops.txn(), words_, 0);
      if (rc == MDB_MAP_FULL) return Status::Store("mdb_drop: map full");
      if (rc != 0) return MdbError("mdb_drop", rc);
      MDB_val k = Val(kMetaWordsBuilt);
      rc = mdb_del(ops.txn(), meta_, &k, nullptr);
      if (rc != 0 && rc != MDB_NOTFOUND) return MdbError("mdb_del", rc);
      return ops.Put(meta_, kMetaWordsNext, codec::EncodeMetaU64(1));
    });
    if (!s.ok()) return s;
  }
  *state = WordIndexState();
  for (;;) {
    bool done = false;
    uint64_t next = 1, last = 0, indexed = 0;
    // One chunk of tickets per write, so a large store never makes one huge transaction, and a
    // build that stops half way goes on from words_next. Writes meanwhile keep the index
    // themselves; adding a pair twice is harmless.
    Status s = RunWrite([&](Ops& ops, bool* commit) {
      done = false;
      indexed = 0;
      std::string_view v;
      Status st = ops.Get(meta_, kMetaWordsBuilt, &v);
      if (st.ok()) {
        done = true;
        *commit = false;
        return Status::Ok();
      }
      if (!st.IsNotFound()) return st;
      next = 1;
      st = ops.Get(meta_, kMetaWordsNext, &v);
      if (st.ok()) st = codec::DecodeMetaU64(v, &next);
      if (!st.ok() && !st.IsNotFound()) return st;
      st = ops.Get(meta_, kMetaNextTicket, &v);
      if (st.ok()) st = codec::DecodeMetaU64(v, &last);
      if (!st.ok()) return st;
      Cursor cursor;
      int rc = cursor.Open(ops.txn(), tickets_);
      if (rc != 0) return MdbError("mdb_cursor_open", rc);
      std::vector<Ticket> chunk;
      const std::string start = codec::TicketKey(next);
      MDB_val k = Val(start), val;
      for (rc = cursor.Get(&k, &val, MDB_SET_RANGE); rc == 0 && chunk.size() < kIndexChunk;
           rc = cursor.Get(&k, &val, MDB_NEXT)) {
        st = codec::DecodeTicket(View(val), &chunk.emplace_back());
        if (!st.ok()) return st;
      }
      if (rc != 0 && rc != MDB_NOTFOUND) return MdbError("mdb_cursor_get", rc);
      for (const Ticket& t : chunk) {
        std::vector<std::string> keys;
        st = StoredIndexKeys(ops, t, &keys);
        if (st.ok()) st = IndexPut(ops, t.number, keys);
        if (!st.ok()) return st;
        ++indexed;
        next = t.number + 1;
      }
      if (chunk.size() < kIndexChunk) {
        done = true;
        return ops.Put(meta_, kMetaWordsBuilt, codec::EncodeMetaU64(1));
      }
      return ops.Put(meta_, kMetaWordsNext, codec::EncodeMetaU64(next));
    });
    if (!s.ok()) return s;
    state->tickets += indexed;
    if (progress) progress(next, last);
    if (done) break;
  }
  state->built = true;
  return Status::Ok();
}

}  // namespace

Status OpenLmdbTicketStore(const LmdbOptions& options, std::unique_ptr<TicketStore>* out) {
  auto store = std::make_unique<LmdbTicketStore>();
  Status s = store->Open(options);
  if (!s.ok()) return s;
  *out = std::move(store);
  return Status::Ok();
}

Status LmdbInstallationId(TicketStore* store, const std::string& candidate, std::string* out) {
  auto* lmdb = dynamic_cast<LmdbTicketStore*>(store);
  if (lmdb == nullptr) return Status::Invalid("not an LMDB ticket store");
  return lmdb->GetOrPutMetaString(kMetaInstallationId, candidate, out);
}

Status LmdbBuildWordIndex(TicketStore* store, bool restart,
                          const std::function<void(uint64_t, uint64_t)>& progress,
                          WordIndexState* state) {
  auto* lmdb = dynamic_cast<LmdbTicketStore*>(store);
  if (lmdb == nullptr) return Status::Invalid("not an LMDB ticket store");
  return lmdb->BuildWordIndex(restart, progress, state);
}

Status LmdbDeleteTickets(TicketStore* store, const std::vector<uint64_t>& numbers,
                         uint64_t* deleted) {
  auto* lmdb = dynamic_cast<LmdbTicketStore*>(store);
  if (lmdb == nullptr) return Status::Invalid("not an LMDB ticket store");
  return lmdb->DeleteTickets(numbers, deleted);
}

Status LmdbTicketStore::CountCounters(uint64_t* counters, uint64_t* expiry) {
  return RunRead([&](Ops& ops) {
    MDB_stat st;
    int rc = mdb_stat(ops.txn(), counters_, &st);
    if (rc != 0) return MdbError("mdb_stat", rc);
    *counters = st.ms_entries;
    rc = mdb_stat(ops.txn(), expiry_, &st);
    if (rc != 0) return MdbError("mdb_stat", rc);
    *expiry = st.ms_entries;
    return Status::Ok();
  });
}

Status LmdbCountCounters(TicketStore* store, uint64_t* counters, uint64_t* expiry) {
  auto* lmdb = dynamic_cast<LmdbTicketStore*>(store);
  if (lmdb == nullptr) return Status::Invalid("not an LMDB ticket store");
  return lmdb->CountCounters(counters, expiry);
}

}  // namespace desk
