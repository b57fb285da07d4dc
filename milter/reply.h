// The one mapping from a core Decision to an SMTP reply.
//
// The core decides an Outcome with a FailureClass and a reason (core/outcome.h); this function alone
// turns that into the three parts of an SMTP reply. The adapter (milter/filter.cc) passes them to
// smfi_setreply; deskctl shows the same text in its "reply" field. Nothing here includes
// libmilter, so deskctl and the unit tests link it too.
//
//   class (outcome reject)         code         text
//   infected, refused_type,        550 5.7.1    the reason ("attachment "x.exe" refused: ...";
//     scan_limit, scanner_error                  a virus is "virus found", never its name)
//   too_large                      552 5.3.4    the reason
//   malformed_mime                 550 5.6.0    the reason
//   auto_mail, flood               550 5.7.1    "deskmilter: " + reason
//   malformed                      550 5.6.0    "deskmilter: " + reason (what is wrong with it)
//   store, scanner, internal       554 5.3.0    "deskmilter: ticket store error" / "internal error"
//   (outcome tempfail)
//   attachment classes             451 4.3.0    the reason + ", try again later"
//   auto_mail, flood               451 4.7.1    "deskmilter: " + reason + ", try again later"
//   malformed, store, internal...  451 4.3.0    "deskmilter: <what>, try again later"
//
// Thread-safety: a pure function.
#pragma once

#include <string>

#include "core/decision.h"

namespace desk {

struct SmtpReply {
  std::string rcode;  // "550"
  std::string xcode;  // "5.7.1"
  std::string text;   // one line, unescaped (the adapter doubles '%' and cuts it for libmilter)
  // "550 5.7.1 text", or "" when there is no reply.
  std::string ToString() const;
};

// The reply for a reject (a 5xx code) or tempfail (a 4xx code); all fields "" for any other
// outcome (nothing is said).
SmtpReply SmtpReplyFor(const Decision& d);

}  // namespace desk
