// ParseMessage: GMime 3 over a Spool, producing a ParsedMessage.
//
// Reads from the spooled stream (a memory buffer or the temp file), so a large message is never read
// whole into memory: attachments are decoded through a hashing sink (and, for an AttachmentVisitor,
// into a Spool of their own that moves to a temp file above a threshold), and only the chosen text
// body is kept, cut at the configured number of characters.
//
// Ambiguous MIME (ParsedMessage::mime_ambiguities): duplicate Content-Type, Content-Transfer-
// Encoding or Content-Disposition headers in one entity, duplicate parameters (boundary, name,
// filename, charset) in them, and a "blank" line made of spaces inside a header block (the
// MIME-tools header fake-out). Also structure another reader could split differently: a multipart
// with no parts or no boundary, an encoded multipart or message entity, Content-Type parameters
// without their ';', a cut TNEF, a container too large to inspect (docs/ATTACHMENTS.md). Each is
// listed; the parser still reads GMime's interpretation.
//
// Containers: files inside TNEF, inside base64/QP message/rfc822 leaves and *.eml parts, and
// uuencode/yEnc/BinHex blocks in text/plain parts are handed to the visitor and listed like
// attachments (part paths "2/setup.exe", "2.1"); each counts against max_mime_parts and each
// container level against max_mime_depth.
//
// Limits enforced (from ParseLimits): MIME depth and number of parts; header bytes. Exceeding one is a
// kMalformed Status naming the limit. Mail that GMime cannot parse at all is kMalformed too; mail that
// is merely odd (no From, no Date, bad charset) parses with empty fields.
//
// Line endings: LF and CRLF as GMime reads them. Mail whose lines all end with a bare CR (CR not
// followed by LF, and no LF anywhere: old Mac OS files; HasBareCrLineEnds) is copied once with every
// bare CR made an LF (one linear pass; in memory when the message is, else in a temp file in
// ParseLimits::decode_dir) and that copy is parsed: the same length, so every offset is an offset
// into the original too. ParsedMessage::bare_cr_line_ends says so. A bare CR in mail that has any
// LF is left as is: mail from an MTA always has LFs (the adapter ends every header with CRLF), so
// a sender cannot switch its mail to a reading in which bare CRs make lines (a boundary that mail
// clients do not see would end the MIME structure early and hide later parts from the filter).
//
// The text body is cut at exactly max_body_chars code points (never inside one), and
// ParsedMessage::text_body_truncated tells the caller it was cut.
//
// Thread-safety: call InitMimeLibrary() once at start-up; ParseMessage is then safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/message.h"
#include "core/spool.h"
#include "core/status.h"

namespace desk {

// Receives each attachment's decoded content while ParseMessage runs, so a caller can detect its
// type, scan it and store it without the parser holding every attachment at once.
class AttachmentVisitor {
 public:
  virtual ~AttachmentVisitor() = default;
  // Called once per attachment, in the order of ParsedMessage::attachments, with info complete
  // (size, sha256, names, raw offsets). content holds the decoded bytes: in memory up to
  // ParseLimits::decode_threshold, else in an unlinked temp file in ParseLimits::decode_dir; it is
  // discarded after the call. A non-OK Status stops parsing and ParseMessage returns it.
  virtual Status OnAttachment(const AttachmentInfo& info, const Spool& content) = 0;
};

// No defaults here: the option table holds them (config/schema.cc, [limits]). Build one with
// ParseLimitsFromConfig (core/pipeline.h), or config::DefaultParseLimits() in tests and tools.
struct ParseLimits {
  int64_t max_header_bytes = 0;
  int64_t max_mime_depth = 0;
  int64_t max_mime_parts = 0;
  int64_t max_body_chars = 0;  // characters (UTF-8 code points) of text body to keep
  std::string hostname;        // right side of a generated Message-ID
  // Where decoded attachments go for an AttachmentVisitor ("" = $TMPDIR or /tmp), and how many
  // bytes of one are kept in memory before it moves to a temp file.
  std::string decode_dir;
  uint64_t decode_threshold = 0;
};

// Once per process, before any ParseMessage.
void InitMimeLibrary();

Status ParseMessage(const Spool& spool, const ParseLimits& limits, ParsedMessage* out);
// The same, handing each attachment's decoded content to visitor (may be nullptr).
Status ParseMessage(const Spool& spool, const ParseLimits& limits, AttachmentVisitor* visitor,
                    ParsedMessage* out);

// Whether text (a whole message) has bare CR line ends: a CR and no LF at all.
bool HasBareCrLineEnds(std::string_view text);
// Makes every CR that is not followed by LF an LF, in place (a CR at the very end included).
void BareCrToLf(std::string* text);

// Reduces HTML to readable text: drops script/style, turns block elements into line breaks,
// decodes entities, collapses runs of blank lines. Exposed for tests.
std::string HtmlToText(const std::string& html);

}  // namespace desk
