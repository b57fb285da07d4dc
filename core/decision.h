// Envelope, HeaderEdit and Decision: what goes into the end-of-message pipeline and what comes out.
//
// Small shared types below every stage and the engine (core/pipeline.h, core/agents.h,
// core/attachment_stage.h and core/engine.h include this; it includes none of them), so no stage
// needs the engine that calls it.
//
// A Decision carries the message's Outcome with the FailureClass that chose it and a reason in
// words (core/outcome.h). It names no SMTP code: the adapter maps it (milter/reply.h).
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/outcome.h"
#include "core/spool.h"
#include "core/ticket.h"

namespace desk {

struct Envelope {
  std::string mail_from;           // as given in MAIL FROM, brackets stripped; "" for "<>"
  std::vector<std::string> rcpts;  // every RCPT TO, brackets stripped
  std::string queue_id;            // macro i; "" from deskctl
  std::string auth_user;           // {auth_authen}; "" when not authenticated
  std::string client_addr;         // {client_addr}
  std::string daemon_name;         // {daemon_name}
};

// One header edit, in the order the adapter must apply them.
struct HeaderEdit {
  enum class Op { kAdd, kChange, kInsert };  // add at end; change the index-th (1-based; value ""
                                             // deletes); insert at position index (0 = top)
  Op op = Op::kAdd;
  std::string name;
  std::string value;
  int index = 1;
};
const char* HeaderEditOpName(HeaderEdit::Op op);  // "add", "change", "insert"

struct Decision {
  // What happens to the message (never kStrip: stripped parts show in replacement_body), which
  // rule chose it, and why in words that may be shown to the sender (never a virus's name: the
  // attachment log lines carry it). For hold the reason is also the hold reason.
  Outcome verdict = Outcome::kAccept;
  FailureClass failure = FailureClass::kNone;
  std::string reason;

  // "new", "reply", "duplicate", "not_support", "error", "attachment"; agents' mail:
  // "agent_reply", "internal_note", "agent_new"; for automatic mail that opens no ticket the
  // class: "bounce", "auto_reply", "list", "own", "loop", "flood".
  std::string kind;
  std::string auto_class;  // the automatic-mail class ("" for a person's mail)
  std::string auto_rule;   // the rule that classified it ("" for a person's mail)
  std::string queue;                // the queue the message was routed to; "" if none
  std::optional<uint64_t> ticket;   // the ticket created/appended to, or the duplicate's ticket
  std::string ticket_action;        // "created", "appended", "reopened", "event", "none"
  std::string message_id;           // as parsed or generated
  std::vector<HeaderEdit> header_changes;
  std::string envelope_from;        // new envelope sender; "" = unchanged
  std::vector<std::string> add_recipients;  // envelope recipients to add (a PlanStep's effects)
  uint32_t outbox_queued = 0;  // mails queued in the outbox by this message (the worker wakes)
  std::vector<std::string> reasons;  // short machine-readable reasons, e.g. "tag_ignored:42"
  std::string error;                // Status text when a failure class fired; "" otherwise
  // Extra key=value pairs for the one log line, in order (values unescaped; the logger escapes).
  std::vector<std::pair<std::string, std::string>> log_fields;

  // For accept or hold: the new message body (everything after the header block) when parts were
  // stripped, for smfi_replacebody; null when the body is unchanged.
  std::shared_ptr<const Spool> replacement_body;
  // What happened to each attachment (the ticket's records), for deskctl's JSON.
  std::vector<StoredAttachment> attachments;
  // Further log lines about this message (one per attachment decision), each printed by the
  // adapter as "QUEUEID: key=value, ..." after the decision line.
  std::vector<std::vector<std::pair<std::string, std::string>>> extra_log_lines;

  // Sets verdict, failure and reason together.
  void Set(Outcome o, FailureClass f, std::string why) {
    verdict = o;
    failure = f;
    reason = std::move(why);
  }
};

}  // namespace desk
