"""docs/TRY.md, followed verbatim: its ```sh blocks, taken from the file, end with a first ticket.

How the commands are run (TRY.md says the same): every ```sh block, in order, concatenated into one
bash script (set -eu), with deskmilter and deskctl first on PATH (symlinks to $DESKMILTER and
$DESKCTL) and TRY, SMTP_PORT and MILTER_PORT set to a temp directory and two free ports. ```text
blocks (package installation, expected output) are not run. Whatever the script leaves running
(the private Postfix, deskmilter) is stopped at the end even when it fails.

Needs root, Postfix and swaks, like every e2e suite (a missing one fails the test).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import postfix_harness as ph  # noqa: E402

SOURCE = os.environ.get("DESK_SOURCE_DIR",
                        os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
TRY_MD = os.path.join(SOURCE, "docs", "TRY.md")


def sh_blocks(text):
    """The bodies of the ```sh fenced blocks, in order."""
    return re.findall(r"^```sh\n(.*?)^```$", text, re.S | re.M)


class TryTest(unittest.TestCase):
    def test_try_md_gives_a_first_ticket(self):
        missing = ph.missing_prerequisites()
        self.assertIsNone(missing, f"cannot run: {missing} (scripts/install-deps.sh)")
        with open(TRY_MD) as f:
            blocks = sh_blocks(f.read())
        self.assertGreaterEqual(len(blocks), 5, "docs/TRY.md lost its sh blocks")
        script = "set -eu\n" + "\n".join(blocks)

        tmp = tempfile.mkdtemp(prefix="desk-e2e-try-")
        os.chmod(tmp, 0o755)  # Postfix's unprivileged daemons walk into it
        try_dir = os.path.join(tmp, "try")
        bindir = os.path.join(tmp, "bin")
        os.makedirs(bindir)
        for name, env in (("deskmilter", "DESKMILTER"), ("deskctl", "DESKCTL")):
            target = os.path.abspath(os.environ.get(env, os.path.join("build", name)))
            self.assertTrue(os.access(target, os.X_OK), f"{target} not built (set {env})")
            os.symlink(target, os.path.join(bindir, name))
        env = dict(os.environ, TRY=try_dir, SMTP_PORT=str(ph.free_port()),
                   MILTER_PORT=str(ph.free_port()), PATH=bindir + ":" + os.environ["PATH"])
        try:
            p = subprocess.run(["bash", "-c", script], env=env, cwd=tmp, capture_output=True,
                               text=True, timeout=300)
            diag = (f"exit {p.returncode}\n--- stdout\n{p.stdout}\n--- stderr\n{p.stderr}\n"
                    f"--- deskmilter.log\n{self.read(try_dir, 'deskmilter.log')}\n"
                    f"--- postfix.log\n{self.read(try_dir, 'postfix.log')}")
            self.assertEqual(p.returncode, 0, diag)
            self.assertIn("deskmilter.toml: ok", p.stderr, diag)
            self.assertIn("Subject: [#1] The printer on floor 2 is on fire", p.stdout, diag)
            self.assertIn("X-Deskmilter-Ticket: 1", p.stdout, diag)
            self.assertRegex(p.stdout, r"(?m)^1\s+open\s+support\s", diag)
            self.assertRegex(p.stdout, r"from=carol@customer.example, to=support@example.test, "
                                       r"verdict=accept, kind=new, queue=support, ticket=1", diag)
            # The last block stopped deskmilter; the store holds exactly the one ticket.
            q = subprocess.run([os.path.join(bindir, "deskctl"), "-c",
                                os.path.join(try_dir, "deskmilter.toml"), "tickets", "--json"],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(q.returncode, 0, q.stderr)
            tickets = json.loads(q.stdout)
            self.assertEqual([(t["number"], t["title"]) for t in tickets],
                             [(1, "The printer on floor 2 is on fire")])
        finally:
            subprocess.run([ph.POSTFIX, "-c", os.path.join(try_dir, "postfix"), "stop"],
                           capture_output=True, timeout=60)
            try:
                with open(os.path.join(try_dir, "deskmilter.pid")) as f:
                    ph._kill(int(f.read().strip()), 15)
            except (OSError, ValueError):
                pass
            if not os.environ.get("DESK_E2E_KEEP"):
                shutil.rmtree(tmp, ignore_errors=True)

    @staticmethod
    def read(d, name):
        try:
            with open(os.path.join(d, name), errors="replace") as f:
                return f.read()
        except OSError:
            return "(none)"


if __name__ == "__main__":
    unittest.main(verbosity=2)
