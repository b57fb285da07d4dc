// The one mapping from a Decision to an SMTP reply (milter/reply.h), as a table: every failure
// class under reject and tempfail, and no reply for the outcomes that say nothing.
#include "milter/reply.h"

#include <gtest/gtest.h>

#include <string>

namespace desk {
namespace {

TEST(SmtpReply, EveryClassAndOutcome) {
  struct Case {
    Outcome outcome;
    FailureClass failure;
    std::string reason;
    std::string want;  // SmtpReply::ToString()
  } cases[] = {
      {Outcome::kReject, FailureClass::kInfected, "attachment \"e.com\" virus found",
       "550 5.7.1 attachment \"e.com\" virus found"},
      {Outcome::kReject, FailureClass::kRefusedType, "attachment \"x.exe\" refused: extension .exe",
       "550 5.7.1 attachment \"x.exe\" refused: extension .exe"},
      {Outcome::kReject, FailureClass::kTooLarge, "attachment \"a\" too large: size 2 > 1",
       "552 5.3.4 attachment \"a\" too large: size 2 > 1"},
      {Outcome::kReject, FailureClass::kMalformedMime, "ambiguous MIME: x",
       "550 5.6.0 ambiguous MIME: x"},
      {Outcome::kReject, FailureClass::kAutoMail, "list (precedence:bulk)",
       "550 5.7.1 deskmilter: list (precedence:bulk)"},
      {Outcome::kReject, FailureClass::kFlood, "too many messages from a@b to support",
       "550 5.7.1 deskmilter: too many messages from a@b to support"},
      {Outcome::kReject, FailureClass::kMalformed, "malformed message: header bytes exceed limit 9",
       "550 5.6.0 deskmilter: malformed message: header bytes exceed limit 9"},
      // Store and internal failures stay generic on the wire; the log has the detail.
      {Outcome::kReject, FailureClass::kStore, "ticket store error: mdb_put: MDB_PANIC",
       "554 5.3.0 deskmilter: ticket store error"},
      {Outcome::kReject, FailureClass::kInternal, "internal error: bug", "554 5.3.0 deskmilter: internal error"},
      {Outcome::kTempfail, FailureClass::kScannerError, "attachment \"a.pdf\" virus scanner error: x",
       "451 4.3.0 attachment \"a.pdf\" virus scanner error: x, try again later"},
      {Outcome::kTempfail, FailureClass::kFlood, "too many messages from a@b to support",
       "451 4.7.1 deskmilter: too many messages from a@b to support, try again later"},
      {Outcome::kTempfail, FailureClass::kMalformed, "malformed message: x",
       "451 4.3.0 deskmilter: malformed message, try again later"},
      {Outcome::kTempfail, FailureClass::kStore, "ticket store error: x",
       "451 4.3.0 deskmilter: ticket store error, try again later"},
      {Outcome::kAccept, FailureClass::kNone, "", ""},
      {Outcome::kHold, FailureClass::kAutoMail, "loop (loop-stamp)", ""},
      {Outcome::kDiscard, FailureClass::kAutoMail, "loop (loop-stamp)", ""},
  };
  for (const Case& c : cases) {
    Decision d;
    d.Set(c.outcome, c.failure, c.reason);
    const SmtpReply got = SmtpReplyFor(d);
    EXPECT_EQ(got.ToString(), c.want) << OutcomeName(c.outcome) << " " << FailureClassName(c.failure);
    if (c.outcome == Outcome::kReject) {
      EXPECT_EQ(got.rcode[0], '5');
    }
    if (c.outcome == Outcome::kTempfail) {
      EXPECT_EQ(got.rcode[0], '4');
    }
  }
}

}  // namespace
}  // namespace desk
