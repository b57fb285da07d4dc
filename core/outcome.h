// Outcome: the one vocabulary for what happens to a message, and why.
//
// Every decision the core makes -- a failure class's configured action, an automatic-mail class's
// action, the flood limit, an attachment's policy or virus verdict -- is an Outcome, with a
// FailureClass saying which rule chose it and a reason in words. The core never picks SMTP codes:
// the adapter (milter/reply.h) turns (outcome, failure class, reason) into the SMTP reply, and
// deskctl shows the same reply through the same function.
//
// kStrip is an attachment action only (the attachment is cut out and the rest delivered); a
// message's final outcome is never kStrip (see core/attachment_stage.h).
//
// Severity, for "the most severe outcome wins" when several rules fire on one message:
//   reject > tempfail > discard > hold > strip > accept
// A reject tells the sender; a tempfail retries; a discard drops silently (chosen by the admin for
// a class of mail); hold keeps the mail for review; strip delivers the rest.
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <string>
#include <string_view>

namespace desk {

enum class Outcome { kAccept, kTempfail, kReject, kHold, kDiscard, kStrip };

// "accept", "tempfail", "reject", "hold", "discard", "strip".
const char* OutcomeName(Outcome o);
// Parses the names above. Returns false on anything else.
bool ParseOutcome(std::string_view s, Outcome* out);
// The order above: accept 0 ... reject 5.
int OutcomeSeverity(Outcome o);
// The more severe of a and b (a on a tie).
inline Outcome MoreSevere(Outcome a, Outcome b) {
  return OutcomeSeverity(b) > OutcomeSeverity(a) ? b : a;
}

// Which rule chose a message's outcome. kNone: no rule fired (an ordinary accepted message).
enum class FailureClass {
  kNone,
  kAutoMail,           // an automatic-mail class's action ([loops] *_action)
  kFlood,              // too many messages from one sender to one queue
  kMalformed,          // the mail itself is broken or exceeds a protective limit
  kStore,              // the ticket store failed
  kScanner,            // the virus scanner failed outside an attachment (start-up, reload)
  kInternal,           // a bug or an unexpected library failure
  kInfected,           // an attachment matched a virus signature
  kRefusedType,        // an attachment's type or name is refused by the queue's policy
  kTooLarge,           // an attachment, or all of them together, exceed the queue's limit
  kScanLimit,          // an attachment could not be inspected within the limits
  kScannerError,       // the scanner failed on an attachment
  kMalformedMime,      // ambiguous MIME structure (see core/mime_parser.h)
};
// "none", "auto_mail", "flood", "malformed", "store", "scanner", "internal", "infected",
// "refused_type", "too_large", "scan_limit", "scanner_error", "malformed_mime".
const char* FailureClassName(FailureClass c);
// True for the attachment classes (kInfected .. kMalformedMime).
bool IsAttachmentClass(FailureClass c);

}  // namespace desk
