#!/usr/bin/env python3
"""bench/run.py: the deskmilter benchmark suite (issue 6). Use bench/run.sh, which builds first.

What it measures, in one run, and prints as Markdown tables (also saved to OUT/results.md and
OUT/results.json, OUT defaulting to build-bench/bench-results):
  1. Throughput through one private Postfix on loopback relaying to smtp-sink, driven by
     smtp-source (10 sessions), one smtpd listener per configuration, so every configuration runs
     against the same Postfix, side by side:
       none            no milter
       null-tcp/unix   bench/null_milter (do-nothing libmilter filter, the protocol's floor)
       desk-tcp/unix   deskmilter
       desk-scan       deskmilter with virus scanning on ClamAV's test signatures (a database
                       the driver writes into its temp dir; --scan-toml replaces the section)
       desk-tmpfs      diagnostic: deskmilter (TCP) with its store on /dev/shm, where fsync is free
     smtp-source sends one fixed file per run, so the mix is one run per message type with its
     share of the messages (default 2000: 50% plain 2 KB, 30% replies threading to a ticket, 15%
     100 KB with a PDF, 5% 1 MB with a PNG); the mix rate is total messages / total time. The
     queue is drained (delivered to smtp-sink) between runs; delivery of a run's own messages
     overlaps with it, as on a real server. Rounds (--rounds) rotate the configuration order.
  2. Time inside deskmilter per message (end of headers to decision), p50/p99, from the
     elapsed_ms= field of its decision log lines.
  3. Peak RSS of a fresh deskmilter while one 50 MB attachment passes, against its idle RSS after
     a warm-up (VmHWM reset through /proc/PID/clear_refs, VmRSS sampled every 10 ms; growth is
     the larger of VmHWM and the sampled maximum, minus the idle RSS).
  4. The store benchmark (build-bench/bench/store_bench, Google Benchmark).

Needs root (Postfix), postfix, smtp-source and smtp-sink. Reuses tests/e2e/postfix_harness.py.
No timed assertions: it only fails when mail is not accepted or a server does not start.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(SRC, "tests", "e2e"))
sys.path.insert(0, HERE)
import postfix_harness as ph  # noqa: E402
import messages  # noqa: E402

SMTP_SOURCE = shutil.which("smtp-source", path="/usr/sbin:/usr/bin") or "/usr/sbin/smtp-source"

# Share of the messages per type (the mix).
MIX = (("plain", 0.50), ("reply", 0.30), ("pdf", 0.15), ("image", 0.05))
# Types run after the mix in every round, outside the mix rate (--att64-messages each).
EXTRA = ("att64",)
TYPE_LABEL = {"plain": "2 KB plain", "reply": "2 KB reply (threads)", "pdf": "100 KB + PDF",
              "image": "1 MB + PNG", "att64": "64 KB attachment"}

DESK_CONFIG = """\
[milter]
socket = "{socket}"
socket_mode = "0666"
hostname = "desk.bench.test"

[store]
dir = "{dir}/store"
spool_dir = "{dir}/spool"

# One sender from one network sends every bench message: the flood limits would tempfail it after
# 20 (sender) and 300 (network). The maxima keep both flood counters in the measured path.
[loops]
flood_max = 1000000
flood_max_per_network = 1000000

{scanner}
[[queue]]
name = "support"
addresses = ["support@sink.test"]
"""

# Every deskmilter row but the scanning one: scanning defaults to on and needs a database.
SCANNER_OFF = """\
[scanner]
enabled = false
"""

# ClamAV's own test signatures (no official database offline: freshclam cannot run without internet): the
# 68-byte EICAR file by MD5, and the "CLAMessageBoxA" body string of ClamAV's harmless clam.exe.
# None of the bench messages match; the point is the cost of scanning every attachment.
TEST_SIGNATURES = {
    "bench.hdb": "44d88612fea8a8f36de82e1278abb02f:68:Test.EICAR\n",
    "bench.ndb": "ClamMessageBoxA:0:*:434c414d657373616765426f7841\n",
}


def scanner_toml(args, tmp):
    """The [scanner] section of the scanning row: --scan-toml's file if given, else scanning on
    a test database written into tmp."""
    if args.scan_toml:
        with open(args.scan_toml) as f:
            return f.read()
    db = os.path.join(tmp, "clamav-db")
    if not os.path.isdir(db):
        os.makedirs(db)
        os.chmod(db, 0o755)
        for name, text in TEST_SIGNATURES.items():
            with open(os.path.join(db, name), "w") as f:
                f.write(text)
            os.chmod(os.path.join(db, name), 0o644)
    return f'[scanner]\nenabled = true\ndatabase_dir = "{db}"\n'


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def wait_unix(path, timeout, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ph.HarnessError(f"process exited with {proc.returncode} before listening on {path}")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.connect(path)
                return
        except OSError:
            time.sleep(0.05)
    raise ph.HarnessError(f"nothing listens on {path} after {timeout} s")


class DeskMilter(ph.Milter):
    """deskmilter on TCP (the harness's Milter) or on a unix socket (unix=True)."""

    def __init__(self, tmpdir, name, unix, binary, scanner=SCANNER_OFF):
        self.unix = unix
        sock = "unix:{dir}/milter.sock" if unix else "inet:{port}@127.0.0.1"
        text = DESK_CONFIG.replace("{socket}", sock).replace("{scanner}", scanner.rstrip() + "\n")
        super().__init__(tmpdir, text, binary=binary, name=name)
        self.sock_path = os.path.join(self.dir, "milter.sock")
        for sub in ("store", "spool"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)

    @property
    def postfix_spec(self):
        return "unix:" + self.sock_path if self.unix else super().postfix_spec

    def start(self, timeout=20.0):
        if not self.unix:
            return super().start(timeout)
        self._stderr = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen([self.binary, "-f", "-c", self.config_path],
                                     stdout=self._stderr, stderr=self._stderr, cwd=self.dir)
        ph._live.append(self)
        try:
            wait_unix(self.sock_path, timeout, self.proc)
        except ph.HarnessError as e:
            self.stop(check=False)
            raise ph.HarnessError(f"{e}\ndeskmilter stderr:\n{self.stderr_text()}") from None

    def kill(self):
        # libmilter takes ~5 s to return after SIGTERM; a benchmark has nothing left to flush.
        self.stop(timeout=0.05)

    def stderr_size(self):
        try:
            return os.path.getsize(self.stderr_path)
        except OSError:
            return 0

    def elapsed_since(self, offset):
        """elapsed_ms values of decision lines written after byte offset."""
        with open(self.stderr_path, "rb") as f:
            f.seek(offset)
            text = f.read().decode("utf-8", "replace")
        out = []
        for line in text.splitlines():
            i = line.rfind("elapsed_ms=")
            if i >= 0:
                v = line[i + len("elapsed_ms="):].split(",")[0].strip()
                try:
                    out.append(float(v))
                except ValueError:
                    pass
        return out

    def decisions_since(self, offset):
        with open(self.stderr_path, "rb") as f:
            f.seek(offset)
            text = f.read().decode("utf-8", "replace")
        return [l for l in text.splitlines() if "verdict=" in l]


class NullMilter:
    """bench/null_milter on TCP or a unix socket."""

    def __init__(self, tmpdir, name, unix, binary):
        self.binary = binary
        self.dir = os.path.join(tmpdir, name)
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o755)
        self.unix = unix
        self.sock_path = os.path.join(self.dir, "milter.sock")
        self.port = ph.free_port()
        self.proc = None

    @property
    def postfix_spec(self):
        return "unix:" + self.sock_path if self.unix else f"inet:127.0.0.1:{self.port}"

    def start(self):
        spec = "unix:" + self.sock_path if self.unix else f"inet:{self.port}@127.0.0.1"
        self.proc = subprocess.Popen([self.binary, spec], stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.dir, "stderr.log"), "wb"))
        ph._live.append(self)
        if self.unix:
            wait_unix(self.sock_path, 10, self.proc)
        else:
            ph.wait_port(self.port, 10, self.proc)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self in ph._live:
            ph._live.remove(self)

    kill = stop


CLAMD_CONF = """\
LocalSocket {dir}/clamd.sock
LocalSocketMode 666
Foreground yes
DatabaseDirectory {db}
TemporaryDirectory {dir}
LogFile {dir}/clamd.log
PidFile {dir}/clamd.pid
StreamMaxLength 200M
MaxFileSize 100M
MaxScanSize 400M
"""

CLAMAV_MILTER_CONF = """\
MilterSocket unix:{dir}/milter.sock
MilterSocketMode 666
Foreground yes
ClamdSocket unix:{dir}/clamd.sock
PidFile {dir}/clamav-milter.pid
LogFile {dir}/clamav-milter.log
TemporaryDirectory {dir}
OnClean Accept
OnInfected Reject
OnFail Defer
MaxFileSize 100M
"""


class ClamavMilter:
    """Debian's clamav-milter with its own clamd (clamav-daemon), each on a unix socket in a
    private directory, on the same test signature directory as the deskmilter scanning row.
    clamd is started first (it must answer before clamav-milter starts); both are stopped."""

    def __init__(self, tmpdir, name, db):
        self.dir = os.path.join(tmpdir, name)
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o755)
        self.sock_path = os.path.join(self.dir, "milter.sock")
        for fname, text in (("clamd.conf", CLAMD_CONF), ("clamav-milter.conf", CLAMAV_MILTER_CONF)):
            with open(os.path.join(self.dir, fname), "w") as f:
                f.write(text.replace("{dir}", self.dir).replace("{db}", db))
        self.clamd = self.proc = None
        self.procs = []

    @property
    def postfix_spec(self):
        return "unix:" + self.sock_path

    def start(self):
        for binary in (CLAMD, CLAMAV_MILTER):
            if not os.access(binary, os.X_OK):
                raise ph.HarnessError(f"{binary} missing: install clamav-daemon and clamav-milter "
                                      "(bench/install-deps.sh)")
        err = open(os.path.join(self.dir, "stderr.log"), "ab")
        self.clamd = subprocess.Popen([CLAMD, "-c", os.path.join(self.dir, "clamd.conf")],
                                      stdout=err, stderr=err)
        self.procs = [self.clamd]
        ph._live.append(self)
        wait_unix(os.path.join(self.dir, "clamd.sock"), 60, self.clamd)
        self.proc = subprocess.Popen([CLAMAV_MILTER, "-c",
                                      os.path.join(self.dir, "clamav-milter.conf")],
                                     stdout=err, stderr=err)
        self.procs.append(self.proc)
        wait_unix(self.sock_path, 30, self.proc)

    def stop(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        if self in ph._live:
            ph._live.remove(self)

    kill = stop


CLAMD = "/usr/sbin/clamd"
CLAMAV_MILTER = "/usr/sbin/clamav-milter"


def filter_cpu(m):
    """CPU seconds of a configuration's filter processes (clamav-milter's row: both daemons)."""
    procs = getattr(m, "procs", None) or [m.proc]
    total = 0.0
    for p in procs:
        c = cpu_seconds(p)
        if c is None:
            return None
        total += c
    return total


class Sink:
    """smtp-sink without dumping (-d would write every message to disk)."""

    def __init__(self, tmpdir):
        self.port = ph.free_port()
        self.log = open(os.path.join(tmpdir, "smtp-sink.log"), "wb")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([ph.SMTP_SINK, "-u", "postfix", f"127.0.0.1:{self.port}", "256"],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        ph._live.append(self)
        ph.wait_port(self.port, 10, self.proc)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        if self in ph._live:
            ph._live.remove(self)


def smtp_source(port, path, count, sessions):
    """Sends the file count times over sessions parallel sessions; returns wall seconds."""
    argv = [SMTP_SOURCE, "-s", str(sessions), "-m", str(count), "-F", path,
            "-f", messages.CUSTOMER, "-t", messages.SUPPORT, "-M", "client.test",
            f"127.0.0.1:{port}"]
    t0 = time.monotonic()
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=900)
    dt = time.monotonic() - t0
    if p.returncode != 0:
        raise ph.HarnessError(f"smtp-source exited {p.returncode}: {p.stdout.decode(errors='replace')}")
    return dt


def wait_drained(pf, timeout=300):
    """Waits until Postfix's queue is empty; returns seconds waited. Deferred mail is an error."""
    t0 = time.monotonic()
    while True:
        entries = pf.queue_entries()
        if not entries:
            return time.monotonic() - t0
        deferred = [e for e in entries if e.get("queue_name") in ("deferred", "hold")]
        if deferred:
            reasons = {r.get("delay_reason") for e in deferred for r in e.get("recipients", [])}
            raise ph.HarnessError(f"{len(deferred)} messages deferred/held: {reasons}")
        if time.monotonic() - t0 > timeout:
            raise ph.HarnessError(f"queue not drained after {timeout} s ({len(entries)} left)")
        time.sleep(0.2)


def cpu_seconds(proc):
    """utime + stime of a process (all its threads), in seconds; None when it is gone."""
    try:
        with open(f"/proc/{proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def pct(values, q):
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))]


def fmt(x, nd=1):
    return "-" if x is None else f"{x:.{nd}f}"


# ---------------------------------------------------------------------------------------------
# Throughput

def run_throughput(args, tmp, paths, bins):
    counts = {t: max(1, round(args.messages * share)) for t, share in MIX}
    extra = {t: args.att64_messages for t in EXTRA if args.att64_messages > 0}
    all_counts = dict(counts, **extra)
    configs = []  # (name, label, milter or None)
    configs.append(("none", "no milter", None))
    configs.append(("null-tcp", "do-nothing filter, TCP", NullMilter(tmp, "null-tcp", False,
                                                                     bins["null_milter"])))
    configs.append(("null-unix", "do-nothing filter, unix socket",
                    NullMilter(tmp, "null-unix", True, bins["null_milter"])))
    configs.append(("desk-tcp", "deskmilter, TCP",
                    DeskMilter(tmp, "desk-tcp", False, bins["deskmilter"])))
    configs.append(("desk-unix", "deskmilter, unix socket",
                    DeskMilter(tmp, "desk-unix", True, bins["deskmilter"])))
    if not args.no_tmpfs_row and os.path.isdir("/dev/shm"):
        # Diagnostic: the same deskmilter with its LMDB store on tmpfs, where fsync costs nothing,
        # to tell the store's durable commit apart from deskmilter's CPU work.
        shm = tempfile.mkdtemp(prefix="desk-bench-store-", dir="/dev/shm")
        m = DeskMilter(tmp, "desk-tmpfs", False, bins["deskmilter"])
        os.rmdir(os.path.join(m.dir, "store"))
        os.symlink(shm, os.path.join(m.dir, "store"))
        m.shm_dir = shm
        configs.append(("desk-tmpfs", "deskmilter, TCP, store on tmpfs (diagnostic: no fsync)", m))
    if not args.no_scan_row:
        configs.append(("desk-scan", "deskmilter + virus scan, unix socket",
                        DeskMilter(tmp, "desk-scan", True, bins["deskmilter"],
                                   scanner_toml(args, tmp))))
    if args.before:
        # The same rows built from an earlier commit (--before), in the same run and Postfix.
        configs.append(("desk-unix-before", "deskmilter before, unix socket",
                        DeskMilter(tmp, "desk-unix-before", True, args.before + "/deskmilter")))
        if not args.no_scan_row:
            configs.append(("desk-scan-before", "deskmilter before + virus scan, unix socket",
                            DeskMilter(tmp, "desk-scan-before", True, args.before + "/deskmilter",
                                       scanner_toml(args, tmp))))
    if not args.no_clamav_row:
        scanner_toml(args, tmp)  # writes the test database into tmp/clamav-db
        configs.append(("clamav", "clamav-milter + clamd, unix socket",
                        ClamavMilter(tmp, "clamav", os.path.join(tmp, "clamav-db"))))
    baseline = {"null-tcp": "null-tcp", "null-unix": "null-unix", "desk-tcp": "null-tcp",
                "desk-unix": "null-unix", "desk-scan": "null-unix", "none": "null-tcp",
                "desk-tmpfs": "null-tcp", "clamav": "null-unix", "desk-unix-before": "null-unix",
                "desk-scan-before": "null-unix"}
    if args.rows:
        keep = set(args.rows.split(",")) | {baseline[n] for n in args.rows.split(",")}
        configs = [c for c in configs if c[0] in keep]

    sink = Sink(tmp)
    sink.start()
    listeners, master = {}, []
    for name, _, m in configs:
        listeners[name] = ph.free_port()
        spec = m.postfix_spec if m is not None else ""
        master.append(f"127.0.0.1:{listeners[name]} inet n - n - - smtpd -o smtpd_milters={spec}")
    main_cf = {
        "relay_domains": "sink.test",
        "transport_maps": f"inline:{{ sink.test=smtp:[127.0.0.1]:{sink.port} }}",
        "milter_default_action": "tempfail",
        "milter_protocol": "6",
        "message_size_limit": str(200 << 20),
        "smtpd_milters": "",
        # smtp-source -F sends the same bytes every time, and deskmilter makes a Message-ID from a
        # hash of the content when there is none: every copy after the first would be a
        # duplicate. Cleanup adds a unique Message-Id (and Date) before the milter reads the
        # message, so every message is its own, as in real mail.
        "local_header_rewrite_clients": "static:all",
        "always_add_missing_headers": "yes",
    }
    results = {name: {"label": label, "runs": {t: [] for t in all_counts},
                      "elapsed": {t: [] for t in all_counts}, "cpu": {t: 0.0 for t in all_counts},
                      "decisions": 0} for name, label, _ in configs}
    pf = ph.PostfixInstance(tmp, milter=None, extra_main_cf=main_cf, extra_master_cf=master)
    try:
        for _, _, m in configs:
            if m is not None:
                m.start()
        pf.start()
        # Warm-up: the first smtpd processes and milter threads; seeds the ticket replies thread to.
        for name, _, m in configs:
            smtp_source(listeners[name], paths["seed"], 1, 1)
            smtp_source(listeners[name], paths["plain"], 20, 10)
        wait_drained(pf)
        for name, _, m in configs:
            if isinstance(m, DeskMilter):
                if not any("kind=new" in l for l in m.decisions_since(0)):
                    raise ph.HarnessError(f"{name}: the seed message made no ticket:\n"
                                          + m.stderr_text()[-3000:])
        order = [c for c in configs]
        for rnd in range(args.rounds):
            shift = rnd % len(order)
            for name, _, m in order[shift:] + order[:shift]:
                la = loadavg()
                for t in all_counts:
                    off = m.stderr_size() if isinstance(m, DeskMilter) else 0
                    cpu0 = filter_cpu(m) if m is not None else None
                    dt = smtp_source(listeners[name], paths[t], all_counts[t], args.sessions)
                    cpu1 = filter_cpu(m) if m is not None else None
                    drain = wait_drained(pf)
                    results[name]["runs"][t].append(dt)
                    if cpu0 is not None and cpu1 is not None:
                        results[name]["cpu"][t] += cpu1 - cpu0
                    if isinstance(m, DeskMilter):
                        el = m.elapsed_since(off)
                        results[name]["elapsed"][t] += el
                        results[name]["decisions"] += len(el)
                        if len(el) != all_counts[t]:
                            raise ph.HarnessError(f"{name}/{t}: {len(el)} decisions logged for "
                                                  f"{all_counts[t]} messages")
                        dups = [l for l in m.decisions_since(off) if "kind=duplicate" in l]
                        if dups:
                            raise ph.HarnessError(f"{name}/{t}: duplicates, not new mail: {dups[0]}")
                        if t == "reply":
                            bad = [l for l in m.decisions_since(off) if "kind=reply" not in l]
                            if bad:
                                raise ph.HarnessError(f"{name}: reply not threaded: {bad[0]}")
                    log(f"round {rnd + 1} {name:9} {t:6} {all_counts[t]:5} msgs {dt:7.2f} s "
                        f"{all_counts[t] / dt:7.1f} msg/s (drain {drain:.1f} s, load {la})")
    finally:
        pf.stop()
        for _, _, m in configs:
            if m is not None:
                m.kill()
            if getattr(m, "shm_dir", None):
                shutil.rmtree(m.shm_dir, ignore_errors=True)
        sink.stop()

    # Summaries: per round, rate per type and the mix; the median over rounds is reported.
    table = {}
    for name, label, _ in configs:
        r = results[name]
        per_type = {t: statistics.median(all_counts[t] / dt for dt in r["runs"][t])
                    for t in all_counts}
        per_type_rounds = {t: [all_counts[t] / dt for dt in r["runs"][t]] for t in all_counts}
        mix_rates = []
        for i in range(args.rounds):
            total_t = sum(r["runs"][t][i] for t in counts)
            mix_rates.append(sum(counts.values()) / total_t)
        all_el = [v for t in all_counts for v in r["elapsed"][t]]
        table[name] = {
            "label": label, "per_type": per_type, "per_type_rounds": per_type_rounds,
            "mix": statistics.median(mix_rates),
            "mix_rounds": mix_rates, "times": r["runs"],
            "elapsed_p50": {t: pct(r["elapsed"][t], 0.5) for t in all_counts},
            "elapsed_p99": {t: pct(r["elapsed"][t], 0.99) for t in all_counts},
            "elapsed_all_p50": pct(all_el, 0.5), "elapsed_all_p99": pct(all_el, 0.99),
            "elapsed_n": len(all_el),
            # CPU of the filter process per message (ms), all rounds; None without a filter.
            "cpu_ms": ({t: 1000 * r["cpu"][t] / (all_counts[t] * args.rounds) for t in all_counts}
                       if name != "none" else None),
            "cpu_mix_ms": (1000 * sum(r["cpu"][t] for t in counts) /
                           (sum(counts.values()) * args.rounds) if name != "none" else None),
        }
    for name in table:
        base = table.get(baseline.get(name, "null-tcp"))
        table[name]["ratio_base"] = baseline.get(name)
        table[name]["ratio"] = table[name]["mix"] / base["mix"] if base else None
        table[name]["ratio_type"] = {t: table[name]["per_type"][t] / base["per_type"][t]
                                     for t in all_counts} if base else {}
        # Per round, against the baseline's same round (both ran in that round).
        table[name]["ratio_type_rounds"] = {
            t: [a / b for a, b in zip(table[name]["per_type_rounds"][t],
                                      base["per_type_rounds"][t])]
            for t in all_counts} if base else {}
    return {"counts": counts, "all_counts": all_counts, "table": table,
            "scan": bool(args.scan_toml)}


# ---------------------------------------------------------------------------------------------
# RSS with one big attachment

def proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0])  # kB
    return out


def run_rss(args, tmp, paths, bins):
    big = os.path.join(tmp, "msgs", "big.eml")
    with open(big, "w", newline="\n") as f:
        f.write(messages.big_attachment(args.big_mb))
    big_size = os.path.getsize(big)
    rows = []
    variants = [("deskmilter", SCANNER_OFF, bins["deskmilter"])]
    if not args.no_scan_row:
        variants.append(("deskmilter + scan", scanner_toml(args, tmp), bins["deskmilter"]))
    if args.before:
        variants.append(("deskmilter before", SCANNER_OFF, args.before + "/deskmilter"))
        if not args.no_scan_row:
            variants.append(("deskmilter before + scan", scanner_toml(args, tmp),
                             args.before + "/deskmilter"))
    variants.append(("do-nothing filter", None, None))
    for label, extra, binary in variants:
        sub = os.path.join(tmp, "rss-" + str(len(rows)))
        os.makedirs(sub)
        os.chmod(sub, 0o755)
        if extra is None:
            m = NullMilter(sub, "null", False, bins["null_milter"])
        else:
            m = DeskMilter(sub, "desk", False, binary, extra)
        sink = Sink(sub)
        main_cf = {"relay_domains": "sink.test",
                   "transport_maps": f"inline:{{ sink.test=smtp:[127.0.0.1]:{sink.port} }}",
                   "message_size_limit": str(200 << 20)}
        pf = ph.PostfixInstance(sub, milter=m.postfix_spec, extra_main_cf=main_cf)
        try:
            sink.start()
            m.start()
            pf.start()
            pid = m.proc.pid
            smtp_source(pf.smtp_port, paths["seed"], 1, 1)
            smtp_source(pf.smtp_port, paths["plain"], 20, 10)
            smtp_source(pf.smtp_port, paths["image"], 4, 2)
            wait_drained(pf)
            time.sleep(1.0)
            idle = proc_status(pid)["VmRSS"]
            with open(f"/proc/{pid}/clear_refs", "w") as f:
                f.write("5")  # resets VmHWM to the current RSS
            samples, stop = [], threading.Event()

            def sample():
                while not stop.is_set():
                    try:
                        samples.append(proc_status(pid)["VmRSS"])
                    except (OSError, KeyError):
                        pass
                    time.sleep(0.01)
            th = threading.Thread(target=sample)
            th.start()
            try:
                dt = smtp_source(pf.smtp_port, big, 1, 1)
            finally:
                stop.set()
                th.join()
            st = proc_status(pid)
            wait_drained(pf)
            after = proc_status(pid)["VmRSS"]
            el, decision = None, "-"
            if isinstance(m, DeskMilter):
                el = m.elapsed_since(0)[-1]
                last = m.decisions_since(0)[-1]
                fields = dict(kv.split("=", 1) for kv in last.split(": ", 2)[-1].split(", ")
                              if "=" in kv)
                decision = (f"{fields.get('verdict')} {fields.get('kind')}, size="
                            f"{fields.get('size')}, attachments={fields.get('attachments')}")
                if fields.get("kind") != "new":
                    raise ph.HarnessError(f"rss {label}: the big message made no ticket: {last}")
            rows.append({"label": label, "idle_kb": idle, "hwm_kb": st["VmHWM"],
                         "max_sampled_kb": max(samples) if samples else None,
                         "after_kb": after,
                         # The kernel updates VmHWM lazily; a 10 ms sample can be above it.
                         "growth_kb": max([st["VmHWM"]] + samples) - idle, "send_s": dt,
                         "elapsed_ms": el, "decision": decision, "message_bytes": big_size})
            log(f"rss {label}: idle {idle} kB, peak {st['VmHWM']} kB, growth "
                f"{(max([st['VmHWM']] + samples) - idle) / 1024:.1f} MB, after {after} kB, send {dt:.2f} s")
        finally:
            pf.stop()
            m.kill()
            sink.stop()
    return {"big_mb": args.big_mb, "message_bytes": big_size, "rows": rows}


# ---------------------------------------------------------------------------------------------
# Store benchmark

def run_store(args, tmp, bins):
    out = os.path.join(tmp, "store_bench.json")
    argv = [bins["store_bench"], f"--benchmark_out={out}", "--benchmark_out_format=json",
            "--benchmark_counters_tabular=true"]
    if args.store_args:
        argv += args.store_args.split()
    env = dict(os.environ, TMPDIR=tmp)
    t0 = time.monotonic()
    p = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=1800)
    sys.stderr.write(p.stdout.decode(errors="replace"))
    if p.returncode != 0:
        raise ph.HarnessError(f"store_bench exited {p.returncode}")
    with open(out) as f:
        data = json.load(f)
    return {"seconds": time.monotonic() - t0, "benchmarks": data["benchmarks"],
            "context": data.get("context", {})}


# ---------------------------------------------------------------------------------------------
# Report

def report(meta, thr, rss, store):
    L = []
    L.append(f"## Run {meta['date']}")
    L.append("")
    L.append(f"Machine: {meta['machine']}; load average at start {meta['load_start']}, "
             f"at end {meta['load_end']}; suite took {meta['seconds']:.0f} s.")
    L.append("")
    if thr:
        c = thr["counts"]
        ac = thr.get("all_counts", c)
        types = list(ac)
        L.append(f"### Throughput (msg/s accepted by Postfix; {sum(c.values())} messages per "
                 f"configuration per round, {meta['sessions']} sessions, median of "
                 f"{meta['rounds']} round(s))")
        L.append("")
        head = "| configuration | mix | ratio | mix per round | " + " | ".join(
            f"{TYPE_LABEL[t]} ({ac[t]})" for t in types) + " |"
        L.append(head)
        L.append("|---" * (4 + len(types)) + "|")
        rows = [("none", None), ("null-tcp", None), ("null-unix", None), ("desk-tcp", None),
                ("desk-unix", None), ("desk-unix-before", None), ("desk-scan", None),
                ("desk-scan-before", None), ("clamav", None), ("desk-tmpfs", None)]
        for name, _ in rows:
            r = thr["table"].get(name)
            if r is None:
                if name == "desk-scan":
                    L.append("| deskmilter + virus scan | not run (--no-scan-row) | | | | | | |")
                continue
            ratio = (f"{r['ratio']:.2f}x {r['ratio_base']}" if r["ratio"] is not None
                     and name != r["ratio_base"] else "1.00" if name == r["ratio_base"] else "-")
            cells = " | ".join(f"{r['per_type'][t]:.0f} ({r['ratio_type'][t]:.2f}x)"
                               for t in types)
            per_round = ", ".join(f"{x:.0f}" for x in r["mix_rounds"])
            L.append(f"| {r['label']} | {r['mix']:.0f} | {ratio} | {per_round} | {cells} |")
        L.append("")
        L.append("Ratio: mix throughput over the do-nothing filter's on the same transport "
                 "(per type in parentheses). The mix is the first four types; "
                 f"{', '.join(TYPE_LABEL[t] for t in types if t not in c) or 'nothing'} "
                 "runs after them in each round, outside the mix.")
        L.append("")
        L.append("Per-round ratios against the do-nothing filter on the same transport, same round:")
        L.append("")
        L.append("| configuration | " + " | ".join(TYPE_LABEL[t] for t in types) + " |")
        L.append("|---" * (1 + len(types)) + "|")
        for name in ("desk-tcp", "desk-unix", "desk-unix-before", "desk-scan", "desk-scan-before",
                     "clamav", "desk-tmpfs"):
            r = thr["table"].get(name)
            if r is None or not r.get("ratio_type_rounds"):
                continue
            L.append(f"| {r['label']} | " + " | ".join(
                ", ".join(f"{x:.2f}" for x in r["ratio_type_rounds"][t]) for t in types) + " |")
        L.append("")
        L.append("### CPU time of the filter process per message (utime + stime, ms)")
        L.append("")
        L.append("| configuration | mix | " + " | ".join(TYPE_LABEL[t] for t in types) + " |")
        L.append("|---" * (2 + len(types)) + "|")
        for name in ("null-tcp", "null-unix", "desk-tcp", "desk-unix", "desk-unix-before",
                     "desk-scan", "desk-scan-before", "clamav", "desk-tmpfs"):
            r = thr["table"].get(name)
            if r is None or r["cpu_ms"] is None:
                continue
            L.append(f"| {r['label']} | {r['cpu_mix_ms']:.2f} | " +
                     " | ".join(f"{r['cpu_ms'][t]:.2f}" for t in types) + " |")
        L.append("")
        L.append("### Time inside deskmilter per message (end of headers to decision, elapsed_ms)")
        L.append("")
        L.append("| configuration | all p50 | all p99 | " + " | ".join(
            f"{TYPE_LABEL[t]} p50 / p99" for t in types) + " |")
        L.append("|---" * (3 + len(types)) + "|")
        for name in ("desk-tcp", "desk-unix", "desk-unix-before", "desk-scan", "desk-scan-before",
                     "desk-tmpfs"):
            r = thr["table"].get(name)
            if r is None:
                continue
            cells = " | ".join(f"{fmt(r['elapsed_p50'][t], 2)} / {fmt(r['elapsed_p99'][t], 2)}"
                               for t in types)
            L.append(f"| {r['label']} ({r['elapsed_n']} msgs) | {fmt(r['elapsed_all_p50'], 2)} ms | "
                     f"{fmt(r['elapsed_all_p99'], 2)} ms | {cells} |")
        L.append("")
    if rss:
        L.append(f"### Resident memory while one {rss['big_mb']} MB attachment passes "
                 f"({rss['message_bytes'] / 1048576:.1f} MiB message)")
        L.append("")
        L.append("| process | idle RSS | peak (VmHWM) | growth | max sampled RSS | RSS after | "
                 "send time | elapsed_ms | decision |")
        L.append("|---|---|---|---|---|---|---|---|---|")
        for r in rss["rows"]:
            L.append(f"| {r['label']} | {r['idle_kb'] / 1024:.1f} MiB | {r['hwm_kb'] / 1024:.1f} MiB | "
                     f"{r['growth_kb'] / 1024:.1f} MiB | {fmt((r['max_sampled_kb'] or 0) / 1024)} MiB | "
                     f"{r['after_kb'] / 1024:.1f} MiB | {r['send_s']:.2f} s | "
                     f"{fmt(r['elapsed_ms'], 0)} | {r['decision']} |")
        L.append("")
    if store:
        L.append(f"### Ticket store (store_bench, {store['seconds']:.0f} s)")
        L.append("")
        L.append("| benchmark | tickets | mean (wall) | mean (CPU) | p50 | p99 | max | rate |")
        L.append("|---|---|---|---|---|---|---|---|")
        for b in store["benchmarks"]:
            parts = b["name"].split("/")
            name = parts[0]
            n = parts[1] if len(parts) > 1 and parts[1].isdigit() else "-"
            unit = b.get("time_unit", "ns")
            def t(v):
                return f"{v:.0f} {unit}" if v >= 100 else f"{v:.1f} {unit}"
            wall, cpu = t(b["real_time"]), t(b["cpu_time"])
            if "p50_ns" in b:
                p50, p99, mx = (f"{b[k]:.0f} ns" for k in ("p50_ns", "p99_ns", "max_ns"))
            elif "p50_us" in b:
                p50, p99, mx = (f"{b[k]:.1f} us" for k in ("p50_us", "p99_us", "max_us"))
            else:
                p50 = p99 = mx = "-"
            rate = (f"{b['tickets_per_s']:.0f} tickets/s" if "tickets_per_s" in b else "")
            if "est_1M_fill_s" in b:
                rate += f"; 1M durable fill: ~{b['est_1M_fill_s'] / 60:.0f} min"
            if name == "Fill":
                wall, cpu = f"{b['real_time'] / 1000:.1f} s", f"{b['cpu_time'] / 1000:.1f} s"
            L.append(f"| {name} | {n} | {wall} | {cpu} | {p50} | {p99} | {mx} | {rate} |")
        hits = {b["name"].split("/")[1]: b for b in store["benchmarks"]
                if b["name"].startswith("FindHit/")}
        if "10000" in hits and "1000000" in hits:
            r = hits["1000000"]["p99_ns"] / hits["10000"]["p99_ns"]
            r50 = hits["1000000"]["p50_ns"] / hits["10000"]["p50_ns"]
            L.append("")
            L.append(f"Threading lookup (FindHit) at 1M / at 10k tickets: p99 {r:.2f}x "
                     f"(target <= 1.2x), p50 {r50:.2f}x.")
        L.append("")
    return "\n".join(L) + "\n"


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    pf = subprocess.run(["/usr/sbin/postconf", "-d", "-h", "mail_version"], stdout=subprocess.PIPE,
                        text=True).stdout.strip()
    return (f"{os.cpu_count()} CPUs ({cpu}), {mem:.0f} GiB RAM, {platform.system()} "
            f"{platform.release()}, Postfix {pf}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(SRC, "build-bench"))
    ap.add_argument("--out", default=None, help="results dir (default BUILD/bench-results)")
    ap.add_argument("--messages", type=int, default=2000, help="messages per configuration per round")
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--big-mb", type=int, default=50)
    ap.add_argument("--scan-toml", default=os.environ.get("DESK_BENCH_SCAN_TOML"),
                    help="the [scanner] section for the virus-scanning rows (default: enabled, "
                         "on ClamAV's test signatures written into the temp dir)")
    ap.add_argument("--no-scan-row", action="store_true",
                    help="skip the virus-scanning rows")
    ap.add_argument("--before", default=None,
                    help="a build directory of an earlier commit: adds its deskmilter as the rows "
                         "'deskmilter before' (unix socket, with and without scanning)")
    ap.add_argument("--rows", default=None,
                    help="comma-separated throughput rows to run (none, null-tcp, null-unix, "
                         "desk-tcp, desk-unix, desk-tmpfs, desk-scan, desk-unix-before, "
                         "desk-scan-before, clamav); their baselines are added")
    ap.add_argument("--no-clamav-row", action="store_true",
                    help="skip the clamav-milter + clamd row")
    ap.add_argument("--att64-messages", type=int, default=300,
                    help="messages of the 64 KB attachment type per configuration per round "
                         "(0: skip the type)")
    ap.add_argument("--no-tmpfs-row", action="store_true",
                    help="skip the diagnostic row with deskmilter's store on tmpfs")
    ap.add_argument("--store-args", default="", help="extra arguments for store_bench")
    ap.add_argument("--only", default="throughput,rss,store",
                    help="comma-separated parts to run: throughput, rss, store")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/run.py: needs root (private Postfix instance)")
    bins = {n: os.path.join(args.build, p) for n, p in
            (("deskmilter", "deskmilter"), ("null_milter", "bench/null_milter"),
             ("store_bench", "bench/store_bench"))}
    for n, p in bins.items():
        if not os.access(p, os.X_OK):
            sys.exit(f"bench/run.py: {p} not built (run bench/run.sh)")
    parts = set(args.only.split(","))
    out_dir = args.out or os.path.join(args.build, "bench-results")
    os.makedirs(out_dir, exist_ok=True)
    meta = {"date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), "machine": machine(),
            "load_start": loadavg(), "sessions": args.sessions, "rounds": args.rounds}
    t0 = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="desk-bench-")
    os.chmod(tmp, 0o755)
    thr = rss = store = None
    try:
        paths = messages.write_all(os.path.join(tmp, "msgs"))
        if "throughput" in parts:
            thr = run_throughput(args, tmp, paths, bins)
        if "rss" in parts:
            rss = run_rss(args, tmp, paths, bins)
        if "store" in parts:
            log("store_bench (fills 1M tickets)...")
            store = run_store(args, tmp, bins)
    finally:
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    meta["load_end"] = loadavg()
    meta["seconds"] = time.monotonic() - t0
    text = report(meta, thr, rss, store)
    with open(os.path.join(out_dir, "results.md"), "w") as f:
        f.write(text)
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump({"meta": meta, "throughput": thr, "rss": rss, "store": store}, f, indent=1,
                  default=str)
    print(text)
    log(f"results in {out_dir}/results.md and results.json")


if __name__ == "__main__":
    main()
