// The schema tables: the one place where deskmilter's options are declared (see schema.h).
//
// To add an option: add a member to desk::Config (core/config.h), a row below, and the option with its
// doc line and default to config/deskmilter.example.toml; then regenerate docs/CONFIG.md (see the
// top of that file). config_test.cc fails until all of them agree.
//
// Thread-safety: constant tables and pure functions.
#include "config/schema.h"

#include "core/file_type.h"
#include "core/routing.h"
#include <arpa/inet.h>

#include <cctype>
#include <cinttypes>
#include <cstdio>
#include <string>

namespace desk::config {
namespace {

// Checks for string values. Each returns "" when the value is fine, else the reason.

bool IsDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

std::string Quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

// A DNS name: dot-separated labels of letters, digits and inner hyphens.
bool IsDomain(std::string_view d) {
  if (d.empty() || d.size() > 253) return false;
  size_t start = 0;
  while (true) {
    size_t dot = d.find('.', start);
    std::string_view label = d.substr(start, dot == std::string_view::npos ? d.npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (char c : label) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// An unquoted RFC 5322 local part (dot-atom); '*' is kept for the wildcard form only.
bool IsLocalPart(std::string_view l) {
  if (l.empty() || l.size() > 64 || l.front() == '.' || l.back() == '.') return false;
  char prev = 0;
  for (char c : l) {
    bool atext = std::isalnum(static_cast<unsigned char>(c)) ||
                 std::string_view("!#$%&'+-/=?^_`{|}~").find(c) != std::string_view::npos;
    if (!(atext || (c == '.' && prev != '.'))) return false;
    prev = c;
  }
  return true;
}

bool IsExactAddress(std::string_view a) {
  size_t at = a.rfind('@');
  return at != std::string_view::npos && IsLocalPart(a.substr(0, at)) && IsDomain(a.substr(at + 1));
}

std::string CheckAddressPattern(std::string_view a) {
  if (IsExactAddress(a)) return "";
  if (a.starts_with("*@") && IsDomain(a.substr(2))) return "";
  return Quoted(a) + " is not an address or *@domain pattern";
}

std::string CheckExactAddress(std::string_view a) {
  if (IsExactAddress(a)) return "";
  return Quoted(a) + " is not an address (user@domain)";
}

std::string CheckSocket(std::string_view s) {
  const std::string kShapes =
      " is not a socket (unix:PATH, local:PATH, inet:PORT@HOST or inet6:PORT@HOST)";
  size_t colon = s.find(':');
  if (colon == std::string_view::npos) return Quoted(s) + kShapes;
  std::string_view proto = s.substr(0, colon);
  std::string_view rest = s.substr(colon + 1);
  if (proto == "unix" || proto == "local") {
    return rest.empty() ? Quoted(s) + " has no path" : "";
  }
  if (proto != "inet" && proto != "inet6") return Quoted(s) + kShapes;
  size_t at = rest.find('@');
  if (at == std::string_view::npos) return Quoted(s) + kShapes;
  std::string_view port = rest.substr(0, at);
  std::string_view host = rest.substr(at + 1);
  if (!IsDigits(port) || port.size() > 5 || std::stoi(std::string(port)) < 1 ||
      std::stoi(std::string(port)) > 65535) {
    return Quoted(s) + " has no port in 1..65535";
  }
  if (host.empty()) return Quoted(s) + " has no host";
  for (char c : host) {
    if (std::isspace(static_cast<unsigned char>(c)) || std::iscntrl(static_cast<unsigned char>(c))) {
      return Quoted(s) + " has a space in the host";
    }
  }
  return "";
}

std::string CheckHostname(std::string_view h) {
  return IsDomain(h) ? "" : Quoted(h) + " is not a host name";
}

std::string CheckNotEmpty(std::string_view s) { return s.empty() ? "must not be empty" : ""; }

std::string CheckQueueName(std::string_view n) {
  bool ok = !n.empty() && n.size() <= 64;
  for (char c : n) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') ok = false;
  }
  return ok ? "" : Quoted(n) + " is not a queue name (1 to 64 letters, digits, '-', '_', '.')";
}

std::string CheckTranscript(std::string_view t) {
  return t == "none" || t == "pdf" ? "" : Quoted(t) + " is not \"none\" or \"pdf\"";
}

std::string CheckRouting(std::string_view r) {
  return r == "manual" || r == "automatic" ? "" : Quoted(r) + " is not \"manual\" or \"automatic\"";
}

std::string CheckControlAddress(std::string_view a) {
  return a.empty() ? "" : CheckExactAddress(a);
}

// "name=available" or "name=unavailable"; the name lower-case letters, digits and '-', not one of
// the built-in states (core/routing.h), which cannot be redefined or removed.
std::string CheckExtraState(std::string_view s) {
  size_t eq = s.find('=');
  if (eq == std::string_view::npos) return Quoted(s) + " is not NAME=available|unavailable";
  std::string_view name = s.substr(0, eq), what = s.substr(eq + 1);
  if (what != "available" && what != "unavailable") {
    return Quoted(s) + ": the value after '=' must be available or unavailable";
  }
  if (name.empty() || name.size() > 32) return Quoted(s) + ": a state name has 1 to 32 characters";
  for (char c : name) {
    if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) ||
          c == '-')) {
      return Quoted(s) + ": a state name has lower-case letters, digits and '-' only";
    }
  }
  for (std::string_view builtin : {"in-email", "in-call", "in-chat", "away", "offline", "clear"}) {
    if (name == builtin) return Quoted(s) + ": " + std::string(builtin) + " is a built-in state";
  }
  return "";
}

// "RECEIVED_AT=REPLY_VIA"; that both belong to the queue is checked by the loader.
std::string CheckReplyVia(std::string_view rv) {
  const size_t eq = rv.find('=');
  if (eq == std::string_view::npos) return Quoted(rv) + " is not RECEIVED_AT=REPLY_VIA";
  std::string e = CheckAddressPattern(rv.substr(0, eq));
  if (e.empty()) e = CheckExactAddress(rv.substr(eq + 1));
  return e.empty() ? "" : Quoted(rv) + ": " + e;
}

std::string CheckBusinessHours(std::string_view e) {
  BusinessSpan s;
  return ParseBusinessHours(e, &s) ? ""
                                   : Quoted(e) + " is not DAY[-DAY] HH:MM-HH:MM (e.g. "
                                                 "\"mon-fri 09:00-17:00\")";
}

std::string CheckTimeZone(std::string_view tz) {
  return KnownTimeZone(std::string(tz)) ? "" : Quoted(tz) + " is not a known time zone (tzdata)";
}

std::string CheckHoliday(std::string_view d) {
  bool ok = d.size() == 10 && d[4] == '-' && d[7] == '-';
  for (size_t i = 0; ok && i < d.size(); ++i) {
    ok = i == 4 || i == 7 || std::isdigit(static_cast<unsigned char>(d[i]));
  }
  return ok ? "" : Quoted(d) + " is not a date YYYY-MM-DD";
}

std::string CheckBrand(std::string_view b) {
  if (b.size() > 200) return "longer than 200 bytes";
  for (unsigned char c : b) {
    if (c < 0x20 || c == 0x7f || c == '"' || c == '<' || c == '>') {
      return Quoted(b) + " holds a control character, quote or angle bracket";
    }
  }
  return "";
}

std::string CheckAddressBrand(std::string_view ab) {
  const size_t eq = ab.find('=');
  if (eq == std::string_view::npos || eq == 0 || eq + 1 == ab.size()) {
    return Quoted(ab) + " is not ADDRESS=BRAND";
  }
  const std::string_view addr = ab.substr(0, eq);
  if (addr.find('@') == std::string_view::npos || addr.find('*') != std::string_view::npos) {
    return Quoted(ab) + ": " + Quoted(addr) + " is not an exact address";
  }
  return CheckBrand(ab.substr(eq + 1));
}

std::string CheckColor(std::string_view c) {
  bool ok = c.size() == 7 && c[0] == '#';
  for (size_t i = 1; ok && i < c.size(); ++i) {
    ok = std::isxdigit(static_cast<unsigned char>(c[i]));
  }
  return ok ? "" : Quoted(c) + " is not a #RRGGBB color";
}

std::string CheckSubjectTag(std::string_view t) {
  size_t first = t.find("{n}");
  if (first == std::string_view::npos || t.find("{n}", first + 1) != std::string_view::npos) {
    return Quoted(t) + " must contain {n} exactly once";
  }
  for (char c : t) {
    if (std::iscntrl(static_cast<unsigned char>(c))) return Quoted(t) + " has a control character";
  }
  return "";
}

std::string CheckCategory(std::string_view c) {
  Category parsed;
  return ParseCategory(c, &parsed)
             ? ""
             : Quoted(c) + " is not a category (image, video, audio, document, executable, "
                           "archive, other)";
}

// "type/subtype", "type/*" or a prefix ending in "*", lower-case.
std::string CheckTypePattern(std::string_view t) {
  size_t slash = t.find('/');
  bool ok = slash != std::string_view::npos && slash > 0 && slash + 1 < t.size();
  for (char c : t) {
    if (std::isupper(static_cast<unsigned char>(c)) || std::isspace(static_cast<unsigned char>(c)) ||
        std::iscntrl(static_cast<unsigned char>(c))) {
      ok = false;
    }
  }
  return ok ? "" : Quoted(t) + " is not a lower-case MIME type pattern (type/subtype, type/*)";
}

std::string CheckExtension(std::string_view e) {
  bool ok = !e.empty() && e.size() <= 32;
  for (char c : e) {
    if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) ||
          c == '_' || c == '-' || c == '~' || c == '$')) {
      ok = false;
    }
  }
  return ok ? "" : Quoted(e) + " is not a lower-case extension without the dot";
}

// "10.0.0.0/8", "192.0.2.7" (a /32), "2001:db8::/32", "::1/128".
std::string CheckCidr(std::string_view c) {
  size_t slash = c.find('/');
  std::string addr(c.substr(0, slash));
  bool v6 = addr.find(':') != std::string::npos;
  unsigned char buf[16];
  if (inet_pton(v6 ? AF_INET6 : AF_INET, addr.c_str(), buf) != 1) {
    return Quoted(c) + " is not an IP address or CIDR network";
  }
  if (slash != std::string_view::npos) {
    std::string_view bits = c.substr(slash + 1);
    if (!IsDigits(bits) || bits.size() > 3 || std::stoi(std::string(bits)) > (v6 ? 128 : 32)) {
      return Quoted(c) + " has no prefix length in 0.." + (v6 ? "128" : "32");
    }
  }
  return "";
}

std::string CheckIpAddress(std::string_view a) {
  std::string addr(a);
  unsigned char buf[16];
  if (inet_pton(addr.find(':') != std::string::npos ? AF_INET6 : AF_INET, addr.c_str(), buf) != 1) {
    return Quoted(a) + " is not an IPv4 or IPv6 address";
  }
  return "";
}

std::string CheckTokenSecret(std::string_view s) {
  return s.empty() || s.size() >= 16 ? "" : "must be empty or at least 16 characters long";
}

std::string CheckOneLine(std::string_view s) {
  for (char c : s) {
    if (std::iscntrl(static_cast<unsigned char>(c))) return Quoted(s) + " has a control character";
  }
  return "";
}

constexpr int64_t kKiB = 1024;
constexpr int64_t kMiB = 1024 * kKiB;
constexpr int64_t kGiB = 1024 * kMiB;

// clang-format off
const Option kOptions[] = {
    // [milter]
    {.name = "milter.socket", .type = Type::kString,
     .default_value = R"("unix:run/deskmilter.sock")",
     .doc = "Where libmilter listens: unix:PATH or local:PATH (a relative PATH is taken from the "
            "working directory), inet:PORT@HOST or inet6:PORT@HOST.",
     .field = &Config::socket, .check = CheckSocket, .restart_only = true},
    {.name = "milter.socket_mode", .type = Type::kOctalMode, .default_value = R"("0660")",
     .min = 0, .max = 0777,
     .doc = "Permissions of a unix socket: an octal string such as \"0660\", or an integer "
            "(write 0o660).",
     .field = &Config::socket_mode, .restart_only = true},
    {.name = "milter.timeout_seconds", .type = Type::kInt, .default_value = "600",
     .min = 1, .max = 86400,
     .doc = "libmilter's I/O timeout towards the MTA, in seconds.",
     .field = &Config::timeout_seconds, .restart_only = true},
    {.name = "milter.hostname", .type = Type::kString, .default_value = R"("localhost")",
     .doc = "Host name used in generated Message-IDs and in the loop stamp.",
     .field = &Config::hostname, .check = CheckHostname},

    // [store]
    {.name = "store.dir", .type = Type::kString, .default_value = R"("var/store")",
     .doc = "LMDB environment directory of the ticket store; a relative path is taken from the "
            "working directory.",
     .field = &Config::store_dir, .check = CheckNotEmpty, .restart_only = true},
    {.name = "store.map_mb", .type = Type::kInt, .default_value = "64", .min = 1, .max = 1048576,
     .doc = "Initial LMDB map size in MiB; the store grows the map when it is full.",
     .field = &Config::store_map_mb, .restart_only = true},
    {.name = "store.spool_dir", .type = Type::kString, .default_value = R"("")",
     .doc = "Directory for temporary files of large messages; \"\" means $TMPDIR, or /tmp when "
            "TMPDIR is unset.",
     .field = &Config::spool_dir},
    {.name = "store.spool_threshold", .type = Type::kSize, .default_value = "1048576",
     .min = 4 * kKiB, .max = kGiB,
     .doc = "Bytes of a message held in memory before it is spooled to a file in spool_dir.",
     .field = &Config::spool_threshold},

    // [limits]
    {.name = "limits.max_message_bytes", .type = Type::kSize, .default_value = "104857600",
     .min = kKiB, .max = 16 * kGiB,
     .doc = "Largest message turned into a ticket, in bytes; a larger one is malformed "
            "(actions.on_malformed).",
     .field = &Config::max_message_bytes},
    {.name = "limits.max_header_bytes", .type = Type::kSize, .default_value = "262144",
     .min = kKiB, .max = 64 * kMiB,
     .doc = "Largest header section, in bytes; a larger one is malformed.",
     .field = &Config::max_header_bytes},
    {.name = "limits.max_mime_depth", .type = Type::kInt, .default_value = "20",
     .min = 1, .max = 100,
     .doc = "Deepest nesting of MIME multiparts and attached messages; deeper is malformed.",
     .field = &Config::max_mime_depth},
    {.name = "limits.max_mime_parts", .type = Type::kInt, .default_value = "500",
     .min = 1, .max = 100000,
     .doc = "Most MIME parts in one message; more is malformed.",
     .field = &Config::max_mime_parts},
    {.name = "limits.max_body_chars", .type = Type::kInt, .default_value = "65000",
     .min = 100, .max = 10000000,
     .doc = "Characters of text body stored on the ticket; the rest is cut with a visible marker.",
     .field = &Config::max_body_chars},
    {.name = "limits.archive_memory_mb", .type = Type::kInt, .default_value = "256",
     .min = 16, .max = 65536,
     .doc = "Memory, in MiB, that listing one archive attachment may take. Archives are listed "
            "(libarchive) in a short-lived child process bounded by this; an archive that needs "
            "more is unreadable, a scan_limit outcome.",
     .field = &Config::archive_memory_mb},
    {.name = "limits.archive_time_ms", .type = Type::kInt, .default_value = "10000",
     .min = 100, .max = 600000,
     .doc = "Time, in milliseconds, that listing one archive attachment may take; the child "
            "process is stopped after it and the archive is a scan_limit outcome.",
     .field = &Config::archive_time_ms},

    // [scanner]
    {.name = "scanner.enabled", .type = Type::kBool, .default_value = "true",
     .doc = "Scan every attachment with libclamav; when true, a missing or broken database is a "
            "start-up error.",
     .field = &Config::scanner_enabled},
    {.name = "scanner.database_dir", .type = Type::kString,
     .default_value = R"("/var/lib/clamav")",
     .doc = "ClamAV signature directory (.cvd, .cld, .hdb, .ndb, ...); reloaded in the background "
            "when it changes, and on SIGHUP.",
     .field = &Config::scanner_database_dir, .check = CheckNotEmpty},
    {.name = "scanner.temp_dir", .type = Type::kString, .default_value = R"("")",
     .doc = "Where libclamav unpacks archives while scanning; \"\" means $TMPDIR, or /tmp.",
     .field = &Config::scanner_temp_dir},
    {.name = "scanner.max_scan_size", .type = Type::kSize, .default_value = "419430400",
     .min = kKiB, .max = 4 * kGiB - 1,
     .doc = "Bytes scanned per attachment, nested files together; more is a scan_limit outcome.",
     .field = &Config::scanner_max_scan_size},
    {.name = "scanner.max_file_size", .type = Type::kSize, .default_value = "104857600",
     .min = kKiB, .max = 4 * kGiB - 1,
     .doc = "Largest single file (nested ones too) scanned; larger is a scan_limit outcome.",
     .field = &Config::scanner_max_file_size},
    {.name = "scanner.max_recursion", .type = Type::kInt, .default_value = "17", .min = 1,
     .max = 100,
     .doc = "Deepest archive and container nesting scanned; deeper is a scan_limit outcome.",
     .field = &Config::scanner_max_recursion},
    {.name = "scanner.max_files", .type = Type::kInt, .default_value = "10000", .min = 1,
     .max = 1000000,
     .doc = "Most files scanned inside one attachment; more is a scan_limit outcome.",
     .field = &Config::scanner_max_files},
    {.name = "scanner.max_scan_time_ms", .type = Type::kInt, .default_value = "120000", .min = 1,
     .max = 3600000,
     .doc = "Wall time allowed per attachment scan, in milliseconds; longer is a scan_limit "
            "outcome.",
     .field = &Config::scanner_max_scan_time_ms},
    {.name = "scanner.message_scan_time_ms", .type = Type::kInt, .default_value = "60000",
     .min = 1000, .max = 3600000,
     .doc = "Time budget of one message's scanning, all attachments together, in milliseconds, "
            "counted from the end of the message; an attachment reached after it is not scanned "
            "and is a scan_limit outcome. With max_scan_time_ms it bounds the answer, which must "
            "come before Postfix's milter_content_timeout (300 s).",
     .field = &Config::scanner_message_scan_time_ms},
    {.name = "scanner.message_scan_bytes", .type = Type::kSize, .default_value = "209715200",
     .min = kKiB, .max = 64 * kGiB,
     .doc = "Decoded bytes scanned per message, all attachments (and the files found inside "
            "containers) together; an attachment that would go over is not scanned and is a "
            "scan_limit outcome.",
     .field = &Config::scanner_message_scan_bytes},
    {.name = "scanner.reload_check_seconds", .type = Type::kInt, .default_value = "60", .min = 0,
     .max = 86400,
     .doc = "How often the daemon checks database_dir for a new database (freshclam) and reloads "
            "it in the background; 0 = only on SIGHUP.",
     .field = &Config::scanner_reload_check_seconds},
    {.name = "scanner.on_database_failure", .type = Type::kEnum, .default_value = R"("keep")",
     .choices = "keep|fail",
     .doc = "When a database reload fails (a file removed, truncated or garbage): keep scanning "
            "with the signatures loaded before, or fail every scan (each queue's "
            "on_scanner_error, tempfail by default) until a good database loads.",
     .field = &Config::scanner_on_database_failure},

    // [metrics]
    {.name = "metrics.http_enabled", .type = Type::kBool, .default_value = "false",
     .doc = "Serve the counters in the Prometheus text format at http://http_address:http_port/metrics.",
     .field = &Config::metrics_http_enabled, .restart_only = true},
    {.name = "metrics.http_address", .type = Type::kString, .default_value = R"("127.0.0.1")",
     .doc = "IP address the metrics listener binds to; keep it on loopback unless a firewall guards "
            "the port.",
     .field = &Config::metrics_http_address, .check = CheckIpAddress, .restart_only = true},
    {.name = "metrics.http_port", .type = Type::kInt, .default_value = "9467", .min = 1,
     .max = 65535,
     .doc = "TCP port of the metrics listener.",
     .field = &Config::metrics_http_port, .restart_only = true},
    {.name = "metrics.max_series", .type = Type::kInt, .default_value = "500", .min = 10,
     .max = 100000,
     .doc = "Most label sets per counter; further ones are counted under the value \"other\".",
     .field = &Config::metrics_max_series, .restart_only = true},
    {.name = "metrics.max_virus_names", .type = Type::kInt, .default_value = "100", .min = 1,
     .max = 10000,
     .doc = "Most distinct virus names counted; further names are counted as \"other\".",
     .field = &Config::metrics_max_virus_names, .restart_only = true},
    {.name = "metrics.flush_seconds", .type = Type::kInt, .default_value = "10", .min = 1,
     .max = 60,
     .doc = "How often the per-minute mail counts (deskctl stats) are written to the store.",
     .field = &Config::metrics_flush_seconds, .restart_only = true},

    // [attachments]
    {.name = "attachments.store_dir", .type = Type::kString, .default_value = R"("")",
     .default_doc = "store.dir + \"/attachments\"",
     .doc = "Attachment store: allowed attachments are saved here once each, as ab/cd/SHA256; "
            "\"\" means the attachments directory inside store.dir.",
     .field = &Config::attachments_store_dir},
    {.name = "attachments.quarantine_dir", .type = Type::kString, .default_value = R"("")",
     .default_doc = "store.dir + \"/quarantine\"",
     .doc = "Where the original of every mail whose attachments were stripped is kept "
            "(deskctl quarantine); \"\" means the quarantine directory inside store.dir.",
     .field = &Config::attachments_quarantine_dir},
    {.name = "attachments.quarantine_days", .type = Type::kInt, .default_value = "30", .min = 0,
     .max = 3650,
     .doc = "Days a stripped mail's original is kept in the quarantine; 0 keeps none.",
     .field = &Config::attachments_quarantine_days},

    // [actions]
    {.name = "actions.on_internal_error", .type = Type::kAction, .default_value = R"("tempfail")",
     .doc = "What to do with a message when deskmilter hits a bug or an unexpected library error.",
     .field = &Config::on_internal_error},
    {.name = "actions.on_store_error", .type = Type::kAction, .default_value = R"("tempfail")",
     .doc = "What to do with a message when the ticket store fails.",
     .field = &Config::on_store_error},
    {.name = "actions.on_malformed", .type = Type::kAction, .default_value = R"("tempfail")",
     .doc = "What to do with support mail that cannot be parsed or exceeds a [limits] option.",
     .field = &Config::on_malformed},

    // [tickets]
    {.name = "tickets.add_ticket_header", .type = Type::kBool, .default_value = "true",
     .doc = "Add an X-Deskmilter-Ticket header naming the ticket to delivered support mail.",
     .field = &Config::add_ticket_header},
    {.name = "tickets.max_references", .type = Type::kInt, .default_value = "20",
     .min = 1, .max = 1000,
     .doc = "Most Message-IDs a message names (In-Reply-To, then References newest first) used "
            "for threading and indexed on its ticket.",
     .field = &Config::max_references},
    {.name = "tickets.trusted_authserv_ids", .type = Type::kStringArray, .default_value = "[]",
     .min = 0,
     .doc = "authserv-ids of the Authentication-Results header your own DMARC checker adds before "
            "deskmilter sees the mail; when the topmost such header carries one of them with "
            "dmarc=pass for the From domain, the mail counts as authenticated and may add "
            "participants. Empty: only SMTP AUTH does.",
     .field = &Config::trusted_authserv_ids},
    {.name = "tickets.max_participants", .type = Type::kInt, .default_value = "100",
     .min = 1, .max = 10000,
     .doc = "Most addresses a ticket keeps as participants; addresses beyond it are not added "
            "(the mail is still stored).",
     .field = &Config::max_participants},
    {.name = "tickets.max_named_ids", .type = Type::kInt, .default_value = "1000",
     .min = 1, .max = 1000000,
     .doc = "Most Message-IDs a ticket indexes that no stored message has (ids its mail named, "
            "kept so that a reply arriving before its parent threads); ids named beyond it are "
            "not indexed (the mail is still stored and threaded).",
     .field = &Config::max_named_ids},
    {.name = "tickets.max_named_ids_per_sender", .type = Type::kInt, .default_value = "1000",
     .min = 1, .max = 1000000,
     .doc = "Most such named-only Message-IDs one envelope sender may have indexed in 24 hours, "
            "over all tickets; ids beyond it are not indexed.",
     .field = &Config::max_named_ids_per_sender},

    // [agents] (docs/AGENTS.md)
    {.name = "agents.trusted_networks", .type = Type::kStringArray, .default_value = "[]",
     .min = 0,
     .doc = "Client networks (CIDR) whose envelope sender alone identifies an agent; agents "
            "elsewhere must use SMTP AUTH. Empty: only SMTP AUTH identifies agents.",
     .field = &Config::trusted_networks, .check = CheckCidr},
    {.name = "agents.reply_token_secret", .type = Type::kString, .default_value = R"("")",
     .doc = "Key of the reply tokens (support+TOKEN@domain); at least 16 characters, required "
            "when a queue sets reply_token. Changing it invalidates tokens already sent.",
     .field = &Config::reply_token_secret, .check = CheckTokenSecret},
    {.name = "agents.control_address", .type = Type::kString, .default_value = R"("")",
     .doc = "Address an agent writes to, from their authenticated account, with the subject "
            "\"state NAME\" to set their state (docs/ROUTING.md); never delivered or ticketed. "
            "\"\" = none.",
     .field = &Config::control_address, .check = CheckControlAddress},
    {.name = "agents.extra_states", .type = Type::kStringArray, .default_value = "[]",
     .doc = "States beyond in-email, in-call, in-chat, away and offline, \"NAME=available\" or "
            "\"NAME=unavailable\" (whether automatic routing gives the agent tickets).",
     .field = &Config::extra_states, .check = CheckExtraState},
    {.name = "agents.reply_token_max_age_days", .type = Type::kInt, .default_value = "365",
     .min = 0, .max = 36500,
     .doc = "Reply tokens issued more than this many days ago no longer thread (the mail opens a "
            "new ticket unless its Message-IDs or a participant's tag thread it); 0: they never "
            "expire, and tokens of the first, undated format are accepted too.",
     .field = &Config::reply_token_max_age_days},
    // [loops]
    {.name = "loops.installation_id", .type = Type::kString, .default_value = R"("")",
     .default_doc = "milter.hostname",
     .doc = "Value of the X-Deskmilter-Loop stamp added to mail let through to a queue; a copy "
            "that comes back with it is a loop. \"\": the random id deskmilter generates at its "
            "first start and keeps in the store.",
     .field = &Config::installation_id},
    {.name = "loops.max_received", .type = Type::kInt, .default_value = "30", .min = 5, .max = 1000,
     .doc = "More Received headers than this is a loop.",
     .field = &Config::max_received},
    {.name = "loops.blocked_senders", .type = Type::kStringArray, .default_value = "[]",
     .doc = "Senders (user@domain or *@domain) whose mail never opens a ticket: class own.",
     .field = &Config::blocked_senders, .check = CheckAddressPattern},
    {.name = "loops.flood_max", .type = Type::kInt, .default_value = "20", .min = 0,
     .max = 1000000,
     .doc = "Most mails one sender may send to one queue per flood window; 0 turns flood "
            "protection off.",
     .field = &Config::flood_max},
    {.name = "loops.flood_window", .type = Type::kInt, .default_value = "600", .min = 1,
     .max = 604800,
     .doc = "Length of the flood window in seconds; counters survive restarts.",
     .field = &Config::flood_window},
    {.name = "loops.flood_max_per_network", .type = Type::kInt, .default_value = "300", .min = 0,
     .max = 1000000,
     .doc = "Most mails from one client network (/24 for IPv4, /64 for IPv6) to one queue per "
            "flood window, whatever their senders (rotating senders); 0 turns it off. Big "
            "providers send many customers' mail from one network: keep it well above "
            "flood_max.",
     .field = &Config::flood_max_per_network},
    {.name = "loops.bounce_action", .type = Type::kAction, .default_value = R"("accept")",
     .doc = "What to do with delivery reports (bounces) to a support address.",
     .field = &Config::bounce_action},
    {.name = "loops.bounce_ticket", .type = Type::kEnum, .default_value = R"("record")",
     .choices = "none|record|open",
     .doc = "record: a delivery-failure event on the ticket of the reported message; none; or "
            "open tickets like a person's mail.",
     .field = &Config::bounce_ticket},
    {.name = "loops.auto_reply_action", .type = Type::kAction, .default_value = R"("accept")",
     .doc = "What to do with out-of-office and other automatic answers.",
     .field = &Config::auto_reply_action},
    {.name = "loops.auto_reply_ticket", .type = Type::kEnum, .default_value = R"("record")",
     .choices = "none|record|open",
     .doc = "record: joins its ticket if it threads, marked automatic, never opens one; none; "
            "or open.",
     .field = &Config::auto_reply_ticket},
    {.name = "loops.list_action", .type = Type::kAction, .default_value = R"("accept")",
     .doc = "What to do with list and bulk mail.",
     .field = &Config::list_action},
    {.name = "loops.list_ticket", .type = Type::kEnum, .default_value = R"("none")",
     .choices = "none|record|open",
     .doc = "Ticket effect of list and bulk mail (none: delivered without a ticket).",
     .field = &Config::list_ticket},
    {.name = "loops.own_action", .type = Type::kAction, .default_value = R"("accept")",
     .doc = "What to do with mail from our own addresses or blocked senders.",
     .field = &Config::own_action},
    {.name = "loops.own_ticket", .type = Type::kEnum, .default_value = R"("none")",
     .choices = "none|record|open",
     .doc = "Ticket effect of mail from our own addresses or blocked senders.",
     .field = &Config::own_ticket},
    {.name = "loops.loop_action", .type = Type::kAction, .default_value = R"("hold")",
     .doc = "What to do with mail that carries our loop stamp or too many Received headers.",
     .field = &Config::loop_action},
    {.name = "loops.flood_action", .type = Type::kAction, .default_value = R"("tempfail")",
     .doc = "What to do with mail over the flood limit (tempfail: 4xx until the window passes).",
     .field = &Config::flood_action},

    // [outbox] (docs/TRIGGERS.md)
    {.name = "outbox.smtp_host", .type = Type::kString, .default_value = R"("127.0.0.1")",
     .doc = "Host (name or IP address) of the MTA that queued mail (automatic answers) is "
            "submitted to by SMTP; it must relay to the customers without passing the mail back "
            "through deskmilter's queues.",
     .field = &Config::outbox_smtp_host},
    {.name = "outbox.smtp_port", .type = Type::kInt, .default_value = "25", .min = 1,
     .max = 65535,
     .doc = "TCP port of that MTA.",
     .field = &Config::outbox_smtp_port},
    {.name = "outbox.helo_name", .type = Type::kString, .default_value = R"("")",
     .default_doc = "milter.hostname",
     .doc = "Name given in EHLO; \"\": milter.hostname.",
     .field = &Config::outbox_helo_name},
    {.name = "outbox.timeout", .type = Type::kInt, .default_value = "60", .min = 1, .max = 3600,
     .doc = "Seconds to wait for the connection and for each SMTP reply; past it the attempt "
            "is a temporary failure.",
     .field = &Config::outbox_timeout},
    {.name = "outbox.retry_min", .type = Type::kInt, .default_value = "60", .min = 1,
     .max = 86400,
     .doc = "Seconds before the first retry after a temporary failure (4xx or no connection); "
            "the wait doubles with each attempt.",
     .field = &Config::outbox_retry_min},
    {.name = "outbox.retry_max", .type = Type::kInt, .default_value = "3600", .min = 1,
     .max = 604800,
     .doc = "Longest wait between two attempts, in seconds.",
     .field = &Config::outbox_retry_max},
    {.name = "outbox.max_age", .type = Type::kInt, .default_value = "432000", .min = 60,
     .max = 2592000,
     .doc = "Seconds after queueing when a temporary failure becomes final: the mail is "
            "dropped and an outbound_failed event is recorded on its ticket.",
     .field = &Config::outbox_max_age},

    // [answers] (docs/TRIGGERS.md)
    {.name = "answers.window", .type = Type::kInt, .default_value = "86400", .min = 1,
     .max = 31536000,
     .doc = "At most one automatic answer per sender and queue within this many seconds "
            "(RFC 3834); kept in the store across restarts.",
     .field = &Config::auto_answer_window},
    {.name = "answers.max_per_ticket", .type = Type::kInt, .default_value = "3", .min = 1,
     .max = 1000,
     .doc = "At most this many automatic answers on one ticket, ever.",
     .field = &Config::auto_answer_max_per_ticket},
};

const QueueOption kQueueOptions[] = {
    {.name = "name", .type = Type::kString, .required = true,
     .doc = "Unique queue name: 1 to 64 letters, digits, '-', '_' or '.'.",
     .field = &QueueConfig::name, .check = CheckQueueName},
    {.name = "color", .type = Type::kString, .default_value = R"("#1f77b4")",
     .doc = "Display color for agents' clients and deskctl, as #RRGGBB.",
     .field = &QueueConfig::color, .check = CheckColor},
    {.name = "addresses", .type = Type::kStringArray, .required = true, .min = 1,
     .doc = "Support addresses of the queue: user@domain or *@domain (any user at that domain); "
            "stored lower-case, each in one queue only.",
     .field = &QueueConfig::addresses, .check = CheckAddressPattern},
    {.name = "default_address", .type = Type::kString,
     .default_doc = "the first user@domain in addresses",
     .doc = "Address replies go out from; must be one of the queue's addresses, and is required "
            "when the queue has only *@domain addresses.",
     .field = &QueueConfig::default_address, .check = CheckExactAddress},
    {.name = "subject_tag", .type = Type::kString, .default_value = R"("[#{n}]")",
     .doc = "Ticket tag in subjects; {n} (exactly once) stands for the ticket number.",
     .field = &QueueConfig::subject_tag, .check = CheckSubjectTag},
    {.name = "tag_subject", .type = Type::kBool, .default_value = "true",
     .doc = "Add the tag to the subject of delivered mail when it is missing.",
     .field = &QueueConfig::tag_subject},
    {.name = "closed_reply", .type = Type::kEnum, .default_value = R"("reopen")",
     .choices = "reopen|new",
     .doc = "What a reply to a closed ticket does: reopen it, or open a new ticket.",
     .field = &QueueConfig::closed_reply},
    {.name = "attachments_allow_categories", .type = Type::kStringArray,
     .default_value = R"(["document"])",
     .doc = "Categories whose every type passes: image, video, audio, document, executable, "
            "archive, other.",
     .field = &QueueConfig::attachments_allow_categories, .check = CheckCategory},
    {.name = "attachments_allow_types", .type = Type::kStringArray,
     .default_value = R"(["image/jpeg", "image/png", "image/gif", "image/tiff", "image/webp", "image/x-canon-cr2", "image/x-canon-crw", "image/x-nikon-nef", "image/x-adobe-dng", "image/x-olympus-orf", "image/x-fuji-raf", "image/x-sony-arw", "image/x-panasonic-rw2", "image/x-panasonic-raw", "image/x-pentax-pef", "image/x-dcraw", "video/mp4", "video/quicktime", "video/x-msvideo", "video/x-ms-wmv", "video/x-ms-asf", "video/webm", "audio/mpeg", "audio/x-wav", "audio/wav", "audio/vnd.wave", "application/x-empty"])",
     .doc = "Detected MIME types (or type/* patterns) that pass beyond the allowed categories; "
            "the default is the product's images, video and audio.",
     .field = &QueueConfig::attachments_allow_types, .check = CheckTypePattern},
    {.name = "attachments_refuse_types", .type = Type::kStringArray, .default_value = "[]",
     .doc = "Detected or declared MIME types (or patterns) refused whatever their category.",
     .field = &QueueConfig::attachments_refuse_types, .check = CheckTypePattern},
    {.name = "attachments_refuse_extensions", .type = Type::kStringArray,
     .default_value = R"(["exe", "dll", "bat", "scr", "bin"])",
     .doc = "File name extensions refused (lower-case, no dot); executables and archives are "
            "also refused by content.",
     .field = &QueueConfig::attachments_refuse_extensions, .check = CheckExtension},
    {.name = "attachments_allow_extensions", .type = Type::kStringArray, .default_value = "[]",
     .doc = "When not empty, only names with one of these extensions pass.",
     .field = &QueueConfig::attachments_allow_extensions, .check = CheckExtension},
    {.name = "archives", .type = Type::kEnum, .default_value = R"("refuse")",
     .choices = "refuse|inspect",
     .doc = "refuse zip/7z/rar/tar attachments, or inspect them: every entry judged by this "
            "policy.",
     .field = &QueueConfig::archives},
    {.name = "archive_depth", .type = Type::kInt, .default_value = "3", .min = 1, .max = 10,
     .doc = "Levels of nested archives inspected (1 = the attachment's own entries).",
     .field = &QueueConfig::archive_depth},
    {.name = "archive_encrypted", .type = Type::kEnum, .default_value = R"("refuse")",
     .choices = "refuse|scan_limit",
     .doc = "An encrypted archive entry is refused_type, or a scan_limit outcome.",
     .field = &QueueConfig::archive_encrypted},
    {.name = "max_attachment_bytes", .type = Type::kSize, .default_value = "52428800",
     .min = 1, .max = 16 * kGiB,
     .doc = "Largest decoded attachment; larger is a too_large outcome.",
     .field = &QueueConfig::max_attachment_bytes},
    {.name = "max_message_attachment_bytes", .type = Type::kSize, .default_value = "0",
     .min = 0, .max = 16 * kGiB,
     .doc = "Largest total of a message's decoded attachments; 0 = no limit.",
     .field = &QueueConfig::max_message_attachment_bytes},
    {.name = "on_infected", .type = Type::kEnum, .default_value = R"("reject")",
     .choices = "accept|tempfail|reject|hold|strip",
     .doc = "What to do when ClamAV finds a virus in an attachment.",
     .field = &QueueConfig::on_infected},
    {.name = "on_refused_type", .type = Type::kEnum, .default_value = R"("strip")",
     .choices = "accept|tempfail|reject|hold|strip",
     .doc = "What to do with an attachment of a type the queue does not allow.",
     .field = &QueueConfig::on_refused_type},
    {.name = "on_too_large", .type = Type::kEnum, .default_value = R"("reject")",
     .choices = "accept|tempfail|reject|hold|strip",
     .doc = "What to do with an attachment or message total over the size limits.",
     .field = &QueueConfig::on_too_large},
    {.name = "on_scan_limit", .type = Type::kEnum, .default_value = R"("hold")",
     .choices = "accept|tempfail|reject|hold|strip",
     .doc = "What to do when a scan or archive limit stops the inspection of an attachment.",
     .field = &QueueConfig::on_scan_limit},
    {.name = "on_scanner_error", .type = Type::kEnum, .default_value = R"("tempfail")",
     .choices = "accept|tempfail|reject|hold|strip",
     .doc = "What to do when the virus scanner fails.",
     .field = &QueueConfig::on_scanner_error},
    {.name = "on_malformed_attachment", .type = Type::kEnum, .default_value = R"("hold")",
     .choices = "accept|tempfail|reject|hold|strip",
     .doc = "What to do with ambiguous MIME (duplicate Content-Type, boundary or encoding headers).",
     .field = &QueueConfig::on_malformed_attachment},
    {.name = "reply_name", .type = Type::kEnum, .default_value = R"("queue")",
     .choices = "queue|agent_via_queue",
     .doc = "Display name of the From of agents' mail to customers: the queue name, or "
            "\"AGENT via QUEUE\".",
     .field = &QueueConfig::reply_name},
    {.name = "rewrite_envelope", .type = Type::kBool, .default_value = "true",
     .doc = "Also set the envelope sender of agents' mail to the reply-via address (SPF, DMARC, "
            "sender_dependent_relayhost_maps).",
     .field = &QueueConfig::rewrite_envelope},
    {.name = "reply_token", .type = Type::kBool, .default_value = "false",
     .doc = "Reply-To of agents' mail is support+TOKEN@domain, a MAC-signed ticket number that "
            "threads replies without In-Reply-To (needs agents.reply_token_secret).",
     .field = &QueueConfig::reply_token},
    {.name = "routing", .type = Type::kString, .default_value = R"("manual")",
     .doc = "\"manual\": mail goes where the MTA delivers the address and a manager assigns "
            "(deskctl assign); \"automatic\": each new ticket goes to one available agent "
            "(round robin), whose address is added as a recipient (docs/ROUTING.md).",
     .field = &QueueConfig::routing, .check = CheckRouting},
    {.name = "reply_via", .type = Type::kStringArray, .default_value = "[]",
     .doc = "\"RECEIVED_AT=REPLY_VIA\": agents' replies to tickets received at RECEIVED_AT (an "
            "address or *@domain of this queue) are sent as REPLY_VIA, one of this queue's exact "
            "addresses or its default_address (e.g. mail to support@ answered as it@).",
     .field = &QueueConfig::reply_via, .check = CheckReplyVia},
    {.name = "business_hours", .type = Type::kStringArray, .default_value = "[]",
     .doc = "When the desk is open, \"DAY[-DAY] HH:MM-HH:MM\" entries (mon..sun) in time_zone; "
            "outside them the account status is invisible and SLA clocks do not count. Empty: "
            "always open.",
     .field = &QueueConfig::business_hours, .check = CheckBusinessHours},
    {.name = "time_zone", .type = Type::kString, .default_value = R"("UTC")",
     .doc = "Time zone of business_hours and holidays (an IANA name, e.g. \"Europe/Paris\").",
     .field = &QueueConfig::time_zone, .check = CheckTimeZone},
    {.name = "holidays", .type = Type::kStringArray, .default_value = "[]",
     .doc = "Dates (YYYY-MM-DD, local to time_zone) on which the desk is closed all day.",
     .field = &QueueConfig::holidays, .check = CheckHoliday},
    {.name = "keep_text", .type = Type::kBool, .default_value = "true",
     .doc = "Keep the text body of each mail on its ticket (the copy shown as a comment and in "
            "the transcript); false keeps the headers and attachment list only.",
     .field = &QueueConfig::keep_text},
    {.name = "keep_original", .type = Type::kBool, .default_value = "true",
     .doc = "Keep each mail as received, content-addressed in attachments.store_dir "
            "(`deskctl message get`).",
     .field = &QueueConfig::keep_original},
    {.name = "transcript", .type = Type::kString, .default_value = R"("none")",
     .doc = "\"pdf\": keep an up-to-date PDF transcript of each ticket in "
            "attachments.store_dir/transcripts/N.pdf, written after each message by a worker.",
     .field = &QueueConfig::transcript, .check = CheckTranscript},
    {.name = "brand", .type = Type::kString, .default_value = R"("")",
     .doc = "Brand of the queue's tickets, recorded on each ticket (\"\" = none).",
     .field = &QueueConfig::brand, .check = CheckBrand},
    {.name = "brand_display_name", .type = Type::kString, .default_value = R"("")",
     .doc = "Display name for the From of replies and automatic answers of the brand "
            "(\"\" = the brand).",
     .field = &QueueConfig::brand_display_name, .check = CheckBrand},
    {.name = "address_brands", .type = Type::kStringArray, .default_value = "[]",
     .doc = "Per support address brands, \"ADDRESS=BRAND\"; mail received at ADDRESS gets BRAND "
            "instead of the queue's.",
     .field = &QueueConfig::address_brands, .check = CheckAddressBrand},
    {.name = "sla_first_response", .type = Type::kInt, .default_value = "0", .min = 0,
     .max = 31536000,
     .doc = "Seconds of business time (business_hours; 24x7 without) from a new ticket to the "
            "first agent reply before the SLA is breached (0 = no target).",
     .field = &QueueConfig::sla_first_response},
    {.name = "sla_next_response", .type = Type::kInt, .default_value = "0", .min = 0,
     .max = 31536000,
     .doc = "Seconds of business time from a customer's follow-up to the next agent reply "
            "(0 = no target).",
     .field = &QueueConfig::sla_next_response},
};

const AgentOption kAgentOptions[] = {
    {.name = "address", .type = Type::kString, .required = true,
     .doc = "The agent's personal address (user@domain); never shown to customers.",
     .field = &AgentConfig::address, .check = CheckExactAddress},
    {.name = "name", .type = Type::kString, .default_value = R"("")",
     .doc = "The agent's display name, for \"AGENT via QUEUE\" and ticket events.",
     .field = &AgentConfig::name, .check = CheckOneLine},
    {.name = "login", .type = Type::kString, .default_value = R"("")",
     .doc = "SMTP AUTH user exactly as the MTA reports it ({auth_authen}, e.g. user@REALM); "
            "\"\" = the agent is known by envelope sender from agents.trusted_networks only.",
     .field = &AgentConfig::login, .check = CheckOneLine},
};
// clang-format on

std::vector<std::string_view> SplitChoices(std::string_view choices) {
  std::vector<std::string_view> out;
  while (!choices.empty()) {
    size_t bar = choices.find('|');
    out.push_back(choices.substr(0, bar));
    if (bar == std::string_view::npos) break;
    choices.remove_prefix(bar + 1);
  }
  return out;
}

template <typename C>
std::string FormatValueT(const OptionSpec<C>& option, const C& target) {
  struct Visitor {
    const OptionSpec<C>& option;
    const C& target;
    std::string operator()(std::string C::*m) const { return QuoteToml(target.*m); }
    std::string operator()(int64_t C::*m) const {
      char buf[32];
      if (option.type == Type::kOctalMode) {
        std::snprintf(buf, sizeof buf, "\"0%03" PRIo64 "\"", static_cast<uint64_t>(target.*m));
      } else {
        std::snprintf(buf, sizeof buf, "%" PRId64, target.*m);
      }
      return buf;
    }
    std::string operator()(bool C::*m) const { return target.*m ? "true" : "false"; }
    std::string operator()(Outcome C::*m) const { return QuoteToml(OutcomeName(target.*m)); }
    std::string operator()(ClosedReply C::*m) const { return Choice(static_cast<size_t>(target.*m)); }
    std::string operator()(TicketEffect C::*m) const { return Choice(static_cast<size_t>(target.*m)); }
    std::string operator()(ArchiveMode C::*m) const { return Choice(static_cast<size_t>(target.*m)); }
    std::string operator()(ScannerDatabaseFailure C::*m) const {
      return Choice(static_cast<size_t>(target.*m));
    }
    std::string operator()(EncryptedMode C::*m) const {
      return Choice(static_cast<size_t>(target.*m));
    }
    std::string Choice(size_t i) const {
      auto choices = SplitChoices(option.choices);
      return i < choices.size() ? QuoteToml(choices[i]) : "?";
    }
    std::string operator()(ReplyName C::*m) const { return Choice(static_cast<size_t>(target.*m)); }
    std::string operator()(std::vector<std::string> C::*m) const {
      std::string out = "[";
      for (const auto& s : target.*m) out += (out.size() > 1 ? ", " : "") + QuoteToml(s);
      return out + "]";
    }
  };
  return std::visit(Visitor{option, target}, option.field);
}

template <typename C>
std::string DefaultTextT(const OptionSpec<C>& option) {
  if (option.required) return "required";
  if (option.default_value.empty()) return std::string(option.default_doc);
  return std::string(option.default_value);
}

std::string OctalText(int64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0%03" PRIo64, static_cast<uint64_t>(v));
  return buf;
}

template <typename C>
std::string RangeTextT(const OptionSpec<C>& option) {
  switch (option.type) {
    case Type::kInt:
    case Type::kSize:
      return std::to_string(option.min) + ".." + std::to_string(option.max);
    case Type::kOctalMode:
      return OctalText(option.min) + ".." + OctalText(option.max);
    case Type::kAction:
      return "accept, tempfail, reject, hold, discard";
    case Type::kEnum: {
      std::string out;
      for (auto c : SplitChoices(option.choices)) out += (out.empty() ? "" : ", ") + std::string(c);
      return out;
    }
    case Type::kStringArray:
      return option.min > 0 ? "at least " + std::to_string(option.min) : "";
    case Type::kString:
    case Type::kBool:
      return "";
  }
  return "";
}

// Markdown table cells: '|' would end the cell.
std::string Cell(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

template <typename C>
std::string MarkdownRow(const OptionSpec<C>& option, std::string_view key) {
  std::string def = DefaultTextT(option);
  if (!option.default_value.empty()) def = "`" + def + "`";
  return "| `" + std::string(key) + "` | " + TypeName(option.type) + " | " + Cell(def) + " | " +
         Cell(RangeTextT(option)) + " | " + Cell(option.doc) + " |\n";
}

constexpr std::string_view kTableHead =
    "| Key | Type | Default | Range | Description |\n"
    "|-----|------|---------|-------|-------------|\n";

}  // namespace

const char* TypeName(Type t) {
  switch (t) {
    case Type::kString: return "string";
    case Type::kInt: return "integer";
    case Type::kBool: return "boolean";
    case Type::kAction: return "action";
    case Type::kEnum: return "enum";
    case Type::kOctalMode: return "octal mode";
    case Type::kSize: return "size";
    case Type::kStringArray: return "array of strings";
  }
  return "unknown";
}

std::span<const Option> Options() { return kOptions; }
std::span<const QueueOption> QueueOptions() { return kQueueOptions; }
std::span<const AgentOption> AgentOptions() { return kAgentOptions; }

std::string_view SectionOf(std::string_view name) { return name.substr(0, name.find('.')); }

std::string_view KeyOf(std::string_view name) {
  size_t dot = name.find('.');
  return dot == std::string_view::npos ? name : name.substr(dot + 1);
}

std::vector<std::string_view> Sections() {
  std::vector<std::string_view> out;
  for (const auto& o : kOptions) {
    if (out.empty() || out.back() != SectionOf(o.name)) out.push_back(SectionOf(o.name));
  }
  return out;
}

const Option* FindOption(std::string_view name) {
  for (const auto& o : kOptions) {
    if (o.name == name) return &o;
  }
  return nullptr;
}

const QueueOption* FindQueueOption(std::string_view key) {
  for (const auto& o : kQueueOptions) {
    if (o.name == key) return &o;
  }
  return nullptr;
}

const AgentOption* FindAgentOption(std::string_view key) {
  for (const auto& o : kAgentOptions) {
    if (o.name == key) return &o;
  }
  return nullptr;
}

std::string FormatValue(const AgentOption& option, const AgentConfig& agent) {
  return FormatValueT(option, agent);
}
std::string DefaultText(const AgentOption& option) { return DefaultTextT(option); }
std::string RangeText(const AgentOption& option) { return RangeTextT(option); }

std::string FormatValue(const Option& option, const Config& config) {
  return FormatValueT(option, config);
}
std::string FormatValue(const QueueOption& option, const QueueConfig& queue) {
  return FormatValueT(option, queue);
}
std::string DefaultText(const Option& option) { return DefaultTextT(option); }
std::string DefaultText(const QueueOption& option) { return DefaultTextT(option); }
std::string RangeText(const Option& option) { return RangeTextT(option); }
std::string RangeText(const QueueOption& option) { return RangeTextT(option); }

std::string QuoteToml(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string ReferenceMarkdown() {
  std::string md =
      "# deskmilter configuration reference\n"
      "\n"
      "<!-- Generated from the schema tables in config/schema.cc; do not edit by hand. Regenerate:\n"
      "     DESK_REGENERATE_DOCS=1 build/desk_unit_tests --gtest_filter='ConfigDocs.*'\n"
      "     tests/unit/config_test.cc fails when this file and the tables differ. -->\n"
      "\n"
      "deskmilter reads one TOML file, given with `-c FILE` (`deskmilter -n -c FILE` only checks "
      "it).\n"
      "config/deskmilter.example.toml shows every option with its default.\n"
      "\n"
      "- Every option is optional unless marked *required*; a missing option takes its default.\n"
      "- Unknown sections and keys are errors, as are wrong types, values out of range and bad\n"
      "  choices. Each error names the file, the key and the reason, e.g.\n"
      "  `deskmilter.toml: limits.max_mime_depth: 0 is below the minimum 1`.\n"
      "- Relative paths (`store.dir`, `store.spool_dir`, a `unix:` socket) are taken from the\n"
      "  working directory deskmilter runs in, not from the directory of the file, and are kept\n"
      "  as written.\n"
      "- Types: *size* is a number of bytes, either an integer or a string with a `K`, `M` or `G`\n"
      "  suffix (powers of 1024, e.g. `\"100M\"`); *octal mode* is a string of octal digits\n"
      "  (`\"0660\"`) or an integer (`0o660`); *action* is one of `accept`, `tempfail`, `reject`,\n"
      "  `hold`, `discard`.\n";
  for (auto section : Sections()) {
    md += "\n## [" + std::string(section) + "]\n\n";
    md += kTableHead;
    for (const auto& o : kOptions) {
      if (SectionOf(o.name) == section) md += MarkdownRow(o, KeyOf(o.name));
    }
  }
  md += "\n## [[queue]]\n\n"
        "Each `[[queue]]` table declares one help-desk queue. Mail to one of its addresses becomes a\n"
        "ticket in that queue. A file without queues is valid: deskmilter then passes all mail\n"
        "untouched. Queue names are unique, and an address belongs to one queue only; an exact\n"
        "address wins over another queue's `*@domain` pattern.\n\n";
  md += kTableHead;
  for (const auto& o : kQueueOptions) md += MarkdownRow(o, o.name);
  md += "\n## [[queue.agent]]\n\n"
        "Each `[[queue.agent]]` table, written after its `[[queue]]`, declares one agent of that\n"
        "queue. Mail is an agent's when the SMTP AUTH user is the agent's `login`, or, from\n"
        "`agents.trusted_networks` only, when the envelope sender is the agent's `address`; a From\n"
        "header alone never makes anyone an agent. docs/AGENTS.md describes what happens then.\n\n";
  md += kTableHead;
  for (const auto& o : kAgentOptions) md += MarkdownRow(o, o.name);
  return md;
}

}  // namespace desk::config
