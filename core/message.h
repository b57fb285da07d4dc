// ParsedMessage: what the core knows about one mail after parsing it.
//
// Produced by ParseMessage() (core/mime_parser.h) from a Spool; consumed by threading, the ticket
// store and, later, attachment policy and loop detection. Plain data; no GMime types leak out.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace desk {

struct Mailbox {
  std::string name;     // display name, RFC 2047 decoded, UTF-8; may be empty
  std::string address;  // addr-spec as written (case kept); may be empty for a broken header
};

struct AttachmentInfo {
  std::string filename;       // RFC 2231 / 2047 decoded, UTF-8; "" when the part has none
  std::string declared_type;  // lower-case "type/subtype" from Content-Type
  std::string part_path;      // MIME position, e.g. "1.2" ("1" is the first child of the root)
  uint64_t size = 0;          // decoded bytes
  std::string sha256;         // lower-case hex of the decoded bytes
  bool inline_disposition = false;
  // Other names the part gives itself (Content-Type name= when Content-Disposition filename= says
  // something else, duplicate parameters): the policy judges every one, since clients differ in
  // which they show and save.
  std::vector<std::string> other_names;
  // Where the part sits in the raw message, for stripping it: the first byte of its header block
  // (-1 when it has no headers) and its raw (still encoded) content [content_start, content_end).
  // -1 when unknown.
  int64_t raw_header_offset = -1;
  int64_t raw_content_start = -1;
  int64_t raw_content_end = -1;
};

struct ParsedMessage {
  // Message-ID without angle brackets. When the mail has none, the parser generates one
  // (message_id_generated = true) and the adapter adds the header.
  std::string message_id;
  bool message_id_generated = false;
  std::string in_reply_to;              // first id of In-Reply-To, no brackets; "" if none
  std::vector<std::string> references;  // ids of References, oldest first, no brackets

  Mailbox from;
  std::vector<Mailbox> to;
  std::vector<Mailbox> cc;
  std::string subject;  // RFC 2047 decoded, UTF-8, unfolded
  std::string date;     // Date header as written (trimmed); "" if none
  int64_t date_unix = 0;  // parsed Date, seconds since the epoch; 0 if missing or unparsable

  std::string text_body;  // text/plain preferred, else HTML reduced to text; UTF-8
  bool body_from_html = false;
  bool text_body_truncated = false;  // text_body was cut at ParseLimits::max_body_chars

  std::vector<AttachmentInfo> attachments;

  // Every top-level header, unfolded, in order (name as written, value decoded only of folding).
  std::vector<std::pair<std::string, std::string>> headers;

  // Places where MIME can be read more than one way (duplicate Content-Type, boundary,
  // Content-Transfer-Encoding or Content-Disposition headers or parameters, a header block "ended"
  // by a line of spaces): "2: duplicate Content-Type". Empty for unambiguous mail. The parser lists
  // attachments as GMime reads them; the attachment stage treats a non-empty list as malformed.
  std::vector<std::string> mime_ambiguities;

  // From, To or Cc headers (names as written) whose addresses were read only in part: more than
  // 32 groups (core/mime_parser.cc, kMaxAddressGroups); only hostile mail has them.
  std::vector<std::string> addresses_cut;

  uint64_t size_bytes = 0;  // size of the raw message as received
  uint64_t body_offset = 0; // where the body starts in the raw message (after the blank line)
  // The message ends its lines with a bare CR (old Mac OS files): it was parsed as if each bare
  // CR were an LF (same length, so offsets hold); readers of the raw bytes do the same
  // (BareCrToLf, core/mime_parser.h).
  bool bare_cr_line_ends = false;
  int mime_parts = 0;       // number of MIME parts seen, files found in containers included
  int mime_depth = 0;       // deepest nesting seen, containers included
};

}  // namespace desk
