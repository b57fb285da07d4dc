"""End-to-end tests of issue 13: routing to agents through a real Postfix.

Set-up (one for the class): a private Postfix whose virtual domain example.test (the help desk)
lands in one Maildir, and whose mail for sink.test is relayed to an smtp-sink that dumps each
message with its envelope (one file per delivery, "X-Rcpt-Args: <rcpt>" per recipient): the three
agents' mailboxes alice@, bob@ and carl@sink.test. A submission listener with SMTP AUTH (Cyrus
SASL) for the agents. deskmilter with one queue, support@example.test, routing = "automatic", and
the control address desk-control@example.test.

Tests run in name order and build on each other: test_1 sets the states (Alice by deskctl, Bob
away, Carl by control mail: first without AUTH, refused, then with AUTH), test_2 sends ten new
tickets, test_3 a customer's reply, test_4 restarts deskmilter.

Environment: DESKMILTER, DESKCTL; root; postfix, swaks, saslpasswd2 and smtp-sink installed.
"""

import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postfix_harness as ph  # noqa: E402

AGENTS = {"alice": "alice@sink.test", "bob": "bob@sink.test", "carl": "carl@sink.test"}
PASSWORD = "s3cret-pw"
CONTROL = "desk-control@example.test"

CONFIG = """\
[milter]
socket = "inet:{port}@127.0.0.1"
hostname = "desk.example.test"

[store]
dir = "{dir}/store"
spool_dir = "{dir}/spool"

[scanner]
enabled = false

[agents]
control_address = "desk-control@example.test"

[[queue]]
name = "support"
addresses = ["support@example.test"]
routing = "automatic"

[[queue.agent]]
address = "alice@sink.test"
name = "Alice"
login = "alice@example.test"

[[queue.agent]]
address = "bob@sink.test"
name = "Bob"
login = "bob@example.test"

[[queue.agent]]
address = "carl@sink.test"
name = "Carl"
login = "carl@example.test"
"""


def _rcpts(dump):
    return re.findall(r"(?im)^X-Rcpt-Args: <([^>]*)>", dump.decode(errors="replace"))


class RoutingTest(ph.MilterPostfixCase):
    REQUIRES = (ph.SASLPASSWD2, ph.SMTP_SINK,)
    CONFIG = CONFIG
    PREFIX = "desk-e2e-routing-"

    @classmethod
    def postfix_options(cls):
        return dict(sink=True, sasl_users={u: PASSWORD for u in AGENTS},
                    sasl_realm="example.test")

    # --- helpers ---

    def states(self):
        return {a["address"]: a for a in ph.deskctl(self.cfg, "agents", "--json")}

    def customer_mail(self, n, extra=""):
        return (f"From: Customer {n} <c{n}@example.test>\r\nTo: support@example.test\r\n"
                f"Subject: Question {n}\r\nMessage-ID: <q{n}@customer.example>\r\n{extra}"
                f"Date: Sat, 21 Nov 2026 10:00:00 +0000\r\n\r\nHello {n}.\r\n")

    def sink_dumps(self, message_id):
        """The sink's dumps (one per delivery) of the message with this Message-ID."""
        needle = f"Message-ID: <{message_id}>".encode()
        return [m for m in self.pf.sink.messages() if needle in m]

    def control_mail(self, subject, mid):
        return (f"From: Carl <carl@sink.test>\r\nTo: {CONTROL}\r\nSubject: {subject}\r\n"
                f"Message-ID: <{mid}>\r\nDate: Sat, 21 Nov 2026 09:00:00 +0000\r\n\r\n.\r\n")

    # --- tests ---

    def test_1_states_by_deskctl_and_by_control_mail(self):
        ph.deskctl(self.cfg, "agent", "state", AGENTS["alice"], "in-email", json_output=False)
        ph.deskctl(self.cfg, "agent", "state", AGENTS["bob"], "away", json_output=False)
        # Unknown agent or state: exit 1, nothing changed.
        rc, _, err = ph.deskctl(self.cfg, "agent", "state", "nobody@sink.test", "in-email",
                                json_output=False)
        self.assertEqual(rc, 1, err)
        self.assertIn("no such agent", err)
        rc, _, err = ph.deskctl(self.cfg, "agent", "state", AGENTS["bob"], "lunch",
                                json_output=False)
        self.assertEqual(rc, 1, err)
        self.assertIn("unknown state", err)
        self.assertEqual(self.states()[AGENTS["bob"]]["state"], "away")

        # Carl's control mail without AUTH (port 25): refused, nothing changes.
        rc, transcript = self.pf.send_raw(AGENTS["carl"], [CONTROL],
                                          self.control_mail("state in-email", "ctl1@sink.test"))
        self.assertNotEqual(rc, 0, transcript)
        self.assertIn("550", ph.swaks_reply_codes(transcript), transcript)
        self.assertEqual(self.states()[AGENTS["carl"]]["state"], "offline")
        ph.wait_until(lambda: [l for l in self.milter.stderr_text().splitlines()
                               if "kind=agent_control" in l and "control:refused" in l], 10,
                      what="the refusal logged")

        # The same mail from Carl's SMTP AUTH account: applied, never delivered or ticketed.
        path = os.path.join(self.tmp, "control.eml")
        with open(path, "w") as f:
            f.write(self.control_mail("state in-email", "ctl2@sink.test"))
        rc, transcript = self.pf.send_auth("carl", PASSWORD, "--from", AGENTS["carl"],
                                           "--to", CONTROL, "--data", "@" + path)
        self.assertEqual(rc, 0, transcript)
        self.assertIn("235", ph.swaks_reply_codes(transcript), transcript)
        carl = self.states()[AGENTS["carl"]]
        self.assertEqual(carl["state"], "in-email")
        self.assertTrue(carl["available"])
        self.assertEqual(ph.deskctl(self.cfg, "tickets", "--json"), [])

    def test_2_ten_tickets_round_robin_over_available_agents(self):
        for n in range(1, 11):
            rc, transcript = self.pf.send_raw(f"c{n}@example.test", ["support@example.test"],
                                              self.customer_mail(n))
            self.assertEqual(rc, 0, transcript)
        per_agent = {}
        for n in range(1, 11):
            dumps = ph.wait_until(lambda: self.sink_dumps(f"q{n}@customer.example"), 30,
                                  what=f"ticket mail {n} at an agent")
            # Exactly one agent mailbox received it, once.
            self.assertEqual(len(dumps), 1, f"mail {n}")
            rcpts = _rcpts(dumps[0])
            self.assertEqual(len(rcpts), 1, f"mail {n}: {rcpts}")
            per_agent.setdefault(rcpts[0], []).append(n)
        self.assertEqual(sorted(per_agent), [AGENTS["alice"], AGENTS["carl"]])  # Bob is away
        self.assertEqual(len(per_agent[AGENTS["alice"]]), 5)
        self.assertEqual(len(per_agent[AGENTS["carl"]]), 5)
        tickets = ph.deskctl(self.cfg, "tickets", "--json", "--sort", "number")
        self.assertEqual(len(tickets), 10)
        for t in tickets:
            n = int(t["title"].split()[-1])
            self.assertIn(n, per_agent[t["assigned_agent"]])
        # The standard comment names the assignee, and the assignment is an event.
        t1 = ph.deskctl(self.cfg, "ticket", "1", "--json")
        self.assertRegex(t1["events"][0]["text"], r"Assigned agent: (Alice|Carl) <")
        self.assertIn("assigned", [e["type"] for e in t1["events"]])
        mine = ph.deskctl(self.cfg, "tickets", "--json", "--assignee", AGENTS["alice"])
        self.assertEqual(len(mine), 5)
        self.assertEqual(ph.deskctl(self.cfg, "tickets", "--json", "--unassigned"), [])
        # The control mails were never delivered to the desk's Maildir.
        for m in self.pf.maildir_messages():
            self.assertNotIn("ctl", m.get("Message-ID", ""))

    def test_3_customer_reply_reaches_the_assigned_agent(self):
        t1 = ph.deskctl(self.cfg, "ticket", "1", "--json")
        assignee = t1["assigned_agent"]
        rc, transcript = self.pf.send_raw("c1@example.test", ["support@example.test"], (
            "From: Customer 1 <c1@example.test>\r\nTo: support@example.test\r\n"
            "Subject: Re: [#1] Question 1\r\nMessage-ID: <r1@customer.example>\r\n"
            "In-Reply-To: <q1@customer.example>\r\nDate: Sat, 21 Nov 2026 10:30:00 +0000\r\n"
            "\r\nAny news?\r\n"))
        self.assertEqual(rc, 0, transcript)
        dumps = ph.wait_until(lambda: self.sink_dumps("r1@customer.example"), 30,
                              what="the reply at the agent")
        self.assertEqual(len(dumps), 1)
        self.assertEqual(_rcpts(dumps[0]), [assignee])
        self.assertEqual(ph.deskctl(self.cfg, "ticket", "1", "--json")["message_count"], 2)

    def test_4_states_and_assignments_survive_a_restart(self):
        before = ph.deskctl(self.cfg, "tickets", "--json", "--sort", "number")
        self.milter.stop()
        self.milter.start()
        states = self.states()
        self.assertEqual(states[AGENTS["alice"]]["state"], "in-email")
        self.assertEqual(states[AGENTS["bob"]]["state"], "away")
        self.assertEqual(states[AGENTS["carl"]]["state"], "in-email")
        after = ph.deskctl(self.cfg, "tickets", "--json", "--sort", "number")
        self.assertEqual([t["assigned_agent"] for t in before],
                         [t["assigned_agent"] for t in after])
        # Routing goes on after the restart: a new ticket reaches one available agent.
        rc, transcript = self.pf.send_raw("c11@example.test", ["support@example.test"],
                                          self.customer_mail(11))
        self.assertEqual(rc, 0, transcript)
        dumps = ph.wait_until(lambda: self.sink_dumps("q11@customer.example"), 30,
                              what="ticket mail 11 at an agent")
        self.assertEqual(len(dumps), 1)
        self.assertIn(_rcpts(dumps[0])[0], (AGENTS["alice"], AGENTS["carl"]))
        queues = ph.deskctl(self.cfg, "queues", "--json")
        self.assertEqual(queues[0]["status"], "online")
        self.assertEqual(queues[0]["agents_available"], 2)
        self.assertEqual(queues[0]["waiting_tickets"], 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
