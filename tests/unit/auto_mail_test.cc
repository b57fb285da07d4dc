// Unit tests for ClassifyAutoMail: one row per rule with a hand-written minimal message, near misses
// beside the rules they must not trip, and the order of precedence between classes.
#include "core/auto_mail.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace desk {
namespace {

// A message written as text ("Name: value" lines, a blank line, the body), turned into what the
// classifier sees: unfolded top-level headers, the few parsed fields it reads, and the raw body.
struct TestMail {
  ParsedMessage msg;
  std::string body;
};

std::string StripBrackets(std::string s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '<')) s.erase(0, 1);
  size_t gt = s.find('>');
  if (gt != std::string::npos) s.erase(gt);
  return s;
}

TestMail FromText(const std::string& text) {
  TestMail m;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    std::string line = text.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.empty()) break;
    if ((line[0] == ' ' || line[0] == '\t') && !m.msg.headers.empty()) {
      m.msg.headers.back().second += " " + line.substr(line.find_first_not_of(" \t"));
      continue;
    }
    size_t colon = line.find(':');
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    m.msg.headers.emplace_back(line.substr(0, colon), value);
  }
  m.body = pos < text.size() ? text.substr(pos) : "";
  for (const auto& [name, value] : m.msg.headers) {
    if (name == "From") {
      size_t lt = value.find('<');
      if (lt == std::string::npos) {
        m.msg.from.address = value;
      } else {
        m.msg.from.address = StripBrackets(value.substr(lt));
        std::string display = value.substr(0, lt);
        while (!display.empty() && display.back() == ' ') display.pop_back();
        if (display.size() >= 2 && display.front() == '"') display = display.substr(1, display.size() - 2);
        m.msg.from.name = display;
      }
    } else if (name == "Subject") {
      m.msg.subject = value;
    } else if (name == "Message-ID") {
      m.msg.message_id = StripBrackets(value);
    } else if (name == "In-Reply-To") {
      m.msg.in_reply_to = StripBrackets(value);
    }
  }
  return m;
}

AutoMailRules TestRules() {
  AutoMailRules r;
  r.own_addresses = {"support@example.com", "*@help.example.com"};
  r.blocked_senders = {"Noisy@Vendor.example"};
  r.installation_id = "desk-7f3a";
  r.max_received = 30;
  return r;
}

AutoVerdict Classify(const std::string& envelope, const std::string& text) {
  TestMail m = FromText(text);
  AutoMailInput in;
  in.envelope_from = envelope;
  in.msg = &m.msg;
  in.raw_body_prefix = m.body;
  return ClassifyAutoMail(in, TestRules());
}

// A person's mail to support; rows add headers in front of it or replace it.
const std::string kPerson =
    "From: Alice Example <alice@example.org>\n"
    "To: support@example.com\n"
    "Subject: My printer is on fire\n"
    "Message-ID: <p1@example.org>\n"
    "Content-Type: text/plain\n"
    "\n"
    "Please help.\n";

std::string Received(int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += "Received: from hop" + std::to_string(i) + " by mx\n";
  return out;
}

// A multipart body with the given children (each "Content-Type: ...\n\nbody").
std::string Multipart(const std::string& top_type, const std::vector<std::string>& children) {
  std::string out = "Content-Type: " + top_type + "; boundary=\"B0\"\n\npreamble\n";
  for (const std::string& c : children) out += "--B0\n" + c + "\n";
  return out + "--B0--\n";
}

const std::string kReturned =
    "Content-Type: message/rfc822\n\n"
    "From: Support <support@example.com>\n"
    "Message-ID: <ticket-42.1@desk.example.com>\n"
    "Subject: Re: [#42] printer\n\nanswer\n";

const std::string kDsnPart =
    "Content-Type: message/delivery-status\n\n"
    "Reporting-MTA: dns; mx.example.net\n\n"
    "Final-Recipient: rfc822; alice@example.org\nAction: failed\nStatus: 5.1.1\n";

struct Case {
  const char* name;
  std::string envelope;
  std::string text;
  AutoKind want_kind;
  const char* want_rule;
};

std::vector<Case> Cases() {
  const std::string bounce_head =
      "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\n"
      "To: support@example.com\nSubject: Undelivered Mail Returned to Sender\n"
      "Message-ID: <b1@mx.example.net>\n";
  return {
      // Ordinary mail and near misses that must stay ordinary.
      {"person", "alice@example.org", kPerson, AutoKind::kNone, ""},
      {"auto_submitted_no", "alice@example.org", "Auto-Submitted: no\n" + kPerson, AutoKind::kNone,
       ""},
      {"auto_submitted_no_upper", "alice@example.org", "Auto-Submitted: No (manual)\n" + kPerson,
       AutoKind::kNone, ""},
      {"postmaster_in_display_name", "pete@example.org",
       "From: Postmaster Pete <pete@example.org>\nTo: support@example.com\n"
       "Subject: Re: why was my mail undeliverable?\n\nIt bounced.\n",
       AutoKind::kNone, ""},
      {"person_subject_undeliverable", "carol@example.org",
       "From: Carol <carol@example.org>\nSubject: Undeliverable: my invoice mail to you\n\nhi\n",
       AutoKind::kNone, ""},
      {"display_name_only_without_subject", "mds@isp.example",
       "From: Mail Delivery System <mds@isp.example>\nSubject: Your order\n\nhi\n",
       AutoKind::kNone, ""},
      {"noreply_contact_form", "noreply@shop.example",
       "From: Shop <noreply@shop.example>\nReply-To: dave@example.org\n"
       "Subject: Contact form: refund\n\nI want my money back.\n",
       AutoKind::kNone, ""},
      {"x_auto_response_suppress_alone", "alice@example.org",
       "X-Auto-Response-Suppress: All\n" + kPerson, AutoKind::kNone, ""},
      {"auto_reply_subject_alone", "alice@example.org",
       "From: Alice <alice@example.org>\nSubject: Automatic reply: Out of Office question\n\n"
       "Does your office close?\n",
       AutoKind::kNone, ""},
      {"unsubscribe_in_body_only", "alice@example.org",
       "From: Alice <alice@example.org>\nSubject: stop\n\nPlease unsubscribe me from your list.\n",
       AutoKind::kNone, ""},
      {"precedence_first_class", "alice@example.org", "Precedence: first-class\n" + kPerson,
       AutoKind::kNone, ""},
      {"forwarded_bounce_as_attachment", "alice@example.org",
       "From: Alice <alice@example.org>\nSubject: Fwd: Undelivered Mail Returned to Sender\n" +
           Multipart("multipart/mixed",
                     {"Content-Type: text/plain\n\nWhy did this bounce?\n",
                      "Content-Type: message/rfc822\n\n" + bounce_head +
                          "Content-Type: multipart/report; report-type=delivery-status; "
                          "boundary=\"B1\"\n\n--B1\n" + kDsnPart + "--B1--\n"}),
       AutoKind::kNone, ""},
      {"own_lookalike_domain", "x@nothelp.example.com",
       "From: X <x@nothelp.example.com>\nSubject: hi\n\nhi\n", AutoKind::kNone, ""},
      {"other_installation_stamp", "alice@example.org",
       "X-Deskmilter-Loop: desk-other\n" + kPerson, AutoKind::kNone, ""},
      {"received_at_limit", "alice@example.org", Received(30) + kPerson, AutoKind::kNone, ""},

      // loop
      {"loop_stamp", "alice@example.org", "X-Deskmilter-Loop:  desk-7f3a \n" + kPerson,
       AutoKind::kLoop, "loop-stamp"},
      {"loop_stamp_header_case", "alice@example.org", "x-deskmilter-loop: desk-7f3a\n" + kPerson,
       AutoKind::kLoop, "loop-stamp"},
      {"received_over_limit", "alice@example.org", Received(31) + kPerson, AutoKind::kLoop,
       "received-count"},
      {"loop_beats_own", "support@example.com",
       "X-Deskmilter-Loop: desk-7f3a\nFrom: support@example.com\nSubject: x\n\nx\n",
       AutoKind::kLoop, "loop-stamp"},

      // own
      {"own_from", "alice@example.org",
       "From: Support <Support@Example.com>\nSubject: Re: [#1]\n\nx\n", AutoKind::kOwn, "own:from"},
      {"own_envelope_plus", "support+bounces@example.com", kPerson, AutoKind::kOwn,
       "own:envelope"},
      {"own_wildcard", "x@y.example", "From: <anyone@help.example.com>\nSubject: x\n\nx\n",
       AutoKind::kOwn, "own:from"},
      {"blocked_from", "bulk@vendor.example",
       "From: Vendor <noisy@vendor.example>\nSubject: news\n\nx\n", AutoKind::kOwn, "blocked:from"},
      {"blocked_envelope", "<noisy@vendor.example>", kPerson, AutoKind::kOwn, "blocked:envelope"},
      {"own_beats_bounce", "", "From: support@example.com\nAuto-Submitted: auto-replied\n"
                               "Subject: Undeliverable: x\n\nx\n",
       AutoKind::kOwn, "own:from"},

      // bounce
      {"null_sender_report", "",
       bounce_head + Multipart("multipart/report; report-type=delivery-status",
                               {"Content-Type: text/plain\n\nfailed\n", kDsnPart, kReturned}),
       AutoKind::kBounce, "report:delivery-status"},
      {"report_quoted_param", "<>",
       "From: x@mx.example.net\nSubject: x\nContent-Type: multipart/report;\n"
       "\treport-type=\"delivery-status\"; boundary=\"B0\"\n\n--B0\n" + kDsnPart + "--B0--\n",
       AutoKind::kBounce, "report:delivery-status"},
      {"arf", "abuse-reports@isp.example",
       "From: <feedback@isp.example>\nSubject: complaint\n" +
           Multipart("multipart/report; report-type=feedback-report",
                     {"Content-Type: text/plain\n\nabuse report\n",
                      "Content-Type: message/feedback-report\n\nFeedback-Type: abuse\n", kReturned}),
       AutoKind::kBounce, "report:feedback-report"},
      {"report_wrapped_in_mixed", "gw@relay.example",
       "From: <gw@relay.example>\nSubject: x\n" +
           Multipart("multipart/mixed",
                     {"Content-Type: multipart/report; report-type=delivery-status; "
                      "boundary=\"B1\"\n\n--B1\n" + kDsnPart + "--B1--\n"}),
       AutoKind::kBounce, "report:delivery-status"},
      {"delivery_status_part_in_mixed", "gw@relay.example",
       "From: <gw@relay.example>\nSubject: Delivery Status\n" +
           Multipart("Multipart/Mixed", {"Content-Type: text/plain\n\nno such user\n",
                                         "Content-Type: message/delivery-status; name=\"d.txt\"\n"
                                         "\nAction: failed\n"}),
       AutoKind::kBounce, "part:message/delivery-status"},
      {"x_failed_recipients", "", "X-Failed-Recipients: alice@example.org\n" + bounce_head,
       AutoKind::kBounce, "x-failed-recipients"},
      {"sender_mailer_daemon", "relay@mx.example.net",
       "From: MAILER-DAEMON@mx.example.net\nSubject: hello\n\nx\n", AutoKind::kBounce,
       "sender:mailer-daemon"},
      {"envelope_postmaster", "postmaster@mx.example.net",
       "From: Microsoft Outlook <no-one@mx.example.net>\nSubject: hi\n\nx\n", AutoKind::kBounce,
       "sender:postmaster"},
      {"sender_post_master", "x@vtext.example",
       "From: post_master@vtext.example\nSubject: Re:Test message\n\nError\n", AutoKind::kBounce,
       "sender:postmaster"},
      {"from_null", "", "From: MAILER-DAEMON <>\nSubject: Mail delivery failed\n\nerror\n",
       AutoKind::kBounce, "from:null"},
      {"null_sender_subject", "",
       "From: MMSC NDR Administrator <sysadmin@mmsc.example>\nSubject: Undeliverable Message\n\nx\n",
       AutoKind::kBounce, "null-sender+subject"},
      {"noreply_subject", "no-reply@isp.example",
       "From: no-reply@isp.example\nSubject: failure notice\n\nx\n", AutoKind::kBounce,
       "daemon-sender+subject"},
      {"display_name_subject", "mds@isp.example",
       "From: \"Mail Delivery System\" <mds@isp.example>\n"
       "Subject: Mail delivery failed: returning message to sender\n\nx\n",
       AutoKind::kBounce, "daemon-name+subject"},
      {"null_sender_returned_message", "",
       "From: no-reply@isp.example\nSubject: Mail\n" +
           Multipart("multipart/mixed", {"Content-Type: text/plain\n\nmailbox full\n", kReturned}),
       AutoKind::kBounce, "null-sender+returned-message"},
      {"jmrp", "staff@hotmail.example",
       "From: staff@hotmail.example\nSubject: complaint about message from 192.0.2.1\n" +
           Multipart("multipart/mixed",
                     {"Content-Type: message/rfc822\n\nX-HmXmrOriginalRecipient: a@b.example\n"
                      "Message-ID: <m1@example.com>\n\nhi\n"}),
       AutoKind::kBounce, "jmrp"},
      {"amazon_sns_bounce", "0101@us-west-2.amazonses.com",
       "From: SES <no-reply@sns.amazonaws.com>\nSubject: AWS Notification Message\n"
       "x-amz-sns-message-id: ad6b\n\n{\"notificationType\":\"Bounce\",\"bounce\":{}}\n",
       AutoKind::kBounce, "amazon-sns:bounce"},
      {"bounce_beats_auto_reply", "",
       "Auto-Submitted: auto-replied\n" + bounce_head +
           Multipart("multipart/report; report-type=delivery-status", {kDsnPart}),
       AutoKind::kBounce, "report:delivery-status"},

      // auto_reply
      {"auto_submitted_replied", "alice@example.org", "Auto-Submitted: auto-replied\n" + kPerson,
       AutoKind::kAutoReply, "auto-submitted:auto-replied"},
      {"auto_submitted_params", "alice@example.org",
       "Auto-Submitted: Auto-Replied; owner-email=\"alice@example.org\"\n" + kPerson,
       AutoKind::kAutoReply, "auto-submitted:auto-replied"},
      {"auto_submitted_generated", "alice@example.org",
       "Auto-Submitted: auto-generated\n" + kPerson, AutoKind::kAutoReply,
       "auto-submitted:auto-generated"},
      {"auto_submitted_odd_value", "alice@example.org", "Auto-Submitted: robot says hi!\n" + kPerson,
       AutoKind::kAutoReply, "auto-submitted:robot_says_hi_"},
      {"x_autoreply", "alice@example.org", "X-Autoreply: yes\n" + kPerson, AutoKind::kAutoReply,
       "x-autoreply"},
      {"x_autoreply_no", "alice@example.org", "X-Autoreply: no\n" + kPerson, AutoKind::kNone, ""},
      {"x_autorespond", "alice@example.org", "X-Autorespond: vacation\n" + kPerson,
       AutoKind::kAutoReply, "x-autorespond"},
      {"x_autoresponder", "alice@example.org", "X-AutoResponder: 1\n" + kPerson,
       AutoKind::kAutoReply, "x-autoresponder"},
      {"x_autoreply_from", "alice@example.org", "X-AutoReply-From: alice@example.org\n" + kPerson,
       AutoKind::kAutoReply, "x-autoreply-from"},
      {"x_mail_autoreply", "alice@example.org", "X-Mail-Autoreply: yes\n" + kPerson,
       AutoKind::kAutoReply, "x-mail-autoreply"},
      {"precedence_auto_reply", "alice@example.org", "Precedence: auto_reply\n" + kPerson,
       AutoKind::kAutoReply, "precedence:auto_reply"},
      {"exchange_rules_loop", "alice@example.org",
       "X-Auto-Response-Suppress: All\nX-MS-Exchange-Inbox-Rules-Loop: alice@example.org\n" +
           kPerson,
       AutoKind::kAutoReply, "x-ms-exchange-inbox-rules-loop"},
      {"x_autogenerated_reply", "alice@example.org", "X-Autogenerated: Reply\n" + kPerson,
       AutoKind::kAutoReply, "x-autogenerated:reply"},
      {"x_autogenerated_other", "alice@example.org", "X-Autogenerated: Mirror\n" + kPerson,
       AutoKind::kNone, ""},
      {"post_messageclass", "alice@example.org",
       "X-POST-MessageClass: 9; Autoresponder\n" + kPerson, AutoKind::kAutoReply,
       "x-post-messageclass:autoresponder"},
      {"delivered_to_autoresponder", "alice@example.org", "Delivered-To: Autoresponder\n" + kPerson,
       AutoKind::kAutoReply, "delivered-to:autoresponder"},
      {"apple_vacation", "alice@example.org", "X-Apple-Action: VACATION\n" + kPerson,
       AutoKind::kAutoReply, "x-apple-action:vacation"},
      {"mdn", "alice@example.org",
       "From: Alice <alice@example.org>\nSubject: Read: x\n" +
           Multipart("multipart/report; report-type=disposition-notification",
                     {"Content-Type: text/plain\n\ndisplayed\n",
                      "Content-Type: message/disposition-notification\n\n"
                      "Original-Message-ID: <ticket-42.1@desk.example.com>\n"
                      "Disposition: manual-action/MDN-sent-manually; displayed\n"}),
       AutoKind::kAutoReply, "report:disposition-notification"},
      {"auto_reply_beats_list", "alice@example.org",
       "List-Id: <users.lists.example.org>\nAuto-Submitted: auto-replied\n" + kPerson,
       AutoKind::kAutoReply, "auto-submitted:auto-replied"},

      // list
      {"list_id", "list-bounces@lists.example.org", "List-Id: Users <users.lists.example.org>\n" +
                                                        kPerson,
       AutoKind::kList, "list-id"},
      {"list_unsubscribe", "bounce-123@news.example",
       "List-Unsubscribe: <https://news.example/u/1>\n" + kPerson, AutoKind::kList,
       "list-unsubscribe"},
      {"list_post", "x@lists.example.org", "List-Post: <mailto:users@lists.example.org>\n" + kPerson,
       AutoKind::kList, "list-post"},
      {"precedence_bulk", "x@news.example", "Precedence: bulk\n" + kPerson, AutoKind::kList,
       "precedence:bulk"},
      {"precedence_list", "x@news.example", "Precedence: LIST\n" + kPerson, AutoKind::kList,
       "precedence:list"},
      {"precedence_junk", "x@news.example", "Precedence: junk\n" + kPerson, AutoKind::kList,
       "precedence:junk"},
      {"mailing_list_ezmlm", "x@lists.example.org",
       "Mailing-List: contact users-help@lists.example.org; run by ezmlm\n" + kPerson,
       AutoKind::kList, "mailing-list"},
      {"x_mailman_version", "x@lists.example.org", "X-Mailman-Version: 2.1.9\n" + kPerson,
       AutoKind::kList, "x-mailman-version"},
      {"list_beats_x_loop", "x@lists.example.org",
       "X-Loop: users@lists.example.org\nList-Id: <users.lists.example.org>\n" + kPerson,
       AutoKind::kList, "list-id"},

      // fallbacks
      {"x_loop_alone", "alice@example.org", "X-Loop: alice@example.org\n" + kPerson,
       AutoKind::kAutoReply, "x-loop"},
      {"null_sender_alone", "<>", kPerson, AutoKind::kAutoReply, "null-sender"},
  };
}

TEST(AutoMailTest, Rules) {
  for (const Case& c : Cases()) {
    AutoVerdict got = Classify(c.envelope, c.text);
    EXPECT_EQ(AutoKindName(got.kind), std::string(AutoKindName(c.want_kind))) << c.name;
    EXPECT_EQ(got.rule, c.want_rule) << c.name;
  }
}

TEST(AutoMailTest, RuleStringsAreSafeToLog) {
  for (const Case& c : Cases()) {
    for (char ch : Classify(c.envelope, c.text).rule) {
      EXPECT_TRUE((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                  std::string(":-_./+").find(ch) != std::string::npos)
          << c.name << ": '" << ch << "'";
    }
  }
}

TEST(AutoMailTest, ReportedMessageIds) {
  struct IdCase {
    const char* name;
    std::string envelope;
    std::string text;
    std::vector<std::string> want_ids;
  } cases[] = {
      {"returned_message", "",
       "From: MAILER-DAEMON@mx.example.net\nSubject: x\nMessage-ID: <b1@mx.example.net>\n" +
           Multipart("multipart/report; report-type=delivery-status", {kDsnPart, kReturned}),
       {"ticket-42.1@desk.example.com"}},
      {"rfc822_headers_folded_and_crlf", "",
       "From: MAILER-DAEMON@mx.example.net\nSubject: x\nMessage-ID: <b1@mx.example.net>\n"
       "In-Reply-To: <ticket-42.1@desk.example.com>\n"
       "Content-Type: multipart/report; report-type=delivery-status; boundary=B0\n\n"
       "--B0\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-Id:\r\n <ticket-43.2@desk.example.com>\r\n"
       "--B0\r\nContent-Type: text/plain\r\n\r\nMessage-ID: <b1@mx.example.net>\r\n--B0--\r\n",
       {"ticket-43.2@desk.example.com", "ticket-42.1@desk.example.com"}},
      {"mdn_original_message_id", "alice@example.org",
       "From: alice@example.org\nSubject: Read\n"
       "Content-Type: multipart/report; report-type=disposition-notification; boundary=B0\n\n"
       "--B0\nContent-Type: message/disposition-notification\n\n"
       "Original-Message-ID: <ticket-44.1@desk.example.com>\n--B0--\n",
       {"ticket-44.1@desk.example.com"}},
      {"no_ids_for_list_mail", "x@lists.example.org",
       "List-Id: <l.example.org>\nFrom: x@lists.example.org\nSubject: x\n\n"
       "Message-ID: <quoted@example.org>\n",
       {}},
  };
  for (const IdCase& c : cases) {
    EXPECT_EQ(Classify(c.envelope, c.text).reported_message_ids, c.want_ids) << c.name;
  }
}

TEST(AutoMailTest, DisabledChecks) {
  TestMail m = FromText("X-Deskmilter-Loop: \n" + Received(100) + kPerson);
  AutoMailInput in;
  in.envelope_from = "alice@example.org";
  in.msg = &m.msg;
  in.raw_body_prefix = m.body;
  AutoMailRules rules = TestRules();
  rules.installation_id.clear();  // an empty stamp value must not match an empty id
  rules.max_received = 0;
  EXPECT_EQ(ClassifyAutoMail(in, rules).kind, AutoKind::kNone);
}

TEST(AutoMailTest, KindNames) {
  EXPECT_STREQ(AutoKindName(AutoKind::kNone), "none");
  EXPECT_STREQ(AutoKindName(AutoKind::kBounce), "bounce");
  EXPECT_STREQ(AutoKindName(AutoKind::kAutoReply), "auto_reply");
  EXPECT_STREQ(AutoKindName(AutoKind::kList), "list");
  EXPECT_STREQ(AutoKindName(AutoKind::kOwn), "own");
  EXPECT_STREQ(AutoKindName(AutoKind::kLoop), "loop");
}

}  // namespace
}  // namespace desk
