// ReadTnef: the files inside a TNEF stream (winmail.dat, application/ms-tnef), so that each one is
// judged like any attachment. Our own bounded reader of MS-OXTNEF, not libytnef: it only needs the
// attachments, and it works on a byte view without copying them.
//
// What it finds, per attachment (an attAttachRendData attribute starts one):
// - the content of attAttachData, and PR_ATTACH_DATA_BIN/OBJ (0x3701) from the attachment's MAPI
//   properties (attAttachment) when present and different; for PT_OBJECT the 16-byte interface id is
//   removed, so an embedded message (IID_IMessage) comes back as the TNEF stream it is (the caller
//   sees the signature and reads it as a container again), an embedded OLE storage as the compound
//   file;
// - every name it gives itself: PR_ATTACH_LONG_FILENAME, attAttachTitle, PR_ATTACH_FILENAME,
//   PR_DISPLAY_NAME, and PR_ATTACH_EXTENSION (returned as a name "*.ext"), UTF-16 turned into UTF-8;
//   a client may show or save any of them, so the caller judges all;
// - PR_ATTACH_MIME_TAG as the declared type.
// Message-level attributes (the RTF body, recipients) are skipped.
//
// Limits: linear in the input; no allocation larger than a name. Files come back as views into
// `bytes`. Counting files against a budget and nesting depth is the caller's (the MIME walk counts
// each file as a MIME part). Checksums are not verified (writers differ), lengths are: an attribute
// or property that runs past its end makes the result `truncated` (what was read before is still
// returned, so it can be judged).
//
// Thread-safety: pure function.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace desk {

struct TnefFile {
  std::string name;                      // the best name: long file name, else title, else any
  std::vector<std::string> other_names;  // every other distinct name the attachment gives
  std::string mime_tag;                  // PR_ATTACH_MIME_TAG, "" when absent
  std::string_view data;                 // the file's bytes, a view into the input
};

struct TnefResult {
  std::vector<TnefFile> files;
  bool truncated = false;  // an attribute or property ran past the end: structure not trustworthy
  std::string error;       // why, when truncated
};

// True when bytes start with the TNEF signature (0x223E9F78, little-endian).
bool IsTnef(std::string_view bytes);

// Reads the attachments of a TNEF stream. Not TNEF: result.truncated with an error.
TnefResult ReadTnef(std::string_view bytes);

}  // namespace desk
