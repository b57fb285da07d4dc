#!/usr/bin/env python3
"""Start-up directory checks through the real binary (config/dirs.h; docs/OPERATIONS.md).

- `deskmilter -n` with a missing spool_dir: exit 1, a line naming the file, the key, the
  directory and the reason, and no "ok";
- start-up with the same config: exit 78 (EX_CONFIG) with the same lines, before opening the store
  (store.dir is not created) or the socket;
- as an unprivileged user (uid/gid 65534, as a service user) a root-owned 0755 spool is reported
  "not writable" by `-n`, while root passes;
- a good config: `-n` prints "FILE: ok" and exits 0.
Environment: DESKMILTER; root for the unprivileged-user case (fails otherwise).
"""

import os
import shutil
import subprocess
import tempfile
import unittest

DESKMILTER = os.environ.get("DESKMILTER", "build/deskmilter")

CONFIG = """\
[milter]
socket = "unix:{d}/sock/deskmilter.sock"
[store]
dir = "{d}/store"
spool_dir = "{spool}"
[scanner]
enabled = false
temp_dir = "{d}/spool"
[[queue]]
name = "support"
addresses = ["support@example.com"]
"""


class StartupDirsTest(unittest.TestCase):
    def setUp(self):
        self.d = tempfile.mkdtemp(prefix="desk-dirs-")
        os.chmod(self.d, 0o755)
        self.cfg = os.path.join(self.d, "deskmilter.toml")

    def tearDown(self):
        shutil.rmtree(self.d, ignore_errors=True)

    def write(self, spool):
        with open(self.cfg, "w") as f:
            f.write(CONFIG.format(d=self.d, spool=spool))

    def run_milter(self, *args, user=None):
        kw = {}
        if user is not None:
            kw = {"user": user, "group": user}
        return subprocess.run([DESKMILTER, *args, "-c", self.cfg], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=60, text=True, **kw)

    def test_missing_spool_is_a_config_error(self):
        missing = os.path.join(self.d, "no-such-spool")
        self.write(missing)
        p = self.run_milter("-n")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(f"{self.cfg}: store.spool_dir: {missing}: No such file or directory",
                      p.stderr)
        self.assertNotIn(": ok", p.stderr)
        p = self.run_milter("-f")
        self.assertEqual(p.returncode, 78, p.stderr)
        self.assertIn(f"{self.cfg}: store.spool_dir: {missing}: No such file or directory",
                      p.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.d, "store")),
                         "the store must not be opened when a directory check fails")

    def test_unwritable_for_the_service_user(self):
        self.assertEqual(os.geteuid(), 0, "this test needs root to run -n as uid 65534")
        spool = os.path.join(self.d, "spool")
        os.mkdir(spool, 0o755)  # owned by root: not writable for the service user
        self.write(spool)
        p = self.run_milter("-n")
        self.assertEqual((p.returncode, p.stderr.strip()), (0, f"{self.cfg}: ok"))
        p = self.run_milter("-n", user=65534)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(f"{self.cfg}: store.spool_dir: {spool}: not writable: Permission denied",
                      p.stderr)
        self.assertIn(f"{self.cfg}: store.dir: {self.d}/store: missing, and cannot be created in "
                      f"{self.d}: not writable: Permission denied", p.stderr)


if __name__ == "__main__":
    unittest.main()
