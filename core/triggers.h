// Triggers: rules that act when a customer opens a ticket or writes on one (the product's
// messaging-triggers requirement; docs/TRIGGERS.md): an event, conditions (ALL of one list and at
// least one of the other), and ordered actions (wait, send a message to the customer, set a tag).
// docs/TRIGGERS.md is the administrator's guide; this header is the format's definition.
//
// A trigger is a JSON document, stored as such in the TicketStore (StoredTrigger) and edited with
// deskctl trigger create/edit (a file in the same format):
//   {"name": "First Reply", "description": "...", "enabled": false, "event": "ticket_opened",
//    "conditions": {"all": [{"field": "account_status", "operator": "is", "value": "online"}],
//                   "any": []},
//    "actions": [{"wait": 5}, {"send_message": "Thank you, {{requester.name}}."},
//                {"set_tag": "acknowledged"}]}
// ParseTrigger refuses an unknown field, event, condition field, operator, value or action, and an
// unknown {{placeholder}}, naming where ("conditions.all[0].field: unknown condition 'x'").
//
// Evaluation is pure (TriggerFacts in, bool out); the account status and business hours come from
// a DeskState (core/desk_state.h); the daemon's is RoutingDeskState (core/routing.h: agent states
// and business hours).
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/desk_state.h"
#include "core/status.h"

namespace desk {

enum class TriggerEvent { kTicketOpened, kCustomerReply };
const char* TriggerEventName(TriggerEvent e);  // "ticket_opened", "customer_reply"

struct TriggerCondition {
  std::string field;   // account_status, queue, received_at, sender_domain, ticket_status,
                       // waiting_tickets, business_hours, since_last_agent_reply
  std::string op;      // is, is_not, ends_with, less_than, greater_than
  std::string text;    // string values (lower-cased where compared without case)
  int64_t number = 0;  // waiting_tickets, since_last_agent_reply (seconds)
  bool flag = false;   // business_hours
};

struct TriggerAction {
  enum class Type { kWait, kSendMessage, kSetTag };
  Type type = Type::kWait;
  int64_t seconds = 0;  // kWait
  std::string text;     // kSendMessage: the template; kSetTag: the tag
};

struct Trigger {
  std::string name;
  std::string description;
  bool enabled = false;
  TriggerEvent event = TriggerEvent::kTicketOpened;
  std::vector<TriggerCondition> all;
  std::vector<TriggerCondition> any;
  std::vector<TriggerAction> actions;
};

// Bounds on what one trigger may hold (a trigger file is an administrator's, but bounded anyway).
inline constexpr size_t kMaxTriggerConditions = 50;
inline constexpr size_t kMaxTriggerActions = 20;
inline constexpr size_t kMaxTriggerText = 10000;
inline constexpr int64_t kMaxTriggerWait = 7 * 86400;

// Parses a trigger document. kInvalid with "FIELD: reason" on anything unknown or malformed.
Status ParseTrigger(const std::string& json, Trigger* out);
// The canonical JSON of t (ParseTrigger(TriggerJson(t)) gives t back).
std::string TriggerJson(const Trigger& t, bool pretty = false);

// The three default triggers (First Reply, Request Contact Details, All Agents Offline), inactive.
std::vector<Trigger> DefaultTriggers();

// What conditions are tested against; a fact nobody asked for may stay unset.
struct TriggerFacts {
  AccountStatus account_status = AccountStatus::kOnline;
  std::string queue;
  std::string received_at;      // lower-case support address the mail came to
  std::string sender_domain;    // lower-case
  std::string ticket_status;    // "open", "closed"; "open" for a ticket being opened
  int64_t waiting_tickets = 0;  // open tickets in the queue
  bool business_hours = true;
  std::optional<int64_t> since_last_agent_reply;  // nullopt: no agent has replied yet
};

// Which facts the conditions of t need that cost a store read.
bool NeedsWaitingTickets(const Trigger& t);
bool NeedsLastAgentReply(const Trigger& t);

// True when every condition of t.all holds and, if t.any is not empty, at least one of t.any.
// since_last_agent_reply without an agent reply: greater_than holds, less_than does not.
bool TriggerMatches(const Trigger& t, const TriggerFacts& facts);

// A send_message template with its placeholders filled: {{ticket.id}}, {{ticket.subject}},
// {{queue.name}}, {{requester.name}} (the requester's name, else the address).
struct TemplateValues {
  std::string ticket_id;
  std::string ticket_subject;
  std::string queue_name;
  std::string requester_name;
};
std::string ExpandTemplate(const std::string& text, const TemplateValues& v);

}  // namespace desk
