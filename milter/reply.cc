// The mapping from a Decision to an SMTP reply: see reply.h.
#include "milter/reply.h"

namespace desk {
namespace {

// What a failure of the ticket machinery is called on the wire; details stay in the log.
const char* ErrorWhat(FailureClass c) {
  switch (c) {
    case FailureClass::kMalformed: return "malformed message";
    case FailureClass::kStore: return "ticket store error";
    default: return "internal error";
  }
}

}  // namespace

std::string SmtpReply::ToString() const {
  std::string out;
  for (const std::string* part : {&rcode, &xcode, &text}) {
    if (part->empty()) continue;
    if (!out.empty()) out += ' ';
    out += *part;
  }
  return out;
}

SmtpReply SmtpReplyFor(const Decision& d) {
  const FailureClass c = d.failure;
  const bool policy = c == FailureClass::kAutoMail || c == FailureClass::kFlood;
  if (d.verdict == Outcome::kTempfail) {
    if (IsAttachmentClass(c)) return {"451", "4.3.0", d.reason + ", try again later"};
    if (policy) return {"451", "4.7.1", "deskmilter: " + d.reason + ", try again later"};
    return {"451", "4.3.0", std::string("deskmilter: ") + ErrorWhat(c) + ", try again later"};
  }
  if (d.verdict != Outcome::kReject) return {};
  switch (c) {
    case FailureClass::kTooLarge: return {"552", "5.3.4", d.reason};
    case FailureClass::kMalformedMime: return {"550", "5.6.0", d.reason};
    case FailureClass::kInfected:
    case FailureClass::kRefusedType:
    case FailureClass::kScanLimit:
    case FailureClass::kScannerError: return {"550", "5.7.1", d.reason};
    case FailureClass::kAutoMail:
    case FailureClass::kFlood: return {"550", "5.7.1", "deskmilter: " + d.reason};
    case FailureClass::kMalformed: return {"550", "5.6.0", "deskmilter: " + d.reason};
    case FailureClass::kNone: return {"550", "5.7.1", "deskmilter: rejected"};
    default: return {"554", "5.3.0", std::string("deskmilter: ") + ErrorWhat(c)};
  }
}

}  // namespace desk
