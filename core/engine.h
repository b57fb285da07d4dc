// Engine and Transaction: the core's API, following the milter phases but never seeing SMFICTX.
//
// The adapter (milter/) or deskctl records the envelope and macros, feeds headers and body chunks to a
// Transaction, and at end of message receives a Decision (core/decision.h): an outcome with its
// failure class and reason, header edits and what happened to the ticket. The adapter maps it to
// an SMTP reply (milter/reply.h), applies it with smfi_* calls and logs it once.
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
#include "core/decision.h"
#include "core/message.h"
#include "core/pipeline.h"
#include "core/spool.h"
#include "core/status.h"
#include "core/ticket.h"
#include "core/ticket_store.h"

namespace desk {

class AttachmentContext;
class ScannerHolder;

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
  // The sender is a configured agent (SMTP AUTH login, or envelope sender from a trusted
  // network); set at construction. Agents' mail runs through the same pipeline.
  const AgentIdentity& agent() const { return agent_; }
  bool IsAgent() const { return agent_.agent != nullptr; }
  // What the adapter and deskctl test before DATA: false = pass the mail untouched.
  // Mail to agents.control_address (core/routing.h) is relevant too: it sets an agent's state and
  // is never delivered or ticketed.
  bool IsRelevant() const { return IsSupport() || IsAgent() || control_; }
  bool IsControl() const { return control_; }
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

  // Runs the end-of-message pipeline (core/pipeline.h): parses, classifies, judges the
  // attachments, threads, plans and (unless dry_run) commits the ticket write, then returns the
  // decision. now: seconds since the epoch.
  Decision EndOfMessage(int64_t now, bool dry_run = false);

 private:
  const Engine& engine_;
  Envelope envelope_;
  std::vector<QueueMatch> support_;
  AgentIdentity agent_;
  Spool spool_;
  uint64_t header_bytes_ = 0;
  Status feed_status_;  // first feeding failure (limit or spool I/O), reported at EndOfMessage
  bool control_ = false;         // a recipient is agents.control_address
  Decision ControlMail(int64_t now, bool dry_run);
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

  // Maps a failure Status to its class's configured action (used by the pipeline; exposed for
  // the adapter's own failures, e.g. out of memory in a callback).
  Decision FailureDecision(const Status& st) const;
  // What the pipeline's stages use of this engine.
  const StageEnv& stage_env() const { return env_; }
  // Adds a step to the Plan stage (core/pipeline.h); before the engine is shared.
  void AddPlanStep(std::unique_ptr<PlanStep> step) { plan_steps_.push_back(std::move(step)); }
  // The clock of the per-message scanning budget (core/attachment_stage.h); before the engine is
  // shared. Without one, only the budget's byte limit applies.
  void SetClock(std::shared_ptr<const MonotonicClock> clock) {
    clock_ = std::move(clock);
    env_.clock = clock_.get();
  }

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
  std::vector<std::unique_ptr<PlanStep>> plan_steps_;
  std::shared_ptr<const MonotonicClock> clock_;
  StageEnv env_;
};

}  // namespace desk
