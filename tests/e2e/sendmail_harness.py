"""End-to-end harness for Sendmail: a private Sendmail 8.17 on loopback, unpacked, not installed.

What it is: a stdlib-only helper for tests/e2e/test_sendmail.py. Debian's sendmail-bin conflicts
with Postfix (both provide mail-transport-agent), so the test never installs it: the three .debs
(sendmail-bin, sendmail-base, sendmail-cf) are fetched with `apt-get download` into DEB_CACHE (kept
between runs; scripts/install-deps.sh fills it too) and unpacked with `dpkg -x` into the test's own
directory. The binary is ROOT/usr/libexec/sendmail/sendmail, the m4 files ROOT/usr/share/sendmail/cf.
The .mc is generated (shared/notes/platform.md: what it takes), compiled with m4 and run as
`sendmail -C CF -bd` with its queue, pid file and config in the test's directory; it relays every
mail to a smart host on a loopback port (an SmtpSink) and calls one milter.

Limits: needs root, m4, dpkg, unshare (util-linux), apt-get (only when the cache is empty) and
libwrap0 (the binary links libwrap.so.0). Sendmail refuses a unix milter socket in a directory
anyone can write, /tmp included ("unsafe: World writable directory", and it does not start): use
safe_socket_dir(). Sendmail logs to syslog only; the test
takes Sendmail's queue id from the SMTP reply instead. Not thread-safe.
"""

import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile

import postfix_harness as ph

DEB_CACHE = os.environ.get("DESK_DEB_CACHE", "/var/cache/deskmilter-test/debs")
PACKAGES = ("sendmail-bin", "sendmail-base", "sendmail-cf")
M4 = shutil.which("m4") or "/usr/bin/m4"
DPKG = shutil.which("dpkg") or "/usr/bin/dpkg"
APT_GET = shutil.which("apt-get") or "/usr/bin/apt-get"
UNSHARE = shutil.which("unshare") or "/usr/bin/unshare"


def missing_prerequisites():
    """Why a Sendmail suite cannot run here, or None (on top of postfix_harness's own list)."""
    why = ph.missing_prerequisites(ph.SMTP_SINK, M4, DPKG, UNSHARE)
    if why:
        return why
    if not glob.glob("/usr/lib/*/libwrap.so.0") and not glob.glob("/lib/*/libwrap.so.0"):
        return "libwrap0 not installed (the unpacked sendmail links libwrap.so.0)"
    return None


def sendmail_debs(cache=DEB_CACHE):
    """Paths of the three .debs in cache, downloaded with `apt-get download` when one is absent.
    Raises HarnessError naming the command's output when the download fails."""
    def present():
        found = {}
        for pkg in PACKAGES:
            hits = sorted(glob.glob(os.path.join(cache, f"{pkg}_*.deb")))
            if hits:
                found[pkg] = hits[-1]
        return found

    found = present()
    missing = [p for p in PACKAGES if p not in found]
    if missing:
        os.makedirs(cache, mode=0o755, exist_ok=True)
        # As root, apt's sandbox user _apt cannot write the cache dir: download as root instead.
        ph._run([APT_GET, "-q", "-o", "APT::Sandbox::User=root", "download", *missing],
                cwd=cache, timeout=300)
        found = present()
        missing = [p for p in PACKAGES if p not in found]
        if missing:
            raise ph.HarnessError(f"apt-get download left no .deb for {missing} in {cache}")
    return [found[p] for p in PACKAGES]


def unpack_sendmail(root, cache=DEB_CACHE):
    """dpkg -x each .deb into root; returns the path of the sendmail binary."""
    for deb in sendmail_debs(cache):
        ph._run([DPKG, "-x", deb, root], timeout=120)
    binary = os.path.join(root, "usr", "libexec", "sendmail", "sendmail")
    if not os.access(binary, os.X_OK):
        raise ph.HarnessError(f"{binary} missing after dpkg -x")
    return binary


def safe_socket_dir(prefix="desk-e2e-"):
    """A new 0755 directory outside /tmp (under /run) whose every ancestor only root can write, as
    Sendmail demands of a unix milter socket's path. The caller removes it (shutil.rmtree)."""
    d = tempfile.mkdtemp(prefix=prefix, dir="/run")
    os.chmod(d, 0o755)
    return d


class SendmailInstance:
    """A private Sendmail daemon under DIR/sendmail (root, cf, queue, pid file) on a free port.

    milter_spec: the socket in Sendmail's syntax ("unix:/path" or "inet:PORT@127.0.0.1").
    milter_flags / milter_timeouts: INPUT_MAIL_FILTER's F= and T= (F=T: tempfail when the filter
        is unavailable; the timeouts are what docs/SENDMAIL.md recommends).
    relay_port: every mail is relayed to [127.0.0.1]:relay_port (SMART_HOST; no local domains).
    """

    def __init__(self, tmpdir, milter_spec, relay_port, name="sendmail", milter_flags="T",
                 milter_timeouts="C:30s;S:30s;R:60s;E:5m", hostname="sm.example.test"):
        self.dir = os.path.abspath(os.path.join(tmpdir, name))
        self.root = os.path.join(self.dir, "root")
        self.queue_dir = os.path.join(self.dir, "queue")
        self.mc_path = os.path.join(self.dir, "sendmail.mc")
        self.cf_path = os.path.join(self.dir, "sendmail.cf")
        self.pid_path = os.path.join(self.dir, "sendmail.pid")
        self.milter_spec = milter_spec
        self.milter_flags = milter_flags
        self.milter_timeouts = milter_timeouts
        self.relay_port = relay_port
        self.hostname = hostname
        self.port = ph.free_port()
        self.binary = None
        self.pid = None
        self.start_output = ""

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def mc_text(self):
        cf_dir = os.path.join(self.root, "usr", "share", "sendmail", "cf")
        q = "`"  # m4 quotes: `text'
        lines = [
            "divert(-1)",
            f"include({q}{cf_dir}/m4/cf.m4')",
            "divert(0)dnl",
            f"OSTYPE({q}linux')dnl",
            f"define({q}confDOMAIN_NAME', {q}{self.hostname}')dnl",
            f"define({q}confDONT_PROBE_INTERFACES', {q}True')dnl",
            # Everything goes to the sink: remote domains through SMART_HOST, and the mailers'
            # "TCP $h PORT" arguments point that host's port at the sink.
            f"define({q}SMART_HOST', {q}[127.0.0.1]')dnl",
            f"define({q}RELAY_MAILER_ARGS', {q}TCP $h {self.relay_port}')dnl",
            f"define({q}ESMTP_MAILER_ARGS', {q}TCP $h {self.relay_port}')dnl",
            f"DAEMON_OPTIONS({q}Port={self.port}, Addr=127.0.0.1, Name=MTA')dnl",
            # Test domains do not resolve (else MAIL FROM gets 553); relaying for anyone is for
            # this loopback-only test instance.
            f"FEATURE({q}accept_unresolvable_domains')dnl",
            f"FEATURE({q}promiscuous_relay')dnl",
            f"INPUT_MAIL_FILTER({q}deskmilter', {q}S={self.milter_spec}, F={self.milter_flags}, "
            f"T={self.milter_timeouts}')dnl",
            f"MAILER({q}smtp')dnl",
        ]
        return "\n".join(lines) + "\n"

    def start(self, timeout=20.0):
        ph._mkdir(self.dir)
        self.binary = unpack_sendmail(self.root)
        ph._mkdir(self.queue_dir, 0o700)
        with open(self.mc_path, "w") as f:
            f.write(self.mc_text())
        p = subprocess.run([M4, self.mc_path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=60)
        if p.returncode != 0:
            raise ph.HarnessError(f"m4 {self.mc_path} exited {p.returncode}:\n"
                                  f"{p.stderr.decode('utf-8', 'replace')}")
        with open(self.cf_path, "wb") as f:
            f.write(p.stdout)
        ph._live.append(self)
        # Sendmail qualifies the machine's own name before it reads its config, and when that fails
        # (a bare "vm" in /etc/hosts, no DNS) it sleeps 60 s ("My unqualified host name unknown;
        # sleeping for retry"): it runs in its own UTS namespace whose hostname is self.hostname.
        # -bd forks the daemon and returns; its pid is in PidFile. The daemon keeps the descriptors
        # it inherits, so its output goes to a file (a pipe would never see EOF). No syslog here:
        # warnings on stderr (e.g. "local socket name ... missing") are kept for failure messages.
        log_path = os.path.join(self.dir, "start.log")
        with open(log_path, "wb") as log:
            rc = subprocess.call(
                [UNSHARE, "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', self.hostname,
                 self.binary, "-C", self.cf_path, "-bd", "-O", "AliasFile=/dev/null",
                 "-O", f"QueueDirectory={self.queue_dir}", "-O", f"PidFile={self.pid_path}",
                 "-O", "StatusFile=/dev/null"], stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, timeout=timeout)
        with open(log_path, "rb") as f:
            self.start_output = f.read().decode("utf-8", "replace")
        if rc != 0:
            self.stop()
            raise ph.HarnessError(f"sendmail -bd exited {rc}:\n{self.start_output}")
        self.pid = ph.wait_until(self._read_pid, timeout, what="sendmail's pid file")
        ph.wait_port(self.port, timeout)

    def _read_pid(self):
        try:
            with open(self.pid_path) as f:
                return int(f.readline().strip())
        except (OSError, ValueError):
            return None

    def stop(self):
        if self.pid is not None:
            pid, self.pid = self.pid, None
            ph._kill(pid, signal.SIGTERM)
            try:
                ph.wait_until(lambda: not _running(pid), 10, what="sendmail exit")
            except ph.HarnessError:
                ph._kill(pid, signal.SIGKILL)
        if self in ph._live:
            ph._live.remove(self)

    def send(self, *swaks_args, timeout=60):
        """Runs swaks against this Sendmail. Returns (exit code, transcript)."""
        argv = [ph.SWAKS, "--server", "127.0.0.1", "--port", str(self.port), "--helo",
                "client.test", "--hide-informational", "--timeout", "30"]
        return ph._run(argv + list(swaks_args), check=False, timeout=timeout)

    def queue_files(self):
        """Names in the queue directory (qf/df files of mail Sendmail still holds)."""
        try:
            return sorted(os.listdir(self.queue_dir))
        except OSError:
            return []


def _running(pid):
    """True while pid exists and is no zombie (the daemon's parent is init, which may reap late)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def accepted_queue_id(transcript):
    """Sendmail's queue id from its reply to the end of DATA ("250 2.0.0 QID Message accepted for
    delivery"), or None."""
    m = re.search(r"^<-\s+250 2\.0\.0 (\S+) Message accepted for delivery", transcript, re.M)
    return m.group(1) if m else None


class UnixMilter(ph.Milter):
    """ph.Milter on a unix socket: config_text may also contain "{socket}", substituted with
    socket_path; start() waits until the socket accepts connections instead of a TCP port."""

    def __init__(self, tmpdir, config_text, socket_path, **kw):
        self.socket_path = socket_path
        super().__init__(tmpdir, config_text.replace("{socket}", socket_path), **kw)

    @property
    def sendmail_spec(self):
        return f"unix:{self.socket_path}"

    def start(self, timeout=10.0):
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        self._stderr = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen([self.binary, "-f", "-c", self.config_path],
                                     stdout=self._stderr, stderr=self._stderr, env=env,
                                     cwd=self.dir)
        ph._live.append(self)
        try:
            ph.wait_until(self._accepts, timeout,
                          what=f"deskmilter listening on {self.socket_path}")
        except ph.HarnessError as e:
            self.stop(check=False)
            raise ph.HarnessError(f"{e}\ndeskmilter stderr:\n{self.stderr_text()}") from None

    def _accepts(self):
        if self.proc.poll() is not None:
            raise ph.HarnessError(f"deskmilter exited with {self.proc.returncode} before listening")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            try:
                s.connect(self.socket_path)
                return True
            except OSError:
                return False
