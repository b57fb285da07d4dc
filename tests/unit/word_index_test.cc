// Tests of the word index (core/lmdb_store.h `words`, core/ticket_view.h IndexWords): a search
// through WordCandidates + MatchesWords finds exactly what the full scan finds, and the index is
// kept in step by create, append, Redact and LmdbDeleteTickets; a version 1 store is migrated and
// LmdbBuildWordIndex fills its index.
#include <gtest/gtest.h>
#include <lmdb.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "core/lmdb_store.h"
#include "core/ticket_codec.h"
#include "core/ticket_view.h"

namespace desk {
namespace {

class WordIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "desk_words_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    ASSERT_TRUE(Open().ok());
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  Status Open() {
    store_.reset();
    LmdbOptions o;
    o.dir = dir_;
    o.map_size = 1 << 20;  // small: the fill grows the map
    o.no_sync = true;
    return OpenLmdbTicketStore(o, &store_);
  }

  uint64_t MustWrite(const TicketWrite& w) {
    WriteResult r;
    Status s = store_->Write(w, &r);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return r.ticket;
  }

  // The old full scan: every ticket, its messages, MatchesWords.
  std::vector<uint64_t> Scan(const std::vector<std::string>& words) {
    std::vector<uint64_t> got;
    std::vector<Ticket> all;
    EXPECT_TRUE(store_->ListTickets({}, &all).ok());
    for (const Ticket& t : all) {
      std::vector<TicketMessage> m;
      EXPECT_TRUE(store_->GetMessages(t.number, &m).ok());
      if (MatchesWords(words, t, m)) got.push_back(t.number);
    }
    return got;
  }

  // Through the index: the candidates, checked with MatchesWords.
  std::vector<uint64_t> Indexed(const std::vector<std::string>& words) {
    std::vector<uint64_t> cand, got;
    Status s = store_->WordCandidates(words, &cand);
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_TRUE(std::is_sorted(cand.rbegin(), cand.rend())) << "newest first";
    for (uint64_t n : cand) {
      Ticket t;
      std::vector<TicketMessage> m;
      EXPECT_TRUE(store_->GetTicket(n, &t).ok());
      EXPECT_TRUE(store_->GetMessages(n, &m).ok());
      if (MatchesWords(words, t, m)) got.push_back(n);
    }
    return got;
  }

  std::vector<uint64_t> Candidates(const std::string& text) {
    std::vector<std::string> words;
    EXPECT_TRUE(SearchWords(text, &words));
    std::vector<uint64_t> cand;
    EXPECT_TRUE(store_->WordCandidates(words, &cand).ok());
    return cand;
  }

  std::string dir_;
  std::unique_ptr<TicketStore> store_;
};

uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  return x ^ (x >> 31);
}

// Words with capitals, non-Latin scripts, digits, marks and punctuation around them.
const char* const kVocabulary[] = {
    "Invoice", "invoice-42", "PASSWORD", "reset", "Straße", "ΣΟΦΊΑ", "Привет", "日本語テキスト",
    "مرحبا", "e\xCC\x81t\xC3\xA9", "x", "ab", "42", "2026-12-03", "foo.bar@example.com",
    "don't", "\xff\xfe broken", "naïve", "İstanbul", "quux"};

// A generated store: tickets with one to three messages drawn from the vocabulary, some with a
// run longer than the index's window (a 700-byte base64-like blob).
void Fill(WordIndexTest* t, std::vector<TicketWrite>* writes) {
  (void)t;
  for (uint64_t i = 1; i <= 150; ++i) {
    TicketWrite w;
    w.op = TicketWrite::Op::kCreate;
    w.new_ticket.queue = "support";
    w.new_ticket.title = std::string("Re: ") + kVocabulary[Mix(i) % 20];
    w.message.message_id = "gen-" + std::to_string(i) + "@x";
    w.message.subject = kVocabulary[Mix(i * 3) % 20];
    for (int k = 0; k < 12; ++k) {
      w.message.body += std::string(kVocabulary[Mix(i * 31 + k) % 20]) + (k % 3 ? " " : ", ");
    }
    if (i % 7 == 0) {
      std::string blob;
      for (int k = 0; k < 700; ++k) blob += "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0123456789"[Mix(i + k) % 42];
      w.message.body += "\n" + blob + "\n";
    }
    w.now = 1000 + static_cast<int64_t>(i);
    writes->push_back(w);
  }
}

TEST_F(WordIndexTest, SearchThroughTheIndexEqualsTheFullScan) {
  std::vector<TicketWrite> writes;
  Fill(this, &writes);
  for (const TicketWrite& w : writes) MustWrite(w);
  // Appends to every fifth ticket bring words no create had.
  for (uint64_t n = 5; n <= 150; n += 5) {
    TicketWrite w;
    w.op = TicketWrite::Op::kAppend;
    w.ticket = n;
    w.message.message_id = "app-" + std::to_string(n) + "@x";
    w.message.body = "Appended zebra" + std::to_string(n % 3);
    w.now = 5000;
    MustWrite(w);
  }
  // Whole words, parts of words (substring search), several words, case and scripts, a part
  // of the long blob taken from its middle (across a window boundary), and words no ticket has.
  std::vector<std::string> queries = {
      "invoice", "INVOICE 42", "voi", "strasse", "straße", "σοφία", "привет", "テキスト", "مرحبا",
      "x", "ab", "2026", "example com", "zebra", "zebra1", "ebra2", "naïve İstanbul", "istanbul",
      "quux reset password", "nosuchword", "é"};
  std::string blob;
  for (int k = 0; k < 700; ++k) blob += "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0123456789"[Mix(7 + k) % 42];
  queries.push_back(blob.substr(150, 100));
  queries.push_back(blob.substr(590, 100));
  queries.push_back(blob.substr(0, 3));
  int non_empty = 0;
  for (const std::string& q : queries) {
    std::vector<std::string> words;
    ASSERT_TRUE(SearchWords(q, &words)) << q;
    const std::vector<uint64_t> want = Scan(words), got = Indexed(words);
    EXPECT_EQ(got, want) << "query \"" << q << "\"";
    non_empty += want.empty() ? 0 : 1;
  }
  EXPECT_GE(non_empty, 18);  // the queries do find tickets
  // The index narrows: a rare word's candidates are few.
  EXPECT_EQ(Candidates("zebra1").size(), Scan({"zebra1"}).size());
  EXPECT_TRUE(Candidates("nosuchword").empty());
}

TEST_F(WordIndexTest, CreateAppendRedactAndDeleteKeepTheIndexInStep) {
  TicketWrite w;
  w.op = TicketWrite::Op::kCreate;
  w.new_ticket.queue = "support";
  w.new_ticket.title = "Printer broken";
  w.message.message_id = "a@x";
  w.message.body = "My printer says Kowalski";
  w.now = 10;
  const uint64_t a = MustWrite(w);
  w.new_ticket.title = "Other";
  w.message.message_id = "b@x";
  w.message.body = "nothing here";
  const uint64_t b = MustWrite(w);
  EXPECT_EQ(Candidates("printer"), std::vector<uint64_t>({a}));
  EXPECT_EQ(Candidates("kowalski"), std::vector<uint64_t>({a}));
  EXPECT_TRUE(Candidates("toner").empty());

  // Append: the new message's words are found at once.
  TicketWrite ap;
  ap.op = TicketWrite::Op::kAppend;
  ap.ticket = b;
  ap.message.message_id = "c@x";
  ap.message.subject = "Toner";
  ap.message.body = "toner empty, Kowalski";
  ap.now = 20;
  MustWrite(ap);
  EXPECT_EQ(Candidates("toner"), std::vector<uint64_t>({b}));
  EXPECT_EQ(Candidates("kowalski"), std::vector<uint64_t>({b, a}));

  // Redact (deskctl forget): words that are gone leave the index.
  Ticket t;
  std::vector<TicketMessage> msgs;
  ASSERT_TRUE(store_->GetTicket(a, &t).ok());
  ASSERT_TRUE(store_->GetMessages(a, &msgs).ok());
  msgs[0].body = "[forgotten]";
  t.title = "[forgotten]";
  ASSERT_TRUE(store_->Redact(a, t, msgs, {}, {}, {}, 30, nullptr).ok());
  EXPECT_EQ(Candidates("kowalski"), std::vector<uint64_t>({b}));
  EXPECT_TRUE(Candidates("printer").empty());
  EXPECT_EQ(Candidates("forgotten"), std::vector<uint64_t>({a}));

  // Delete (deskctl purge): the ticket is in no posting any more.
  uint64_t deleted = 0;
  ASSERT_TRUE(LmdbDeleteTickets(store_.get(), {b}, &deleted).ok());
  EXPECT_EQ(deleted, 1u);
  EXPECT_TRUE(Candidates("kowalski").empty());
  EXPECT_TRUE(Candidates("toner").empty());
  EXPECT_TRUE(Candidates("nothing").empty());
  EXPECT_EQ(Candidates("forgotten"), std::vector<uint64_t>({a}));
}

// A store written before the index (schema version 1, no words table): opening migrates it, the
// search says the index is missing, LmdbBuildWordIndex fills it in chunks; then index == scan.
TEST_F(WordIndexTest, VersionOneStoreIsMigratedAndReindexed) {
  std::vector<TicketWrite> writes;
  Fill(this, &writes);
  for (int i = 0; i < 600; ++i) {  // more than one chunk of the build
    TicketWrite w = writes[i % writes.size()];
    w.message.message_id = "v1-" + std::to_string(i) + "@x";
    MustWrite(w);
  }
  store_.reset();
  {  // Make it a version 1 store: no words table, no words_built, version 1.
    MDB_env* env = nullptr;
    ASSERT_EQ(mdb_env_create(&env), 0);
    ASSERT_EQ(mdb_env_set_maxdbs(env, 16), 0);
    ASSERT_EQ(mdb_env_set_mapsize(env, 64 << 20), 0);
    ASSERT_EQ(mdb_env_open(env, dir_.c_str(), 0, 0640), 0);
    MDB_txn* txn = nullptr;
    ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
    MDB_dbi meta, words;
    ASSERT_EQ(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    ASSERT_EQ(mdb_dbi_open(txn, "words", 0, &words), 0);
    ASSERT_EQ(mdb_drop(txn, words, 1), 0);
    std::string key = "version", val = codec::EncodeMetaU64(1), built = "words_built";
    MDB_val k{key.size(), key.data()}, v{val.size(), val.data()};
    ASSERT_EQ(mdb_put(txn, meta, &k, &v, 0), 0);
    MDB_val kb{built.size(), built.data()};
    ASSERT_EQ(mdb_del(txn, meta, &kb, nullptr), 0);
    ASSERT_EQ(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
  }
  ASSERT_TRUE(Open().ok());
  std::vector<uint64_t> cand;
  Status s = store_->WordCandidates({"invoice"}, &cand);
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  // A write after the migration is indexed by itself; the build adds the older tickets.
  TicketWrite late = writes[0];
  late.message.message_id = "late@x";
  late.message.body = "latecomer";
  const uint64_t late_n = MustWrite(late);
  int chunks = 0;
  WordIndexState state;
  s = LmdbBuildWordIndex(store_.get(), false, [&](uint64_t, uint64_t) { ++chunks; }, &state);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(state.built);
  EXPECT_EQ(state.tickets, 601u);
  EXPECT_GE(chunks, 3);
  EXPECT_EQ(Candidates("latecomer"), std::vector<uint64_t>({late_n}));
  for (const char* q : {"invoice", "straße", "привет", "x", "quux reset"}) {
    std::vector<std::string> words;
    ASSERT_TRUE(SearchWords(q, &words));
    EXPECT_EQ(Indexed(words), Scan(words)) << q;
    EXPECT_FALSE(Scan(words).empty()) << q;
  }
  // Built: a second call does nothing; a restart rebuilds to the same answers.
  ASSERT_TRUE(LmdbBuildWordIndex(store_.get(), false, {}, &state).ok());
  EXPECT_EQ(state.tickets, 0u);
  ASSERT_TRUE(LmdbBuildWordIndex(store_.get(), true, {}, &state).ok());
  EXPECT_EQ(state.tickets, 601u);
  std::vector<std::string> words;
  ASSERT_TRUE(SearchWords("invoice", &words));
  EXPECT_EQ(Indexed(words), Scan(words));
  // Reopening a version 2 store keeps the index.
  ASSERT_TRUE(Open().ok());
  EXPECT_EQ(Candidates("latecomer"), std::vector<uint64_t>({late_n}));
}

TEST(IndexWordsTest, RunsAndWindows) {
  std::vector<std::string> keys;
  IndexWords("Hello, WORLD-wide  Straße 42", &keys);
  EXPECT_EQ(keys, std::vector<std::string>({"hello", "world", "wide", "straße", "42"}));
  keys.clear();
  std::string run;
  for (int i = 0; i < 450; ++i) run += static_cast<char>('a' + i % 26);
  IndexWords(run, &keys);
  // Windows of 200 bytes starting every 100 until one reaches the end: 0, 100, 200, 300 (150).
  ASSERT_EQ(keys.size(), 4u);
  EXPECT_EQ(keys[0], run.substr(0, 200));
  EXPECT_EQ(keys[2], run.substr(200, 200));
  EXPECT_EQ(keys[3], run.substr(300));
  keys.clear();
  IndexWords("", &keys);
  EXPECT_TRUE(keys.empty());
}

}  // namespace
}  // namespace desk
