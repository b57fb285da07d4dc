// See manpage.h.
#include "config/manpage.h"

#include "config/schema.h"

namespace desk::config {
namespace {

// One option as a tagged paragraph:
//   .TP
//   .B key
//   (type; default D; range R)
//   doc
template <typename C>
std::string Entry(const OptionSpec<C>& option, std::string_view key) {
  std::string head = std::string(TypeName(option.type));
  std::string def = DefaultText(option);
  head += option.required ? "; required" : "; default " + def;
  std::string range = RangeText(option);
  if (!range.empty()) head += "; " + range;
  return ".TP\n.B " + RoffEscape(key) + "\n(" + RoffEscape(head) + ")\n" + RoffEscape(option.doc) +
         "\n";
}

constexpr std::string_view kHead =
    R"(.\" Generated from config/schema.cc by config/manpage.cc; do not edit.
.\" Regenerate: DESK_REGENERATE_DOCS=1 build/desk_unit_tests --gtest_filter='ManPage.*'
.TH DESKMILTER.TOML 5 "" "deskmilter" "File Formats"
.SH NAME
deskmilter.toml \- configuration file of the deskmilter help\-desk mail filter
.SH SYNOPSIS
.I /etc/deskmilter/deskmilter.toml
.SH DESCRIPTION
.BR deskmilter (8)
reads one TOML file, given with
.BR \-c .
.B deskmilter \-n \-c
.I FILE
checks a file without starting the filter; it prints
.I FILE: ok
or the first error, naming the file, the key and the reason, for example
.IP
deskmilter.toml: limits.max_mime_depth: 0 is below the minimum 1
.PP
Every option is optional unless marked
.IR required ;
a missing option takes its default.
Unknown sections and keys are errors, as are wrong types, values out of range and bad choices.
.PP
Relative paths
.RB ( store.dir ,
.BR store.spool_dir ,
a
.B unix:
socket) are taken from the working directory deskmilter runs in (the systemd unit uses
.IR /var/lib/deskmilter ),
not from the directory of the file.
.PP
Types:
.I size
is a number of bytes, either an integer or a string with a K, M or G suffix (powers of 1024,
e.g. "100M");
.I octal mode
is a string of octal digits ("0660") or an integer (0o660);
.I action
is one of accept, tempfail, reject, hold, discard.
.PP
On SIGHUP
.RB ( "systemctl reload deskmilter" )
the file is read again; open connections keep the configuration they started with.
milter.socket, milter.socket_mode, milter.timeout_seconds, store.dir and store.map_mb take effect
only after a restart.
)";

constexpr std::string_view kQueueText =
    "Each [[queue]] table declares one help\\-desk queue. Mail to one of its addresses becomes a\n"
    "ticket in that queue. A file without queues is valid: deskmilter then passes all mail\n"
    "untouched. Queue names are unique, and an address belongs to one queue only; an exact\n"
    "address wins over another queue's *@domain pattern.\n";

constexpr std::string_view kAgentText =
    "Each [[queue.agent]] table, written after its [[queue]], declares one agent of that queue.\n"
    "Mail is an agent's when the SMTP AUTH user is the agent's login, or, from\n"
    "agents.trusted_networks only, when the envelope sender is the agent's address; a From\n"
    "header alone never makes anyone an agent.\n";

constexpr std::string_view kTail = R"(.SH FILES
.TP
.I /etc/deskmilter/deskmilter.toml
the configuration the systemd unit starts deskmilter with (mode 0640, group deskmilter)
.TP
.I /usr/share/doc/deskmilter/CONFIG.md
the same reference in Markdown
.SH SEE ALSO
.BR deskmilter (8),
.BR deskctl (8),
.BR systemd.service (5)
)";

}  // namespace

std::string RoffEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  bool line_start = true;
  for (char c : s) {
    if (line_start && (c == '.' || c == '\'')) out += "\\&";
    if (c == '\\') {
      out += "\\e";
    } else if (c == '-') {
      out += "\\-";
    } else {
      out += c;
    }
    line_start = c == '\n';
  }
  return out;
}

std::string ManPage() {
  std::string page(kHead);
  page += ".SH OPTIONS\n";
  for (auto section : Sections()) {
    page += ".SS [" + RoffEscape(section) + "]\n";
    for (const Option& o : Options()) {
      if (SectionOf(o.name) == section) page += Entry(o, KeyOf(o.name));
    }
  }
  page += ".SS [[queue]]\n";
  page += kQueueText;
  for (const QueueOption& o : QueueOptions()) page += Entry(o, o.name);
  page += ".SS [[queue.agent]]\n";
  page += kAgentText;
  for (const AgentOption& o : AgentOptions()) page += Entry(o, o.name);
  page += kTail;
  return page;
}

}  // namespace desk::config
