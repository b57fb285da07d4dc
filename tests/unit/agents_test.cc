// Agents' mail (issue 5): identification, the creation rules, the rewrite of agents' mail to
// customers and reply tokens, through the real pipeline (GMime parser, LMDB store in a temp dir).
#include "core/agents.h"

#include <glib.h>
#include <gmime/gmime.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>

#include "config/loader.h"
#include "core/engine.h"
#include "core/lmdb_store.h"
#include "core/mime_parser.h"
#include "tests/unit/engine_fixture.h"

namespace desk {
namespace {

namespace fs = std::filesystem;

constexpr char kSecret[] = "0123456789abcdef-test-secret";
constexpr int64_t kTokenNow = 1795000000;  // day 20775

Config AgentConfigForTests() {
  Config c = config::DefaultConfig();
  c.scanner_enabled = false;  // no signatures on test machines
  QueueConfig q = config::DefaultQueueConfig();
  q.name = "support";
  q.addresses = {"support@example.com", "*@help.example.com"};
  q.default_address = "support@example.com";
  q.subject_tag = "[#{n}]";
  q.agents = {{"alice@staff.example.com", "Alice Agent", "alice"},
              {"bob@staff.example.com", "", ""}};
  QueueConfig b = q;
  b.name = "billing";
  b.addresses = {"billing@example.com"};
  b.default_address = "billing@example.com";
  b.agents = {{"carl@staff.example.com", "Carl", "carl@REALM"}};
  b.reply_name = ReplyName::kAgentViaQueue;
  b.reply_token = true;
  c.queues = {q, b};
  c.trusted_networks = {"10.0.0.0/8", "2001:db8::/32"};
  c.reply_token_secret = kSecret;
  return c;
}

// --- identification -------------------------------------------------------------------------

TEST(AgentIdentify, Table) {
  Config c = AgentConfigForTests();
  struct Case {
    const char* name;
    const char* auth;
    const char* client;
    const char* mail_from;
    const char* want_agent;  // "" = none
    const char* want_via;
  } cases[] = {
      {"auth login", "alice", "192.0.2.1", "whoever@x.test", "alice@staff.example.com", "auth"},
      {"auth login any case", "ALICE", "192.0.2.1", "", "alice@staff.example.com", "auth"},
      {"auth with realm", "carl@REALM", "192.0.2.1", "", "carl@staff.example.com", "auth"},
      {"auth other user is no agent", "mallory", "10.1.2.3", "alice@staff.example.com", "", ""},
      {"trusted network and agent sender", "", "10.1.2.3", "<Alice@Staff.Example.com>",
       "alice@staff.example.com", "trusted_network"},
      {"trusted v6 with prefix", "", "IPv6:2001:db8::7", "bob@staff.example.com",
       "bob@staff.example.com", "trusted_network"},
      {"trusted network, other sender", "", "10.1.2.3", "carol@customer.test", "", ""},
      {"spoofed: agent sender from outside", "", "192.0.2.1", "alice@staff.example.com", "", ""},
      {"spoofed: loopback is not trusted by default", "", "127.0.0.1", "alice@staff.example.com",
       "", ""},
      {"no client address", "", "", "alice@staff.example.com", "", ""},
  };
  for (const Case& tc : cases) {
    AgentIdentity got_ = IdentifyAgent(c, tc.auth, tc.client, tc.mail_from);
    std::string got_agent = got_.agent ? got_.agent->address : "";
    EXPECT_EQ(got_agent, tc.want_agent) << tc.name;
    EXPECT_EQ(got_.via, tc.want_via) << tc.name;
  }
}

TEST(AgentIdentify, Networks) {
  struct Case {
    std::vector<std::string> nets;
    const char* addr;
    bool want_;
  } cases[] = {
      {{"10.0.0.0/8"}, "10.255.0.1", true},
      {{"10.0.0.0/8"}, "11.0.0.1", false},
      {{"192.0.2.7"}, "192.0.2.7", true},
      {{"192.0.2.7"}, "192.0.2.8", false},
      {{"192.0.2.0/25"}, "192.0.2.127", true},
      {{"192.0.2.0/25"}, "192.0.2.128", false},
      {{"0.0.0.0/0"}, "203.0.113.9", true},
      {{"::1/128"}, "::1", true},
      {{"::1/128"}, "127.0.0.1", false},
      {{"2001:db8::/32"}, "[2001:db8:1::1]", true},
      {{"garbage", "10.0.0.0/99"}, "10.0.0.1", false},
      {{"10.0.0.0/8"}, "not-an-ip", false},
  };
  for (const Case& tc : cases) {
    EXPECT_EQ(InNetworks(tc.nets, tc.addr), tc.want_) << tc.addr << " in " << tc.nets[0];
  }
}

TEST(AgentRules, Classify) {
  struct Case {
    bool threads, outside, involved, to_support;
    AgentMailKind want_;
  } cases[] = {
      {true, true, false, false, AgentMailKind::kReply},
      {true, true, true, true, AgentMailKind::kReply},
      {true, false, true, true, AgentMailKind::kInternalNote},
      {true, false, false, false, AgentMailKind::kInternalNote},
      {false, true, true, false, AgentMailKind::kNew},  // rules 2 and 4
      {false, true, false, false, AgentMailKind::kPersonal},
      {false, false, true, true, AgentMailKind::kSupport},  // rule 1 for an agent
      {false, false, false, false, AgentMailKind::kPersonal},
  };
  for (const Case& tc : cases) {
    AgentMailFacts f{tc.threads, tc.outside, tc.involved, tc.to_support};
    EXPECT_EQ(ClassifyAgentMail(f), tc.want_)
        << tc.threads << tc.outside << tc.involved << tc.to_support;
  }
}

TEST(AgentToken, RoundTripAndForgeries) {
  std::string token = MakeReplyToken(kSecret, "support", 42, kTokenNow);
  ASSERT_TRUE(token.starts_with("42-20775-")) << token;
  EXPECT_EQ(CheckReplyToken(kSecret, "support", token), std::optional<uint64_t>(42));
  std::string upper = token;
  for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  EXPECT_EQ(CheckReplyToken(kSecret, "support", upper), std::optional<uint64_t>(42));
  std::string flipped = token;
  flipped.back() = flipped.back() == '0' ? '1' : '0';
  const std::string mac = token.substr(3);  // "20775-" and the MAC
  struct Case {
    const char* name;
    std::string secret, queue, token;
  } forged[] = {
      {"other ticket, same mac", kSecret, "support", "43-" + mac},
      {"flipped mac digit", kSecret, "support", flipped},
      {"other queue", kSecret, "billing", token},
      {"other secret", "another-secret-of-16+", "support", token},
      {"short mac", kSecret, "support", token.substr(0, token.size() - 1)},
      {"no number", kSecret, "support", "-" + mac},
      {"leading zero", kSecret, "support", "042-" + mac},
      {"empty secret", "", "support", token},
      {"plain tag", kSecret, "support", "sales"},
  };
  for (const Case& tc : forged) {
    EXPECT_FALSE(CheckReplyToken(tc.secret, tc.queue, tc.token).has_value()) << tc.name;
  }
}

// Issue 12 item 8: reply tokens expire. A token carries the day it was issued under its MAC; with
// a maximum age, one issued longer ago no longer threads (the clock is passed in), a changed day
// fails the MAC, and the first, undated format is accepted only while tokens never expire.
TEST(AgentToken, OldTokensExpire) {
  const int64_t day = 86400;
  const std::string token = MakeReplyToken(kSecret, "support", 7, kTokenNow);
  bool expired = false;
  EXPECT_EQ(CheckReplyToken(kSecret, "support", token, kTokenNow + 29 * day, 30 * day, &expired),
            std::optional<uint64_t>(7));
  EXPECT_FALSE(expired);
  EXPECT_FALSE(CheckReplyToken(kSecret, "support", token, kTokenNow + 32 * day, 30 * day, &expired)
                   .has_value());
  EXPECT_TRUE(expired);
  EXPECT_EQ(CheckReplyToken(kSecret, "support", token, kTokenNow + 3650 * day, 0),
            std::optional<uint64_t>(7));
  // Moving the day forward to make an old token young again breaks the MAC.
  std::string younger = token;
  younger.replace(2, 5, "20900");
  EXPECT_FALSE(CheckReplyToken(kSecret, "support", younger, kTokenNow + 32 * day, 30 * day, &expired)
                   .has_value());
  EXPECT_FALSE(expired);
  // The undated first format: "N-MAC" with the MAC over ":v1:QUEUE:N".
  GHmac* hmac = g_hmac_new(G_CHECKSUM_SHA256, reinterpret_cast<const guchar*>(kSecret),
                           sizeof(kSecret) - 1);
  const std::string data = "deskmilter-reply-token:v1:support:7";
  g_hmac_update(hmac, reinterpret_cast<const guchar*>(data.data()),
                static_cast<gssize>(data.size()));
  const std::string v1 = "7-" + std::string(g_hmac_get_string(hmac)).substr(0, 12);
  g_hmac_unref(hmac);
  EXPECT_EQ(CheckReplyToken(kSecret, "support", v1, kTokenNow, 0), std::optional<uint64_t>(7));
  EXPECT_FALSE(CheckReplyToken(kSecret, "support", v1, kTokenNow, 30 * day).has_value());
}

TEST(AgentRewrite, FromHeader) {
  EXPECT_EQ(FormatFromHeader("support", "s@x.test"), "\"support\" <s@x.test>");
  EXPECT_EQ(FormatFromHeader("A \"B\" via q", "s@x.test"), "\"A \\\"B\\\" via q\" <s@x.test>");
  EXPECT_EQ(FormatFromHeader("Zoë", "s@x.test"), "=?UTF-8?B?Wm/Dqw==?= <s@x.test>");
  EXPECT_EQ(FormatFromHeader("", "s@x.test"), "s@x.test");
}

// --- the pipeline ----------------------------------------------------------------------------

struct Mail {
  std::string from = "Alice Agent <alice@staff.example.com>";
  std::string to = "Carol Customer <carol@customer.test>";
  std::string cc;
  std::string subject = "Re: Printer on fire";
  std::string message_id = "<a1@staff.example.com>";
  std::string in_reply_to;
  std::string extra_headers;
  std::string trace;  // Received: lines, written first

  std::string Render() const {
    std::string s = trace + "From: " + from + "\r\nTo: " + to + "\r\n";
    if (!cc.empty()) s += "Cc: " + cc + "\r\n";
    s += "Subject: " + subject + "\r\nDate: Sat, 21 Nov 2026 10:00:00 +0000\r\n";
    if (!message_id.empty()) s += "Message-ID: " + message_id + "\r\n";
    if (!in_reply_to.empty()) s += "In-Reply-To: " + in_reply_to + "\r\nReferences: " +
                                   in_reply_to + "\r\n";
    s += extra_headers;
    return s + "MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nHello.\r\n";
  }
};

struct Env {
  std::string mail_from = "alice@staff.example.com";
  std::vector<std::string> rcpts = {"carol@customer.test"};
  std::string auth = "alice";
  std::string client = "192.0.2.1";
  std::string queue_id;  // "" = the fixture's own
};

class AgentPipelineTest : public testing::EngineFixture {
 protected:
  void SetUp() override {
    EngineFixture::SetUp();
    Config c = AgentConfigForTests();
    c.store_dir = (dir_ / "store").string();
    c.spool_dir = dir_.string();
    Open(c);
  }

  Decision Ingest(const Mail& m, const Env& e) {
    Envelope env;
    env.mail_from = e.mail_from;
    env.rcpts = e.rcpts;
    env.auth_user = e.auth;
    env.client_addr = e.client;
    env.queue_id = e.queue_id;
    return IngestRaw(m.Render(), env, 1795000000 + seq_ + 1);
  }

  // A customer's mail to support: ticket 1 with Message-ID <c1@customer.test>.
  uint64_t CustomerTicket() {
    Mail m;
    m.from = "Carol Customer <carol@customer.test>";
    m.to = "support@example.com";
    m.subject = "Printer on fire";
    m.message_id = "<c1@customer.test>";
    Env e;
    e.mail_from = "carol@customer.test";
    e.rcpts = {"support@example.com"};
    e.auth = "";
    Decision d = Ingest(m, e);
    EXPECT_EQ(d.kind, "new");
    return d.ticket.value_or(0);
  }

  static std::string Edit(const Decision& d, const std::string& name, int index = 1) {
    for (const auto& e : d.header_changes) {
      if (e.name == name && e.index == index) return std::string(HeaderEditOpName(e.op)) + ":" + e.value;
    }
    return "-";
  }
};

// The four creation rules of the issue, and what is no ticket at all.
TEST_F(AgentPipelineTest, CreationRules) {
  ASSERT_EQ(CustomerTicket(), 1u);  // rule 1
  struct Case {
    const char* name;
    Mail mail;
    Env env;
    const char* want_kind;
    const char* want_action;
    const char* want_requester;  // of a created ticket; "" otherwise
  };
  auto mail = [](const char* from, const char* to, const char* cc, const char* id,
                 const char* irt) {
    Mail m;
    m.from = from;
    m.to = to;
    m.cc = cc;
    m.message_id = id;
    m.in_reply_to = irt;
    m.subject = "Offer";
    return m;
  };
  auto env = [](std::vector<std::string> rcpts, const char* auth = "alice",
                const char* mail_from = "alice@staff.example.com") {
    Env e;
    e.rcpts = std::move(rcpts);
    e.auth = auth;
    e.mail_from = mail_from;
    return e;
  };
  Case cases[] = {
      {"rule 1: new mail at a support address",
       mail("dave@d.test", "support@example.com", "", "<n1@d.test>", ""),
       env({"support@example.com"}, "", "dave@d.test"), "new", "created", "dave@d.test"},
      {"rule 2: agent writes From the support address",
       mail("support@example.com", "Erin <erin@e.test>", "", "<n2@s>", ""),
       env({"erin@e.test"}), "agent_new", "created", "erin@e.test"},
      {"rule 2: agent copies a support address",
       mail("alice@staff.example.com", "frank@f.test", "support@example.com", "<n3@s>", ""),
       env({"frank@f.test", "support@example.com"}), "agent_new", "created", "frank@f.test"},
      {"rule 3: customer's reply in a thread without ticket",
       mail("gina@g.test", "support@example.com", "", "<n4@g.test>", "<unknown1@g.test>"),
       env({"support@example.com"}, "", "gina@g.test"), "new", "created", "gina@g.test"},
      {"rule 4: agent's mail in a thread without ticket",
       mail("alice@staff.example.com", "hal@h.test", "support@example.com", "<n5@s>",
            "<unknown2@h.test>"),
       env({"hal@h.test", "support@example.com"}), "agent_new", "created", "hal@h.test"},
      {"agent reply joins the ticket",
       mail("alice@staff.example.com", "carol@customer.test", "", "<n6@s>", "<c1@customer.test>"),
       env({"carol@customer.test"}), "agent_reply", "appended", ""},
      {"agent mail to support only in the thread: internal note",
       mail("alice@staff.example.com", "support@example.com", "", "<n7@s>", "<c1@customer.test>"),
       env({"support@example.com"}), "internal_note", "appended", ""},
      {"agent's personal mail", mail("alice@staff.example.com", "mum@home.test", "", "<n8@s>", ""),
       env({"mum@home.test"}), "not_support", "none", ""},
      {"spoofed agent From from outside to a customer",
       mail("alice@staff.example.com", "carol@customer.test", "", "<n9@s>", "<c1@customer.test>"),
       env({"carol@customer.test"}, "", "alice@staff.example.com"), "not_support", "none", ""},
      {"spoofed agent From from outside to support is ordinary mail",
       mail("alice@staff.example.com", "support@example.com", "", "<n10@s>", ""),
       env({"support@example.com"}, "", "alice@staff.example.com"), "new", "created",
       "alice@staff.example.com"},
  };
  for (const Case& tc : cases) {
    Decision got_ = Ingest(tc.mail, tc.env);
    EXPECT_EQ(got_.kind, tc.want_kind) << tc.name << " " << got_.error;
    EXPECT_EQ(got_.ticket_action, tc.want_action) << tc.name;
    if (std::string(tc.want_requester).empty()) {
      if (got_.ticket) {
        EXPECT_EQ(*got_.ticket, 1u) << tc.name;
      }
    } else {
      ASSERT_TRUE(got_.ticket.has_value()) << tc.name;
      EXPECT_EQ(GetTicket(*got_.ticket).requester.address, tc.want_requester) << tc.name;
    }
    // Only mail that goes to a customer is rewritten.
    bool rewritten = !got_.envelope_from.empty();
    EXPECT_EQ(rewritten, got_.kind == "agent_new" || got_.kind == "agent_reply") << tc.name;
  }
}

TEST_F(AgentPipelineTest, ReplyIsRewrittenAndStored) {
  ASSERT_EQ(CustomerTicket(), 1u);
  Mail m;
  m.in_reply_to = "<c1@customer.test>";
  m.extra_headers =
      "Sender: alice@staff.example.com\r\nReply-To: Alice <alice@staff.example.com>\r\n"
      "Return-Path: <alice@staff.example.com>\r\nDisposition-Notification-To: "
      "alice@staff.example.com\r\nX-Original-From: Alice <ALICE@staff.example.com>\r\n"
      "X-Mailer: Thunderbird\r\n";
  Decision d = Ingest(m, Env{});
  ASSERT_EQ(d.kind, "agent_reply") << d.error;
  EXPECT_EQ(*d.ticket, 1u);
  EXPECT_EQ(d.envelope_from, "support@example.com");
  struct Case {
    const char* header;
    const char* want_;
  } cases[] = {
      {"From", "change:\"support\" <support@example.com>"},
      {"Reply-To", "change:support@example.com"},
      {"Sender", "change:"},
      {"Return-Path", "change:"},
      {"Disposition-Notification-To", "change:"},
      {"X-Original-From", "change:"},
      {"X-Mailer", "-"},
      {"To", "-"},
      {"Subject", "change:[#1] Re: Printer on fire"},
  };
  for (const Case& tc : cases) EXPECT_EQ(Edit(d, tc.header), tc.want_) << tc.header;
  for (const auto& e : d.header_changes) {
    EXPECT_EQ(e.value.find("alice"), std::string::npos) << e.name << ": " << e.value;
  }

  std::vector<TicketMessage> msgs;
  ASSERT_TRUE(store_->GetMessages(1, &msgs).ok());
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[1].direction, Direction::kOutbound);
  EXPECT_EQ(msgs[1].kind, "agent_reply");
  EXPECT_EQ(msgs[1].agent, "alice@staff.example.com");
  EXPECT_EQ(msgs[1].from.address, "alice@staff.example.com");  // the original, kept
  std::vector<TicketEvent> ev;
  ASSERT_TRUE(store_->GetEvents(1, &ev).ok());
  EXPECT_EQ(ev.back().type, "latest_email");
  EXPECT_EQ(ev.back().text, "mid:a1@staff.example.com");

  // The customer's answer to the agent's mail threads by its recorded Message-ID, and carol is
  // a participant, so her tagged reply threads too.
  Mail answer;
  answer.from = "carol@customer.test";
  answer.to = "support@example.com";
  answer.message_id = "<c2@customer.test>";
  answer.in_reply_to = "<a1@staff.example.com>";
  Env e;
  e.mail_from = "carol@customer.test";
  e.rcpts = {"support@example.com"};
  e.auth = "";
  Decision got = Ingest(answer, e);
  EXPECT_EQ(got.kind, "reply");
  EXPECT_EQ(got.ticket.value_or(0), 1u);
}

TEST_F(AgentPipelineTest, DisplayNameTokenAndForgedToken) {
  // A billing ticket (reply_name agent_via_queue, reply_token on).
  Mail c;
  c.from = "carol@customer.test";
  c.to = "billing@example.com";
  c.message_id = "<b1@customer.test>";
  Env ce;
  ce.mail_from = "carol@customer.test";
  ce.rcpts = {"billing@example.com"};
  ce.auth = "";
  ASSERT_EQ(Ingest(c, ce).ticket.value_or(0), 1u);

  Mail m;
  m.from = "carl@staff.example.com";
  m.in_reply_to = "<b1@customer.test>";
  m.message_id = "<k1@staff.example.com>";
  Env e;
  e.auth = "carl@REALM";
  e.mail_from = "carl@staff.example.com";
  Decision d = Ingest(m, e);
  ASSERT_EQ(d.kind, "agent_reply");
  EXPECT_EQ(Edit(d, "From"), "change:\"Carl via billing\" <billing@example.com>");
  const std::string token = MakeReplyToken(kSecret, "billing", 1, 1795000000);
  EXPECT_EQ(Edit(d, "Reply-To"), "add:billing+" + token + "@example.com");

  // A reply with no In-Reply-To and no tag, to the token address, threads.
  struct Case {
    const char* name;
    std::string rcpt;
    const char* want_kind;
  } cases[] = {
      {"valid token", "billing+" + token + "@example.com", "reply"},
      {"forged token", "billing+1-000000000000@example.com", "new"},
      {"token of another queue", "billing+" + MakeReplyToken(kSecret, "support", 1, 1795000000) +
                                     "@example.com", "new"},
  };
  int i = 0;
  for (const Case& tc : cases) {
    Mail r;
    r.from = "carol@customer.test";
    r.to = tc.rcpt;
    r.subject = "about my bill";
    r.message_id = "<t" + std::to_string(++i) + "@customer.test>";
    Env re;
    re.mail_from = "carol@customer.test";
    re.rcpts = {tc.rcpt};
    re.auth = "";
    Decision got_ = Ingest(r, re);
    EXPECT_EQ(got_.kind, tc.want_kind) << tc.name;
    if (std::string(tc.want_kind) == "reply") {
      EXPECT_EQ(got_.ticket.value_or(0), 1u) << tc.name;
    }
  }

  // The same token past agents.reply_token_max_age_days (the default 365) no longer threads.
  Mail late;
  late.from = "carol@customer.test";
  late.to = "billing+" + token + "@example.com";
  late.subject = "about my bill, again";
  late.message_id = "<late1@customer.test>";
  Envelope le;
  le.mail_from = "carol@customer.test";
  le.rcpts = {late.to};
  Decision got_late = IngestRaw(late.Render(), le, 1795000000 + 400 * 86400);
  EXPECT_EQ(got_late.kind, "new");
  EXPECT_NE(std::find(got_late.reasons.begin(), got_late.reasons.end(), "reply_token_expired"),
            got_late.reasons.end());
}

TEST_F(AgentPipelineTest, WildcardTicketRepliesFromDefaultAddress) {
  Mail c;
  c.from = "carol@customer.test";
  c.to = "anything@help.example.com";
  c.message_id = "<w1@customer.test>";
  Env ce;
  ce.mail_from = "carol@customer.test";
  ce.rcpts = {"anything@help.example.com"};
  ce.auth = "";
  ASSERT_EQ(Ingest(c, ce).ticket.value_or(0), 1u);
  Mail m;
  m.in_reply_to = "<w1@customer.test>";
  Decision d = Ingest(m, Env{});
  ASSERT_EQ(d.kind, "agent_reply");
  EXPECT_EQ(d.envelope_from, "support@example.com");
}

TEST_F(AgentPipelineTest, RetriedReplyIsRewrittenAgain) {
  ASSERT_EQ(CustomerTicket(), 1u);
  Mail m;
  m.in_reply_to = "<c1@customer.test>";
  ASSERT_EQ(Ingest(m, Env{}).kind, "agent_reply");
  Decision again = Ingest(m, Env{});
  EXPECT_EQ(again.kind, "duplicate");
  EXPECT_EQ(again.envelope_from, "support@example.com");
  EXPECT_EQ(Edit(again, "From"), "change:\"support\" <support@example.com>");
}

// Issue 12 point 8: the agent's own mailboxes leave To and Cc; the customers' stay as written.
TEST_F(AgentPipelineTest, AgentReplyHidesPersonalAddressInToAndCc) {
  ASSERT_EQ(CustomerTicket(), 1u);
  Mail m;
  m.in_reply_to = "<c1@customer.test>";
  m.to = "Carol Customer <carol@customer.test>, \"Alice Agent\" <Alice@Staff.Example.com>";
  m.cc =
      "=?ISO-8859-1?Q?Andr=E9_Kunde?= <andre@customer.test>, alice@staff.example.com, "
      "Team: dan@customer.test, alice@staff.example.com;";
  Decision d = Ingest(m, Env{});
  ASSERT_EQ(d.kind, "agent_reply") << d.error;
  EXPECT_EQ(Edit(d, "To"), "change:Carol Customer <carol@customer.test>");
  const std::string cc = Edit(d, "Cc");
  ASSERT_EQ(cc.rfind("change:", 0), 0u) << cc;
  EXPECT_EQ(cc.find("alice"), std::string::npos) << cc;
  // What is left means what was written: André's encoded name, the group with dan.
  InternetAddressList* got_ = internet_address_list_parse(nullptr, cc.substr(7).c_str());
  ASSERT_NE(got_, nullptr);
  ASSERT_EQ(internet_address_list_length(got_), 2);
  InternetAddress* andre = internet_address_list_get_address(got_, 0);
  EXPECT_STREQ(internet_address_get_name(andre), "Andr\xc3\xa9 Kunde");
  EXPECT_STREQ(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(andre)),
               "andre@customer.test");
  InternetAddress* team = internet_address_list_get_address(got_, 1);
  ASSERT_TRUE(INTERNET_ADDRESS_IS_GROUP(team));
  InternetAddressList* members = internet_address_group_get_members(INTERNET_ADDRESS_GROUP(team));
  ASSERT_EQ(internet_address_list_length(members), 1);
  EXPECT_STREQ(internet_address_mailbox_get_addr(
                   INTERNET_ADDRESS_MAILBOX(internet_address_list_get_address(members, 0))),
               "dan@customer.test");
  g_object_unref(got_);
}

// A long list written again is folded, as a header must be (lines under 998 characters).
TEST_F(AgentPipelineTest, AgentReplyRewrittenLongToIsFolded) {
  ASSERT_EQ(CustomerTicket(), 1u);
  Mail m;
  m.in_reply_to = "<c1@customer.test>";
  m.to = "alice@staff.example.com";
  for (int i = 0; i < 40; ++i)
    m.to += ", Person " + std::to_string(i) + " <p" + std::to_string(i) + "@customer.test>";
  Decision d = Ingest(m, Env{});
  ASSERT_EQ(d.kind, "agent_reply") << d.error;
  const std::string to = Edit(d, "To");
  ASSERT_EQ(to.rfind("change:Person 0 <p0@customer.test>", 0), 0u) << to;
  EXPECT_NE(to.find("\r\n\t"), std::string::npos) << to;
  size_t line = 0, longest = 0;
  for (char c : to) {
    line = c == '\n' ? 0 : line + 1;
    longest = std::max(longest, line);
  }
  EXPECT_LT(longest, 100u);
  InternetAddressList* got_ = internet_address_list_parse(nullptr, to.substr(7).c_str());
  ASSERT_NE(got_, nullptr);
  EXPECT_EQ(internet_address_list_length(got_), 40);
  g_object_unref(got_);
}

TEST_F(AgentPipelineTest, AgentReplyDeletesToOrCcLeftEmptyOrStillNamingPersonalAddress) {
  ASSERT_EQ(CustomerTicket(), 1u);
  Mail m;
  m.in_reply_to = "<c1@customer.test>";
  m.to = "\"alice@staff.example.com\" <carol@customer.test>";  // her address as a display name
  m.cc = "Alice Agent <alice@staff.example.com>";
  Decision d = Ingest(m, Env{});
  ASSERT_EQ(d.kind, "agent_reply") << d.error;
  EXPECT_EQ(Edit(d, "Cc"), "change:");
  EXPECT_EQ(Edit(d, "To"), "change:");
}

// A list that does not name the agent is not re-serialised: byte for byte as the agent's client
// wrote it, odd encodings and addresses that merely contain hers included.
TEST_F(AgentPipelineTest, AgentReplyLeavesListsWithoutPersonalAddressUntouched) {
  ASSERT_EQ(CustomerTicket(), 1u);
  Mail m;
  m.in_reply_to = "<c1@customer.test>";
  m.to = "=?utf-8?b?Q2Fyb2w=?= <carol@customer.test>,malice@staff.example.com";
  m.cc = "alice@staff.example.com.evil.test, (comment) <x@customer.test>";
  Decision d = Ingest(m, Env{});
  ASSERT_EQ(d.kind, "agent_reply") << d.error;
  EXPECT_EQ(Edit(d, "To"), "-");
  EXPECT_EQ(Edit(d, "Cc"), "-");
}

// Received headers naming the agent (her address, or her SASL login as Postfix writes it) are
// deleted whole; the others, which loop counting reads, stay. An MTA that shows the milter its own
// Received (first, naming the queue id) leaves it out of smfi_chgheader's indexes: it is kept and
// the indexes shift by one. Postfix 3 does not show it (the e2e test): the plain case.
TEST_F(AgentPipelineTest, AgentReplyDeletesReceivedNamingPersonalAddressOrLogin) {
  ASSERT_EQ(CustomerTicket(), 1u);
  const std::string own =
      "Received: from laptop (laptop [192.0.2.1]) by mx.example.com (Postfix) with ESMTPSA id "
      "4XyZ1\r\n\tfor <alice@staff.example.com>; Sat, 21 Nov 2026 10:00:05 +0000\r\n";
  const std::string trace =
      "Received: from hub by gw.staff.example.com id A; Sat, 21 Nov 2026 10:00:04 +0000\r\n"
      "Received: from laptop by hub.staff.example.com id B\r\n"
      "\tfor <alice@staff.example.com>; Sat, 21 Nov 2026 10:00:03 +0000\r\n"
      "Received: from laptop (Authenticated sender: alice) by hub id C; Sat, 21 Nov 2026\r\n"
      "Received: from x (Authenticated sender: alicea) by y for <malice@staff.example.com>;"
      " Sat, 21 Nov 2026 10:00:01 +0000\r\n";
  struct Case {
    const char* name;
    bool mta_shows_own;  // the queue id is the one the first Received names
    std::string trace;
    std::vector<int> want_deleted;  // Received indexes, as the adapter passes them
  } cases[] = {
      {"the message as written", false, trace, {3, 2}},
      {"the MTA's own Received first, naming the queue id", true, own + trace, {3, 2}},
      {"a first Received naming another queue id is the message's", false, own + trace, {4, 3, 1}},
  };
  int n = 0;
  for (const Case& tc : cases) {
    Mail m;
    m.in_reply_to = "<c1@customer.test>";
    m.message_id = "<r" + std::to_string(++n) + "@staff.example.com>";
    m.trace = tc.trace;
    Env e;
    if (tc.mta_shows_own) e.queue_id = "4XyZ1";
    Decision d = Ingest(m, e);
    ASSERT_EQ(d.kind, "agent_reply") << tc.name << " " << d.error;
    std::vector<int> got_;
    for (const HeaderEdit& h : d.header_changes) {
      if (h.name == "Received") {
        EXPECT_EQ(h.op, HeaderEdit::Op::kChange) << tc.name;
        EXPECT_EQ(h.value, "") << tc.name;
        got_.push_back(h.index);
      }
    }
    EXPECT_EQ(got_, tc.want_deleted) << tc.name;
  }
}

TEST(AgentConfigLoad, AgentsAndChecks) {
  const std::string base =
      "[agents]\ntrusted_networks = [\"10.0.0.0/8\"]\nreply_token_secret = "
      "\"0123456789abcdef\"\n[[queue]]\nname = \"s\"\naddresses = [\"s@example.com\"]\n"
      "reply_token = true\nreply_name = \"agent_via_queue\"\n[[queue.agent]]\naddress = "
      "\"A@Staff.example.com\"\nname = \"A\"\nlogin = \"a\"\n";
  std::shared_ptr<const Config> c;
  Status st = config::LoadString(base, "x.toml", &c);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_EQ(c->queues[0].agents.size(), 1u);
  EXPECT_EQ(c->queues[0].agents[0].address, "a@staff.example.com");
  EXPECT_EQ(c->queues[0].reply_name, ReplyName::kAgentViaQueue);
  EXPECT_EQ(c->trusted_networks, std::vector<std::string>{"10.0.0.0/8"});

  struct Case {
    std::string toml;
    const char* want_;
  } cases[] = {
      {"[[queue]]\nname = \"s\"\naddresses = [\"s@example.com\"]\nreply_token = true\n",
       "x.toml: queue[0].reply_token: needs agents.reply_token_secret"},
      {"[agents]\nreply_token_secret = \"short\"\n",
       "x.toml: agents.reply_token_secret: must be empty or at least 16 characters long"},
      {"[agents]\ntrusted_networks = [\"10.0.0.0/33\"]\n",
       "x.toml: agents.trusted_networks[0]: '10.0.0.0/33' has no prefix length in 0..32"},
      {"[[queue]]\nname = \"s\"\naddresses = [\"s@example.com\"]\n[[queue.agent]]\nname = \"x\"\n",
       "x.toml: queue[0].agent[0].address: required"},
      {"[[queue]]\nname = \"s\"\naddresses = [\"s@example.com\"]\n[[queue.agent]]\naddress = "
       "\"a@b.test\"\nrole = \"x\"\n",
       "x.toml: queue[0].agent[0].role: unknown key"},
      {"[[queue]]\nname = \"s\"\naddresses = [\"s@example.com\"]\n[[queue.agent]]\naddress = "
       "\"s@example.com\"\n",
       "x.toml: queue[0].agent[0].address: 's@example.com' is a support address"},
      {"[[queue]]\nname = \"s\"\naddresses = [\"s@example.com\"]\n[[queue.agent]]\naddress = "
       "\"a@b.test\"\nlogin = \"x\"\n[[queue.agent]]\naddress = \"c@b.test\"\nlogin = \"x\"\n",
       "x.toml: queue[0].agent[1].login: 'x' is already the login of 'a@b.test'"},
  };
  for (const Case& tc : cases) {
    std::shared_ptr<const Config> got;
    Status got_ = config::LoadString(tc.toml, "x.toml", &got);
    EXPECT_EQ(got_.message(), tc.want_) << tc.toml;
  }
}

}  // namespace
}  // namespace desk
