// SubmitSmtp: hands one outbox mail to an MTA by SMTP (RFC 5321), the subset a submission to the
// local MTA needs: EHLO (HELO when EHLO is refused), MAIL FROM, RCPT TO per recipient, DATA with
// dot-stuffing and CRLF line ends, QUIT. No TLS, no AUTH, no pipelining: the target is the local
// MTA (outbox.smtp_host), which relays.
//
// The result says what the worker does next: kSent (the MTA took responsibility: 2xx after the
// final dot), kTemporary (no connection, a timeout, a 4xx, a broken reply: retry later), kPermanent
// (a 5xx: never retry). Any recipient refused refuses the whole mail with that recipient's reply
// (4xx temporary, 5xx permanent): the outbox sends one recipient per mail.
//
// Bounds: each reply line at most kMaxReplyLine bytes and kMaxReplyLines lines, every read and
// write limited by timeout_seconds (socket timeouts; no clock is read). The reply text kept for
// logs is cut at 200 bytes and made printable.
//
// Thread-safety: no shared state; one call per mail, from any thread.
#pragma once

#include <cstddef>
#include <string>

#include "core/ticket_store.h"

namespace desk {

inline constexpr size_t kMaxReplyLine = 4096;
inline constexpr size_t kMaxReplyLines = 100;

struct SmtpTarget {
  std::string host = "127.0.0.1";
  int port = 25;
  std::string helo = "localhost";
  int timeout_seconds = 60;
};

struct SmtpResult {
  enum class Kind { kSent, kTemporary, kPermanent };
  Kind kind = Kind::kTemporary;
  int code = 0;        // the deciding reply's code; 0 when there was none (connection, timeout)
  std::string detail;  // "RCPT: 550 5.1.1 unknown user", "connect: Connection refused", ...
};

SmtpResult SubmitSmtp(const SmtpTarget& target, const OutboxMail& mail);

// The DATA payload of raw: bare LF and bare CR made CRLF, a line starting with '.' doubled, a final
// CRLF added when missing, then ".\r\n".
std::string DotStuff(const std::string& raw);

}  // namespace desk
