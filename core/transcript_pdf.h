// transcript_pdf: the PDF transcript of one ticket, laid out by Pango on Cairo's PDF surface.
//
// What it holds: the title, the ticket's fields (number, queue, brand, requester, status, received-at
// address, agent, times), then every message in order (direction and kind, from, to, cc, date,
// subject, body text, each attachment with its type, size, SHA-256 and verdict), then the events.
//
// Text layout is Pango's (HarfBuzz shaping, fontconfig fallback, bidi): Cyrillic, Greek, CJK and
// Arabic render with the Noto fonts (fonts-noto-core, fonts-noto-cjk). Paragraphs wrap at the
// margin (words, or characters when a word is wider than the line) and lines flow over pages; each
// page has a footer "Ticket #N - page i of n". The PDF is written to PATH.tmp-XXXXXX beside path
// and renamed over path, so a reader never sees half a file.
//
// Untrusted input: every string comes from mail. It is laid out as plain text (never Pango markup);
// invalid UTF-8 is replaced by U+FFFD and control characters other than newline and tab are shown
// as U+FFFD. Bounds: bodies are already cut by limits.max_body_chars when stored; each field is cut
// at kMaxFieldChars and the whole transcript stops at options.max_pages with a visible note, so a
// ticket with many messages cannot grow the file without bound.
//
// Times are formatted from the stored seconds (UTC); no clock is read.
//
// Thread-safety: safe to call from several threads at once (each call has its own Cairo surface and
// Pango context; Pango's default font map is per thread).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/ticket.h"

namespace desk {

struct TranscriptOptions {
  // Fontconfig family list; fallback covers scripts the first family lacks.
  std::string font_family = "Noto Sans, Noto Sans CJK SC, Noto Sans Arabic, sans-serif";
  int max_pages = 2000;
};

inline constexpr size_t kMaxFieldChars = 2000;

// Writes the transcript to path (atomically, see above). Cairo or file-system failures are kStore
// with the path and Cairo's reason.
Status WriteTranscriptPdf(const Ticket& ticket, const std::vector<TicketMessage>& messages,
                          const std::vector<TicketEvent>& events, const std::string& path,
                          const TranscriptOptions& options = {});

// The plain text the transcript shows for a string: valid UTF-8, controls except '\n' and '\t'
// replaced by U+FFFD, cut at max_chars code points with "..." appended. Exposed for tests.
std::string TranscriptText(const std::string& s, size_t max_chars);

}  // namespace desk
