// Tests for core/lmdb_store: the LMDB TicketStore against its contract in core/ticket_store.h.
// Each test gets its own temporary directory, removed afterwards.
#include "core/lmdb_store.h"

#include <gtest/gtest.h>
#include <lmdb.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <filesystem>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/ticket_codec.h"

namespace desk {
namespace {

class LmdbStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "desk_store_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    dir_ = root_ + "/sub/store";  // parents are created too
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(root_);
  }

  Status Open(uint64_t map_size = 1 << 20,
              std::function<void(size_t)> before_batch = nullptr) {
    store_.reset();
    LmdbOptions o;
    o.dir = dir_;
    o.map_size = map_size;
    o.max_readers = 64;
    o.before_batch = std::move(before_batch);
    return OpenLmdbTicketStore(o, &store_);
  }

  static TicketWrite Create(const std::string& id, const std::string& queue = "support",
                            int64_t now = 1000) {
    TicketWrite w;
    w.op = TicketWrite::Op::kCreate;
    w.new_ticket.queue = queue;
    w.new_ticket.title = "subject of " + id;
    w.new_ticket.requester = {"Ann", "Ann@Example.com"};
    w.new_ticket.participants = {"Ann@Example.com"};
    w.message.message_id = id;
    w.message.kind = "new";
    w.message.body = "body of " + id;
    TicketEvent ev;
    ev.type = "created";
    ev.text = "created by mail";
    w.events = {ev};
    w.now = now;
    return w;
  }

  static TicketWrite Append(uint64_t ticket, const std::string& id, int64_t now = 2000) {
    TicketWrite w;
    w.op = TicketWrite::Op::kAppend;
    w.ticket = ticket;
    w.message.message_id = id;
    w.message.kind = "reply";
    w.message.body = "reply " + id;
    TicketEvent ev;
    ev.type = "latest_email";
    ev.text = "mid:" + id;
    w.events = {ev};
    w.now = now;
    return w;
  }

  WriteResult MustWrite(const TicketWrite& w) {
    WriteResult r;
    Status s = store_->Write(w, &r);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return r;
  }

  std::string root_, dir_;
  std::unique_ptr<TicketStore> store_;
};

TEST_F(LmdbStoreTest, CreateThenGet) {
  ASSERT_TRUE(Open().ok());
  struct stat st;
  ASSERT_EQ(stat(dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0750u);

  TicketWrite w = Create("m1@example.com", "support", 1234);
  w.participants = {"ann@example.com", "Bob@Example.COM", "", "bob@example.com"};
  w.message.to = {{"Support", "support@example.com"}};
  WriteResult r = MustWrite(w);
  EXPECT_EQ(r.ticket, 1u);
  EXPECT_FALSE(r.duplicate);

  Ticket t;
  ASSERT_TRUE(store_->GetTicket(1, &t).ok());
  EXPECT_EQ(t.number, 1u);
  EXPECT_EQ(t.queue, "support");
  EXPECT_EQ(t.status, TicketStatus::kOpen);
  EXPECT_EQ(t.title, "subject of m1@example.com");
  EXPECT_EQ(t.requester.address, "Ann@Example.com");
  EXPECT_EQ(t.created_at, 1234);
  EXPECT_EQ(t.updated_at, 1234);
  EXPECT_EQ(t.message_count, 1u);
  EXPECT_EQ(t.event_count, 1u);
  EXPECT_EQ(t.participants, (std::vector<std::string>{"ann@example.com", "bob@example.com"}));

  std::vector<TicketMessage> msgs;
  ASSERT_TRUE(store_->GetMessages(1, &msgs).ok());
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].seq, 1u);
  EXPECT_EQ(msgs[0].message_id, "m1@example.com");
  EXPECT_EQ(msgs[0].body, "body of m1@example.com");
  ASSERT_EQ(msgs[0].to.size(), 1u);
  EXPECT_EQ(msgs[0].to[0].address, "support@example.com");

  std::vector<TicketEvent> evs;
  ASSERT_TRUE(store_->GetEvents(1, &evs).ok());
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0].seq, 1u);
  EXPECT_EQ(evs[0].type, "created");
  EXPECT_EQ(evs[0].at, 1234);  // at = 0 is stamped with the write's now

  MessageIdEntry e;
  ASSERT_TRUE(store_->FindMessageId("m1@example.com", &e).ok());
  EXPECT_EQ(e.ticket, 1u);
  EXPECT_TRUE(e.stored);

  EXPECT_TRUE(store_->GetTicket(2, &t).IsNotFound());
  EXPECT_TRUE(store_->GetMessages(2, &msgs).IsNotFound());
  EXPECT_TRUE(store_->GetEvents(2, &evs).IsNotFound());
  EXPECT_TRUE(store_->FindMessageId("nope@example.com", &e).IsNotFound());
  EXPECT_TRUE(store_->FindMessageId("", &e).IsNotFound());
}

TEST_F(LmdbStoreTest, WriteWithoutMessageIdIsRefused) {
  ASSERT_TRUE(Open().ok());
  WriteResult r;
  EXPECT_FALSE(store_->Write(Create(""), &r).ok());
  MustWrite(Create("a@x"));
  Ticket t;
  ASSERT_TRUE(store_->GetTicket(1, &t).ok());  // the refused write used no number
}

TEST_F(LmdbStoreTest, AppendIncrementsSeqAndCounts) {
  ASSERT_TRUE(Open().ok());
  MustWrite(Create("a1@x", "support", 100));
  MustWrite(Create("b1@x", "support", 150));  // a neighbour whose entries must not leak in
  TicketWrite w2 = Append(1, "a2@x", 200);
  TicketEvent extra;
  extra.type = "tag_ignored";
  extra.at = 42;  // an explicit time is kept
  w2.events.push_back(extra);
  w2.participants = {"Carl@X"};
  EXPECT_EQ(MustWrite(w2).ticket, 1u);
  EXPECT_EQ(MustWrite(Append(1, "a3@x", 300)).ticket, 1u);

  Ticket t;
  ASSERT_TRUE(store_->GetTicket(1, &t).ok());
  EXPECT_EQ(t.message_count, 3u);
  EXPECT_EQ(t.event_count, 4u);
  EXPECT_EQ(t.created_at, 100);
  EXPECT_EQ(t.updated_at, 300);
  EXPECT_EQ(t.participants, (std::vector<std::string>{"ann@example.com", "carl@x"}));

  std::vector<TicketMessage> msgs;
  ASSERT_TRUE(store_->GetMessages(1, &msgs).ok());
  ASSERT_EQ(msgs.size(), 3u);
  const std::vector<std::string> want_ids = {"a1@x", "a2@x", "a3@x"};
  for (size_t i = 0; i < msgs.size(); ++i) {
    EXPECT_EQ(msgs[i].seq, i + 1);
    EXPECT_EQ(msgs[i].message_id, want_ids[i]);
  }
  std::vector<TicketEvent> evs;
  ASSERT_TRUE(store_->GetEvents(1, &evs).ok());
  const std::vector<std::pair<std::string, int64_t>> want_evs = {
      {"created", 100}, {"latest_email", 200}, {"tag_ignored", 42}, {"latest_email", 300}};
  ASSERT_EQ(evs.size(), want_evs.size());
  for (size_t i = 0; i < evs.size(); ++i) {
    EXPECT_EQ(evs[i].seq, i + 1);
    EXPECT_EQ(evs[i].type, want_evs[i].first);
    EXPECT_EQ(evs[i].at, want_evs[i].second);
  }
  ASSERT_TRUE(store_->GetMessages(2, &msgs).ok());
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].message_id, "b1@x");
}

TEST_F(LmdbStoreTest, DuplicateMessageIdWritesNothing) {
  ASSERT_TRUE(Open().ok());
  MustWrite(Create("first@x"));
  MustWrite(Create("other@x"));
  MustWrite(Append(1, "second@x"));
  struct Case {
    const char* name;
    TicketWrite w;
    uint64_t want_ticket;
  };
  const std::vector<Case> cases = {
      {"create with a stored id", Create("first@x"), 1},
      {"create with an appended id", Create("second@x"), 1},
      {"append elsewhere", Append(2, "first@x"), 1},
      {"append to same", Append(1, "second@x"), 1},
      {"append to missing", Append(99, "other@x"), 2},
  };
  for (const Case& c : cases) {
    WriteResult r;
    Status s = store_->Write(c.w, &r);
    ASSERT_TRUE(s.ok()) << c.name << ": " << s.ToString();
    EXPECT_TRUE(r.duplicate) << c.name;
    EXPECT_EQ(r.ticket, c.want_ticket) << c.name;
  }
  Ticket t1, t2;
  ASSERT_TRUE(store_->GetTicket(1, &t1).ok());
  ASSERT_TRUE(store_->GetTicket(2, &t2).ok());
  EXPECT_EQ(t1.message_count, 2u);
  EXPECT_EQ(t2.message_count, 1u);
  EXPECT_TRUE(store_->GetTicket(3, &t1).IsNotFound());
  EXPECT_EQ(MustWrite(Create("new@x")).ticket, 3u);  // no number was used up
}

TEST_F(LmdbStoreTest, ReferencedIdsIndexedAndUpgraded) {
  ASSERT_TRUE(Open().ok());
  const std::string long_ref = std::string(700, 'r') + "@x";
  TicketWrite w = Create("m1@x");
  w.referenced_ids = {"r1@x", "r2@x", "m1@x", "", long_ref};
  MustWrite(w);
  TicketWrite w2 = Create("m2@x");
  w2.referenced_ids = {"r1@x", "m1@x"};  // already indexed: left alone
  MustWrite(w2);

  struct Case {
    std::string id;
    uint64_t want_ticket;
    bool want_stored;
  };
  const std::vector<Case> before = {
      {"m1@x", 1, true}, {"r1@x", 1, false}, {"r2@x", 1, false}, {long_ref, 1, false},
      {"m2@x", 2, true}};
  for (const Case& c : before) {
    MessageIdEntry e;
    ASSERT_TRUE(store_->FindMessageId(c.id, &e).ok()) << c.id.substr(0, 20);
    EXPECT_EQ(e.ticket, c.want_ticket) << c.id.substr(0, 20);
    EXPECT_EQ(e.stored, c.want_stored) << c.id.substr(0, 20);
  }

  // A referenced id arriving as a message is not a duplicate; it now points at its ticket.
  WriteResult r = MustWrite(Append(2, "r1@x"));
  EXPECT_FALSE(r.duplicate);
  r = MustWrite(Append(2, long_ref));
  EXPECT_FALSE(r.duplicate);
  const std::vector<Case> after = {{"r1@x", 2, true}, {long_ref, 2, true}, {"r2@x", 1, false}};
  for (const Case& c : after) {
    MessageIdEntry e;
    ASSERT_TRUE(store_->FindMessageId(c.id, &e).ok());
    EXPECT_EQ(e.ticket, c.want_ticket) << c.id.substr(0, 20);
    EXPECT_EQ(e.stored, c.want_stored) << c.id.substr(0, 20);
  }
  r = MustWrite(Create("r1@x"));
  EXPECT_TRUE(r.duplicate);
  EXPECT_EQ(r.ticket, 2u);
}

TEST_F(LmdbStoreTest, AppendToMissingTicketIsNotFound) {
  ASSERT_TRUE(Open().ok());
  WriteResult r;
  Status s = store_->Write(Append(7, "x@x"), &r);
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  MessageIdEntry e;
  EXPECT_TRUE(store_->FindMessageId("x@x", &e).IsNotFound());  // nothing was indexed
  EXPECT_EQ(MustWrite(Create("y@x")).ticket, 1u);
}

TEST_F(LmdbStoreTest, SetStatusAndReopen) {
  ASSERT_TRUE(Open().ok());
  MustWrite(Create("a@x", "support", 100));
  TicketEvent close;
  close.type = "closed";
  close.text = "closed by bob";
  ASSERT_TRUE(store_->SetStatus(1, TicketStatus::kClosed, close, 500).ok());
  Ticket t;
  ASSERT_TRUE(store_->GetTicket(1, &t).ok());
  EXPECT_EQ(t.status, TicketStatus::kClosed);
  EXPECT_EQ(t.updated_at, 500);
  EXPECT_EQ(t.event_count, 2u);

  // An append without reopen keeps it closed; with reopen it opens.
  MustWrite(Append(1, "b@x", 600));
  ASSERT_TRUE(store_->GetTicket(1, &t).ok());
  EXPECT_EQ(t.status, TicketStatus::kClosed);
  TicketWrite w = Append(1, "c@x", 700);
  w.reopen = true;
  w.events.push_back(TicketEvent{0, 0, "reopened", "reopened by mail", 0});
  MustWrite(w);
  ASSERT_TRUE(store_->GetTicket(1, &t).ok());
  EXPECT_EQ(t.status, TicketStatus::kOpen);

  std::vector<TicketEvent> evs;
  ASSERT_TRUE(store_->GetEvents(1, &evs).ok());
  const std::vector<std::string> want = {"created", "closed", "latest_email", "latest_email",
                                         "reopened"};
  ASSERT_EQ(evs.size(), want.size());
  for (size_t i = 0; i < evs.size(); ++i) {
    EXPECT_EQ(evs[i].type, want[i]);
    EXPECT_EQ(evs[i].seq, i + 1);
  }
  EXPECT_EQ(evs[1].text, "closed by bob");
  EXPECT_EQ(evs[1].at, 500);

  EXPECT_TRUE(store_->SetStatus(9, TicketStatus::kClosed, close, 1).IsNotFound());
}

TEST_F(LmdbStoreTest, ListTicketsFiltersOrderAndLimit) {
  ASSERT_TRUE(Open().ok());
  const std::vector<std::string> queues = {"a", "b", "a", "a", "b", "a"};
  for (size_t i = 0; i < queues.size(); ++i) MustWrite(Create("m" + std::to_string(i), queues[i]));
  TicketEvent ev{0, 0, "closed", "", 0};
  ASSERT_TRUE(store_->SetStatus(3, TicketStatus::kClosed, ev, 5).ok());
  ASSERT_TRUE(store_->SetStatus(5, TicketStatus::kClosed, ev, 5).ok());

  struct Case {
    const char* name;
    TicketFilter filter;
    std::vector<uint64_t> want;
  };
  const std::vector<Case> cases = {
      {"all", {}, {6, 5, 4, 3, 2, 1}},
      {"queue a", {"a", std::nullopt, 0}, {6, 4, 3, 1}},
      {"queue b", {"b", std::nullopt, 0}, {5, 2}},
      {"open", {"", TicketStatus::kOpen, 0}, {6, 4, 2, 1}},
      {"closed", {"", TicketStatus::kClosed, 0}, {5, 3}},
      {"a and open", {"a", TicketStatus::kOpen, 0}, {6, 4, 1}},
      {"limit", {"", std::nullopt, 2}, {6, 5}},
      {"a open limit", {"a", TicketStatus::kOpen, 2}, {6, 4}},
      {"no such queue", {"zzz", std::nullopt, 0}, {}},
  };
  for (const Case& c : cases) {
    std::vector<Ticket> got;
    ASSERT_TRUE(store_->ListTickets(c.filter, &got).ok()) << c.name;
    std::vector<uint64_t> got_numbers;
    for (const Ticket& t : got) got_numbers.push_back(t.number);
    EXPECT_EQ(got_numbers, c.want) << c.name;
  }
}

TEST_F(LmdbStoreTest, ReopenKeepsEverything) {
  ASSERT_TRUE(Open().ok());
  MustWrite(Create("a@x"));
  MustWrite(Create("b@x"));
  MustWrite(Append(1, "c@x"));
  TicketWrite w = Create("d@x");
  w.referenced_ids = {"ref@x"};
  MustWrite(w);
  store_.reset();

  ASSERT_TRUE(Open().ok());
  Ticket t;
  ASSERT_TRUE(store_->GetTicket(1, &t).ok());
  EXPECT_EQ(t.message_count, 2u);
  std::vector<TicketMessage> msgs;
  ASSERT_TRUE(store_->GetMessages(1, &msgs).ok());
  EXPECT_EQ(msgs.size(), 2u);
  MessageIdEntry e;
  ASSERT_TRUE(store_->FindMessageId("ref@x", &e).ok());
  EXPECT_EQ(e.ticket, 3u);
  EXPECT_FALSE(e.stored);
  EXPECT_EQ(MustWrite(Create("e@x")).ticket, 4u);
  WriteResult r = MustWrite(Create("b@x"));
  EXPECT_TRUE(r.duplicate);
  EXPECT_EQ(r.ticket, 2u);
}

TEST_F(LmdbStoreTest, MapFullGrowsAndRetries) {
  ASSERT_TRUE(Open(32 << 10).ok());
  const int kTickets = 2000;
  for (int i = 0; i < kTickets; ++i) {
    TicketWrite w = Create("big" + std::to_string(i) + "@x");
    w.message.body = std::string(2048, static_cast<char>('a' + i % 26));
    WriteResult r;
    Status s = store_->Write(w, &r);
    ASSERT_TRUE(s.ok()) << i << ": " << s.ToString();
    ASSERT_EQ(r.ticket, static_cast<uint64_t>(i + 1));
  }
  // The data outgrew the initial map many times over, so the map must have grown.
  EXPECT_GT(std::filesystem::file_size(dir_ + "/data.mdb"), 4u << 20);
  // Readable now and after reopening with the tiny map size (LMDB keeps the larger file size).
  for (int round = 0; round < 2; ++round) {
    if (round == 1) {
      ASSERT_TRUE(Open(32 << 10).ok());
    }
    std::vector<Ticket> all;
    ASSERT_TRUE(store_->ListTickets({}, &all).ok());
    EXPECT_EQ(all.size(), static_cast<size_t>(kTickets));
    for (int i = 0; i < kTickets; i += 97) {
      std::vector<TicketMessage> msgs;
      ASSERT_TRUE(store_->GetMessages(i + 1, &msgs).ok());
      ASSERT_EQ(msgs.size(), 1u);
      EXPECT_EQ(msgs[0].body, std::string(2048, static_cast<char>('a' + i % 26)));
    }
  }
}

TEST_F(LmdbStoreTest, WrongSchemaVersionIsStoreError) {
  ASSERT_TRUE(Open().ok());
  MustWrite(Create("a@x"));
  store_.reset();
  {  // Rewrite meta/version behind the store's back.
    MDB_env* env = nullptr;
    ASSERT_EQ(mdb_env_create(&env), 0);
    ASSERT_EQ(mdb_env_set_maxdbs(env, 8), 0);
    ASSERT_EQ(mdb_env_open(env, dir_.c_str(), 0, 0640), 0);
    MDB_txn* txn = nullptr;
    ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
    MDB_dbi dbi;
    ASSERT_EQ(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
    std::string key = "version", val = codec::EncodeMetaU64(7);
    MDB_val k{key.size(), key.data()}, v{val.size(), val.data()};
    ASSERT_EQ(mdb_put(txn, dbi, &k, &v, 0), 0);
    ASSERT_EQ(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
  }
  Status s = Open();
  EXPECT_EQ(s.error_class(), ErrorClass::kStore) << s.ToString();
  EXPECT_NE(s.message().find("version 7"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("version 2"), std::string::npos) << s.ToString();
  EXPECT_EQ(store_, nullptr);
}

TEST_F(LmdbStoreTest, UnusableDirectoryIsStoreError) {
  // A regular file where the directory should be.
  ASSERT_TRUE(std::filesystem::create_directories(root_ + "/sub"));
  { FILE* f = fopen(dir_.c_str(), "w"); ASSERT_NE(f, nullptr); fclose(f); }
  Status s = Open();
  EXPECT_EQ(s.error_class(), ErrorClass::kStore) << s.ToString();
}

TEST_F(LmdbStoreTest, ConcurrentWritersGetDistinctNumbers) {
  // A small map makes the writers (and a reader) race through map growth as well.
  ASSERT_TRUE(Open(64 << 10).ok());
  const int kThreads = 4, kWrites = 200;
  std::atomic<int> failures{0};
  std::atomic<bool> done{false};
  std::vector<std::vector<uint64_t>> numbers(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kWrites; ++i) {
        TicketWrite w = Create("t" + std::to_string(t) + "-" + std::to_string(i) + "@x");
        w.message.body = std::string(1000, 'z');
        WriteResult r;
        if (!store_->Write(w, &r).ok() || r.duplicate) {
          ++failures;
        } else {
          numbers[t].push_back(r.ticket);
        }
      }
    });
  }
  std::thread reader([&] {
    while (!done) {
      std::vector<Ticket> got;
      if (!store_->ListTickets({"", std::nullopt, 10}, &got).ok()) ++failures;
    }
  });
  for (std::thread& th : threads) th.join();
  done = true;
  reader.join();
  EXPECT_EQ(failures, 0);
  std::set<uint64_t> distinct;
  for (const auto& v : numbers) distinct.insert(v.begin(), v.end());
  EXPECT_EQ(distinct.size(), static_cast<size_t>(kThreads * kWrites));
  EXPECT_EQ(*distinct.begin(), 1u);
  EXPECT_EQ(*distinct.rbegin(), static_cast<uint64_t>(kThreads * kWrites));
  std::vector<Ticket> all;
  ASSERT_TRUE(store_->ListTickets({}, &all).ok());
  EXPECT_EQ(all.size(), static_cast<size_t>(kThreads * kWrites));
}

// Records the size of every write batch once armed, and holds the first armed batch in the leader
// until Release(), so the writes started meanwhile queue up and form the next batch together.
class BatchGate {
 public:
  void OnBatch(size_t n) {
    std::unique_lock lock(mu_);
    if (!armed_) return;
    sizes_.push_back(n);
    if (sizes_.size() == 1) {
      cv_.notify_all();
      cv_.wait(lock, [this] { return released_; });
    }
  }
  void Arm() {
    std::lock_guard lock(mu_);
    armed_ = true;
  }
  void WaitHeld() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return !sizes_.empty(); });
  }
  void Release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  std::vector<size_t> sizes() {
    std::lock_guard lock(mu_);
    return sizes_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool armed_ = false, released_ = false;
  std::vector<size_t> sizes_;
};

// Runs ops[i] on its own thread while gate holds the batch of blocker_write; releases the gate once every
// thread is about to call the store (plus a margin for them to enqueue), then joins them all.
void RunHeldBatch(TicketStore* store, BatchGate* gate, const TicketWrite& blocker_write,
                  const std::vector<std::function<void()>>& ops) {
  gate->Arm();
  std::thread blocker([&] {
    WriteResult r;
    Status s = store->Write(blocker_write, &r);
    EXPECT_TRUE(s.ok()) << s.ToString();
  });
  gate->WaitHeld();
  std::atomic<size_t> started{0};
  std::vector<std::thread> threads;
  for (const auto& op : ops) {
    threads.emplace_back([&started, &op] {
      ++started;
      op();
    });
  }
  while (started < ops.size()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  gate->Release();
  blocker.join();
  for (std::thread& t : threads) t.join();
}

TEST_F(LmdbStoreTest, BatchAnswersEachCallerDespiteFailuresAndDuplicates) {
  BatchGate gate;
  ASSERT_TRUE(Open(1 << 20, [&gate](size_t n) { gate.OnBatch(n); }).ok());
  ASSERT_EQ(MustWrite(Create("seed@x")).ticket, 1u);  // ticket 1; the blocker gets ticket 2

  const int kGood = 10;
  Status got_missing_append, got_missing_events, got_set_status, got_seed_dup, got_reply;
  WriteResult got_seed_dup_r, got_reply_r, got_same_r[2];
  Status got_same[2];
  uint64_t got_counts[2] = {0, 0};
  Status got_count_s[2];
  std::vector<WriteResult> got_good(kGood);
  std::vector<Status> got_good_s(kGood);
  std::vector<std::function<void()>> ops;
  ops.push_back([&] {
    WriteResult r;
    got_missing_append = store_->Write(Append(999, "missing@x"), &r);
  });
  ops.push_back([&] {
    got_missing_events = store_->AddEvents(998, {TicketEvent{0, 0, "linked", "x", 0}}, 3000);
  });
  ops.push_back([&] {
    got_set_status = store_->SetStatus(1, TicketStatus::kClosed,
                                       TicketEvent{0, 0, "closed", "by bob", 0}, 3000);
  });
  ops.push_back([&] { got_seed_dup = store_->Write(Create("seed@x"), &got_seed_dup_r); });
  ops.push_back([&] { got_reply = store_->Write(Append(1, "reply@x"), &got_reply_r); });
  for (int i = 0; i < 2; ++i) {
    ops.push_back([&, i] { got_same[i] = store_->Write(Create("same@x"), &got_same_r[i]); });
    ops.push_back([&, i] {
      got_count_s[i] = store_->CountInWindow("flood-key", 5000, 60, &got_counts[i]);
    });
  }
  for (int i = 0; i < kGood; ++i) {
    ops.push_back([&, i] {
      got_good_s[i] = store_->Write(Create("good" + std::to_string(i) + "@x"), &got_good[i]);
    });
  }
  RunHeldBatch(store_.get(), &gate, Create("blocker@x"), ops);

  // Every queued call ran in the one batch after the blocker's.
  const std::vector<size_t> sizes = gate.sizes();
  ASSERT_GE(sizes.size(), 2u);
  EXPECT_EQ(sizes[0], 1u);
  EXPECT_EQ(sizes[1], ops.size());

  EXPECT_TRUE(got_missing_append.IsNotFound()) << got_missing_append.ToString();
  EXPECT_TRUE(got_missing_events.IsNotFound()) << got_missing_events.ToString();
  EXPECT_TRUE(got_set_status.ok()) << got_set_status.ToString();
  ASSERT_TRUE(got_seed_dup.ok()) << got_seed_dup.ToString();
  EXPECT_TRUE(got_seed_dup_r.duplicate);
  EXPECT_EQ(got_seed_dup_r.ticket, 1u);
  ASSERT_TRUE(got_reply.ok()) << got_reply.ToString();
  EXPECT_FALSE(got_reply_r.duplicate);
  EXPECT_EQ(got_reply_r.ticket, 1u);
  // The same Message-ID twice in one batch: one creates, the other is its duplicate.
  ASSERT_TRUE(got_same[0].ok() && got_same[1].ok());
  EXPECT_NE(got_same_r[0].duplicate, got_same_r[1].duplicate);
  EXPECT_EQ(got_same_r[0].ticket, got_same_r[1].ticket);
  ASSERT_TRUE(got_count_s[0].ok() && got_count_s[1].ok());
  EXPECT_EQ(std::set<uint64_t>({got_counts[0], got_counts[1]}), std::set<uint64_t>({1, 2}));

  std::set<uint64_t> numbers = {1, 2, got_same_r[0].ticket};
  for (int i = 0; i < kGood; ++i) {
    ASSERT_TRUE(got_good_s[i].ok()) << i << ": " << got_good_s[i].ToString();
    EXPECT_FALSE(got_good[i].duplicate);
    numbers.insert(got_good[i].ticket);
  }
  const size_t want_tickets = 3 + kGood;
  EXPECT_EQ(numbers.size(), want_tickets);
  EXPECT_EQ(*numbers.rbegin(), want_tickets);

  // The batch is committed: it survives reopening, and the failed calls left nothing behind.
  ASSERT_TRUE(Open().ok());
  std::vector<Ticket> all;
  ASSERT_TRUE(store_->ListTickets({}, &all).ok());
  EXPECT_EQ(all.size(), want_tickets);
  Ticket t;
  EXPECT_TRUE(store_->GetTicket(999, &t).IsNotFound());
  EXPECT_TRUE(store_->GetTicket(998, &t).IsNotFound());
  ASSERT_TRUE(store_->GetTicket(1, &t).ok());
  EXPECT_EQ(t.status, TicketStatus::kClosed);
  EXPECT_EQ(t.message_count, 2u);
  EXPECT_EQ(t.event_count, 3u);  // created, closed or latest_email in batch order
  MessageIdEntry e;
  EXPECT_TRUE(store_->FindMessageId("missing@x", &e).IsNotFound());
  for (int i = 0; i < kGood; ++i) {
    ASSERT_TRUE(store_->FindMessageId("good" + std::to_string(i) + "@x", &e).ok());
    EXPECT_EQ(e.ticket, got_good[i].ticket);
  }
  uint64_t count = 0;
  ASSERT_TRUE(store_->CountInWindow("flood-key", 5001, 60, &count).ok());
  EXPECT_EQ(count, 3u);
}

TEST_F(LmdbStoreTest, MapFullDuringBatchRerunsItWithFreshAnswers) {
  BatchGate gate;
  ASSERT_TRUE(Open(32 << 10, [&gate](size_t n) { gate.OnBatch(n); }).ok());
  ASSERT_EQ(MustWrite(Create("seed@x")).ticket, 1u);
  const size_t map_before = std::filesystem::file_size(dir_ + "/data.mdb");

  // 40 x 4 KiB bodies overflow the 32 KiB map within the batch.
  const int kBig = 40;
  std::vector<WriteResult> got(kBig);
  std::vector<Status> got_s(kBig);
  Status got_missing, got_dup;
  WriteResult got_dup_r;
  std::vector<std::function<void()>> ops;
  ops.push_back([&] {
    WriteResult r;
    got_missing = store_->Write(Append(999, "missing@x"), &r);
  });
  for (int i = 0; i < kBig; ++i) {
    ops.push_back([&, i] {
      TicketWrite w = Create("big" + std::to_string(i) + "@x");
      w.message.body = std::string(4096, static_cast<char>('a' + i % 26));
      got_s[i] = store_->Write(w, &got[i]);
    });
  }
  ops.push_back([&] { got_dup = store_->Write(Create("seed@x"), &got_dup_r); });
  RunHeldBatch(store_.get(), &gate, Create("blocker@x"), ops);

  const std::vector<size_t> sizes = gate.sizes();
  ASSERT_GE(sizes.size(), 2u);
  EXPECT_EQ(sizes[1], ops.size());
  EXPECT_TRUE(got_missing.IsNotFound()) << got_missing.ToString();
  ASSERT_TRUE(got_dup.ok()) << got_dup.ToString();
  EXPECT_TRUE(got_dup_r.duplicate);
  EXPECT_EQ(got_dup_r.ticket, 1u);
  std::set<uint64_t> numbers;
  for (int i = 0; i < kBig; ++i) {
    ASSERT_TRUE(got_s[i].ok()) << i << ": " << got_s[i].ToString();
    EXPECT_FALSE(got[i].duplicate);
    numbers.insert(got[i].ticket);
  }
  // A rerun starts from the committed state, so the numbers are 3.. with no gaps or reuse.
  EXPECT_EQ(numbers.size(), static_cast<size_t>(kBig));
  EXPECT_EQ(*numbers.begin(), 3u);
  EXPECT_EQ(*numbers.rbegin(), static_cast<uint64_t>(kBig + 2));
  EXPECT_GT(std::filesystem::file_size(dir_ + "/data.mdb"), map_before);
  for (int i = 0; i < kBig; ++i) {
    std::vector<TicketMessage> msgs;
    ASSERT_TRUE(store_->GetMessages(got[i].ticket, &msgs).ok());
    ASSERT_EQ(msgs.size(), 1u);
    EXPECT_EQ(msgs[0].message_id, "big" + std::to_string(i) + "@x");
    EXPECT_EQ(msgs[0].body, std::string(4096, static_cast<char>('a' + i % 26)));
  }
  std::vector<Ticket> all;
  ASSERT_TRUE(store_->ListTickets({}, &all).ok());
  EXPECT_EQ(all.size(), static_cast<size_t>(kBig + 2));
}

TEST_F(LmdbStoreTest, ManyThreadsMixedWritesEachGetTheirOwnAnswer) {
  // A small map: batches also hit MDB_MAP_FULL now and then.
  ASSERT_TRUE(Open(64 << 10).ok());
  const int kThreads = 16, kOps = 60;
  std::atomic<int> failures{0};
  std::atomic<uint64_t> count_calls{0};
  std::vector<std::vector<uint64_t>> numbers(kThreads), counts(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      uint64_t mine = 0;
      for (int i = 0; i < kOps; ++i) {
        const std::string id = "t" + std::to_string(t) + "-" + std::to_string(i) + "@x";
        WriteResult r;
        Status s;
        switch (i % 5) {
          case 0:
          case 1: {  // a new ticket
            TicketWrite w = Create(id);
            w.message.body = std::string(600, 'q');
            s = store_->Write(w, &r);
            if (!s.ok() || r.duplicate) {
              ++failures;
            } else {
              numbers[t].push_back(r.ticket);
              mine = r.ticket;
            }
            break;
          }
          case 2:  // the previous id again: a duplicate of this thread's last ticket
            s = store_->Write(Create("t" + std::to_string(t) + "-" + std::to_string(i - 1) + "@x"),
                              &r);
            if (!s.ok() || !r.duplicate || r.ticket != mine) ++failures;
            break;
          case 3:  // an append to a ticket that does not exist
            s = store_->Write(Append(1000000 + t, id), &r);
            if (!s.IsNotFound()) ++failures;
            break;
          case 4: {  // a reply to this thread's ticket, and a shared counter
            s = store_->Write(Append(mine, id), &r);
            if (!s.ok() || r.duplicate || r.ticket != mine) ++failures;
            uint64_t c = 0;
            if (!store_->CountInWindow("shared", 100, 3600, &c).ok()) ++failures;
            counts[t].push_back(c);
            ++count_calls;
            break;
          }
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(failures, 0);
  std::set<uint64_t> distinct, distinct_counts;
  for (const auto& v : numbers) distinct.insert(v.begin(), v.end());
  for (const auto& v : counts) distinct_counts.insert(v.begin(), v.end());
  const size_t want_tickets = static_cast<size_t>(kThreads) * (kOps / 5) * 2;
  EXPECT_EQ(distinct.size(), want_tickets);
  EXPECT_EQ(*distinct.rbegin(), want_tickets);
  // Every counter call saw a different count: 1..calls.
  EXPECT_EQ(distinct_counts.size(), count_calls.load());
  EXPECT_EQ(*distinct_counts.rbegin(), count_calls.load());
  for (int t = 0; t < kThreads; ++t) {
    Ticket tk;
    ASSERT_TRUE(store_->GetTicket(numbers[t].back(), &tk).ok());
    EXPECT_EQ(tk.message_count, 2u);  // its message and one reply
  }
  std::vector<Ticket> all;
  ASSERT_TRUE(store_->ListTickets({}, &all).ok());
  EXPECT_EQ(all.size(), want_tickets);
}

}  // namespace
}  // namespace desk

namespace desk {
namespace {

// Issue 12 item 8 regression: a throw inside a write batch (here from the batch hook; in
// production a std::bad_alloc in a body) fails that batch's callers with kInternal and resets the
// leader flag: the next write is led and committed instead of waiting for ever.
TEST_F(LmdbStoreTest, WriteBatchThatThrowsDoesNotBlockLaterWrites) {
  std::atomic<int> throws{0};
  ASSERT_TRUE(Open(1 << 20, [&](size_t) {
                if (throws.fetch_sub(1) > 0) throw std::runtime_error("injected");
              }).ok());
  throws = 1;
  WriteResult r;
  Status s = store_->Write(Create("<thrown@x>"), &r);
  EXPECT_EQ(s.error_class(), ErrorClass::kInternal) << s.ToString();
  EXPECT_NE(s.message().find("injected"), std::string::npos) << s.message();
  // Nothing of the failed batch was written; later writes run normally.
  MessageIdEntry e;
  EXPECT_TRUE(store_->FindMessageId("<thrown@x>", &e).IsNotFound());
  WriteResult after = MustWrite(Create("<after@x>"));
  EXPECT_EQ(after.ticket, 1u);
  uint64_t count = 0;
  EXPECT_TRUE(store_->CountInWindow("k", 100, 60, &count).ok());
  EXPECT_EQ(count, 1u);
}

// The closed-ticket rule is decided inside the write, on the ticket as it is then; a reply that
// opened a new ticket leaves the closed one pointing to it, so the next reply joins that one.
TEST_F(LmdbStoreTest, ClosedTicketChoiceIsMadeAtCommitAndFollowsTheSuccessor) {
  ASSERT_TRUE(Open().ok());
  MustWrite(Create("<first@x>"));
  TicketEvent closed_ev;
  closed_ev.type = "closed";
  ASSERT_TRUE(store_->SetStatus(1, TicketStatus::kClosed, closed_ev, 1500).ok());
  int calls = 0;
  auto on_closed = [&calls](const Ticket& closed) {
    ++calls;
    ClosedChoice c;
    c.op = ClosedChoice::Op::kNew;
    c.new_ticket.queue = closed.queue;
    c.new_ticket.title = "follow-up";
    TicketEvent ev;
    ev.type = "linked";
    ev.related_ticket = closed.number;
    c.lead_events = {ev};
    return c;
  };
  TicketWrite w1 = Append(1, "<r1@x>");
  w1.on_closed = on_closed;
  WriteResult got1 = MustWrite(w1);
  EXPECT_TRUE(got1.created);
  EXPECT_EQ(got1.ticket, 2u);
  EXPECT_EQ(got1.linked_from, 1u);
  Ticket old, fresh;
  ASSERT_TRUE(store_->GetTicket(1, &old).ok());
  ASSERT_TRUE(store_->GetTicket(2, &fresh).ok());
  EXPECT_EQ(old.status, TicketStatus::kClosed);
  EXPECT_EQ(old.successor, 2u);
  EXPECT_EQ(old.message_count, 1u);
  EXPECT_EQ(fresh.linked_from, 1u);
  EXPECT_EQ(fresh.message_count, 1u);
  std::vector<TicketEvent> ev;
  ASSERT_TRUE(store_->GetEvents(2, &ev).ok());
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].type, "linked");  // the lead event first, then the write's own
  EXPECT_EQ(ev[1].type, "latest_email");

  TicketWrite w2 = Append(1, "<r2@x>");
  w2.on_closed = on_closed;
  WriteResult got2 = MustWrite(w2);
  EXPECT_FALSE(got2.created);
  EXPECT_EQ(got2.ticket, 2u);  // joined the successor, which is open
  EXPECT_EQ(calls, 1);
  ASSERT_TRUE(store_->GetTicket(2, &fresh).ok());
  EXPECT_EQ(fresh.message_count, 2u);
}

// The flood count is part of the same write: over the limit, only the counter is committed.
TEST_F(LmdbStoreTest, FloodCountInTheWriteSkipsTheTicketChangeWhenFlooded) {
  ASSERT_TRUE(Open().ok());
  FloodCount f;
  f.queue = "support";
  f.sender = "ann@example.com";
  f.window_seconds = 60;
  f.max = 2;
  for (int i = 1; i <= 3; ++i) {
    TicketWrite w = Create("<f" + std::to_string(i) + "@x>", "support", 1000 + i);
    w.flood = f;
    WriteResult r = MustWrite(w);
    EXPECT_EQ(r.flood_count, static_cast<uint64_t>(i));
    EXPECT_EQ(r.flooded, i == 3);
    EXPECT_EQ(r.created, i != 3);
  }
  std::vector<Ticket> all;
  ASSERT_TRUE(store_->ListTickets({}, &all).ok());
  EXPECT_EQ(all.size(), 2u);
  // A new window starts once window_seconds have passed.
  TicketWrite w = Create("<f4@x>", "support", 1000 + 61);
  w.flood = f;
  EXPECT_EQ(MustWrite(w).flood_count, 1u);
  // Flood counts alone (no ticket change) are writes too.
  TicketWrite only;
  only.op = TicketWrite::Op::kNone;
  only.now = 1000 + 62;
  only.flood = f;
  EXPECT_EQ(MustWrite(only).flood_count, 2u);
}

}  // namespace
}  // namespace desk
