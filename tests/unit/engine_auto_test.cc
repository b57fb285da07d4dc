// Engine tests for automatic mail and loop protection (issue 4), through the real pipeline: GMime
// parser, ClassifyAutoMail, the LMDB store in a temp directory, Transaction::EndOfMessage.
//
// Every case of the class table runs against a fresh store that already holds ticket 1 (a
// customer's mail, Message-ID <m1@customer.test>), so "joins ticket 1", "records an event on
// ticket 1" and "opens no ticket" can all be checked by looking at the store afterwards. Flood
// counting is tested with explicit times, across a reopening of the store and past the end of the
// window.
#include <gtest/gtest.h>

#include <algorithm>

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/loader.h"
#include "core/engine.h"
#include "core/lmdb_store.h"
#include "core/mime_parser.h"
#include "tests/unit/engine_fixture.h"
#include "milter/reply.h"

namespace desk {
namespace {

namespace fs = std::filesystem;

constexpr char kInstallation[] = "desk-test-1";
constexpr int64_t kT0 = 1795000000;

// "\n" -> "\r\n", so cases can be written readably.
std::string Crlf(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

// A plain customer mail with extra headers; headers given as "Name: value\n" lines.
std::string PlainMail(const std::string& from, const std::string& subject,
                      const std::string& message_id, const std::string& extra = "",
                      const std::string& body = "Hello,\nplease help.\n") {
  return Crlf("From: " + from + "\nTo: support@example.com\nSubject: " + subject +
              "\nDate: Sat, 21 Nov 2026 10:00:00 +0000\nMessage-ID: " + message_id + "\n" + extra +
              "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n" + body);
}

// An RFC 3464 delivery report returning the message whose Message-ID is reported_id.
std::string BounceMail(const std::string& reported_id) {
  return Crlf(
      "From: Mail Delivery System <MAILER-DAEMON@mx.customer.test>\n"
      "To: support@example.com\n"
      "Subject: Undelivered Mail Returned to Sender\n"
      "Date: Sat, 21 Nov 2026 10:05:00 +0000\n"
      "Message-ID: <bounce-" + reported_id + ">\n"
      "Auto-Submitted: auto-replied\n"
      "MIME-Version: 1.0\n"
      "Content-Type: multipart/report; report-type=delivery-status; boundary=\"B1\"\n"
      "\n"
      "--B1\n"
      "Content-Type: text/plain\n"
      "\n"
      "I'm sorry to have to inform you that your message could not be delivered.\n"
      "--B1\n"
      "Content-Type: message/delivery-status\n"
      "\n"
      "Reporting-MTA: dns; mx.customer.test\n"
      "\n"
      "Final-Recipient: rfc822; gone@customer.test\n"
      "Action: failed\n"
      "Status: 5.1.1\n"
      "--B1\n"
      "Content-Type: text/rfc822-headers\n"
      "\n"
      "From: support@example.com\n"
      "To: gone@customer.test\n"
      "Subject: [#1] Printer on fire\n"
      "Message-ID: <" + reported_id + ">\n"
      "--B1--\n");
}

std::string ManyReceived(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) {
    s += "Received: from hop" + std::to_string(i) + ".test by hop" + std::to_string(i + 1) +
         ".test; Sat, 21 Nov 2026 10:00:00 +0000\n";
  }
  return s;
}

class EngineAutoTest : public testing::EngineFixture {
 protected:
  // The base config with our stamp id, one blocked domain, flood off unless a test turns it on.
  Config BaseConfig(const std::string& store_name = "store") {
    Config c = EngineFixture::BaseConfig(store_name);
    c.installation_id = kInstallation;
    c.blocked_senders = {"*@vendor.test"};
    c.flood_max = 0;
    return c;
  }

  Decision Ingest(const std::string& raw, const std::string& mail_from, int64_t now,
                  const std::string& rcpt = "support@example.com", bool dry_run = false) {
    return IngestRaw(raw, mail_from, rcpt, now, dry_run);
  }

  // Ticket 1: a customer's mail <m1@customer.test>.
  // An agent's answer on ticket 1, as the store keeps it: outbound, id a1@example.com.
  void SeedOutbound1() {
    TicketWrite w;
    w.op = TicketWrite::Op::kAppend;
    w.ticket = 1;
    w.now = kT0 + 1;
    w.message.direction = Direction::kOutbound;
    w.message.kind = "agent_reply";
    w.message.message_id = "a1@example.com";
    WriteResult r;
    ASSERT_TRUE(store_->Write(w, &r).ok());
    ASSERT_EQ(r.ticket, 1u);
  }

  void SeedTicket1() {
    Decision d = Ingest(PlainMail("Carol Customer <carol@customer.test>", "Printer on fire",
                                  "<m1@customer.test>"),
                        "carol@customer.test", kT0);
    ASSERT_EQ(d.ticket_action, "created");
    ASSERT_EQ(d.ticket, std::optional<uint64_t>(1));
  }

  static std::vector<std::string> Values(const Decision& d, const std::string& name) {
    std::vector<std::string> out;
    for (const auto& e : d.header_changes) {
      if (e.name == name && e.op == HeaderEdit::Op::kAdd) out.push_back(e.value);
    }
    return out;
  }
};

struct ClassCase {
  std::string name;
  std::string raw;
  std::string mail_from;
  Outcome want_verdict;
  std::string want_kind;
  std::string want_auto;       // auto_class
  std::string want_rule;       // auto_rule (exact)
  std::optional<uint64_t> want_ticket;
  std::string want_action;     // ticket_action
  size_t want_tickets;         // tickets in the store afterwards (ticket 1 is seeded)
  int want_failure_events_1;   // delivery_failure events on ticket 1
  size_t want_messages_1;      // messages on ticket 1
  std::string want_last_kind_1;  // TicketMessage.kind of ticket 1's last message
};

TEST_F(EngineAutoTest, EachClassDefaultActionAndTicketEffect) {
  const std::string carol = "Carol Customer <carol@customer.test>";
  const std::vector<ClassCase> cases = {
      // A customer's Message-ID never bounces back to us: a bounce naming it is forged and joins
      // no ticket (BounceOfOurMailIsRecordedAForgedOneIsNot has the one that does).
      {"bounce_of_customers_mail", BounceMail("m1@customer.test"), "", Outcome::kAccept, "bounce",
       "bounce", "report:delivery-status", std::nullopt, "none", 1, 0, 1, "new"},
      {"bounce_of_unknown_mail", BounceMail("never-sent@example.com"), "", Outcome::kAccept,
       "bounce", "bounce", "report:delivery-status", std::nullopt, "none", 1, 0, 1, "new"},
      {"auto_reply_that_threads",
       PlainMail(carol, "Out of office: Printer on fire", "<ooo1@customer.test>",
                 "Auto-Submitted: auto-replied\nIn-Reply-To: <m1@customer.test>\n"),
       "carol@customer.test", Outcome::kAccept, "reply", "auto_reply",
       "auto-submitted:auto-replied", 1, "appended", 1, 0, 2, "auto_reply"},
      {"auto_reply_that_does_not_thread",
       PlainMail("Dave <dave@customer.test>", "I am away", "<ooo2@customer.test>",
                 "X-Autoreply: yes\n"),
       "dave@customer.test", Outcome::kAccept, "auto_reply", "auto_reply", "x-autoreply",
       std::nullopt, "none", 1, 0, 1, "new"},
      {"list_mail",
       PlainMail("Dave <dave@customer.test>", "[announce] release 2.0", "<list1@lists.test>",
                 "List-Id: Announcements <announce.lists.test>\n"),
       "announce-bounces@lists.test", Outcome::kAccept, "list", "list", "list-id", std::nullopt,
       "none", 1, 0, 1, "new"},
      {"own_from_support",
       PlainMail("Support <support@example.com>", "Re: [#1] Printer on fire",
                 "<own1@example.com>", "In-Reply-To: <m1@customer.test>\n"),
       "bounces@forwarder.test", Outcome::kAccept, "own", "own", "own:from", std::nullopt,
       "none", 1, 0, 1, "new"},
      {"own_blocked_sender",
       PlainMail("Vendor <news@vendor.test>", "Monthly report", "<v1@vendor.test>"),
       "news@vendor.test", Outcome::kAccept, "own", "own", "blocked:envelope", std::nullopt,
       "none", 1, 0, 1, "new"},
      {"loop_stamp",
       PlainMail(carol, "Re: Printer on fire", "<loop1@customer.test>",
                 std::string("X-Deskmilter-Loop: ") + kInstallation + "\n"),
       "carol@customer.test", Outcome::kHold, "loop", "loop", "loop-stamp", std::nullopt, "none",
       1, 0, 1, "new"},
      {"too_many_received",
       PlainMail(carol, "Re: Printer on fire", "<loop2@customer.test>", ManyReceived(31)),
       "carol@customer.test", Outcome::kHold, "loop", "loop", "received-count", std::nullopt,
       "none", 1, 0, 1, "new"},
      // Near misses: a person's mail that only looks automatic.
      {"auto_submitted_no",
       PlainMail("Dave <dave@customer.test>", "Question", "<nm1@customer.test>",
                 "Auto-Submitted: no\n"),
       "dave@customer.test", Outcome::kAccept, "new", "", "", 2, "created", 2, 0, 1, "new"},
      {"postmaster_in_display_name",
       PlainMail("Postmaster Pete <pete@customer.test>", "Mail server question",
                 "<nm2@customer.test>"),
       "pete@customer.test", Outcome::kAccept, "new", "", "", 2, "created", 2, 0, 1, "new"},
      {"subject_mentions_undeliverable",
       PlainMail("Dave <dave@customer.test>", "Undeliverable: why does my mail bounce?",
                 "<nm3@customer.test>"),
       "dave@customer.test", Outcome::kAccept, "new", "", "", 2, "created", 2, 0, 1, "new"},
      {"stamp_of_another_installation",
       PlainMail("Dave <dave@customer.test>", "Forwarded by another desk", "<nm4@customer.test>",
                 "X-Deskmilter-Loop: other-desk\n"),
       "dave@customer.test", Outcome::kAccept, "new", "", "", 2, "created", 2, 0, 1, "new"},
      {"received_at_the_limit",
       PlainMail("Dave <dave@customer.test>", "Far away", "<nm5@customer.test>",
                 ManyReceived(30)),
       "dave@customer.test", Outcome::kAccept, "new", "", "", 2, "created", 2, 0, 1, "new"},
  };
  int n = 0;
  for (const ClassCase& c : cases) {
    SCOPED_TRACE(c.name);
    Open(BaseConfig("store-" + std::to_string(n++)));
    SeedTicket1();
    Decision got = Ingest(c.raw, c.mail_from, kT0 + 60);
    EXPECT_EQ(got.verdict, c.want_verdict) << OutcomeName(got.verdict) << " " << SmtpReplyFor(got).text;
    EXPECT_EQ(got.kind, c.want_kind);
    EXPECT_EQ(got.auto_class, c.want_auto);
    EXPECT_EQ(got.auto_rule, c.want_rule);
    EXPECT_EQ(got.ticket, c.want_ticket);
    EXPECT_EQ(got.ticket_action, c.want_action);
    EXPECT_EQ(got.queue, "support");
    EXPECT_TRUE(SmtpReplyFor(got).rcode.empty()) << SmtpReplyFor(got).rcode;
    if (c.want_verdict == Outcome::kHold) {
      EXPECT_NE(got.reason.find(c.want_rule), std::string::npos) << got.reason;
    }
    EXPECT_EQ(TicketCount(), c.want_tickets);
    EXPECT_EQ(CountEvents(Events(1), "delivery_failure"), c.want_failure_events_1);
    std::vector<TicketMessage> msgs = Messages(1);
    ASSERT_EQ(msgs.size(), c.want_messages_1);
    EXPECT_EQ(msgs.back().kind, c.want_last_kind_1);
    // Stamps: every support mail let through (or held) carries our loop stamp exactly once.
    std::vector<std::string> got_stamps = Values(got, "X-Deskmilter-Loop");
    if (c.want_rule == "loop-stamp") {
      EXPECT_TRUE(got_stamps.empty()) << "already stamped by us";
    } else {
      EXPECT_EQ(got_stamps, std::vector<std::string>{kInstallation});
    }
  }
}

// Issue 12 item 8: only a bounce of mail we sent (an id stored outbound) is recorded on its
// ticket; one naming a customer's id, or an id only named, is forged and joins no ticket.
TEST_F(EngineAutoTest, BounceOfOurMailIsRecordedAForgedOneIsNot) {
  Open(BaseConfig());
  SeedTicket1();
  SeedOutbound1();
  Decision forged = Ingest(BounceMail("m1@customer.test"), "", kT0 + 60);
  EXPECT_EQ(forged.ticket, std::nullopt);
  EXPECT_EQ(forged.ticket_action, "none");
  EXPECT_NE(std::find(forged.reasons.begin(), forged.reasons.end(), "bounce_not_ours"),
            forged.reasons.end());
  EXPECT_EQ(CountEvents(Events(1), "delivery_failure"), 0);
  Decision ours = Ingest(BounceMail("a1@example.com"), "", kT0 + 61);
  EXPECT_EQ(ours.ticket, std::optional<uint64_t>(1));
  EXPECT_EQ(ours.ticket_action, "event");
  EXPECT_EQ(CountEvents(Events(1), "delivery_failure"), 1);
  EXPECT_EQ(TicketCount(), 1u);
}

TEST_F(EngineAutoTest, BounceEventNamesTheReportedMessage) {
  Open(BaseConfig());
  SeedTicket1();
  SeedOutbound1();
  Decision d = Ingest(BounceMail("a1@example.com"), "", kT0 + 60);
  ASSERT_EQ(d.ticket, std::optional<uint64_t>(1));
  std::vector<TicketEvent> ev = Events(1);
  ASSERT_EQ(CountEvents(ev, "delivery_failure"), 1);
  for (const TicketEvent& e : ev) {
    if (e.type != "delivery_failure") continue;
    EXPECT_NE(e.text.find("a1@example.com"), std::string::npos) << e.text;
    EXPECT_NE(e.text.find("report:delivery-status"), std::string::npos) << e.text;
    EXPECT_EQ(e.at, kT0 + 60);
  }
  // A dry run decides the same but writes nothing.
  Decision dry = Ingest(BounceMail("a1@example.com"), "", kT0 + 61, "support@example.com",
                        /*dry_run=*/true);
  EXPECT_EQ(dry.ticket_action, "event");
  EXPECT_EQ(CountEvents(Events(1), "delivery_failure"), 1);
}

TEST_F(EngineAutoTest, NonDefaultActionsAndEffects) {
  struct Case {
    std::string name;
    void (*configure)(Config*);
    std::string raw;
    std::string mail_from;
    Outcome want_verdict;
    std::string want_kind;
    std::string want_action;
    size_t want_tickets;
    std::string want_rcode;
  };
  const std::vector<Case> cases = {
      {"bounce_ticket_open_opens_a_ticket",
       [](Config* c) { c->bounce_ticket = TicketEffect::kOpen; },
       BounceMail("never-sent@example.com"), "", Outcome::kAccept, "new", "created", 2, ""},
      {"auto_reply_action_hold_holds_and_still_joins",
       [](Config* c) { c->auto_reply_action = Outcome::kHold; },
       PlainMail("Carol <carol@customer.test>", "Out of office", "<ooo3@customer.test>",
                 "Auto-Submitted: auto-replied\nIn-Reply-To: <m1@customer.test>\n"),
       "carol@customer.test", Outcome::kHold, "reply", "appended", 1, ""},
      {"auto_reply_action_hold_without_thread",
       [](Config* c) { c->auto_reply_action = Outcome::kHold; },
       PlainMail("Dave <dave@customer.test>", "Away", "<ooo4@customer.test>",
                 "X-Autoreply: yes\n"),
       "dave@customer.test", Outcome::kHold, "auto_reply", "none", 1, ""},
      {"auto_reply_ticket_none_does_not_join",
       [](Config* c) { c->auto_reply_ticket = TicketEffect::kNone; },
       PlainMail("Carol <carol@customer.test>", "Out of office", "<ooo5@customer.test>",
                 "Auto-Submitted: auto-replied\nIn-Reply-To: <m1@customer.test>\n"),
       "carol@customer.test", Outcome::kAccept, "auto_reply", "none", 1, ""},
      {"list_action_reject", [](Config* c) { c->list_action = Outcome::kReject; },
       PlainMail("Dave <dave@customer.test>", "news", "<l2@lists.test>",
                 "Precedence: bulk\n"),
       "dave@customer.test", Outcome::kReject, "list", "none", 1, "550"},
      {"list_ticket_open_opens_a_ticket", [](Config* c) { c->list_ticket = TicketEffect::kOpen; },
       PlainMail("Dave <dave@customer.test>", "news", "<l3@lists.test>", "List-Id: <a.b>\n"),
       "dave@customer.test", Outcome::kAccept, "new", "created", 2, ""},
      {"loop_action_discard", [](Config* c) { c->loop_action = Outcome::kDiscard; },
       PlainMail("Dave <dave@customer.test>", "loop", "<lp@customer.test>",
                 std::string("X-Deskmilter-Loop: ") + kInstallation + "\n"),
       "dave@customer.test", Outcome::kDiscard, "loop", "none", 1, ""},
  };
  int n = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Config cfg = BaseConfig("store-" + std::to_string(n++));
    c.configure(&cfg);
    Open(cfg);
    SeedTicket1();
    Decision got = Ingest(c.raw, c.mail_from, kT0 + 60);
    EXPECT_EQ(got.verdict, c.want_verdict) << OutcomeName(got.verdict);
    EXPECT_EQ(got.kind, c.want_kind);
    EXPECT_EQ(got.ticket_action, c.want_action);
    EXPECT_EQ(SmtpReplyFor(got).rcode, c.want_rcode);
    EXPECT_FALSE(got.auto_class.empty());
    EXPECT_EQ(TicketCount(), c.want_tickets);
    if (c.want_action == "created") {
      // Automatic mail that opens a ticket is still marked automatic on it.
      ASSERT_TRUE(got.ticket.has_value());
      EXPECT_EQ(Messages(*got.ticket).back().kind, got.auto_class);
    }
  }
}

// An out-of-office answer to a closed ticket must neither reopen it nor (closed_reply = new) open a
// new one: automatic mail never opens a ticket under the default "record".
TEST_F(EngineAutoTest, AutoReplyToClosedTicketNeitherReopensNorOpens) {
  for (const std::string rcpt : {"support@example.com", "billing@example.com"}) {
    SCOPED_TRACE(rcpt);
    Open(BaseConfig("store-" + rcpt));
    Decision first = Ingest(PlainMail("Carol <carol@customer.test>", "Help", "<c1@customer.test>"),
                            "carol@customer.test", kT0, rcpt);
    ASSERT_EQ(first.ticket, std::optional<uint64_t>(1));
    ASSERT_TRUE(engine_->SetTicketStatus(1, TicketStatus::kClosed, kT0 + 1).ok());
    const std::string ooo =
        PlainMail("Carol <carol@customer.test>", "Out of office", "<ooo-c@customer.test>",
                  "Auto-Submitted: auto-replied\nIn-Reply-To: <c1@customer.test>\n");
    Decision got = Ingest(ooo, "carol@customer.test", kT0 + 60, rcpt);
    EXPECT_EQ(got.verdict, Outcome::kAccept);
    EXPECT_EQ(got.auto_class, "auto_reply");
    EXPECT_EQ(TicketCount(), 1u);
    Ticket t;
    ASSERT_TRUE(store_->GetTicket(1, &t).ok());
    EXPECT_EQ(t.status, TicketStatus::kClosed);
    EXPECT_EQ(CountEvents(Events(1), "reopened"), 0);
    // A person's reply still reopens (support) or opens a linked ticket (billing).
    Decision person = Ingest(PlainMail("Carol <carol@customer.test>", "Re: Help",
                                       "<c2@customer.test>", "In-Reply-To: <c1@customer.test>\n"),
                             "carol@customer.test", kT0 + 120, rcpt);
    EXPECT_EQ(person.ticket_action, rcpt == "support@example.com" ? "reopened" : "created");
  }
}

TEST_F(EngineAutoTest, FloodTempfailsUntilTheWindowPassesAndSurvivesReopen) {
  Config cfg = BaseConfig();
  cfg.flood_max = 5;
  cfg.flood_window = 600;
  Open(cfg);
  auto mail = [](const std::string& who, int i) {
    return PlainMail(who + " <" + who + "@customer.test>", "Mail " + std::to_string(i),
                     "<f" + std::to_string(i) + "." + who + "@customer.test>");
  };
  std::vector<std::string> got_verdicts, want_verdicts;
  for (int i = 1; i <= 8; ++i) {
    Decision d = Ingest(mail("dave", i), "dave@customer.test", kT0 + i);
    got_verdicts.push_back(OutcomeName(d.verdict));
    want_verdicts.push_back(i <= 5 ? "accept" : "tempfail");
    if (i > 5) {
      EXPECT_EQ(SmtpReplyFor(d).rcode, "451");
      EXPECT_EQ(SmtpReplyFor(d).xcode, "4.7.1");
      EXPECT_EQ(d.kind, "flood");
      EXPECT_EQ(d.auto_class, "flood");
      EXPECT_EQ(d.auto_rule, "flood:" + std::to_string(i) + "/5/600s");
      EXPECT_FALSE(d.ticket.has_value());
      EXPECT_TRUE(d.header_changes.empty());
    }
  }
  EXPECT_EQ(got_verdicts, want_verdicts);
  EXPECT_EQ(TicketCount(), 5u);
  // Another sender, and the same sender to another queue, have their own counters.
  EXPECT_EQ(Ingest(mail("erin", 1), "erin@customer.test", kT0 + 9).verdict, Outcome::kAccept);
  EXPECT_EQ(Ingest(mail("dave", 50), "dave@customer.test", kT0 + 9, "billing@example.com").verdict,
            Outcome::kAccept);
  // Dry runs do not count.
  Decision dry = Ingest(mail("frank", 1), "frank@customer.test", kT0 + 9, "support@example.com",
                        /*dry_run=*/true);
  EXPECT_EQ(dry.verdict, Outcome::kAccept);

  // A new store object on the same directory (a restart) still holds the counter.
  Open(cfg);
  Decision after_restart = Ingest(mail("dave", 9), "dave@customer.test", kT0 + 10);
  EXPECT_EQ(after_restart.verdict, Outcome::kTempfail);
  EXPECT_EQ(after_restart.auto_rule, "flood:9/5/600s");
  // Still inside the window, one second before its end.
  EXPECT_EQ(Ingest(mail("dave", 10), "dave@customer.test", kT0 + 1 + 599).verdict,
            Outcome::kTempfail);
  // The window (started by mail 1 at kT0 + 1) has passed: accepted again, a new count.
  Decision later = Ingest(mail("dave", 11), "dave@customer.test", kT0 + 1 + 600);
  EXPECT_EQ(later.verdict, Outcome::kAccept);
  EXPECT_EQ(later.kind, "new");
  EXPECT_EQ(later.auto_class, "");
}

TEST_F(EngineAutoTest, FloodCountsNullSenderByFromAndSkipsOwnAndLoop) {
  Config cfg = BaseConfig();
  cfg.flood_max = 2;
  Open(cfg);
  SeedTicket1();
  // Bounces from one daemon: null envelope sender, counted under the From address.
  std::vector<std::string> got;
  for (int i = 0; i < 3; ++i) {
    got.push_back(OutcomeName(Ingest(BounceMail("m1@customer.test"), "", kT0 + 10 + i).verdict));
  }
  EXPECT_EQ(got, (std::vector<std::string>{"accept", "accept", "tempfail"}));
  // Our own mail and loops are never flood-limited: they have their own answers.
  for (int i = 0; i < 4; ++i) {
    Decision own = Ingest(PlainMail("Support <support@example.com>", "note",
                                    "<own" + std::to_string(i) + "@example.com>"),
                          "support@example.com", kT0 + 20 + i);
    EXPECT_EQ(own.verdict, Outcome::kAccept) << i;
    EXPECT_EQ(own.kind, "own");
  }
}

}  // namespace
}  // namespace desk
