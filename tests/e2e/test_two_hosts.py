"""End-to-end test of the several-MX topology (issue 10 item 6, docs/SCALING.md): an edge Postfix
relays the support domain to the desk host (a second private Postfix with deskmilter) through
relay_domains + transport_maps, and keeps the mail queued while the desk host cannot take it.

test_1_relayed_mail_makes_ticket: with everything up, mail sent to the edge is relayed, ticketed on
  the desk host and delivered there once.
test_2_mail_waits_on_edge_and_is_ticketed_once: 20 mails, each from its own customer:
  - 10 while deskmilter is stopped: the desk host's smtpd answers 451 4.7.1
    (milter_default_action = tempfail), the edge logs status=deferred with that reply;
  - 10 more while the desk host's Postfix is stopped too: the edge logs connection refused.
  Each of the 20 is deferred, some more than once (the edge retries every 3 s here), and all are
  still queued on the edge; nothing is delivered or ticketed on the desk host. Then the desk host's
  Postfix and deskmilter are started again and the edge is flushed (`postqueue -c EDGE -f`): every mail is
  delivered exactly once to the desk Maildir with its own ticket, `deskctl tickets --json` lists each
  Message-ID exactly once, deskmilter logged one decision for each, and both queues end empty (so no
  late copy can still arrive).
test_3_resent_copy_is_not_ticketed_twice: the same mail sent twice through the edge (what the edge
  does after a lost 250) is delivered twice but ticketed once; the second decision is kind=duplicate
  naming the first ticket.

Environment: DESKMILTER, DESKCTL; root (two Postfix instances).
"""

import collections
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postfix_harness as ph  # noqa: E402

SUPPORT = "support@example.test"
N_MILTER_DOWN = 10
N_HOST_DOWN = 10

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
subject_tag = "[#{n}]"
"""


def _header(msg, name):
    v = msg.get(name)
    return None if v is None else re.sub(r"\s+", " ", str(v)).strip()


class TwoHostsTest(ph.MilterPostfixCase):
    """cls.desk is the desk host's Postfix (the harness's cls.pf); cls.edge relays to it."""

    CONFIG = CONFIG
    PREFIX = "desk-e2e-two-hosts-"

    @classmethod
    def postfix_options(cls):
        return {"name": "desk"}

    @classmethod
    def start_mtas(cls):
        super().start_mtas()
        cls.desk = cls.pf
        edge_cf = ph.edge_relay_main_cf(cls.desk.smtp_port)
        # Retry deferred mail every 3 s. With the harness's 1 s, qmgr may pick a message up
        # again while the delivery agent that deferred it still holds its lock; Postfix then
        # parks it for 60 s ("skipped, still being delivered"), which only slows the test.
        edge_cf.update({"minimal_backoff_time": "3s", "maximal_backoff_time": "3s"})
        cls.edge = ph.PostfixInstance(cls.tmp, name="edge", domains=(), extra_main_cf=edge_cf)
        cls.servers.append(cls.edge)
        cls.edge.start()

    # --- helpers ---

    def diag(self):
        return (f"\n--- edge queue ---\n{self.edge.queue_entries()}"
                f"\n--- edge log (tail) ---\n{self.edge.log_text()[-3000:]}"
                f"\n--- desk log (tail) ---\n{self.desk.log_text()[-3000:]}"
                f"\n--- deskmilter stderr (tail) ---\n{self.milter.stderr_text()[-2000:]}")

    def send_to_edge(self, n, subject):
        """Sends mail n (its own customer and Message-ID) to the edge; returns the Message-ID."""
        mid = f"edge-{n}.customer{n}@customer.test"
        rc, transcript = self.edge.send(
            "--from", f"customer{n}@customer.test", "--to", SUPPORT,
            "--header", f"From: Customer {n} <customer{n}@customer.test>",
            "--header", f"Subject: {subject} {n}",
            "--header", f"Message-Id: <{mid}>",
            "--body", f"Mail {n} for the desk.\n")
        self.assertEqual(rc, 0, transcript)  # the edge itself always takes the mail
        return mid

    def deferrals(self, qid, reply_rx):
        """The edge's status=deferred lines for qid whose reason matches reply_rx (the attempt's
        own reply, or "delivery temporarily suspended: ..." quoting the last one)."""
        return self.edge.log_lines(re.escape(qid) + r": to=<" + re.escape(SUPPORT) +
                                   r">, .*status=deferred \(.*" + reply_rx)

    def wait_deferred(self, qids, reply_rx, retried):
        """Waits until the edge has deferred every queue id with a reason matching reply_rx and,
        if retried, deferred at least one of them a second time (the edge retries by itself)."""
        def done():
            counts = [len(self.deferrals(q, reply_rx)) for q in qids]
            return min(counts) >= 1 and (not retried or max(counts) >= 2)
        ph.wait_until(done, 60, what=f"{len(qids)} mails deferred on the edge ({reply_rx})"
                      + self.diag())

    def tickets(self):
        return ph.deskctl(self.cfg, "tickets", "--json")

    def ticket_message_ids(self):
        """Message-ID -> ticket numbers holding it, over every ticket in the store."""
        where = collections.defaultdict(list)
        for t in self.tickets():
            full = ph.deskctl(self.cfg, "ticket", str(t["number"]), "--json")
            for m in full["messages"]:
                where[m["message_id"]].append(t["number"])
        return where

    # --- tests ---

    def test_1_relayed_mail_makes_ticket(self):
        mid = self.send_to_edge(0, "Relayed while up")
        msgs = self.desk.find_delivered(Message_Id=f"<{mid}>", timeout=30)
        self.assertEqual(len(msgs), 1)
        self.assertEqual(_header(msgs[0], "X-Deskmilter-Ticket"), "1", self.diag())
        # The desk host got it from the edge, not from the sender directly.
        self.assertIn("edge.example.test", msgs[0].get_all("Received")[0])
        self.assertEqual(self.ticket_message_ids()[mid], [1])

    def test_2_mail_waits_on_edge_and_is_ticketed_once(self):
        tickets_before = len(self.tickets())
        delivered_before = len(self.desk.maildir_paths())

        # Phase A: deskmilter stopped; the desk host answers 451 4.7.1.
        self.milter.stop()
        try:
            mids_a = [self.send_to_edge(n, "Milter down") for n in range(1, 1 + N_MILTER_DOWN)]
            qids_a = [self.edge.queue_id_for(m) for m in mids_a]
            self.wait_deferred(qids_a, r"said: 451 4\.7\.1", retried=True)

            # Phase B: the whole desk host down; the edge cannot connect.
            self.desk.stop()
            mids_b = [self.send_to_edge(n, "Host down")
                      for n in range(1 + N_MILTER_DOWN, 1 + N_MILTER_DOWN + N_HOST_DOWN)]
            qids_b = [self.edge.queue_id_for(m) for m in mids_b]
            self.wait_deferred(qids_b, r"[Cc]onnection refused", retried=True)

            mids = mids_a + mids_b
            queued = set(self.edge.queue_ids())
            self.assertTrue(set(qids_a + qids_b) <= queued, self.diag())
            self.assertEqual(len(self.desk.maildir_paths()), delivered_before, self.diag())
            self.assertEqual(len(self.tickets()), tickets_before)
        finally:
            # Restart the desk host (its Postfix, then deskmilter), also when a check above
            # failed, so the next test finds it up.
            if not self.desk.running:
                self.desk.start()
            if not self.milter.running:
                self.milter.start()

        self.edge.flush()
        total = delivered_before + len(mids)
        # Up to 150 s: a message Postfix parked for 60 s (see setUpClass) is delivered late.
        self.desk.wait_delivered(total, timeout=150)
        ph.wait_until(lambda: not self.edge.queue_entries() and not self.desk.queue_entries(), 60,
                      what="edge and desk queues empty" + self.diag())

        # Exactly once: in the Maildir, in the store, in deskmilter's log.
        by_mid = collections.Counter(_header(m, "Message-Id") for m in self.desk.maildir_messages())
        for mid in mids:
            self.assertEqual(by_mid[f"<{mid}>"], 1, f"{mid} delivered {by_mid[f'<{mid}>']}x")
        self.assertEqual(len(self.desk.maildir_paths()), total)
        delivered = {_header(m, "Message-Id"): m for m in self.desk.maildir_messages()}
        numbers = [_header(delivered[f"<{mid}>"], "X-Deskmilter-Ticket") for mid in mids]
        self.assertNotIn(None, numbers, self.diag())
        self.assertEqual(len(set(numbers)), len(mids), numbers)

        self.assertEqual(len(self.tickets()), tickets_before + len(mids))
        where = self.ticket_message_ids()
        for mid, number in zip(mids, numbers):
            self.assertEqual(where[mid], [int(number)], mid)

        log = self.milter.stderr_text()
        for mid in mids:
            lines = [l for l in log.splitlines() if f"msgid={mid}," in l]
            self.assertEqual(len(lines), 1, f"{mid}: {lines}")
            self.assertIn("kind=new", lines[0])
        print(f"\n{len(mids)} mails: {N_MILTER_DOWN} deferred with 451 and {N_HOST_DOWN} with "
              "connection refused on the edge, each delivered and ticketed once after the flush",
              file=sys.stderr)

    def test_3_resent_copy_is_not_ticketed_twice(self):
        # What the edge does after a lost 250 (the desk host committed, the edge never read the
        # reply): it sends the same mail again. The copy is delivered, but joins no ticket twice.
        mid = self.send_to_edge(99, "Sent twice")
        first = self.desk.find_delivered(Message_Id=f"<{mid}>", timeout=30)
        number = _header(first[0], "X-Deskmilter-Ticket")
        self.assertIsNotNone(number, self.diag())
        tickets_before = len(self.tickets())
        self.send_to_edge(99, "Sent twice")
        self.desk.find_delivered(count=2, Message_Id=f"<{mid}>", timeout=30)
        ph.wait_until(lambda: not self.edge.queue_entries() and not self.desk.queue_entries(), 60,
                      what="edge and desk queues empty" + self.diag())
        self.assertEqual(len(self.tickets()), tickets_before)
        self.assertEqual(self.ticket_message_ids()[mid], [int(number)])
        lines = [l for l in self.milter.stderr_text().splitlines() if f"msgid={mid}," in l]
        self.assertEqual(len(lines), 2, lines)
        self.assertIn("kind=new", lines[0])
        self.assertIn("kind=duplicate", lines[1])
        self.assertIn(f"ticket={number},", lines[1])


if __name__ == "__main__":
    unittest.main(verbosity=2)
