// Engine tests: every threading rule and ticket effect of the vertical slice, through the real
// pipeline (GMime parser, LMDB store in a temp directory), without an MTA.
#include "core/engine.h"
#include "milter/reply.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <latch>
#include <thread>
#include <memory>
#include <string>

#include "config/loader.h"
#include "core/lmdb_store.h"
#include "core/mime_parser.h"

namespace desk {
namespace {

namespace fs = std::filesystem;

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

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    InitMimeLibrary();
    dir_ = fs::temp_directory_path() /
           ("desk-engine-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    Config c = config::DefaultConfig();
    c.store_dir = (dir_ / "store").string();
    c.spool_dir = dir_.string();
    c.scanner_enabled = false;  // no signatures on test machines; attachment_stage_test scans
    QueueConfig q;
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
    Reconfigure(c);
  }

  void TearDown() override {
    engine_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  void Reconfigure(const Config& c) {
    engine_.reset();
    store_.reset();
    config_ = std::make_shared<Config>(c);
    LmdbOptions o;
    o.dir = config_->store_dir;
    ASSERT_TRUE(OpenLmdbTicketStore(o, &store_).ok());
    ASSERT_TRUE(Engine::Create(config_, store_.get(), &engine_).ok());
  }

  Decision Ingest(const Mail& m, const std::string& rcpt = "support@example.com",
                  const std::string& mail_from = "carol@customer.test", bool dry_run = false) {
    Envelope env;
    env.mail_from = mail_from;
    env.rcpts = {rcpt};
    env.queue_id = "QID" + std::to_string(++seq_);
    Transaction tx(*engine_, env);
    tx.Raw(m.Render());
    return tx.EndOfMessage(1795000000 + seq_, dry_run);
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
  static bool HasEvent(const std::vector<TicketEvent>& ev, const std::string& type) {
    for (const auto& e : ev) {
      if (e.type == type) return true;
    }
    return false;
  }
  static const HeaderEdit* FindEdit(const Decision& d, const std::string& name) {
    for (const auto& e : d.header_changes) {
      if (e.name == name) return &e;
    }
    return nullptr;
  }

  fs::path dir_;
  std::shared_ptr<Config> config_;
  std::unique_ptr<TicketStore> store_;
  std::unique_ptr<Engine> engine_;
  int seq_ = 0;
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

TEST_F(EngineTest, ThreadingRules) {
  // Ticket 1 from carol, ticket 2 from dave.
  Mail first;
  ASSERT_EQ(*Ingest(first).ticket, 1u);
  Mail other;
  other.from = "dave@other.test";
  other.message_id = "<d1@other.test>";
  other.subject = "Another problem";
  ASSERT_EQ(*Ingest(other, "support@example.com", "dave@other.test").ticket, 2u);

  struct Case {
    const char* name;
    Mail mail;
    const char* want_kind;
    uint64_t want_ticket;  // for new: the number it gets
    const char* want_reason;
  };
  auto mk = [](const char* id, const char* irt, const char* refs, const char* subject,
               const char* from) {
    Mail m;
    m.message_id = id;
    m.in_reply_to = irt;
    m.references = refs;
    m.subject = subject;
    m.from = from;
    return m;
  };
  Case cases[] = {
      {"in_reply_to", mk("<r1@c>", "<m1@customer.test>", "", "Re: x", "carol@customer.test"),
       "reply", 1, "thread:in_reply_to"},
      {"in_reply_to beats references",
       mk("<r2@c>", "<d1@other.test>", "<m1@customer.test>", "Re: x", "carol@customer.test"),
       "reply", 2, "thread:in_reply_to"},
      {"references newest first",
       mk("<r3@c>", "", "<m1@customer.test> <d1@other.test>", "Re", "carol@customer.test"),
       "reply", 2, "thread:references"},
      {"unknown ids skipped", mk("<r4@c>", "<nope@x>", "<nope2@x> <m1@customer.test> <nope3@x>",
                                 "Re", "carol@customer.test"),
       "reply", 1, "thread:references"},
      {"our own reply id joins", mk("<r5@c>", "<r1@c>", "", "Re", "eve@x.test"), "reply", 1,
       "thread:in_reply_to"},
      {"tag from requester", mk("<r6@c>", "", "", "Re: [#1] Printer", "carol@customer.test"),
       "reply", 1, "thread:subject_tag"},
      {"tag from copied participant? no: stranger opens new",
       mk("<r7@c>", "", "", "[#1] hijack", "mallory@evil.test"), "new", 3, "tag_ignored:1"},
      {"tag of missing ticket opens new",
       mk("<r8@c>", "", "", "[#99] what", "carol@customer.test"), "new", 4, "tag_ignored:99"},
      {"subject text alone never threads",
       mk("<r9@c>", "", "", "Printer on fire", "carol@customer.test"), "new", 5, nullptr},
      {"duplicate message id", mk("<m1@customer.test>", "", "", "Printer on fire",
                                  "carol@customer.test"),
       "duplicate", 1, "duplicate_message_id"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Decision got = Ingest(c.mail);
    EXPECT_EQ(got.verdict, Outcome::kAccept);
    EXPECT_EQ(got.kind, c.want_kind);
    ASSERT_TRUE(got.ticket.has_value());
    EXPECT_EQ(*got.ticket, c.want_ticket);
    if (c.want_reason != nullptr) {
      bool found = false;
      for (const auto& r : got.reasons) found |= r == c.want_reason;
      EXPECT_TRUE(found) << c.want_reason;
    }
  }
  // The stranger's ticket says why the tag was ignored.
  EXPECT_TRUE(HasEvent(Events(3), "tag_ignored"));
  // Ticket 1: first mail + r1, r4, r5, r6; the duplicate was not stored again.
  EXPECT_EQ(GetTicket(1).message_count, 5u);
  std::vector<TicketMessage> msgs;
  ASSERT_TRUE(store_->GetMessages(1, &msgs).ok());
  ASSERT_EQ(msgs.size(), 5u);
  EXPECT_EQ(msgs[1].message_id, "r1@c");
  EXPECT_EQ(msgs[1].kind, "reply");
}

// Issue 18 item 1: an outsider who knows the customer's next Message-ID names it first in
// References. The customer's real reply, whose In-Reply-To is a message stored on the customer's
// ticket, still threads there: a stored parent beats an id someone merely named.
TEST_F(EngineTest, SquattedMessageIdDoesNotStealTheReply) {
  Mail first;  // ticket 1: carol, <m1@customer.test>
  ASSERT_EQ(*Ingest(first).ticket, 1u);
  Mail squat;
  squat.from = "mallory@evil.test";
  squat.message_id = "<s1@evil.test>";
  squat.subject = "Hello";
  squat.references = "<m2@customer.test> <m3@customer.test>";
  Decision ds = Ingest(squat, "support@example.com", "mallory@evil.test");
  ASSERT_EQ(*ds.ticket, 2u);
  EXPECT_EQ(ds.ticket_action, "created");

  Mail reply;  // carol's real reply, with the id mallory named
  reply.message_id = "<m2@customer.test>";
  reply.in_reply_to = "<m1@customer.test>";
  reply.references = "<m1@customer.test>";
  reply.subject = "Re: Printer on fire";
  Decision d = Ingest(reply);
  EXPECT_EQ(d.kind, "reply");
  ASSERT_TRUE(d.ticket.has_value());
  EXPECT_EQ(*d.ticket, 1u) << "the squatter's ticket took the customer's reply";

}

TEST_F(EngineTest, CopiedParticipantMayUseTag) {
  Mail first;
  first.extra_headers = "Cc: Boss <boss@customer.test>\r\n";
  ASSERT_EQ(*Ingest(first).ticket, 1u);
  Mail m;
  m.message_id = "<b1@customer.test>";
  m.from = "boss@customer.test";
  m.subject = "Re: [#1] Printer on fire";
  Decision d = Ingest(m, "support@example.com", "boss@customer.test");
  EXPECT_EQ(d.kind, "reply");
  EXPECT_EQ(*d.ticket, 1u);
  EXPECT_EQ(FindEdit(d, "Subject"), nullptr);  // the tag is there already
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

// Reference threading (issue 7): ids named but never seen belong to the ticket that named them.
TEST_F(EngineTest, ReferencedButUnseenIdsThread) {
  // Carol's first mail answers an agent's mail we never saw (<agent1@desk>).
  Mail first;
  first.in_reply_to = "<agent1@desk>";
  first.references = "<orig@desk> <agent1@desk>";
  ASSERT_EQ(*Ingest(first).ticket, 1u);
  struct Case {
    const char* name;
    Mail mail;
    const char* want_kind;
    uint64_t want_ticket;
    const char* want_reason;
  };
  auto mk = [](const char* id, const char* irt, const char* refs) {
    Mail m;
    m.message_id = id;
    m.in_reply_to = irt;
    m.references = refs;
    m.subject = "Re: something";
    m.from = "bob@colleague.test";
    return m;
  };
  Case cases[] = {
      {"colleague replies to the unseen agent mail", mk("<c1@x>", "<agent1@desk>", ""), "reply",
       1, "thread:in_reply_to"},
      {"only the unseen root in references", mk("<c2@x>", "", "<orig@desk>"), "reply", 1,
       "thread:references"},
      {"the unseen parent arrives later", mk("<agent1@desk>", "", ""), "reply", 1,
       "thread:referenced_by"},
      {"malformed ids are ignored", mk("<c3@x>", "<no-at-sign>", "<also bad@x>"), "new", 2,
       nullptr},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Decision got = Ingest(c.mail, "support@example.com", "bob@colleague.test");
    EXPECT_EQ(got.kind, c.want_kind);
    ASSERT_TRUE(got.ticket.has_value());
    EXPECT_EQ(*got.ticket, c.want_ticket);
    if (c.want_reason != nullptr) {
      bool found = false;
      for (const auto& r : got.reasons) found |= r == c.want_reason;
      EXPECT_TRUE(found) << c.want_reason;
    }
  }
  // The late parent is now a stored message: sending it again is a duplicate.
  EXPECT_EQ(Ingest(mk("<agent1@desk>", "", ""), "support@example.com", "bob@colleague.test").kind,
            "duplicate");
}

TEST_F(EngineTest, TwoTicketsNamedJoinsInReplyToAndSaysSo) {
  Mail a;
  a.message_id = "<a@x>";
  ASSERT_EQ(*Ingest(a).ticket, 1u);
  Mail b;
  b.message_id = "<b@x>";
  b.subject = "Other";
  ASSERT_EQ(*Ingest(b).ticket, 2u);
  Mail m;
  m.message_id = "<m@x>";
  m.in_reply_to = "<a@x>";
  m.references = "<a@x> <b@x>";  // newest reference is ticket 2, In-Reply-To wins
  Decision d = Ingest(m);
  EXPECT_EQ(*d.ticket, 1u);
  auto ev = Events(1);
  bool found = false;
  for (const auto& e : ev) found |= e.type == "also_referenced" && e.related_ticket == 2;
  EXPECT_TRUE(found);
  Mail n;
  n.message_id = "<n@x>";
  n.references = "<a@x> <b@x>";  // no In-Reply-To: the newest reference wins
  EXPECT_EQ(*Ingest(n).ticket, 2u);
}

TEST_F(EngineTest, ReferencesAreBounded) {
  Config c = *config_;
  c.max_references = 3;
  Reconfigure(c);
  Mail a;
  a.message_id = "<a@x>";
  ASSERT_EQ(*Ingest(a).ticket, 1u);
  Mail m;
  m.message_id = "<m@x>";
  m.references = "<a@x> <r1@x> <r2@x> <r3@x>";  // <a@x> is the 4th newest: not considered
  EXPECT_EQ(Ingest(m).kind, "new");
}

}  // namespace
}  // namespace desk
