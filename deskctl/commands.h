// deskctl's commands, each a function from parsed options to an exit status.
//
// main.cc owns the command line (CLI11) and nothing else; the commands own their output. Exit
// statuses are the documented ones (docs/DESKCTL.md): 0 success, 1 failure (an unreadable file, an
// unknown ticket, a store error), 2 usage (from CLI11), 78 configuration (EX_CONFIG).
//
// Thread-safety: single-threaded tool; these run once per process.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/engine.h"
#include "core/ticket_store.h"

namespace desk::ctl {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr int kExitConfig = 78;

// What a command runs with: the loaded config, the store (nullptr when it was not opened) and the
// engine over both.
struct Context {
  std::shared_ptr<const Config> config;
  std::unique_ptr<TicketStore> store;
  std::unique_ptr<Engine> engine;
};

enum class StoreMode {
  kCreate,    // open the store, creating its directory if needed (ingest)
  kIfExists,  // open it only if its directory exists; else store stays nullptr (dry runs)
  kRequired,  // open it; a missing directory prints "deskctl: no store at PATH" and fails (reads)
};

// Loads config_path, opens the store and builds the engine. On failure prints the error to stderr
// and returns the exit status to use; returns kExitOk on success.
int OpenContext(const std::string& config_path, StoreMode mode, Context* out);

struct IngestOptions {
  std::string mail_from;
  std::vector<std::string> rcpts;
  std::string auth_user;
  std::string client_addr;
  std::string queue_id;
  bool dry_run = false;
  std::vector<std::string> files;  // "-" is standard input
};
int RunIngest(const std::string& config_path, const IngestOptions& opts);

struct ListOptions {
  std::string queue;          // "" = every queue
  std::string status = "all";  // "open", "closed", "all"
  uint64_t limit = 0;         // 0 = no limit
  std::string sort = "updated";  // "updated": last change first; "number": newest ticket first
  bool json = false;
  // Views (deskctl/views.h): "" = any.
  std::string brand, requester, assignee, received_at, since, until, search;
  std::vector<std::string> sla;  // {"breached"} or {"due-within", "1h"}, or running|ok|none
  int64_t now = 0;               // 0 = the clock; tests pass a fixed time
};
int RunTickets(const std::string& config_path, const ListOptions& opts);

// pdf_path non-empty: writes the PDF transcript there (core/transcript_pdf.h) instead of printing.
int RunTicketShow(const std::string& config_path, uint64_t number, bool json,
                  const std::string& pdf_path = "");
// deskctl/store_admin.cc: the quarantine of stripped mail, and retention.
int RunQuarantineList(const std::string& config_path, bool json);
// Writes entry id's original message to output ("" or "-" = standard output).
int RunQuarantineGet(const std::string& config_path, const std::string& id,
                     const std::string& output);
// older_than_days < 0: attachments.quarantine_days.
int RunQuarantinePurge(const std::string& config_path, int64_t older_than_days);
struct PurgeOptions {
  std::string closed_before;  // YYYY-MM-DD (00:00 UTC) or YYYY-MM-DDTHH:MM:SSZ
  bool dry_run = false;
};
int RunPurge(const std::string& config_path, const PurgeOptions& opts);
// Builds (or with restart, rebuilds) the store's word index (LmdbBuildWordIndex).
int RunReindex(const std::string& config_path, bool restart);
int RunTicketSetStatus(const std::string& config_path, uint64_t number, TicketStatus status);

// `stats`: the last hour's mail per minute from the store, and the daemon's metrics endpoint when
// configured (deskctl/stats.cc, docs/METRICS.md).
int RunStats(const std::string& config_path, bool json);
// Writes a stored attachment / the original of a message to out_path ("" or "-" = stdout).
// A malformed hash, an unknown hash, ticket or message, or an original that was not kept: exit 1.
int RunAttachmentGet(const std::string& config_path, const std::string& sha256,
                     const std::string& out_path);
int RunMessageGet(const std::string& config_path, uint64_t ticket, uint32_t seq,
                  const std::string& out_path);

// deskctl/agents.cc (core/routing.h): agents' states, assignment, the queues' account status.
// Unknown queue, agent, state or ticket: an error on stderr and kExitFailure, nothing changed.
int RunAgents(const std::string& config_path, const std::string& queue, bool json);
// by: recorded as who set the state ("" = "deskctl").
int RunAgentState(const std::string& config_path, const std::string& address,
                  const std::string& state, const std::string& by);
// address "" unassigns.
int RunAssign(const std::string& config_path, uint64_t ticket, const std::string& address);
int RunQueues(const std::string& config_path, bool json);

// Erases a person's data (core/forget.h), queued outbox mail included; dry_run lists what would
// go and changes nothing; json prints one summary object instead of the lines.
int RunForget(const std::string& config_path, const std::string& address, bool dry_run,
              bool json);

// deskctl/outbox.cc: the queued mail (docs/TRIGGERS.md), oldest first; read-only.
int RunOutbox(const std::string& config_path, bool json);

// deskctl/triggers.cc: the triggers (core/triggers.h, docs/TRIGGERS.md). sort: "id" or "status"
// (active first). FILE "-" is standard input.
int RunTriggers(const std::string& config_path, bool json, const std::string& sort);
int RunTriggerSearch(const std::string& config_path, const std::string& words, bool json);
int RunTriggerShow(const std::string& config_path, uint64_t id);
int RunTriggerCreate(const std::string& config_path, const std::string& file);
int RunTriggerEdit(const std::string& config_path, uint64_t id, const std::string& file);
int RunTriggerClone(const std::string& config_path, uint64_t id);
int RunTriggerEnable(const std::string& config_path, uint64_t id, bool enabled);
int RunTriggerDelete(const std::string& config_path, uint64_t id);

}  // namespace desk::ctl
