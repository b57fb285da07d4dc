"""End-to-end test through a real Sendmail (issue 10 item 7): deskmilter behind Sendmail 8.17.

Sendmail is Debian's, unpacked with dpkg -x into the temp dir (sendmail_harness.py: it cannot be
installed beside Postfix), configured from a generated sendmail.mc with the INPUT_MAIL_FILTER line
docs/SENDMAIL.md gives (unix socket, F=T, T=C:30s;S:30s;R:60s;E:5m), and relays everything to an
smtp-sink. deskmilter listens on a unix socket in a 0755 directory under /run (Sendmail refuses a
socket path with a world-writable directory, as /tmp is).

test_1_support_mail_makes_ticket: mail to the support address gets Sendmail's 250 with its queue id;
  the relayed copy carries X-Deskmilter-Ticket: 1 and the subject tag; the ticket's message records
  that queue id, and deskmilter's decision line starts with it.
test_2_reply_joins_ticket: a reply (In-Reply-To) joins ticket 1: threading and the subject edit work
  with Sendmail's milter macros and header editing.
test_3_other_mail_untouched: mail to a non-support address is relayed without ticket headers and
  makes no ticket.
test_4_milter_down_tempfails: with deskmilter stopped, F=T makes Sendmail answer 4xx (the client
  retries; nothing is relayed, no ticket); after the restart the same mail makes ticket 2.

Environment: DESKMILTER, DESKCTL; root; m4, libwrap0, and apt access unless
/var/cache/deskmilter-test/debs already holds the .debs (scripts/install-deps.sh fetches them).
"""

import email
import os
import re
import shutil
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postfix_harness as ph  # noqa: E402
import sendmail_harness as sh  # noqa: E402

SUPPORT = "support@example.test"

CONFIG = """\
[milter]
socket = "unix:{socket}"
hostname = "desk.example.test"

[store]
dir = "{dir}/store"
spool_dir = "{dir}/spool"

[scanner]
enabled = false

[[queue]]
name = "support"
addresses = ["support@example.test"]
subject_tag = "[#{n}]"
"""


def _header(msg, name):
    v = msg.get(name)
    return None if v is None else re.sub(r"\s+", " ", str(v)).strip()


class SendmailTest(ph.MilterPostfixCase):
    """The harness's set-up with Sendmail in place of Postfix: a sink (prepare), deskmilter on a
    unix socket (make_milter), Sendmail relaying to the sink (start_mtas, cls.sm)."""

    CONFIG = CONFIG
    PREFIX = "desk-e2e-sendmail-"

    @classmethod
    def missing(cls):
        return sh.missing_prerequisites()

    @classmethod
    def prepare(cls):
        os.chmod(cls.tmp, 0o755)  # smtp-sink (user postfix) writes below it
        cls.sock_dir = sh.safe_socket_dir("desk-e2e-sendmail-")
        cls.add_cleanup(lambda: shutil.rmtree(cls.sock_dir, ignore_errors=True))
        cls.sink = ph.SmtpSink(cls.tmp)
        cls.servers.append(cls.sink)
        cls.sink.start()

    @classmethod
    def make_milter(cls):
        return sh.UnixMilter(cls.tmp, CONFIG, os.path.join(cls.sock_dir, "deskmilter.sock"))

    @classmethod
    def start_mtas(cls):
        cls.sm = sh.SendmailInstance(cls.tmp, cls.milter.sendmail_spec, cls.sink.port)
        cls.servers.append(cls.sm)
        cls.sm.start()

    # --- helpers ---

    def diag(self):
        return (f"\n--- sendmail start ---\n{self.sm.start_output}"
                f"\n--- sendmail queue ---\n{self.sm.queue_files()}"
                f"\n--- deskmilter stderr ---\n{self.milter.stderr_text()[-3000:]}")

    def send(self, *args):
        """Sends through Sendmail; asserts success and returns Sendmail's queue id."""
        rc, transcript = self.sm.send(*args)
        self.assertEqual(rc, 0, transcript + self.diag())
        qid = sh.accepted_queue_id(transcript)
        self.assertIsNotNone(qid, transcript)
        return qid

    def relayed(self, message_id, timeout=20.0):
        """The one message with this Message-ID that Sendmail relayed to the sink."""
        def find():
            found = []
            for raw in self.sink.messages():
                # smtp-sink -d writes its envelope records first, then the message after a blank
                # line; the message's own headers start at the first "Received:" Sendmail adds.
                i = raw.find(b"Received:")
                msg = email.message_from_bytes(raw[i if i >= 0 else 0:])
                if _header(msg, "Message-Id") == f"<{message_id}>":
                    found.append(msg)
            return found
        found = ph.wait_until(find, timeout, what=f"<{message_id}> at the sink" + self.diag())
        self.assertEqual(len(found), 1, found)
        return found[0]

    def tickets(self):
        return ph.deskctl(self.cfg, "tickets", "--json")

    def decision_lines(self, qid):
        return [l for l in self.milter.stderr_text().splitlines()
                if re.search(r"deskmilter\[\d+\]: " + re.escape(qid) + r": ", l)]

    # --- tests ---

    def test_1_support_mail_makes_ticket(self):
        mid = "sm1.alice@customer.test"
        qid = self.send("--from", "alice@customer.test", "--to", SUPPORT,
                        "--header", "From: Alice <alice@customer.test>",
                        "--header", "Subject: Sendmail printer",
                        "--header", f"Message-Id: <{mid}>",
                        "--body", "Hello from behind Sendmail.\n")
        msg = self.relayed(mid)
        self.assertEqual(_header(msg, "X-Deskmilter-Ticket"), "1", self.diag())
        self.assertIn("[#1]", _header(msg, "Subject"))
        self.assertIn("Sendmail printer", _header(msg, "Subject"))

        t = ph.deskctl(self.cfg, "ticket", "1", "--json")
        self.assertEqual(t["message_count"], 1)
        self.assertEqual(t["messages"][0]["message_id"], mid)
        self.assertEqual(t["messages"][0]["queue_id"], qid)
        self.assertEqual(t["requester"]["address"], "alice@customer.test")

        lines = self.decision_lines(qid)
        self.assertEqual(len(lines), 1, self.diag())
        self.assertIn("kind=new", lines[0])
        self.assertIn("ticket=1,", lines[0])
        self.assertIn(f"msgid={mid}", lines[0])

    def test_2_reply_joins_ticket(self):
        mid = "sm2.alice@customer.test"
        qid = self.send("--from", "alice@customer.test", "--to", SUPPORT,
                        "--header", "From: Alice <alice@customer.test>",
                        "--header", "Subject: Re: Sendmail printer",
                        "--header", f"Message-Id: <{mid}>",
                        "--header", "In-Reply-To: <sm1.alice@customer.test>",
                        "--body", "Still broken.\n")
        msg = self.relayed(mid)
        self.assertEqual(_header(msg, "X-Deskmilter-Ticket"), "1", self.diag())
        self.assertIn("[#1]", _header(msg, "Subject"))
        t = ph.deskctl(self.cfg, "ticket", "1", "--json")
        self.assertEqual([m["message_id"] for m in t["messages"]],
                         ["sm1.alice@customer.test", mid])
        self.assertEqual(t["messages"][1]["queue_id"], qid)
        self.assertEqual(len(self.decision_lines(qid)), 1, self.diag())

    def test_3_other_mail_untouched(self):
        mid = "sm3.bob@customer.test"
        before = len(self.tickets())
        self.send("--from", "bob@customer.test", "--to", "sales@example.test",
                  "--header", "Subject: not for support",
                  "--header", f"Message-Id: <{mid}>", "--body", "Hi sales.\n")
        msg = self.relayed(mid)
        self.assertIsNone(_header(msg, "X-Deskmilter-Ticket"))
        self.assertEqual(_header(msg, "Subject"), "not for support")
        self.assertEqual(len(self.tickets()), before)

    def test_4_milter_down_tempfails(self):
        mid = "sm4.carol@customer.test"
        args = ("--from", "carol@customer.test", "--to", SUPPORT,
                "--header", "From: Carol <carol@customer.test>",
                "--header", "Subject: while the desk was down",
                "--header", f"Message-Id: <{mid}>", "--body", "Anyone there?\n")
        before = len(self.tickets())
        self.milter.stop()
        try:
            rc, transcript = self.sm.send(*args)
            codes = ph.swaks_reply_codes(transcript)
            self.assertNotEqual(rc, 0, transcript)
            self.assertIn("451", codes, transcript)
            self.assertIsNone(sh.accepted_queue_id(transcript), transcript)
        finally:
            self.milter.start()
        qid = self.send(*args)
        msg = self.relayed(mid)
        self.assertEqual(_header(msg, "X-Deskmilter-Ticket"), str(before + 1), self.diag())
        self.assertEqual(len(self.tickets()), before + 1)
        t = ph.deskctl(self.cfg, "ticket", str(before + 1), "--json")
        self.assertEqual(t["messages"][0]["queue_id"], qid)


if __name__ == "__main__":
    unittest.main(verbosity=2)
