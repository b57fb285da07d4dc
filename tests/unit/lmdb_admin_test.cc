// Tests of the LMDB store's admin accessors: LmdbInstallationId and LmdbDeleteTickets.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "core/lmdb_store.h"

namespace desk {
namespace {

class LmdbAdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/desk-lmdb-admin.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    Open();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Open() {
    store_.reset();
    LmdbOptions o;
    o.dir = dir_ + "/store";
    o.map_size = 1 << 20;
    ASSERT_TRUE(OpenLmdbTicketStore(o, &store_).ok());
  }
  uint64_t Create(const std::string& id, const std::string& ref) {
    TicketWrite w;
    w.op = TicketWrite::Op::kCreate;
    w.new_ticket.queue = "support";
    w.new_ticket.title = id;
    w.message.message_id = id;
    w.referenced_ids = {ref};
    w.now = 1000;
    TicketEvent ev;
    ev.type = "created";
    w.events.push_back(ev);
    WriteResult r;
    EXPECT_TRUE(store_->Write(w, &r).ok());
    return r.ticket;
  }

  std::string dir_;
  std::unique_ptr<TicketStore> store_;
};

TEST_F(LmdbAdminTest, InstallationIdIsMadeOnceAndKept) {
  std::string got;
  EXPECT_TRUE(LmdbInstallationId(store_.get(), "", &got).IsNotFound());  // read only: none yet
  ASSERT_TRUE(LmdbInstallationId(store_.get(), "first", &got).ok());
  EXPECT_EQ(got, "first");
  ASSERT_TRUE(LmdbInstallationId(store_.get(), "second", &got).ok());
  EXPECT_EQ(got, "first");
  Open();  // a restart keeps it
  ASSERT_TRUE(LmdbInstallationId(store_.get(), "third", &got).ok());
  EXPECT_EQ(got, "first");
  ASSERT_TRUE(LmdbInstallationId(store_.get(), "", &got).ok());
  EXPECT_EQ(got, "first");
}

TEST_F(LmdbAdminTest, DeleteTicketsRemovesTicketMessagesEventsAndIds) {
  uint64_t a = Create("a@x", "ref-a@x");
  uint64_t b = Create("b@x", "ref-b@x");
  uint64_t deleted = 0;
  ASSERT_TRUE(LmdbDeleteTickets(store_.get(), {a, a, 999}, &deleted).ok());
  EXPECT_EQ(deleted, 1u);  // duplicates and unknown numbers are skipped
  Ticket t;
  EXPECT_TRUE(store_->GetTicket(a, &t).IsNotFound());
  std::vector<TicketMessage> messages;
  EXPECT_TRUE(store_->GetMessages(a, &messages).IsNotFound());
  MessageIdEntry e;
  EXPECT_TRUE(store_->FindMessageId("a@x", &e).IsNotFound());
  EXPECT_TRUE(store_->FindMessageId("ref-a@x", &e).IsNotFound());
  // The other ticket is untouched.
  ASSERT_TRUE(store_->GetTicket(b, &t).ok());
  ASSERT_TRUE(store_->GetMessages(b, &messages).ok());
  EXPECT_EQ(messages.size(), 1u);
  std::vector<TicketEvent> events;
  ASSERT_TRUE(store_->GetEvents(b, &events).ok());
  EXPECT_EQ(events.size(), 1u);
  ASSERT_TRUE(store_->FindMessageId("b@x", &e).ok());
  EXPECT_EQ(e.ticket, b);
  // Numbers are never reused.
  EXPECT_GT(Create("c@x", "ref-c@x"), b);
}

}  // namespace
}  // namespace desk
