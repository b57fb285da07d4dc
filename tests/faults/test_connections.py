#!/usr/bin/env python3
"""Fault tests: a slow client, and many concurrent connections.

test_slow_client: one client sends its mail through the private Postfix one body byte a second
  (DESK_FAULT_SLOW_BYTES bytes, default 20). While it is still sending, 20 other mails are sent one
  after another and must all be accepted and ticketed: they finish before the slow one does (an
  ordering check, not a timing one). The slow mail is accepted at the end too.
test_many_connections: DESK_FAULT_CONNECTIONS (default 500) milter connections are opened straight
  to deskmilter's socket, each negotiated (SMFIC_OPTNEG) and then left idle, as a flood of MTA
  connections would be. With all of them open: a mail through Postfix is still accepted; deskmilter's
  open fds and threads grow by at most one (and a constant) per connection and its resident memory
  by at most DESK_FAULT_RSS_PER_CONN_KB (default 256 KiB) per connection; its soft fd limit is above
  what was used. After they close, fds and threads return to their earlier level. The numbers are
  printed for docs/RELIABILITY.md.

Environment: DESKMILTER, DESKCTL; root (private Postfix).
"""

import os
import resource
import smtplib
import socket
import struct
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fault_harness as fh  # noqa: E402

CONFIG = fh.BASE_CONFIG + """
[loops]
flood_max = 0

[scanner]
enabled = false
""" + fh.QUEUE

SLOW_BYTES = int(os.environ.get("DESK_FAULT_SLOW_BYTES", "20"))
CONNECTIONS = int(os.environ.get("DESK_FAULT_CONNECTIONS", "500"))
RSS_PER_CONN_KB = int(os.environ.get("DESK_FAULT_RSS_PER_CONN_KB", "256"))


def proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return {"threads": int(out["Threads"]), "rss_kb": int(out["VmRSS"].split()[0]),
            "fds": len(os.listdir(f"/proc/{pid}/fd"))}


def soft_nofile(pid):
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                return int(line.split()[3])
    return 0


def optneg():
    """A milter option negotiation packet (version 6, all actions, no protocol steps)."""
    body = b"O" + struct.pack(">III", 6, 0x1FF, 0)
    return struct.pack(">I", len(body)) + body


class ConnectionsTest(unittest.TestCase):
    def setUp(self):
        why = fh.ph.missing_prerequisites()
        if why:
            self.fail(f"cannot run: {why}")

    def test_slow_client(self):
        stack = fh.Stack("desk-fault-slow-", CONFIG)
        order = []
        lock = threading.Lock()
        try:
            def slow():
                s = smtplib.SMTP("127.0.0.1", stack.pf.smtp_port, timeout=300)
                s.ehlo("slow.test")
                s.mail("slow@cust.test")
                s.rcpt("support@example.test")
                code, _ = s.docmd("DATA")
                assert code == 354, code
                head = (b"From: Slow <slow@cust.test>\r\nTo: support@example.test\r\n"
                        b"Subject: slow mail\r\nMessage-ID: <slow@cust.test>\r\n\r\n")
                s.sock.sendall(head)
                for i in range(SLOW_BYTES):
                    s.sock.sendall(b"x\r\n" if i % 10 == 9 else b"x")
                    time.sleep(1)
                s.sock.sendall(b"\r\n.\r\n")
                code, _ = s.getreply()
                s.quit()
                with lock:
                    order.append(("slow", code))

            t = threading.Thread(target=slow)
            t.start()
            time.sleep(2)
            for i in range(20):
                code, _ = stack.send(fh.mail(i, prefix="fast"))
                with lock:
                    order.append((f"fast{i}", code))
            t.join(SLOW_BYTES + 120)
            self.assertEqual([name for name, _ in order][-1], "slow",
                             "every fast mail must finish before the slow one")
            self.assertEqual([c for _, c in order], [250] * 21, order)
            self.assertEqual(len(stack.tickets()), 21)
        finally:
            stack.close()

    def test_many_connections(self):
        stack = fh.Stack("desk-fault-conns-", CONFIG)
        socks = []
        try:
            pid = stack.milter.proc.pid
            self.assertEqual(stack.send(fh.mail(0, prefix="conn"))[0], 250)
            before = proc_status(pid)
            limit = soft_nofile(pid)
            our_limit = resource.getrlimit(resource.RLIMIT_NOFILE)
            if our_limit[0] < CONNECTIONS + 100:
                resource.setrlimit(resource.RLIMIT_NOFILE, (min(our_limit[1], 65536),
                                                            our_limit[1]))
            for _ in range(CONNECTIONS):
                s = socket.create_connection(("127.0.0.1", stack.milter.port), timeout=30)
                s.sendall(optneg())
                socks.append(s)
            for s in socks:  # every one negotiated: each has a thread in deskmilter now
                hdr = s.recv(4)
                self.assertEqual(len(hdr), 4)
                s.recv(struct.unpack(">I", hdr)[0])
            during = proc_status(pid)
            code, text = stack.send(fh.mail(1, prefix="conn"))
            self.assertEqual(code, 250, f"mail with {CONNECTIONS} idle connections: {text}")
            for s in socks:
                s.close()
            socks = []
            fh.ph.wait_until(lambda: proc_status(pid)["fds"] <= before["fds"] + 2 and
                             proc_status(pid)["threads"] <= before["threads"] + 2, 30,
                             what="fds and threads back to their level before")
            after = proc_status(pid)
            print(f"\nconnections: {CONNECTIONS} idle milter connections; before {before}, "
                  f"during {during}, after {after}; soft fd limit {limit}", file=sys.stderr)
            self.assertLessEqual(during["fds"] - before["fds"], CONNECTIONS + 10)
            self.assertLessEqual(during["threads"] - before["threads"], CONNECTIONS + 10)
            self.assertLessEqual(during["rss_kb"] - before["rss_kb"], CONNECTIONS * RSS_PER_CONN_KB)
            self.assertGreater(limit, during["fds"] + 16, "too close to the fd limit")
            self.assertTrue(stack.milter.running)
        finally:
            for s in socks:
                s.close()
            stack.close()


if __name__ == "__main__":
    unittest.main()
