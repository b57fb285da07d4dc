// ScanMimeStructure: a line-level pass over a spooled mail that counts MIME entities and nesting
// before GMime builds its object tree (internal to the MIME parser; see core/mime_parser.h).
//
// Why: GMime allocates an object graph for every part it finds, about 1.3 KB per part; a 7 MB
// mail of empty parts ("--b\n\nx\n" a million times) costs 1.3 GB and seconds before any limit
// could be checked on the finished tree. This scan follows boundaries the way GMime does (header
// blocks, Content-Type parsed by GMime, a stack of open boundaries, message/rfc822 bodies) and
// stops at the first entity over max_mime_parts or max_mime_depth, or whose header block is over
// max_header_bytes, in constant memory (one line,
// capped, plus the open boundaries).
//
// Counting matches ParsedMessage::mime_parts / mime_depth: every entity (root, multipart children,
// message/rfc822 wrappers and the message inside); depth is the number of containers above.
// It is a guard, not the parser: the tree GMime builds is counted again afterwards.
//
// Thread-safety: pure function of the spool's bytes.
#pragma once

#include <cstdint>

#include "core/spool.h"
#include "core/status.h"

namespace desk {

// kMalformed "mime depth N exceeds limit M" / "mime parts N exceed limit M" / "part header bytes N
// exceed limit M" (the header block of any entity below the top; the top's is checked by the
// parser); kInternal on a read error of an on-disk spool.
Status ScanMimeStructure(const Spool& spool, int64_t max_mime_parts, int64_t max_mime_depth,
                         int64_t max_header_bytes);

// The Status text for a broken limit, shared with the parser's own count.
Status MimeLimitError(const char* what, int64_t got, int64_t limit);

}  // namespace desk
