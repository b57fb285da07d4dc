// The outbox's retry policy: what happens to a queued mail after one submission attempt.
//
// A mail is submitted when its due_at has come. After the MTA accepted it (kSent) it is removed and
// an outbound_sent event names its Message-ID on the ticket. After a temporary failure it waits
// retry_min seconds, doubled per failed attempt up to retry_max, unless it was queued max_age
// seconds ago or more: then, as after a permanent failure (5xx), it is removed and an
// outbound_failed event with the reason is recorded on its ticket. The mail itself never changes
// between attempts (same bytes, same Message-ID).
//
// Pure logic, the clock passed in; the worker that applies it is milter/outbox_worker.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/smtp_client.h"
#include "core/ticket.h"
#include "core/ticket_store.h"

namespace desk {

struct RetryPolicy {
  int64_t retry_min = 60;
  int64_t retry_max = 3600;
  int64_t max_age = 432000;
};

RetryPolicy RetryPolicyFromConfig(const Config& config);
SmtpTarget SmtpTargetFromConfig(const Config& config);

struct OutboxStep {
  bool finish = false;  // remove the row (FinishOutbox with events); else RescheduleOutbox
  bool failed = false;  // finish after a final failure
  std::vector<TicketEvent> events;  // finish: what to record on the ticket
  int64_t due_at = 0;               // reschedule: the next attempt
  uint32_t attempts = 0;            // reschedule: attempts so far
  std::string error;                // reschedule: the last failure
};

OutboxStep NextOutboxStep(const OutboxMail& mail, const SmtpResult& result, int64_t now,
                          const RetryPolicy& policy);

// The first due_at among mails (INT64_MAX when there are none).
int64_t NextDue(const std::vector<OutboxMail>& mails);

}  // namespace desk
