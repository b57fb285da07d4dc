// `deskctl tickets` views: filters, search and SLA state over the store's ticket list.
//
// The store narrows by queue and status; the rest is core/ticket_view.h, cheapest first: the
// ticket's own fields, then (only for tickets still in) messages for word search and events for
// SLA clocks. The limit applies after filtering, newest first.
#include "deskctl/views.h"

#include <time.h>

#include <cstdio>

#include "core/sla.h"

namespace desk::ctl {

SlaTargets TargetsFor(const Config& config, const std::string& queue) {
  SlaTargets t;
  for (const QueueConfig& q : config.queues) {
    if (q.name != queue) continue;
    t.first_response = q.sla_first_response;
    t.next_response = q.sla_next_response;
    t.hours = BusinessHoursOf(q);
  }
  return t;
}

bool ParseTime(const std::string& s, int64_t* out) {
  struct tm tm = {};
  const char* end = nullptr;
  for (const char* fmt : {"%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S",
                          "%Y-%m-%d"}) {
    tm = {};
    end = strptime(s.c_str(), fmt, &tm);
    if (end != nullptr && *end == '\0') {
      *out = static_cast<int64_t>(timegm(&tm));
      return true;
    }
  }
  if (!s.empty() && s.find_first_not_of("0123456789") == std::string::npos && s.size() <= 12) {
    *out = std::stoll(s);
    return true;
  }
  return false;
}

Status ApplyView(TicketStore* store, const Config& config, const ViewFilter& view, uint64_t limit,
                 int64_t now, std::vector<Ticket>* tickets, std::vector<SlaState>* sla) {
  std::vector<Ticket> out;
  sla->clear();
  for (Ticket& t : *tickets) {
    if (limit != 0 && out.size() == limit) break;
    if (!MatchesFields(view, t)) continue;
    std::vector<TicketMessage> messages;
    std::vector<TicketEvent> events;
    const SlaTargets targets = TargetsFor(config, t.queue);
    const bool has_targets = targets.first_response > 0 || targets.next_response > 0;
    if (!view.words.empty() || has_targets) {
      Status st = store->GetMessages(t.number, &messages);
      if (!st.ok()) return st;
      if (!MatchesWords(view.words, t, messages)) continue;
    }
    if (has_targets) {
      Status st = store->GetEvents(t.number, &events);
      if (!st.ok()) return st;
    }
    SlaState s = ComputeSla(targets, messages, events, now);
    if (!MatchesSla(view, s, now)) continue;
    out.push_back(std::move(t));
    sla->push_back(std::move(s));
  }
  *tickets = std::move(out);
  return Status::Ok();
}

}  // namespace desk::ctl
