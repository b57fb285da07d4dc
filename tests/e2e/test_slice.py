"""End-to-end tests of the first slice: mail through a real private Postfix, deskmilter, deskctl.

One Postfix and one deskmilter serve the whole class (start-up costs seconds); tests run in name
order (test_1_..., test_9_...) and build on each other's tickets: test_1 creates ticket 1, which
test_2 and test_3 refer to. Each test uses its own addresses, subjects and Message-IDs.

Environment: DESKMILTER, DESKCTL (built binaries); run as root (Postfix). Skipped when the
binaries or Postfix are missing.
"""

import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postfix_harness as ph  # noqa: E402

SUPPORT = "support@example.test"
OTHER = "other@example.test"
HOSTNAME = "desk.example.test"

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
color = "#3366cc"
addresses = ["support@example.test"]
subject_tag = "[#{n}]"
"""


def _header(msg, name):
    v = msg.get(name)
    return None if v is None else re.sub(r"\s+", " ", str(v)).strip()


class SliceTest(ph.MilterPostfixCase):
    CONFIG = CONFIG
    PREFIX = "desk-e2e-"

    def setUp(self):
        self._t = time.monotonic()

    def tearDown(self):
        print(f" [{time.monotonic() - self._t:.2f} s]", end=" ", file=sys.stderr, flush=True)

    # --- helpers ---

    def send(self, *args, want_rc=0):
        rc, transcript = self.pf.send(*args)
        self.assertEqual(rc, want_rc, transcript)
        return transcript

    def ticket(self, n):
        return ph.deskctl(self.cfg, "ticket", str(n), "--json")

    @staticmethod
    def events(t):
        return t["events"]

    @staticmethod
    def messages(t):
        return t["messages"]

    def message_count(self, t):
        self.assertEqual(t["message_count"], len(t["messages"]))
        return t["message_count"]

    def delivered_one(self, message_id):
        msgs = self.pf.find_delivered(Message_Id=f"<{message_id}>")
        self.assertEqual(len(msgs), 1, [m.maildir_path for m in msgs])
        return msgs[0]

    def diag(self):
        return (f"\n--- postfix log tail ---\n{self.pf.log_text()[-3000:]}"
                f"\n--- deskmilter stderr ---\n{self.milter.stderr_text()[-3000:]}")

    # --- tests ---

    def test_1_new_mail_creates_ticket_1(self):
        mid = "first.alice@customer.test"
        self.send("--from", "alice@customer.test", "--to", SUPPORT,
                  "--header", "From: Alice Customer <alice@customer.test>",
                  "--header", "Subject: Printer on fire",
                  "--header", f"Message-Id: <{mid}>",
                  "--body", "Hello,\nmy printer is on fire.\nAlice\n")
        msg = self.delivered_one(mid)
        self.assertEqual(_header(msg, "X-Deskmilter-Ticket"), "1", self.diag())
        subject = _header(msg, "Subject")
        self.assertIn("[#1]", subject)
        self.assertIn("Printer on fire", subject)

        qid = self.pf.queue_id_for(mid)
        t = self.ticket(1)
        events = self.events(t)
        created = [e for e in events if e["type"] == "created"]
        self.assertEqual(len(created), 1, events)
        text = created[0]["text"]
        for want in ("Sent by", "Received by", "Session ID", "Assigned agent: unassigned", "Queue",
                     "Subject"):
            self.assertIn(want, text)
        self.assertRegex(text, r"Session ID:?\s*" + re.escape(qid) + r"\b")
        self.assertIn("alice@customer.test", text)
        self.assertIn(SUPPORT, text)
        self.assertIn("Printer on fire", text)
        latest = [e for e in events if e["type"] == "latest_email"]
        self.assertTrue(latest, events)
        self.assertIn("mid:", latest[-1]["text"])
        self.assertEqual(self.message_count(t), 1)
        stored = self.messages(t)[0]
        self.assertEqual(stored["message_id"], mid)
        self.assertEqual(stored["queue_id"], qid)
        self.assertEqual(t["requester"]["address"], "alice@customer.test")
        self.assertEqual(t["received_at"], SUPPORT)
        self.assertEqual(t["assigned_agent"], "")

    def test_2_reply_joins_ticket_1(self):
        mid = "reply.alice@customer.test"
        self.send("--from", "alice@customer.test", "--to", SUPPORT,
                  "--header", "From: Alice Customer <alice@customer.test>",
                  "--header", "Subject: Re: Printer on fire",
                  "--header", f"Message-Id: <{mid}>",
                  "--header", "In-Reply-To: <first.alice@customer.test>",
                  "--body", "It is still burning.\n")
        msg = self.delivered_one(mid)
        self.assertEqual(_header(msg, "X-Deskmilter-Ticket"), "1", self.diag())
        t = self.ticket(1)
        self.assertEqual(self.message_count(t), 2)
        self.assertEqual([m["message_id"] for m in self.messages(t)],
                         ["first.alice@customer.test", mid])
        self.assertEqual(self.messages(t)[1]["queue_id"], self.pf.queue_id_for(mid))

    def test_3_stranger_with_tag_opens_new_ticket(self):
        mid = "tag.mallory@elsewhere.test"
        self.send("--from", "mallory@elsewhere.test", "--to", SUPPORT,
                  "--header", "From: Mallory <mallory@elsewhere.test>",
                  "--header", "Subject: [#1] let me in",
                  "--header", f"Message-Id: <{mid}>",
                  "--body", "I am not on ticket 1.\n")
        msg = self.delivered_one(mid)
        n = _header(msg, "X-Deskmilter-Ticket")
        self.assertIsNotNone(n, self.diag())
        self.assertNotEqual(n, "1")
        t = self.ticket(n)
        # A new ticket (2 when test_2 threaded correctly; not asserted, so one failure stays one).
        self.assertEqual([m["message_id"] for m in self.messages(t)], [mid])
        self.assertEqual(t["requester"]["address"], "mallory@elsewhere.test")
        ignored = [e for e in self.events(t) if e["type"] == "tag_ignored"]
        self.assertEqual(len(ignored), 1, self.events(t))
        self.assertEqual(ignored[0]["related_ticket"], 1)
        self.assertNotIn(mid, [m["message_id"] for m in self.messages(self.ticket(1))])

    def test_4_same_message_twice_is_stored_once(self):
        mid = "dup.bob@customer.test"
        args = ("--from", "bob@customer.test", "--to", SUPPORT,
                "--header", "From: Bob <bob@customer.test>",
                "--header", "Subject: Duplicate delivery",
                "--header", f"Message-Id: <{mid}>",
                "--body", "Sent twice by a retrying client.\n")
        self.send(*args)
        first = self.delivered_one(mid)
        n = _header(first, "X-Deskmilter-Ticket")
        self.assertIsNotNone(n, self.diag())
        self.assertEqual(self.message_count(self.ticket(n)), 1)
        self.send(*args)
        copies = self.pf.find_delivered(count=2, Message_Id=f"<{mid}>")
        self.assertEqual(len(copies), 2)
        self.assertEqual(self.message_count(self.ticket(n)), 1)

    def test_5_non_support_mail_passes_unchanged(self):
        mid = "plain.carol@customer.test"
        body = ("Not for the help desk.\n"
                "Line with trailing spaces   \n"
                ".leading dot\n"
                "\n"
                "Tabs\there and a [#1] tag in the body.\n")
        data = ("From: Carol <carol@customer.test>\n"
                f"To: {OTHER}\n"
                "Subject: Lunch [#1]?\n"
                f"Message-Id: <{mid}>\n"
                "\n" + body)
        # swaks ends the data with CRLF before the final dot even when the file already ends in a
        # newline: send it without its last newline so the wire carries exactly body.
        self.send_raw_ok("carol@customer.test", OTHER, data[:-1])
        msg = self.delivered_one(mid)
        self.assertIsNone(msg.get("X-Deskmilter-Ticket"))
        self.assertEqual(_header(msg, "Subject"), "Lunch [#1]?")
        with open(msg.maildir_path, "rb") as f:
            raw = f.read()
        delivered_body = raw.split(b"\n\n", 1)[1]
        self.assertEqual(delivered_body, body.encode())

    def send_raw_ok(self, mail_from, rcpt, data):
        rc, transcript = self.pf.send_raw(mail_from, rcpt, data)
        self.assertEqual(rc, 0, transcript)

    def test_6_predicted_message_id_does_not_pull_customer_into_outsiders_ticket(self):
        # Issue 18 item 1: mallory names carol's predicted next Message-ID and copies her (so she
        # is a participant of mallory's ticket); carol's real new mail, to support only, opens a
        # ticket of its own, which records why, and later mail naming its id follows it there.
        predicted = "next.carol@customer.test"
        bait = "bait.mallory@elsewhere.test"
        self.send("--from", "mallory@elsewhere.test", "--to", SUPPORT,
                  "--header", "From: Mallory <mallory@elsewhere.test>",
                  "--header", "Cc: Carol <carol@customer.test>",
                  "--header", "Subject: Hello",
                  "--header", f"Message-Id: <{bait}>",
                  "--header", f"References: <{predicted}>",
                  "--body", "Nothing to see.\n")
        n_bait = _header(self.delivered_one(bait), "X-Deskmilter-Ticket")
        self.assertIsNotNone(n_bait, self.diag())
        self.assertIn("carol@customer.test", self.ticket(n_bait)["participants"])

        self.send("--from", "carol@customer.test", "--to", SUPPORT,
                  "--header", "From: Carol <carol@customer.test>",
                  "--header", "Subject: My invoice",
                  "--header", f"Message-Id: <{predicted}>",
                  "--body", "Please correct my invoice.\n")
        n_real = _header(self.delivered_one(predicted), "X-Deskmilter-Ticket")
        self.assertIsNotNone(n_real, self.diag())
        self.assertNotEqual(n_real, n_bait)
        t = self.ticket(n_real)
        self.assertEqual([m["message_id"] for m in self.messages(t)], [predicted])
        self.assertNotIn("mallory@elsewhere.test", t["participants"])
        late = [e for e in self.events(t) if e["type"] == "late_parent_not_joined"]
        self.assertEqual(len(late), 1, self.events(t))
        self.assertEqual(str(late[0]["related_ticket"]), n_bait)
        self.assertEqual([m["message_id"] for m in self.messages(self.ticket(n_bait))], [bait])

        answer = "answer.dave@customer.test"
        self.send("--from", "dave@customer.test", "--to", SUPPORT,
                  "--header", "From: Dave <dave@customer.test>",
                  "--header", "Subject: Re: My invoice",
                  "--header", f"Message-Id: <{answer}>",
                  "--header", f"References: <{predicted}>",
                  "--body", "Carol's colleague here.\n")
        self.assertEqual(_header(self.delivered_one(answer), "X-Deskmilter-Ticket"), n_real,
                         self.diag())

    def test_7_missing_message_id_is_added(self):
        data = ("From: Dave <dave@customer.test>\n"
                f"To: {SUPPORT}\n"
                "Subject: No message id here\n"
                "\n"
                "My client forgot the Message-ID.\n")
        before = set(self.pf.maildir_paths())
        self.send_raw_ok("dave@customer.test", SUPPORT, data)
        ph.wait_until(lambda: set(self.pf.maildir_paths()) - before, 15,
                      what="delivery without Message-ID")
        msgs = [m for m in self.pf.maildir_messages() if m.maildir_path not in before]
        self.assertEqual(len(msgs), 1)
        msg = msgs[0]
        ids = msg.get_all("Message-Id") or []
        self.assertEqual(len(ids), 1, f"{ids}{self.diag()}")
        m = re.fullmatch(r"\s*<([^<>@\s]+@[^<>\s]+)>\s*", ids[0])
        self.assertIsNotNone(m, ids[0])
        generated = m.group(1)
        self.assertTrue(generated.endswith("@" + HOSTNAME), generated)
        n = _header(msg, "X-Deskmilter-Ticket")
        self.assertIsNotNone(n, self.diag())
        t = self.ticket(n)
        self.assertEqual([x["message_id"] for x in self.messages(t)], [generated])

    def test_9_milter_down_tempfails_then_recovers(self):
        mid = "down.erin@customer.test"
        args = ("--from", "erin@customer.test", "--to", SUPPORT,
                "--header", "Subject: While the milter is down",
                "--header", f"Message-Id: <{mid}>",
                "--body", "Please keep me.\n")
        self.milter.stop()
        try:
            before = len(self.pf.maildir_paths())
            rc, transcript = self.pf.send(*args)
            self.assertNotEqual(rc, 0, transcript)
            codes = ph.swaks_reply_codes(transcript)
            self.assertTrue(any(c.startswith("4") for c in codes), transcript)
            self.assertFalse(any(c.startswith("5") for c in codes), transcript)
            self.assertNotIn("354", codes, transcript)  # never got to send the message
            self.assertEqual(self.pf.queue_entries(), [])
            self.assertEqual(len(self.pf.maildir_paths()), before)
        finally:
            self.milter.start()  # same port and config
        # The client retries and the mail becomes a ticket: nothing was lost.
        self.send(*args)
        msg = self.delivered_one(mid)
        self.assertIsNotNone(_header(msg, "X-Deskmilter-Ticket"), self.diag())


if __name__ == "__main__":
    unittest.main(verbosity=2)
