// sla: first- and next-response clocks of a ticket, computed from its messages and events.
//
// Pure: the clock (now) and the ticket's history are passed in; nothing is stored, so changing a
// queue's targets changes every ticket's SLA at once, as a help-desk admin expects.
//
// Rules:
//  - A customer's mail (inbound, not automatic: kind "new" or "reply") starts a clock when none is
//    running: the first one on the ticket is the first-response clock, later ones next-response.
//  - An agent's reply to the customer (outbound kind "agent_reply" or "agent_new") stops the running
//    clock. Internal notes and automatic mail in either direction (auto replies, bounces, our own
//    automatic answers) neither start nor stop one.
//  - Closing the ticket pauses: the running clock stops without being met (its breach, if it was
//    already late, stays); a customer's mail after reopening starts a next-response clock.
//  - Time counts in the queue's business hours (core/business_hours.h, the same "open" as
//    routing's account status): its weekly spans in its time zone, summer time included, holidays
//    closed. A queue without business hours runs 24x7. Due times are instants (UTC seconds).
//  - A clock is breached when it was met after its due time, or is still running and now is past
//    its due time. A target of 0 means no clock of that kind.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/business_hours.h"
#include "core/ticket.h"

namespace desk {

struct SlaTargets {
  int64_t first_response = 0;  // seconds; 0 = none
  int64_t next_response = 0;
  BusinessHours hours;  // the queue's (BusinessHoursOf); default: 24x7
};

struct SlaClock {
  std::string kind;      // "first_response" | "next_response"
  int64_t started_at = 0;
  int64_t due_at = 0;
  std::optional<int64_t> met_at;     // the agent reply that stopped it
  std::optional<int64_t> paused_at;  // the ticket was closed while it ran
  bool breached = false;
};

struct SlaState {
  SlaTargets targets;
  std::vector<SlaClock> clocks;  // in order; at most one running (the last)
  // The running clock (not met, not paused), if any.
  std::optional<SlaClock> running;
  bool breached = false;  // any clock breached
  // "none" (no targets), "ok", "running" (a clock runs and is not late), "breached".
  std::string state;
};

SlaState ComputeSla(const SlaTargets& targets, const std::vector<TicketMessage>& messages,
                    const std::vector<TicketEvent>& events, int64_t now);

// Parses "90", "90s", "45m", "4h", "2d" into seconds; false on anything else.
bool ParseDuration(const std::string& text, int64_t* seconds);

}  // namespace desk
