// `deskctl tickets` and `deskctl ticket N | close N | reopen N`: reading and (re)opening tickets.
//
// Reads never create a store: when the store directory does not exist they say so and fail.
// Closing and reopening go through Engine::SetTicketStatus so the event is recorded the same way
// the daemon would record it.
#include <algorithm>
#include <cstdio>
#include <ctime>

#include "deskctl/commands.h"
#include "deskctl/json_output.h"
#include "deskctl/text_output.h"

namespace desk::ctl {
namespace {

void Print(const std::string& s) {
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fflush(stdout);
}

int NoSuchTicket(uint64_t number) {
  std::fprintf(stderr, "deskctl: ticket %llu: no such ticket\n",
               static_cast<unsigned long long>(number));
  return kExitFailure;
}

int StoreError(const Status& st) {
  std::fprintf(stderr, "deskctl: %s\n", st.ToString().c_str());
  return kExitFailure;
}

}  // namespace

int RunTickets(const std::string& config_path, const ListOptions& opts) {
  Context ctx;
  int rc = OpenContext(config_path, StoreMode::kRequired, &ctx);
  if (rc != kExitOk) return rc;

  TicketFilter filter;
  filter.queue = opts.queue;
  if (opts.status == "open") filter.status = TicketStatus::kOpen;
  if (opts.status == "closed") filter.status = TicketStatus::kClosed;
  // The store lists newest number first; by last update needs every match before the limit.
  const bool by_updated = opts.sort != "number";
  filter.limit = by_updated ? 0 : opts.limit;
  std::vector<Ticket> tickets;
  Status st = ctx.store->ListTickets(filter, &tickets);
  if (!st.ok()) return StoreError(st);
  if (by_updated) {
    std::stable_sort(tickets.begin(), tickets.end(), [](const Ticket& a, const Ticket& b) {
      if (a.updated_at != b.updated_at) return a.updated_at > b.updated_at;
      return a.number > b.number;
    });
    if (opts.limit > 0 && tickets.size() > opts.limit) tickets.resize(opts.limit);
  }
  if (opts.json) {
    Json arr = Json::array();
    for (const Ticket& t : tickets) arr.push_back(TicketJson(t));
    Print(Dump(arr) + "\n");
  } else {
    Print(FormatTicketTable(tickets));
  }
  return kExitOk;
}

int RunTicketShow(const std::string& config_path, uint64_t number, bool json) {
  Context ctx;
  int rc = OpenContext(config_path, StoreMode::kRequired, &ctx);
  if (rc != kExitOk) return rc;

  Ticket t;
  Status st = ctx.store->GetTicket(number, &t);
  if (st.IsNotFound()) return NoSuchTicket(number);
  if (!st.ok()) return StoreError(st);
  std::vector<TicketMessage> messages;
  std::vector<TicketEvent> events;
  st = ctx.store->GetMessages(number, &messages);
  if (st.ok()) st = ctx.store->GetEvents(number, &events);
  if (!st.ok()) return StoreError(st);

  if (json) {
    Json j = TicketJson(t);
    Json jm = Json::array();
    for (const TicketMessage& m : messages) jm.push_back(MessageJson(m));
    Json je = Json::array();
    for (const TicketEvent& e : events) je.push_back(EventJson(e));
    j["messages"] = std::move(jm);
    j["events"] = std::move(je);
    Print(Dump(j) + "\n");
  } else {
    Print(FormatTicketDetail(t, messages, events));
  }
  return kExitOk;
}

int RunTicketSetStatus(const std::string& config_path, uint64_t number, TicketStatus status) {
  Context ctx;
  int rc = OpenContext(config_path, StoreMode::kRequired, &ctx);
  if (rc != kExitOk) return rc;
  Status st = ctx.engine->SetTicketStatus(number, status, static_cast<int64_t>(std::time(nullptr)));
  if (st.IsNotFound()) return NoSuchTicket(number);
  if (!st.ok()) return StoreError(st);
  std::printf("ticket %llu %s\n", static_cast<unsigned long long>(number),
              TicketStatusName(status));
  return kExitOk;
}

}  // namespace desk::ctl
