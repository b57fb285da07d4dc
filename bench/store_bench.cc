// store_bench: ticket store scaling (Google Benchmark) at 10k, 100k and 1M tickets.
//
// What it measures, for each size N (the store in one temp dir grows from one size to the next, so
// every size is filled by this program itself, in order 10k, 100k, 1M):
//   Fill/N          creating tickets until N exist, MDB_NOSYNC (LmdbOptions::no_sync, a bench-only
//                   option), one TicketStore::Write(kCreate) transaction per ticket as deskmilter
//                   does; counter tickets_per_s.
//   FindHit/N       FindMessageId of the Message-ID of a random existing ticket: the threading
//                   lookup for a reply (In-Reply-To / References). Counters p50_ns, p99_ns. An
//                   untimed warm-up of as many lookups maps the pages first (a daemon runs warm).
//   FindMiss/N      FindMessageId of an id not in the store: what every new message costs (rule 0
//                   of core/threading.h, its own Message-ID). Counters p50_ns, p99_ns.
//   AppendSync/N    Write(kAppend) of a reply to a random ticket with LMDB's default fsync per
//                   commit, as deskmilter runs it. Counters p50_us, p99_us.
//   AppendNoSync/N  the same without fsync: the B-tree and encoding cost alone, which fsync hides.
// and once, at the start, CreateSync: Write(kCreate) with fsync, with est_1M_fill_s, the time a
// durable fill of 1M tickets would take (why Fill uses MDB_NOSYNC).
//
// Message-IDs are hashes of the ticket number (as real ids are random strings), so inserts and
// lookups land on random B-tree pages. Percentiles come from timing every call with steady_clock
// (adds ~20-30 ns per call); Google Benchmark's own time is the mean. Iteration counts are fixed
// (--find_iters, --sync_iters, --nosync_iters) so the run time is predictable.
//
// Limits: needs ~1 GB of disk under $TMPDIR (or --store_dir=DIR, removed at exit unless
// --keep_store). Not part of the test command; no timed assertions.
//
// Thread-safety: single-threaded.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/lmdb_store.h"
#include "core/ticket_store.h"

namespace {

using Clock = std::chrono::steady_clock;

constexpr int64_t kNow = 1700000000;  // the store never reads the clock; any fixed time will do
constexpr uint64_t kSizes[] = {10'000, 100'000, 1'000'000};

std::string g_dir;
bool g_keep = false;
uint64_t g_filled = 0;     // tickets in the store
uint64_t g_appended = 0;   // replies appended so far (unique ids)
std::unique_ptr<desk::TicketStore> g_store;
bool g_store_no_sync = false;

uint64_t SplitMix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// The Message-ID of ticket k's first message: a random-looking string, like real ids.
std::string TicketMessageId(uint64_t k) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%016" PRIx64 ".%" PRIu64 "@mail.bench.test", SplitMix(k), k);
  return buf;
}

std::string ReplyMessageId(uint64_t n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%016" PRIx64 ".r%" PRIu64 "@client.bench.test",
                SplitMix(n ^ 0x5555aaaa5555aaaaull), n);
  return buf;
}

void Die(const std::string& what, const desk::Status& s) {
  std::fprintf(stderr, "store_bench: %s: %s\n", what.c_str(), s.message().c_str());
  std::exit(1);
}

// Closes the current store (LMDB allows one env per dir per process) and opens it in the mode.
desk::TicketStore* Store(bool no_sync) {
  if (g_store != nullptr && g_store_no_sync == no_sync) return g_store.get();
  g_store.reset();
  desk::LmdbOptions o;
  o.dir = g_dir;
  o.map_size = 2ull << 30;  // room for 1M tickets without growing
  o.no_sync = no_sync;
  desk::Status s = desk::OpenLmdbTicketStore(o, &g_store);
  if (!s.ok()) Die("open " + g_dir, s);
  g_store_no_sync = no_sync;
  return g_store.get();
}

const std::string kBody =
    "Hello, since this morning the invoice export stops with an error after the first page. "
    "Could you have a look? The order number is 4711 and it worked fine last week. Thanks, Kim";

desk::TicketWrite CreateWrite(uint64_t k) {
  desk::TicketWrite w;
  w.op = desk::TicketWrite::Op::kCreate;
  w.new_ticket.queue = "support";
  w.new_ticket.title = "Invoice export fails after page 1 (order " + std::to_string(k) + ")";
  w.new_ticket.requester = {"Kim Customer", "kim" + std::to_string(k % 5000) + "@client.test"};
  w.new_ticket.description = kBody;
  w.new_ticket.received_at = "support@example.test";
  w.message.direction = desk::Direction::kInbound;
  w.message.kind = "new";
  w.message.message_id = TicketMessageId(k);
  w.message.queue_id = "4Q" + std::to_string(k);
  w.message.from = w.new_ticket.requester;
  w.message.to = {{"Support", "support@example.test"}};
  w.message.envelope_from = w.new_ticket.requester.address;
  w.message.envelope_rcpts = {"support@example.test"};
  w.message.subject = w.new_ticket.title;
  w.message.received_at = kNow;
  w.message.size = 2048;
  w.message.body = kBody;
  w.events.push_back({0, 0, "created", "Ticket created from email", 0});
  w.participants = {w.new_ticket.requester.address, "support@example.test"};
  w.now = kNow;
  return w;
}

desk::TicketWrite AppendWrite(uint64_t ticket, uint64_t n) {
  desk::TicketWrite w;
  w.op = desk::TicketWrite::Op::kAppend;
  w.ticket = ticket;
  w.message.kind = "reply";
  w.message.message_id = ReplyMessageId(n);
  w.message.from = {"Kim Customer", "kim@client.test"};
  w.message.to = {{"Support", "support@example.test"}};
  w.message.subject = "Re: Invoice export fails";
  w.message.received_at = kNow + 60;
  w.message.size = 2048;
  w.message.body = kBody;
  w.events.push_back({0, 0, "latest_email", "mid:" + w.message.message_id, 0});
  w.referenced_ids = {TicketMessageId(ticket)};
  w.participants = {"kim@client.test"};
  w.now = kNow + 60;
  return w;
}

void CreateOne(desk::TicketStore* store, uint64_t k) {
  desk::WriteResult r;
  desk::Status s = store->Write(CreateWrite(k), &r);
  if (!s.ok()) Die("create ticket " + std::to_string(k), s);
  if (r.ticket != k) {
    std::fprintf(stderr, "store_bench: ticket %" PRIu64 " got number %" PRIu64 "\n", k, r.ticket);
    std::exit(1);
  }
}

void SetPercentiles(benchmark::State& state, std::vector<double>& ns, double scale,
                    const char* unit) {
  if (ns.empty()) return;
  std::sort(ns.begin(), ns.end());
  auto at = [&](double q) { return ns[std::min(ns.size() - 1, static_cast<size_t>(q * ns.size()))]; };
  state.counters[std::string("p50_") + unit] = at(0.50) / scale;
  state.counters[std::string("p99_") + unit] = at(0.99) / scale;
  state.counters[std::string("max_") + unit] = ns.back() / scale;
}

void BM_CreateSync(benchmark::State& state) {
  // Tickets created here are numbered after whatever exists: run this first, on the empty store.
  desk::TicketStore* store = Store(false);
  Clock::time_point t0 = Clock::now();
  for (auto _ : state) CreateOne(store, ++g_filled);
  double s = std::chrono::duration<double>(Clock::now() - t0).count();
  double per = s / static_cast<double>(state.iterations());
  state.counters["tickets_per_s"] = 1.0 / per;
  state.counters["est_1M_fill_s"] = per * 1e6;
}

void BM_Fill(benchmark::State& state) {
  const uint64_t n = static_cast<uint64_t>(state.range(0));
  desk::TicketStore* store = Store(true);
  const uint64_t from = g_filled;
  for (auto _ : state) {
    while (g_filled < n) CreateOne(store, ++g_filled);
  }
  state.counters["tickets_added"] = static_cast<double>(n - from);
  state.counters["tickets_per_s"] = benchmark::Counter(static_cast<double>(n - from),
                                                       benchmark::Counter::kIsRate);
}

void Find(benchmark::State& state, bool hit) {
  const uint64_t n = static_cast<uint64_t>(state.range(0));
  if (g_filled < n) state.SkipWithError("store not filled (Fill must run first)");
  desk::TicketStore* store = Store(false);
  // Keys are made before the timed loop: generating them is not the lookup.
  std::mt19937_64 rng(n);
  std::uniform_int_distribution<uint64_t> pick(1, n);
  std::vector<uint64_t> want(static_cast<size_t>(state.max_iterations));
  std::vector<std::string> ids(want.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    want[i] = pick(rng);
    ids[i] = hit ? TicketMessageId(want[i]) : ReplyMessageId(want[i] + (1ull << 40));
  }
  // Warm-up, untimed: as many other random lookups, so the B-tree pages are mapped into this
  // process (a fresh mmap takes a minor fault per page on first touch) as in a long-running daemon.
  for (size_t w = 0; w < ids.size(); ++w) {
    desk::MessageIdEntry e;
    (void)store->FindMessageId(TicketMessageId(pick(rng)), &e);
  }
  std::vector<double> ns;
  ns.reserve(ids.size());
  size_t i = 0;
  for (auto _ : state) {
    desk::MessageIdEntry e;
    Clock::time_point t0 = Clock::now();
    desk::Status s = store->FindMessageId(ids[i], &e);
    ns.push_back(std::chrono::duration<double, std::nano>(Clock::now() - t0).count());
    if (hit ? (!s.ok() || e.ticket != want[i]) : !s.IsNotFound()) {
      state.SkipWithError(("unexpected FindMessageId result for " + ids[i]).c_str());
      break;
    }
    ++i;
  }
  SetPercentiles(state, ns, 1.0, "ns");
}

void BM_FindHit(benchmark::State& state) { Find(state, true); }
void BM_FindMiss(benchmark::State& state) { Find(state, false); }

void Append(benchmark::State& state, bool no_sync) {
  const uint64_t n = static_cast<uint64_t>(state.range(0));
  if (g_filled < n) state.SkipWithError("store not filled (Fill must run first)");
  desk::TicketStore* store = Store(no_sync);
  std::mt19937_64 rng(n + 1);
  std::uniform_int_distribution<uint64_t> pick(1, n);
  std::vector<double> ns;
  ns.reserve(static_cast<size_t>(state.max_iterations));
  for (auto _ : state) {
    state.PauseTiming();
    desk::TicketWrite w = AppendWrite(pick(rng), ++g_appended);
    state.ResumeTiming();
    desk::WriteResult r;
    Clock::time_point t0 = Clock::now();
    desk::Status s = store->Write(w, &r);
    ns.push_back(std::chrono::duration<double, std::nano>(Clock::now() - t0).count());
    if (!s.ok() || r.duplicate || r.ticket != w.ticket) {
      state.SkipWithError(("append failed: " + s.message()).c_str());
      break;
    }
  }
  SetPercentiles(state, ns, 1000.0, "us");
}

void BM_AppendSync(benchmark::State& state) { Append(state, false); }
void BM_AppendNoSync(benchmark::State& state) { Append(state, true); }

void Register(int64_t find_iters, int64_t sync_iters, int64_t nosync_iters) {
  benchmark::RegisterBenchmark("CreateSync", BM_CreateSync)
      ->Iterations(sync_iters)->UseRealTime()->Unit(benchmark::kMicrosecond);
  for (uint64_t n : kSizes) {
    const int64_t a = static_cast<int64_t>(n);
    benchmark::RegisterBenchmark("Fill", BM_Fill)
        ->Arg(a)->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark("FindHit", BM_FindHit)
        ->Arg(a)->Iterations(find_iters)->Unit(benchmark::kNanosecond);
    benchmark::RegisterBenchmark("FindMiss", BM_FindMiss)
        ->Arg(a)->Iterations(find_iters)->Unit(benchmark::kNanosecond);
    benchmark::RegisterBenchmark("AppendNoSync", BM_AppendNoSync)
        ->Arg(a)->Iterations(nosync_iters)->UseRealTime()->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark("AppendSync", BM_AppendSync)
        ->Arg(a)->Iterations(sync_iters)->UseRealTime()->Unit(benchmark::kMicrosecond);
  }
}

// Our own flags, taken out of argv before Google Benchmark parses the rest.
int64_t TakeFlag(int* argc, char** argv, const char* name, int64_t def, std::string* str = nullptr) {
  const size_t len = std::strlen(name);
  for (int i = 1; i < *argc; ++i) {
    if (std::strncmp(argv[i], name, len) == 0 && argv[i][len] == '=') {
      const char* v = argv[i] + len + 1;
      int64_t out = str ? 1 : std::strtoll(v, nullptr, 10);
      if (str) *str = v;
      std::memmove(&argv[i], &argv[i + 1], sizeof(char*) * static_cast<size_t>(*argc - i));
      --*argc;
      return out;
    }
    if (std::strcmp(argv[i], name) == 0 && str == nullptr) {  // bare boolean flag
      std::memmove(&argv[i], &argv[i + 1], sizeof(char*) * static_cast<size_t>(*argc - i));
      --*argc;
      return 1;
    }
  }
  return def;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir;
  bool given_dir = TakeFlag(&argc, argv, "--store_dir", 0, &dir) != 0;
  g_keep = TakeFlag(&argc, argv, "--keep_store", 0) != 0;
  const int64_t find_iters = TakeFlag(&argc, argv, "--find_iters", 200000);
  const int64_t sync_iters = TakeFlag(&argc, argv, "--sync_iters", 300);
  const int64_t nosync_iters = TakeFlag(&argc, argv, "--nosync_iters", 20000);
  if (!given_dir) {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/desk-store-bench-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data()) == nullptr) {
      std::perror("store_bench: mkdtemp");
      return 1;
    }
    dir = buf.data();
  } else if (std::filesystem::exists(dir) && !std::filesystem::is_empty(dir)) {
    std::fprintf(stderr, "store_bench: --store_dir %s is not empty\n", dir.c_str());
    return 1;
  }
  g_dir = dir;
  Register(find_iters, sync_iters, nosync_iters);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  g_store.reset();
  if (!g_keep) {
    std::error_code ec;
    std::filesystem::remove_all(g_dir, ec);
  }
  return 0;
}
