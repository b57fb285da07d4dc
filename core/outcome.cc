// Outcome names and severity: see outcome.h.
#include "core/outcome.h"

namespace desk {

const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kAccept: return "accept";
    case Outcome::kTempfail: return "tempfail";
    case Outcome::kReject: return "reject";
    case Outcome::kHold: return "hold";
    case Outcome::kDiscard: return "discard";
    case Outcome::kStrip: return "strip";
  }
  return "unknown";
}

bool ParseOutcome(std::string_view s, Outcome* out) {
  static constexpr struct {
    std::string_view name;
    Outcome o;
  } kNames[] = {
      {"accept", Outcome::kAccept}, {"tempfail", Outcome::kTempfail},
      {"reject", Outcome::kReject}, {"hold", Outcome::kHold},
      {"discard", Outcome::kDiscard}, {"strip", Outcome::kStrip},
  };
  for (const auto& e : kNames) {
    if (s == e.name) {
      *out = e.o;
      return true;
    }
  }
  return false;
}

int OutcomeSeverity(Outcome o) {
  switch (o) {
    case Outcome::kAccept: return 0;
    case Outcome::kStrip: return 1;
    case Outcome::kHold: return 2;
    case Outcome::kDiscard: return 3;
    case Outcome::kTempfail: return 4;
    case Outcome::kReject: return 5;
  }
  return 0;
}

const char* FailureClassName(FailureClass c) {
  switch (c) {
    case FailureClass::kNone: return "none";
    case FailureClass::kAutoMail: return "auto_mail";
    case FailureClass::kFlood: return "flood";
    case FailureClass::kMalformed: return "malformed";
    case FailureClass::kStore: return "store";
    case FailureClass::kScanner: return "scanner";
    case FailureClass::kInternal: return "internal";
    case FailureClass::kInfected: return "infected";
    case FailureClass::kRefusedType: return "refused_type";
    case FailureClass::kTooLarge: return "too_large";
    case FailureClass::kScanLimit: return "scan_limit";
    case FailureClass::kScannerError: return "scanner_error";
    case FailureClass::kMalformedMime: return "malformed_mime";
  }
  return "unknown";
}

bool IsAttachmentClass(FailureClass c) {
  switch (c) {
    case FailureClass::kInfected:
    case FailureClass::kRefusedType:
    case FailureClass::kTooLarge:
    case FailureClass::kScanLimit:
    case FailureClass::kScannerError:
    case FailureClass::kMalformedMime: return true;
    default: return false;
  }
}

}  // namespace desk
