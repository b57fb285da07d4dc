// deskmilter: the daemon. Parses the command line, loads the config, opens the ticket store, builds
// the Engine, opens the milter socket and runs libmilter in the foreground (systemd Type=notify:
// READY=1 once the socket listens, RELOADING=1/READY=1 around a SIGHUP reload, STOPPING=1, STATUS=
// and WATCHDOG=1 from the main loop; see milter/notify.h).
//
//   deskmilter -c FILE [-n] [-f] [--help] [--version]
//
// Exit codes: 0 clean stop; 1 start-up or runtime failure (store, socket, libmilter); 64 usage;
// 78 (EX_CONFIG) configuration error at start-up (what an edit of the file fixes, a directory it
// writes missing or unwritable included: config/dirs.h); a socket in use or a store that cannot be
// opened is 1, so systemd retries. -n exits 0 (config ok) or 1.
//
// Signals. libmilter's own signal thread sigwait()s for SIGHUP, SIGTERM and SIGINT, and treats
// SIGHUP like SIGTERM (stop). deskmilter wants SIGHUP to reload instead, so:
//   - smfi_main runs on a thread of its own with all three blocked (as libmilter also does); every
//     thread libmilter starts inherits that mask;
//   - the main thread keeps SIGHUP, SIGTERM and SIGINT unblocked with handlers that write to a
//     self-pipe; the main thread reloads on SIGHUP, and on SIGTERM/SIGINT tells systemd STOPPING=1
//     and calls smfi_stop() (libmilter's graceful stop, as if its own thread had seen the signal).
// Linux delivers a process-directed signal to the thread-group leader (the main thread) whenever
// that thread does not block it, before considering other threads, so the signals reach the
// handlers and not libmilter's sigwait. SA_NODEFER keeps them unblocked even while a handler runs.
// This relies on that Linux rule; tests/protocol/reload.lua checks a burst of SIGHUPs.
//
// Reload: the file is loaded and validated again; on success a new Engine (same open store) is
// published for new connections; open connections keep their snapshot. Options that need a restart
// (socket, socket mode, timeout, store dir and map size) are reported when they change. A failed
// reload is logged and the running configuration stays. SIGHUP also rebuilds the virus engine from
// scanner.database_dir; a scanner thread does so whenever the directory changes (freshclam), every
// scanner.reload_check_seconds. Both build the new engine while mail is scanned with the old one.
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libmilter/mfapi.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/random.h>
#include <sysexits.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "config/dirs.h"
#include "config/loader.h"
#include "config/schema.h"
#include "core/attachment_stage.h"
#include "core/auto_answer.h"
#include "core/engine.h"
#include "core/lmdb_store.h"
#include "core/routing.h"
#include "core/virus_scanner.h"
#include "core/mime_parser.h"
#include "milter/filter.h"
#include "milter/listen.h"
#include "milter/log.h"
#include "milter/notify.h"
#include "milter/outbox_worker.h"
#include "milter/transcript_worker.h"
#include "milter/runtime.h"
#include "milter/stats.h"
#include "milter/steady_clock.h"

namespace desk::milter {
namespace {

// Keep in step with project(VERSION) in CMakeLists.txt.
constexpr const char* kVersion = "0.1.0";
// How long a stop waits for open connections to finish their message before exiting anyway.
constexpr std::chrono::seconds kDrainTimeout{10};
// How often the main loop refreshes systemd's STATUS= line when no watchdog asks for more often.
constexpr std::chrono::seconds kStatusInterval{5};

int g_wake_pipe[2] = {-1, -1};  // [0] read by the main thread; [1] written by handler and thread

void Wake(char what) {
  int saved = errno;
  ssize_t n = write(g_wake_pipe[1], &what, 1);
  (void)n;  // a full pipe already holds a wake-up
  errno = saved;
}

void OnSighup(int) { Wake('h'); }
void OnStop(int) { Wake('t'); }

struct Args {
  std::string config;
  bool check = false;
  bool foreground = false;
  bool help = false;
  bool version = false;
};

void Usage(FILE* out) {
  std::fprintf(out,
               "usage: deskmilter -c FILE [-n] [-f]\n"
               "       deskmilter --help | --version\n"
               "\n"
               "  -c, --config FILE  configuration file (TOML)\n"
               "  -n, --check        check FILE and, with scanning on, the virus database;\n"
               "                     print \"FILE: ok\" or the error, exit\n"
               "  -f, --foreground   log to stderr (default: syslog, facility mail, unless\n"
               "                     stderr is a terminal); deskmilter never forks\n"
               "  -h, --help         this text and every configuration option\n"
               "  -V, --version      print the version\n"
               "\n"
               "Signals: SIGHUP reloads FILE, SIGTERM/SIGINT stop.\n");
}

bool ParseArgs(int argc, char** argv, Args* args) {
  static const option kLong[] = {
      {"config", required_argument, nullptr, 'c'}, {"check", no_argument, nullptr, 'n'},
      {"foreground", no_argument, nullptr, 'f'},   {"help", no_argument, nullptr, 'h'},
      {"version", no_argument, nullptr, 'V'},      {nullptr, 0, nullptr, 0},
  };
  int c;
  while ((c = getopt_long(argc, argv, "c:nfhV", kLong, nullptr)) != -1) {
    switch (c) {
      case 'c': args->config = optarg; break;
      case 'n': args->check = true; break;
      case 'f': args->foreground = true; break;
      case 'h': args->help = true; break;
      case 'V': args->version = true; break;
      default: return false;
    }
  }
  if (optind != argc) {
    std::fprintf(stderr, "deskmilter: unexpected argument '%s'\n", argv[optind]);
    return false;
  }
  return true;
}

// A start-up failure: always on stderr (systemd shows it), and in the log when that is syslog.
int Fatal(const std::string& msg, int code) {
  std::fprintf(stderr, "deskmilter: %s\n", msg.c_str());
  LogError(msg);
  NotifyFailure(msg);
  return code;
}

void WarnRestartOnly(const Config& running, const Config& loaded) {
  // The options the table marks restart_only (config/schema.cc).
  for (const config::Option& o : config::Options()) {
    if (o.restart_only && config::FormatValue(o, loaded) != config::FormatValue(o, running)) {
      LogWarning(std::string(o.name) + " changed: takes effect after a restart, not a reload");
    }
  }
}

// The virus scanner outlives config reloads: one ScannerHolder, rebuilt in the background when the
// database directory changes (the scanner thread) or on SIGHUP, and replaced only when [scanner]
// options change. Guarded by g_scanner_mu (the main thread swaps it, the scanner thread reads it).
std::mutex g_scanner_mu;
std::shared_ptr<ScannerHolder> g_scanner;
ScannerOptions g_scanner_options;
int64_t g_scanner_check_seconds = 0;
bool g_scanner_fail_on_stale = false;  // scanner.on_database_failure = "fail"

// A failed reload, said as what mail meets until a good database loads.
void LogReloadFailure(const Status& st, bool fail_on_stale) {
  if (fail_on_stale) {
    LogError("virus database reload failed, every scan fails until a good database loads "
             "(scanner.on_database_failure = fail): " + st.message());
  } else {
    LogError("virus database reload failed, keeping the loaded one: " + st.message());
  }
}

bool SameScannerOptions(const ScannerOptions& a, const ScannerOptions& b) {
  return a.database_dir == b.database_dir && a.temp_dir == b.temp_dir &&
         a.max_scan_size == b.max_scan_size && a.max_file_size == b.max_file_size &&
         a.max_recursion == b.max_recursion && a.max_files == b.max_files &&
         a.max_scan_time_ms == b.max_scan_time_ms;
}

// The scanner for config: the running one (reloaded now when reload_now), or a new one when the
// options changed or scanning was off. null when scanning is off. Status::Scanner on failure.
Status ScannerFor(const Config& config, bool reload_now, std::shared_ptr<ScannerHolder>* out) {
  std::lock_guard<std::mutex> lock(g_scanner_mu);
  g_scanner_check_seconds = config.scanner_reload_check_seconds;
  g_scanner_fail_on_stale = config.scanner_on_database_failure == ScannerDatabaseFailure::kFail;
  if (!config.scanner_enabled) {
    *out = nullptr;
    return Status::Ok();
  }
  ScannerOptions options = ScannerOptionsFromConfig(config);
  if (const char* fault = std::getenv("DESKMILTER_TEST_SCANNER_FAULT")) options.fault_marker = fault;
  if (g_scanner != nullptr && SameScannerOptions(options, g_scanner_options)) {
    if (reload_now) {
      Status st = g_scanner->ReloadNow();
      if (!st.ok()) {
        LogReloadFailure(st, g_scanner_fail_on_stale);
      } else {
        LogInfo("virus database reloaded from " + options.database_dir);
      }
    }
    *out = g_scanner;
    return Status::Ok();
  }
  std::unique_ptr<ScannerHolder> holder;
  Status st = ScannerHolder::Create(options, &holder);
  if (!st.ok()) return st;
  LogInfo("virus database loaded from " + options.database_dir + ": version " +
          std::to_string(holder->Get()->db_version()) + ", " +
          std::to_string(holder->Get()->signatures()) + " signatures");
  g_scanner = std::shared_ptr<ScannerHolder>(std::move(holder));
  g_scanner_options = options;
  *out = g_scanner;
  return Status::Ok();
}

// The scanner thread: every reload_check_seconds, reload the database if its directory changed.
// Mail keeps flowing on the old engine meanwhile (ScannerHolder). Stops when *stop is set.
void ScannerLoop(std::atomic<bool>* stop) {
  auto last = std::chrono::steady_clock::now();
  while (!stop->load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    std::shared_ptr<ScannerHolder> holder;
    int64_t every = 0;
    bool fail_on_stale = false;
    {
      std::lock_guard<std::mutex> lock(g_scanner_mu);
      holder = g_scanner;
      every = g_scanner_check_seconds;
      fail_on_stale = g_scanner_fail_on_stale;
    }
    if (holder == nullptr || every <= 0) continue;
    auto now = std::chrono::steady_clock::now();
    if (now - last < std::chrono::seconds(every)) continue;
    last = now;
    bool reloaded = false;
    Status st = holder->MaybeReload(&reloaded);
    if (!st.ok()) {
      LogReloadFailure(st, fail_on_stale);
    } else if (reloaded) {
      LogInfo("virus database changed: reloaded, " + std::to_string(holder->Get()->signatures()) +
              " signatures");
    }
  }
}

// loops.installation_id when the file leaves it empty: a random id made at the first start and kept
// in the store, so two default installations never take each other's mail for a loop (the old
// fallback, milter.hostname, is "localhost" by default).
Status WithInstallationId(TicketStore* store, std::shared_ptr<const Config>* config) {
  if (!(*config)->installation_id.empty()) return Status::Ok();
  unsigned char raw[12];
  size_t got = 0;
  while (got < sizeof raw) {
    ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::Internal(std::string("getrandom: ") + std::strerror(errno));
    got += static_cast<size_t>(n);
  }
  static const char kHex[] = "0123456789abcdef";
  std::string candidate;
  for (unsigned char c : raw) {
    candidate += kHex[c >> 4];
    candidate += kHex[c & 15];
  }
  std::string id;
  Status st = LmdbInstallationId(store, candidate, &id);
  if (!st.ok()) return st;
  auto copy = std::make_shared<Config>(**config);
  copy->installation_id = id;
  *config = std::move(copy);
  return Status::Ok();
}

// "scanning on (database version V, N signatures)" or "scanning off", for the start line.
std::string ScanningSummary(const std::shared_ptr<ScannerHolder>& scanner) {
  if (scanner == nullptr) return "scanning off";
  auto engine = scanner->Get();
  return "scanning on (database version " + std::to_string(engine->db_version()) + ", " +
         std::to_string(engine->signatures()) + " signatures)";
}

// The PlanSteps of the daemon's engines beyond routing (which Engine::Create registers): the
// triggers (automatic answers), asking the account status of agent states and business hours.
void AddPlanSteps(Engine* engine, std::shared_ptr<const Config> config, TicketStore* store) {
  engine->AddPlanStep(
      std::make_unique<TriggerStep>(std::make_shared<RoutingDeskState>(std::move(config), store)));
}

void Reload(const std::string& path, const Config& running, TicketStore* store) {
  std::shared_ptr<const Config> config;
  Status st = config::LoadFile(path, &config);
  if (st.ok()) {
    std::vector<std::string> problems = config::CheckWritableDirs(*config, path);
    if (!problems.empty()) st = Status::Config(problems.front());
  }
  if (st.ok()) st = WithInstallationId(store, &config);
  std::shared_ptr<ScannerHolder> scanner;
  if (st.ok()) st = ScannerFor(*config, /*reload_now=*/true, &scanner);
  std::unique_ptr<Engine> engine;
  if (st.ok()) st = Engine::Create(config, store, scanner, &engine);
  if (st.ok()) AddPlanSteps(engine.get(), config, store);
  if (st.ok()) engine->SetClock(std::make_shared<SteadyClock>());
  if (!st.ok()) {
    LogError("reload failed, keeping the running configuration: " + st.message());
    return;
  }
  WarnRestartOnly(running, *config);
  PublishEngine(std::shared_ptr<const Engine>(std::move(engine)));
  LogInfo("reloaded " + path + ": " + std::to_string(config->queues.size()) + " queue(s)");
}

// -n: everything start-up checks that needs neither the socket nor the store's lock: the file,
// and with [scanner] enabled the virus database (present, loadable, with signatures). Prints
// "FILE: ok" or the first error (naming file and key), exits 0 or 1.
int Check(const Args& args) {
  std::shared_ptr<const Config> config;
  Status st = config::LoadFile(args.config, &config);
  if (!st.ok()) {
    std::fprintf(stderr, "%s\n", st.message().c_str());
    return 1;
  }
  std::vector<std::string> problems = config::CheckWritableDirs(*config, args.config);
  for (const std::string& p : problems) std::fprintf(stderr, "%s\n", p.c_str());
  if (!problems.empty()) return 1;
  if (config->scanner_enabled) {
    std::unique_ptr<ScannerHolder> holder;
    st = ScannerHolder::Create(ScannerOptionsFromConfig(*config), &holder);
    if (!st.ok()) {
      std::fprintf(stderr,
                   "%s: scanner.database_dir: %s (set [scanner] enabled = false to run without "
                   "virus scanning)\n",
                   args.config.c_str(), st.message().c_str());
      return 1;
    }
  }
  std::fprintf(stderr, "%s: ok\n", args.config.c_str());
  return 0;
}

int Run(const Args& args) {
  InitLog(!args.foreground && !isatty(STDERR_FILENO));
  InitMimeLibrary();

  std::shared_ptr<const Config> config;
  Status st = config::LoadFile(args.config, &config);
  if (!st.ok()) return Fatal(st.message(), EX_CONFIG);
  // Every directory the daemon writes, before anything is opened: all problems at once.
  std::vector<std::string> problems = config::CheckWritableDirs(*config, args.config);
  for (size_t i = 0; i + 1 < problems.size(); ++i) Fatal(problems[i], EX_CONFIG);
  if (!problems.empty()) return Fatal(problems.back(), EX_CONFIG);

  LmdbOptions lmdb;
  lmdb.dir = config->store_dir;
  lmdb.map_size = static_cast<uint64_t>(config->store_map_mb) << 20;
  std::unique_ptr<TicketStore> store;
  st = OpenLmdbTicketStore(lmdb, &store);
  if (!st.ok()) return Fatal("store.dir: " + config->store_dir + ": " + st.ToString(), 1);
  st = WithInstallationId(store.get(), &config);
  if (!st.ok()) return Fatal("store.dir: " + config->store_dir + ": " + st.ToString(), 1);

  std::shared_ptr<ScannerHolder> scanner;
  st = ScannerFor(*config, /*reload_now=*/false, &scanner);
  if (!st.ok()) {
    return Fatal(args.config + ": scanner.database_dir: " + st.message() +
                     " (set [scanner] enabled = false to run without virus scanning)",
                 EX_CONFIG);
  }
  std::unique_ptr<Engine> engine;
  st = Engine::Create(config, store.get(), scanner, &engine);
  if (!st.ok()) {
    return Fatal(args.config + ": " + st.message(),
                 st.error_class() == ErrorClass::kConfig ? EX_CONFIG : 1);
  }
  st = SeedDefaultTriggers(store.get());
  if (!st.ok()) return Fatal("store.dir: " + config->store_dir + ": " + st.ToString(), 1);
  AddPlanSteps(engine.get(), config, store.get());
  engine->SetClock(std::make_shared<SteadyClock>());
  PublishEngine(std::shared_ptr<const Engine>(std::move(engine)));

  if (smfi_register(FilterDescription()) != MI_SUCCESS) return Fatal("smfi_register failed", 1);
  st = OpenListener(*config);
  if (!st.ok()) {
    return Fatal(args.config + ": " + st.message(),
                 st.error_class() == ErrorClass::kConfig ? EX_CONFIG : 1);
  }

  // Signals: see the file comment.
  if (pipe2(g_wake_pipe, O_CLOEXEC) != 0 ||
      fcntl(g_wake_pipe[1], F_SETFL, O_NONBLOCK) != 0) {
    return Fatal(std::string("pipe: ") + std::strerror(errno), 1);
  }
  struct sigaction sa {};
  sa.sa_handler = OnSighup;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART | SA_NODEFER;
  sigaction(SIGHUP, &sa, nullptr);
  sa.sa_handler = OnStop;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  sigset_t main_set;
  sigemptyset(&main_set);
  sigaddset(&main_set, SIGHUP);
  sigaddset(&main_set, SIGTERM);
  sigaddset(&main_set, SIGINT);
  pthread_sigmask(SIG_UNBLOCK, &main_set, nullptr);

  // A scrape must not wait for a virus database reload (which holds g_scanner_mu for as long as
  // the load takes): when busy, the gauges keep the values of the previous scrape.
  st = StartMetrics(*config, {store.get(), []() -> std::shared_ptr<ScannerHolder> {
                                std::unique_lock<std::mutex> lock(g_scanner_mu, std::try_to_lock);
                                return lock.owns_lock() ? g_scanner : nullptr;
                              }});
  if (!st.ok()) return Fatal(args.config + ": " + st.message(), 1);

  // Started after the last start-up check that can fail: an early return destroys the store,
  // which the worker's thread uses.
  StartOutboxWorker(store.get());
  PurgeExpiredQuarantine(*config, static_cast<int64_t>(std::time(nullptr)));
  LogInfo("starting deskmilter " + std::string(kVersion) + " on " + config->socket + ", " +
          std::to_string(config->queues.size()) + " queue(s), store " + config->store_dir +
          ", " + ScanningSummary(scanner) + ", installation_id " + config->installation_id);

  int milter_rc = MI_SUCCESS;
  std::thread milter([&milter_rc] {
    sigset_t all;
    sigemptyset(&all);
    sigaddset(&all, SIGHUP);
    sigaddset(&all, SIGTERM);
    sigaddset(&all, SIGINT);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    milter_rc = smfi_main();
    Wake('x');
  });

  std::atomic<bool> scanner_stop{false};
  std::thread scanner_thread([&scanner_stop] {
    sigset_t all;
    sigemptyset(&all);
    sigaddset(&all, SIGHUP);
    sigaddset(&all, SIGTERM);
    sigaddset(&all, SIGINT);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    ScannerLoop(&scanner_stop);
  });

  // The socket listens (OpenListener) and the Engine is published: ready for the MTA.
  NotifyStatus(/*force=*/true);
  NotifyReady();

  // The main loop: reloads on SIGHUP, and between wake-ups pings systemd's watchdog (when it asked
  // for one) and refreshes STATUS=. A hung main thread therefore gets the unit restarted.
  const std::chrono::microseconds watchdog = WatchdogInterval();
  const auto tick = watchdog.count() > 0
                        ? std::min<std::chrono::microseconds>(watchdog, kStatusInterval)
                        : std::chrono::microseconds(kStatusInterval);
  const int tick_ms = static_cast<int>(std::max<int64_t>(1, tick.count() / 1000));
  if (watchdog.count() > 0) NotifyWatchdog();
  bool stopping = false;
  auto stop = [&stopping] {
    if (stopping) return;
    stopping = true;
    NotifyStopping();
    LogInfo("stopping: waiting for libmilter to close its socket");
    smfi_stop();
  };
  for (;;) {
    pollfd pfd{g_wake_pipe[0], POLLIN, 0};
    int ready = poll(&pfd, 1, tick_ms);
    if (ready < 0 && errno != EINTR) {
      LogError(std::string("poll: ") + std::strerror(errno) + ": stopping");
      stop();
      break;
    }
    if (watchdog.count() > 0) NotifyWatchdog();
    NotifyStatus();
    if (ready <= 0) continue;
    char c = 0;
    ssize_t n = read(g_wake_pipe[0], &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {  // cannot happen while we hold the write end
      stop();
      break;
    }
    if (c == 'x') break;
    if (c == 't') stop();
    if (c == 'h' && !stopping) {
      NotifyReloading();
      Reload(args.config, *config, store.get());
      NotifyReady();
    }
  }
  if (!stopping) NotifyStopping();  // smfi_main returned by itself
  milter.join();
  scanner_stop = true;
  scanner_thread.join();

  const int open = WaitForConnections(kDrainTimeout);
  StopMetrics();  // flushes the per-minute counts
  if (open > 0) {
    // Worker threads may still use the Engine and the store: do not tear them down under them.
    // Every ticket write already committed is durable; the MTA tempfails what was in flight.
    LogWarning("stopping with " + std::to_string(open) + " milter connection(s) still open");
    std::fflush(nullptr);
    _exit(milter_rc == MI_SUCCESS ? 0 : 1);
  }
  StopTranscriptWorker();  // before the store it reads is closed
  StopOutboxWorker();
  PublishEngine(nullptr);
  store.reset();
  LogInfo(milter_rc == MI_SUCCESS ? "stopped" : "stopped: smfi_main failed");
  return milter_rc == MI_SUCCESS ? 0 : 1;
}

}  // namespace
}  // namespace desk::milter

int main(int argc, char** argv) {
  using namespace desk::milter;
  Args args;
  if (!ParseArgs(argc, argv, &args)) {
    Usage(stderr);
    return EX_USAGE;
  }
  if (args.help) {
    Usage(stdout);
    std::printf("\nConfiguration options:\n%s", desk::config::OptionsHelp().c_str());
    return 0;
  }
  if (args.version) {
    std::printf("deskmilter %s\n", kVersion);
    return 0;
  }
  if (args.config.empty()) {
    std::fprintf(stderr, "deskmilter: -c FILE is required\n");
    Usage(stderr);
    return EX_USAGE;
  }
  if (args.check) return Check(args);
  return Run(args);
}
