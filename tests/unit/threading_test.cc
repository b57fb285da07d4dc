// The threading rules (core/threading.h) as a table, through the whole pipeline: Message-IDs,
// In-Reply-To and References (newest first, bounded, unseen ids), the subject tag of a participant,
// never the subject text alone; and what the delivered copy and the ticket say about it.
#include "core/threading.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/unit/engine_fixture.h"

namespace desk {
namespace {

using testing::EngineFixture;
using testing::Mail;

class ThreadingTest : public EngineFixture {
 protected:
  void SetUp() override {
    EngineFixture::SetUp();
    Open(BaseConfig());
  }
  void Reconfigure(const Config& c) { Open(c); }

  Decision Ingest(const Mail& m, const std::string& rcpt = "support@example.com",
                  const std::string& mail_from = "carol@customer.test", bool dry_run = false) {
    return IngestRaw(m.Render(), mail_from, rcpt, 1795000000 + seq_ + 1, dry_run);
  }
};

TEST_F(ThreadingTest, ThreadingRules) {
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
TEST_F(ThreadingTest, SquattedMessageIdDoesNotStealTheReply) {
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

// Issue 18 item 2: an outsider sends a mail with the customer's next Message-ID first. The
// customer's real mail (another sender, another body) is no duplicate: it is stored as its own
// message under a generated id, threads by its In-Reply-To into the customer's ticket, the event
// records the collision, and the contested id threads nothing afterwards. A retry of either mail
// is still a duplicate.
TEST_F(ThreadingTest, PlantedDuplicateIsStoredAsItsOwnMessage) {
  Mail first;  // ticket 1: carol, <m1@customer.test>
  ASSERT_EQ(*Ingest(first).ticket, 1u);
  Mail plant;
  plant.from = "mallory@evil.test";
  plant.message_id = "<m2@customer.test>";
  plant.subject = "Hello";
  plant.body = "Planted.\r\n";
  Decision dp = Ingest(plant, "support@example.com", "mallory@evil.test");
  ASSERT_EQ(dp.ticket.value_or(0), 2u);
  EXPECT_EQ(dp.kind, "new");

  Mail reply;  // carol's real reply, reusing the id mallory planted
  reply.message_id = "<m2@customer.test>";
  reply.in_reply_to = "<m1@customer.test>";
  reply.references = "<m1@customer.test>";
  reply.subject = "Re: Printer on fire";
  reply.body = "Still burning.\r\n";
  Decision d = Ingest(reply);
  EXPECT_EQ(d.kind, "reply");
  ASSERT_EQ(d.ticket.value_or(0), 1u) << "the planted mail's ticket took the customer's reply";
  EXPECT_EQ(d.ticket_action, "appended");
  EXPECT_NE(std::find(d.reasons.begin(), d.reasons.end(), "message_id_collision:2"),
            d.reasons.end());
  auto msgs = Messages(1);
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_TRUE(msgs[1].message_id.ends_with(".collision@deskmilter.invalid")) << msgs[1].message_id;
  EXPECT_NE(msgs[1].message_id, "m2@customer.test");
  EXPECT_NE(msgs[1].body.find("Still burning."), std::string::npos);
  EXPECT_TRUE(HasEvent(Events(1), "message_id_collision"));
  EXPECT_EQ(Messages(2).size(), 1u);

  // The SMTP retry of carol's mail (same sender, same body) is a duplicate of her stored copy.
  Decision again = Ingest(reply);
  EXPECT_EQ(again.kind, "duplicate");
  EXPECT_EQ(again.ticket.value_or(0), 1u);
  EXPECT_EQ(Messages(1).size(), 2u);
  // The retry of mallory's mail is a duplicate of hers.
  Decision again_plant = Ingest(plant, "support@example.com", "mallory@evil.test");
  EXPECT_EQ(again_plant.kind, "duplicate");
  EXPECT_EQ(again_plant.ticket.value_or(0), 2u);

  // The id names two messages now: a reply naming only it threads into neither ticket.
  Mail follow;
  follow.from = "dave@other.test";
  follow.message_id = "<f1@other.test>";
  follow.in_reply_to = "<m2@customer.test>";
  follow.subject = "Re: Hello";
  Decision df = Ingest(follow, "support@example.com", "dave@other.test");
  EXPECT_EQ(df.kind, "new");
  EXPECT_EQ(df.ticket.value_or(0), 3u);
}

// Issue 18 item 5: an own Message-ID without '@' used to be stored but never matched as a parent.
// Now it is no id at all: the message is stored under a generated id, the delivered copy carries
// that id in place of the bad one, and a reply naming it threads.
TEST_F(ThreadingTest, MessageIdWithoutAtIsReplacedAndThreads) {
  Mail first;
  first.message_id = "<12345.local>";
  Decision d1 = Ingest(first);
  ASSERT_EQ(d1.ticket.value_or(0), 1u);
  const HeaderEdit* e = FindEdit(d1, "Message-ID");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->op, HeaderEdit::Op::kChange);
  const std::string generated = Messages(1)[0].message_id;
  EXPECT_EQ(e->value, "<" + generated + ">");
  EXPECT_NE(generated.find('@'), std::string::npos);

  Mail reply;
  reply.message_id = "<r1@customer.test>";
  reply.in_reply_to = e->value;
  reply.subject = "Re: Printer on fire";
  Decision d2 = Ingest(reply);
  EXPECT_EQ(d2.kind, "reply");
  EXPECT_EQ(d2.ticket.value_or(0), 1u);
  // A reply naming only the bad id threads nowhere (it is not an id), as before.
  Mail other;
  other.from = "dave@other.test";
  other.message_id = "<o1@other.test>";
  other.in_reply_to = "<12345.local>";
  EXPECT_EQ(Ingest(other, "support@example.com", "dave@other.test").kind, "new");
}

// Issue 18 item 1: ids named by mail (not stored) are bounded per ticket and per sender, so one
// sender cannot claim ids without limit; over a bound the ids are not indexed, the mail is still
// stored and threaded, and the decision says how many were left out.
TEST_F(ThreadingTest, NamedIdsAreBoundedPerTicketAndPerSender) {
  Config c = BaseConfig();
  c.max_named_ids = 3;
  c.max_named_ids_per_sender = 5;
  Reconfigure(c);
  auto refs = [](const std::string& p, int n) {
    std::string r;
    for (int i = 1; i <= n; ++i) r += "<" + p + std::to_string(i) + "@customer.test> ";
    return r;
  };
  auto indexed = [&](const std::string& id) {
    MessageIdEntry e;
    return store_->FindMessageId(id, &e).ok();
  };
  Mail m1;
  m1.from = "mallory@evil.test";
  m1.message_id = "<e1@evil.test>";
  m1.references = refs("a", 5);
  Decision d1 = Ingest(m1, "support@example.com", "mallory@evil.test");
  ASSERT_EQ(d1.ticket.value_or(0), 1u);
  EXPECT_NE(std::find(d1.reasons.begin(), d1.reasons.end(), "named_ids_not_indexed:2"),
            d1.reasons.end());
  EXPECT_EQ(GetTicket(1).named_ids, 3u);
  // References newest first: a5, a4, a3 are indexed; a2, a1 are not.
  EXPECT_TRUE(indexed("a5@customer.test"));
  EXPECT_TRUE(indexed("a3@customer.test"));
  EXPECT_FALSE(indexed("a2@customer.test"));
  EXPECT_FALSE(indexed("a1@customer.test"));

  // The sender's second ticket: 2 more ids left for mallory today.
  Mail m2 = m1;
  m2.message_id = "<e2@evil.test>";
  m2.subject = "Other";
  m2.references = refs("b", 4);
  Decision d2 = Ingest(m2, "support@example.com", "mallory@evil.test");
  ASSERT_EQ(d2.ticket.value_or(0), 2u);
  EXPECT_EQ(GetTicket(2).named_ids, 2u);
  EXPECT_NE(std::find(d2.reasons.begin(), d2.reasons.end(), "named_ids_not_indexed:2"),
            d2.reasons.end());

  // Another sender is not held by mallory's count; its ticket has its own bound.
  Mail m3;
  m3.message_id = "<c9@customer.test>";
  m3.references = refs("c", 2);
  Decision d3 = Ingest(m3);
  ASSERT_EQ(d3.ticket.value_or(0), 3u);
  EXPECT_EQ(GetTicket(3).named_ids, 2u);
  EXPECT_TRUE(indexed("c1@customer.test"));
  EXPECT_EQ(std::find(d3.reasons.begin(), d3.reasons.end(), "named_ids_not_indexed:0"),
            d3.reasons.end());
}

TEST_F(ThreadingTest, CopiedParticipantMayUseTag) {
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

// Reference threading (issue 7): ids named but never seen belong to the ticket that named them.
TEST_F(ThreadingTest, ReferencedButUnseenIdsThread) {
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
  auto to_carol = [](Mail m) {  // carol answered it: it was addressed to her
    m.to = "carol@customer.test";
    return m;
  };
  Case cases[] = {
      {"colleague replies to the unseen agent mail", mk("<c1@x>", "<agent1@desk>", ""), "reply",
       1, "thread:in_reply_to"},
      {"only the unseen root in references", mk("<c2@x>", "", "<orig@desk>"), "reply", 1,
       "thread:references"},
      {"the unseen parent arrives later", to_carol(mk("<agent1@desk>", "", "")), "reply", 1,
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
  EXPECT_EQ(Ingest(to_carol(mk("<agent1@desk>", "", "")), "support@example.com",
                   "bob@colleague.test").kind,
            "duplicate");
}

// Issue 18 item 1, rule 1b: an outsider who predicts a customer's next new Message-ID (no reply,
// so no stored parent says otherwise) names it first, copying the customer so that she is a
// participant of the outsider's ticket. The customer's real mail, addressed to support only, does
// not join that ticket: nothing shows the outsider's ticket received it. It opens its own ticket,
// which records why; the outsider is no participant of it.
TEST_F(ThreadingTest, PredictedNewMessageIdDoesNotPullCustomerIntoOutsidersTicket) {
  Mail bait;
  bait.from = "mallory@evil.test";
  bait.message_id = "<s1@evil.test>";
  bait.subject = "Hello";
  bait.extra_headers = "Cc: carol@customer.test\r\n";
  bait.references = "<m2@customer.test>";
  Decision db = Ingest(bait, "support@example.com", "mallory@evil.test");
  ASSERT_EQ(*db.ticket, 1u);
  const Ticket t1 = GetTicket(1);
  ASSERT_NE(std::find(t1.participants.begin(), t1.participants.end(), "carol@customer.test"),
            t1.participants.end())
      << "the copied customer is a participant of the outsider's ticket";

  Mail real;  // carol's new mail with the predicted id
  real.message_id = "<m2@customer.test>";
  real.subject = "My invoice";
  Decision d = Ingest(real);
  EXPECT_EQ(d.kind, "new");
  ASSERT_TRUE(d.ticket.has_value());
  EXPECT_EQ(*d.ticket, 2u) << "the outsider's ticket took the customer's new mail";
  EXPECT_NE(std::find(d.reasons.begin(), d.reasons.end(), "late_parent_not_joined:1"),
            d.reasons.end());
  EXPECT_TRUE(HasEvent(Events(2), "late_parent_not_joined"));
  const Ticket t2 = GetTicket(2);
  EXPECT_EQ(std::find(t2.participants.begin(), t2.participants.end(), "mallory@evil.test"),
            t2.participants.end());
  EXPECT_EQ(GetTicket(1).message_count, 1u);
}

// The legitimate case rule 1b keeps: a reply arrives before the message it answers, and that
// message was addressed (To or Cc) to the one who replied, so it joins the reply's ticket.
TEST_F(ThreadingTest, ReplyBeforeItsParentFromAnAddresseeStillThreads) {
  Mail reply;
  reply.from = "Bob <bob@colleague.test>";
  reply.message_id = "<b1@colleague.test>";
  reply.in_reply_to = "<p1@customer.test>";
  reply.references = "<p1@customer.test>";
  reply.subject = "Re: Printer on fire";
  ASSERT_EQ(*Ingest(reply, "support@example.com", "bob@colleague.test").ticket, 1u);

  Mail parent;  // carol's mail to support, copied to bob, delayed
  parent.message_id = "<p1@customer.test>";
  parent.extra_headers = "Cc: Bob <bob@colleague.test>\r\n";
  Decision d = Ingest(parent);
  EXPECT_EQ(d.kind, "reply");
  ASSERT_TRUE(d.ticket.has_value());
  EXPECT_EQ(*d.ticket, 1u);
  EXPECT_NE(std::find(d.reasons.begin(), d.reasons.end(), "thread:referenced_by"),
            d.reasons.end());

  // Being a participant of the ticket is no such evidence (whoever opens a ticket makes everyone
  // it copies a participant): carol is one of ticket 1 now, but her next late parent, addressed
  // to support only, opens a ticket of its own.
  const Ticket t1 = GetTicket(1);
  ASSERT_NE(std::find(t1.participants.begin(), t1.participants.end(), "carol@customer.test"),
            t1.participants.end());
  Mail reply2 = reply;
  reply2.message_id = "<b2@colleague.test>";
  reply2.in_reply_to = "<p2@customer.test>";
  reply2.references = "<b1@colleague.test> <p2@customer.test>";
  ASSERT_EQ(*Ingest(reply2, "support@example.com", "bob@colleague.test").ticket, 1u);
  Mail parent2;
  parent2.message_id = "<p2@customer.test>";
  parent2.subject = "Another printer";
  Decision d2 = Ingest(parent2);
  EXPECT_EQ(d2.kind, "new");
  EXPECT_EQ(*d2.ticket, 2u);
}

// An agent's address is no evidence for rule 1b either: the outsider can copy a known agent on the
// mail that names the id (making the agent a participant of the outsider's ticket), and a customer
// who copies that agent on her new mail still opens a ticket of her own.
TEST_F(ThreadingTest, CopiedAgentAddressDoesNotPullCustomerIntoOutsidersTicket) {
  Config c = BaseConfig();
  c.queues[0].agents = {{"alice@staff.example.com", "Alice Agent", "alice"}};
  Reconfigure(c);
  Mail bait;
  bait.from = "mallory@evil.test";
  bait.message_id = "<s1@evil.test>";
  bait.subject = "Hello";
  bait.extra_headers = "Cc: alice@staff.example.com\r\n";
  bait.references = "<m2@customer.test>";
  ASSERT_EQ(*Ingest(bait, "support@example.com", "mallory@evil.test").ticket, 1u);
  const Ticket t1 = GetTicket(1);
  ASSERT_NE(std::find(t1.participants.begin(), t1.participants.end(), "alice@staff.example.com"),
            t1.participants.end());

  Mail real;
  real.message_id = "<m2@customer.test>";
  real.subject = "My invoice";
  real.extra_headers = "Cc: Alice <alice@staff.example.com>\r\n";
  Decision d = Ingest(real);
  EXPECT_EQ(d.kind, "new");
  ASSERT_TRUE(d.ticket.has_value());
  EXPECT_EQ(*d.ticket, 2u);
  EXPECT_NE(std::find(d.reasons.begin(), d.reasons.end(), "late_parent_not_joined:1"),
            d.reasons.end());
}

// "A later stored message takes it over": once the late parent is stored on a ticket of its own,
// the index points at it, and later mail naming its id follows that ticket, not the one that
// named it first.
TEST_F(ThreadingTest, LateParentStoredOnItsOwnTicketTakesItsIdOver) {
  Mail bait;
  bait.from = "mallory@evil.test";
  bait.message_id = "<s1@evil.test>";
  bait.subject = "Hello";
  bait.references = "<m2@customer.test>";
  ASSERT_EQ(*Ingest(bait, "support@example.com", "mallory@evil.test").ticket, 1u);
  Mail real;
  real.message_id = "<m2@customer.test>";
  real.subject = "My invoice";
  ASSERT_EQ(*Ingest(real).ticket, 2u);
  MessageIdEntry e;
  ASSERT_TRUE(store_->FindMessageId("m2@customer.test", &e).ok());
  EXPECT_TRUE(e.stored);
  EXPECT_EQ(e.ticket, 2u);

  Mail answer;  // a colleague answers carol's mail, naming it in References only
  answer.from = "bob@colleague.test";
  answer.message_id = "<b1@colleague.test>";
  answer.references = "<m2@customer.test>";
  answer.subject = "Re: My invoice";
  Decision d = Ingest(answer, "support@example.com", "bob@colleague.test");
  EXPECT_EQ(d.kind, "reply");
  EXPECT_EQ(*d.ticket, 2u);
  answer.message_id = "<b2@colleague.test>";
  answer.references = "";
  answer.in_reply_to = "<m2@customer.test>";
  d = Ingest(answer, "support@example.com", "bob@colleague.test");
  EXPECT_EQ(d.kind, "reply");
  EXPECT_EQ(*d.ticket, 2u);
}

TEST_F(ThreadingTest, TwoTicketsNamedJoinsInReplyToAndSaysSo) {
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

TEST_F(ThreadingTest, ReferencesAreBounded) {
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
