// One engine fixture for the tests that run mail through the whole pipeline (engine_test,
// engine_auto_test, agents_test, threading_test): a temp directory, the base config (queues
// support and billing from the option table's defaults), the LMDB store and the engine, and the
// ingest helpers. Each suite derives from it and adjusts the config it opens with.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "config/loader.h"
#include "core/engine.h"
#include "core/lmdb_store.h"
#include "core/mime_parser.h"

namespace desk::testing {

class EngineFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    InitMimeLibrary();
    dir_ = std::filesystem::temp_directory_path() /
           ("desk-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->test_suite_name() + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    engine_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // The option table's defaults with the store in the temp directory, the scanner off (no
  // signatures on test machines: attachment_stage_test scans), and two queues: support
  // (support@example.com, *@help.example.com; a reply to a closed ticket reopens it) and billing
  // (billing@example.com; closed_reply = "new").
  Config BaseConfig(const std::string& store_name = "store") const {
    Config c = config::DefaultConfig();
    c.store_dir = (dir_ / store_name).string();
    c.spool_dir = dir_.string();
    c.scanner_enabled = false;
    QueueConfig q = config::DefaultQueueConfig();
    q.name = "support";
    q.color = "#2e86de";
    q.addresses = {"support@example.com", "*@help.example.com"};
    q.default_address = "support@example.com";
    q.subject_tag = "[#{n}]";
    QueueConfig b = q;
    b.name = "billing";
    b.addresses = {"billing@example.com"};
    b.default_address = "billing@example.com";
    b.closed_reply = ClosedReply::kNew;
    c.queues = {q, b};
    return c;
  }

  // Opens (or reopens: a new store object on the same dir) the store and builds the engine.
  void Open(const Config& c) {
    engine_.reset();
    store_.reset();
    config_ = std::make_shared<Config>(c);
    LmdbOptions o;
    o.dir = config_->store_dir;
    ASSERT_TRUE(OpenLmdbTicketStore(o, &store_).ok());
    Status st = Engine::Create(config_, store_.get(), &engine_);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

  // Runs raw through a Transaction with env (queue id QIDn when empty) at now.
  Decision IngestRaw(const std::string& raw, Envelope env, int64_t now, bool dry_run = false) {
    ++seq_;
    if (env.queue_id.empty()) env.queue_id = "QID" + std::to_string(seq_);
    Transaction tx(*engine_, env);
    if (tx.IsRelevant()) tx.Raw(raw);
    return tx.EndOfMessage(now, dry_run);
  }
  Decision IngestRaw(const std::string& raw, const std::string& mail_from, const std::string& rcpt,
                     int64_t now, bool dry_run = false) {
    Envelope env;
    env.mail_from = mail_from;
    env.rcpts = {rcpt};
    return IngestRaw(raw, env, now, dry_run);
  }

  Ticket GetTicket(uint64_t n) {
    Ticket t;
    EXPECT_TRUE(store_->GetTicket(n, &t).ok()) << n;
    return t;
  }
  std::vector<TicketEvent> Events(uint64_t n) {
    std::vector<TicketEvent> ev;
    EXPECT_TRUE(store_->GetEvents(n, &ev).ok());
    return ev;
  }
  std::vector<TicketMessage> Messages(uint64_t n) {
    std::vector<TicketMessage> m;
    EXPECT_TRUE(store_->GetMessages(n, &m).ok());
    return m;
  }
  size_t TicketCount() {
    std::vector<Ticket> all;
    EXPECT_TRUE(store_->ListTickets(TicketFilter(), &all).ok());
    return all.size();
  }
  static int CountEvents(const std::vector<TicketEvent>& ev, const std::string& type) {
    int n = 0;
    for (const auto& e : ev) n += e.type == type ? 1 : 0;
    return n;
  }
  static bool HasEvent(const std::vector<TicketEvent>& ev, const std::string& type) {
    return CountEvents(ev, type) > 0;
  }
  static const HeaderEdit* FindEdit(const Decision& d, const std::string& name) {
    for (const auto& e : d.header_changes) {
      if (e.name == name) return &e;
    }
    return nullptr;
  }

  std::filesystem::path dir_;
  std::shared_ptr<Config> config_;
  std::unique_ptr<TicketStore> store_;
  std::unique_ptr<Engine> engine_;
  int seq_ = 0;
};

// A plain customer's mail for the engine and threading tests.
struct Mail {
  std::string from = "Carol Customer <carol@customer.test>";
  std::string to = "support@example.com";
  std::string subject = "Printer on fire";
  std::string message_id = "<m1@customer.test>";  // "" = no header
  std::string in_reply_to;
  std::string references;
  std::string extra_headers;
  std::string body = "Hello,\r\nthe printer is on fire.\r\n";

  std::string Render() const {
    std::string s = "From: " + from + "\r\nTo: " + to + "\r\nSubject: " + subject +
                    "\r\nDate: Sat, 21 Nov 2026 10:00:00 +0000\r\n";
    if (!message_id.empty()) s += "Message-ID: " + message_id + "\r\n";
    if (!in_reply_to.empty()) s += "In-Reply-To: " + in_reply_to + "\r\n";
    if (!references.empty()) s += "References: " + references + "\r\n";
    s += extra_headers;
    s += "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body;
    return s;
  }
};

}  // namespace desk::testing
