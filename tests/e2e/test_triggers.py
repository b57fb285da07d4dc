"""End-to-end tests of triggers, automatic answers and the outbox (issue 14) through a private Postfix.

Set-up: one private Postfix (support@example.test delivered to its Maildir; sink.test relayed to an
smtp-sink) with deskmilter as its milter, and deskmilter's outbox submitting to that same Postfix
(outbox.smtp_port), so an answer takes the real path: outbox -> Postfix smtpd (and the milter,
which lets it pass: no support recipient) -> smtp-sink. Customers are at sink.test.

test_1_defaults_inactive: the three default triggers exist, inactive; a customer's mail opens a
  ticket and nothing is queued (the ticket has no automatic message).
test_2_first_reply: First Reply enabled: exactly one answer reaches the sink, with the null
  envelope sender, Auto-Submitted: auto-replied, From the queue's address, the ticket tag in the
  subject, In-Reply-To/References to the customer's mail, the loop stamp and the text.
test_3_other_defaults_while_online: Request Contact Details and All Agents Offline enabled while
  the support queue is Online (it has no agents: a shared mailbox, within its hours): their
  conditions do not hold, nothing is queued.
test_4_autoresponder_gets_one_answer: an auto-responder customer answers our answer five times
  with Auto-Submitted: auto-replied: its mails join the ticket, and it got exactly one answer.
test_5_ten_mails_one_acknowledgement: a customer opens ten tickets in a row: one acknowledgement.
test_6_kill9_with_100_answers_queued: 100 customers write; deskmilter is killed with SIGKILL while
  their answers are being sent; while it is down `deskctl outbox` lists the answers still queued
  (text and --json), and `deskctl forget` of one customer deletes that customer's queued answer
  (outbox_removed 1); after the restart every other customer's answer reaches the sink, the
  forgotten one's does not (unless the MTA had it before the kill), and the copies of one answer (a
  resend after the kill) all carry the same Message-ID.
test_7_deskctl_trigger_commands: create, show, search, edit, clone, enable/disable, delete and
  --sort status through deskctl beside the running daemon; a file with an unknown field, condition
  or action is refused naming it and changes nothing; a created trigger acts on the next mail
  (set_tag and a templated answer).
test_8_refused_answer_is_recorded_on_the_ticket: the MTA refuses the answer's recipient (5xx): the
  row is dropped and an outbound_failed event with the reply is recorded on the ticket.
test_9_away_and_invisible_defaults: the account status comes from agent states and business
  hours (core/routing.h): Request Contact Details answers on the sales queue (Away: its agent is
  offline) and All Agents Offline on the night queue (Invisible: a holiday), each exactly once
  with its text; the Online support queue gets neither.
TwoInstallationsTest: two Postfix + deskmilter installations (a.test and b.test, each relaying the
  other's domain to the other), First Reply enabled on both; each queue writes to the other's once:
  each answers once, the other classifies that answer auto_reply and answers nothing: one answer
  each, then silence.

No assertion depends on timing: "nothing sent" is checked in the store (no automatic message, no
outbox_queued reason), and waits for mail use generous bounds. Environment: DESKMILTER, DESKCTL;
root (Postfix). Fails when they are missing.
"""

import datetime
import email
import json
import email.policy
import os
import re
import shutil
import signal
import smtplib
import sys
import tempfile
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postfix_harness as ph  # noqa: E402

SUPPORT = "support@example.test"

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
installation_id = "desk-e2e-triggers"
flood_max = 0

[metrics]
http_enabled = true
http_port = @METRICS_PORT@

[outbox]
smtp_port = @SMTP_PORT@
retry_min = 1
retry_max = 2

[[queue]]
name = "support"
addresses = ["support@example.test"]
subject_tag = "[#{n}]"

# Away: its one agent never set a state (offline), so nobody is available.
[[queue]]
name = "sales"
addresses = ["sales@example.test"]
subject_tag = "[S#{n}]"

[[queue.agent]]
address = "sam@sink.test"
name = "Sam"
login = "sam@example.test"

# Invisible: open every day, but yesterday, today and tomorrow (UTC) are holidays.
[[queue]]
name = "night"
addresses = ["night@example.test"]
subject_tag = "[N#{n}]"
business_hours = ["mon-sun 00:00-24:00"]
time_zone = "UTC"
holidays = @HOLIDAYS@
"""


def sink_mail(raw):
    """(envelope fields, parsed message) of an smtp-sink dump."""
    env = {}
    lines = raw.split(b"\n")
    for line in lines:
        if line.startswith(b"X-Mail-Args: "):
            env["mail_from"] = (line[len(b"X-Mail-Args: "):].decode().split() or [""])[0]
        elif line.startswith(b"X-Rcpt-Args: "):
            env.setdefault("rcpts", []).append(line[len(b"X-Rcpt-Args: "):].decode().split()[0])
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    return env, msg


class TriggersTest(ph.MilterPostfixCase):
    """The harness's set-up and teardown; Postfix (with its smtp-sink) is built first, because the
    config names its SMTP port (the outbox relays through it)."""
    PREFIX = "desk-e2e-triggers-"
    REQUIRES = (ph.SMTP_SINK,)

    @classmethod
    def make_milter(cls):
        mport = ph.free_port()
        # lost@sink.test: refused by Postfix (5xx), the final failure of an answer.
        cls.pf = ph.PostfixInstance(
            cls.tmp, milter=f"inet:127.0.0.1:{mport}", sink=True,
            extra_main_cf={"smtpd_recipient_restrictions":
                           "check_recipient_access inline:{ lost@sink.test=REJECT }"})
        cls.metrics_port = ph.free_port()
        today = datetime.datetime.now(datetime.timezone.utc).date()
        holidays = [str(today + datetime.timedelta(days=d)) for d in (-1, 0, 1)]
        config = (CONFIG.replace("@SMTP_PORT@", str(cls.pf.smtp_port))
                  .replace("@METRICS_PORT@", str(cls.metrics_port))
                  .replace("@HOLIDAYS@", json.dumps(holidays)))
        cls.sent = 0
        return ph.Milter(cls.tmp, config, port=mport)

    @classmethod
    def start_mtas(cls):
        cls.servers.append(cls.pf)  # its stop() stops the sink too
        cls.pf.start()

    # --- helpers ---

    def deskctl(self, *args, **kw):
        return ph.deskctl(self.cfg, *args, **kw)

    def set_enabled(self, trigger_id, enabled):
        rc, out, err = self.deskctl("trigger", "enable" if enabled else "disable", str(trigger_id),
                                    json_output=False)
        self.assertEqual(rc, 0, out + err)

    def send(self, sender, subject, extra_headers="", message_id=None, in_reply_to=None,
             to=SUPPORT):
        """Sends one customer mail to `to` (support) and waits until it is delivered. Returns its
        id."""
        type(self).sent += 1
        mid = message_id or f"e2e{self.sent}.{time.time_ns()}@sink.test"
        data = (f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
                f"Date: Thu, 03 Dec 2026 10:00:00 +0000\r\nMessage-ID: <{mid}>\r\n")
        if in_reply_to:
            data += f"In-Reply-To: <{in_reply_to}>\r\nReferences: <{in_reply_to}>\r\n"
        data += extra_headers + "\r\nHello, a question.\r\n"
        rc, transcript = self.pf.send_raw(sender, to, data)
        self.assertEqual(rc, 0, transcript)
        self.pf.find_delivered(1, timeout=30, Message_Id=f"<{mid}>")
        return mid

    def decision_line(self, mid):
        """deskmilter's decision log line of a message (its Message-ID in msgid=...)."""
        for line in self.milter.stderr_text().splitlines():
            if mid in line and "verdict=" in line:
                return line
        self.fail(f"no decision line for {mid}")

    def ticket_of(self, mid):
        m = re.search(r"ticket=(\d+)", self.decision_line(mid))
        self.assertIsNotNone(m, self.decision_line(mid))
        return int(m.group(1))

    def automatic_messages(self, ticket):
        t = self.deskctl("ticket", str(ticket), "--json")
        return [m for m in t["messages"] if m["kind"] == "automatic"]

    def sink_for(self, rcpt):
        out = []
        for raw in self.pf.sink.messages():
            env, msg = sink_mail(raw)
            if f"<{rcpt}>" in env.get("rcpts", []):
                out.append((env, msg))
        return out

    def outbox_gauge(self):
        text = urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics",
                                      timeout=10).read().decode()
        m = re.search(r"^deskmilter_outbox_messages (\d+)$", text, re.M)
        return int(m.group(1)) if m else None

    def wait_sink_for(self, rcpt, n, timeout=60):
        return ph.wait_until(lambda: self.sink_for(rcpt) if len(self.sink_for(rcpt)) >= n else None,
                             timeout, what=f"{n} answer(s) to {rcpt} at the sink")

    # --- tests ---

    def test_1_defaults_inactive(self):
        triggers = self.deskctl("triggers", "--json")
        self.assertEqual([(t["id"], t["name"], t["status"]) for t in triggers],
                         [(1, "First Reply", "inactive"), (2, "Request Contact Details", "inactive"),
                          (3, "All Agents Offline", "inactive")])
        mid = self.send("alice@sink.test", "Nothing configured")
        ticket = self.ticket_of(mid)
        self.assertEqual(self.automatic_messages(ticket), [])
        self.assertNotIn("outbox_queued", self.decision_line(mid))

    def test_2_first_reply(self):
        self.set_enabled(1, True)
        try:
            mid = self.send("Bob Buyer <bob@sink.test>", "Where is my order?",
                            message_id="bob-1@sink.test")
            ticket = self.ticket_of(mid)
            self.assertIn("outbox_queued:1", self.decision_line(mid))
            auto = self.automatic_messages(ticket)
            self.assertEqual(len(auto), 1)
            got = self.wait_sink_for("bob@sink.test", 1)
            self.assertEqual(len(got), 1)
            env, msg = got[0]
            self.assertEqual(env["mail_from"], "<>")
            self.assertEqual(msg["Auto-Submitted"], "auto-replied")
            self.assertEqual(msg["From"], '"support" <support@example.test>')
            self.assertEqual(msg["Subject"], f"[#{ticket}] Re: Where is my order?")
            self.assertEqual(msg["In-Reply-To"], "<bob-1@sink.test>")
            self.assertIn("<bob-1@sink.test>", msg["References"])
            self.assertEqual(msg["Message-ID"], f"<{auto[0]['message_id']}>")
            self.assertEqual(msg["X-Deskmilter-Loop"], "desk-e2e-triggers")
            self.assertIn("Thank you for your message, an agent will be with you shortly.",
                          msg.get_payload())
        finally:
            self.set_enabled(1, False)

    def test_3_other_defaults_while_online(self):
        self.set_enabled(2, True)
        self.set_enabled(3, True)
        try:
            mid = self.send("dora@sink.test", "Anyone there?")
            ticket = self.ticket_of(mid)
            self.assertEqual(self.automatic_messages(ticket), [])
            self.assertNotIn("trigger:", self.decision_line(mid))
        finally:
            self.set_enabled(2, False)
            self.set_enabled(3, False)

    def test_4_autoresponder_gets_one_answer(self):
        self.set_enabled(1, True)
        try:
            mid = self.send("robot@sink.test", "Hello from a robot")
            ticket = self.ticket_of(mid)
            env, answer = self.wait_sink_for("robot@sink.test", 1)[0]
            answer_id = answer["Message-ID"].strip("<>")
            for i in range(5):
                rmid = self.send("robot@sink.test", f"Auto: Re: [#{ticket}] Hello",
                                 extra_headers="Auto-Submitted: auto-replied\r\n",
                                 in_reply_to=answer_id)
                line = self.decision_line(rmid)
                self.assertIn("auto=auto_reply", line)
                self.assertEqual(self.ticket_of(rmid), ticket)
                self.assertNotIn("outbox_queued", line)
            self.assertEqual(len(self.automatic_messages(ticket)), 1)
            self.assertEqual(len(self.sink_for("robot@sink.test")), 1)
        finally:
            self.set_enabled(1, False)

    def test_5_ten_mails_one_acknowledgement(self):
        self.set_enabled(1, True)
        try:
            tickets = set()
            queued = 0
            for i in range(10):
                mid = self.send("carol@sink.test", f"Question number {i}")
                tickets.add(self.ticket_of(mid))
                queued += "outbox_queued:1" in self.decision_line(mid)
            self.assertEqual(len(tickets), 10)
            self.assertEqual(queued, 1)
            self.assertEqual(sum(len(self.automatic_messages(t)) for t in tickets), 1)
            self.wait_sink_for("carol@sink.test", 1)
            self.assertEqual(len(self.sink_for("carol@sink.test")), 1)
        finally:
            self.set_enabled(1, False)

    def test_6_kill9_with_100_answers_queued(self):
        self.set_enabled(1, True)
        try:
            customers = [f"k{i}@sink.test" for i in range(100)]
            queued0 = self.milter.stderr_text().count("outbox_queued:1")
            sent0 = self.milter.stderr_text().count("result=sent")
            with smtplib.SMTP("127.0.0.1", self.pf.smtp_port, timeout=60) as s:
                for i, c in enumerate(customers):
                    data = (f"From: {c}\r\nTo: {SUPPORT}\r\nSubject: kill test {i}\r\n"
                            f"Message-ID: <kill{i}.{time.time_ns()}@sink.test>\r\n\r\nhi\r\n")
                    s.sendmail(c, [SUPPORT], data)
            # Every customer mail committed (its decision logged with the answer queued).
            ph.wait_until(lambda: self.milter.stderr_text().count("outbox_queued:1") >= queued0 + 100,
                          120, what="100 answers queued")
            # Killed while sending: after the first answers went out (the 5 s wait of First Reply
            # has passed), before all of them did.
            ph.wait_until(lambda: self.milter.stderr_text().count("result=sent") >= sent0 + 4, 120,
                          what="the first answers sent")
            self.milter.proc.send_signal(signal.SIGKILL)
            self.milter.proc.wait()
            sent_before = self.milter.stderr_text().count("result=sent") - sent0
            self.milter.stop()  # closes its log; the process is gone
            # `deskctl outbox` lists what is still queued: one answer per customer not yet sent
            # (one may be accepted by the MTA and not yet removed, one removed and not yet logged).
            queued = self.deskctl("outbox", "--json")
            to = [r["recipients"] for r in queued]
            self.assertTrue(all(len(r) == 1 and r[0] in customers for r in to), to)
            self.assertEqual(len({r[0] for r in to}), len(to), to)
            self.assertLessEqual(abs(len(queued) + sent_before - 100), 1,
                                 (len(queued), sent_before))
            for r in queued:
                self.assertGreater(r["ticket"], 0)
                self.assertEqual(r["kind"], "automatic")
                self.assertEqual(r["sender"], "")
                self.assertGreater(r["size"], 0)
            rc, out, err = self.deskctl("outbox", json_output=False)
            self.assertEqual(rc, 0, err)
            self.assertIn(f"outbox: {len(queued)} queued mail(s)", out)
            self.assertIn(to[-1][0], out)
            # Forgetting a customer deletes their queued answer: it is never sent.
            forgotten = to[-1][0]
            result = self.deskctl("forget", forgotten, "--json")
            self.assertEqual(result["outbox_removed"], 1, result)
            self.assertEqual(len(result["tickets"]), 1, result)
            left = self.deskctl("outbox", "--json")
            self.assertEqual([r["seq"] for r in left], [r["seq"] for r in queued[:-1]])
            self.milter.start()
            for c in customers:
                if c != forgotten:
                    self.wait_sink_for(c, 1, timeout=180)
            copies = 0
            for c in customers:
                got = self.sink_for(c)
                ids = {msg["Message-ID"] for env, msg in got}
                if c == forgotten:
                    # Only if the MTA had accepted it before the kill (not yet removed).
                    self.assertLessEqual(len(ids), 1, (c, ids))
                    continue
                self.assertEqual(len(ids), 1, (c, ids))
                copies += len(got)
            # The outbox is empty again, and the metric says so.
            ph.wait_until(lambda: self.outbox_gauge() == 0, 60, what="deskmilter_outbox_messages 0")
            print(f"\nkill -9: {sent_before} answers sent before the kill; after the restart the "
                  f"other 99 customers have theirs, {copies - 99} resent copies; the forgotten "
                  f"one's was deleted from the outbox", file=sys.stderr)
        finally:
            self.set_enabled(1, False)

    def test_7_deskctl_trigger_commands(self):
        before = self.deskctl("triggers", "--json")
        bad = {
            "colour": ('{"name": "x", "event": "ticket_opened", "actions": [{"wait": 1}], '
                       '"colour": "red"}'),
            "conditions.all[0].field: unknown condition 'mood'":
                ('{"name": "x", "event": "ticket_opened", "conditions": {"all": [{"field": '
                 '"mood", "operator": "is", "value": "x"}]}, "actions": [{"wait": 1}]}'),
            "actions[0].call_agent: unknown action":
                '{"name": "x", "event": "ticket_opened", "actions": [{"call_agent": "x"}]}',
        }
        path = os.path.join(self.tmp, "trigger.json")
        for want, text in bad.items():
            with open(path, "w") as f:
                f.write(text)
            rc, out, err = self.deskctl("trigger", "create", path, json_output=False)
            self.assertEqual(rc, 1, out + err)
            self.assertIn(want, err)
            self.assertIn("nothing changed", err)
            rc, out, err = self.deskctl("trigger", "edit", "1", path, json_output=False)
            self.assertEqual(rc, 1, out + err)
        self.assertEqual(self.deskctl("triggers", "--json"), before)
        with open(path, "w") as f:
            f.write('{"name": "VIP tagger", "description": "tags example customers",'
                    ' "enabled": true, "event": "ticket_opened",'
                    ' "conditions": {"all": [{"field": "sender_domain", "operator": "is",'
                    ' "value": "sink.test"}, {"field": "received_at", "operator": "is", "value": "support@example.test"}]},'
                    ' "actions": [{"set_tag": "vip"},'
                    ' {"send_message": "Dear {{requester.name}}, ticket {{ticket.id}} of'
                    ' {{queue.name}} is open: {{ticket.subject}}"}]}')
        rc, out, err = self.deskctl("trigger", "create", path, json_output=False)
        self.assertEqual(rc, 0, out + err)
        new_id = int(re.search(r"created trigger (\d+)", out).group(1))
        shown = self.deskctl("trigger", "show", str(new_id))
        self.assertEqual(shown["id"], new_id)
        self.assertEqual(shown["actions"][0], {"set_tag": "vip"})
        self.assertEqual([t["id"] for t in self.deskctl("trigger", "search", "VIP", "--json")],
                         [new_id])
        self.assertEqual(self.deskctl("triggers", "--json", "--sort", "status")[0]["id"], new_id)
        mid = self.send("Vera <vera@sink.test>", "Gold support")
        ticket = self.ticket_of(mid)
        t = self.deskctl("ticket", str(ticket), "--json")
        self.assertEqual(t["tags"], ["vip"])
        env, msg = self.wait_sink_for("vera@sink.test", 1)[0]
        self.assertIn(f"Dear Vera, ticket {ticket} of support is open: Gold support",
                      msg.get_payload())
        rc, out, err = self.deskctl("trigger", "clone", str(new_id), json_output=False)
        self.assertEqual(rc, 0, out + err)
        clone_id = int(re.search(r"created trigger (\d+)", out).group(1))
        clone = self.deskctl("trigger", "show", str(clone_id))
        self.assertEqual((clone["name"], clone["enabled"]), ("Copy of VIP tagger", False))
        for args in (("disable", str(new_id)), ("delete", str(new_id)), ("delete", str(clone_id))):
            rc, out, err = self.deskctl("trigger", *args, json_output=False)
            self.assertEqual(rc, 0, out + err)
        self.assertEqual(self.deskctl("triggers", "--json"), before)
        rc, out, err = self.deskctl("trigger", "show", str(new_id), json_output=False)
        self.assertEqual(rc, 1)

    def test_8_refused_answer_is_recorded_on_the_ticket(self):
        self.set_enabled(1, True)
        try:
            mid = self.send("lost@sink.test", "Nobody will read the answer")
            ticket = self.ticket_of(mid)

            def failed():
                events = self.deskctl("ticket", str(ticket), "--json")["events"]
                found = [e for e in events if e["type"] == "outbound_failed"]
                return found or None
            events = ph.wait_until(failed, 60, what="an outbound_failed event")
            self.assertEqual(len(events), 1)
            self.assertIn("lost@sink.test", events[0]["text"])
            self.assertIn("RCPT: 554", events[0]["text"])
            self.assertEqual(self.sink_for("lost@sink.test"), [])
            self.assertIn("result=failed", self.milter.stderr_text())
        finally:
            self.set_enabled(1, False)


    def test_9_away_and_invisible_defaults(self):
        """Request Contact Details answers on a queue that is Away (its agent is offline), All
        Agents Offline on a queue that is Invisible (a holiday); each sends exactly its message,
        and neither answers on the Online support queue."""
        self.set_enabled(2, True)
        self.set_enabled(3, True)
        try:
            queues = {q["name"]: q["status"] for q in self.deskctl("queues", "--json")}
            self.assertEqual(queues, {"support": "online", "sales": "away", "night": "invisible"})
            cases = (("erin@sink.test", "sales@example.test", "S", "Leave us your contact details"),
                     ("fred@sink.test", "night@example.test", "N", "We are offline at the moment"))
            for sender, to, tag, text in cases:
                mid = self.send(sender, "Hello?", to=to)
                ticket = self.ticket_of(mid)
                self.assertIn("outbox_queued:1", self.decision_line(mid))
                self.assertEqual(len(self.automatic_messages(ticket)), 1)
                got = self.wait_sink_for(sender, 1)
                self.assertEqual(len(got), 1, got)
                env, msg = got[0]
                self.assertEqual(env["mail_from"], "<>")
                self.assertEqual(msg["Auto-Submitted"], "auto-replied")
                self.assertIn(f"<{to}>", msg["From"])
                self.assertEqual(msg["Subject"], f"[{tag}#{ticket}] Re: Hello?")
                self.assertEqual(msg["In-Reply-To"], f"<{mid}>")
                self.assertIn(text, msg.get_payload())
            mid = self.send("gina@sink.test", "Online queue")
            self.assertEqual(self.automatic_messages(self.ticket_of(mid)), [])
        finally:
            self.set_enabled(2, False)
            self.set_enabled(3, False)


TWO_CONFIG = """\
[milter]
socket = "inet:{port}@127.0.0.1"
hostname = "desk.@DOMAIN@"

[store]
dir = "{dir}/store"
spool_dir = "{dir}/spool"

[scanner]
enabled = false

[loops]
installation_id = "desk-@DOMAIN@"

[outbox]
smtp_port = @SMTP_PORT@
retry_min = 1
retry_max = 2

[[queue]]
name = "support"
addresses = ["support@@DOMAIN@"]
subject_tag = "[#{n}]"
"""


class TwoInstallationsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        missing = ph.missing_prerequisites()
        if missing:
            raise RuntimeError(f"{cls.__name__} cannot run: {missing}")
        cls.tmp = tempfile.mkdtemp(prefix="desk-e2e-two-")
        cls.sites = {}
        try:
            mports = {d: ph.free_port() for d in ("a.test", "b.test")}
            pfs = {}
            for d in ("a.test", "b.test"):
                pfs[d] = ph.PostfixInstance(cls.tmp, milter=f"inet:127.0.0.1:{mports[d]}",
                                            domains=(d,), name=f"postfix-{d}")
            for d, other in (("a.test", "b.test"), ("b.test", "a.test")):
                pfs[d].extra_main_cf.update(
                    ph.edge_relay_main_cf(pfs[other].smtp_port, domains=(other,),
                                          myhostname=f"mx.{d}"))
            for d in ("a.test", "b.test"):
                mdir = os.path.join(cls.tmp, f"deskmilter-{d}")
                for sub in ("store", "spool"):
                    os.makedirs(os.path.join(mdir, sub), exist_ok=True)
                config = (TWO_CONFIG.replace("@DOMAIN@", d)
                          .replace("@SMTP_PORT@", str(pfs[d].smtp_port)))
                m = ph.Milter(cls.tmp, config, port=mports[d], name=f"deskmilter-{d}")
                cls.sites[d] = (m, pfs[d])
                m.start()
                pfs[d].start()
        except Exception:
            cls._teardown()
            raise

    @classmethod
    def _teardown(cls):
        for m, pf in cls.sites.values():
            try:
                pf.stop()
            finally:
                m.stop()
        if os.environ.get("DESK_E2E_KEEP"):
            print(f"kept {cls.tmp}", file=sys.stderr)
        else:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def tearDownClass(cls):
        cls._teardown()

    def test_one_answer_each(self):
        for d in ("a.test", "b.test"):
            m, _ = self.sites[d]
            rc, out, err = ph.deskctl(m.config_path, "trigger", "enable", "1", json_output=False)
            self.assertEqual(rc, 0, out + err)
        # Each help desk writes to the other's queue once (as a person would, no RFC 3834 mark).
        for src, dst in (("a.test", "b.test"), ("b.test", "a.test")):
            _, pf_dst = self.sites[dst]
            data = (f"From: support@{src}\r\nTo: support@{dst}\r\nSubject: hello from {src}\r\n"
                    f"Message-ID: <first.{src}@{src}>\r\n\r\nHello.\r\n")
            rc, transcript = pf_dst.send_raw(f"support@{src}", f"support@{dst}", data)
            self.assertEqual(rc, 0, transcript)
        # Each Maildir gets the other's first mail and the other's one answer.
        for d in ("a.test", "b.test"):
            _, pf = self.sites[d]
            msgs = pf.wait_delivered(2, timeout=90)
            answers = [x for x in msgs if x.get("Auto-Submitted") == "auto-replied"]
            self.assertEqual(len(answers), 1, [x.get("Subject") for x in msgs])
        for d in ("a.test", "b.test"):
            m, _ = self.sites[d]
            log = m.stderr_text()
            # One answer queued and sent; the other side's answer was auto_reply and drew none.
            self.assertEqual(log.count("outbox_queued:1"), 1, log)
            ph.wait_until(lambda: m.stderr_text().count("result=sent") == 1, 60,
                          what=f"{d}'s answer accepted by its MTA")
            lines = [l for l in log.splitlines() if "verdict=" in l and "msgid=auto." in l]
            self.assertEqual(len(lines), 1, log)
            self.assertIn("auto=auto_reply", lines[0])
            self.assertNotIn("outbox_queued", lines[0])


if __name__ == "__main__":
    unittest.main(verbosity=2)
