#!/usr/bin/env python3
"""Fault test: the ClamAV signature database removed, truncated or replaced by garbage while
deskmilter runs (scanner.reload_check_seconds = 1, the freshclam-style directory watch).

What a mail admin expects (clamd does the same): a database that fails to load never replaces the
loaded one. So after each fault the daemon is still up, logs "virus database reload failed, keeping
the loaded one", and keeps scanning with the database it had: EICAR is still refused (550), a clean
attachment still passes (250); no mail sees the fault. SIGHUP with the broken database is the same.
When a good database returns (with a new signature), it is loaded and in force. Starting deskmilter
with the broken database fails at once with exit code 78 and a line naming scanner.database_dir.

Environment: DESKMILTER, DESKCTL; root (private Postfix).
"""

import os
import re
import signal
import subprocess
import sys
import time
import unittest

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
""" + fh.QUEUE

EICAR = ("X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$" + "H+H*").encode()
EICAR_HDB = "44d88612fea8a8f36de82e1278abb02f:68:Test.EICAR\n"
MARKER = b"DESK-FAULT-NEW-SIGNATURE"


class ScannerDbTest(unittest.TestCase):
    def setUp(self):
        why = fh.ph.missing_prerequisites()
        if why:
            self.fail(f"cannot run: {why}")

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
        def prepare(s):
            os.makedirs(os.path.join(s.milter.dir, "db"))
            with open(os.path.join(s.milter.dir, "db", "eicar.hdb"), "w") as f:
                f.write(EICAR_HDB)
        stack = fh.Stack("desk-fault-db-", CONFIG, before_start=prepare)
        db = os.path.join(stack.milter.dir, "db")
        try:
            self.check_scanning(stack, "start", 10)
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
            # SIGHUP with the database still missing: the reload fails, the daemon stays.
            mark = len(stack.milter.stderr_text())
            stack.milter.proc.send_signal(signal.SIGHUP)
            self.wait_log(stack, r"reload failed|reload failed, keeping", mark)
            self.check_scanning(stack, "sighup", 60)
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


if __name__ == "__main__":
    unittest.main()
