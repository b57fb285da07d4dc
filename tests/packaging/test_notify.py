"""deskmilter talks to systemd through sd_notify: checked against a fake NOTIFY_SOCKET.

A unix datagram socket stands in for systemd's notification socket. The real built deskmilter
($DESKMILTER) runs with NOTIFY_SOCKET pointing at it, and the test checks, in order:
  - STATUS=0 mails handled, 0 tickets created and READY=1, and that the milter socket accepts a
    connection by the time READY=1 arrives (READY means "listening");
  - one support message through miltertest, then SIGHUP: STATUS= counts 1 mail and 1 ticket,
    RELOADING=1 (with MONOTONIC_USEC) and then READY=1;
  - SIGTERM: STOPPING=1, exit status 0;
  - no WATCHDOG=1 when WATCHDOG_USEC is unset, and repeated WATCHDOG=1 when it is set;
  - a start-up failure (a bad config) sends STATUS=failed: naming the key, and exits 78.
Waits have generous limits that only stop a hung test; nothing here measures time.

Environment: DESKMILTER (the binary), DESK_SOURCE_DIR (for tests/protocol/lib).
Needs miltertest (scripts/install-deps.sh).
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

DESKMILTER = os.environ.get("DESKMILTER", "")
SOURCE_DIR = os.environ.get("DESK_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
HANG_LIMIT = 60.0  # seconds; only for a daemon that never answers


def config_text(tmp, extra=""):
    # deskmilter checks at start-up that the directories it writes exist (the store it creates).
    os.makedirs(os.path.join(tmp, "spool"), exist_ok=True)
    return (
        "[milter]\n"
        f'socket = "unix:{tmp}/milter.sock"\n'
        'hostname = "desk.test"\n'
        "[store]\n"
        f'dir = "{tmp}/store"\n'
        f'spool_dir = "{tmp}/spool"\n'
        "[scanner]\n"
        "enabled = false\n"
        "[[queue]]\n"
        'name = "support"\n'
        'addresses = ["support@example.com"]\n' + extra
    )


class FakeSystemd:
    """The notification socket: collects every datagram deskmilter sends."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.messages = []  # each a dict of the datagram's KEY=VALUE lines, in arrival order

    def close(self):
        self.sock.close()

    def wait_for(self, key, value=None, start=0):
        """Index of the first message from `start` on that has key (=value); waits for it."""
        deadline = time.monotonic() + HANG_LIMIT
        i = start
        while True:
            while i < len(self.messages):
                m = self.messages[i]
                if key in m and (value is None or m[key] == value):
                    return i
                i += 1
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"no {key}={value} from deskmilter; got {self.messages[start:]}")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            fields = {}
            for line in data.decode().split("\n"):
                if "=" in line:
                    k, v = line.split("=", 1)
                    fields[k] = v
            self.messages.append(fields)

    def drain(self):
        """Reads what is queued without waiting."""
        self.sock.setblocking(False)
        try:
            while True:
                try:
                    data = self.sock.recv(4096)
                except BlockingIOError:
                    break
                self.messages.append(dict(l.split("=", 1) for l in data.decode().split("\n")
                                          if "=" in l))
        finally:
            self.sock.setblocking(True)


class NotifyTest(unittest.TestCase):
    def setUp(self):
        if not DESKMILTER or not os.access(DESKMILTER, os.X_OK):
            self.fail(f"DESKMILTER={DESKMILTER!r} is not an executable (set it to build/deskmilter)")
        if shutil.which("miltertest") is None:
            self.fail("miltertest is not installed (scripts/install-deps.sh installs it)")
        self.tmp = tempfile.mkdtemp(prefix="desknotify.")
        self.systemd = FakeSystemd(os.path.join(self.tmp, "notify"))
        self.proc = None
        self.log = os.path.join(self.tmp, "milter.log")

    def tearDown(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if hasattr(self, "_outcome") and self.log and os.path.exists(self.log):
            failed = any(e for _, e in getattr(self._outcome, "errors", []) if e)
            if failed or os.environ.get("DESK_SHOW_LOG"):
                with open(self.log, errors="replace") as f:
                    sys.stderr.write("---- milter log\n" + f.read() + "----\n")
        self.systemd.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, extra_env=None, extra_config=""):
        config = os.path.join(self.tmp, "deskmilter.toml")
        with open(config, "w") as f:
            f.write(config_text(self.tmp, extra_config))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("WATCHDOG_", "NOTIFY_"))}
        env["NOTIFY_SOCKET"] = self.systemd.path
        env.update(extra_env or {})
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen([DESKMILTER, "-f", "-c", config], env=env,
                                         stdout=log, stderr=log)
        return config

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        stopping = self.systemd.wait_for("STOPPING", "1")
        rc = self.proc.wait(timeout=HANG_LIMIT)
        self.assertEqual(rc, 0, "deskmilter did not stop cleanly")
        return stopping

    def send_mail(self):
        lib = os.path.join(SOURCE_DIR, "tests", "protocol", "lib")
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "notify_mail.lua")
        sock = f"unix:{self.tmp}/milter.sock"
        r = subprocess.run(["miltertest", "-D", f"DESK_SOCKET={sock}", "-D", f"DESK_LIB={lib}",
                            "-s", script], capture_output=True, text=True, timeout=HANG_LIMIT)
        self.assertEqual(r.returncode, 0, f"miltertest failed:\n{r.stdout}{r.stderr}")

    def test_ready_reload_status_stop(self):
        self.start()
        ready = self.systemd.wait_for("READY", "1")
        # READY=1 promises a listening socket.
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.connect(os.path.join(self.tmp, "milter.sock"))
        probe.close()
        first_status = self.systemd.wait_for("STATUS")
        self.assertLess(first_status, ready + 1)
        self.assertEqual(self.systemd.messages[first_status]["STATUS"],
                         "0 mails handled, 0 tickets created")

        self.send_mail()
        self.proc.send_signal(signal.SIGHUP)
        counted = self.systemd.wait_for("STATUS", "1 mails handled, 1 tickets created", ready + 1)
        reloading = self.systemd.wait_for("RELOADING", "1", ready + 1)
        self.assertTrue(self.systemd.messages[reloading].get("MONOTONIC_USEC", "").isdigit(),
                        self.systemd.messages[reloading])
        ready_again = self.systemd.wait_for("READY", "1", reloading + 1)
        self.assertLess(counted, ready_again)
        with open(self.log) as f:
            self.assertIn("reloaded ", f.read())

        stopping = self.stop()
        self.assertGreater(stopping, ready_again)
        self.systemd.drain()
        self.assertFalse([m for m in self.systemd.messages if "WATCHDOG" in m],
                         "WATCHDOG=1 sent although systemd did not ask for a watchdog")

    def test_watchdog_pings_when_asked(self):
        # WATCHDOG_USEC = 0.4 s: the main loop pings every 0.2 s.
        self.start({"WATCHDOG_USEC": "400000"})
        ready = self.systemd.wait_for("READY", "1")
        i = ready
        for _ in range(3):  # repeated pings, not one at start-up
            i = self.systemd.wait_for("WATCHDOG", "1", i + 1)
        self.stop()

    def test_failed_start_says_why(self):
        self.start(extra_config="[limits]\nmax_mime_depth = 0\n")
        rc = self.proc.wait(timeout=HANG_LIMIT)
        self.assertEqual(rc, 78)
        i = self.systemd.wait_for("STATUS")
        status = self.systemd.messages[i]["STATUS"]
        self.assertTrue(status.startswith("failed: "), status)
        self.assertIn("limits.max_mime_depth", status)
        self.systemd.drain()
        self.assertFalse([m for m in self.systemd.messages if "READY" in m])


if __name__ == "__main__":
    unittest.main(verbosity=2)
