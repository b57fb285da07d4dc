"""The first hour of a mail admin: start-up, -n, the installation id, the log, deskctl's store.

No Postfix here: each test runs the built binaries ($DESKMILTER, $DESKCTL) in a temp directory.

test_socket_in_use_exits_1: a port another process listens on is a runtime failure (exit 1, which
  systemd's Restart= retries), not a configuration error (78, which RestartPreventExitStatus stops).
test_check_loads_scanner_database: `deskmilter -n` with [scanner] enabled fails on an empty
  database directory, naming the key, and passes with a (test-written) signature file.
test_installation_id: without loops.installation_id the start line names a random id kept in the
  store: the same after a restart, another for another store, never "localhost"; a configured id wins.
test_start_line_and_stderr_fallback: the start line says whether scanning is on and which database
  version is loaded; without -f and without a syslog daemon the log goes to stderr.
test_deskctl_no_store: reads against a store path that does not exist say "no store at PATH", exit 1.
test_tickets_sort: `deskctl tickets` lists by last update by default, --sort number by number.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postfix_harness as ph  # noqa: E402

DESKMILTER = os.path.abspath(os.environ.get("DESKMILTER", "build/deskmilter"))
DESKCTL = os.path.abspath(os.environ.get("DESKCTL", "build/deskctl"))
# A test signature DB (MD5:size:name), the EICAR test file's hash; plain .hdb carries no version.
EICAR_HDB = "44d88612fea8a8f36de82e1278abb02f:68:Eicar-Test-Signature\n"


def config(tmp, port, extra=""):
    return f"""
[milter]
socket = "inet:{port}@127.0.0.1"
[store]
dir = "{tmp}/store"
spool_dir = "{tmp}/spool"
[scanner]
enabled = false
[[queue]]
name = "support"
addresses = ["support@example.com"]
{extra}"""


def read(path):
    with open(path) as f:
        return f.read()


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


class StartupTest(unittest.TestCase):
    def setUp(self):
        for b in (DESKMILTER, DESKCTL):
            self.assertTrue(os.access(b, os.X_OK), f"{b} not built (set DESKMILTER/DESKCTL)")
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = self._tmp.name
        os.makedirs(os.path.join(self.tmp, "spool"))

    def tearDown(self):
        self._tmp.cleanup()

    def start_and_stop(self, cfg, args=("-f",), env=None):
        """Starts deskmilter, waits for its start line, stops it; returns its stderr."""
        log = os.path.join(self.tmp, "milter.log")
        with open(log, "wb") as out:
            p = subprocess.Popen([DESKMILTER, *args, "-c", cfg], stdout=out, stderr=out,
                                 env=env or os.environ, cwd=self.tmp)
            try:
                ph.wait_until(lambda: "starting deskmilter" in read(log) or
                              p.poll() is not None, 10, what="deskmilter start line")
            finally:
                if p.poll() is None:
                    p.terminate()
                p.wait(10)
        text = read(log)
        self.assertIn("starting deskmilter", text, text)
        return text

    def test_socket_in_use_exits_1(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen(1)
            port = s.getsockname()[1]
            cfg = write(os.path.join(self.tmp, "d.toml"), config(self.tmp, port))
            p = subprocess.run([DESKMILTER, "-f", "-c", cfg], capture_output=True, text=True,
                               timeout=30, cwd=self.tmp)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("milter.socket", p.stderr)
        self.assertIn("cannot listen", p.stderr)
        # A bad socket spec is still a configuration error.
        cfg = write(os.path.join(self.tmp, "bad.toml"),
                    config(self.tmp, 1).replace('"inet:1@127.0.0.1"', '"inet:x@127.0.0.1"'))
        p = subprocess.run([DESKMILTER, "-f", "-c", cfg], capture_output=True, text=True,
                           timeout=30, cwd=self.tmp)
        self.assertEqual(p.returncode, 78, p.stderr)

    def test_check_loads_scanner_database(self):
        db = os.path.join(self.tmp, "db")
        os.makedirs(db)
        text = config(self.tmp, ph.free_port()).replace(
            "enabled = false", f'enabled = true\ndatabase_dir = "{db}"')
        cfg = write(os.path.join(self.tmp, "d.toml"), text)
        p = subprocess.run([DESKMILTER, "-n", "-c", cfg], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("scanner.database_dir", p.stderr)
        self.assertNotIn(": ok", p.stderr)
        write(os.path.join(db, "eicar.hdb"), EICAR_HDB)
        p = subprocess.run([DESKMILTER, "-n", "-c", cfg], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr.strip(), f"{cfg}: ok")

    def installation_id(self, log):
        line = [l for l in log.splitlines() if "starting deskmilter" in l][0]
        return line.rsplit("installation_id ", 1)[1].strip()

    def test_installation_id(self):
        port = ph.free_port()
        cfg = write(os.path.join(self.tmp, "d.toml"), config(self.tmp, port))
        first = self.installation_id(self.start_and_stop(cfg))
        self.assertRegex(first, r"^[0-9a-f]{24}$")
        self.assertEqual(self.installation_id(self.start_and_stop(cfg)), first)
        # deskctl stamps (and recognises) mail with the same id as the daemon.
        path = write(os.path.join(self.tmp, "s.eml"), "From: c@customer.test\r\n"
                     "Subject: x\r\nMessage-ID: <s1@customer.test>\r\n\r\nbody\r\n")
        p = subprocess.run([DESKCTL, "-c", cfg, "ingest", "--dry-run", "--mail-from",
                            "c@customer.test", "--rcpt", "support@example.com", path],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        stamps = [h["value"] for h in json.loads(p.stdout)["header_changes"]
                  if h["name"] == "X-Deskmilter-Loop"]
        self.assertEqual(stamps, [first])
        other = write(os.path.join(self.tmp, "o.toml"),
                      config(self.tmp, port).replace(f"{self.tmp}/store", f"{self.tmp}/store2"))
        second = self.installation_id(self.start_and_stop(other))
        self.assertRegex(second, r"^[0-9a-f]{24}$")
        self.assertNotEqual(second, first)
        fixed = write(os.path.join(self.tmp, "f.toml"),
                      config(self.tmp, port, '[loops]\ninstallation_id = "desk-a"\n'))
        self.assertEqual(self.installation_id(self.start_and_stop(fixed)), "desk-a")

    def test_start_line_and_stderr_fallback(self):
        port = ph.free_port()
        cfg = write(os.path.join(self.tmp, "d.toml"), config(self.tmp, port))
        log = self.start_and_stop(cfg)
        self.assertIn("scanning off", log)
        db = os.path.join(self.tmp, "db")
        os.makedirs(db)
        write(os.path.join(db, "eicar.hdb"), EICAR_HDB)
        cfg = write(os.path.join(self.tmp, "s.toml"), config(self.tmp, port).replace(
            "enabled = false", f'enabled = true\ndatabase_dir = "{db}"'))
        # Without -f and with stderr not a terminal deskmilter wants syslog; with no daemon at the
        # syslog path it must log to stderr instead of nowhere.
        env = dict(os.environ, DESKMILTER_TEST_SYSLOG_PATH=os.path.join(self.tmp, "no-syslog"))
        log = self.start_and_stop(cfg, args=(), env=env)
        self.assertIn("no syslog daemon reachable", log)
        self.assertIn("scanning on (database version 0, 1 signatures)", log)

    def test_deskctl_no_store(self):
        cfg = write(os.path.join(self.tmp, "d.toml"),
                    config(self.tmp, 1).replace(f'"{self.tmp}/store"', '"run/store"'))
        elsewhere = os.path.join(self.tmp, "elsewhere")
        os.makedirs(elsewhere)
        for args in (["tickets"], ["ticket", "1"], ["ticket", "close", "1"]):
            p = subprocess.run([DESKCTL, "-c", cfg, *args], capture_output=True, text=True,
                               cwd=elsewhere, timeout=30)
            self.assertEqual(p.returncode, 1, (args, p.stdout, p.stderr))
            self.assertIn(f"deskctl: no store at {elsewhere}/run/store", p.stderr)
            self.assertEqual(p.stdout, "")
            self.assertFalse(os.path.exists(os.path.join(elsewhere, "run")))

    def ingest(self, cfg, mid, subject, extra=""):
        path = write(os.path.join(self.tmp, "m.eml"),
                     f"From: c@customer.test\r\nTo: support@example.com\r\nSubject: {subject}\r\n"
                     f"Message-ID: <{mid}>\r\n{extra}\r\nbody\r\n")
        p = subprocess.run([DESKCTL, "-c", cfg, "ingest", "--mail-from", "c@customer.test",
                            "--rcpt", "support@example.com", path],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)

    def test_tickets_sort(self):
        cfg = write(os.path.join(self.tmp, "d.toml"), config(self.tmp, 1))
        self.ingest(cfg, "a@customer.test", "first")
        self.ingest(cfg, "b@customer.test", "second")
        # Ticket times have a one-second grain: wait so the reply is visibly later.
        time.sleep(1.1)
        self.ingest(cfg, "c@customer.test", "Re: first", "In-Reply-To: <a@customer.test>\r\n")
        got = ph.deskctl(cfg, "tickets", "--json", binary=DESKCTL)
        self.assertEqual([t["number"] for t in got], [1, 2])
        got = ph.deskctl(cfg, "tickets", "--sort", "updated", "--limit", "1", "--json",
                         binary=DESKCTL)
        self.assertEqual([t["number"] for t in got], [1])
        got = ph.deskctl(cfg, "tickets", "--sort", "number", "--json", binary=DESKCTL)
        self.assertEqual([t["number"] for t in got], [2, 1])
        rc, out, err = ph.deskctl(cfg, "tickets", binary=DESKCTL, json_output=False)
        self.assertEqual(rc, 0, err)
        rows = [l.split()[0] for l in out.splitlines()[1:] if l.strip()]
        self.assertEqual(rows, ["1", "2"], out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
