// Who may join a ticket and who may become its participant (issues 12 item 3 and 18 items 3-4):
// strict From, participants only from mail threaded by Message-ID or token or authenticated,
// X-Deskmilter-* headers from outside removed, foreign subject tags removed from the delivered copy,
// an agent's tag-threaded mail only when addressed to the ticket.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/lmdb_store.h"
#include "core/threading.h"
#include "tests/unit/engine_fixture.h"

namespace desk {
namespace {

using testing::EngineFixture;

struct Raw {
  std::string headers;  // From/To/Cc/Subject/...; Date, Message-ID and MIME added
  std::string message_id;
  std::string Render() const {
    return headers + "Date: Sat, 21 Nov 2026 10:00:00 +0000\r\nMessage-ID: " + message_id +
           "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nHello.\r\n";
  }
};

class TrustTest : public EngineFixture {
 protected:
  void SetUp() override {
    EngineFixture::SetUp();
    Config c = BaseConfig();
    c.queues[0].agents = {{"alice@staff.example.com", "Alice Agent", "alice"}};
    Open(c);
  }
  Decision Send(const std::string& headers, const std::string& id,
                std::vector<std::string> rcpts = {"support@example.com"},
                const std::string& mail_from = "carol@customer.test",
                const std::string& auth = "", const std::string& client = "192.0.2.1") {
    Envelope env;
    env.mail_from = mail_from;
    env.rcpts = std::move(rcpts);
    env.auth_user = auth;
    env.client_addr = client;
    return IngestRaw(Raw{headers, id}.Render(), env, 1795000000 + (++seq_));
  }
  // Ticket 1: carol's mail, participants carol only.
  void CarolsTicket() {
    Decision d = Send("From: Carol <carol@customer.test>\r\nTo: support@example.com\r\n"
                      "Subject: Printer on fire\r\n",
                      "<c1@customer.test>");
    ASSERT_EQ(d.ticket.value_or(0), 1u);
  }
  bool Participant(uint64_t n, const std::string& a) {
    const auto p = GetTicket(n).participants;
    return std::find(p.begin(), p.end(), a) != p.end();
  }
  static bool HasReason(const Decision& d, const std::string& r) {
    return std::find(d.reasons.begin(), d.reasons.end(), r) != d.reasons.end();
  }
  static std::string Changed(const Decision& d, const std::string& name) {
    for (const auto& e : d.header_changes) {
      if (e.name == name) return e.value;
    }
    return "(none)";
  }
};

ParsedMessage WithFrom(std::vector<std::pair<std::string, std::string>> headers,
                       const std::string& gmime_first) {
  ParsedMessage m;
  m.headers = std::move(headers);
  m.from.address = gmime_first;
  return m;
}

TEST(StrictFrom, OnlyOneMailboxInOneHeader) {
  struct Case {
    const char* name;
    std::vector<std::pair<std::string, std::string>> headers;
    bool want;
  } cases[] = {
      {"bare", {{"From", " carol@customer.test"}}, true},
      {"name and brackets", {{"From", " Carol Customer <carol@customer.test>"}}, true},
      {"quoted name with comma", {{"From", " \"Customer, Carol\" <carol@customer.test>"}}, true},
      {"comment", {{"From", " carol@customer.test (Carol)"}}, true},
      {"lower-case name", {{"from", " carol@customer.test"}}, true},
      {"list", {{"From", " carol@customer.test, mallory@evil.test"}}, false},
      {"text after bracket", {{"From", " <carol@customer.test>mallory@evil.test"}}, false},
      {"two From headers", {{"From", " carol@customer.test"}, {"From", " mallory@evil.test"}},
       false},
      {"missing >", {{"From", " Carol <carol@customer.test"}}, false},
      {"route", {{"From", " <@relay.test:carol@customer.test>"}}, false},
      {"group", {{"From", " friends: carol@customer.test;"}}, false},
      {"two brackets", {{"From", " <carol@customer.test> <mallory@evil.test>"}}, false},
      {"no From", {{"Sender", " carol@customer.test"}}, false},
      {"two @", {{"From", " carol@customer.test@evil.test"}}, false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(StrictFrom(WithFrom(c.headers, "carol@customer.test")), c.want) << c.name;
  }
  // GMime's first mailbox must be the one address the strict reading finds.
  EXPECT_FALSE(StrictFrom(WithFrom({{"From", " carol@customer.test"}}, "mallory@evil.test")));
}

TEST(RemoveForeignTags, KeepsOnlyTheJoinedTicketsTag) {
  EXPECT_EQ(RemoveForeignTags("[#1] hijack", "[#{n}]", 0), "hijack");
  EXPECT_EQ(RemoveForeignTags("Re: [#1] x [#2] y", "[#{n}]", 2), "Re: x [#2] y");
  EXPECT_EQ(RemoveForeignTags("[#] [#x] no tags", "[#{n}]", 0), "[#] [#x] no tags");
  EXPECT_EQ(RemoveForeignTags("[#3]", "[#{n}]", 3), "[#3]");
}

// Issue 18 item 3: GMime takes the first address of a malformed From; each shape with carol first
// and mallory hidden in it no longer joins carol's ticket by tag, and adds nobody.
TEST_F(TrustTest, LooseFromNeverJoinsByTagNorAddsParticipants) {
  CarolsTicket();
  const char* froms[] = {
      "From: carol@customer.test, mallory@evil.test\r\n",
      "From: <carol@customer.test>mallory@evil.test\r\n",
      "From: carol@customer.test\r\nFrom: mallory@evil.test\r\n",
      "From: Carol <carol@customer.test\r\n",
      "From: <@evil.test:carol@customer.test>\r\n",
  };
  int i = 0;
  for (const char* from : froms) {
    SCOPED_TRACE(from);
    Decision d = Send(std::string(from) +
                          "To: support@example.com\r\nCc: mallory@evil.test\r\n"
                          "Subject: Re: [#1] Printer on fire\r\n",
                      "<loose" + std::to_string(++i) + "@evil.test>");
    EXPECT_NE(d.ticket.value_or(1), 1u) << "a loose From joined ticket 1 by its tag";
    EXPECT_TRUE(HasReason(d, "tag_ignored:1"));
    EXPECT_TRUE(GetTicket(*d.ticket).participants.empty());
  }
  EXPECT_FALSE(Participant(1, "mallory@evil.test"));
}

// Issue 18 item 3: carol's own From and ticket 1's tag, mallory in Cc: the mail joins ticket 1
// (carol is a participant) but mallory does not become one, and her own mail with the tag opens
// a ticket of its own.
TEST_F(TrustTest, OutsidersCcOnTagThreadedMailIsNoParticipant) {
  CarolsTicket();
  Decision d = Send("From: Carol <carol@customer.test>\r\nTo: support@example.com\r\n"
                    "Cc: mallory@evil.test\r\nSubject: Re: [#1] Printer on fire\r\n",
                    "<t1@evil.test>");
  EXPECT_EQ(d.ticket.value_or(0), 1u);
  EXPECT_TRUE(HasReason(d, "thread:subject_tag"));
  EXPECT_FALSE(Participant(1, "mallory@evil.test"));
  Decision m = Send("From: mallory@evil.test\r\nTo: support@example.com\r\n"
                    "Subject: Re: [#1] Printer on fire\r\n",
                    "<t2@evil.test>", {"support@example.com"}, "mallory@evil.test");
  EXPECT_NE(m.ticket.value_or(1), 1u);
}

// Participants still come from mail that threads by Message-ID, and from authenticated mail.
TEST_F(TrustTest, IdThreadedOrAuthenticatedMailAddsParticipants) {
  CarolsTicket();
  Send("From: Carol <carol@customer.test>\r\nTo: support@example.com\r\nCc: boss@customer.test\r\n"
       "Subject: Re: Printer on fire\r\nIn-Reply-To: <c1@customer.test>\r\n",
       "<c2@customer.test>");
  EXPECT_TRUE(Participant(1, "boss@customer.test"));
  Send("From: Carol <carol@customer.test>\r\nTo: support@example.com\r\nCc: it@customer.test\r\n"
       "Subject: Re: [#1] Printer on fire\r\n",
       "<c3@customer.test>", {"support@example.com"}, "carol@customer.test", "carol");
  EXPECT_TRUE(Participant(1, "it@customer.test"));
}

// Issue 12 item 3: our headers never come from outside; a forged tag does not survive on the
// copy of mail that did not join that ticket.
TEST_F(TrustTest, ForgedDeskmilterHeadersAndForeignTagsAreRemoved) {
  CarolsTicket();
  Decision d = Send("From: mallory@evil.test\r\nTo: support@example.com\r\n"
                    "Subject: [#1] Printer on fire\r\nX-Deskmilter-Ticket: 1\r\n"
                    "X-Deskmilter-Hold: fake\r\nx-deskmilter-queue: support\r\n",
                    "<f1@evil.test>", {"support@example.com"}, "mallory@evil.test");
  ASSERT_EQ(d.ticket.value_or(0), 2u);
  EXPECT_EQ(Changed(d, "X-Deskmilter-Ticket"), "2");
  EXPECT_EQ(Changed(d, "X-Deskmilter-Hold"), "");
  EXPECT_EQ(Changed(d, "x-deskmilter-queue"), "");
  EXPECT_EQ(Changed(d, "Subject"), "[#2] Printer on fire");
}

// Issue 18 item 4: an outsider writes "[#1]" to alice's personal address; alice's answer to
// them (not to a participant, not to support) is her personal mail: not stored on ticket 1, not
// rewritten, the outsider no participant.
TEST_F(TrustTest, AgentsPersonalReplyWithTagDoesNotJoinTicket) {
  CarolsTicket();
  Decision d = Send("From: Alice Agent <alice@staff.example.com>\r\nTo: mallory@evil.test\r\n"
                    "Subject: Re: [#1] Printer on fire\r\n",
                    "<a1@staff.example.com>", {"mallory@evil.test"}, "alice@staff.example.com",
                    "alice");
  EXPECT_EQ(d.kind, "not_support");
  EXPECT_FALSE(d.ticket.has_value());
  EXPECT_FALSE(Participant(1, "mallory@evil.test"));
  EXPECT_EQ(GetTicket(1).message_count, 1u);
  // The same answer to carol, a participant, joins ticket 1.
  Decision ok = Send("From: Alice Agent <alice@staff.example.com>\r\nTo: carol@customer.test\r\n"
                     "Subject: Re: [#1] Printer on fire\r\n",
                     "<a2@staff.example.com>", {"carol@customer.test"},
                     "alice@staff.example.com", "alice");
  EXPECT_EQ(ok.ticket.value_or(0), 1u);
  EXPECT_EQ(ok.kind, "agent_reply");
}

// An agent's tag-threaded reply that also copies an outsider: the outsider gets the mail, but
// does not join the ticket (only id- or token-threaded replies add outside recipients).
TEST_F(TrustTest, AgentTagReplyDoesNotAddOutsideRecipients) {
  CarolsTicket();
  Decision d = Send("From: Alice Agent <alice@staff.example.com>\r\nTo: carol@customer.test\r\n"
                    "Cc: mallory@evil.test\r\nSubject: Re: [#1] Printer on fire\r\n",
                    "<a3@staff.example.com>", {"carol@customer.test", "mallory@evil.test"},
                    "alice@staff.example.com", "alice");
  EXPECT_EQ(d.ticket.value_or(0), 1u);
  EXPECT_FALSE(Participant(1, "mallory@evil.test"));
  Send("From: Alice Agent <alice@staff.example.com>\r\nTo: carol@customer.test\r\n"
       "Cc: boss@customer.test\r\nSubject: Re: Printer on fire\r\n"
       "In-Reply-To: <c1@customer.test>\r\n",
       "<a4@staff.example.com>", {"carol@customer.test", "boss@customer.test"},
       "alice@staff.example.com", "alice");
  EXPECT_TRUE(Participant(1, "boss@customer.test"));
}

TEST(DmarcPassFromTrusted, OnlyTheTopmostHeaderOfATrustedServer) {
  auto msg = [](std::vector<std::pair<std::string, std::string>> h) {
    h.insert(h.begin(), {"From", " Carol <carol@customer.test>"});
    ParsedMessage m;
    m.headers = std::move(h);
    m.from.address = "carol@customer.test";
    return m;
  };
  const std::vector<std::string> ours = {"mx.example.com"};
  struct Case {
    const char* name;
    std::vector<std::pair<std::string, std::string>> headers;
    std::vector<std::string> trusted;
    bool want;
  } cases[] = {
      {"pass", {{"Authentication-Results", " mx.example.com; dmarc=pass (p=reject) header.from=customer.test"}}, ours, true},
      {"version and case", {{"authentication-results", " MX.example.com 1; spf=pass; DMARC=pass header.from=Customer.Test"}}, ours, true},
      {"not configured", {{"Authentication-Results", " mx.example.com; dmarc=pass header.from=customer.test"}}, {}, false},
      {"other server", {{"Authentication-Results", " evil.test; dmarc=pass header.from=customer.test"}}, ours, false},
      {"fail", {{"Authentication-Results", " mx.example.com; dmarc=fail header.from=customer.test"}}, ours, false},
      {"other domain", {{"Authentication-Results", " mx.example.com; dmarc=pass header.from=evil.test"}}, ours, false},
      {"passed lower down only",
       {{"Authentication-Results", " mx.example.com; dmarc=fail header.from=customer.test"},
        {"Authentication-Results", " mx.example.com; dmarc=pass header.from=customer.test"}},
       ours, false},
      {"pass inside a comment", {{"Authentication-Results", " mx.example.com; dmarc=none (dmarc=pass header.from=customer.test)"}}, ours, false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(DmarcPassFromTrusted(msg(c.headers), c.trusted), c.want) << c.name;
  }
}

// A DMARC pass from the configured checker counts as authenticated: a Cc on its tag-threaded mail
// joins the ticket; the same header from an unconfigured server does not.
TEST_F(TrustTest, TrustedDmarcPassAddsParticipantsOnTagThreadedMail) {
  CarolsTicket();
  Config c = *config_;
  c.trusted_authserv_ids = {"mx.example.com"};
  Open(c);
  Send("Authentication-Results: evil.test; dmarc=pass header.from=customer.test\r\n"
       "From: Carol <carol@customer.test>\r\nTo: support@example.com\r\n"
       "Cc: mallory@evil.test\r\nSubject: Re: [#1] Printer on fire\r\n",
       "<d1@customer.test>");
  EXPECT_FALSE(Participant(1, "mallory@evil.test"));
  Send("Authentication-Results: mx.example.com; dmarc=pass header.from=customer.test\r\n"
       "From: Carol <carol@customer.test>\r\nTo: support@example.com\r\n"
       "Cc: boss@customer.test\r\nSubject: Re: [#1] Printer on fire\r\n",
       "<d2@customer.test>");
  EXPECT_TRUE(Participant(1, "boss@customer.test"));
}

// Issue 12 item 6: a ticket keeps at most tickets.max_participants addresses; mail naming more is
// still stored.
TEST_F(TrustTest, ParticipantsPerTicketAreBounded) {
  Config c = *config_;
  c.max_participants = 3;
  Open(c);
  std::string cc;
  for (int i = 0; i < 50; ++i) cc += (i ? ", " : "") + std::string("u") + std::to_string(i) + "@many.test";
  Decision d = Send("From: Carol <carol@customer.test>\r\nTo: support@example.com\r\nCc: " + cc +
                        "\r\nSubject: many\r\n",
                    "<p1@customer.test>");
  ASSERT_EQ(d.ticket.value_or(0), 1u);
  EXPECT_EQ(GetTicket(1).participants.size(), 3u);
  EXPECT_TRUE(Participant(1, "carol@customer.test"));
  Decision r = Send("From: Carol <carol@customer.test>\r\nTo: support@example.com\r\nCc: x@y.test"
                    "\r\nSubject: Re: many\r\nIn-Reply-To: <p1@customer.test>\r\n",
                    "<p2@customer.test>");
  EXPECT_EQ(r.ticket.value_or(0), 1u);
  EXPECT_EQ(GetTicket(1).participants.size(), 3u);
  EXPECT_EQ(GetTicket(1).message_count, 2u);
}

// Issue 12 item 5: flood counts are keyed by sender and client network, so mail forged as carol
// from another network fills its own counter and carol's own mail still gets through.
TEST_F(TrustTest, SpoofedSenderFloodDoesNotLockOutTheRealOne) {
  Config c = *config_;
  c.flood_max = 2;
  c.flood_window = 600;
  Open(c);
  auto mail = [&](int i, const std::string& client) {
    return Send("From: carol@customer.test\r\nTo: support@example.com\r\nSubject: spam " +
                    std::to_string(i) + "\r\n",
                "<f" + std::to_string(i) + "@x.test>", {"support@example.com"},
                "carol@customer.test", "", client);
  };
  for (int i = 1; i <= 2; ++i) EXPECT_NE(mail(i, "198.51.100.7").kind, "flood");
  EXPECT_EQ(mail(3, "198.51.100.200").kind, "flood");  // the same /24
  EXPECT_NE(mail(4, "192.0.2.1").kind, "flood") << "the spoofer locked out the real sender";
  EXPECT_NE(mail(5, "2001:db8:1:2::1").kind, "flood");
  EXPECT_NE(mail(6, "2001:db8:1:2::2").kind, "flood");
  EXPECT_EQ(mail(7, "IPv6:2001:db8:1:2:ffff::9").kind, "flood");  // the same /64
}

// Issue 12 item 5: senders rotated from one client network are caught by the per-network count,
// which mail from another network does not share.
TEST_F(TrustTest, RotatingSendersFromOneNetworkAreFlooded) {
  Config c = *config_;
  c.flood_max = 5;
  c.flood_max_per_network = 3;
  c.flood_window = 600;
  Open(c);
  auto mail = [&](int i, const std::string& client) {
    const std::string from = "s" + std::to_string(i) + "@rotating.test";
    return Send("From: " + from + "\r\nTo: support@example.com\r\nSubject: spam " +
                    std::to_string(i) + "\r\n",
                "<r" + std::to_string(i) + "@x.test>", {"support@example.com"}, from, "", client);
  };
  for (int i = 1; i <= 3; ++i) EXPECT_NE(mail(i, "198.51.100." + std::to_string(i)).kind, "flood");
  Decision d = mail(4, "198.51.100.77");
  EXPECT_EQ(d.kind, "flood");
  EXPECT_EQ(d.verdict, c.flood_action);
  EXPECT_EQ(d.auto_rule, "flood_network:4/3/600s");
  EXPECT_FALSE(d.ticket.has_value());
  EXPECT_NE(mail(5, "203.0.113.5").kind, "flood") << "another network shares the count";
  EXPECT_EQ(TicketCount(), 4u);
}

// Issue 12 item 5: flood counters expire. Counters whose window has ended are pruned by later
// counting writes, so the table holds only recent windows however many senders wrote.
TEST_F(TrustTest, ExpiredFloodCountersArePruned) {
  for (int i = 0; i < 100; ++i) {
    uint64_t count = 0;
    ASSERT_TRUE(store_->CountInWindow("sender" + std::to_string(i), 1000, 60, &count).ok());
  }
  uint64_t counters = 0, expiry = 0;
  ASSERT_TRUE(LmdbCountCounters(store_.get(), &counters, &expiry).ok());
  EXPECT_EQ(counters, 100u);
  EXPECT_EQ(expiry, 100u);
  // Within the window nothing is pruned.
  uint64_t count = 0;
  ASSERT_TRUE(store_->CountInWindow("sender0", 1059, 60, &count).ok());
  EXPECT_EQ(count, 2u);
  ASSERT_TRUE(LmdbCountCounters(store_.get(), &counters, &expiry).ok());
  EXPECT_EQ(counters, 100u);
  // After it, each counting write removes expired counters, more than it adds.
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(store_->CountInWindow("late" + std::to_string(i), 2000, 60, &count).ok());
    EXPECT_EQ(count, 1u);
  }
  ASSERT_TRUE(LmdbCountCounters(store_.get(), &counters, &expiry).ok());
  EXPECT_EQ(counters, 10u);
  EXPECT_EQ(expiry, 10u);
  // A renewed counter starts a new window and keeps one expiry entry.
  ASSERT_TRUE(store_->CountInWindow("late0", 2100, 60, &count).ok());
  EXPECT_EQ(count, 1u);
  ASSERT_TRUE(LmdbCountCounters(store_.get(), &counters, &expiry).ok());
  EXPECT_EQ(counters, 1u);  // the other nine expired at 2060 and were pruned
  EXPECT_EQ(expiry, 1u);
}

}  // namespace
}  // namespace desk
