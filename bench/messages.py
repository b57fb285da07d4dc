"""Message generators for bench/run.py: the files smtp-source sends (-F FILE).

What it is: deterministic (seeded) RFC 5322 messages with LF line ends (smtp-source -F turns each
line into CRLF and dot-stuffs it):
  plain  ~2 KB text/plain, a new request (no Message-ID: deskmilter generates one per message, so
         every copy smtp-source sends becomes its own ticket instead of a duplicate)
  pdf    ~100 KB: text part + a generated PDF attachment (valid structure, random stream content)
  att64  text part + a 64 KB PDF attachment (64 KiB decoded; the scanning rows scan it)
  image  ~1 MB: text part + a generated PNG attachment (valid chunks and CRCs, noise pixels)
  reply  ~2 KB text/plain reply: In-Reply-To/References name the seed message, so it threads to
         the existing ticket (the seed is sent once per deskmilter before the run)
  seed   the message the replies thread to (has the fixed Message-ID SEED_ID)
  big    one attachment of N MB (application/octet-stream, random bytes) for the RSS measurement

Limits: sizes are approximate (within a few percent). Stdlib only. Not thread-safe (module-level
random.Random per call is not shared, so concurrent calls are fine in practice).
"""

import base64
import os
import random
import struct
import zlib

SUPPORT = "support@sink.test"  # relayed by Postfix to smtp-sink
CUSTOMER = "kim.customer@client.test"
SEED_ID = "bench-seed-1@client.test"

_WORDS = ("the invoice export stops after the first page and shows an error again this morning "
          "could you please have a look at order number attached screenshot printer scanner "
          "login password account settings report monthly we tried restarting already thanks "
          "regards since yesterday customer portal download upload file broken").split()


def _text(rng, size):
    """About size bytes of wrapped prose."""
    out, line, n = [], [], 0
    while n < size:
        w = rng.choice(_WORDS)
        line.append(w)
        n += len(w) + 1
        if sum(len(x) + 1 for x in line) > 70:
            out.append(" ".join(line))
            line = []
    if line:
        out.append(" ".join(line))
    return "\n".join(out) + "\n"


def _b64_lines(data):
    enc = base64.b64encode(data).decode("ascii")
    return "\n".join(enc[i:i + 76] for i in range(0, len(enc), 76)) + "\n"


def _headers(subject, extra=()):
    h = [f"From: Kim Customer <{CUSTOMER}>",
         f"To: Support <{SUPPORT}>",
         f"Subject: {subject}",
         "Date: Mon, 06 Jan 2025 10:00:00 +0000",
         "MIME-Version: 1.0"]
    h += list(extra)
    return "\n".join(h) + "\n"


def _multipart(subject, text, filename, ctype, payload, extra=()):
    boundary = "=_bench_boundary_4711"
    return (_headers(subject, extra) +
            f'Content-Type: multipart/mixed; boundary="{boundary}"\n\n'
            "This is a multi-part message in MIME format.\n\n"
            f"--{boundary}\n"
            "Content-Type: text/plain; charset=utf-8\n"
            "Content-Transfer-Encoding: 7bit\n\n" + text +
            f"\n--{boundary}\n"
            f'Content-Type: {ctype}; name="{filename}"\n'
            "Content-Transfer-Encoding: base64\n"
            f'Content-Disposition: attachment; filename="{filename}"\n\n' + _b64_lines(payload) +
            f"--{boundary}--\n")


def make_pdf(rng, size):
    """A structurally valid one-page PDF of about size bytes (the bulk is one uncompressed stream
    of random hex, as a scanner must still walk it)."""
    body_len = max(0, size - 600)
    stream = ("% " + "".join(rng.choice("0123456789abcdef") for _ in range(body_len)) + "\n"
              "BT /F1 12 Tf 72 720 Td (Invoice) Tj ET\n").encode("ascii")
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"endstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, o in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + o + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def make_png(rng, size):
    """A valid RGB PNG of about size bytes; noise pixels so zlib cannot shrink it."""
    width = 512
    row = 1 + width * 3
    rows = max(1, size // row)
    raw = bytearray()
    for _ in range(rows):
        raw += b"\x00" + rng.randbytes(width * 3)
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
    ihdr = struct.pack(">IIBBBBB", width, rows, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) +
            chunk(b"IDAT", zlib.compress(bytes(raw), 1)) + chunk(b"IEND", b""))


def plain(seed=1):
    rng = random.Random(seed)
    return (_headers("Invoice export fails after the first page") +
            "Content-Type: text/plain; charset=utf-8\n\n" + _text(rng, 1700))


def seed_message():
    rng = random.Random(99)
    return (_headers("Printer queue stuck", [f"Message-ID: <{SEED_ID}>"]) +
            "Content-Type: text/plain; charset=utf-8\n\n" + _text(rng, 1200))


def reply(seed=2):
    rng = random.Random(seed)
    quoted = "".join("> " + l + "\n" for l in _text(rng, 600).splitlines())
    return (_headers("Re: Printer queue stuck",
                     [f"In-Reply-To: <{SEED_ID}>", f"References: <{SEED_ID}>"]) +
            "Content-Type: text/plain; charset=utf-8\n\n" + _text(rng, 1000) +
            "\nOn Monday you wrote:\n" + quoted)


def with_pdf(seed=3, size=100 * 1024):
    rng = random.Random(seed)
    payload = make_pdf(rng, int(size * 0.73))  # base64 grows it by 4/3 plus line ends
    return _multipart("Invoice 4711 as PDF", _text(rng, 800), "invoice-4711.pdf",
                      "application/pdf", payload)


def with_att64(seed=5):
    """Text plus a PDF attachment of 64 KiB (decoded), as issue 11's speed target names it."""
    rng = random.Random(seed)
    return _multipart("Signed form as PDF", _text(rng, 800), "form-64k.pdf", "application/pdf",
                      make_pdf(rng, 64 * 1024))


def with_image(seed=4, size=1024 * 1024):
    rng = random.Random(seed)
    payload = make_png(rng, int(size * 0.735))
    return _multipart("Screenshot of the error", _text(rng, 500), "screenshot.png", "image/png",
                      payload)


def big_attachment(mb=50):
    """One attachment of mb MiB random bytes (about mb * 1.37 MiB on the wire)."""
    payload = os.urandom(mb << 20)
    return _multipart("Full log archive", "See the attached archive.\n", "logs.bin",
                      "application/octet-stream", payload)


def write_all(directory, big_mb=None):
    """Writes every message file to directory; returns {name: path}."""
    os.makedirs(directory, exist_ok=True)
    made = {"plain": plain(), "pdf": with_pdf(), "image": with_image(), "reply": reply(),
            "att64": with_att64(),
            "seed": seed_message()}
    if big_mb:
        made["big"] = big_attachment(big_mb)
    paths = {}
    for name, text in made.items():
        p = os.path.join(directory, name + ".eml")
        with open(p, "w", newline="\n") as f:
            f.write(text)
        paths[name] = p
    return paths
