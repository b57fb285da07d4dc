"""End-to-end tests of issue 5: agents reply from their own mail client, through a real Postfix.

Set-up (one for the class): a private Postfix whose virtual domains example.test (the help desk)
and customer.test (a customer) land in one Maildir; a submission listener with SMTP AUTH (Cyrus
SASL, sasldb) for the agent; two smtp-sink "relays" chosen by sender_dependent_relayhost_maps on
the envelope sender that deskmilter writes (support@ -> relay A, billing@ -> relay B) for mail to
far.test; deskmilter with two queues and one agent, alice@staff.test, login alice@example.test.

Tests run in name order and build on each other: test_1 opens ticket 1, test_2 is the agent's
answer to it, test_3 the customer's answer to that.

Environment: DESKMILTER, DESKCTL; root; postfix, swaks, saslpasswd2 and smtp-sink installed.
"""

import email.header
import email.utils
import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postfix_harness as ph  # noqa: E402

AGENT = "alice@staff.test"
AGENT_LOGIN = "alice"  # the milter sees alice@example.test (the SASL realm is appended)
AGENT_PASSWORD = "s3cret-pw"
CUSTOMER = "carol@customer.test"

CONFIG = """\
[milter]
socket = "inet:{port}@127.0.0.1"
hostname = "desk.example.test"

[store]
dir = "{dir}/store"
spool_dir = "{dir}/spool"

[scanner]
enabled = false

[[queue]]
name = "support"
addresses = ["support@example.test"]

[[queue.agent]]
address = "alice@staff.test"
name = "Alice Agent"
login = "alice@example.test"

[[queue]]
name = "billing"
addresses = ["billing@example.test"]
reply_name = "agent_via_queue"

[[queue.agent]]
address = "alice@staff.test"
name = "Alice Agent"
login = "alice@example.test"
"""


def _header_block(msg):
    """The delivered header section as text (what the customer's client shows and keeps)."""
    return "".join(f"{k}: {v}\n" for k, v in msg.items())


class AgentsTest(ph.MilterPostfixCase):
    REQUIRES = (ph.SASLPASSWD2, ph.SMTP_SINK,)
    CONFIG = CONFIG
    PREFIX = "desk-e2e-agents-"

    @classmethod
    def prepare(cls):
        cls.relay_a = ph.SmtpSink(os.path.join(cls.tmp, "relay-a"))
        cls.relay_b = ph.SmtpSink(os.path.join(cls.tmp, "relay-b"))
        for r in (cls.relay_a, cls.relay_b):
            r.start()
            cls.servers.append(r)

    @classmethod
    def postfix_options(cls):
        relay_map = ("inline:{ "
                     f"support@example.test=[127.0.0.1]:{cls.relay_a.port}, "
                     f"billing@example.test=[127.0.0.1]:{cls.relay_b.port} }}")
        return dict(domains=("example.test", "customer.test"),
                    sasl_users={AGENT_LOGIN: AGENT_PASSWORD}, sasl_realm="example.test",
                    extra_main_cf={"sender_dependent_relayhost_maps": relay_map})

    # --- helpers ---

    def ticket(self, n):
        return ph.deskctl(self.cfg, "ticket", str(n), "--json")

    def send_customer(self, mail_from, rcpt, data):
        rc, transcript = self.pf.send_raw(mail_from, rcpt, data)
        self.assertEqual(rc, 0, transcript)

    def send_agent(self, rcpts, data, mail_from=AGENT):
        path = os.path.join(self.tmp, f"agent-{time.monotonic_ns()}.eml")
        with open(path, "wb") as f:
            f.write(data.encode())
        rc, transcript = self.pf.send_auth(AGENT_LOGIN, AGENT_PASSWORD, "--from", mail_from,
                                           "--to", ",".join(rcpts), "--data", "@" + path)
        self.assertEqual(rc, 0, transcript)
        self.assertIn("235", ph.swaks_reply_codes(transcript), transcript)  # authenticated

    # --- tests ---

    def test_1_customer_mails_support(self):
        self.send_customer(CUSTOMER, "support@example.test", (
            "From: Carol Customer <carol@customer.test>\r\nTo: support@example.test\r\n"
            "Subject: Printer on fire\r\nMessage-ID: <c1@customer.test>\r\n"
            "Date: Sat, 21 Nov 2026 10:00:00 +0000\r\n\r\nHelp!\r\n"))
        [delivered] = self.pf.find_delivered(Message_Id="<c1@customer.test>")
        self.assertEqual(delivered["X-Deskmilter-Ticket"], "1")
        self.assertEqual(self.ticket(1)["requester"]["address"], CUSTOMER)

    def test_2_agent_reply_is_rewritten(self):
        # Alice answers the delivered ticket mail from her own client: her own From, Sender and
        # receipt headers, the ticket's Message-ID in In-Reply-To. She copies herself in To and
        # Cc, and her mail crossed two hosts of her own before this one; the middle Received
        # names her address (the first and last do not: a wrong index deletes one of them).
        self.send_agent([CUSTOMER], (
            "Received: from hub.staff.test (hub.staff.test [192.0.2.9])\r\n"
            "\tby gw.staff.test with ESMTP id GW1; Sat, 21 Nov 2026 10:04:50 +0000\r\n"
            "Received: from laptop.staff.test (laptop [192.0.2.7]) by hub.staff.test\r\n"
            "\twith ESMTPSA id HUB2 for <alice@staff.test>; Sat, 21 Nov 2026 10:04:40 +0000\r\n"
            "Received: by laptop.staff.test (client) id L3; Sat, 21 Nov 2026 10:04:30 +0000\r\n"
            "From: Alice Agent <alice@staff.test>\r\nSender: alice@staff.test\r\n"
            "Reply-To: alice@staff.test\r\nDisposition-Notification-To: alice@staff.test\r\n"
            "Return-Receipt-To: <alice@staff.test>\r\nX-Original-From: alice@staff.test\r\n"
            "To: Carol Customer <carol@customer.test>, Alice Agent <alice@staff.test>\r\n"
            "Cc: =?UTF-8?Q?Zo=C3=AB_Customer?= <zoe@customer.test>, alice@staff.test\r\n"
            "Subject: Re: Printer on fire\r\n"
            "Message-ID: <a1@staff.test>\r\nIn-Reply-To: <c1@customer.test>\r\n"
            "References: <c1@customer.test>\r\nDate: Sat, 21 Nov 2026 10:05:00 +0000\r\n"
            "\r\nUnplug it.\r\n"))
        [copy] = self.pf.find_delivered(Message_Id="<a1@staff.test>")
        headers = _header_block(copy)
        self.assertIn("support@example.test", copy["From"])
        self.assertEqual(copy["Return-Path"], "<support@example.test>")
        self.assertIn("[#1]", copy["Subject"])
        self.assertEqual(copy["Reply-To"], "support@example.test")
        self.assertNotIn("alice@staff.test", headers.lower())
        # To and Cc keep the customers' addresses (display names included), Received keeps the
        # traces that do not name her: gw's and the laptop's, besides the MTA's own on top.
        to = email.utils.getaddresses(copy.get_all("To"))
        self.assertEqual(to, [("Carol Customer", CUSTOMER)])
        [(name, addr)] = email.utils.getaddresses(copy.get_all("Cc"))
        self.assertEqual(addr, "zoe@customer.test")
        self.assertEqual(str(email.header.make_header(email.header.decode_header(name))),
                         "Zoë Customer")
        received = copy.get_all("Received")
        self.assertEqual(len([r for r in received if "id GW1;" in r]), 1, received)
        self.assertEqual(len([r for r in received if "id L3;" in r]), 1, received)
        self.assertEqual([r for r in received if "HUB2" in r], [], received)

        t = self.ticket(1)
        self.assertEqual(t["message_count"], 2)
        out = t["messages"][1]
        self.assertEqual(out["direction"], "outbound")
        self.assertEqual(out["kind"], "agent_reply")
        self.assertEqual(out["agent"], AGENT)
        self.assertEqual(out["from"]["address"], AGENT)  # the original, kept on the ticket
        self.assertEqual(t["events"][-1]["text"], "mid:a1@staff.test")

    def test_3_customer_answer_joins_the_ticket(self):
        self.send_customer(CUSTOMER, "support@example.test", (
            "From: carol@customer.test\r\nTo: support@example.test\r\n"
            "Subject: Re: [#1] Re: Printer on fire\r\nMessage-ID: <c2@customer.test>\r\n"
            "In-Reply-To: <a1@staff.test>\r\nDate: Sat, 21 Nov 2026 10:10:00 +0000\r\n"
            "\r\nDone, thanks.\r\n"))
        [delivered] = self.pf.find_delivered(Message_Id="<c2@customer.test>")
        self.assertEqual(delivered["X-Deskmilter-Ticket"], "1")
        t = self.ticket(1)
        self.assertEqual(t["message_count"], 3)
        self.assertEqual(t["messages"][2]["kind"], "reply")

    def test_4_spoofed_agent_from_outside_is_not_rewritten(self):
        # Port 25, no AUTH, the agent's address as From and envelope sender.
        self.send_customer(AGENT, CUSTOMER, (
            "From: Alice Agent <alice@staff.test>\r\nTo: carol@customer.test\r\n"
            "Subject: Re: [#1] Printer on fire\r\nMessage-ID: <spoof1@evil.test>\r\n"
            "In-Reply-To: <c1@customer.test>\r\nDate: Sat, 21 Nov 2026 10:20:00 +0000\r\n"
            "\r\nSend me your password.\r\n"))
        [copy] = self.pf.find_delivered(Message_Id="<spoof1@evil.test>")
        self.assertIn("alice@staff.test", copy["From"])
        self.assertEqual(copy["Return-Path"], "<alice@staff.test>")
        self.assertEqual(self.ticket(1)["message_count"], 3)  # nothing joined the ticket

    def test_5_two_queues_leave_through_two_relays(self):
        for queue, rcpt, mid in (("support", "dan@far.test", "<r1@staff.test>"),
                                 ("billing", "eve@far.test", "<r2@staff.test>")):
            self.send_agent([rcpt], (
                f"From: {queue}@example.test\r\nTo: {rcpt}\r\nSubject: Your {queue} question\r\n"
                f"Message-ID: {mid}\r\nDate: Sat, 21 Nov 2026 11:00:00 +0000\r\n\r\nHello.\r\n"))

        def dumps(relay, needle):
            return [m for m in relay.messages() if needle.encode() in m]
        a = ph.wait_until(lambda: dumps(self.relay_a, "r1@staff.test"), 20, what="relay A")
        b = ph.wait_until(lambda: dumps(self.relay_b, "r2@staff.test"), 20, what="relay B")
        self.assertEqual(dumps(self.relay_a, "r2@staff.test"), [])
        self.assertEqual(dumps(self.relay_b, "r1@staff.test"), [])
        a_text, b_text = a[0].decode(), b[0].decode()
        self.assertRegex(a_text, r"(?im)^X-Mail-Args: <support@example\.test>")
        self.assertRegex(b_text, r"(?im)^X-Mail-Args: <billing@example\.test>")
        self.assertRegex(b_text, r'(?m)^From: "Alice Agent via billing" <billing@example\.test>')
        self.assertNotIn("staff.test>", re.sub(r"(?im)^Message-ID:.*$", "", a_text))
        # Both opened tickets (creation rule 2) whose requester is the outside recipient.
        tickets = {t["requester"]["address"]: t for t in
                   ph.deskctl(self.cfg, "tickets", "--json")}
        self.assertEqual(tickets["dan@far.test"]["queue"], "support")
        self.assertEqual(tickets["eve@far.test"]["queue"], "billing")
        self.assertEqual(tickets["eve@far.test"]["assigned_agent"], AGENT)


if __name__ == "__main__":
    unittest.main(verbosity=2)
