"""The systemd files in systemd/: the unit passes `systemd-analyze verify`, its hardening scores an
exposure of 2.0 or less in `systemd-analyze security --offline=yes`, the score is the one recorded in
docs/OPERATIONS.md, and the unit, sysusers.d and tmpfiles.d files agree with each other and with the
installed configuration's paths. Also the man pages: they render without groff warnings, and the
hand-written deskctl(8) has an entry for every command `deskctl --help` lists.

`verify` checks that every Exec binary exists and that every man: page in Documentation= opens, so
the unit is verified as a copy whose /usr/sbin/deskmilter is the built $DESKMILTER, with MANPATH at
the repository's man pages. tests/packaging/test_deb.py checks the installed unit's paths against
the unpacked package.

Environment: DESKMILTER, DESKCTL (the built binaries), DESK_SOURCE_DIR, DESK_BINARY_DIR (for the generated
installed config). Needs systemd-analyze (package systemd) and man (man-db).
"""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

SOURCE_DIR = os.environ.get("DESK_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BINARY_DIR = os.environ.get("DESK_BINARY_DIR", os.path.join(SOURCE_DIR, "build"))
DESKMILTER = os.environ.get("DESKMILTER", "")
UNIT = os.path.join(SOURCE_DIR, "systemd", "deskmilter.service")
MAX_EXPOSURE = 2.0


def read(path):
    with open(path) as f:
        return f.read()


def unit_values(text, key):
    return [l.split("=", 1)[1] for l in text.splitlines() if l.startswith(key + "=")]


class SystemdUnitTest(unittest.TestCase):
    def setUp(self):
        for tool in ("systemd-analyze", "man"):
            if shutil.which(tool) is None:
                self.fail(f"{tool} is not installed (scripts/install-deps.sh installs it)")
        self.tmp = tempfile.mkdtemp(prefix="desksystemd.")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_verify(self):
        if not DESKMILTER or not os.access(DESKMILTER, os.X_OK):
            self.fail(f"DESKMILTER={DESKMILTER!r} is not an executable")
        text = read(UNIT)
        self.assertIn("/usr/sbin/deskmilter ", text)
        unit = os.path.join(self.tmp, "deskmilter.service")
        with open(unit, "w") as f:
            f.write(text.replace("/usr/sbin/deskmilter ", os.path.abspath(DESKMILTER) + " "))
        manpath = os.path.join(self.tmp, "man")
        for page in os.listdir(os.path.join(SOURCE_DIR, "man")):
            section = page.rsplit(".", 1)[1]
            os.makedirs(os.path.join(manpath, "man" + section), exist_ok=True)
            shutil.copy(os.path.join(SOURCE_DIR, "man", page), os.path.join(manpath, "man" + section))
        env = dict(os.environ, MANPATH=manpath)
        r = subprocess.run(["systemd-analyze", "verify", unit], capture_output=True, text=True,
                           env=env, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotIn("deskmilter.service", r.stdout + r.stderr, "verify warned about the unit")

    def test_security_exposure(self):
        r = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager", UNIT],
                           capture_output=True, text=True, timeout=120)
        m = re.search(r"Overall exposure level for deskmilter\.service: (\d+\.\d)", r.stdout)
        self.assertIsNotNone(m, r.stdout + r.stderr)
        score = float(m.group(1))
        self.assertLessEqual(score, MAX_EXPOSURE, r.stdout)
        ops = read(os.path.join(SOURCE_DIR, "docs", "OPERATIONS.md"))
        self.assertIn(f"exposure level {m.group(1)}", ops,
                      "docs/OPERATIONS.md does not record the current systemd-analyze security score")

    def test_archive_child_may_fork_and_set_its_limits(self):
        # Archives are listed in a forked child that sets RLIMIT_AS and RLIMIT_CPU with prlimit64
        # (glibc's setrlimit) and refuses to run unbounded (core/child_process.cc): the unit's
        # system call filter must allow what that takes.
        def expand(names):
            out = set()
            for name in names.split():
                if not name.startswith("@"):
                    out.add(name)
                    continue
                r = subprocess.run(["systemd-analyze", "syscall-filter", name],
                                   capture_output=True, text=True, timeout=60)
                self.assertEqual(r.returncode, 0, r.stderr)
                members = [l.strip() for l in r.stdout.splitlines()[1:]
                           if l.strip() and not l.strip().startswith("#")]
                out |= expand(" ".join(members))  # groups name groups
            return out

        allowed, denied = set(), set()
        for value in unit_values(read(UNIT), "SystemCallFilter"):
            if value.startswith("~"):
                denied |= expand(value[1:])
            else:
                allowed |= expand(value)
        for call in ("prlimit64", "clone", "fork", "prctl", "wait4", "pipe2", "close_range"):
            self.assertIn(call, allowed - denied, f"the unit's SystemCallFilter denies {call}")

    def test_notify_type(self):
        text = read(UNIT)
        self.assertEqual(unit_values(text, "Type"), ["notify"])
        self.assertEqual(unit_values(text, "NotifyAccess"), ["main"])
        self.assertTrue(unit_values(text, "WatchdogSec"))

    def test_files_agree(self):
        """User, socket directory, config directory and store: one story across the files."""
        unit = read(UNIT)
        sysusers = read(os.path.join(SOURCE_DIR, "systemd", "deskmilter.sysusers.conf"))
        tmpfiles = read(os.path.join(SOURCE_DIR, "systemd", "deskmilter.tmpfiles.conf"))
        user = unit_values(unit, "User")[0]
        self.assertRegex(sysusers, rf"(?m)^u {user} ")
        state = "/var/lib/" + unit_values(unit, "StateDirectory")[0]
        self.assertEqual(unit_values(unit, "WorkingDirectory"), [state])
        rw = unit_values(unit, "ReadWritePaths")[0].split()
        tmp_dirs = dict(re.findall(r"(?m)^d (\S+) \S+ (\S+) ", tmpfiles))
        config = unit_values(unit, "ExecStart")[0].split("-c ", 1)[1].strip()
        self.assertIn(os.path.dirname(config), tmp_dirs)
        # The config that cmake --install and the .deb put there (generated at configure time).
        installed = os.path.join(BINARY_DIR, "packaging", "deskmilter.toml")
        self.assertTrue(os.path.exists(installed), f"{installed} missing: configure the build first")
        conf = read(installed)
        sock = re.search(r'(?m)^socket = "unix:(\S+)"', conf)
        self.assertIsNotNone(sock, "the installed config has no unix socket line")
        sock_dir = os.path.dirname(sock.group(1))
        self.assertIn(sock_dir, rw)
        self.assertIn(sock_dir, tmp_dirs)
        self.assertEqual(tmp_dirs[sock_dir], user)
        for key in ("dir", "spool_dir"):
            path = re.search(rf'(?m)^{key} = "(\S+)"', conf).group(1)
            self.assertTrue(path.startswith(state + "/"), f"store.{key} = {path} outside {state}")
            self.assertIn(state, rw)


class ManPageTest(unittest.TestCase):
    def test_pages_render_without_warnings(self):
        if shutil.which("groff") is None:
            self.fail("groff is not installed (scripts/install-deps.sh installs groff-base)")
        pages = sorted(os.listdir(os.path.join(SOURCE_DIR, "man")))
        self.assertEqual(pages, ["deskctl.8", "deskmilter.8", "deskmilter.toml.5"])
        for page in pages:
            r = subprocess.run(["groff", "-man", "-ww", "-z", "-Tutf8",
                                os.path.join(SOURCE_DIR, "man", page)],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual((r.returncode, r.stderr), (0, ""), page)

    def test_deskctl_page_names_every_command(self):
        """deskctl(8) is written by hand: each command `deskctl --help` lists must have its entry."""
        deskctl = os.environ.get("DESKCTL", "")
        if not deskctl or not os.access(deskctl, os.X_OK):
            self.fail(f"DESKCTL={deskctl!r} is not an executable")
        page = read(os.path.join(SOURCE_DIR, "man", "deskctl.8"))

        def commands(args):
            out = subprocess.run([deskctl] + args + ["--help"], capture_output=True, text=True,
                                 timeout=60).stdout
            if "\nSubcommands:\n" not in out:
                return []
            block = out.split("\nSubcommands:\n", 1)[1]
            return [l.split()[0] for l in block.splitlines() if l.startswith("  ") and l.split()]

        top = commands([])
        self.assertIn("tickets", top)
        for cmd in top:
            subs = commands([cmd])
            for name in [cmd] + [f"{cmd} {sub}" for sub in subs]:
                self.assertRegex(page, rf"(?m)^\.B {re.escape(name)}( |$)",
                                 f"man/deskctl.8 has no entry for `deskctl {name}`")


if __name__ == "__main__":
    unittest.main(verbosity=2)
