"""End-to-end harness: a private Postfix on loopback, smtp-sink, the deskmilter daemon and deskctl.

What it is: a small stdlib-only module the e2e tests share. Every server it starts listens on
127.0.0.1 on a free port and keeps its config, queue, logs and mail under one temp directory; every
server is stopped by its context manager, and as a last resort by an atexit hook, even on failure.

    with tempfile.TemporaryDirectory() as tmp:
        with Milter(tmp, config_text) as milter, \\
             PostfixInstance(tmp, milter=milter.postfix_spec) as pf:
            rc, transcript = pf.send("--from", "a@b.test", "--to", "support@example.test")
            msgs = pf.wait_delivered(1)

Postfix: `postfix -c DIR/conf start` runs a complete second instance (see shared/notes/postfix.md).
Every address in the virtual domain (default example.test) is delivered to one Maildir, DIR/mail/box;
an optional smtp-sink takes mail relayed for sink.test. Cleanup does not add missing headers
(local_header_rewrite_clients is empty), so what the milter sees and adds is what is delivered.

Limits: needs root (Postfix's master, chown of the data and mail dirs), /usr/sbin/postfix, swaks and
smtp-sink. Free ports are found by binding port 0 and closing it, so another process could take one
in between; that race is accepted. Not thread-safe: use one instance from one thread.
"""

import atexit
import email
import email.policy
import json
import os
import pwd
import re
import shutil
import sys
import signal
import socket
import subprocess
import tempfile
import time
import unittest

POSTFIX = shutil.which("postfix", path="/usr/sbin:/usr/bin:/sbin:/bin") or "/usr/sbin/postfix"
POSTQUEUE = shutil.which("postqueue", path="/usr/sbin:/usr/bin") or "/usr/sbin/postqueue"
SMTP_SINK = shutil.which("smtp-sink", path="/usr/sbin:/usr/bin") or "/usr/sbin/smtp-sink"
SWAKS = shutil.which("swaks") or "/usr/bin/swaks"
SASLPASSWD2 = shutil.which("saslpasswd2", path="/usr/sbin:/usr/bin") or "/usr/sbin/saslpasswd2"

VIRTUAL_UID = 65534  # virtual_uid_maps / virtual_gid_maps: the Maildir owner

# Everything started here, stopped at exit if a test forgot (or crashed before) stopping it.
_live = []


@atexit.register
def _stop_everything():
    for obj in reversed(list(_live)):
        try:
            obj.stop()
        except Exception:  # last-resort cleanup must not mask the test's own error
            pass


def _on_sigterm(signum, frame):
    raise SystemExit(128 + signum)  # unwinds context managers, then atexit stops the rest


if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
    signal.signal(signal.SIGTERM, _on_sigterm)


class HarnessError(Exception):
    pass


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10.0, proc=None):
    """Waits until 127.0.0.1:port accepts connections. Fails early if proc exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise HarnessError(f"process exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise HarnessError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def wait_until(predicate, timeout, interval=0.05, what="condition"):
    """Polls predicate() until it returns a truthy value, which is returned."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise HarnessError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def _run(argv, check=True, timeout=60, **kw):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout, **kw)
    out = p.stdout.decode("utf-8", "replace")
    if check and p.returncode != 0:
        raise HarnessError(f"{' '.join(map(str, argv))} exited {p.returncode}:\n{out}")
    return p.returncode, out


def _mkdir(path, mode=0o755):
    os.makedirs(path, exist_ok=True)
    os.chmod(path, mode)
    return path


# The stock Debian master.cf service list, with chroot "n" everywhere (the private instance has no
# chroot jail), no smtp listener on port 25 (ours is added on a free port) and postlogd for
# maillog_file. Built in rather than copied from /etc/postfix so a customised host (content filters,
# extra listeners) cannot change what the tests run against.
_MASTER_CF = """\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
        -o syslog_name=postfix/$service_name
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class PostfixInstance:
    """A private Postfix instance under DIR/postfix (conf, queue, data, mail, postfix.log).

    milter: Postfix's spec ("inet:127.0.0.1:PORT" or "unix:/path"), or None for no milter.
    extra_main_cf: {name: value} added after (and so overriding) the defaults.
    extra_master_cf: master.cf lines appended (e.g. a submission listener).
    sink: also start an smtp-sink (self.sink) and relay mail for sink.test to it.
    domains: virtual mailbox domains, all delivered to the one Maildir.
    sasl_users: {user: password} enables SMTP AUTH (Cyrus SASL, sasldb in DIR/sasldb2, PLAIN and
        LOGIN without TLS) on a submission listener at self.submission_port, which relays for
        authenticated clients only. The milter sees {auth_authen} = "user@" + sasl_realm.
    """

    def __init__(self, tmpdir, milter=None, extra_main_cf=None, extra_master_cf=None, sink=False,
                 domains=("example.test",), name="postfix", sasl_users=None,
                 sasl_realm="example.test"):
        self.dir = os.path.abspath(os.path.join(tmpdir, name))
        self.conf_dir = os.path.join(self.dir, "conf")
        self.queue_dir = os.path.join(self.dir, "queue")
        self.data_dir = os.path.join(self.dir, "data")
        self.mail_dir = os.path.join(self.dir, "mail")
        self.maildir = os.path.join(self.mail_dir, "box")
        self.log_file = os.path.join(self.dir, "postfix.log")
        self.milter = milter
        self.extra_main_cf = dict(extra_main_cf or {})
        self.extra_master_cf = list(extra_master_cf or [])
        self.domains = list(domains)
        self.smtp_port = free_port()
        self.sasl_users = dict(sasl_users or {})
        self.sasl_realm = sasl_realm
        self.submission_port = free_port() if self.sasl_users else None
        self.sink = SmtpSink(self.dir) if sink else None
        self.running = False
        self._send_count = 0

    # --- lifecycle ---

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def main_cf(self):
        """The main.cf settings as an ordered dict."""
        d = self.dir
        cf = {
            "compatibility_level": "3.6",
            "queue_directory": self.queue_dir,
            "data_directory": self.data_dir,
            "myhostname": "mx.example.test",
            "mydomain": "example.test",
            "myorigin": "$myhostname",
            "mydestination": "",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "smtpd_peername_lookup": "no",
            "smtp_dns_support_level": "disabled",
            "alias_maps": "",
            "alias_database": "",
            "biff": "no",
            # The milter must see exactly what is delivered: no Message-ID/Date added by cleanup.
            "local_header_rewrite_clients": "",
            "always_add_missing_headers": "no",
            "virtual_mailbox_domains": " ".join(self.domains),
            "virtual_mailbox_base": self.mail_dir,
            "virtual_mailbox_maps": "static:box/",
            "virtual_uid_maps": f"static:{VIRTUAL_UID}",
            "virtual_gid_maps": f"static:{VIRTUAL_UID}",
            "maillog_file": self.log_file,
            "maillog_file_prefixes": d,
            # Deferred mail in tests should be retried soon, not in 5 minutes.
            "queue_run_delay": "1s",
            "minimal_backoff_time": "1s",
            "maximal_backoff_time": "2s",
            "smtpd_error_sleep_time": "0",
        }
        if self.sink is not None:
            cf["relay_domains"] = "sink.test"
            cf["transport_maps"] = f"inline:{{ sink.test=smtp:[127.0.0.1]:{self.sink.port} }}"
        if self.sasl_users:
            # Debian's Postfix reads DIR/conf/sasl/smtpd.conf (shared/notes/postfix.md).
            cf.update({
                "smtpd_sasl_type": "cyrus",
                "smtpd_sasl_path": "smtpd",
                "smtpd_sasl_local_domain": self.sasl_realm,
                "smtpd_sasl_security_options": "noanonymous",
                "smtpd_tls_security_level": "none",
                "smtpd_tls_auth_only": "no",
            })
        if self.milter:
            cf.update({
                "smtpd_milters": self.milter,
                "milter_default_action": "tempfail",
                "milter_protocol": "6",
            })
        cf.update(self.extra_main_cf)
        return cf

    def master_cf(self):
        lines = [_MASTER_CF.rstrip("\n"),
                 f"127.0.0.1:{self.smtp_port} inet n - n - - smtpd"]
        if self.submission_port:
            lines += [f"127.0.0.1:{self.submission_port} inet n - n - - smtpd",
                      "  -o smtpd_sasl_auth_enable=yes",
                      "  -o smtpd_client_restrictions=permit_sasl_authenticated,reject",
                      "  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject"]
        lines += self.extra_master_cf
        return "\n".join(lines) + "\n"

    def write_config(self):
        _mkdir(self.dir)
        # Postfix's unprivileged daemons walk into the queue and mail dirs: every ancestor must be
        # searchable (mkdtemp makes 0700 dirs).
        parent = os.path.dirname(self.dir)
        os.chmod(parent, os.stat(parent).st_mode | 0o055)
        _mkdir(self.conf_dir)
        _mkdir(self.queue_dir)
        _mkdir(self.data_dir, 0o700)
        pw = pwd.getpwnam("postfix")
        os.chown(self.data_dir, pw.pw_uid, pw.pw_gid)
        _mkdir(self.mail_dir, 0o755)
        os.chown(self.mail_dir, VIRTUAL_UID, VIRTUAL_UID)
        with open(os.path.join(self.conf_dir, "main.cf"), "w") as f:
            for k, v in self.main_cf().items():
                f.write(f"{k} = {v}\n")
        with open(os.path.join(self.conf_dir, "master.cf"), "w") as f:
            f.write(self.master_cf())
        if self.sasl_users:
            self._write_sasl(pw)

    def _write_sasl(self, pw):
        db = os.path.join(self.dir, "sasldb2")
        _mkdir(os.path.join(self.conf_dir, "sasl"))
        with open(os.path.join(self.conf_dir, "sasl", "smtpd.conf"), "w") as f:
            f.write(f"pwcheck_method: auxprop\nauxprop_plugin: sasldb\nsasldb_path: {db}\n"
                    "mech_list: PLAIN LOGIN\n")
        for user, password in self.sasl_users.items():
            p = subprocess.run([SASLPASSWD2, "-p", "-c", "-f", db, "-u", self.sasl_realm, user],
                               input=password.encode(), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=30)
            if p.returncode != 0:
                raise HarnessError(f"saslpasswd2 {user} exited {p.returncode}: {p.stdout!r}")
        # Created 0640 root:root, which smtpd (user postfix) cannot read.
        os.chown(db, 0, pw.pw_gid)
        os.chmod(db, 0o640)

    def start(self, timeout=60.0):
        # `postfix start` runs `postfix check` first: over 20 s on a loaded 2-core machine.
        if self.sink is not None:
            self.sink.start()
        self.write_config()
        _live.append(self)
        self.running = True
        rc, out = _run([POSTFIX, "-c", self.conf_dir, "start"], check=False, timeout=timeout)
        if rc != 0:
            self.stop()
            raise HarnessError(f"postfix start exited {rc}:\n{out}\n{self.log_text()}")
        wait_port(self.smtp_port, timeout)
        if self.submission_port:
            wait_port(self.submission_port, timeout)

    def stop(self):
        if self.running:
            self.running = False
            _run([POSTFIX, "-c", self.conf_dir, "stop"], check=False, timeout=30)
            # `postfix stop` signals the master; wait for it to be gone so the temp dir can go too.
            pid = self._master_pid()
            if pid:
                try:
                    wait_until(lambda: not _alive(pid), 10, what="postfix master exit")
                except HarnessError:
                    _kill(pid, signal.SIGKILL)
        if self.sink is not None:
            self.sink.stop()
        if self in _live:
            _live.remove(self)

    def reload(self):
        self.write_config()
        _run([POSTFIX, "-c", self.conf_dir, "reload"])

    def _master_pid(self):
        try:
            with open(os.path.join(self.queue_dir, "pid", "master.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    # --- sending ---

    def send(self, *swaks_args, port=None, timeout=60):
        """Runs swaks against this instance. Returns (exit code, transcript)."""
        argv = [SWAKS, "--server", "127.0.0.1", "--port", str(port or self.smtp_port),
                "--helo", "client.test", "--hide-informational", "--timeout", "30"]
        return _run(argv + list(swaks_args), check=False, timeout=timeout)

    def send_auth(self, user, password, *swaks_args):
        """Runs swaks against the submission listener with AUTH PLAIN as user."""
        return self.send("--auth", "PLAIN", "--auth-user", user, "--auth-password", password,
                         *swaks_args, port=self.submission_port)

    def send_raw(self, mail_from, rcpts, data, port=None, extra_args=()):
        """Sends data (bytes or str: a complete message) as is, with swaks --data FILE."""
        if isinstance(data, str):
            data = data.encode()
        self._send_count += 1
        path = os.path.join(self.dir, f"send-{self._send_count}.eml")
        with open(path, "wb") as f:
            f.write(data)
        if isinstance(rcpts, str):
            rcpts = [rcpts]
        return self.send("--from", mail_from, "--to", ",".join(rcpts), "--data", "@" + path,
                         *extra_args, port=port)

    # --- delivered mail ---

    def maildir_paths(self):
        """Delivered files in the Maildir (new/ and cur/), oldest first."""
        paths = []
        for sub in ("new", "cur"):
            d = os.path.join(self.maildir, sub)
            if os.path.isdir(d):
                paths += [os.path.join(d, n) for n in os.listdir(d)]
        # Maildir names start with the delivery time in seconds, then a unique part; mtime then
        # name orders deliveries within a second well enough for tests.
        paths.sort(key=lambda p: (os.stat(p).st_mtime_ns, os.path.basename(p)))
        return paths

    def maildir_messages(self):
        """Delivered messages as email.message.Message (compat32 policy: raw header values)."""
        out = []
        for p in self.maildir_paths():
            with open(p, "rb") as f:
                msg = email.message_from_binary_file(f)
            msg.maildir_path = p
            out.append(msg)
        return out

    def wait_delivered(self, n, timeout=15.0):
        """Waits until at least n messages are in the Maildir; returns all of them."""
        wait_until(lambda: len(self.maildir_paths()) >= n, timeout,
                   what=f"{n} delivered messages (have {len(self.maildir_paths())})")
        return self.maildir_messages()

    def find_delivered(self, count=1, timeout=15.0, **headers):
        """Waits until at least count delivered messages have headers equal to the given values
        (Message_Id=... matches Message-Id, whitespace-normalised); returns all matches."""
        want = {k.replace("_", "-"): v for k, v in headers.items()}

        def norm(v):
            return None if v is None else re.sub(r"\s+", " ", str(v)).strip()

        def matches():
            found = [m for m in self.maildir_messages()
                     if all(norm(m.get(k)) == v for k, v in want.items())]
            return found if len(found) >= count else None
        return wait_until(matches, timeout, what=f"{count} delivered message(s) with {want}")

    # --- queue and log ---

    def queue_entries(self):
        """postqueue -j, as a list of dicts (queue_name, queue_id, sender, recipients, ...)."""
        _, out = _run([POSTQUEUE, "-c", self.conf_dir, "-j"], check=False)
        entries = []
        for line in out.splitlines():
            line = line.strip()
            if line.startswith("{"):
                entries.append(json.loads(line))
        return entries

    def queue_ids(self, queue_name=None):
        return [e["queue_id"] for e in self.queue_entries()
                if queue_name is None or e.get("queue_name") == queue_name]

    def hold_queue(self):
        return self.queue_ids("hold")

    def flush(self):
        _run([POSTQUEUE, "-c", self.conf_dir, "-f"], check=False)

    def log_text(self):
        try:
            with open(self.log_file, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_lines(self, pattern):
        rx = re.compile(pattern)
        return [l for l in self.log_text().splitlines() if rx.search(l)]

    def queue_id_for(self, message_id, timeout=10.0):
        """The queue id cleanup logged for a Message-ID (without angle brackets)."""
        rx = re.compile(r"postfix/cleanup\[\d+\]: ([0-9A-Za-z]+): message-id=<?" +
                        re.escape(message_id) + r">?\s*$")

        def find():
            for line in self.log_text().splitlines():
                m = rx.search(line)
                if m:
                    return m.group(1)
            return None
        return wait_until(find, timeout, what=f"queue id of <{message_id}> in the Postfix log")


class SmtpSink:
    """smtp-sink on a free loopback port, dumping each message to DIR/sink/ (one file per message,
    the envelope first, as smtp-sink -d writes it)."""

    def __init__(self, tmpdir):
        self.dir = os.path.join(os.path.abspath(tmpdir), "sink")
        self.port = free_port()
        self.proc = None
        self.log = None

    def start(self):
        _mkdir(self.dir, 0o777)
        pw = pwd.getpwnam("postfix")
        os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.log = open(os.path.join(self.dir, "..", "smtp-sink.log"), "wb")
        # -d TEMPLATE: a strftime template; %H%M%S plus smtp-sink's own unique suffix per message.
        self.proc = subprocess.Popen(
            [SMTP_SINK, "-u", "postfix", "-d", os.path.join(self.dir, "%Y%m%d%H%M%S."),
             f"127.0.0.1:{self.port}", "100"],
            stdout=self.log, stderr=subprocess.STDOUT)
        _live.append(self)
        wait_port(self.port, 10, self.proc)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.log is not None:
            self.log.close()
            self.log = None
        if self in _live:
            _live.remove(self)

    def paths(self):
        return sorted(os.path.join(self.dir, n) for n in os.listdir(self.dir))

    def messages(self):
        """Raw dumped files (bytes): smtp-sink's envelope records, then the message."""
        out = []
        for p in self.paths():
            with open(p, "rb") as f:
                out.append(f.read())
        return out


class Milter:
    """The deskmilter daemon ($DESKMILTER -f -c CFG) on a free loopback port.

    config_text may contain "{port}" and "{dir}" (the milter's own dir under tmpdir); they are
    substituted with str.replace, so TOML braces elsewhere are safe. stderr is collected to
    DIR/stderr.log; stop() raises HarnessError if it shows a sanitizer report.
    """

    SANITIZER_MARKS = ("AddressSanitizer", "runtime error", "LeakSanitizer",
                       "UndefinedBehaviorSanitizer")

    def __init__(self, tmpdir, config_text, binary=None, port=None, name="deskmilter"):
        # Absolute: the daemon runs in its own dir, so relative paths in its config stay inside.
        self.binary = os.path.abspath(binary or os.environ.get("DESKMILTER") or "build/deskmilter")
        self.dir = _mkdir(os.path.join(os.path.abspath(tmpdir), name), 0o755)
        self.port = port or free_port()
        self.config_path = os.path.join(self.dir, "deskmilter.toml")
        self.stderr_path = os.path.join(self.dir, "stderr.log")
        text = config_text.replace("{port}", str(self.port)).replace("{dir}", self.dir)
        with open(self.config_path, "w") as f:
            f.write(text)
        self.proc = None
        self._stderr = None

    @property
    def postfix_spec(self):
        return f"inet:127.0.0.1:{self.port}"

    @property
    def libmilter_spec(self):
        return f"inet:{self.port}@127.0.0.1"

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, exc_type, *exc):
        # Do not hide the test's own exception behind a sanitizer complaint; report both.
        try:
            self.stop()
        except HarnessError:
            if exc_type is None:
                raise
        return False

    def start(self, timeout=10.0):
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        self._stderr = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen([self.binary, "-f", "-c", self.config_path],
                                     stdout=self._stderr, stderr=self._stderr, env=env,
                                     cwd=self.dir)
        _live.append(self)
        try:
            wait_port(self.port, timeout, self.proc)
        except HarnessError as e:
            self.stop(check=False)
            raise HarnessError(f"{e}\ndeskmilter stderr:\n{self.stderr_text()}") from None

    def stop(self, timeout=10.0, check=True):
        """SIGTERM, then SIGKILL after timeout. Raises HarnessError on a sanitizer report (check)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        if self in _live:
            _live.remove(self)
        if check:
            self.check_stderr()

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stderr_text(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def check_stderr(self):
        text = self.stderr_text()
        for mark in self.SANITIZER_MARKS:
            if mark in text:
                raise HarnessError(f"deskmilter stderr shows {mark!r}:\n{text}")


def deskctl(config_path, *args, binary=None, json_output=True, check=True, timeout=30):
    """Runs $DESKCTL -c CONFIG ARGS. With json_output, parses stdout as JSON and returns it;
    otherwise returns (exit code, stdout, stderr)."""
    binary = binary or os.environ.get("DESKCTL") or "build/deskctl"
    p = subprocess.run([binary, "-c", config_path, *args], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    for mark in Milter.SANITIZER_MARKS:
        if mark in err:
            raise HarnessError(f"deskctl {' '.join(args)} stderr shows {mark!r}:\n{err}")
    if not json_output:
        return p.returncode, out, err
    if check and p.returncode != 0:
        raise HarnessError(f"deskctl {' '.join(args)} exited {p.returncode}:\n{out}\n{err}")
    try:
        return json.loads(out)
    except json.JSONDecodeError as e:
        raise HarnessError(f"deskctl {' '.join(args)}: stdout is not JSON ({e}):\n{out}\n{err}")


def swaks_reply_codes(transcript):
    """SMTP reply codes swaks received, in order (lines '<-  250 ...' and '<** 451 ...')."""
    return [m.group(2) for m in re.finditer(r"^<(-|\*\*)\s+(\d{3})[ -]", transcript, re.M)]


def _alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _kill(pid, sig):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def edge_relay_main_cf(next_hop_port, domains=("example.test",), myhostname="edge.example.test"):
    """extra_main_cf for an edge MX (a PostfixInstance with domains=()) that relays the given
    domains to another private instance at [127.0.0.1]:next_hop_port, as docs/SCALING.md sets up
    the edge hosts: relay_domains plus transport_maps. The edge needs its own myhostname: Postfix's
    SMTP client refuses a server that greets with the client's own name ("loops back to myself")."""
    nexthop = f"smtp:[127.0.0.1]:{next_hop_port}"
    return {
        "myhostname": myhostname,
        "relay_domains": " ".join(domains),
        "transport_maps": "inline:{ " + ", ".join(f"{d}={nexthop}" for d in domains) + " }",
    }


def missing_prerequisites(*tools):
    """Why an end-to-end suite cannot run here, or None: it needs root (a private Postfix), postfix
    and swaks plus any further tools named, and the deskmilter and deskctl binaries (from
    $DESKMILTER / $DESKCTL, else build/). MilterPostfixCase fails a suite whose prerequisites are
    missing: a test never skips."""
    if os.geteuid() != 0:
        return "needs root to run a private Postfix"
    for tool in (POSTFIX, SWAKS) + tools:
        if not os.path.exists(tool):
            return f"{tool} not installed"
    for env, default in (("DESKMILTER", "build/deskmilter"), ("DESKCTL", "build/deskctl")):
        if env in os.environ:
            continue
        if not (os.path.isfile(default) and os.access(default, os.X_OK)):
            return f"{env} not set and {default} not built"
    return None


class MilterPostfixCase(unittest.TestCase):
    """One deskmilter (the class's CONFIG) and the MTAs in front of it, for a whole test class, in a
    temp directory removed at the end (kept with DESK_E2E_KEEP=1). Sets cls.tmp, cls.milter, cls.pf,
    cls.cfg and cls.t0.

    Start order: prepare() (runs in cls.tmp; servers it needs before deskmilter, e.g. a sink), then
    make_milter() is started, then start_mtas() (default: one private Postfix, cls.pf, built with
    postfix_options()). Every server appended to cls.servers (prepare's, start_mtas's) is stopped in
    reverse order at the end, before deskmilter; functions given to add_cleanup() run after
    deskmilter stops. A suite with more MTAs (an edge relay, Sendmail) overrides start_mtas() and
    appends what it starts, so set-up and teardown stay here."""

    CONFIG = None
    PREFIX = "desk-e2e-"
    # Tools the suite needs beyond postfix and swaks (paths); a missing one fails the suite with
    # the reason, never skips it: scripts/install-deps.sh installs them all.
    REQUIRES = ()

    @classmethod
    def missing(cls):
        """What the suite lacks to run ("" when nothing)."""
        return missing_prerequisites(*cls.REQUIRES)

    @classmethod
    def prepare(cls):
        pass

    @classmethod
    def postfix_options(cls):
        return {}

    @classmethod
    def make_milter(cls):
        return Milter(cls.tmp, cls.CONFIG)

    @classmethod
    def start_mtas(cls):
        cls.pf = PostfixInstance(cls.tmp, milter=cls.milter.postfix_spec, **cls.postfix_options())
        cls.servers.append(cls.pf)
        cls.pf.start()

    @classmethod
    def add_cleanup(cls, fn):
        cls.cleanups.append(fn)

    @classmethod
    def setUpClass(cls):
        missing = cls.missing()
        if missing:
            raise RuntimeError(f"{cls.__name__} cannot run: {missing} "
                               "(scripts/install-deps.sh installs what the tests need)")
        cls.t0 = time.monotonic()
        cls.tmp = tempfile.mkdtemp(prefix=cls.PREFIX)
        cls.milter = cls.pf = None
        cls.servers = []
        cls.cleanups = []
        try:
            for sub in ("store", "spool"):
                os.makedirs(os.path.join(cls.tmp, "deskmilter", sub), exist_ok=True)
            cls.prepare()
            cls.milter = cls.make_milter()
            cls.milter.start()
            cls.start_mtas()
        except Exception:
            cls._teardown()
            raise
        cls.cfg = cls.milter.config_path
        print(f"\nsetUpClass: {time.monotonic() - cls.t0:.1f} s", file=sys.stderr)

    @classmethod
    def _teardown(cls):
        try:
            for server in reversed(cls.servers):
                try:
                    server.stop()
                except Exception as e:  # the others must still stop
                    print(f"teardown: {server!r}: {e}", file=sys.stderr)
        finally:
            try:
                if cls.milter is not None:
                    cls.milter.stop()
            finally:
                for fn in reversed(cls.cleanups):
                    fn()
                if os.environ.get("DESK_E2E_KEEP"):
                    print(f"kept {cls.tmp}", file=sys.stderr)
                else:
                    shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def tearDownClass(cls):
        cls._teardown()
        print(f"\ntotal: {time.monotonic() - cls.t0:.1f} s", file=sys.stderr)

