// view_bench: `deskctl tickets` views at 100,000 tickets: fills a store, then times searches.
//
//   view_bench DIR [N]    fills DIR (an LMDB store, created; reused when it already holds N
//                         tickets) with N tickets (default 100000), one message each, MDB_NOSYNC;
//                         then prints one Markdown row per view: medians of 5 runs, wall clock
//                         and this process's CPU time.
//
// The views run the same code as `deskctl tickets` (deskctl/tickets.cc, views.cc) in process,
// without printing. A search is timed twice: "scan" (every ticket streamed by ScanTickets, then
// MatchesFields, then messages for MatchesWords: the path of a store without a word index) and
// "index" (WordCandidates, then the same checks on the candidates only); both must find the same
// hits, else the bench fails. Bodies are ~600
// bytes of words drawn from a 2,000-word vocabulary; a few tickets carry rare words
// (benchneedleK in ticket K*10000) so a search has a known, small answer. Time
// `deskctl -c CONFIG tickets --search ...` against the same directory for the end-to-end figure
// (store.dir = DIR in the config). Not part of the test command; no timed assertions.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "core/lmdb_store.h"
#include "core/ticket_store.h"
#include "core/ticket_view.h"

namespace {

using Clock = std::chrono::steady_clock;

uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

std::string Word(uint64_t i) { return "w" + std::to_string(Mix(i) % 2000); }

int Fill(desk::TicketStore* store, uint64_t n) {
  std::vector<desk::Ticket> have;
  desk::TicketFilter one;
  one.limit = 1;
  if (!store->ListTickets(one, &have).ok()) return 1;
  uint64_t start = have.empty() ? 0 : have[0].number;
  for (uint64_t i = start + 1; i <= n; ++i) {
    desk::TicketWrite w;
    w.op = desk::TicketWrite::Op::kCreate;
    w.now = 1700000000 + static_cast<int64_t>(i);
    desk::Ticket& t = w.new_ticket;
    t.queue = "support";
    t.brand = i % 3 == 0 ? "globex" : "acme";
    t.title = "Question " + Word(i) + " " + Word(i * 7);
    t.requester = {"", "customer" + std::to_string(i % 5000) + "@example.com"};
    t.received_at = "support@example.com";
    desk::TicketMessage& m = w.message;
    m.kind = "new";
    m.message_id = "bench-" + std::to_string(i) + "@example.com";
    m.subject = t.title;
    m.from = t.requester;
    for (int k = 0; k < 90; ++k) m.body += Word(i * 131 + k) + " ";
    if (i % 10000 == 0) m.body += "benchneedle" + std::to_string(i / 10000);
    m.received_at = w.now;
    t.description = m.body;
    desk::WriteResult r;
    desk::Status st = store->Write(w, &r);
    if (!st.ok()) {
      std::fprintf(stderr, "fill: %s\n", st.ToString().c_str());
      return 1;
    }
  }
  return 0;
}

// Runs the view 5 times; returns the median wall seconds (*cpu: the median CPU seconds of this
// process, which a shared machine does not inflate) and the number of hits.
double Time(desk::TicketStore* store, const desk::ViewFilter& f, uint64_t limit, bool index,
            size_t* hits, double* cpu) {
  std::vector<double> runs, cpus;
  for (int r = 0; r < 5; ++r) {
    auto t0 = Clock::now();
    const std::clock_t c0 = std::clock();
    std::vector<desk::Ticket> tickets;
    if (index) {
      std::vector<uint64_t> candidates;
      if (!store->WordCandidates(f.words, &candidates).ok()) std::abort();
      for (uint64_t number : candidates) {
        desk::Ticket t;
        if (!store->GetTicket(number, &t).ok()) std::abort();
        if (desk::MatchesFields(f, t)) tickets.push_back(std::move(t));
      }
    } else {
      if (!store->ScanTickets({}, [&](const desk::Ticket& t) {
            if (desk::MatchesFields(f, t)) tickets.push_back(t);
            return true;
          }).ok()) {
        std::abort();
      }
    }
    size_t n = 0;
    for (const desk::Ticket& t : tickets) {
      if (limit != 0 && n == limit) break;
      if (!f.words.empty()) {
        std::vector<desk::TicketMessage> msgs;
        if (!store->GetMessages(t.number, &msgs).ok()) std::abort();
        if (!desk::MatchesWords(f.words, t, msgs)) continue;
      }
      ++n;
    }
    runs.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    cpus.push_back(static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC);
    *hits = n;
  }
  std::sort(runs.begin(), runs.end());
  std::sort(cpus.begin(), cpus.end());
  *cpu = cpus[2];
  return runs[2];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: view_bench DIR [N]\n");
    return 2;
  }
  const uint64_t n = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 100000;
  desk::LmdbOptions o;
  o.dir = argv[1];
  o.no_sync = true;
  o.map_size = 1ull << 30;
  std::unique_ptr<desk::TicketStore> store;
  desk::Status st = desk::OpenLmdbTicketStore(o, &store);
  if (!st.ok()) {
    std::fprintf(stderr, "%s\n", st.ToString().c_str());
    return 1;
  }
  auto f0 = Clock::now();
  if (Fill(store.get(), n) != 0) return 1;
  std::fprintf(stderr, "filled in %.1f s\n",
               std::chrono::duration<double>(Clock::now() - f0).count());

  struct Row {
    const char* name;
    std::string search;
    desk::ViewFilter f;
    uint64_t limit;
  } rows[] = {
      {"--search benchneedle3 (1 hit)", "benchneedle3", {}, 0},
      {"--search nosuchword (0 hits)", "nosuchword", {}, 0},
      {"--search w17 --limit 20", "w17", {}, 20},
      {"--brand globex (fields only)", "", {.brand = "globex"}, 0},
      {"--requester customer42@example.com", "", {.requester = "customer42@example.com"}, 0},
  };
  std::printf("| view at %llu tickets | hits | wall s | CPU s |\n|---|---|---|---|\n",
              static_cast<unsigned long long>(n));
  for (Row& r : rows) {
    if (!r.search.empty()) desk::SearchWords(r.search, &r.f.words);
    size_t hits = 0, scan_hits = 0;
    double cpu = 0;
    double s = Time(store.get(), r.f, r.limit, false, &scan_hits, &cpu);
    std::printf("| `%s`%s | %zu | %.3f | %.3f |\n", r.name, r.search.empty() ? "" : ", scan",
                scan_hits, s, cpu);
    if (r.search.empty()) continue;
    s = Time(store.get(), r.f, r.limit, true, &hits, &cpu);
    std::printf("| `%s`, index | %zu | %.3f | %.3f |\n", r.name, hits, s, cpu);
    if (hits != scan_hits) {
      std::fprintf(stderr, "index and scan disagree: %zu vs %zu hits\n", hits, scan_hits);
      return 1;
    }
  }
  return 0;
}
