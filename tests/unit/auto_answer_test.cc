// Automatic answers through the real Engine, the trigger PlanStep and an LMDB store: each RFC 3834
// rule (never to automatic mail, a null sender, our own or no-reply addresses; once per sender
// per queue per window; at most N per ticket), the headers of the answer, the record on the ticket
// and the threading of the customer's reply to it; the trigger format and its evaluation.
#include "core/auto_answer.h"

#include <gmime/gmime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/triggers.h"
#include "tests/unit/engine_fixture.h"

namespace desk {
namespace {

using desk::testing::EngineFixture;
using desk::testing::Mail;

constexpr int64_t kNow = 1795000000;

class FixedState : public DeskState {
 public:
  explicit FixedState(AccountStatus s) : s_(s) {}
  AccountStatus QueueAccountStatus(const std::string&, int64_t) const override { return s_; }
  bool WithinBusinessHours(const std::string&, int64_t) const override { return true; }

 private:
  AccountStatus s_;
};

class AutoAnswerTest : public EngineFixture {
 protected:
  void SetUp() override {
    EngineFixture::SetUp();
    Config c = BaseConfig();
    c.installation_id = "inst-a";
    OpenWith(c, AccountStatus::kOnline);
  }

  void OpenWith(const Config& c, AccountStatus status) {
    Open(c);
    engine_->AddPlanStep(std::make_unique<TriggerStep>(std::make_shared<FixedState>(status)));
    ASSERT_TRUE(SeedDefaultTriggers(store_.get()).ok());
  }

  void Enable(uint64_t id) {
    std::vector<StoredTrigger> all;
    ASSERT_TRUE(store_->GetTriggers(&all).ok());
    for (StoredTrigger& s : all) {
      if (s.id != id) continue;
      Trigger t;
      ASSERT_TRUE(ParseTrigger(s.json, &t).ok());
      t.enabled = true;
      s.json = TriggerJson(t);
      ASSERT_TRUE(store_->PutTrigger(&s).ok());
    }
  }

  Decision Send(const Mail& m, const std::string& mail_from = "carol@customer.test",
                int64_t now = kNow) {
    return IngestRaw(m.Render(), mail_from, m.to, now);
  }

  std::vector<OutboxMail> Outbox() {
    std::vector<OutboxMail> out;
    EXPECT_TRUE(store_->GetOutbox(&out).ok());
    return out;
  }
};

TEST_F(AutoAnswerTest, DefaultTriggersExistInactive) {
  std::vector<StoredTrigger> all;
  ASSERT_TRUE(store_->GetTriggers(&all).ok());
  ASSERT_EQ(all.size(), 3u);
  std::vector<std::string> names;
  for (const StoredTrigger& s : all) {
    Trigger t;
    ASSERT_TRUE(ParseTrigger(s.json, &t).ok());
    EXPECT_FALSE(t.enabled);
    names.push_back(t.name);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"First Reply", "Request Contact Details",
                                             "All Agents Offline"}));
  // Seeding again (a restart) adds nothing, and a deleted default does not come back.
  ASSERT_TRUE(store_->DeleteTrigger(2).ok());
  ASSERT_TRUE(SeedDefaultTriggers(store_.get()).ok());
  ASSERT_TRUE(store_->GetTriggers(&all).ok());
  EXPECT_EQ(all.size(), 2u);
  // Inactive: nothing is queued.
  Decision d = Send(Mail{});
  EXPECT_EQ(d.ticket, std::optional<uint64_t>(1));
  EXPECT_TRUE(Outbox().empty());
}

TEST_F(AutoAnswerTest, FirstReplyQueuesAnRfc3834AnswerRecordedOnTheTicket) {
  Enable(1);
  Mail m;
  m.references = "<older@customer.test>";
  Decision d = Send(m);
  ASSERT_EQ(d.ticket, std::optional<uint64_t>(1));
  EXPECT_EQ(d.outbox_queued, 1u);
  std::vector<OutboxMail> out = Outbox();
  ASSERT_EQ(out.size(), 1u);
  const OutboxMail& a = out[0];
  EXPECT_EQ(a.sender, "");  // null envelope sender
  EXPECT_EQ(a.recipients, std::vector<std::string>{"carol@customer.test"});
  EXPECT_EQ(a.ticket, 1u);
  EXPECT_EQ(a.due_at, kNow + 5);  // wait 5 s: a due time, not a sleep
  EXPECT_EQ(a.kind, "automatic");
  const std::string& raw = a.raw;
  EXPECT_NE(raw.find("\r\nAuto-Submitted: auto-replied\r\n"), std::string::npos) << raw;
  EXPECT_EQ(raw.rfind("From: \"support\" <support@example.com>\r\n", 0), 0u) << raw;
  EXPECT_NE(raw.find("\r\nTo: \"Carol Customer\" <carol@customer.test>\r\n"), std::string::npos);
  EXPECT_NE(raw.find("\r\nSubject: [#1] Re: Printer on fire\r\n"), std::string::npos) << raw;
  EXPECT_NE(raw.find("\r\nIn-Reply-To: <m1@customer.test>\r\n"), std::string::npos);
  EXPECT_NE(raw.find("\r\nReferences:\r\n <older@customer.test>\r\n <m1@customer.test>\r\n"),
            std::string::npos)
      << raw;
  EXPECT_NE(raw.find("\r\nMessage-ID: <" + a.message_id + ">\r\n"), std::string::npos);
  EXPECT_NE(raw.find("\r\nX-Deskmilter-Loop: inst-a\r\n"), std::string::npos);
  EXPECT_NE(raw.find("\r\nX-Deskmilter-Ticket: 1\r\n"), std::string::npos);
  EXPECT_NE(raw.find("an agent will be with you shortly"), std::string::npos);
  EXPECT_EQ(raw.find('\x01'), std::string::npos);
  // Recorded on the ticket: outbound, kind automatic, its Message-ID indexed.
  std::vector<TicketMessage> msgs = Messages(1);
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[1].direction, Direction::kOutbound);
  EXPECT_EQ(msgs[1].kind, "automatic");
  EXPECT_EQ(msgs[1].message_id, a.message_id);
  EXPECT_EQ(msgs[1].subject, "[#1] Re: Printer on fire");
  MessageIdEntry e;
  ASSERT_TRUE(store_->FindMessageId(a.message_id, &e).ok());
  EXPECT_EQ(e.ticket, 1u);
  // The customer's reply to the answer (no tag, only In-Reply-To) threads into the ticket.
  Mail reply;
  reply.subject = "Re: your answer";
  reply.message_id = "<m2@customer.test>";
  reply.in_reply_to = "<" + a.message_id + ">";
  Decision r = Send(reply);
  EXPECT_EQ(r.kind, "reply");
  EXPECT_EQ(r.ticket, std::optional<uint64_t>(1));
}

TEST_F(AutoAnswerTest, NeverAnswersAutomaticMail) {
  Enable(1);
  struct Case {
    const char* name;
    std::string headers;
    std::string mail_from;
    std::string want_reason;
  };
  const std::vector<Case> cases = {
      {"auto_reply", "Auto-Submitted: auto-replied\r\n", "carol@customer.test",
       "auto_answer_refused:auto:auto_reply"},
      {"list", "List-Id: <news.customer.test>\r\n", "carol@customer.test", ""},
      {"null_sender", "", "", ""},
  };
  int n = 0;
  for (const Case& c : cases) {
    Mail m;
    m.message_id = "<case" + std::to_string(++n) + "@customer.test>";
    m.subject = std::string("case ") + c.name;
    m.extra_headers = c.headers;
    Decision d = Send(m, c.mail_from);
    EXPECT_EQ(d.outbox_queued, 0u) << c.name;
    if (!c.want_reason.empty() && d.ticket) {
      EXPECT_NE(std::find(d.reasons.begin(), d.reasons.end(), c.want_reason), d.reasons.end())
          << c.name;
    }
  }
  EXPECT_TRUE(Outbox().empty());
}

TEST_F(AutoAnswerTest, NeverAnswersNoReplyOrOwnAddresses) {
  Enable(1);
  int n = 0;
  for (const std::string from :
       {"noreply@customer.test", "no-reply@customer.test", "do-not-reply@customer.test",
        "news-request@customer.test", "owner-list@customer.test", "mailer-daemon@customer.test"}) {
    Mail m;
    m.from = from;
    m.message_id = "<nr" + std::to_string(++n) + "@customer.test>";
    m.subject = "from " + from;
    Decision d = Send(m, from);
    EXPECT_EQ(d.outbox_queued, 0u) << from;
  }
  EXPECT_TRUE(Outbox().empty());
  EXPECT_TRUE(IsNoReplyAddress("NoReply@Example.com"));
  EXPECT_FALSE(IsNoReplyAddress("carol@customer.test"));
  EXPECT_FALSE(IsNoReplyAddress("replies@customer.test"));
}

TEST_F(AutoAnswerTest, OncePerSenderPerQueuePerWindow) {
  Enable(1);
  // Ten mails in a day, each opening its own ticket: one acknowledgement.
  for (int i = 0; i < 10; ++i) {
    Mail m;
    m.message_id = "<day" + std::to_string(i) + "@customer.test>";
    m.subject = "question " + std::to_string(i);
    Decision d = Send(m, "carol@customer.test", kNow + i * 3600);
    EXPECT_EQ(d.outbox_queued, i == 0 ? 1u : 0u) << i;
  }
  EXPECT_EQ(Outbox().size(), 1u);
  // Another sender, and another queue, get their own.
  Mail other;
  other.from = "dave@customer.test";
  other.message_id = "<dave@customer.test>";
  EXPECT_EQ(Send(other, "dave@customer.test", kNow + 100).outbox_queued, 1u);
  Mail billing;
  billing.to = "billing@example.com";
  billing.message_id = "<bill@customer.test>";
  EXPECT_EQ(Send(billing, "carol@customer.test", kNow + 100).outbox_queued, 1u);
  // The window (one day by default) has passed: answered again.
  Mail later;
  later.message_id = "<later@customer.test>";
  later.subject = "next day";
  EXPECT_EQ(Send(later, "carol@customer.test", kNow + 86400).outbox_queued, 1u);
}

TEST_F(AutoAnswerTest, AtMostNPerTicket) {
  Config c = BaseConfig();
  c.auto_answer_window = 1;  // the per-sender window out of the way
  c.auto_answer_max_per_ticket = 2;
  OpenWith(c, AccountStatus::kOnline);
  Trigger t;
  t.name = "every reply";
  t.enabled = true;
  t.event = TriggerEvent::kCustomerReply;
  t.actions = {{TriggerAction::Type::kSendMessage, 0, "Got it."}};
  StoredTrigger s{0, TriggerJson(t)};
  ASSERT_TRUE(store_->PutTrigger(&s).ok());
  ASSERT_EQ(Send(Mail{}).ticket, std::optional<uint64_t>(1));
  int queued = 0;
  for (int i = 0; i < 5; ++i) {
    Mail r;
    r.message_id = "<r" + std::to_string(i) + "@customer.test>";
    r.subject = "Re: [#1] Printer on fire";
    Decision d = Send(r, "carol@customer.test", kNow + 10 * (i + 1));
    EXPECT_EQ(d.ticket, std::optional<uint64_t>(1));
    queued += static_cast<int>(d.outbox_queued);
  }
  EXPECT_EQ(queued, 2);
  EXPECT_EQ(GetTicket(1).auto_answers, 2u);
}

TEST_F(AutoAnswerTest, AccountStatusConditions) {
  Enable(1);
  Enable(2);
  Enable(3);
  // Online: only First Reply.
  Decision d = Send(Mail{});
  EXPECT_EQ(d.outbox_queued, 1u);
  EXPECT_NE(std::find(d.reasons.begin(), d.reasons.end(), "trigger:1"), d.reasons.end());
  EXPECT_EQ(std::find(d.reasons.begin(), d.reasons.end(), "trigger:2"), d.reasons.end());
  // Away: Request Contact Details matches too (the per-sender window lets one answer through).
  Config c = BaseConfig();
  OpenWith(c, AccountStatus::kAway);
  Mail m;
  m.from = "erin@customer.test";
  m.message_id = "<away@customer.test>";
  d = Send(m, "erin@customer.test");
  EXPECT_NE(std::find(d.reasons.begin(), d.reasons.end(), "trigger:2"), d.reasons.end());
  EXPECT_EQ(std::find(d.reasons.begin(), d.reasons.end(), "trigger:3"), d.reasons.end());
  OpenWith(c, AccountStatus::kInvisible);
  m.from = "frank@customer.test";
  m.message_id = "<invisible@customer.test>";
  d = Send(m, "frank@customer.test");
  EXPECT_NE(std::find(d.reasons.begin(), d.reasons.end(), "trigger:3"), d.reasons.end());
  EXPECT_EQ(std::find(d.reasons.begin(), d.reasons.end(), "trigger:2"), d.reasons.end());
}

TEST_F(AutoAnswerTest, SetTagAndDuplicateQueuesNothingAgain) {
  Trigger t;
  t.name = "tag";
  t.enabled = true;
  t.actions = {
      {TriggerAction::Type::kSetTag, 0, "acknowledged"},
      {TriggerAction::Type::kSendMessage, 0, "Ticket {{ticket.id}} for {{requester.name}}"}};
  StoredTrigger s{0, TriggerJson(t)};
  ASSERT_TRUE(store_->PutTrigger(&s).ok());
  Decision d = Send(Mail{});
  EXPECT_EQ(GetTicket(1).tags, std::vector<std::string>{"acknowledged"});
  std::vector<OutboxMail> out = Outbox();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_NE(out[0].raw.find("Ticket 1 for Carol Customer"), std::string::npos) << out[0].raw;
  // The MTA's retry of the same mail is a duplicate: no second answer.
  Decision again = Send(Mail{});
  EXPECT_EQ(again.kind, "duplicate");
  EXPECT_EQ(Outbox().size(), 1u);
}

// The header names of an answer's header block in order. Adds a failure for a line that is
// neither a header nor a continuation, and for a CR or LF that is not part of a CRLF.
std::vector<std::string> HeaderNames(const std::string& raw) {
  std::vector<std::string> names;
  const size_t end = raw.find("\r\n\r\n");
  EXPECT_NE(end, std::string::npos) << raw;
  const std::string block = raw.substr(0, end + 2);
  for (size_t i = 0; i < block.size(); ++i) {
    const bool crlf = block[i] == '\r' ? i + 1 < block.size() && block[i + 1] == '\n'
                                       : block[i] != '\n' || (i > 0 && block[i - 1] == '\r');
    EXPECT_TRUE(crlf) << "bare CR or LF at " << i << " in\n" << block;
  }
  for (size_t pos = 0; pos < block.size();) {
    size_t eol = block.find("\r\n", pos);
    const std::string line = block.substr(pos, eol - pos);
    pos = eol + 2;
    if (line[0] == ' ' || line[0] == '\t') continue;  // folded
    const size_t colon = line.find(':');
    EXPECT_NE(colon, std::string::npos) << line;
    names.push_back(line.substr(0, colon));
  }
  return names;
}

// Issue 12 (header injection): a customer's From display name, Subject or address carrying
// CR LF "Bcc: victim@..." (folded raw, or as RFC 2047 encoded CR LF) never adds a header or a
// recipient to the automatic answer: control characters become spaces inside the one quoted or
// encoded header they belong to, and an address that is no plain addr-spec gets no answer.
TEST_F(AutoAnswerTest, HeaderInjectionThroughRequesterNameOrSubjectIsNeutralised) {
  Enable(1);
  struct Case {
    const char* name;
    std::string from;
    std::string subject;
    const char* want_recipient;  // "" = no answer (refused)
  } cases[] = {
      {"name, folded raw", "\"Carol\r\n Bcc: victim@evil.test\" <c1@customer.test>",
       "Printer on fire", "c1@customer.test"},
      {"name, encoded CRLF (Q)",
       "=?UTF-8?Q?Carol=0D=0ABcc=3A_victim=40evil=2Etest?= <c2@customer.test>", "Printer",
       "c2@customer.test"},
      {"name, encoded CRLF (B)",
       "=?UTF-8?B?Q2Fyb2wNCkJjYzogdmljdGltQGV2aWwudGVzdA==?= <c3@customer.test>", "Printer",
       "c3@customer.test"},
      {"subject, folded raw", "c4@customer.test", "Printer\r\n Bcc: victim@evil.test",
       "c4@customer.test"},
      {"subject, encoded CRLF", "c5@customer.test",
       "=?UTF-8?B?UHJpbnRlcg0KQmNjOiB2aWN0aW1AZXZpbC50ZXN0?=", "c5@customer.test"},
      {"subject, encoded LF LF and non-ASCII", "c6@customer.test",
       "=?UTF-8?B?RHJ1Y2tlciDDvAoKQmNjOiB2aWN0aW1AZXZpbC50ZXN0DQo=?=", "c6@customer.test"},
      {"address, quoted local part with folded text",
       "Carol <\"c7\r\n Bcc: victim@evil.test\"@customer.test>", "Printer", ""},
      // Never decoded (RFC 2047 has no encoded words in an addr-spec): one odd but plain address.
      {"address, quoted local part with an encoded word",
       "<\"=?UTF-8?Q?c8=0D=0ABcc=3A_victim=40evil=2Etest?=\"@customer.test>", "Printer",
       "=?utf-8?q?c8=0d=0abcc=3a_victim=40evil=2etest?=@customer.test"},
      {"address, quoted local part closing the angle bracket",
       "<\"c9>, victim@evil.test\"@customer.test>", "Printer", ""},
  };
  const std::vector<std::string> want_names = {
      "From", "To", "Subject", "Date", "Message-ID", "In-Reply-To", "References",
      "Auto-Submitted", "X-Auto-Response-Suppress", "X-Deskmilter-Ticket", "X-Deskmilter-Loop",
      "MIME-Version", "Content-Type", "Content-Transfer-Encoding"};
  int n = 0;
  for (const Case& tc : cases) {
    Mail m;
    m.from = tc.from;
    m.subject = tc.subject;
    m.message_id = "<inj" + std::to_string(++n) + "@customer.test>";
    Decision d = Send(m, "sender-" + std::to_string(n) + "@customer.test");
    ASSERT_TRUE(d.ticket.has_value()) << tc.name << " " << d.error;
    const OutboxMail* got_ = nullptr;
    std::vector<OutboxMail> out = Outbox();
    for (const OutboxMail& o : out) {
      if (o.ticket == *d.ticket) got_ = &o;
    }
    if (std::string(tc.want_recipient).empty()) {
      EXPECT_EQ(got_, nullptr) << tc.name << ": " << (got_ ? got_->raw : "");
      EXPECT_NE(std::find(d.reasons.begin(), d.reasons.end(),
                          "auto_answer_refused:unsafe_address"),
                d.reasons.end())
          << tc.name;
      continue;
    }
    ASSERT_NE(got_, nullptr) << tc.name;
    EXPECT_EQ(got_->recipients, std::vector<std::string>{tc.want_recipient}) << tc.name;
    EXPECT_EQ(HeaderNames(got_->raw), want_names) << tc.name << "\n" << got_->raw;
    // The To header is one mailbox, the requester's.
    const size_t to = got_->raw.find("\r\nTo: ") + 6;
    size_t to_end = to;
    do {
      to_end = got_->raw.find("\r\n", to_end) + 2;
    } while (got_->raw[to_end] == ' ' || got_->raw[to_end] == '\t');
    std::string to_value = got_->raw.substr(to, to_end - 2 - to);
    InternetAddressList* list = internet_address_list_parse(nullptr, to_value.c_str());
    ASSERT_NE(list, nullptr) << tc.name;
    ASSERT_EQ(internet_address_list_length(list), 1) << tc.name << ": " << to_value;
    InternetAddress* ia = internet_address_list_get_address(list, 0);
    ASSERT_TRUE(INTERNET_ADDRESS_IS_MAILBOX(ia)) << tc.name;
    EXPECT_STREQ(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia)),
                 tc.want_recipient)
        << tc.name;
    g_object_unref(list);
  }
}

TEST(TriggerFormat, RefusesUnknownFieldsNamingThem) {
  struct Case {
    std::string json;
    std::string want;
  };
  const std::vector<Case> cases = {
      {R"({"name":"x","event":"ticket_opened","actions":[{"wait":1}],"colour":"red"})",
       "colour: unknown field"},
      {R"({"name":"x","event":"ticket_closed","actions":[{"wait":1}]})", "event: unknown event"},
      {R"({"name":"x","event":"ticket_opened","conditions":{"all":[{"field":"mood","operator":"is","value":"x"}]},"actions":[{"wait":1}]})",
       "conditions.all[0].field: unknown condition 'mood'"},
      {R"({"name":"x","event":"ticket_opened","conditions":{"any":[{"field":"queue","operator":"like","value":"x"}]},"actions":[{"wait":1}]})",
       "conditions.any[0].operator: unknown operator 'like'"},
      {R"({"name":"x","event":"ticket_opened","conditions":{"none":[]},"actions":[{"wait":1}]})",
       "conditions.none: unknown field"},
      {R"({"name":"x","event":"ticket_opened","actions":[{"call_agent":"x"}]})",
       "actions[0].call_agent: unknown action"},
      {R"({"name":"x","event":"ticket_opened","actions":[{"send_message":"hi {{agent.name}}"}]})",
       "actions[0].send_message: unknown placeholder {{agent.name}}"},
      {R"({"name":"x","event":"ticket_opened","conditions":{"all":[{"field":"account_status","operator":"is","value":"busy"}]},"actions":[{"wait":1}]})",
       "conditions.all[0].value: 'busy' is not online, away or invisible"},
      {"not json", "not JSON"},
  };
  for (const Case& c : cases) {
    Trigger t;
    Status st = ParseTrigger(c.json, &t);
    ASSERT_FALSE(st.ok()) << c.json;
    EXPECT_NE(st.message().find(c.want), std::string::npos) << st.message();
  }
}

TEST(TriggerFormat, RoundTripsAndMatches) {
  for (const Trigger& t : DefaultTriggers()) {
    Trigger back;
    ASSERT_TRUE(ParseTrigger(TriggerJson(t, true), &back).ok());
    EXPECT_EQ(TriggerJson(back), TriggerJson(t));
  }
  Trigger t;
  ASSERT_TRUE(ParseTrigger(R"({"name":"n","event":"customer_reply",
      "conditions":{"all":[{"field":"sender_domain","operator":"ends_with","value":"Example.ORG"},
                           {"field":"waiting_tickets","operator":"greater_than","value":3}],
                    "any":[{"field":"business_hours","operator":"is","value":false},
                           {"field":"since_last_agent_reply","operator":"greater_than","value":3600}]},
      "actions":[{"send_message":"x"}]})",
                           &t)
                  .ok());
  TriggerFacts f;
  f.sender_domain = "mail.example.org";
  f.waiting_tickets = 4;
  f.business_hours = true;
  f.since_last_agent_reply = 60;
  EXPECT_FALSE(TriggerMatches(t, f));  // no ANY condition holds
  f.business_hours = false;
  EXPECT_TRUE(TriggerMatches(t, f));
  f.business_hours = true;
  f.since_last_agent_reply.reset();  // no agent reply yet: longer than any time
  EXPECT_TRUE(TriggerMatches(t, f));
  f.waiting_tickets = 3;
  EXPECT_FALSE(TriggerMatches(t, f));  // an ALL condition fails
}

}  // namespace
}  // namespace desk
