// Views of `deskctl tickets` over a store (see views.cc); SLA targets of a ticket's queue.
//
// Thread-safety: single-threaded tool.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/sla.h"
#include "core/ticket_store.h"
#include "core/ticket_view.h"

namespace desk::ctl {

// The SLA targets of the named queue (none for a queue no longer configured).
SlaTargets TargetsFor(const Config& config, const std::string& queue);

// "2026-12-03", "2026-12-03T08:00:00Z" (UTC) or seconds since the epoch.
bool ParseTime(const std::string& s, int64_t* out);

// Keeps the tickets of *tickets (newest first) that match view, at most limit (0 = all), and the
// SLA state of each kept ticket in *sla (same order).
Status ApplyView(TicketStore* store, const Config& config, const ViewFilter& view, uint64_t limit,
                 int64_t now, std::vector<Ticket>* tickets, std::vector<SlaState>* sla);

}  // namespace desk::ctl
