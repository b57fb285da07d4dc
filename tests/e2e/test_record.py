"""End-to-end tests of the ticket record: PDF transcript, originals, attachments, brand, SLA, views,
forgetting; mail through the private Postfix and deskmilter, read back with deskctl and poppler.

One ticket is built in three languages and scripts (Russian 8bit, Japanese base64, Greek
quoted-printable) plus an Arabic follow-up; tests run in name order and build on that ticket.

Environment: DESKMILTER, DESKCTL (built binaries); root (Postfix); pdftotext (poppler-utils,
scripts/install-deps.sh). A missing tool fails the suite, it does not skip.
"""

import base64
import datetime
import os
import quopri
import shutil
import subprocess
import sys
import time
import unittest
import zoneinfo

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postfix_harness as ph  # noqa: E402

SUPPORT = "support@example.test"
GLOBEX = "globex@example.test"
CUSTOMER = "ivan@customer.test"
PARIS = "paris@example.test"
PARIS_TZ = zoneinfo.ZoneInfo("Europe/Paris")
# The next two local dates are holidays, so the business-hours SLA test always crosses one.
_today = datetime.datetime.fromtimestamp(time.time(), PARIS_TZ).date()
PARIS_HOLIDAYS = [(_today + datetime.timedelta(days=d)).isoformat() for d in (1, 2)]

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
addresses = ["support@example.test", "globex@example.test"]
subject_tag = "[#{n}]"
transcript = "pdf"
brand = "Acme"
brand_display_name = "Acme Support"
address_brands = ["globex@example.test=Globex"]
sla_first_response = 86400
sla_next_response = 86400

[[queue]]
name = "paris"
addresses = ["%s"]
business_hours = ["mon-fri 09:00-17:00"]
time_zone = "Europe/Paris"
holidays = ["%s", "%s"]
sla_first_response = 36000
""" % (PARIS, *PARIS_HOLIDAYS)


def paris_due(start, seconds):
    """The SLA due time by a second reading of the rule (Python's zoneinfo, not GLib): open
    Monday..Friday 09:00-17:00 Paris time, not on PARIS_HOLIDAYS."""
    day = datetime.datetime.fromtimestamp(start, PARIS_TZ).date()
    left = seconds
    while True:
        if day.weekday() < 5 and day.isoformat() not in PARIS_HOLIDAYS:
            at = lambda h: datetime.datetime(day.year, day.month, day.day, h,  # noqa: E731
                                             tzinfo=PARIS_TZ).timestamp()
            a, b = max(at(9), start), at(17)
            if a < b:
                if b - a >= left:
                    return int(a + left)
                left -= b - a
        day += datetime.timedelta(days=1)

BODIES = {
    "ru": "Здравствуйте! Принтер в бухгалтерии не печатает с понедельника, индикатор мигает.",
    "ja": "プリンターが動きません。至急対応をお願いします。経理部より。",
    "el": "Γεια σας, ο εκτυπωτής στο λογιστήριο δεν τυπώνει από τη Δευτέρα.",
    # No lam-alef ligature and no comma: poppler's pdftotext writes the ligature's two letters
    # swapped and moves a word across a comma in right-to-left text (extraction quirks; Pango
    # renders them right). tests/unit/transcript_pdf_test.cc covers shaping itself.
    "ar": "مرحبا الطابعة في قسم المحاسبة معطلة منذ أمس",
}

PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def message(n, subject, body, cte, in_reply_to=None, attachment=None):
    """A complete message with CRLF line ends, headers written "Name: value"."""
    if cte == "8bit":
        encoded = body.encode()
    elif cte == "base64":
        encoded = base64.encodebytes(body.encode())
    else:
        encoded = quopri.encodestring(body.encode())
    encoded = encoded.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if not encoded.endswith(b"\r\n"):
        encoded += b"\r\n"
    subj = "=?UTF-8?B?" + base64.b64encode(subject.encode()).decode() + "?="
    head = [
        f"From: Ivan <{CUSTOMER}>",
        f"To: {SUPPORT}",
        f"Subject: {subj}",
        "Date: Thu, 03 Dec 2026 08:00:0%d +0000" % n,
        f"Message-ID: <record-{n}@customer.test>",
        "MIME-Version: 1.0",
    ]
    if in_reply_to:
        head += [f"In-Reply-To: <{in_reply_to}>", f"References: <{in_reply_to}>"]
    if attachment is None:
        head += ["Content-Type: text/plain; charset=utf-8", f"Content-Transfer-Encoding: {cte}"]
        return ("\r\n".join(head) + "\r\n\r\n").encode() + encoded
    head.append('Content-Type: multipart/mixed; boundary="b1"')
    att = base64.encodebytes(attachment).replace(b"\n", b"\r\n")
    return ("\r\n".join(head) + "\r\n\r\n--b1\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            f"Content-Transfer-Encoding: {cte}\r\n\r\n").encode() + encoded + (
        b"--b1\r\nContent-Type: application/pdf; name=\"invoice.pdf\"\r\n"
        b"Content-Disposition: attachment; filename=\"invoice.pdf\"\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + att + b"--b1--\r\n")


def squeeze(s):
    """Text without whitespace and bidi embedding marks: pdftotext breaks lines where the layout
    wrapped, may split a shaped Arabic word where its glyphs join, and wraps right-to-left runs
    in U+202B ... U+202C."""
    return "".join(c for c in s if not c.isspace() and c not in "\u200e\u200f\u202a\u202b"
                   "\u202c\u202d\u202e")


class RecordTest(ph.MilterPostfixCase):
    CONFIG = CONFIG
    PREFIX = "desk-e2e-record-"
    sent = {}

    @classmethod
    def setUpClass(cls):
        why = ph.missing_prerequisites()
        if why:
            raise AssertionError(f"end-to-end prerequisites: {why}")
        for tool in ("pdftotext", "pdfinfo"):
            if shutil.which(tool) is None:
                raise AssertionError(f"{tool} missing: run scripts/install-deps.sh (poppler-utils)")
        super().setUpClass()
        cls.store = os.path.join(cls.milter.dir, "store")

    def ctl(self, *args, **kw):
        return ph.deskctl(self.cfg, *args, **kw)

    def ctl_bytes(self, *args):
        binary = os.environ.get("DESKCTL") or "build/deskctl"
        p = subprocess.run([binary, "-c", self.cfg, *args], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")

    def send(self, data, rcpt=SUPPORT):
        # swaks ends DATA with CRLF "." CRLF after the file's bytes: without the file's own last
        # CRLF, what the server receives is exactly data.
        assert data.endswith(b"\r\n")
        rc, transcript = self.pf.send_raw(CUSTOMER, [rcpt], data[:-2])
        self.assertEqual(rc, 0, transcript)

    def pdf_text(self, path):
        p = subprocess.run(["pdftotext", "-enc", "UTF-8", path, "-"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout.decode()

    def assert_original(self, seq, sent):
        rc, got, err = self.ctl_bytes("message", "get", "1", str(seq))
        self.assertEqual(rc, 0, err)
        # The milter sees what the MTA received, after the MTA's own Received: header (when it
        # shows the filter one): what follows must be the sent bytes exactly.
        self.assertTrue(got.endswith(sent), f"original {seq} differs:\n{got[:600]!r}")
        prefix = got[: len(got) - len(sent)]
        for line in prefix.split(b"\r\n"):
            self.assertTrue(line == b"" or line.startswith(b"Received:") or line[:1] in b" \t",
                            f"unexpected header before the original: {line!r}")

    # --- tests, in order ---

    def test_1_three_languages_make_one_ticket(self):
        RecordTest.sent[1] = message(1, "Принтер не печатает", BODIES["ru"], "8bit",
                                     attachment=PDF_BYTES)
        RecordTest.sent[2] = message(2, "プリンター", BODIES["ja"], "base64",
                                     in_reply_to="record-1@customer.test")
        RecordTest.sent[3] = message(3, "Εκτυπωτής", BODIES["el"], "quoted-printable",
                                     in_reply_to="record-2@customer.test")
        for n in (1, 2, 3):
            self.send(RecordTest.sent[n])
        self.pf.wait_delivered(3)
        t = self.ctl("ticket", "1", "--json")
        self.assertEqual(len(t["messages"]), 3, t)
        self.assertEqual(t["brand"], "Acme")
        for m, lang in zip(t["messages"], ("ru", "ja", "el")):
            self.assertEqual(m["body"].strip(), BODIES[lang])
            self.assertRegex(m["original_sha256"], r"^[0-9a-f]{64}$")
        self.assertEqual(t["sla"]["state"], "running")  # no agent has answered
        self.assertEqual(t["sla"]["clocks"][0]["kind"], "first_response")
        self.assertEqual(t["sla"]["due_at"], t["messages"][0]["received_at"] + 86400)

    def test_2_originals_are_byte_identical(self):
        for n in (1, 2, 3):
            self.assert_original(n, RecordTest.sent[n])
        with open(os.path.join(self.tmp, "orig.eml"), "wb"):
            pass
        out = os.path.join(self.tmp, "orig.eml")
        rc, _, err = self.ctl_bytes("message", "get", "1", "2", "-o", out)
        self.assertEqual(rc, 0, err)
        with open(out, "rb") as f:
            self.assertTrue(f.read().endswith(RecordTest.sent[2]))
        rc, _, err = self.ctl_bytes("message", "get", "1", "9")
        self.assertEqual(rc, 1)
        self.assertIn("no such message", err)

    def test_3_attachment_get(self):
        t = self.ctl("ticket", "1", "--json")
        atts = t["messages"][0]["attachments"]
        self.assertEqual(len(atts), 1, atts)
        self.assertEqual(atts[0]["verdict"], "allowed")
        rc, got, err = self.ctl_bytes("attachment", "get", atts[0]["sha256"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(got, PDF_BYTES)
        rc, got, err = self.ctl_bytes("attachment", "get", atts[0]["sha256"].upper())
        self.assertEqual((rc, got), (0, PDF_BYTES), err)
        for bad in ("../../etc/passwd", "abc", "g" * 64, atts[0]["sha256"] + "0"):
            rc, got, err = self.ctl_bytes("attachment", "get", bad)
            self.assertEqual(rc, 1, bad)
            self.assertEqual(got, b"")
            self.assertIn("not a SHA-256", err)
        rc, _, err = self.ctl_bytes("attachment", "get", "0" * 64)
        self.assertEqual(rc, 1)
        self.assertIn("not in the store", err)

    def test_4_transcripts_hold_every_body(self):
        RecordTest.sent[4] = message(4, "الطابعة", BODIES["ar"], "base64",
                                     in_reply_to="record-3@customer.test")
        self.send(RecordTest.sent[4])
        self.pf.wait_delivered(4)
        kept = os.path.join(self.store, "attachments", "transcripts", "1.pdf")

        def kept_is_current():
            if not os.path.exists(kept):
                return False
            text = squeeze(self.pdf_text(kept))
            return all(w in text for w in BODIES["ar"].split())
        ph.wait_until(kept_is_current, 30, interval=0.2, what="the worker's PDF of ticket 1")
        out = os.path.join(self.tmp, "t1.pdf")
        rc, stdout, err = self.ctl_bytes("ticket", "1", "--pdf", out)
        self.assertEqual(rc, 0, err)
        for path in (kept, out):
            text = squeeze(self.pdf_text(path))
            for lang in ("ru", "ja", "el"):
                self.assertIn(squeeze(BODIES[lang]), text, f"{lang} body missing from {path}")
            for word in BODIES["ar"].split():  # a right-to-left line: words, each intact
                self.assertIn(word, text, f"Arabic word missing from {path}")
            for want in ("Ticket#1", "Brand:Acme", "invoice.pdf", "application/pdf"):
                self.assertIn(want, text)

    def test_5_brand_by_address_and_views(self):
        data = message(5, "Globex question", "Bonjour, une question sur la facture globex-zebra.",
                       "8bit").replace(SUPPORT.encode(), GLOBEX.encode())
        self.send(data, rcpt=GLOBEX)
        self.pf.wait_delivered(5)
        two = self.ctl("ticket", "2", "--json")
        self.assertEqual(two["brand"], "Globex")
        numbers = lambda *a: [t["number"] for t in self.ctl("tickets", "--json", *a)]  # noqa: E731
        self.assertEqual(numbers("--brand", "Globex"), [2])
        self.assertEqual(numbers("--brand", "Acme"), [1])
        self.assertEqual(numbers("--search", "ПРИНТЕР бухгалтерии"), [1])
        self.assertEqual(numbers("--search", "globex-zebra"), [2])
        self.assertEqual(numbers("--search", "nosuchword"), [])
        self.assertEqual(numbers("--received-at", GLOBEX), [2])
        self.assertEqual(numbers("--requester", CUSTOMER.upper()), [2, 1])
        self.assertEqual(numbers("--sla", "running"), [2, 1])
        self.assertEqual(numbers("--sla", "breached"), [])
        self.assertEqual(numbers("--sla", "due-within", "2d"), [2, 1])
        self.assertEqual(numbers("--sla", "due-within", "1h"), [])
        late = str(two["created_at"] + 2 * 86400)
        self.assertEqual(numbers("--sla", "breached", "--now", late), [2, 1])
        rc, _, err = self.ctl("tickets", "--sla", "due-within", "soon", json_output=False)
        self.assertEqual(rc, 2, err)

    def test_6_forget(self):
        rc, out, err = self.ctl("forget", CUSTOMER, "--dry-run", json_output=False)
        self.assertEqual(rc, 0, err)
        self.assertIn("ticket 1: would remove 4 message(s)", out)
        self.assertIn("would rebuild", out)
        self.assertEqual(len(self.ctl("ticket", "1", "--json")["messages"][0]["body"]) > 0, True)
        sha = self.ctl("ticket", "1", "--json")["messages"][0]["attachments"][0]["sha256"]
        rc, out, err = self.ctl("forget", CUSTOMER, json_output=False)
        self.assertEqual(rc, 0, err)
        t = self.ctl("ticket", "1", "--json")
        for m in t["messages"]:
            self.assertEqual((m["body"], m["original_sha256"], m["attachments"]), ("", "", []))
        self.assertEqual(t["requester"]["address"], "")
        self.assertEqual(t["events"][-1]["type"], "forgotten")
        rc, _, err = self.ctl_bytes("message", "get", "1", "1")
        self.assertEqual(rc, 1)
        rc, _, err = self.ctl_bytes("attachment", "get", sha)
        self.assertEqual(rc, 1, "the attachment should be gone")
        text = squeeze(self.pdf_text(os.path.join(self.store, "attachments", "transcripts",
                                                  "1.pdf")))
        for lang in ("ru", "ja", "el"):
            self.assertNotIn(squeeze(BODIES[lang]), text)
        self.assertIn("forgotten", text)

    def test_7_sla_counts_the_queue_business_hours(self):
        # A queue open Mon..Fri 09:00-17:00 Europe/Paris whose next two days are holidays: the 10 h
        # first-response clock counts only open time (nights, weekends, holidays closed).
        data = message(7, "Paris printer", "Bonjour, l'imprimante ne marche plus.", "8bit")
        data = data.replace(SUPPORT.encode(), PARIS.encode()).replace(
            CUSTOMER.encode(), b"marie@customer.test")
        self.send(data, rcpt=PARIS)
        self.pf.wait_delivered(6)
        [t] = [t for t in self.ctl("tickets", "--json") if t["queue"] == "paris"]
        t = self.ctl("ticket", str(t["number"]), "--json")
        start = t["messages"][0]["received_at"]
        self.assertEqual(t["sla"]["state"], "running")
        self.assertEqual(t["sla"]["due_at"], paris_due(start, 36000), (start, PARIS_HOLIDAYS))
        # More than one business day (8 h) from any start: never the 24x7 answer.
        self.assertGreater(t["sla"]["due_at"] - start, 36000)


if __name__ == "__main__":
    unittest.main(verbosity=2)
