// The outbox's retry policy (see the header).
#include "core/outbox.h"

#include <algorithm>
#include <limits>

namespace desk {

RetryPolicy RetryPolicyFromConfig(const Config& config) {
  return {config.outbox_retry_min, config.outbox_retry_max, config.outbox_max_age};
}

SmtpTarget SmtpTargetFromConfig(const Config& config) {
  SmtpTarget t;
  t.host = config.outbox_smtp_host;
  t.port = static_cast<int>(config.outbox_smtp_port);
  t.helo = config.outbox_helo_name.empty() ? config.hostname : config.outbox_helo_name;
  t.timeout_seconds = static_cast<int>(config.outbox_timeout);
  return t;
}

OutboxStep NextOutboxStep(const OutboxMail& mail, const SmtpResult& result, int64_t now,
                          const RetryPolicy& policy) {
  OutboxStep step;
  const std::string what = mail.kind.empty() ? "mail" : mail.kind + " mail";
  if (result.kind == SmtpResult::Kind::kSent) {
    step.finish = true;
    TicketEvent ev;
    ev.at = now;
    ev.type = "outbound_sent";
    ev.text = what + " <" + mail.message_id + "> to " +
              (mail.recipients.empty() ? std::string("-") : mail.recipients.front()) +
              " accepted: " + result.detail;
    step.events.push_back(std::move(ev));
    return step;
  }
  const uint32_t attempts = mail.attempts + 1;
  const bool expired = now - mail.queued_at >= policy.max_age;
  if (result.kind == SmtpResult::Kind::kPermanent || expired) {
    step.finish = true;
    step.failed = true;
    TicketEvent ev;
    ev.at = now;
    ev.type = "outbound_failed";
    ev.text = what + " <" + mail.message_id + "> to " +
              (mail.recipients.empty() ? std::string("-") : mail.recipients.front()) +
              " not sent after " + std::to_string(attempts) + " attempt(s): " + result.detail;
    step.events.push_back(std::move(ev));
    return step;
  }
  int64_t wait = policy.retry_min;
  for (uint32_t i = 1; i < attempts && wait < policy.retry_max; ++i) wait *= 2;
  step.due_at = now + std::min(wait, policy.retry_max);
  step.attempts = attempts;
  step.error = result.detail;
  return step;
}

int64_t NextDue(const std::vector<OutboxMail>& mails) {
  int64_t next = std::numeric_limits<int64_t>::max();
  for (const OutboxMail& m : mails) next = std::min(next, m.due_at);
  return next;
}

}  // namespace desk
