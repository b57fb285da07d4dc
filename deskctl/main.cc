// deskctl: the deskmilter admin tool. Command line only; the work is in the Run* functions.
//
//   deskctl -c CONFIG ingest --mail-from ADDR --rcpt ADDR... [--dry-run] FILE...
//   deskctl -c CONFIG tickets [--queue Q] [--status open|closed|all] [--limit N]
//                             [--sort updated|number] [--json]
//   deskctl -c CONFIG ticket N [--json] | ticket close N | ticket reopen N
//   deskctl -c CONFIG quarantine list [--json] | get ID [-o FILE] | purge [--older-than DAYS]
//   deskctl -c CONFIG purge --closed-before DATE [--dry-run]
//
// The config path may come from DESKMILTER_CONFIG instead of -c. Usage errors exit 2.
// docs/DESKCTL.md is the reference; keep it in step with the options here.
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "deskctl/commands.h"

namespace {

// Plain decimal digits, within uint64 (CLI11's own range checks print DBL_MAX in their messages).
CLI::Validator Decimal(bool allow_zero) {
  return CLI::Validator(
      [allow_zero](std::string& s) -> std::string {
        if (s.empty() || s.size() > 19 || s.find_first_not_of("0123456789") != std::string::npos) {
          return "'" + s + "' is not a number";
        }
        if (!allow_zero && s.find_first_not_of('0') == std::string::npos) {
          return "tickets are numbered from 1";
        }
        return "";
      },
      allow_zero ? "UINT" : "N");
}

}  // namespace

int main(int argc, char** argv) {
  using namespace desk::ctl;
  CLI::App app{"deskctl: inspect and feed deskmilter's help-desk ticket store"};
  app.require_subcommand(1);
  std::string config_path;
  app.add_option("-c,--config", config_path, "deskmilter TOML config file")
      ->envname("DESKMILTER_CONFIG")
      ->required();

  IngestOptions ingest;
  CLI::App* ingest_cmd =
      app.add_subcommand("ingest", "Run message files through the engine; one JSON line per file");
  ingest_cmd->add_option("--mail-from", ingest.mail_from, "Envelope sender (\"<>\" for none)")
      ->required();
  ingest_cmd->add_option("--rcpt", ingest.rcpts, "Envelope recipient (repeatable)")
      ->required()
      ->allow_extra_args(false)  // one address per --rcpt, so the files are not swallowed
      ->take_all();
  ingest_cmd->add_option("--auth", ingest.auth_user, "SMTP AUTH user the mail came with");
  ingest_cmd->add_option("--client-addr", ingest.client_addr, "Client IP address");
  ingest_cmd->add_option("--queue-id", ingest.queue_id, "MTA queue id to record");
  ingest_cmd->add_flag("--dry-run", ingest.dry_run, "Decide but commit nothing");
  ingest_cmd->add_option("files", ingest.files, "Message files (\"-\" = standard input)")
      ->required();

  ListOptions list;
  CLI::App* tickets_cmd = app.add_subcommand("tickets", "List tickets, last updated first");
  tickets_cmd->add_option("--queue", list.queue, "Only this queue");
  tickets_cmd->add_option("--status", list.status, "open, closed or all (default all)")
      ->check(CLI::IsMember({"open", "closed", "all"}));
  tickets_cmd->add_option("--limit", list.limit, "At most N tickets (0 = all)")
      ->check(Decimal(true));
  tickets_cmd->add_option("--sort", list.sort, "updated (last change first, the default) or number")
      ->check(CLI::IsMember({"updated", "number"}));
  tickets_cmd->add_flag("--json", list.json, "One JSON array instead of a table");

  uint64_t show_number = 0;
  bool show_json = false;
  CLI::App* ticket_cmd = app.add_subcommand("ticket", "Show, close or reopen one ticket");
  CLI::Option* show_opt = ticket_cmd->add_option("number", show_number, "Ticket number to show")
                               ->check(Decimal(false));
  ticket_cmd->add_flag("--json", show_json, "One JSON object instead of text");
  ticket_cmd->require_subcommand(0, 1);
  uint64_t close_number = 0, reopen_number = 0;
  CLI::App* close_cmd = ticket_cmd->add_subcommand("close", "Close a ticket");
  close_cmd->add_option("number", close_number, "Ticket number")
      ->required()
      ->check(Decimal(false));
  CLI::App* reopen_cmd = ticket_cmd->add_subcommand("reopen", "Reopen a ticket");
  reopen_cmd->add_option("number", reopen_number, "Ticket number")
      ->required()
      ->check(Decimal(false));

  // deskctl/store_admin.cc: quarantine and retention.
  CLI::App* quarantine_cmd =
      app.add_subcommand("quarantine", "Originals of mail whose attachments were stripped");
  quarantine_cmd->require_subcommand(1);
  bool quarantine_json = false;
  CLI::App* qlist_cmd = quarantine_cmd->add_subcommand("list", "List the entries, oldest first");
  qlist_cmd->add_flag("--json", quarantine_json, "One JSON array instead of a table");
  std::string qget_id, qget_output;
  CLI::App* qget_cmd = quarantine_cmd->add_subcommand("get", "Write an entry's original message");
  qget_cmd->add_option("id", qget_id, "Entry id (from quarantine list)")->required();
  qget_cmd->add_option("-o,--output", qget_output, "Write to FILE instead of standard output");
  int64_t qpurge_days = -1;
  CLI::App* qpurge_cmd = quarantine_cmd->add_subcommand("purge", "Remove old entries");
  qpurge_cmd->add_option("--older-than", qpurge_days,
                         "Days (default attachments.quarantine_days; 0 = every entry)")
      ->check(CLI::Range(int64_t{0}, int64_t{36500}));
  PurgeOptions purge;
  CLI::App* purge_cmd = app.add_subcommand(
      "purge", "Delete closed tickets last updated before a date, and unreferenced attachments");
  purge_cmd->add_option("--closed-before", purge.closed_before, "YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ")
      ->required();
  purge_cmd->add_flag("--dry-run", purge.dry_run, "Count what would be deleted, delete nothing");

  try {
    app.parse(argc, argv);
    // `ticket` takes either a number or one of its subcommands, not both and not neither.
    if (*ticket_cmd) {
      bool sub = *close_cmd || *reopen_cmd;
      if (sub == (show_opt->count() > 0)) {
        throw CLI::ValidationError("ticket", "give a ticket number, or close N, or reopen N");
      }
    }
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }

  if (*ingest_cmd) return RunIngest(config_path, ingest);
  if (*tickets_cmd) return RunTickets(config_path, list);
  if (*qlist_cmd) return RunQuarantineList(config_path, quarantine_json);
  if (*qget_cmd) return RunQuarantineGet(config_path, qget_id, qget_output);
  if (*qpurge_cmd) return RunQuarantinePurge(config_path, qpurge_days);
  if (*purge_cmd) return RunPurge(config_path, purge);
  if (*close_cmd) return RunTicketSetStatus(config_path, close_number, desk::TicketStatus::kClosed);
  if (*reopen_cmd) return RunTicketSetStatus(config_path, reopen_number, desk::TicketStatus::kOpen);
  return RunTicketShow(config_path, show_number, show_json);
}
