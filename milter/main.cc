// deskmilter: the daemon. Parses the command line, loads the config, opens the ticket store, builds
// the Engine, opens the milter socket and runs libmilter in the foreground (systemd Type=simple).
//
//   deskmilter -c FILE [-n] [-f] [--help] [--version]
//
// Exit codes: 0 clean stop; 1 start-up or runtime failure (store, socket, libmilter); 64 usage;
// 78 (EX_CONFIG) configuration error at start-up. -n exits 0 (config ok) or 1.
//
// Signals. libmilter's own signal thread sigwait()s for SIGHUP, SIGTERM and SIGINT, and treats
// SIGHUP like SIGTERM (stop). deskmilter wants SIGHUP to reload instead, so:
//   - smfi_main runs on a thread of its own with all three blocked (as libmilter also does); every
//     thread libmilter starts inherits that mask;
//   - the main thread blocks SIGTERM/SIGINT (they reach only libmilter: graceful stop) but keeps
//     SIGHUP unblocked with a handler that writes to a self-pipe; the main thread reloads.
// Linux delivers a process-directed signal to the thread-group leader (the main thread) whenever
// that thread does not block it, before considering other threads, so SIGHUP reaches the handler
// and not libmilter's sigwait. SA_NODEFER keeps SIGHUP unblocked even while the handler runs. This
// relies on that Linux rule; tests/protocol/reload.lua checks a burst of SIGHUPs.
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
#include <pthread.h>
#include <signal.h>
#include <sysexits.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "config/loader.h"
#include "config/schema.h"
#include "core/attachment_stage.h"
#include "core/engine.h"
#include "core/lmdb_store.h"
#include "core/virus_scanner.h"
#include "core/mime_parser.h"
#include "milter/filter.h"
#include "milter/listen.h"
#include "milter/log.h"
#include "milter/runtime.h"

namespace desk::milter {
namespace {

// Keep in step with project(VERSION) in CMakeLists.txt.
constexpr const char* kVersion = "0.1.0";
// How long a stop waits for open connections to finish their message before exiting anyway.
constexpr std::chrono::seconds kDrainTimeout{10};

int g_wake_pipe[2] = {-1, -1};  // [0] read by the main thread; [1] written by handler and thread

void Wake(char what) {
  int saved = errno;
  ssize_t n = write(g_wake_pipe[1], &what, 1);
  (void)n;  // a full pipe already holds a wake-up
  errno = saved;
}

void OnSighup(int) { Wake('h'); }

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
               "  -n, --check        load and validate FILE, print \"FILE: ok\" or the error, exit\n"
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
  if (!config.scanner_enabled) {
    *out = nullptr;
    return Status::Ok();
  }
  ScannerOptions options = ScannerOptionsFromConfig(config);
  if (const char* fault = std::getenv("DESKMILTER_TEST_SCANNER_FAULT")) options.fault_marker = fault;
  if (g_scanner != nullptr && SameScannerOptions(options, g_scanner_options)) {
    if (reload_now) {
      Status st = g_scanner->ReloadNow();
      if (!st.ok()) LogError("virus database reload failed, keeping the loaded one: " + st.message());
      else LogInfo("virus database reloaded from " + options.database_dir);
    }
    *out = g_scanner;
    return Status::Ok();
  }
  std::unique_ptr<ScannerHolder> holder;
  Status st = ScannerHolder::Create(options, &holder);
  if (!st.ok()) return st;
  LogInfo("virus database loaded from " + options.database_dir + ": " +
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
    {
      std::lock_guard<std::mutex> lock(g_scanner_mu);
      holder = g_scanner;
      every = g_scanner_check_seconds;
    }
    if (holder == nullptr || every <= 0) continue;
    auto now = std::chrono::steady_clock::now();
    if (now - last < std::chrono::seconds(every)) continue;
    last = now;
    bool reloaded = false;
    Status st = holder->MaybeReload(&reloaded);
    if (!st.ok()) {
      LogError("virus database reload failed, keeping the loaded one: " + st.message());
    } else if (reloaded) {
      LogInfo("virus database changed: reloaded, " + std::to_string(holder->Get()->signatures()) +
              " signatures");
    }
  }
}

void Reload(const std::string& path, const Config& running, TicketStore* store) {
  std::shared_ptr<const Config> config;
  Status st = config::LoadFile(path, &config);
  std::shared_ptr<ScannerHolder> scanner;
  if (st.ok()) st = ScannerFor(*config, /*reload_now=*/true, &scanner);
  std::unique_ptr<Engine> engine;
  if (st.ok()) st = Engine::Create(config, store, scanner, &engine);
  if (!st.ok()) {
    LogError("reload failed, keeping the running configuration: " + st.message());
    return;
  }
  WarnRestartOnly(running, *config);
  PublishEngine(std::shared_ptr<const Engine>(std::move(engine)));
  LogInfo("reloaded " + path + ": " + std::to_string(config->queues.size()) + " queue(s)");
}

int Run(const Args& args) {
  InitLog(!args.foreground && !isatty(STDERR_FILENO));
  InitMimeLibrary();

  std::shared_ptr<const Config> config;
  Status st = config::LoadFile(args.config, &config);
  if (!st.ok()) return Fatal(st.message(), EX_CONFIG);

  LmdbOptions lmdb;
  lmdb.dir = config->store_dir;
  lmdb.map_size = static_cast<uint64_t>(config->store_map_mb) << 20;
  std::unique_ptr<TicketStore> store;
  st = OpenLmdbTicketStore(lmdb, &store);
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
  sigset_t stop_set;
  sigemptyset(&stop_set);
  sigaddset(&stop_set, SIGTERM);
  sigaddset(&stop_set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_set, nullptr);
  sigset_t unblock_hup;
  sigemptyset(&unblock_hup);
  sigaddset(&unblock_hup, SIGHUP);
  pthread_sigmask(SIG_UNBLOCK, &unblock_hup, nullptr);

  LogInfo("starting deskmilter " + std::string(kVersion) + " on " + config->socket + ", " +
          std::to_string(config->queues.size()) + " queue(s), store " + config->store_dir);

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

  for (;;) {
    char c = 0;
    ssize_t n = read(g_wake_pipe[0], &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || c == 'x') break;
    if (c == 'h') Reload(args.config, *config, store.get());
  }
  milter.join();
  scanner_stop = true;
  scanner_thread.join();

  if (int open = WaitForConnections(kDrainTimeout); open > 0) {
    // Worker threads may still use the Engine and the store: do not tear them down under them.
    // Every ticket write already committed is durable; the MTA tempfails what was in flight.
    LogWarning("stopping with " + std::to_string(open) + " milter connection(s) still open");
    std::fflush(nullptr);
    _exit(milter_rc == MI_SUCCESS ? 0 : 1);
  }
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
  if (args.check) {
    std::shared_ptr<const desk::Config> config;
    desk::Status st = desk::config::LoadFile(args.config, &config);
    if (!st.ok()) {
      std::fprintf(stderr, "%s\n", st.message().c_str());
      return 1;
    }
    std::fprintf(stderr, "%s: ok\n", args.config.c_str());
    return 0;
  }
  return Run(args);
}
