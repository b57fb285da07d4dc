#!/usr/bin/env python3
"""Fault test: the ClamAV signature database removed, truncated or replaced by garbage while
deskmilter runs (scanner.reload_check_seconds = 1, the freshclam-style directory watch).

scanner.on_database_failure = "keep" (the default; clamd does the same): a database that fails to
load never replaces the loaded one. So after each fault the daemon is still up, logs "virus database
reload failed, keeping the loaded one", and keeps scanning with the database it had: EICAR is still
refused (550), a clean attachment still passes (250). SIGHUP with the broken database is the same.
The metrics endpoint counts every failed reload (deskmilter_scanner_database_reload_failures_total,
one per "reload failed" log line) and says the database is stale
(deskmilter_scanner_database_stale 1). When a good database returns (with a new signature), it is
loaded and in force, and the gauge is 0 again. Starting deskmilter with the broken database fails at
once with exit code 78 and a line naming scanner.database_dir.

scanner.on_database_failure = "fail": after garbage, every scan fails with the queue's
on_scanner_error action (tempfail by default): a clean attachment gets a 4xx and its decision line
names scanner_database_stale; when a good database returns, the same mail gets 250 again.

Environment: DESKMILTER, DESKCTL; root (private Postfix).
"""

import os
import re
import signal
import subprocess
import sys
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fault_harness as fh  # noqa: E402

CONFIG = fh.BASE_CONFIG + """
[loops]
flood_max = 0

[scanner]
enabled = true
database_dir = "{dir}/db"
temp_dir = "{dir}/spool"
reload_check_seconds = 1
on_database_failure = "{mode}"

[metrics]
http_enabled = true
http_address = "127.0.0.1"
http_port = {metrics_port}
""" + fh.QUEUE

EICAR = ("X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$" + "H+H*").encode()
EICAR_HDB = "44d88612fea8a8f36de82e1278abb02f:68:Test.EICAR\n"
MARKER = b"DESK-FAULT-NEW-SIGNATURE"


class ScannerDbTest(unittest.TestCase):
    def setUp(self):
        why = fh.ph.missing_prerequisites()
        if why:
            self.fail(f"cannot run: {why}")

    def make_stack(self, prefix, mode):
        self.metrics_port = fh.ph.free_port()
        config = CONFIG.replace("{mode}", mode).replace("{metrics_port}", str(self.metrics_port))

        def prepare(s):
            os.makedirs(os.path.join(s.milter.dir, "db"))
            with open(os.path.join(s.milter.dir, "db", "eicar.hdb"), "w") as f:
                f.write(EICAR_HDB)
        return fh.Stack(prefix, config, before_start=prepare)

    def metrics(self):
        """The scanner reload metrics from the endpoint: (failed reloads, stale)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics",
                                    timeout=10) as r:
            text = r.read().decode()
        values = {}
        for line in text.splitlines():
            m = re.match(r"(deskmilter_scanner_database_(?:reload_failures_total|stale)) (\d+)$",
                         line)
            if m:
                values[m.group(1)] = int(m.group(2))
        self.assertEqual(len(values), 2, text)
        return (values["deskmilter_scanner_database_reload_failures_total"],
                values["deskmilter_scanner_database_stale"])

    def stats(self, stack):
        """deskctl stats (human format); its virus database line."""
        rc, out, err = fh.ph.deskctl(stack.milter.config_path, "stats", json_output=False)
        self.assertEqual(rc, 0, err)
        lines = [l for l in out.splitlines() if "virus database:" in l]
        self.assertEqual(len(lines), 1, out)
        return lines[0]

    def failed_reloads_logged(self, stack):
        return len(re.findall(r"virus database reload failed", stack.milter.stderr_text()))

    def write_db(self, stack, name, text):
        path = os.path.join(stack.milter.dir, "db", name)
        with open(path + ".part", "w") as f:
            f.write(text)
        os.rename(path + ".part", path)

    def wait_log(self, stack, pattern, after):
        rx = re.compile(pattern)

        def found():
            return [l for l in stack.milter.stderr_text()[after:].splitlines() if rx.search(l)]
        return fh.ph.wait_until(found, 15, what=pattern)

    def check_scanning(self, stack, step, n):
        code, text = stack.send(fh.mail(n, prefix=f"virus-{step}",
                                        attachment=("eicar.com", EICAR)))
        self.assertEqual(code, 550, f"{step}: EICAR must still be refused: {code} {text}")
        code, text = stack.send(fh.mail(n + 1, prefix=f"clean-{step}",
                                        attachment=("clean.bin", b"harmless " * 100)))
        self.assertEqual(code, 250, f"{step}: a clean mail must pass: {code} {text}")
        self.assertTrue(stack.milter.running, f"{step}: deskmilter died")

    def test_broken_database_while_running(self):
        stack = self.make_stack("desk-fault-db-", "keep")
        db = os.path.join(stack.milter.dir, "db")
        try:
            self.check_scanning(stack, "start", 10)
            self.assertEqual(self.metrics(), (0, 0))
            faults = [
                ("garbage", lambda: self.write_db(stack, "eicar.hdb", "\x00\xffnot a signature\n")),
                ("truncated", lambda: self.write_db(stack, "eicar.hdb", EICAR_HDB[:20])),
                ("removed", lambda: os.remove(os.path.join(db, "eicar.hdb"))),
            ]
            for i, (name, fault) in enumerate(faults):
                mark = len(stack.milter.stderr_text())
                time.sleep(1.1)  # a new mtime second for the directory watch
                fault()
                self.wait_log(stack, r"virus database reload failed, keeping the loaded one", mark)
                self.check_scanning(stack, name, 20 + 10 * i)
                failed, stale = self.metrics()
                self.assertEqual(stale, 1, f"{name}: the database must be reported stale")
                self.assertGreaterEqual(failed, i + 1, name)
                self.assertEqual(failed, self.failed_reloads_logged(stack), name)
            # SIGHUP with the database still missing: the reload fails, the daemon stays.
            mark = len(stack.milter.stderr_text())
            stack.milter.proc.send_signal(signal.SIGHUP)
            self.wait_log(stack, r"reload failed|reload failed, keeping", mark)
            self.check_scanning(stack, "sighup", 60)
            failed_before_recovery, stale = self.metrics()
            self.assertEqual(stale, 1)
            self.assertGreaterEqual(failed_before_recovery, 4)
            self.assertIn("STALE: the last reload failed", self.stats(stack))
            # A good database returns, with a new signature: loaded and in force.
            mark = len(stack.milter.stderr_text())
            time.sleep(1.1)
            self.write_db(stack, "eicar.hdb", EICAR_HDB)
            self.write_db(stack, "marker.ndb",
                          "Test.Fault.Marker:0:*:" + MARKER.hex() + "\n")
            self.wait_log(stack, r"virus database changed: reloaded", mark)
            code, _ = stack.send(fh.mail(70, prefix="marker", attachment=("m.txt", MARKER)))
            self.assertEqual(code, 550, "the new signature must be in force")
            self.check_scanning(stack, "recovered", 80)
            self.assertEqual(self.metrics(), (failed_before_recovery, 0),
                             "a good database clears the stale gauge; the counter stays")
            self.assertNotIn("STALE", self.stats(stack))
            print(f"keep: {failed_before_recovery} failed reloads counted and logged, stale 1 -> 0",
                  file=sys.stderr)
            # Starting with a broken database: exit 78 naming the key.
            self.write_db(stack, "eicar.hdb", "\x00\xffgarbage\n")
            os.remove(os.path.join(db, "marker.ndb"))
            p = subprocess.run([stack.milter.binary, "-f", "-c", stack.milter.config_path],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60,
                               cwd=stack.milter.dir)
            self.assertEqual(p.returncode, 78, p.stderr)
            self.assertIn(b"scanner.database_dir", p.stderr)
        finally:
            stack.close()

    def test_fail_mode_tempfails_until_a_good_database_returns(self):
        stack = self.make_stack("desk-fault-dbfail-", "fail")
        try:
            self.check_scanning(stack, "start", 110)
            self.assertEqual(self.metrics(), (0, 0))
            mark = len(stack.milter.stderr_text())
            time.sleep(1.1)  # a new mtime second for the directory watch
            self.write_db(stack, "eicar.hdb", "\x00\xffnot a signature\n")
            self.wait_log(stack, r"virus database reload failed, every scan fails until a good "
                          r"database loads \(scanner.on_database_failure = fail\)", mark)
            self.assertEqual(self.metrics(), (1, 1))
            # A clean attachment: the scanner action (on_scanner_error = tempfail), and why.
            code, text = stack.send(fh.mail(120, prefix="stale-clean",
                                            attachment=("clean.bin", b"harmless " * 100)))
            self.assertTrue(400 <= code < 500, f"stale database: want 4xx, got {code} {text}")
            decision = self.wait_log(stack, r"verdict=.*msgid=<?stale-clean-120@cust\.test", mark)
            self.assertIn("verdict=tempfail", decision[-1])
            self.assertIn("scanner_database_stale", decision[-1])
            # EICAR is not scanned either: a 4xx too, never accepted.
            code, text = stack.send(fh.mail(121, prefix="stale-virus",
                                            attachment=("eicar.com", EICAR)))
            self.assertTrue(400 <= code < 500, f"stale database, EICAR: {code} {text}")
            # Mail without an attachment is not scanned and passes.
            code, text = stack.send(fh.mail(122, prefix="stale-plain"))
            self.assertEqual(code, 250, text)
            self.assertTrue(stack.milter.running, "deskmilter died")
            # A good database returns: 250 again, EICAR 550, the gauge 0.
            mark = len(stack.milter.stderr_text())
            time.sleep(1.1)
            self.write_db(stack, "eicar.hdb", EICAR_HDB)
            self.wait_log(stack, r"virus database changed: reloaded", mark)
            self.check_scanning(stack, "fail-recovered", 130)
            self.assertEqual(self.metrics(), (1, 0))
        finally:
            stack.close()


if __name__ == "__main__":
    unittest.main()
