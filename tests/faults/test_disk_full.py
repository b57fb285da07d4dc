#!/usr/bin/env python3
"""Fault tests: a full disk under the spool and under the store, and a full LMDB map.

test_store_disk_full: store.dir (with the attachment store inside it) is a small tmpfs. With the
  file system filled up while deskmilter runs, a mail with a body and an attachment gets a 4xx (the
  ticket write or the attachment write fails: on_store_error = tempfail); nothing of it is recorded
  (no ticket, no attachment temp file left behind); once space returns, the client's retry of the
  same mail is accepted and makes one ticket with one message.
test_spool_disk_full: store.spool_dir is a small tmpfs, spool_threshold 16 KiB. With it full, a
  200 KB mail gets a 4xx and records nothing; once space returns it is accepted.
test_map_full: store.map_mb = 1 and 40 mails of ~60 KB body each (far beyond 1 MiB): the store
  grows its map and every mail is accepted (no client sees an error), 40 tickets.

Environment: DESKMILTER, DESKCTL; root (private Postfix, mount).
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fault_harness as fh  # noqa: E402

CONFIG = fh.BASE_CONFIG + """\
spool_threshold = 16384
{extra_store}
[scanner]
enabled = false

[loops]
installation_id = "desk-fault-disk"
flood_max = 0
""" + fh.QUEUE


def config(extra_store=""):
    return CONFIG.replace("{extra_store}", extra_store)


def text_body(n):
    line = "The quick brown fox jumps over the lazy dog again and again. 0123456789\n"
    return (line * (n // len(line) + 1))[:n]


class DiskFullTest(unittest.TestCase):
    def setUp(self):
        why = fh.ph.missing_prerequisites()
        if why:
            self.fail(f"cannot run: {why}")

    def assert_tempfail(self, code, what):
        self.assertTrue(400 <= code < 500, f"{what}: want a 4xx, got {code}")

    def test_store_disk_full(self):
        holder = {}
        stack = fh.Stack("desk-fault-store-", config(),
                         before_start=lambda s: holder.setdefault("fs", s.mount("store", "4m")))
        fs = holder["fs"]
        try:
            self.assertEqual(stack.send(fh.mail(1, prefix="store"))[0], 250)
            fs.fill()
            big = fh.mail(2, body=text_body(60000), prefix="store",
                          attachment=("data.bin", os.urandom(300000)))
            code, text = stack.send(big)
            self.assert_tempfail(code, "mail 2 with the store full")
            self.assertEqual([t["title"] for t in stack.tickets()], ["store mail 1"])
            att = os.path.join(stack.milter.dir, "store", "attachments")
            leftovers = [n for _, _, files in os.walk(att) for n in files if n.startswith(".tmp")]
            self.assertEqual(leftovers, [], "attachment temp files left behind")
            fs.unfill()
            self.assertEqual(stack.send(big)[0], 250, "retry after space returned")
            self.assertEqual(stack.send(fh.mail(3, prefix="store"))[0], 250)
            tickets = stack.tickets()
            self.assertEqual(sorted(t["title"] for t in tickets),
                             ["store mail 1", "store mail 2", "store mail 3"])
            self.assertEqual([t["message_count"] for t in tickets], [1, 1, 1])
            self.assertTrue(stack.milter.running)
        finally:
            stack.close()

    def test_spool_disk_full(self):
        holder = {}
        stack = fh.Stack("desk-fault-spool-", config(),
                         before_start=lambda s: holder.setdefault("fs", s.mount("spool", "1m")))
        fs = holder["fs"]
        try:
            fs.fill()
            big = fh.mail(1, body=text_body(200000), prefix="spool")
            code, _ = stack.send(big)
            self.assert_tempfail(code, "a 200 KB mail with the spool full")
            self.assertEqual(stack.tickets(), [])
            self.assertEqual(stack.send(fh.mail(2, prefix="spool"))[0], 250,
                             "a small mail stays in memory and passes")
            fs.unfill()
            self.assertEqual(stack.send(big)[0], 250, "retry after space returned")
            self.assertEqual(sorted(t["title"] for t in stack.tickets()),
                             ["spool mail 1", "spool mail 2"])
            self.assertEqual(os.listdir(os.path.join(stack.milter.dir, "spool")), [],
                             "spool files left behind")
            self.assertTrue(stack.milter.running)
        finally:
            stack.close()

    def test_map_full(self):
        stack = fh.Stack("desk-fault-map-", config("map_mb = 1\n"))
        try:
            codes = [stack.send(fh.mail(i, body=text_body(60000), prefix="map"))[0]
                     for i in range(40)]
            self.assertEqual(codes, [250] * 40)
            tickets = stack.tickets()
            self.assertEqual(len(tickets), 40)
            size = os.path.getsize(os.path.join(stack.milter.dir, "store", "data.mdb"))
            self.assertGreater(size, 1 << 20, "the map must have grown past 1 MiB")
            print(f"\nmap_full: data.mdb {size / 1048576:.1f} MiB after 40 mails at map_mb=1",
                  file=sys.stderr)
        finally:
            stack.close()


if __name__ == "__main__":
    unittest.main()
