// The end-of-message pipeline: one list of named stages over one MessageContext, for customers'
// and agents' mail alike.
//
//   Parse -> Classify -> Attachments -> Thread -> Plan -> Commit -> Delivery edits
//
// Each stage reads what the earlier ones put in the context and adds its own part. It returns
// kNext (go on), kDeliver (the outcome is final and no ticket stage runs, but the delivered copy
// still gets its edits: automatic mail that opens no ticket) or kDone (final: nothing more runs).
// A stage that fails sets the failure decision (FailureDecision: the configured action of the
// Status's class) and returns kDone. The stages never pick SMTP codes (milter/reply.h does).
//
// Guarantees:
//   - Every attachment of support mail and of agents' mail that belongs to the help desk is typed,
//     judged by the queue's policy and scanned while parsing, whatever the automatic-mail class;
//     the class's outcome and the attachments' outcome are combined (the most severe wins) before
//     either is applied.
//   - One durable write per message: the flood count, the closed-ticket decision and the ticket
//     change are one TicketStore::Write (one LMDB transaction), decided on the ticket as it is at
//     commit. Attachment files are renamed into the store just before it.
//   - dry_run writes nothing (no attachment file, no counter, no ticket).
//
// Extending: features that act on a ticket change (assignment, automatic answers, SLA clocks)
// are PlanSteps. They run inside the Plan stage, in order, after the ticket change is built, and
// add side effects to Plan::effects; Commit writes those in the same transaction as the ticket.
//
// Thread-safety: a MessageContext belongs to one Transaction; StageEnv is immutable and shared.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/address.h"
#include "core/agents.h"
#include "core/attachment_stage.h"
#include "core/auto_mail.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/decision.h"
#include "core/message.h"
#include "core/mime_parser.h"
#include "core/spool.h"
#include "core/status.h"
#include "core/threading.h"
#include "core/ticket_store.h"

namespace desk {

struct MessageContext;

// Side effects a PlanStep asks for, committed with the ticket change.
struct PlannedEffects {
  // Recipients to add to the delivered copy (e.g. the assigned agent): Decision::add_recipients,
  // which the adapter adds with the header edits (never in a dry run's effect on the MTA).
  std::vector<std::string> add_recipients;
  // Mails to queue for sending (e.g. an automatic answer), with their limits and the message to
  // record on the ticket: TicketWrite::outbox, in the same write as the ticket change.
  std::vector<OutboxItem> outbox;
  bool empty() const { return add_recipients.empty() && outbox.empty(); }
};

// One extension of the Plan stage. Plan() sees the whole context (the message, its class, thread
// and the planned TicketWrite in ctx.plan.ticket_write, whose message holds the text body: it has
// moved out of ctx.msg) and may change the write (e.g. set new_ticket.assigned_agent) and add
// effects. A non-OK Status fails the message through
// FailureDecision. Implementations must be thread-safe (one instance serves all connections).
class PlanStep {
 public:
  virtual ~PlanStep() = default;
  virtual const char* name() const = 0;
  virtual Status Plan(MessageContext& ctx) const = 0;
};

// What the stages need from the Engine, without the engine (which calls them).
struct StageEnv {
  const Config* config = nullptr;
  const QueueRouter* router = nullptr;
  const AutoMailRules* auto_rules = nullptr;
  TicketStore* store = nullptr;  // null: dry runs only (threading sees no tickets)
  const AttachmentContext* attachments = nullptr;
  const MonotonicClock* clock = nullptr;  // the scanning budget's clock; null: bytes only
  const std::vector<std::unique_ptr<PlanStep>>* plan_steps = nullptr;  // may be null
};

// Who the message is from, as the Classify stage found it.
enum class MailRole {
  kCustomer,      // support mail from anyone who is not an agent (or an agent's rule-1 mail)
  kAgentReply,    // an agent's answer to a customer on a ticket (rewritten)
  kAgentNote,     // an agent's internal note on a ticket (not rewritten)
  kAgentNew,      // an agent opens a ticket by writing to a customer
};

// The planned ticket change (Plan stage) and what Commit made of it.
struct Plan {
  bool write = false;   // a TicketStore::Write is due (also for a flood count alone)
  TicketWrite ticket_write;
  PlannedEffects effects;
  WriteResult result;   // Commit: what the store did
};

struct MessageContext {
  // Inputs (the Transaction's).
  const StageEnv& env;
  const Envelope& envelope;
  const std::vector<QueueMatch>& support;  // routed support recipients (may be empty for agents)
  const AgentIdentity& agent;              // agent.agent == nullptr: not an agent
  const Spool& spool;
  int64_t now = 0;
  bool dry_run = false;

  // Parse.
  ParsedMessage msg;
  std::unique_ptr<AttachmentCollector> collector;  // null when the queue is unknown
  const QueueConfig* policy_queue = nullptr;       // whose attachment policy the collector uses
  std::string signature;  // ContentSignature (core/threading.h): envelope sender and body

  // Classify.
  MailRole role = MailRole::kCustomer;
  QueueMatch route;                     // the support address the mail is handled under
  const QueueConfig* queue = nullptr;   // the queue whose ticket rules apply
  std::string sender;                   // normalized From, else envelope sender
  AutoVerdict auto_verdict;             // customers' mail: the automatic-mail class
  Outcome class_outcome = Outcome::kAccept;  // the class's configured action
  TicketEffect class_effect = TicketEffect::kOpen;
  bool may_open = true;                 // false: may join a ticket, never opens one
  bool ticketless = false;              // the class decided: no ticket (record a bounce at most)
  std::vector<std::string> outside_rcpts;  // agents' mail: envelope recipients outside the desk

  // Attachments.
  std::vector<StoredAttachment> stored_attachments;
  std::vector<TicketEvent> attachment_events;

  // Thread (agents' mail is threaded in Classify: its role depends on it).
  bool threaded = false;
  ThreadResult thread;
  Ticket ticket;  // agents' mail: the ticket it threads into, as read while classifying

  // Plan and Commit.
  Plan plan;

  // The answer.
  Decision d;
};

// Stage contracts. Each returns what the runner does next.
enum class Step { kNext, kDeliver, kDone };

// Parse: the spool through GMime within the configured limits, each attachment typed, judged and
// scanned as it is decoded (by the routed queue's policy; agents' mail by the agent's queue's).
// Out: ctx.msg, ctx.collector, ctx.signature. Fails: kMalformed (limits, unparsable), kScanner/kStore from the
// collector.
Step ParseStage(MessageContext& ctx);

// Classify: agents' mail is threaded and sorted (agent_reply, internal_note, agent_new; personal
// mail ends here accepted untouched; rule-1 mail to a support address goes on as a customer's);
// customers' mail gets its automatic-mail class, the class's action and ticket effect. Applies
// nothing yet. Out: role, route, queue, sender, auto_verdict, class_outcome, class_effect,
// may_open, ticketless. Fails: kStore (the ticket lookup of agents' mail).
Step ClassifyStage(MessageContext& ctx);

// Attachments: the attachments' outcome (the most severe) combined with the class's: the most
// severe wins. reject, tempfail and discard end the message here (no ticket, nothing stored);
// otherwise the outcome so far (accept or hold), the strip edits and the attachment records
// stand. A class that opens no ticket goes on to Plan (flood count, bounce event) unless nothing
// is to be written (kDeliver). Out: d.verdict/failure/reason, stored_attachments,
// attachment_events, d.replacement_body. Fails: kStore/kInternal (stripping I/O).
Step AttachmentsStage(MessageContext& ctx);

// Thread: customers' mail through ResolveThread (Message-IDs, references, reply token, subject
// tag of a participant). Automatic mail that may not open a ticket and threads nowhere ends here
// with the class's outcome (kDeliver). Out: thread. Fails: kStore.
Step ThreadStage(MessageContext& ctx);

// Plan: the ticket change (one builder for both directions: the stored message, its events, the
// participants; the closed-ticket rule as a choice made at commit), the flood count, then every
// PlanStep. Out: plan. Fails: a PlanStep's Status.
Step PlanStage(MessageContext& ctx);

// Commit: the attachment files, then the one TicketStore::Write; fills d's ticket, kind,
// ticket_action and reasons from the WriteResult; a flooded message gets the flood action (the
// most severe of it and the outcome so far). Skipped in a dry run (the decision says what would
// happen). Fails: kStore.
Step CommitStage(MessageContext& ctx);

// Delivery edits: the header edits of the delivered copy. Customers' mail: a generated
// Message-ID, the loop stamp, X-Deskmilter-Ticket, the subject tag. Agents' replies and new
// tickets: the rewrite (core/agents.h). Never fails.
Step DeliveryEditsStage(MessageContext& ctx);

struct StageSpec {
  const char* name;
  Step (*run)(MessageContext&);
};
// The stages in order.
const std::vector<StageSpec>& PipelineStages();

// Runs the stages over ctx and returns the decision.
Decision RunPipeline(MessageContext& ctx);

// The parser limits of a config ([limits], the spool's directory and threshold, the hostname).
ParseLimits ParseLimitsFromConfig(const Config& config);

// The decision for a failure Status: its class's configured action (actions.on_*).
Decision FailureDecision(const Config& config, const Status& st);

}  // namespace desk
