#!/usr/bin/env python3
"""Fault test: kill -9 of deskmilter under load; every mail delivered once and ticketed once.

A restart loop like systemd's (Restart=always, RestartSec=100ms) kills deskmilter with SIGKILL every
DESK_FAULT_KILL_SECONDS (default 1-2 s, randomised) and starts it again on the same store, while
DESK_FAULT_CLIENTS (default 4) client threads send DESK_FAULT_MAILS (default 200; the issue's long
setting is 2000) mails with distinct Message-IDs, each from its own customer, through the private
Postfix (milter_default_action = tempfail). A client retries like an MTA: on a 4xx reply or a
dropped connection it waits and sends the same message again; a 5xx fails the test.

Checked afterwards:
  - every restart opened the store (deskmilter listened again; the harness fails otherwise);
  - every Message-ID is in the Maildir exactly once (Postfix delivered each accepted mail once);
  - every Message-ID is on exactly one ticket, each ticket has exactly one message, and the
    number of tickets equals the number of mails (a mail whose ticket was committed just before a
    kill comes back from the client's retry and is recognised as a duplicate);
  - no sanitizer report in deskmilter's stderr.
Counts (kills, retries, duplicates answered, wall time) are printed for docs/RELIABILITY.md.

Environment: DESKMILTER, DESKCTL; root (private Postfix).
"""

import os
import random
import smtplib
import socket
import sys
import threading
import time
import unittest
from email.message import EmailMessage

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import postfix_harness as ph  # noqa: E402

MAILS = int(os.environ.get("DESK_FAULT_MAILS", "200"))
CLIENTS = int(os.environ.get("DESK_FAULT_CLIENTS", "4"))
KILL_MIN, KILL_MAX = (float(x) for x in
                      os.environ.get("DESK_FAULT_KILL_SECONDS", "1,2").split(","))

CONFIG = """\
[milter]
socket = "inet:{port}@127.0.0.1"
hostname = "desk.example.test"

[store]
dir = "{dir}/store"
spool_dir = "{dir}/spool"

[scanner]
enabled = false

[loops]
installation_id = "desk-fault-kill9"
flood_max = 0

[[queue]]
name = "support"
addresses = ["support@example.test"]
"""


def message(i):
    m = EmailMessage()
    m["From"] = f"Customer {i} <c{i}@cust.test>"
    m["To"] = "support@example.test"
    m["Subject"] = f"kill9 mail {i}"
    m["Message-ID"] = f"<kill9-{i}@cust.test>"
    m["Date"] = "Thu, 03 Dec 2026 08:00:00 +0000"
    m.set_content(f"Mail number {i}.\n" + "x" * (i % 7 * 300))
    return m


class Kill9Test(unittest.TestCase):
    def test_kill9_under_load(self):
        why = ph.missing_prerequisites()
        if why:
            self.fail(f"cannot run: {why}")
        t0 = time.monotonic()
        tmp = ph.tempfile.mkdtemp(prefix="desk-fault-kill9-")
        for sub in ("store", "spool"):
            os.makedirs(os.path.join(tmp, "deskmilter", sub), exist_ok=True)
        milter = ph.Milter(tmp, CONFIG)
        milter.start()
        pf = ph.PostfixInstance(tmp, milter=milter.postfix_spec)
        try:
            pf.start()
            self._run(tmp, milter, pf, t0)
        finally:
            pf.stop()
            milter.stop()
            if not os.environ.get("DESK_E2E_KEEP"):
                ph.shutil.rmtree(tmp, ignore_errors=True)

    def _run(self, tmp, milter, pf, t0):
        done = threading.Event()
        lock = threading.Lock()
        stats = {"kills": 0, "retries": 0, "sent": 0}
        errors = []

        def killer():
            rnd = random.Random(16)
            while not done.wait(rnd.uniform(KILL_MIN, KILL_MAX)):
                with lock:
                    milter.proc.kill()
                    milter.proc.wait()
                    milter.stop(check=False)
                    stats["kills"] += 1
                    time.sleep(0.1)  # RestartSec
                    milter.start(timeout=20)

        queue = list(range(MAILS))

        def client():
            while True:
                with lock:
                    if not queue or errors:
                        return
                    i = queue.pop()
                    taken = MAILS - len(queue)
                # Spread the kills over the run: the k-th quarter of the mails (k = 0..3) starts
                # only after k kills, so a fast machine cannot send everything between two kills.
                need = (taken - 1) * 4 // MAILS
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    with lock:
                        if stats["kills"] >= need:
                            break
                    time.sleep(0.05)
                msg = message(i)
                for attempt in range(200):
                    try:
                        with smtplib.SMTP("127.0.0.1", pf.smtp_port, timeout=60) as s:
                            s.send_message(msg, from_addr=f"c{i}@cust.test",
                                           to_addrs=["support@example.test"])
                        with lock:
                            stats["sent"] += 1
                        break
                    except smtplib.SMTPResponseException as e:
                        if not 400 <= e.smtp_code < 500:
                            errors.append(f"mail {i}: {e.smtp_code} {e.smtp_error!r}")
                            return
                    except smtplib.SMTPRecipientsRefused as e:
                        codes = [c for c, _ in e.recipients.values()]
                        if any(not 400 <= c < 500 for c in codes):
                            errors.append(f"mail {i}: refused {e.recipients!r}")
                            return
                    except (smtplib.SMTPServerDisconnected, ConnectionError, socket.timeout) as e:
                        pass
                    with lock:
                        stats["retries"] += 1
                    time.sleep(0.2 + random.random() * 0.3)
                else:
                    errors.append(f"mail {i}: not accepted after 200 attempts")

        kt = threading.Thread(target=killer)
        kt.start()
        clients = [threading.Thread(target=client) for _ in range(CLIENTS)]
        for c in clients:
            c.start()
        for c in clients:
            c.join()
        done.set()
        kt.join()
        self.assertEqual(errors, [])
        self.assertEqual(stats["sent"], MAILS)
        self.assertGreaterEqual(stats["kills"], 3, "the test must kill deskmilter several times")

        msgs = pf.wait_delivered(MAILS, timeout=120)
        ids = [str(m["Message-ID"]).strip() for m in msgs]
        want = {f"<kill9-{i}@cust.test>" for i in range(MAILS)}
        dups = sorted({x for x in ids if ids.count(x) > 1})
        self.assertEqual(dups, [], "delivered more than once")
        self.assertEqual(set(ids), want)

        milter.stop()
        tickets = ph.deskctl(milter.config_path, "tickets", "--json", "--limit", "0")
        titles = [t["title"] for t in tickets]
        self.assertEqual(len(tickets), MAILS,
                         f"{len(tickets)} tickets for {MAILS} mails; doubled: "
                         f"{sorted({x for x in titles if titles.count(x) > 1})[:10]}")
        self.assertEqual(sorted(titles), sorted(f"kill9 mail {i}" for i in range(MAILS)))
        self.assertEqual([t["title"] for t in tickets if t["message_count"] != 1], [])
        milter_log = milter.stderr_text()
        print(f"\nkill9: {MAILS} mails, {CLIENTS} clients, {stats['kills']} kills, "
              f"{stats['retries']} client retries, "
              f"{milter_log.count('duplicate')} duplicate answers in the milter log, "
              f"{time.monotonic() - t0:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
