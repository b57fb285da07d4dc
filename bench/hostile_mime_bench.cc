// hostile_mime_bench: what hostile MIME shapes cost the parser, in milliseconds per megabyte.
//
// The security issue (12, item 6) asks that each hostile-MIME case run in under 50 ms per MB on the
// test machine. Each case below builds one message of a shape an outsider controls, then times
// ParseMessage (the limits of the option table's defaults: 256 KiB of headers per block, depth 20,
// 500 parts) and, for HTML, HtmlToText alone. A case that the parser refuses by a limit is timed too:
// refusing must be as cheap as parsing. Prints a Markdown table (case, MB, result, best of 5 ms,
// ms/MB) for docs/BENCHMARKS.md.
//
// Not part of the test command; no timed assertions. Single-threaded.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "core/mime_parser.h"
#include "core/spool.h"

namespace {

using desk::ParsedMessage;
using desk::ParseLimits;

struct Case {
  std::string name;
  std::string raw;
};

std::string Header() {
  return "From: a@example.org\nTo: support@example.com\nSubject: x\nMIME-Version: 1.0\n";
}

std::string HtmlAmpersands(size_t n) {
  return Header() + "Content-Type: text/html\n\n" + std::string(n, '&') + "\n";
}

std::string DuplicateParams(int n) {
  std::string params;
  for (int i = 0; i < n; ++i) params += ";\n x=" + std::to_string(i);
  return Header() + "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\n"
                    "hi\n--b\nContent-Type: application/octet-stream" +
         params + "\n\nxyz\n--b--\n";
}

std::string BigPartHeaders(size_t bytes) {
  std::string h = "X-Filler: start";
  while (h.size() < bytes) h += "\n x";
  return Header() + "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n" +
         h + "\n\nhi\n--b--\n";
}

std::string ManyParts(int n) {
  std::string m = Header() + "Content-Type: multipart/mixed; boundary=b\n\n";
  for (int i = 0; i < n; ++i) m += "--b\nContent-Type: text/plain\n\n" + std::string(2000, 'y') + "\n";
  return m + "--b--\n";
}

std::string Deep(int depth) {
  std::string m = Header();
  for (int i = 0; i < depth; ++i) {
    m += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\n\n--b" +
         std::to_string(i) + "\n";
  }
  m += "Content-Type: text/plain\n\n" + std::string(100000, 'z') + "\n";
  for (int i = depth; i-- > 0;) m += "--b" + std::to_string(i) + "--\n";
  return m;
}

double BestMs(const std::function<void()>& f) {
  double best = 1e18;
  for (int i = 0; i < 5; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    auto t1 = std::chrono::steady_clock::now();
    best = std::min(best, std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  return best;
}

}  // namespace

int main() {
  desk::InitMimeLibrary();
  ParseLimits limits;
  limits.max_header_bytes = 256 * 1024;  // the option table's default (limits.max_header_bytes)
  std::vector<Case> cases = {
      {"HTML body, 512 KiB of '&' without ';'", HtmlAmpersands(512 * 1024)},
      {"HTML body, 8 MiB of '&'", HtmlAmpersands(8 * 1024 * 1024)},
      {"100 repeated parameters in a part header (at the limit)", DuplicateParams(100)},
      {"20,000 repeated parameters in a part header (over the limit)", DuplicateParams(20000)},
      {"part header block of 10 MB (over the limit)", BigPartHeaders(10 * 1000 * 1000)},
      {"part header block just under 256 KiB", BigPartHeaders(250 * 1024)},
      {"500 parts of 2 KB (at the limit)", ManyParts(499)},
      {"5,000 parts (over the limit)", ManyParts(5000)},
      {"nesting depth 20 (at the limit)", Deep(19)},
      {"nesting depth 5,000 (over the limit)", Deep(5000)},
  };
  std::printf("| case | MB | result | best of 5, ms | ms/MB |\n|---|---:|---|---:|---:|\n");
  for (const Case& c : cases) {
    std::string result;
    double ms = BestMs([&] {
      desk::Spool spool("", 1 << 20);
      (void)spool.Append(c.raw);
      ParsedMessage m;
      desk::Status s = desk::ParseMessage(spool, limits, &m);
      result = s.ok() ? "parsed" : "refused: " + s.message();
    });
    double mb = c.raw.size() / 1e6;
    std::printf("| %s | %.2f | %s | %.1f | %.1f |\n", c.name.c_str(), mb, result.c_str(), ms,
                ms / mb);
  }
  std::string html(8 * 1024 * 1024, '&');
  double ms = BestMs([&] { (void)desk::HtmlToText(html); });
  std::printf("| HtmlToText alone, 8 MiB of '&' | %.2f | text | %.1f | %.1f |\n", html.size() / 1e6,
              ms, ms / (html.size() / 1e6));
  return 0;
}
