// Engine and Transaction: the core's API, following the milter phases but never seeing SMFICTX.
//
// The adapter (milter/) or deskctl records the envelope and macros, feeds headers and body chunks to a
// Transaction, and at end of message receives a Decision: a verdict, the SMTP reply, header edits and
// what happened to the ticket. The adapter applies the Decision with smfi_* calls and logs it once.
//
//   Engine (one per config snapshot; shared by all connections)
//     -> Transaction (one per message; owns its Spool)
//          SetEnvelope, Header*, EndOfHeaders, Body*, EndOfMessage(now) -> Decision
//
// Mail with no support recipient is decided before the body (Transaction::IsRelevant() false after
// SetEnvelope), so the adapter can accept it untouched without spooling. Mail from an agent
// (IsAgent(), core/agents.h) is relevant whatever its recipients: it may be a reply to a customer.
//
// Thread-safety: Engine is immutable after Create and safe to share; a Transaction belongs to one
// connection at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/address.h"
#include "core/agents.h"
#include "core/auto_mail.h"
#include "core/config.h"
#include "core/message.h"
#include "core/spool.h"
#include "core/status.h"
#include "core/ticket.h"
#include "core/ticket_store.h"

namespace desk {

class AttachmentContext;
class ScannerHolder;

struct Envelope {
  std::string mail_from;           // as given in MAIL FROM, brackets stripped; "" for "<>"
  std::vector<std::string> rcpts;  // every RCPT TO, brackets stripped
  std::string queue_id;            // macro i; "" from deskctl
  std::string auth_user;           // {auth_authen}; "" when not authenticated
  std::string client_addr;         // {client_addr}
  std::string daemon_name;         // {daemon_name}
};

enum class Verdict { kAccept, kReject, kTempfail, kHold, kDiscard };
const char* VerdictName(Verdict v);  // "accept", "reject", "tempfail", "hold", "discard"

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
  Verdict verdict = Verdict::kAccept;
  // For reject/tempfail: "550", "5.7.1", "text". Empty for accept.
  std::string rcode, xcode, reply_text;
  std::string hold_reason;  // for hold: also added as a header before quarantine

  // "new", "reply", "duplicate", "not_support", "error"; for automatic mail that opens no ticket
  // the class: "bounce", "auto_reply", "list", "own", "loop", "flood".
  std::string kind;
  std::string auto_class;  // the automatic-mail class ("" for a person's mail)
  std::string auto_rule;   // the rule that classified it ("" for a person's mail)
  std::string queue;                // the queue the message was routed to; "" if none
  std::optional<uint64_t> ticket;   // the ticket created/appended to, or the duplicate's ticket
  std::string ticket_action;        // "created", "appended", "reopened", "none"
  std::string message_id;           // as parsed or generated
  std::vector<HeaderEdit> header_changes;
  std::string envelope_from;        // new envelope sender; "" = unchanged
  std::vector<std::string> reasons;  // short machine-readable reasons, e.g. "tag_ignored:42"
  std::string error;                // Status text when a failure class fired; "" otherwise
  // Extra key=value pairs for the one log line, in order (values unescaped; the logger escapes).
  std::vector<std::pair<std::string, std::string>> log_fields;

  // Attachment filtering(core/attachment_stage.h).
  // For accept or hold: the new message body (everything after the header block) when parts were
  // stripped, for smfi_replacebody; null when the body is unchanged.
  std::shared_ptr<const Spool> replacement_body;
  // What happened to each attachment (the ticket's records), for deskctl's JSON.
  std::vector<StoredAttachment> attachments;
  // Further log lines about this message (one per attachment decision), each printed by the
  // adapter as "QUEUEID: key=value, ..." after the decision line.
  std::vector<std::vector<std::pair<std::string, std::string>>> extra_log_lines;
};

class Engine;

class Transaction {
 public:
  Transaction(const Engine& engine, Envelope envelope);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  const Envelope& envelope() const { return envelope_; }
  // Recipients that are support addresses, routed; empty means "not support mail, let it pass".
  const std::vector<QueueMatch>& support_rcpts() const { return support_; }
  bool IsSupport() const { return !support_.empty(); }
  // Issue 5: the sender is a configured agent (SMTP AUTH login, or envelope sender from a trusted
  // network); set at construction. Agent mail is decided by AgentEndOfMessage (core/agents.h).
  const AgentIdentity& agent() const { return agent_; }
  bool IsAgent() const { return agent_.agent != nullptr; }
  // What the adapter and deskctl test before DATA: false = pass the mail untouched.
  bool IsRelevant() const { return IsSupport() || IsAgent(); }
  // The message as fed so far (headers as received, blank line, body): the adapter keeps the
  // original of a stripped mail in the quarantine (core/quarantine.h).
  const Spool& spool() const { return spool_; }

  // Milter-style feeding. Header limits are enforced here (an over-limit message is marked
  // malformed and later decided by on_malformed; feeding continues to be accepted and ignored).
  void Header(std::string_view name, std::string_view value);
  void EndOfHeaders();
  void Body(std::string_view chunk);
  // deskctl-style feeding: a complete message (headers, blank line, body) in chunks.
  void Raw(std::string_view chunk);

  // Parses, threads and (unless dry_run) commits the ticket write, then returns the decision.
  // now: seconds since the epoch.
  Decision EndOfMessage(int64_t now, bool dry_run = false);

 private:
  const Engine& engine_;
  Envelope envelope_;
  std::vector<QueueMatch> support_;
  AgentIdentity agent_;
  // Automatic-mail stage: classification and flood counting. Returns true when the
  // decision is final (*d filled); false to continue with threading, *may_open telling whether a
  // new ticket may be opened.
  bool AutoStage(const ParsedMessage& msg, const QueueMatch& route, int64_t now, bool dry_run,
                 Decision* d, bool* may_open);

  // Header edits every delivered support mail gets: a generated Message-ID, the loop stamp, the
  // ticket header and subject tag.
  void AddDeliveryHeaders(const ParsedMessage& msg, Decision* d) const;

  Spool spool_;
  uint64_t header_bytes_ = 0;
  Status feed_status_;  // first feeding failure (limit or spool I/O), reported at EndOfMessage
};

class Engine {
 public:
  // Builds the router from config. store may be nullptr only for dry runs that never commit
  // (threading then sees no tickets). The Engine keeps config alive and borrows store.
  static Status Create(std::shared_ptr<const Config> config, TicketStore* store,
                       std::unique_ptr<Engine>* out);
  // The same with the virus scanner to share (the daemon keeps one ScannerHolder across config
  // reloads). When config.scanner_enabled and scanner is null, Create loads one itself:
  // Status::Scanner when the database cannot be loaded.
  static Status Create(std::shared_ptr<const Config> config, TicketStore* store,
                       std::shared_ptr<ScannerHolder> scanner, std::unique_ptr<Engine>* out);

  const Config& config() const { return *config_; }
  const QueueRouter& router() const { return router_; }
  const AutoMailRules& auto_rules() const { return auto_rules_; }
  TicketStore* store() const { return store_; }
  const AttachmentContext& attachments() const { return *attachments_; }

  // Maps a failure Status to the configured action and a reply (used by EndOfMessage; exposed for
  // the adapter's own failures, e.g. out of memory in a callback).
  Decision FailureDecision(const Status& st) const;

  // Closes or reopens a ticket, recording an event (deskctl ticket close/reopen).
  Status SetTicketStatus(uint64_t ticket, TicketStatus status, int64_t now) const;

 private:
  friend class Transaction;
  Engine() = default;
  std::shared_ptr<const Config> config_;
  QueueRouter router_;
  AutoMailRules auto_rules_;
  TicketStore* store_ = nullptr;
  std::shared_ptr<const AttachmentContext> attachments_;
};

}  // namespace desk
