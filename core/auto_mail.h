// ClassifyAutoMail: is this mail automatic (a bounce, an auto-reply, list mail, our own mail, a
// loop), and which rule says so?
//
// A help desk that answers robots floods itself and its customers, so every mail to a support address
// is classified before it may open a ticket or draw an automatic answer. This is pure logic over what
// the engine already has: the envelope sender, the parsed top-level headers and a bounded prefix of
// the raw body. No clock, no store, no I/O; the flood class (same sender, many mails) needs counters
// and lives with the store, not here.
//
// Order of precedence, first match wins:
//   1. loop   our own stamp (rules.loop_stamp_header carrying rules.installation_id) or more Received
//             headers than rules.max_received. First, because a loop must be broken whatever else
//             the mail looks like: a bounce or auto-reply that already passed through us once and
//             came back must be held, not recorded again.
//   2. own    the envelope sender or the From address is one of our own addresses or on the block
//             list. Our own mail coming back in (an answer we sent, returned by a forwarder) must
//             never open a ticket, even when it carries bounce or auto-reply marks of its own.
//             A forwarder's envelope (Gmail/Workspace "+caf_=", SRS0/SRS1, Microsoft 365
//             "bounces+SRS=") names the forwarding mailbox, often our own connected mailbox, not
//             the author: it is not compared; the SRS-encoded original sender is, and From is.
//   3. bounce delivery reports. Before auto_reply because a bounce is the more specific class: it is
//             recorded on the ticket whose message it reports (reported_message_ids), and many
//             bounces also carry Auto-Submitted: auto-replied or auto-generated.
//   4. auto_reply  RFC 3834 and vendor auto-responses, read receipts (MDNs).
//   5. list   list and bulk mail. Last among the header classes: an auto-reply sent by a list member
//             through a list carries both, and the auto-reply is the more specific fact.
//   Two ambiguous signals are fallbacks, tried only when nothing above matched: a null envelope
//   sender alone, and X-Loop alone (mailing lists and procmail autoresponders both set X-Loop, so a
//   list's own headers must get the chance to say "list" first). Both give auto_reply.
//
// Strong and weak signals. A strong signal alone decides (Auto-Submitted, multipart/report,
// X-Failed-Recipients, a mailer-daemon@ or postmaster@ address). A weak signal decides only together
// with another one: a bounce-like Subject ("Undeliverable:", "failure notice", ...) counts only when
// the sender is null or daemon-like (mailer-daemon, no-reply, or a display name such as "Mail
// Delivery System"); auto-reply subjects ("Out of Office", "Automatic reply:") never decide, because
// people write such subjects to a help desk. Only the local part of an address is ever compared with
// daemon names: "Postmaster Pete <pete@example.org>" is a person.
//
// ARF (report-type=feedback-report) and Microsoft JMRP complaints are classified bounce: like a
// delivery report they are a machine's statement about a message we sent, best recorded on that
// message's ticket (reported_message_ids), never a new ticket. MDNs (disposition-notification) are
// auto_reply: a read receipt answers a message, and it threads like a reply.
//
// X-Auto-Response-Suppress is not a sign: it is the sender's request to us, set by Exchange on many
// ordinary person-to-person mails.
//
// Limits: only the top-level headers and the first raw_body_prefix bytes are read; MIME children are
// found by scanning that prefix for the top-level boundary, so a report part beyond the prefix is not
// seen (kAutoMailBodyScanBytes is what the engine should pass). Encoded (base64) returned messages
// are not decoded. At most kMaxReportedIds Message-IDs are returned. Address lists are scanned
// linearly; meant for tens of own addresses, not thousands.
//
// Thread-safety: pure functions over const inputs; safe from any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/message.h"

namespace desk {

// How much of the raw body the engine should pass in AutoMailInput::raw_body_prefix.
inline constexpr size_t kAutoMailBodyScanBytes = 64 * 1024;
// Cap on AutoVerdict::reported_message_ids.
inline constexpr size_t kMaxReportedIds = 16;

struct AutoMailInput {
  // MAIL FROM as given, with or without angle brackets; "" or "<>" for the null sender. A caller
  // without an envelope (deskctl importing a file) passes the Return-Path header when there is one,
  // else the From address: never "" unless the mail really had a null sender.
  std::string_view envelope_from;
  const ParsedMessage* msg = nullptr;  // must not be null
  // The raw body as received (bytes after the blank line that ends the header), up to
  // kAutoMailBodyScanBytes. May be empty (then only header rules apply).
  std::string_view raw_body_prefix;
};

struct AutoMailRules {
  // Our support and reply-via addresses; exact ("support@example.com", plus tags stripped on the
  // sender side) or wildcard ("*@help.example.com"). Case and angle brackets are ignored.
  std::vector<std::string> own_addresses;
  // The "filter outgoing emails" list: senders whose mail never opens a ticket. Same syntax.
  std::vector<std::string> blocked_senders;
  std::string loop_stamp_header = "X-Deskmilter-Loop";
  // The value our stamp carries. Empty disables the stamp rule (the hop limit still applies).
  std::string installation_id;
  int max_received = 30;  // more Received headers than this is a loop; <= 0 disables the check
};

// kNone is ordinary mail. The order of the enumerators is not the order of precedence (see above).
enum class AutoKind { kNone, kBounce, kAutoReply, kList, kOwn, kLoop };

struct AutoVerdict {
  AutoKind kind = AutoKind::kNone;
  // The rule that fired, for the log: "auto-submitted:auto-replied", "x-autoreply",
  // "precedence:bulk", "list-id", "report:delivery-status", "x-failed-recipients",
  // "sender:mailer-daemon", "null-sender+subject", "loop-stamp", "received-count", "own:from", ...
  // "" for kNone. Lower-case ASCII, no spaces; safe to log as is.
  std::string rule;
  // For bounce and auto_reply: Message-IDs (no angle brackets, in order of appearance, unique, not
  // the mail's own id) of the message it reports or answers: Message-ID / Original-Message-ID lines
  // in the returned part, then In-Reply-To and References. Empty for other kinds.
  std::vector<std::string> reported_message_ids;
};

AutoVerdict ClassifyAutoMail(const AutoMailInput& in, const AutoMailRules& rules);

// "none", "bounce", "auto_reply", "list", "own", "loop".
const char* AutoKindName(AutoKind kind);

}  // namespace desk
