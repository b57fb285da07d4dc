// `deskctl tickets` and `deskctl ticket N | close N | reopen N`: reading and (re)opening tickets.
//
// Reads never create a store: when the store directory does not exist they say so and fail.
// Closing and reopening go through Engine::SetTicketStatus so the event is recorded the same way
// the daemon would record it.
#include <algorithm>
#include <cstdio>
#include <ctime>

#include "core/transcript_pdf.h"
#include "deskctl/commands.h"
#include "deskctl/json_output.h"
#include "deskctl/views.h"
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

// Turns the view options into a ViewFilter; prints the problem and returns kExitUsage when one is
// malformed.
int ParseView(const ListOptions& o, ViewFilter* v, int64_t* now) {
  auto usage = [](const std::string& msg) {
    std::fprintf(stderr, "deskctl: tickets: %s\n", msg.c_str());
    return kExitUsage;
  };
  *now = o.now != 0 ? o.now : static_cast<int64_t>(std::time(nullptr));
  v->brand = o.brand;
  v->requester = o.requester;
  v->assignee = o.assignee;
  v->received_at = o.received_at;
  if (!o.since.empty() && !ParseTime(o.since, &v->received_from)) {
    return usage("--since: \"" + o.since + "\" is not a date (YYYY-MM-DD[THH:MM:SSZ])");
  }
  if (!o.until.empty() && !ParseTime(o.until, &v->received_until)) {
    return usage("--until: \"" + o.until + "\" is not a date (YYYY-MM-DD[THH:MM:SSZ])");
  }
  if (!o.search.empty() && !SearchWords(o.search, &v->words)) {
    return usage("--search: at most 16 words of at most 100 bytes each");
  }
  if (!o.sla.empty()) {
    const std::string& kind = o.sla[0];
    if (kind == "due-within") {
      int64_t secs = 0;
      if (o.sla.size() != 2 || !ParseDuration(o.sla[1], &secs)) {
        return usage("--sla due-within needs a duration: 90s, 45m, 4h, 2d");
      }
      v->sla = "due";
      v->sla_due_by = *now + secs;
    } else if (o.sla.size() == 1 &&
               (kind == "breached" || kind == "running" || kind == "ok" || kind == "none")) {
      v->sla = kind;
    } else {
      return usage("--sla: breached, due-within DURATION, running, ok or none");
    }
  }
  return kExitOk;
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
  ViewFilter view;
  int64_t now = 0;
  rc = ParseView(opts, &view, &now);
  if (rc != kExitOk) return rc;
  filter.limit = 0;  // the limit counts tickets that pass the view, in the order asked for
  // Only the tickets that pass the store's filter and the ticket's own fields are kept; with
  // --search, only the word index's candidates are read at all (a store without a complete index
  // is scanned, and says so).
  std::vector<Ticket> tickets;
  std::vector<SlaState> sla;
  auto keep = [&](const Ticket& t) {
    if (!filter.queue.empty() && t.queue != filter.queue) return;
    if (filter.status.has_value() && t.status != *filter.status) return;
    if (MatchesFields(view, t)) tickets.push_back(t);
  };
  Status st = Status::NotFound("no search");
  if (!view.words.empty()) {
    std::vector<uint64_t> candidates;
    st = ctx.store->WordCandidates(view.words, &candidates);
    if (st.IsNotFound()) {
      std::fprintf(stderr, "deskctl: tickets: %s; scanning every ticket\n", st.message().c_str());
    }
    for (size_t i = 0; st.ok() && i < candidates.size(); ++i) {
      Ticket t;
      st = ctx.store->GetTicket(candidates[i], &t);
      if (st.IsNotFound()) {  // deleted since the index was read
        st = Status::Ok();
        continue;
      }
      if (st.ok()) keep(t);
    }
    if (!st.ok() && !st.IsNotFound()) return StoreError(st);
  }
  if (!st.ok()) {
    st = ctx.store->ScanTickets(filter, [&](const Ticket& t) {
      keep(t);
      return true;
    });
    if (!st.ok()) return StoreError(st);
  }
  // The store lists newest number first; by last update (the default) sorts every match first.
  if (opts.sort != "number") {
    std::stable_sort(tickets.begin(), tickets.end(), [](const Ticket& a, const Ticket& b) {
      if (a.updated_at != b.updated_at) return a.updated_at > b.updated_at;
      return a.number > b.number;
    });
  }
  st = ApplyView(ctx.store.get(), *ctx.config, view, opts.limit, now, &tickets, &sla);
  if (!st.ok()) return StoreError(st);
  if (opts.json) {
    Json arr = Json::array();
    for (size_t i = 0; i < tickets.size(); ++i) {
      Json j = TicketJson(tickets[i]);
      j["sla"] = SlaJson(sla[i]);
      arr.push_back(std::move(j));
    }
    Print(Dump(arr) + "\n");
  } else {
    Print(FormatTicketTable(tickets));
  }
  return kExitOk;
}

int RunTicketShow(const std::string& config_path, uint64_t number, bool json,
                  const std::string& pdf_path) {
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

  if (!pdf_path.empty()) {
    st = WriteTranscriptPdf(t, messages, events, pdf_path);
    if (!st.ok()) return StoreError(st);
    std::printf("ticket %llu: transcript written to %s\n", static_cast<unsigned long long>(number),
                pdf_path.c_str());
    return kExitOk;
  }
  const SlaState sla = ComputeSla(TargetsFor(*ctx.config, t.queue), messages, events,
                                  static_cast<int64_t>(std::time(nullptr)));
  if (json) {
    Json j = TicketJson(t);
    j["sla"] = SlaJson(sla);
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
