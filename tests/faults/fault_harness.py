"""Shared pieces of the fault tests: one deskmilter and one private Postfix in a temp dir, an SMTP
send that returns the reply code instead of raising, tmpfs mounts that are always unmounted, and
ticket listing through deskctl. Built on tests/e2e/postfix_harness.py.

Not thread-safe except send(), which opens its own connection per call.
"""

import os
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
from email.message import EmailMessage

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import postfix_harness as ph  # noqa: E402,F401  (re-exported)

BASE_CONFIG = """\
[milter]
socket = "inet:{port}@127.0.0.1"
hostname = "desk.example.test"

[store]
dir = "{dir}/store"
spool_dir = "{dir}/spool"
"""

QUEUE = """
[[queue]]
name = "support"
addresses = ["support@example.test"]
"""


def mail(i, body="", prefix="fault", attachment=None):
    m = EmailMessage()
    m["From"] = f"Customer {i} <c{i}@cust.test>"
    m["To"] = "support@example.test"
    m["Subject"] = f"{prefix} mail {i}"
    m["Message-ID"] = f"<{prefix}-{i}@cust.test>"
    m["Date"] = "Thu, 03 Dec 2026 08:00:00 +0000"
    m.set_content(body or f"Mail number {i}.\n")
    if attachment is not None:
        name, data = attachment
        m.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return m


def send(port, msg, timeout=60):
    """Sends msg to 127.0.0.1:port; returns (code, text) of the final reply (250 when accepted,
    0 when the connection dropped)."""
    rcpt = msg["To"]
    sender = msg["From"].split("<")[-1].rstrip(">")
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=timeout) as s:
            s.send_message(msg, from_addr=sender, to_addrs=[rcpt])
        return 250, ""
    except smtplib.SMTPResponseException as e:
        return e.smtp_code, e.smtp_error.decode("utf-8", "replace")
    except smtplib.SMTPRecipientsRefused as e:
        code, text = list(e.recipients.values())[0]
        return code, text.decode("utf-8", "replace")
    except (smtplib.SMTPServerDisconnected, ConnectionError, socket.timeout) as e:
        return 0, str(e)


class Tmpfs:
    """A tmpfs of size bytes mounted on path (created); unmounted by close()."""

    def __init__(self, path, size):
        os.makedirs(path, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", path],
                       check=True)
        self.path = path

    def resize(self, size):
        subprocess.run(["mount", "-o", f"remount,size={size}", self.path], check=True)

    def fill(self):
        """Writes a filler file until the file system is full; returns its path."""
        path = os.path.join(self.path, "filler")
        with open(path, "wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        # Bytes left in a partly used block: fill them too.
        try:
            with open(path + "2", "wb") as f:
                while True:
                    f.write(b"\0" * 512)
                    f.flush()
        except OSError:
            pass
        return path

    def unfill(self):
        for name in ("filler", "filler2"):
            try:
                os.remove(os.path.join(self.path, name))
            except FileNotFoundError:
                pass

    def close(self):
        subprocess.run(["umount", "-l", self.path], check=False)


class Stack:
    """deskmilter (config_text, with {port} and {dir}) and a private Postfix in front of it.
    before_start(dir) runs after the milter's dir exists and before deskmilter starts."""

    def __init__(self, prefix, config_text, before_start=None):
        self.tmp = tempfile.mkdtemp(prefix=prefix)
        self.mounts = []
        self.milter = ph.Milter(self.tmp, config_text)
        self.pf = None
        try:
            if before_start:
                before_start(self)
            for sub in ("store", "spool"):
                os.makedirs(os.path.join(self.milter.dir, sub), exist_ok=True)
            self.milter.start()
            self.pf = ph.PostfixInstance(self.tmp, milter=self.milter.postfix_spec)
            self.pf.start()
        except Exception:
            self.close()
            raise

    def mount(self, sub, size):
        t = Tmpfs(os.path.join(self.milter.dir, sub), size)
        self.mounts.append(t)
        return t

    def send(self, msg):
        return send(self.pf.smtp_port, msg)

    def tickets(self):
        return ph.deskctl(self.milter.config_path, "tickets", "--json", "--limit", "0")

    def close(self):
        try:
            if self.pf is not None:
                self.pf.stop()
        finally:
            try:
                self.milter.stop()
            finally:
                for m in self.mounts:
                    m.close()
                if os.environ.get("DESK_E2E_KEEP"):
                    print(f"kept {self.tmp}", file=sys.stderr)
                else:
                    shutil.rmtree(self.tmp, ignore_errors=True)
