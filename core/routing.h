// Routing to agents: agent states and their rules, automatic assignment of tickets, assignment by
// a manager, and a queue's account status. docs/ROUTING.md is the administrator's view.
//
// States. Built in: in-email (available: the email channel's default state), in-call and in-chat
// (overrides: while one lasts the agent is not available; "clear" returns to the state before),
// away and offline (not available); agents.extra_states adds more, each available or not. Rules:
//   - in-email cannot be removed or redefined (the config refuses a built-in name);
//   - in-email is offered only to an agent of at least one queue (the email channel);
//   - in-email is never set automatically (StateActor::kSystem may not set it); an agent with no
//     record is "offline", so nobody receives tickets before they or a manager set in-email;
//   - in-call / in-chat remember the state they override (base); setting one over the other keeps
//     that base; "clear" restores it; any other state replaces state and base.
// Every change is one store write (TicketStore::UpdateAgentState): record, history event (time,
// who, old and new state) and, for control mail, the confirmation mail in the outbox.
//
// Automatic routing (queue routing = "automatic"), the PlanStep of MakeRoutingStep(): a new
// customer ticket goes to one available agent of its queue: the one whose last automatic
// assignment in that queue is oldest (round robin; never assigned counts as oldest), ties broken by
// fewest open tickets of the queue, then configuration order. The agent's address is added as an
// envelope recipient; later customer mail on the ticket goes to the assignee too. No agent
// available: the ticket stays unassigned ("waiting") until AssignWaiting runs (after a state change
// makes an agent available, deskctl agent state) or a manager assigns it; such an assignment
// queues a notification mail to the agent in the outbox.
//
// Limits: concurrent sessions may read the same round-robin marks and give two simultaneous new
// tickets to the same agent (each ticket still goes to exactly one available agent). Open-ticket
// counts are computed only to break a tie, by one walk over the store's tickets (ListTickets).
// AssignWaiting walks the open tickets of the automatic queues.
//
// Thread-safety: pure functions over an immutable Config; the store functions are as safe as the
// TicketStore.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/business_hours.h"
#include "core/config.h"
#include "core/desk_state.h"
#include "core/pipeline.h"
#include "core/status.h"
#include "core/ticket_store.h"

namespace desk {

inline constexpr std::string_view kStateInEmail = "in-email";
inline constexpr std::string_view kStateOffline = "offline";
inline constexpr std::string_view kStateClear = "clear";  // ends an in-call / in-chat override

struct StateDef {
  std::string name;  // canonical, lower-case
  bool available = false;
  bool override_state = false;  // in-call, in-chat
  bool builtin = false;
};

// The built-in states, then agents.extra_states (malformed entries, refused at load, are skipped).
std::vector<StateDef> AgentStateCatalog(const Config& config);
// Case-insensitive; nullptr when unknown.
const StateDef* FindState(const std::vector<StateDef>& catalog, std::string_view name);

// The queues listing this agent address (lower-case compare).
std::vector<const QueueConfig*> QueuesOfAgent(const Config& config, std::string_view address);
// The agent's address when address names a configured agent (any form), else "".
std::string ConfiguredAgent(const Config& config, std::string_view address);
// The states offered to the agent: every state, without in-email when the agent is in no queue.
std::vector<std::string> OfferedStates(const Config& config, std::string_view address);

enum class StateActor { kAgent, kManager, kSystem };

struct StateRequest {
  std::string address;  // the agent's address, lower-case
  std::string state;    // a state name or "clear"
  StateActor actor = StateActor::kManager;
  std::string by;       // recorded as who set it
  int64_t now = 0;
};

// The state of a record ("offline" when none).
std::string CurrentState(const AgentStateRecord* record);
// Whether the agent receives tickets: the current state is available (an override never is).
bool IsAvailable(const std::vector<StateDef>& catalog, const AgentStateRecord* record);

// Applies the rules above to the current record (nullptr: none). kInvalid with a reason for an
// unknown state, in-email not offered, in-email set by the system, or "clear" without an
// override. On success fills change's record and event (the outbox is left to the caller).
Status DecideAgentState(const Config& config, const StateRequest& req,
                        const AgentStateRecord* current, AgentStateChange* change);

// Who may take a ticket of a queue, as automatic routing sees them.
struct Candidate {
  std::string address;
  bool available = false;
  uint64_t last_ticket = 0;   // round-robin mark (0 = never assigned by routing in this queue)
  uint64_t open_tickets = 0;  // filled only when needed to break a tie
};
// The index of the agent to assign, or -1 when none is available (the rule at the top).
int PickAgent(const std::vector<Candidate>& candidates);

// Picks the agent for a ticket of queue from the store's states and marks (PickAgent); "" = none
// available.
Status ChooseAgent(TicketStore* store, const Config& config, const QueueConfig& queue,
                   std::string* agent);

// A notification or confirmation queued in the outbox: a complete RFC 5322 message (CRLF) from
// the null sender to `to`, kind "notification". The subject is RFC 2047 encoded when it is not
// plain ASCII or too long for a line, the body (LF or CRLF lines) base64 when it is not short ASCII
// lines (core/mail_text.h). now gives the Date header; id_part makes the Message-ID unique (with
// now and hostname).
OutboxItem BuildNoticeMail(const std::string& from, const std::string& to,
                            const std::string& subject, const std::string& body, int64_t now,
                            const std::string& hostname, const std::string& id_part);

// Sets a state (deskctl agent state, control mail) in one store write: DecideAgentState on the
// record as it is in the transaction, the history event, and with confirm a confirmation mail to
// the agent in the outbox. Then, when the agent is available, AssignWaiting (its assignments in
// *assigned). *applied: what was written. kNotFound: no such agent; kInvalid: a rule refused it
// (nothing written).
Status SetAgentState(TicketStore* store, const Config& config, const StateRequest& req,
                     bool confirm, AgentStateChange* applied,
                     std::vector<std::pair<uint64_t, std::string>>* assigned);

// Assigns ticket to agent ("" = unassigns), recording an "assigned" / "unassigned" event by actor;
// an assignment queues a notification to the agent. kNotFound: no such ticket or agent.
Status AssignTicket(TicketStore* store, const Config& config, uint64_t ticket,
                    const std::string& agent, const std::string& actor, int64_t now);

// Gives each waiting ticket (open, unassigned) of the automatic queues to an available agent, in
// ticket order, with a notification each; *assigned lists (ticket, agent).
Status AssignWaiting(TicketStore* store, const Config& config, int64_t now,
                     std::vector<std::pair<uint64_t, std::string>>* assigned);

// Business hours (BusinessSpan, ParseBusinessHours, KnownTimeZone, BusinessHoursOpen):
// core/business_hours.h, shared with SLA clocks.

// The desk's account status for a queue: Invisible outside its business hours, else Online (an
// agent of it available, or the queue has no agents: a shared mailbox) or Away (none available).
// (AccountStatus and AccountStatusName: core/desk_state.h.)
AccountStatus QueueAccountStatus(const Config& config, const QueueConfig& queue,
                                 const std::vector<AgentStateRecord>& states, int64_t now);

// The DeskState the triggers ask (core/desk_state.h): QueueAccountStatus over the store's agent
// states, and BusinessHoursOpen. An unknown queue, or a store error reading the states, answers
// Online (a trigger then behaves as before agent states existed: no "away" message by mistake).
class RoutingDeskState : public DeskState {
 public:
  RoutingDeskState(std::shared_ptr<const Config> config, TicketStore* store)
      : config_(std::move(config)), store_(store) {}
  AccountStatus QueueAccountStatus(const std::string& queue, int64_t now) const override;
  bool WithinBusinessHours(const std::string& queue, int64_t now) const override;

 private:
  const QueueConfig* Find(const std::string& queue) const;
  std::shared_ptr<const Config> config_;
  TicketStore* store_;
};

// The automatic-routing PlanStep (registered by Engine::Create).
std::unique_ptr<PlanStep> MakeRoutingStep();

}  // namespace desk
