"""Recovering stripped attachments and retention, through a private Postfix and deskctl.

test_quarantine_keeps_stripped_original: a mail with an executable attachment is delivered
  stripped; the original, attachment included, is in the quarantine (the decision line names the
  entry); `deskctl quarantine list` shows what was stripped and why, `get` returns the original
  byte for byte as received, `purge --older-than 0` empties it.
test_purge_closed_before: `deskctl purge --closed-before DATE` deletes closed tickets older than
  DATE (their Message-IDs too: the same mail again opens a new ticket), keeps open ones, and
  removes the attachment files, originals and PDF transcripts no remaining ticket references (old
  enough not to be in flight).
"""

import base64
import email
import email.policy
import glob
import os
import sys
import time
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
addresses = ["support@example.test"]
"""

PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


def pe():
    """A minimal harmless PE32 header: libmagic calls it an executable."""
    s = bytearray(0x40)
    s[0:2] = b"MZ"
    s[0x3c] = 0x40
    s += b"PE\0\0" + b"\x4c\x01\x01\x00" + b"\0" * 12 + b"\xe0\x00\x02\x01" + b"\x0b\x01"
    s += b"\0" * (0xe0 - 2) + b"\0" * 512
    return bytes(s)


def mail(mid, attachments, subject="files"):
    m = EmailMessage()
    m["From"] = "Carol <carol@customer.test>"
    m["To"] = "support@example.test"
    m["Subject"] = subject
    m["Message-Id"] = f"<{mid}>"
    m.set_content("see attached\n")
    for name, data, maintype, subtype in attachments:
        m.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return m.as_bytes(policy=email.policy.SMTP)


class AdminStoreTest(ph.MilterPostfixCase):
    CONFIG = CONFIG
    PREFIX = "desk-e2e-admin-"

    def deskctl(self, *args, **kw):
        return ph.deskctl(self.cfg, *args, **kw)

    def send(self, data):
        rc, transcript = self.pf.send_raw("carol@customer.test", "support@example.test", data)
        self.assertEqual(rc, 0, transcript)

    def test_quarantine_keeps_stripped_original(self):
        payload = pe()
        data = mail("q1@customer.test", [("tool.exe", payload, "application", "octet-stream")])
        self.send(data)
        msgs = self.pf.find_delivered(Message_Id="<q1@customer.test>")
        self.assertEqual(len(msgs), 1)
        delivered = msgs[0].as_bytes()
        self.assertNotIn(base64.b64encode(payload[:48]), delivered)  # stripped from the copy

        entries = self.deskctl("quarantine", "list", "--json")
        self.assertEqual(len(entries), 1, entries)
        e = entries[0]
        self.assertEqual(e["msgid"], "q1@customer.test")
        self.assertEqual(e["queue"], "support")
        self.assertEqual(e["ticket"], msgs[0]["X-Deskmilter-Ticket"])
        self.assertEqual(len(e["stripped"]), 1)
        self.assertTrue(e["stripped"][0].startswith("tool.exe: "), e)
        line = [l for l in self.milter.stderr_text().splitlines() if "msgid=q1@customer.test" in l]
        self.assertEqual(len(line), 1, self.milter.stderr_text())
        self.assertIn(f"quarantine={e['id']}", line[0])

        rc, out, err = self.deskctl("quarantine", "list", json_output=False)
        self.assertEqual(rc, 0, err)
        self.assertIn(e["id"], out)
        self.assertIn("stripped tool.exe: ", out)

        path = os.path.join(self.tmp, "original.eml")
        rc, out, err = self.deskctl("quarantine", "get", e["id"], "-o", path, json_output=False)
        self.assertEqual(rc, 0, err)
        with open(path, "rb") as f:
            original = email.message_from_bytes(f.read(), policy=email.policy.default)
        parts = [p for p in original.iter_attachments() if p.get_filename() == "tool.exe"]
        self.assertEqual(len(parts), 1)
        self.assertEqual(parts[0].get_content(), payload)  # recovered byte for byte

        rc, out, err = self.deskctl("quarantine", "get", "123-nosuch", json_output=False)
        self.assertEqual(rc, 1)
        self.assertIn("no quarantine entry", err)
        rc, out, err = self.deskctl("quarantine", "get", "../../etc/passwd", json_output=False)
        self.assertEqual(rc, 1)

        rc, out, err = self.deskctl("quarantine", "purge", json_output=False)  # 30 days: keeps it
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(self.deskctl("quarantine", "list", "--json")), 1)
        rc, out, err = self.deskctl("quarantine", "purge", "--older-than", "0", json_output=False)
        self.assertEqual(rc, 0, err)
        self.assertIn("removed 1 quarantine entry", out)
        self.assertEqual(self.deskctl("quarantine", "list", "--json"), [])

    def test_purge_closed_before(self):
        pdf_a = PDF + b"% kept\n"
        pdf_b = PDF + b"% purged\n"
        self.send(mail("p1@customer.test", [("kept.pdf", pdf_a, "application", "pdf")], "keep"))
        self.send(mail("p2@customer.test", [("gone.pdf", pdf_b, "application", "pdf")], "purge"))
        tickets = {t["title"]: t["number"] for t in self.deskctl("tickets", "--json")}
        keep, gone = tickets["keep"], tickets["purge"]
        files = [f for f in glob.glob(os.path.join(self.milter.dir, "store", "attachments", "*", "*", "*"))
                 if os.path.isfile(f)]  # attachment files; originals/ab/cd/... are a level deeper
        self.assertEqual(len(files), 2, files)
        att_dir = os.path.join(self.milter.dir, "store", "attachments")
        originals = glob.glob(os.path.join(att_dir, "originals", "*", "*", "*"))
        self.assertEqual(len(originals), 2, originals)  # keep_original is on by default
        # A PDF transcript of each ticket, as a queue with transcript = "pdf" keeps them.
        os.makedirs(os.path.join(att_dir, "transcripts"), exist_ok=True)
        pdfs = {n: os.path.join(att_dir, "transcripts", f"{n}.pdf") for n in (keep, gone)}
        for p in pdfs.values():
            with open(p, "wb") as f:
                f.write(PDF)
        # Files younger than an hour may belong to mail in flight: age them.
        old = time.time() - 7200
        for f in files + originals + list(pdfs.values()):
            os.utime(f, (old, old))
        rc, out, err = self.deskctl("ticket", "close", str(gone), json_output=False)
        self.assertEqual(rc, 0, err)

        rc, out, err = self.deskctl("purge", "--closed-before", "2000-01-01", json_output=False)
        self.assertEqual(rc, 0, err)
        self.assertIn("deleted 0 closed ticket(s)", out)
        rc, out, err = self.deskctl("purge", "--closed-before", "2999-01-01", "--dry-run",
                                    json_output=False)
        self.assertEqual(rc, 0, err)
        self.assertIn("would delete 1 closed ticket(s)", out)
        self.assertIn("1 unreferenced attachment file(s)", out)
        self.assertEqual(len(self.deskctl("tickets", "--json")), len(tickets))

        rc, out, err = self.deskctl("purge", "--closed-before", "2999-01-01", json_output=False)
        self.assertEqual(rc, 0, err)
        self.assertIn("deleted 1 closed ticket(s)", out)
        self.assertIn("1 unreferenced attachment file(s), 1 original(s), 1 transcript(s)", out)
        self.assertEqual(len(glob.glob(os.path.join(att_dir, "originals", "*", "*", "*"))), 1)
        self.assertTrue(os.path.exists(pdfs[keep]))
        self.assertFalse(os.path.exists(pdfs[gone]))
        numbers = [t["number"] for t in self.deskctl("tickets", "--json")]
        self.assertIn(keep, numbers)
        self.assertNotIn(gone, numbers)
        rc, out, err = self.deskctl("ticket", str(gone), json_output=False)
        self.assertEqual(rc, 1)
        left = [f for f in glob.glob(os.path.join(self.milter.dir, "store", "attachments", "*", "*", "*"))
                 if os.path.isfile(f)]  # attachment files; originals/ab/cd/... are a level deeper
        self.assertEqual(len(left), 1, left)
        with open(left[0], "rb") as f:
            self.assertEqual(f.read(), pdf_a)
        # Its Message-ID went with it: the same mail again is a new ticket, not a duplicate.
        self.send(mail("p2@customer.test", [("gone.pdf", pdf_b, "application", "pdf")], "purge"))
        after = {t["title"]: t["number"] for t in self.deskctl("tickets", "--json")}
        self.assertGreater(after["purge"], gone)

        rc, out, err = self.deskctl("purge", "--closed-before", "yesterday", json_output=False)
        self.assertEqual(rc, 2)
        self.assertIn("not a date", err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
