// Engine tests: ticket effects of the vertical slice through the real pipeline (GMime parser,
// LMDB store in a temp directory), without an MTA. The threading rules table is threading_test.cc.
#include "core/engine.h"

#include <gtest/gtest.h>

#include <algorithm>

#include <filesystem>
#include <latch>
#include <memory>
#include <string>
#include <thread>

#include "config/loader.h"
#include "core/lmdb_store.h"
#include "core/mime_parser.h"
#include "milter/reply.h"
#include "tests/unit/engine_fixture.h"

namespace desk {
namespace {

namespace fs = std::filesystem;

using testing::EngineFixture;
using testing::Mail;

class EngineTest : public EngineFixture {
 protected:
  void SetUp() override {
    EngineFixture::SetUp();
    Reconfigure(BaseConfig());
  }
  void Reconfigure(const Config& c) { Open(c); }

  Decision Ingest(const Mail& m, const std::string& rcpt = "support@example.com",
                  const std::string& mail_from = "carol@customer.test", bool dry_run = false) {
    return IngestRaw(m.Render(), mail_from, rcpt, 1795000000 + seq_ + 1, dry_run);
  }
};

TEST_F(EngineTest, NewMailCreatesTicketWithStandardComment) {
  Decision d = Ingest(Mail{});
  EXPECT_EQ(d.verdict, Outcome::kAccept);
  EXPECT_EQ(d.kind, "new");
  EXPECT_EQ(d.queue, "support");
  ASSERT_TRUE(d.ticket.has_value());
  EXPECT_EQ(*d.ticket, 1u);
  EXPECT_EQ(d.ticket_action, "created");
  Ticket t = GetTicket(1);
  EXPECT_EQ(t.title, "Printer on fire");
  EXPECT_EQ(t.requester.address, "carol@customer.test");
  EXPECT_EQ(t.requester.name, "Carol Customer");
  EXPECT_EQ(t.queue, "support");
  EXPECT_EQ(t.status, TicketStatus::kOpen);
  EXPECT_NE(t.description.find("on fire"), std::string::npos);
  auto ev = Events(1);
  ASSERT_GE(ev.size(), 2u);
  EXPECT_EQ(ev[0].type, "created");
  for (const char* want : {"Sent by: Carol Customer <carol@customer.test>",
                           "Received by: support@example.com", "Session ID: QID1",
                           "Assigned agent: unassigned", "Queue: support",
                           "Subject: Printer on fire"}) {
    EXPECT_NE(ev[0].text.find(want), std::string::npos) << want << " in " << ev[0].text;
  }
  EXPECT_EQ(ev.back().type, "latest_email");
  EXPECT_EQ(ev.back().text, "mid:m1@customer.test");
  const HeaderEdit* h = FindEdit(d, "X-Deskmilter-Ticket");
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->value, "1");
  const HeaderEdit* s = FindEdit(d, "Subject");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->value, "[#1] Printer on fire");
}

// Issue 12 (hostile MIME cost): a Cc of more than 32 groups is read in part, and the mail is still
// ticketed and delivered, with a reason naming the header.
TEST_F(EngineTest, AddressListOfManyGroupsIsCutWithAReasonAndTheMailIsTicketed) {
  Mail m;
  m.extra_headers = "Cc: dan@customer.test";
  for (int i = 0; i < 1000; ++i) m.extra_headers += ", g:;";
  m.extra_headers += "\r\n";
  Decision d = Ingest(m);
  EXPECT_EQ(d.verdict, Outcome::kAccept);
  EXPECT_EQ(d.kind, "new");
  EXPECT_EQ(d.ticket, std::optional<uint64_t>(1));
  EXPECT_NE(std::find(d.reasons.begin(), d.reasons.end(), "address_list_cut:Cc"), d.reasons.end());
  Decision plain = Ingest(Mail{.message_id = "<m2@customer.test>"});
  EXPECT_EQ(std::find(plain.reasons.begin(), plain.reasons.end(), "address_list_cut:Cc"),
            plain.reasons.end());
}

TEST_F(EngineTest, ClosedReplyReopenOrNew) {
  ASSERT_EQ(*Ingest(Mail{}).ticket, 1u);
  ASSERT_TRUE(engine_->SetTicketStatus(1, TicketStatus::kClosed, 1795000100).ok());
  Mail r;
  r.message_id = "<r1@c>";
  r.in_reply_to = "<m1@customer.test>";
  Decision d = Ingest(r);
  EXPECT_EQ(d.ticket_action, "reopened");
  EXPECT_EQ(GetTicket(1).status, TicketStatus::kOpen);
  EXPECT_TRUE(HasEvent(Events(1), "closed"));
  EXPECT_TRUE(HasEvent(Events(1), "reopened"));

  // Billing opens a new ticket for a reply to a closed one, linked to the old.
  Mail b;
  b.to = "billing@example.com";
  b.message_id = "<b1@c>";
  ASSERT_EQ(*Ingest(b, "billing@example.com").ticket, 2u);
  ASSERT_TRUE(engine_->SetTicketStatus(2, TicketStatus::kClosed, 1795000200).ok());
  Mail br;
  br.message_id = "<b2@c>";
  br.in_reply_to = "<b1@c>";
  Decision d2 = Ingest(br, "billing@example.com");
  EXPECT_EQ(d2.ticket_action, "created");
  ASSERT_TRUE(d2.ticket.has_value());
  EXPECT_EQ(*d2.ticket, 3u);
  EXPECT_EQ(GetTicket(3).linked_from, 2u);
  EXPECT_TRUE(HasEvent(Events(3), "linked"));
  EXPECT_EQ(GetTicket(2).status, TicketStatus::kClosed);
}

// Holds every message at the Plan stage until `parties` messages have arrived there: each has
// threaded (and, in the old two-read design, read the ticket's status) before any commits.
class BarrierStep : public PlanStep {
 public:
  explicit BarrierStep(int parties) : latch_(parties) {}
  const char* name() const override { return "test_barrier"; }
  Status Plan(MessageContext&) const override {
    latch_.arrive_and_wait();
    return Status::Ok();
  }

 private:
  mutable std::latch latch_;
};

// Two replies to the same closed ticket at once, with closed_reply = "new": the closed-ticket
// decision is made inside the one write, on the ticket as it is at commit, so exactly one new
// ticket is opened and the other reply joins it.
TEST_F(EngineTest, ConcurrentRepliesToClosedTicketOpenExactlyOneNewTicket) {
  Mail b;
  b.to = "billing@example.com";
  b.message_id = "<b1@c>";
  ASSERT_EQ(*Ingest(b, "billing@example.com").ticket, 1u);
  ASSERT_TRUE(engine_->SetTicketStatus(1, TicketStatus::kClosed, 1795000200).ok());
  // A fresh engine over the same store, with the barrier in its Plan stage.
  std::unique_ptr<Engine> engine;
  ASSERT_TRUE(Engine::Create(config_, store_.get(), &engine).ok());
  engine->AddPlanStep(std::make_unique<BarrierStep>(2));
  Decision got[2];
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) {
    threads.emplace_back([&, i] {
      Mail r;
      r.to = "billing@example.com";
      r.message_id = "<concurrent" + std::to_string(i) + "@c>";
      r.in_reply_to = "<b1@c>";
      Envelope env;
      env.mail_from = "carol@customer.test";
      env.rcpts = {"billing@example.com"};
      env.queue_id = "QC" + std::to_string(i);
      Transaction tx(*engine, env);
      tx.Raw(r.Render());
      got[i] = tx.EndOfMessage(1795000300 + i);
    });
  }
  for (std::thread& t : threads) t.join();
  int created = 0, appended = 0;
  for (const Decision& d : got) {
    EXPECT_EQ(d.kind, "reply");
    ASSERT_TRUE(d.ticket.has_value());
    EXPECT_EQ(*d.ticket, 2u);
    created += d.ticket_action == "created";
    appended += d.ticket_action == "appended";
  }
  EXPECT_EQ(created, 1);
  EXPECT_EQ(appended, 1);
  std::vector<Ticket> all;
  ASSERT_TRUE(store_->ListTickets({}, &all).ok());
  EXPECT_EQ(all.size(), 2u);
  EXPECT_EQ(GetTicket(1).status, TicketStatus::kClosed);
  EXPECT_EQ(GetTicket(1).successor, 2u);
  EXPECT_EQ(GetTicket(2).message_count, 2u);
  EXPECT_EQ(GetTicket(2).linked_from, 1u);
}

// A Plan step (the hook for assignment and automatic answers) sees the planned ticket change and
// adds side effects: the outbox mail is written in the same write as the ticket, the recipient
// goes to the adapter; a duplicate writes neither again.
class AnswerStep : public PlanStep {
 public:
  const char* name() const override { return "test_answer"; }
  Status Plan(MessageContext& ctx) const override {
    if (ctx.plan.ticket_write.op != TicketWrite::Op::kCreate) return Status::Ok();
    ctx.plan.ticket_write.new_ticket.assigned_agent = "alice@example.com";
    ctx.plan.effects.add_recipients.push_back("alice@example.com");
    OutboxItem item;
    item.mail.raw = "To: " + ctx.sender + "\r\nSubject: received [#" +
                    std::string(kTicketNumberMarker) + "]\r\n\r\nok\r\n";
    ctx.plan.effects.outbox.push_back(std::move(item));
    return Status::Ok();
  }
};

TEST_F(EngineTest, PlanStepSideEffectsAreCommittedWithTheTicket) {
  std::unique_ptr<Engine> engine;
  ASSERT_TRUE(Engine::Create(config_, store_.get(), &engine).ok());
  engine->AddPlanStep(std::make_unique<AnswerStep>());
  engine_ = std::move(engine);
  Decision d = Ingest(Mail{});
  ASSERT_EQ(d.ticket, std::optional<uint64_t>(1));
  EXPECT_EQ(d.add_recipients, std::vector<std::string>{"alice@example.com"});
  EXPECT_EQ(GetTicket(1).assigned_agent, "alice@example.com");
  std::vector<OutboxMail> outbox;
  ASSERT_TRUE(store_->GetOutbox(&outbox).ok());
  ASSERT_EQ(outbox.size(), 1u);
  EXPECT_EQ(outbox[0].seq, 1u);
  EXPECT_EQ(outbox[0].ticket, 1u);
  EXPECT_NE(outbox[0].raw.find("To: carol@customer.test"), std::string::npos);
  EXPECT_NE(outbox[0].raw.find("Subject: received [#1]\r\n"), std::string::npos);
  // The SMTP retry of the same mail is a duplicate: no second answer queued.
  Decision again = Ingest(Mail{});
  EXPECT_EQ(again.kind, "duplicate");
  ASSERT_TRUE(store_->GetOutbox(&outbox).ok());
  EXPECT_EQ(outbox.size(), 1u);
}

TEST_F(EngineTest, MissingMessageIdIsGeneratedAndStable) {
  Mail m;
  m.message_id = "";
  Decision d1 = Ingest(m);
  ASSERT_FALSE(d1.message_id.empty());
  const HeaderEdit* h = FindEdit(d1, "Message-ID");
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->value, "<" + d1.message_id + ">");
  Decision d2 = Ingest(m);  // the same bytes again: an SMTP retry
  EXPECT_EQ(d2.kind, "duplicate");
  EXPECT_EQ(*d2.ticket, *d1.ticket);
}

TEST_F(EngineTest, NotSupportPassesUntouched) {
  Decision d = Ingest(Mail{}, "someone@example.com");
  EXPECT_EQ(d.kind, "not_support");
  EXPECT_EQ(d.verdict, Outcome::kAccept);
  EXPECT_TRUE(d.header_changes.empty());
  EXPECT_FALSE(d.ticket.has_value());
  Ticket t;
  EXPECT_TRUE(store_->GetTicket(1, &t).IsNotFound());
}

TEST_F(EngineTest, WildcardAndPlusAddressesRoute) {
  Decision d = Ingest(Mail{}, "anyone@help.example.com");
  EXPECT_EQ(d.queue, "support");
  EXPECT_EQ(GetTicket(*d.ticket).received_at, "anyone@help.example.com");
  Mail m;
  m.message_id = "<p1@c>";
  Decision p = Ingest(m, "support+urgent@example.com");
  EXPECT_EQ(p.queue, "support");
  EXPECT_EQ(p.kind, "new");
}

TEST_F(EngineTest, BodyIsTruncatedWithMarker) {
  Config c = *config_;
  c.max_body_chars = 100;
  Reconfigure(c);
  Mail m;
  m.body = std::string(500, 'x') + "\r\n";
  Decision d = Ingest(m);
  std::vector<TicketMessage> msgs;
  ASSERT_TRUE(store_->GetMessages(*d.ticket, &msgs).ok());
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_TRUE(msgs[0].body_truncated);
  EXPECT_EQ(msgs[0].body.rfind(std::string(100, 'x'), 0), 0u);
  EXPECT_NE(msgs[0].body.find("truncated by deskmilter"), std::string::npos);
  EXPECT_EQ(msgs[0].body.find(std::string(101, 'x')), std::string::npos);
}

TEST_F(EngineTest, DryRunCommitsNothing) {
  Decision d = Ingest(Mail{}, "support@example.com", "carol@customer.test", /*dry_run=*/true);
  EXPECT_EQ(d.kind, "new");
  EXPECT_EQ(d.ticket_action, "created");
  Ticket t;
  EXPECT_TRUE(store_->GetTicket(1, &t).IsNotFound());
  MessageIdEntry e;
  EXPECT_TRUE(store_->FindMessageId("m1@customer.test", &e).IsNotFound());
}

TEST_F(EngineTest, ForgedTicketHeadersAreReplaced) {
  Mail m;
  m.extra_headers = "X-Deskmilter-Ticket: 77\r\nX-Deskmilter-Ticket: 78\r\n";
  Decision d = Ingest(m);
  ASSERT_EQ(d.header_changes.size(), 4u);  // loop stamp, delete #2, change #1, subject
  EXPECT_EQ(d.header_changes[0].name, "X-Deskmilter-Loop");
  d.header_changes.erase(d.header_changes.begin());
  EXPECT_EQ(d.header_changes[0].op, HeaderEdit::Op::kChange);
  EXPECT_EQ(d.header_changes[0].index, 2);
  EXPECT_EQ(d.header_changes[0].value, "");
  EXPECT_EQ(d.header_changes[1].index, 1);
  EXPECT_EQ(d.header_changes[1].value, "1");
}

TEST_F(EngineTest, FailureClassesMapToConfiguredActions) {
  struct Case {
    Outcome on_malformed;
    Outcome want;
    const char* want_rcode;
  } cases[] = {
      {Outcome::kTempfail, Outcome::kTempfail, "451"},
      {Outcome::kReject, Outcome::kReject, "550"},
      {Outcome::kHold, Outcome::kHold, ""},
      {Outcome::kAccept, Outcome::kAccept, ""},
  };
  for (const auto& c : cases) {
    Config cfg = *config_;
    cfg.max_header_bytes = 1024;
    cfg.on_malformed = c.on_malformed;
    Reconfigure(cfg);
    Envelope env;
    env.mail_from = "carol@customer.test";
    env.rcpts = {"support@example.com"};
    Transaction tx(*engine_, env);
    tx.Header("Subject", "x");
    tx.Header("X-Big", std::string(2000, 'a'));
    tx.EndOfHeaders();
    tx.Body("hello\r\n");
    Decision d = tx.EndOfMessage(1795000000);
    EXPECT_EQ(d.verdict, c.want) << OutcomeName(c.on_malformed);
    EXPECT_EQ(SmtpReplyFor(d).rcode, c.want_rcode);
    EXPECT_NE(d.error.find("header bytes"), std::string::npos) << d.error;
    EXPECT_FALSE(d.ticket.has_value());
  }
}

TEST_F(EngineTest, MilterStyleFeedingMatchesRaw) {
  Envelope env;
  env.mail_from = "carol@customer.test";
  env.rcpts = {"other@example.com", "support@example.com"};
  env.queue_id = "ABC123";
  Transaction tx(*engine_, env);
  ASSERT_TRUE(tx.IsSupport());
  ASSERT_EQ(tx.support_rcpts().size(), 1u);
  tx.Header("From", "Carol <carol@customer.test>");
  tx.Header("Subject", "=?utf-8?q?Caf=C3=A9?= folded\n\tline");
  tx.Header("Message-ID", "<milter1@c>");
  tx.EndOfHeaders();
  tx.Body("body\r\n");
  Decision d = tx.EndOfMessage(1795000000);
  EXPECT_EQ(d.kind, "new");
  Ticket t = GetTicket(*d.ticket);
  EXPECT_EQ(t.title, "Caf\xc3\xa9 folded line");
  std::vector<TicketMessage> msgs;
  ASSERT_TRUE(store_->GetMessages(*d.ticket, &msgs).ok());
  EXPECT_EQ(msgs[0].queue_id, "ABC123");
  EXPECT_EQ(msgs[0].envelope_rcpts, std::vector<std::string>{"support@example.com"});
}

}  // namespace
}  // namespace desk

namespace desk {
namespace {

}  // namespace
}  // namespace desk
