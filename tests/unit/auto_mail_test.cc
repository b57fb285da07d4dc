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

// Forwarded mail is classed by its From, not by the forwarder's envelope (which often names our
// own connected mailbox); our own mail forwarded back is still own (From, SRS original, stamp).
TEST(AutoMailTest, ForwardedMail) {
  const std::string customer =
      "From: Carol Customer <carol@customer.example>\n"
      "To: support@example.com\n"
      "Subject: Invoice question\n"
      "Message-ID: <c1@customer.example>\n"
      "Content-Type: text/plain\n"
      "\n"
      "Hello.\n";
  const std::string ours =
      "From: Support <support@example.com>\n"
      "To: carol@customer.example\n"
      "Subject: Re: [#42] Invoice question\n"
      "Message-ID: <ticket-42.2@help.example.com>\n"
      "\n"
      "Answer.\n";
  const Case cases[] = {
      {"gmail_caf_own_mailbox", "support+caf_=desk=help.example.com@example.com", customer,
       AutoKind::kNone, ""},
      {"gmail_caf_own_mailbox_brackets", "<Support+CAF_=desk=help.example.com@Example.COM>",
       customer, AutoKind::kNone, ""},
      {"gmail_caf_gmail_box", "helpdesk.acme+caf_=support=example.com@gmail.com",
       "X-Forwarded-To: support@example.com\n"
       "X-Forwarded-For: helpdesk.acme@gmail.com support@example.com\n" + customer,
       AutoKind::kNone, ""},
      {"gmail_caf_our_own_answer", "support+caf_=desk=help.example.com@example.com", ours,
       AutoKind::kOwn, "own:from"},
      {"plain_plus_tag_still_own", "support+billing@example.com", customer, AutoKind::kOwn,
       "own:envelope"},
      {"srs0_wildcard_domain", "SRS0=HHH=TT=customer.example=carol@help.example.com", customer,
       AutoKind::kNone, ""},
      {"srs0_plus_separator", "srs0+HHH=TT=customer.example=carol@help.example.com", customer,
       AutoKind::kNone, ""},
      {"srs1_wildcard_domain",
       "SRS1=HHH=fwd.example==HHH=TT=customer.example=carol@help.example.com", customer,
       AutoKind::kNone, ""},
      {"srs0_original_is_ours", "SRS0=HHH=TT=example.com=support@fwd.example", customer,
       AutoKind::kOwn, "own:envelope-srs"},
      {"srs0_original_blocked", "SRS0=HHH=TT=vendor.example=noisy@fwd.example", customer,
       AutoKind::kOwn, "blocked:envelope-srs"},
      {"m365_srs_own_tenant", "bounces+SRS=44ldt=IX=customer.example=carol@help.example.com",
       customer, AutoKind::kNone, ""},
      {"m365_inbox_rule_forward", "bounces+SRS=44ldt=IX=customer.example=carol@help.example.com",
       "X-MS-Exchange-Inbox-Rules-Loop: support@help.example.com\n"
       "X-MS-Exchange-Organization-AutoForwarded: true\n" + customer,
       AutoKind::kNone, ""},
      {"m365_inbox_rule_auto_answer", "dave@customer.example",
       "X-MS-Exchange-Inbox-Rules-Loop: dave@customer.example\n"
       "From: Dave <dave@customer.example>\nSubject: Thanks for your mail\n\nWe got it.\n",
       AutoKind::kAutoReply, "x-ms-exchange-inbox-rules-loop"},
      {"postfix_virtual_alias", "carol@customer.example",
       "X-Original-To: help@old.example.com\nDelivered-To: support@example.com\n" + customer,
       AutoKind::kNone, ""},
      {"forwarded_our_mail_with_stamp", "support+caf_=desk=help.example.com@example.com",
       "X-Deskmilter-Loop: desk-7f3a\n" + ours, AutoKind::kLoop, "loop-stamp"},
      {"forwarded_bounce_is_still_bounce", "SRS0=HHH=TT=customer.example=carol@fwd.example",
       "From: Mail Delivery System <MAILER-DAEMON@mx.customer.example>\n"
       "Subject: Undelivered Mail Returned to Sender\n\nbody\n",
       AutoKind::kBounce, "sender:mailer-daemon"},
  };
  for (const Case& c : cases) {
    AutoVerdict got = Classify(c.envelope, c.text);
    EXPECT_EQ(got.kind, c.want_kind) << c.name << " rule=" << got.rule;
    EXPECT_EQ(got.rule, c.want_rule) << c.name;
  }
}

// Automatic mail without the standard marks (no report part, no Auto-Submitted): plain-text
// failure notices of gateways and appliances, Exchange warnings, challenge-response, out-of-office
// answers of Lotus Notes and old Exchange. Each with the person's mail it must not catch beside it.
TEST(AutoMailTest, AutomaticWithoutStandardMarks) {
  const std::string notice_body =
      "\nYour message did not reach some or all of the intended recipients.\n\n"
      "      Subject: printer\n      Sent: 1/2/2010\n";
  const Case cases[] = {
      // Plain-text failure notices.
      {"gateway_notice_named_sender", "mailscanner@gw.customer.example",
       "From: MailScanner <mailscanner@gw.customer.example>\n"
       "Subject: Message Undeliverable: printer\n\nThe message could not be sent.\n",
       AutoKind::kBounce, "daemon-sender+subject"},
      {"antivirus_notice", "av@gw.customer.example",
       "From: Gateway <av@gw.customer.example>\nSubject: Virus found in sent message \"printer\"\n"
       "\nThe message you sent contained a virus and was not delivered.\n",
       AutoKind::kBounce, "subject+body"},
      {"exchange_notice_person_like_sender", "it-desk@customer.example",
       "From: IT <it-desk@customer.example>\nSubject: Undeliverable: printer\n" + notice_body,
       AutoKind::kBounce, "subject+body"},
      {"exchange_delay_warning", "",
       "From: Microsoft Outlook <postbox@customer.example>\n"
       "Subject: Delivery delayed:printer\n\n"
       "Delivery to the following recipients has been delayed.\n",
       AutoKind::kBounce, "null-sender+subject"},
      {"mail_delivery_warning_named_box", "ndr@customer.example",
       "From: ndr@customer.example\nSubject: Mail Delivery Warning\n\n"
       "This is a warning message only.\n",
       AutoKind::kBounce, "subject+body"},
      {"postfix_text_notice_multipart_mixed", "relay@customer.example",
       "From: Mail Delivery System <relay@customer.example>\n"
       "Content-Type: multipart/mixed; boundary=\"------=_NextPart_1\"\n\n"
       "--------=_NextPart_1\nContent-Type: text/plain\n\n"
       "This is the mail system at host mx.customer.example.\n--------=_NextPart_1--\n",
       AutoKind::kBounce, "daemon-name+body"},
      {"person_pastes_notice_under_forward", "alice@example.org",
       "From: Alice <alice@example.org>\nSubject: Fwd: Undeliverable: printer\n\n"
       "Why does this happen?\n\n---------- Forwarded message ---------\n"
       "Your message did not reach some or all of the intended recipients.\n",
       AutoKind::kNone, ""},
      {"person_quotes_notice", "alice@example.org",
       "From: Alice <alice@example.org>\nSubject: mail problem\n\nI got this:\n"
       "> Your message did not reach some or all of the intended recipients.\n",
       AutoKind::kNone, ""},
      {"person_notice_text_no_other_sign", "alice@example.org",
       "From: Alice <alice@example.org>\nSubject: mail problem\n\n"
       "I get 'your message could not be delivered' every time.\n",
       AutoKind::kNone, ""},
      // Challenge-response.
      {"tmda_challenge", "jane-confirm-1262380882.123.abcdef@customer.example",
       "From: jane-confirm-1262380882.123.abcdef@customer.example\n"
       "X-Delivery-Agent: TMDA/1.1.12 (Macallan)\nSubject: Re: printer\n\nPlease confirm.\n",
       AutoKind::kAutoReply, "challenge:tmda"},
      {"confirm_address_challenge", "jane-confirm+abc@customer.example",
       "From: jane-confirm+abc@customer.example\nSubject: Please confirm your message\n\nHi\n",
       AutoKind::kAutoReply, "challenge:confirm-address"},
      {"service_challenge", "verify@spamarrest.com",
       "From: Jane via Spam Arrest <verify@spamarrest.com>\n"
       "Subject: Re: printer [Please verify your message]\n\nClick to verify.\n",
       AutoKind::kAutoReply, "challenge:service"},
      {"person_asks_to_confirm", "alice@example.org",
       "From: Alice <alice@example.org>\nSubject: Please confirm my order\n\nThanks\n",
       AutoKind::kNone, ""},
      // Out of office without Auto-Submitted.
      {"lotus_auto", "jane@customer.example",
       "From: Jane Doe <jane@customer.example>\n"
       "Subject: AUTO: Jane Doe is out of the office (returning 02.01.2010)\n\n"
       "I will be out of the office starting 20.12.2009.\n",
       AutoKind::kAutoReply, "subject:lotus-auto"},
      {"lotus_auto_other_language", "jane@customer.example",
       "From: Jane Doe <jane@customer.example>\nX-MIMETrack: Serialize by Router on D1/ACME\n"
       "Subject: AUTO: Jane Doe ist abwesend\n\nIch bin nicht im B\xc3\xbcro.\n",
       AutoKind::kAutoReply, "subject:lotus-auto"},
      {"exchange2003_oof", "jane@customer.example",
       "From: Jane Doe <jane@customer.example>\nSubject: Out of Office AutoReply: printer\n\n"
       "I am out of the office until Monday.\n",
       AutoKind::kAutoReply, "subject+body"},
      {"person_auto_in_subject", "alice@example.org",
       "From: Alice <alice@example.org>\nSubject: Auto: insurance claim\n\nHello\n",
       AutoKind::kNone, ""},
      {"person_asks_about_autoreply", "alice@example.org",
       "From: Alice <alice@example.org>\nSubject: Autoreply: how do I set it up?\n\n"
       "I want my mails answered.\n",
       AutoKind::kNone, ""},
      {"person_writes_out_of_office", "alice@example.org",
       "From: Alice <alice@example.org>\nSubject: Out of office next week\n\n"
       "I am out of the office next week, please call Bob.\n",
       AutoKind::kNone, ""},
  };
  for (const Case& c : cases) {
    AutoVerdict got = Classify(c.envelope, c.text);
    EXPECT_EQ(got.kind, c.want_kind) << c.name << " rule=" << got.rule;
    EXPECT_EQ(got.rule, c.want_rule) << c.name;
  }
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
