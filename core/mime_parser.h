// ParseMessage: GMime 3 over a Spool, producing a ParsedMessage.
//
// Reads from the spooled stream (a memory buffer or the temp file), so a large message is never read
// whole into memory: attachments are decoded through a hashing sink, and only the chosen text body is
// kept, cut at the configured number of characters.
//
// Limits enforced (from ParseLimits): MIME depth and number of parts; header bytes. Exceeding one is a
// kMalformed Status naming the limit. Mail that GMime cannot parse at all is kMalformed too; mail that
// is merely odd (no From, no Date, bad charset) parses with empty fields.
//
// The text body is cut at exactly max_body_chars code points (never inside one), and
// ParsedMessage::text_body_truncated tells the caller it was cut.
//
// Thread-safety: call InitMimeLibrary() once at start-up; ParseMessage is then safe from any thread.
#pragma once

#include <cstdint>
#include <string>

#include "core/message.h"
#include "core/spool.h"
#include "core/status.h"

namespace desk {

struct ParseLimits {
  int64_t max_header_bytes = 1 << 20;
  int64_t max_mime_depth = 20;
  int64_t max_mime_parts = 500;
  int64_t max_body_chars = 65000;  // characters (UTF-8 code points) of text body to keep
  std::string hostname = "localhost";  // right side of a generated Message-ID
};

// Once per process, before any ParseMessage.
void InitMimeLibrary();

Status ParseMessage(const Spool& spool, const ParseLimits& limits, ParsedMessage* out);

// Reduces HTML to readable text: drops script/style, turns block elements into line breaks,
// decodes entities, collapses runs of blank lines. Exposed for tests.
std::string HtmlToText(const std::string& html);

}  // namespace desk
