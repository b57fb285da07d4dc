#!/usr/bin/env python3
"""End-to-end metrics (issue 10 item 5): a real Prometheus scrapes a private deskmilter.

Mail goes through the private Postfix to a deskmilter whose metrics listener is on (loopback, a free
port) and whose scanner uses a signature database the test writes. A private Prometheus (Debian's
`prometheus`, 1 s scrape interval, the example alert rules loaded) scrapes it; PromQL queries through
its HTTP API must count exactly what was sent, by verdict, queue, kind, automatic-mail class and
rule, attachment outcome, virus name and failure class; the latency histogram counts every timed
decision; the store and scanner gauges match the store and the database files.
Also: `promtool check rules` and `promtool test rules` on docs/prometheus/; `deskctl stats --json`
counts the same mail from the store's per-minute counts and from the endpoint; the text form draws
the chart; the listener answers only GET /metrics (404, 405, 431 otherwise).
The expected counts come from what the SMTP client was answered (250 / 550 / 451), not from the
metrics themselves. Needs root, Postfix, swaks, prometheus and promtool; about 30 s.
"""

import json
import os
import re
import socket
import subprocess
import sys
import time
import unittest
import urllib.parse
import urllib.request
from email.message import EmailMessage
import email.policy

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postfix_harness as ph  # noqa: E402

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"
SOURCE = os.environ.get("DESK_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
RULES = os.path.join(SOURCE, "docs", "prometheus", "deskmilter.rules.yml")
RULES_TEST = os.path.join(SOURCE, "docs", "prometheus", "deskmilter.rules.test.yml")

FAULT = "DESK-E2E-METRICS-SCANNER-FAULT"
EICAR = ("X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$" + "H+H*").encode()
EICAR_HDB = "44d88612fea8a8f36de82e1278abb02f:68:Test.EICAR\n"
DB_MTIME = 1_700_000_000  # the signature file's mtime: the database timestamp without a .cvd

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
enabled = true
database_dir = "{dir}/db"
temp_dir = "{dir}/spool"

[metrics]
http_enabled = true
http_port = {metrics_port}
flush_seconds = 1

[[queue]]
name = "support"
addresses = ["support@example.test"]

[[queue]]
name = "sales"
addresses = ["sales@example.test"]
"""


def _missing():
    why = ph.missing_prerequisites()
    if why:
        return why
    for tool in (PROMETHEUS, PROMTOOL):
        if not os.path.exists(tool):
            return f"{tool} not installed (scripts/install-deps.sh installs the prometheus package)"
    return None


def mail(mid, rcpt, subject="help", attachment=None, headers=()):
    m = EmailMessage()
    m["From"] = "Carol <carol@customer.test>"
    m["To"] = rcpt
    m["Subject"] = subject
    m["Message-Id"] = f"<{mid}>"
    for k, v in headers:
        m[k] = v
    m.set_content("please help\n")
    if attachment:
        name, data = attachment
        m.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return m.as_bytes(policy=email.policy.SMTP)


def http(port, request):
    """Sends a raw request to 127.0.0.1:port and returns the status line."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return data.split(b"\r\n", 1)[0].decode()


class MetricsTest(ph.MilterPostfixCase):
    CONFIG = CONFIG
    PREFIX = "desk-e2e-metrics-"
    REQUIRES = (PROMETHEUS, PROMTOOL)

    @classmethod
    def setUpClass(cls):
        why = _missing()
        if why:
            # Never skip: a missing tool is a broken test machine.
            raise RuntimeError(f"test_metrics cannot run: {why}")
        cls.metrics_port = ph.free_port()
        cls.CONFIG = CONFIG.replace("{metrics_port}", str(cls.metrics_port))
        super().setUpClass()
        cls.prom = None
        try:
            cls.start_prometheus()
            cls.send_all()
        except Exception:
            cls.stop_prometheus()
            cls._teardown()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.stop_prometheus()
        super().tearDownClass()

    @classmethod
    def prepare(cls):
        db = os.path.join(cls.tmp, "deskmilter", "db")
        os.makedirs(db, exist_ok=True)
        path = os.path.join(db, "eicar.hdb")
        with open(path, "w") as f:
            f.write(EICAR_HDB)
        os.utime(path, (DB_MTIME, DB_MTIME))
        os.environ["DESKMILTER_TEST_SCANNER_FAULT"] = FAULT

    @classmethod
    def start_prometheus(cls):
        pdir = os.path.join(cls.tmp, "prometheus")
        os.makedirs(os.path.join(pdir, "data"), exist_ok=True)
        cls.prom_port = ph.free_port()
        conf = os.path.join(pdir, "prometheus.yml")
        with open(conf, "w") as f:
            f.write(f"""\
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - {RULES}
scrape_configs:
  - job_name: deskmilter
    static_configs:
      - targets: ["127.0.0.1:{cls.metrics_port}"]
""")
        cls.prom_log = open(os.path.join(pdir, "prometheus.log"), "wb")
        cls.prom = subprocess.Popen(
            [PROMETHEUS, f"--config.file={conf}", f"--storage.tsdb.path={pdir}/data",
             f"--web.listen-address=127.0.0.1:{cls.prom_port}", "--web.enable-lifecycle"],
            stdout=cls.prom_log, stderr=cls.prom_log, cwd=pdir)
        ph.wait_port(cls.prom_port, 30, cls.prom)

        def ready():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{cls.prom_port}/-/ready",
                                            timeout=5) as r:
                    return r.status == 200
            except OSError:
                return False
        ph.wait_until(ready, 60, interval=0.2, what="prometheus ready")

    @classmethod
    def stop_prometheus(cls):
        if getattr(cls, "prom", None) is not None and cls.prom.poll() is None:
            cls.prom.terminate()
            try:
                cls.prom.wait(20)
            except subprocess.TimeoutExpired:
                cls.prom.kill()
                cls.prom.wait()
        cls.prom = None
        if getattr(cls, "prom_log", None) is not None:
            cls.prom_log.close()
            cls.prom_log = None

    @classmethod
    def send_all(cls):
        """Sends the mail mix and records, per message, the queue and the answer's class."""
        cls.sent = []  # (queue, kind, verdict from the SMTP answer)
        pid = os.getpid()

        def send(tag, rcpt, queue, kind, **kw):
            mid = f"{tag}.{pid}@customer.test"
            rc, transcript = cls.pf.send_raw("carol@customer.test", rcpt, mail(mid, rcpt, **kw))
            codes = ph.swaks_reply_codes(transcript)
            last = codes[-2] if len(codes) >= 2 and codes[-1] == "221" else codes[-1]
            verdict = {"2": "accept", "5": "reject", "4": "tempfail"}[last[0]]
            cls.sent.append((queue, kind, verdict))
            return mid, verdict

        for i in range(3):
            send(f"s{i}", "support@example.test", "support", "new")
        for i in range(2):
            send(f"b{i}", "sales@example.test", "sales", "new")
        cls.virus_mid, v = send("virus", "support@example.test", "support", "attachment",
                                attachment=("eicar.com", EICAR))
        assert v == "reject", v
        cls.fault_mid, v = send("fault", "support@example.test", "support", "attachment",
                                attachment=("data.bin", FAULT.encode() * 4))
        assert v == "tempfail", v
        send("ooo", "support@example.test", "support", "auto_reply", subject="Out of office",
             headers=[("Auto-Submitted", "auto-replied")])
        # Not support mail: passed untouched at DATA, never counted.
        rc, transcript = cls.pf.send_raw("carol@customer.test", "someone@example.test",
                                         mail(f"other.{pid}@customer.test", "someone@example.test"))
        assert rc == 0, transcript

    # --- helpers -------------------------------------------------------------------------------

    def query(self, expr):
        url = (f"http://127.0.0.1:{self.prom_port}/api/v1/query?" +
               urllib.parse.urlencode({"query": expr}))
        with urllib.request.urlopen(url, timeout=10) as r:
            body = json.load(r)
        self.assertEqual(body["status"], "success", body)
        return body["data"]["result"]

    def by(self, expr, label):
        return {r["metric"].get(label, ""): float(r["value"][1]) for r in self.query(expr)}

    def scalar(self, expr):
        result = self.query(expr)
        self.assertEqual(len(result), 1, f"{expr}: {result}")
        return float(result[0]["value"][1])

    def wait_scraped(self):
        """Waits until Prometheus has scraped a sample with every message counted."""
        n = len(self.sent)

        def done():
            r = self.query("sum(deskmilter_messages_total)")
            return r and float(r[0]["value"][1]) == n
        ph.wait_until(done, 60, interval=0.3, what=f"prometheus to see {n} messages")

    def diag(self):
        return f"\n--- deskmilter stderr ---\n{self.milter.stderr_text()[-3000:]}"

    def milter_line(self, mid):
        for line in self.milter.stderr_text().splitlines():
            if f"msgid={mid}" in line or f"msgid=<{mid}>" in line:
                return line
        self.fail(f"no log line for {mid}" + self.diag())

    def virus_name(self):
        """The signature name deskmilter logged for the EICAR attachment (libclamav decorates
        names from unofficial databases)."""
        for line in self.milter.stderr_text().splitlines():
            m = re.search(r"attachment=eicar\.com, .*virus=([^,\s]+)", line)
            if m:
                self.assertTrue(m.group(1).startswith("Test.EICAR"), line)
                return m.group(1)
        self.fail("no attachment log line for eicar.com" + self.diag())

    # --- tests ---------------------------------------------------------------------------------

    def test_promtool_checks_the_example_rules(self):
        for argv in ([PROMTOOL, "check", "rules", RULES], [PROMTOOL, "test", "rules", RULES_TEST]):
            p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               cwd=os.path.dirname(RULES_TEST))
            self.assertEqual(p.returncode, 0, p.stdout.decode())
            self.assertIn("SUCCESS", p.stdout.decode())

    def test_prometheus_counts_what_was_sent(self):
        self.wait_scraped()
        want_verdict, want_queue, want_kind = {}, {}, {}
        for queue, kind, verdict in self.sent:
            want_verdict[verdict] = want_verdict.get(verdict, 0) + 1
            want_queue[queue] = want_queue.get(queue, 0) + 1
        self.assertEqual(self.by("sum by (verdict) (deskmilter_messages_total)", "verdict"),
                         want_verdict, self.diag())
        self.assertEqual(self.by("sum by (queue) (deskmilter_messages_total)", "queue"),
                         want_queue)
        kinds = self.by("sum by (kind) (deskmilter_messages_total)", "kind")
        self.assertEqual(kinds.get("new"), 5.0, kinds)
        self.assertEqual(kinds.get("attachment"), 2.0, kinds)
        self.assertEqual(sum(kinds.values()), len(self.sent))
        # Automatic mail: the class, and the rule deskmilter logged for that message.
        rule = re.search(r"rule=([^,]+)", self.milter_line(f"ooo.{os.getpid()}@customer.test"))
        self.assertIsNotNone(rule)
        auto = self.query("deskmilter_auto_mail_total")
        self.assertEqual([(r["metric"]["class"], r["metric"]["rule"], r["value"][1]) for r in auto],
                         [("auto_reply", rule.group(1), "1")])
        # Attachments, viruses, failures.
        self.assertEqual(self.by('deskmilter_viruses_total', "name"), {self.virus_name(): 1.0})
        att = {(r["metric"]["outcome"], r["metric"]["action"]): float(r["value"][1])
               for r in self.query("deskmilter_attachments_total")}
        self.assertEqual(att.get(("infected", "reject")), 1.0, att)
        self.assertEqual(att.get(("scanner_error", "tempfail")), 1.0, att)
        # Failure classes are the core's (core/outcome.h FailureClassName): the virus and the
        # scanner error each decided one message.
        self.assertEqual(self.by("deskmilter_failures_total", "class"),
                         {"infected": 1.0, "scanner_error": 1.0})
        # Every decision here was timed.
        self.assertEqual(self.scalar("deskmilter_eom_duration_seconds_count"), len(self.sent))
        self.assertEqual(self.scalar('deskmilter_eom_duration_seconds_bucket{le="+Inf"}'),
                         len(self.sent))
        self.assertGreater(self.scalar("deskmilter_eom_duration_seconds_sum"), 0)

    def test_store_and_scanner_gauges(self):
        self.wait_scraped()
        used = self.scalar("deskmilter_store_used_bytes")
        size = self.scalar("deskmilter_store_map_bytes")
        data = os.path.getsize(os.path.join(self.milter.dir, "store", "data.mdb"))
        self.assertGreater(used, 0)
        self.assertLessEqual(used, size)
        self.assertLessEqual(used, data)  # LMDB's file holds at least the pages in use
        self.assertEqual(self.scalar("deskmilter_scanner_database_timestamp_seconds"), DB_MTIME)
        self.assertEqual(self.scalar("deskmilter_scanner_database_version"), 0)
        self.assertEqual(self.scalar("deskmilter_scanner_signatures"), 1)
        # No reload failed (tests/faults/test_scanner_db.py breaks the database).
        self.assertEqual(self.scalar("deskmilter_scanner_database_stale"), 0)
        self.assertEqual(self.scalar("deskmilter_scanner_database_reload_failures_total"), 0)
        age = self.scalar("deskmilter_scanner_database_age_seconds")
        self.assertGreaterEqual(age, time.time() - DB_MTIME - 120)
        # The example rule fires on this old database (Prometheus evaluates it; "for: 1h" keeps it
        # pending), and the rules all evaluate without error.
        ph.wait_until(lambda: self.alert_state("DeskmilterScannerDatabaseOld") == "pending", 30,
                      interval=0.3, what="DeskmilterScannerDatabaseOld pending")
        with urllib.request.urlopen(f"http://127.0.0.1:{self.prom_port}/api/v1/rules",
                                    timeout=10) as r:
            groups = json.load(r)["data"]["groups"]
        rules = [rule for g in groups for rule in g["rules"]]
        self.assertEqual(len(rules), 6)
        self.assertTrue(all(rule["health"] in ("ok", "unknown") for rule in rules), rules)

    def alert_state(self, name):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.prom_port}/api/v1/alerts",
                                    timeout=10) as r:
            alerts = json.load(r)["data"]["alerts"]
        states = [a["state"] for a in alerts if a["labels"]["alertname"] == name]
        return states[0] if states else None

    def test_deskctl_stats(self):
        n = len(self.sent)

        def stored():
            s = ph.deskctl(self.cfg, "stats", "--json")
            return s if s["last_hour"]["total"] == n else None
        s = ph.wait_until(stored, 30, interval=0.3, what=f"deskctl stats to count {n} messages")
        for verdict in ("accept", "reject", "tempfail"):
            self.assertEqual(s["last_hour"][verdict], sum(1 for _, _, v in self.sent if v == verdict))
        self.assertEqual(len(s["minutes"]), 60)
        self.assertEqual(sum(m["total"] for m in s["minutes"]), n)
        self.assertGreater(s["store"]["used_bytes"], 0)
        daemon = s["daemon"]
        self.assertTrue(daemon["enabled"])
        self.assertIsNone(daemon["error"])
        total = sum(m["value"] for m in daemon["metrics"] if m["name"] == "deskmilter_messages_total")
        self.assertEqual(total, n)
        rc, out, err = ph.deskctl(self.cfg, "stats", json_output=False)
        self.assertEqual(rc, 0, err)
        self.assertIn(f"last hour (from the store): {n} message(s)", out)
        self.assertIn("█", out)  # at least one full block: the busiest minute
        self.assertRegex(out, r"viruses: +" + re.escape(self.virus_name()) + " 1")

    def test_deskctl_stats_without_the_endpoint(self):
        # The chart comes from the store alone: with the listener off, or unreachable, stats still
        # counts every message and says why the daemon's counters are missing (exit 0).
        n = len(self.sent)
        with open(self.cfg) as f:
            text = f.read()
        for name, replace, want in (
                ("off", ("http_enabled = true", "http_enabled = false"),
                 "the metrics listener is off"),
                ("refused", (f"http_port = {self.metrics_port}", f"http_port = {ph.free_port()}"),
                 "connect: Connection refused")):
            cfg = os.path.join(self.tmp, f"stats-{name}.toml")
            with open(cfg, "w") as f:
                f.write(text.replace(*replace))
            s = ph.wait_until(
                lambda: (lambda j: j if j["last_hour"]["total"] == n else None)(
                    ph.deskctl(cfg, "stats", "--json")),
                30, interval=0.3, what=f"deskctl stats ({name}) to count {n} messages")
            self.assertEqual(s["daemon"]["metrics"], [])
            if name == "off":
                self.assertFalse(s["daemon"]["enabled"])
                self.assertIsNone(s["daemon"]["error"])
            else:
                self.assertEqual(s["daemon"]["error"], "connect: Connection refused")
            rc, out, err = ph.deskctl(cfg, "stats", json_output=False)
            self.assertEqual(rc, 0, err)
            self.assertIn(f"(from the store): {n} message(s)", out)
            self.assertIn(want, out)

    def test_a_busy_metrics_port_stops_the_start(self):
        # A second daemon asked to serve metrics on the same port refuses to start, naming it.
        other = os.path.join(self.tmp, "other")
        os.makedirs(other, exist_ok=True)
        cfg = os.path.join(other, "deskmilter.toml")
        with open(self.cfg) as f:
            text = f.read()
        text = text.replace(f"inet:{self.milter.port}@", f"inet:{ph.free_port()}@")
        text = text.replace(os.path.join(self.milter.dir, "store"), os.path.join(other, "store"))
        with open(cfg, "w") as f:
            f.write(text)
        binary = os.environ.get("DESKMILTER") or "build/deskmilter"
        p = subprocess.run([binary, "-f", "-c", cfg], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        out = p.stdout.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 1, out)
        self.assertIn(f"metrics.http_address/http_port 127.0.0.1:{self.metrics_port}: "
                      "Address already in use", out)

    def test_listener_answers_only_get_metrics(self):
        port = self.metrics_port
        self.assertEqual(http(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"), "HTTP/1.1 200 OK")
        self.assertEqual(http(port, b"GET /other HTTP/1.1\r\n\r\n"), "HTTP/1.1 404 Not Found")
        self.assertEqual(http(port, b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n"),
                         "HTTP/1.1 405 Method Not Allowed")
        self.assertEqual(http(port, b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n"),
                         "HTTP/1.1 431 Request Header Fields Too Large")
        self.assertEqual(http(port, b"garbage\r\n\r\n"), "HTTP/1.1 400 Bad Request")
        # A client that connects and says nothing is dropped after the read timeout; the next
        # scrape is served.
        idle = socket.create_connection(("127.0.0.1", port), timeout=10)
        try:
            self.assertEqual(http(port, b"GET /metrics HTTP/1.0\r\n\r\n"), "HTTP/1.1 200 OK")
        finally:
            idle.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
