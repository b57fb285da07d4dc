#!/usr/bin/env python3
"""End-to-end: every spelling of a support address, and an alias of it, is ticketed and filtered
(issue 12, item 2), through a private Postfix and the deskmilter daemon.

Postfix delivers `<support@example.test.>`, `<"support"@example.test>` and
`<"Sup\\port"@EXAMPLE.test>` into the support mailbox; deskmilter matched recipients as literal
strings, so these reached the mailbox with an .exe intact, no ticket and no log line. Now recipients
are canonicalised as the MTA routes them. A virtual alias (info@ -> support@) is expanded by Postfix
after the milter has seen the recipient: the documented recipe lists the alias in the queue's
addresses (docs/OPERATIONS.md, "Aliases"), and this test follows it.

For each recipient spelling: the SMTP transaction succeeds, the delivered copy carries a ticket
number, the .exe is stripped (the PNG arrives), and deskmilter's log names the queue.
Limits: needs root, Postfix and swaks (the suite fails otherwise); about 15 s.
"""

import email
import email.policy
import os
import sys
import unittest
from email.message import EmailMessage

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postfix_harness as ph  # noqa: E402

CONFIG = """\
[milter]
socket = "inet:{port}@127.0.0.1"
hostname = "desk.example.test"

[store]
dir = "{dir}/store"
spool_dir = "{dir}/spool"

[loops]
flood_max = 0

[scanner]
enabled = false

[[queue]]
name = "support"
# info@ is a Postfix virtual alias of support@: Postfix expands it after the milter saw the
# recipient, so the queue lists it (docs/OPERATIONS.md, "Aliases").
addresses = ["support@example.test", "info@example.test"]
"""

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"
       b"\x90\x77\x53\xde" + b"\x00" * 64)


def pe():
    """A minimal harmless PE32 header: libmagic calls it an executable."""
    s = bytearray(0x40)
    s[0:2] = b"MZ"
    s[0x3c] = 0x40
    s += b"PE\0\0" + b"\x4c\x01\x01\x00" + b"\0" * 12 + b"\xe0\x00\x02\x01" + b"\x0b\x01"
    s += b"\0" * (0xe0 - 2) + b"\0" * 512
    return bytes(s)


def mail(mid, subject):
    m = EmailMessage()
    m["From"] = "Carol <carol@customer.test>"
    m["To"] = "support@example.test"
    m["Subject"] = subject
    m["Message-Id"] = f"<{mid}>"
    m.set_content("see attached\n")
    m.add_attachment(PNG, maintype="image", subtype="png", filename="photo.png")
    m.add_attachment(pe(), maintype="application", subtype="octet-stream", filename="setup.exe")
    return m.as_bytes(policy=email.policy.SMTP)


class RecipientsTest(ph.MilterPostfixCase):
    CONFIG = CONFIG
    PREFIX = "desk-e2e-rcpt-"

    @classmethod
    def postfix_options(cls):
        return {"extra_main_cf": {
            "virtual_alias_maps": "inline:{ info@example.test=support@example.test }"}}

    def diag(self):
        return (f"\n--- postfix log tail ---\n{self.pf.log_text()[-3000:]}"
                f"\n--- deskmilter stderr ---\n{self.milter.stderr_text()[-3000:]}")

    def check_filtered(self, rcpt, n):
        mid = f"rcpt{n}.{os.getpid()}@customer.test"
        rc, transcript = self.pf.send_raw("carol@customer.test", rcpt, mail(mid, f"spelling {n}"))
        self.assertEqual(rc, 0, transcript + self.diag())
        msgs = self.pf.find_delivered(Message_Id=f"<{mid}>")
        self.assertEqual(len(msgs), 1)
        with open(msgs[0].maildir_path, "rb") as f:
            delivered = email.message_from_binary_file(f, policy=email.policy.default)
        self.assertIsNotNone(delivered["X-Deskmilter-Ticket"],
                             f"{rcpt}: delivered without a ticket" + self.diag())
        names = [p.get_filename() for p in delivered.iter_attachments()]
        self.assertNotIn("setup.exe", names, f"{rcpt}: the .exe was delivered")
        self.assertIn("photo.png", names)
        t = ph.deskctl(self.cfg, "ticket", str(delivered["X-Deskmilter-Ticket"]), "--json")
        self.assertEqual(t["queue"], "support")
        self.assertEqual(t["messages"][0]["message_id"], mid)
        qid = self.pf.queue_id_for(mid)
        ph.wait_until(lambda: [l for l in self.milter.stderr_text().splitlines()
                               if f" {qid}: from=" in l and "queue=support" in l] or None,
                      5, what=f"deskmilter's decision line for {qid}")

    def test_1_plain_address(self):
        self.check_filtered("support@example.test", 1)

    def test_2_trailing_dot(self):
        self.check_filtered("support@example.test.", 2)

    def test_3_quoted_local_part(self):
        self.check_filtered('"support"@example.test', 3)

    def test_4_quoted_escaped_and_upper_case(self):
        self.check_filtered('"Sup\\port"@EXAMPLE.test', 4)

    def test_5_virtual_alias_listed_in_the_queue(self):
        self.check_filtered("info@example.test", 5)


if __name__ == "__main__":
    unittest.main(verbosity=2)
