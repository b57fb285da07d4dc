// Human output of deskctl: the ticket table and the ticket detail view.
//
// Everything shown comes from mail and is untrusted. Printable() keeps valid UTF-8 text but writes
// control characters (C0, DEL, C1) as \xHH and invalid UTF-8 bytes as \xHH, so a subject cannot move
// the cursor, clear the screen or set the terminal title. Widths count code points, not bytes (wide
// CJK characters count as one; good enough for a terminal table, never cut inside a character).
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/ticket.h"

namespace desk::ctl {

// Safe for a terminal. keep_newlines: '\n' passes (for bodies); '\r' and '\t' are handled by the
// caller's choice: tabs become one space, CR before LF is dropped.
std::string Printable(std::string_view s, bool keep_newlines = false);
// Printable(s), cut to at most max_width code points; a cut ends in "...".
std::string Fit(std::string_view s, size_t max_width);
// "2024-01-02T03:04:05Z"; "-" for 0.
std::string IsoTime(int64_t t);

// "NUMBER  STATUS  QUEUE  UPDATED  REQUESTER  TITLE" table, one ticket per line.
std::string FormatTicketTable(const std::vector<Ticket>& tickets);
// Header block, messages (with bodies indented and attachments), then events.
std::string FormatTicketDetail(const Ticket& t, const std::vector<TicketMessage>& messages,
                               const std::vector<TicketEvent>& events);

}  // namespace desk::ctl
