#!/usr/bin/env python3
"""deskctl over real mail: every corpus file through `ingest --dry-run`, and a ticket round trip.

CorpusDryRun feeds EVERY file under $DESK_CORPORA_DIR (recursively: bounces, hostile MIME, TNEF,
mboxes, licence files; anything may arrive by SMTP) to `deskctl ingest --dry-run`, in batches to keep
the number of processes down, and checks that deskctl survives each one: one parseable JSON line per
file, a verdict on every line, no death by signal, no sanitizer report. It prints the counts per
verdict and kind. It fails when the corpora directory is absent.

TicketRoundTrip ingests a new mail and a reply (In-Reply-To) without --dry-run and checks the ticket
they make through `tickets`, `ticket N` and `ticket close N`.

Environment: DESKCTL (the built binary), DESK_CORPORA_DIR. Python standard library only.
"""

import collections
import json
import os
import subprocess
import sys
import tempfile
import unittest

DESKCTL = os.environ.get("DESKCTL", "")
CORPORA = os.environ.get("DESK_CORPORA_DIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "corpora")
BATCH = 200
SUPPORT = "support@example.com"
SANITIZER_MARKS = ("AddressSanitizer", "runtime error", "LeakSanitizer")


def write_config(tmp):
    """A config with one queue and every path inside tmp; returns its path."""
    path = os.path.join(tmp, "deskmilter.toml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"""
[milter]
socket = "unix:{tmp}/deskmilter.sock"
hostname = "desk.test"

[store]
dir = "{tmp}/store"
spool_dir = "{tmp}/spool"
spool_threshold = 65536

[scanner]
enabled = false

[[queue]]
name = "support"
addresses = ["{SUPPORT}"]
""")
    os.makedirs(os.path.join(tmp, "spool"), exist_ok=True)
    return path


def run(args, **kw):
    return subprocess.run([DESKCTL] + args, capture_output=True, timeout=600, **kw)


def check_stderr(test, proc, what):
    err = proc.stderr.decode("utf-8", "replace")
    for mark in SANITIZER_MARKS:
        test.assertNotIn(mark, err, f"{what}: sanitizer report:\n{err[-4000:]}")


class CorpusDryRun(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not DESKCTL or not os.access(DESKCTL, os.X_OK):
            raise RuntimeError(f"DESKCTL={DESKCTL!r} is not an executable (ctest sets it to the built deskctl)")

    def test_every_corpus_file(self):
        if not CORPORA or not os.path.isdir(CORPORA):
            self.fail(f"corpora directory {CORPORA!r} is absent (tests/data/corpora in the repository)")
        files = sorted(
            os.path.join(root, name)
            for root, _, names in os.walk(CORPORA)
            for name in names)
        self.assertTrue(files, f"no files under {CORPORA}")
        verdicts = collections.Counter()
        kinds = collections.Counter()
        errors = collections.Counter()
        with tempfile.TemporaryDirectory(prefix="deskctl-corpus-") as tmp:
            cfg = write_config(tmp)
            for start in range(0, len(files), BATCH):
                batch = files[start:start + BATCH]
                proc = run(["-c", cfg, "ingest", "--dry-run", "--mail-from", "a@b.example",
                            "--rcpt", SUPPORT, "--"] + batch)
                where = f"batch starting at {batch[0]}"
                self.assertGreaterEqual(
                    proc.returncode, 0,
                    f"{where}: killed by signal {-proc.returncode}; stderr:\n"
                    f"{proc.stderr.decode('utf-8', 'replace')[-4000:]}")
                check_stderr(self, proc, where)
                lines = proc.stdout.decode("utf-8").splitlines()
                self.assertEqual(len(lines), len(batch),
                                 f"{where}: {len(lines)} lines for {len(batch)} files (exit "
                                 f"{proc.returncode}); last line: {lines[-1] if lines else None}")
                for path, line in zip(batch, lines):
                    got = json.loads(line)
                    self.assertEqual(got["file"], path)
                    self.assertIsNotNone(got["verdict"], f"{path}: {line}")
                    self.assertIn(got["verdict"],
                                  ("accept", "reject", "tempfail", "hold", "discard"), path)
                    verdicts[got["verdict"]] += 1
                    kinds[got["kind"]] += 1
                    if got["error"]:
                        errors[got["error"].split(":")[0]] += 1
                # Every file is readable, so any other exit status is a failure of deskctl.
                self.assertEqual(proc.returncode, 0, f"{where}: exit {proc.returncode}")
            # A dry run never creates the store.
            self.assertFalse(os.path.exists(os.path.join(tmp, "store")),
                             "--dry-run created the store directory")
        print(f"\n{len(files)} corpus files", file=sys.stderr)
        print(f"  verdicts: {dict(sorted(verdicts.items()))}", file=sys.stderr)
        print(f"  kinds:    {dict(sorted(kinds.items()))}", file=sys.stderr)
        if errors:
            print(f"  errors:   {dict(sorted(errors.items()))}", file=sys.stderr)
        self.assertEqual(sum(verdicts.values()), len(files))


NEW_MAIL = f"""\
From: Alice Example <alice@customer.example>
To: {SUPPORT}
Subject: Printer on fire
Date: Mon, 01 Jan 2024 10:00:00 +0000
Message-ID: <first.1@customer.example>
Content-Type: text/plain; charset=utf-8

The printer in room 4 is on fire.
"""

REPLY_MAIL = f"""\
From: Alice Example <alice@customer.example>
To: {SUPPORT}
Subject: Re: Printer on fire
Date: Mon, 01 Jan 2024 11:00:00 +0000
Message-ID: <second.2@customer.example>
In-Reply-To: <first.1@customer.example>
References: <first.1@customer.example>
Content-Type: text/plain; charset=utf-8

It is out now.\x1b]0;pwned\x07
"""


class TicketRoundTrip(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not DESKCTL or not os.access(DESKCTL, os.X_OK):
            raise RuntimeError(f"DESKCTL={DESKCTL!r} is not an executable (ctest sets it to the built deskctl)")

    def setUp(self):
        self.tmpdir = tempfile.TemporaryDirectory(prefix="deskctl-tickets-")
        self.tmp = self.tmpdir.name
        self.cfg = write_config(self.tmp)
        self.files = []
        for name, text in (("new.eml", NEW_MAIL), ("reply.eml", REPLY_MAIL)):
            path = os.path.join(self.tmp, name)
            with open(path, "w", encoding="utf-8", newline="\r\n") as f:
                f.write(text)
            self.files.append(path)

    def tearDown(self):
        self.tmpdir.cleanup()

    def ctl(self, *args, want_rc=0):
        proc = run(["-c", self.cfg] + list(args))
        check_stderr(self, proc, " ".join(args))
        self.assertEqual(proc.returncode, want_rc,
                         f"deskctl {' '.join(args)}: exit {proc.returncode}, stderr: "
                         f"{proc.stderr.decode('utf-8', 'replace')}")
        return proc

    def ingest(self, *files, dry_run=False):
        args = ["ingest", "--mail-from", "alice@customer.example", "--rcpt", SUPPORT]
        if dry_run:
            args.append("--dry-run")
        proc = self.ctl(*(args + list(files)))
        return [json.loads(line) for line in proc.stdout.decode("utf-8").splitlines()]

    def test_new_then_reply_then_close(self):
        got_new, got_reply = self.ingest(*self.files)
        self.assertEqual(got_new["verdict"], "accept")
        self.assertIsNone(got_new["reply"])
        self.assertEqual(got_new["kind"], "new")
        self.assertEqual(got_new["queue"], "support")
        self.assertEqual(got_new["ticket"], 1)
        self.assertEqual(got_new["ticket_action"], "created")
        self.assertEqual(got_new["message_id"], "first.1@customer.example")
        self.assertIsNone(got_new["error"])
        self.assertEqual(got_reply["kind"], "reply")
        self.assertEqual(got_reply["ticket"], 1)
        self.assertEqual(got_reply["ticket_action"], "appended")

        # The same mail again is a duplicate of ticket 1 and changes nothing.
        (got_dup,) = self.ingest(self.files[0])
        self.assertEqual(got_dup["kind"], "duplicate")
        self.assertEqual(got_dup["ticket"], 1)

        listed = json.loads(self.ctl("tickets", "--json").stdout)
        self.assertEqual([t["number"] for t in listed], [1])
        self.assertEqual(listed[0]["status"], "open")
        self.assertEqual(listed[0]["title"], "Printer on fire")
        self.assertEqual(listed[0]["requester"]["address"], "alice@customer.example")
        self.assertEqual(listed[0]["message_count"], 2)

        ticket = json.loads(self.ctl("ticket", "1", "--json").stdout)
        self.assertEqual(ticket["number"], 1)
        self.assertEqual([m["message_id"] for m in ticket["messages"]],
                         ["first.1@customer.example", "second.2@customer.example"])
        self.assertEqual([m["seq"] for m in ticket["messages"]], [1, 2])
        self.assertEqual(ticket["messages"][1]["kind"], "reply")
        self.assertIn("on fire", ticket["messages"][0]["body"])
        self.assertEqual(ticket["messages"][0]["envelope_rcpts"], [SUPPORT])
        self.assertEqual(len(ticket["events"]), ticket["event_count"])

        # Human output: readable, and the escape sequence in the reply body is defused.
        text = self.ctl("ticket", "1").stdout.decode("utf-8")
        self.assertIn("Printer on fire", text)
        self.assertIn("second.2@customer.example", text)
        self.assertNotIn("\x1b", text)
        self.assertIn("\\x1B", text)
        table = self.ctl("tickets").stdout.decode("utf-8")
        self.assertRegex(table, r"(?m)^1 +open +support +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ +"
                                r"alice@customer\.example +Printer on fire$")

        self.ctl("ticket", "close", "1")
        self.assertEqual(json.loads(self.ctl("tickets", "--status", "open", "--json").stdout), [])
        closed = json.loads(self.ctl("tickets", "--status", "closed", "--json").stdout)
        self.assertEqual([(t["number"], t["status"]) for t in closed], [(1, "closed")])
        events = json.loads(self.ctl("ticket", "1", "--json").stdout)["events"]
        self.assertEqual(events[-1]["type"], "closed")

        self.ctl("ticket", "reopen", "1")
        reopened = json.loads(self.ctl("tickets", "--status", "open", "--json").stdout)
        self.assertEqual([t["number"] for t in reopened], [1])

    def test_dry_run_commits_nothing(self):
        got = self.ingest(*self.files, dry_run=True)
        self.assertEqual([g["kind"] for g in got], ["new", "new"])
        self.assertEqual([g["ticket_action"] for g in got], ["created", "created"])
        self.assertIn("dry_run", got[0]["reasons"])
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "store")))
        self.assertEqual(json.loads(self.ctl("tickets", "--json").stdout), [])

    def test_errors(self):
        missing = os.path.join(self.tmp, "missing.eml")
        proc = self.ctl("ingest", "--mail-from", "a@b.example", "--rcpt", SUPPORT, missing,
                        self.files[0], want_rc=1)
        got = [json.loads(line) for line in proc.stdout.decode("utf-8").splitlines()]
        self.assertEqual(len(got), 2)
        self.assertIsNone(got[0]["verdict"])
        self.assertIn("No such file", got[0]["error"])
        self.assertEqual(got[1]["ticket_action"], "created")

        # Not support mail still gets a line.
        (got_ns,) = self.ingest_to("someone@elsewhere.example", self.files[1])
        self.assertEqual((got_ns["kind"], got_ns["verdict"]), ("not_support", "accept"))

        proc = self.ctl("ticket", "42", want_rc=1)
        self.assertIn("no such ticket", proc.stderr.decode())
        self.ctl("ticket", "close", "42", want_rc=1)
        self.ctl("ticket", "nope", want_rc=2)
        self.ctl("frobnicate", want_rc=2)

        bad = os.path.join(self.tmp, "bad.toml")
        with open(bad, "w", encoding="utf-8") as f:
            f.write("[limits]\nno_such_option = 1\n")
        proc = run(["-c", bad, "tickets"])
        self.assertEqual(proc.returncode, 78, proc.stderr)
        self.assertIn("bad.toml", proc.stderr.decode())
        self.assertIn("no_such_option", proc.stderr.decode())

    def ingest_to(self, rcpt, *files):
        proc = self.ctl("ingest", "--mail-from", "a@b.example", "--rcpt", rcpt, *files)
        return [json.loads(line) for line in proc.stdout.decode("utf-8").splitlines()]


if __name__ == "__main__":
    unittest.main(verbosity=2)
