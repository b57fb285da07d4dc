// deskctl: the deskmilter admin tool. Command line only; the work is in the Run* functions.
//
//   deskctl -c CONFIG ingest --mail-from ADDR --rcpt ADDR... [--dry-run] FILE...
//   deskctl -c CONFIG tickets [--queue Q] [--status open|closed|all] [--limit N]
//                             [--sort updated|number] [--json]
//                             [--brand B] [--requester A] [--assignee A | --unassigned]
//                             [--received-at A]
//                             [--since T] [--until T] [--search WORDS] [--sla STATE [DURATION]]
//   deskctl -c CONFIG ticket N [--json | --pdf FILE] | ticket close N | ticket reopen N
//   deskctl -c CONFIG attachment get SHA256 [-o FILE] | message get N SEQ [-o FILE]
//   deskctl -c CONFIG forget ADDRESS [--dry-run] [--json]
//   deskctl -c CONFIG outbox [--json]
//   deskctl -c CONFIG stats [--json]
//   deskctl -c CONFIG quarantine list [--json] | get ID [-o FILE] | purge [--older-than DAYS]
//   deskctl -c CONFIG purge --closed-before DATE [--dry-run]
//   deskctl -c CONFIG agents [--queue Q] [--json] | agent state ADDR STATE [--by WHO]
//   deskctl -c CONFIG assign N ADDR | unassign N | queues [--json]
//   deskctl -c CONFIG triggers [--json] [--sort id|status]
//   deskctl -c CONFIG trigger show N | search WORDS [--json] | create FILE | edit N FILE |
//                             clone N | enable N | disable N | delete N
//   deskctl -c CONFIG reindex [--restart]
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
  tickets_cmd->add_option("--brand", list.brand, "Only this brand (\"-\" = no brand)");
  tickets_cmd->add_option("--requester", list.requester, "Only tickets of this requester address");
  CLI::Option* assignee_opt = tickets_cmd->add_option(
      "--assignee", list.assignee, "Only this agent's tickets (\"-\" = unassigned)");
  bool unassigned = false;
  tickets_cmd->add_flag("--unassigned", unassigned, "Only tickets assigned to nobody (waiting)")
      ->excludes(assignee_opt);
  tickets_cmd->add_option("--received-at", list.received_at, "Only tickets received at this address");
  tickets_cmd->add_option("--since", list.since, "Opened at or after (YYYY-MM-DD[THH:MM:SSZ], UTC)");
  tickets_cmd->add_option("--until", list.until, "Opened before (YYYY-MM-DD[THH:MM:SSZ], UTC)");
  tickets_cmd->add_option("--search", list.search, "Every word in the subject or a body");
  tickets_cmd->add_option("--sla", list.sla, "breached | due-within DURATION | running | ok | none")
      ->expected(1, 2)
      ->allow_extra_args(false);
  tickets_cmd->add_option("--now", list.now, "Evaluate SLA clocks at this time (epoch seconds)")
      ->group("");  // for tests and replays; hidden from --help

  uint64_t show_number = 0;
  bool show_json = false;
  CLI::App* ticket_cmd = app.add_subcommand("ticket", "Show, close or reopen one ticket");
  CLI::Option* show_opt = ticket_cmd->add_option("number", show_number, "Ticket number to show")
                               ->check(Decimal(false));
  ticket_cmd->add_flag("--json", show_json, "One JSON object instead of text");
  std::string show_pdf;
  ticket_cmd->add_option("--pdf", show_pdf, "Write the PDF transcript to FILE instead");
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

  bool stats_json = false;
  CLI::App* stats_cmd =
      app.add_subcommand("stats", "Mail per minute over the last hour, and the daemon's counters");
  stats_cmd->add_flag("--json", stats_json, "One JSON object instead of text");
  std::string att_sha, att_out;
  CLI::App* attachment_cmd = app.add_subcommand("attachment", "Stored attachments");
  attachment_cmd->require_subcommand(1);
  CLI::App* att_get = attachment_cmd->add_subcommand("get", "Write a stored attachment");
  att_get->add_option("sha256", att_sha, "The attachment's SHA-256 (64 hex digits)")->required();
  att_get->add_option("-o,--output", att_out, "Write to FILE instead of standard output");

  uint64_t msg_ticket = 0;
  uint32_t msg_seq = 0;
  std::string msg_out;
  CLI::App* message_cmd = app.add_subcommand("message", "Original messages");
  message_cmd->require_subcommand(1);
  CLI::App* msg_get = message_cmd->add_subcommand("get", "Write the original of a message as received");
  msg_get->add_option("ticket", msg_ticket, "Ticket number")->required()->check(Decimal(false));
  msg_get->add_option("seq", msg_seq, "Message number on the ticket (1 = first)")
      ->required()
      ->check(Decimal(false));
  msg_get->add_option("-o,--output", msg_out, "Write to FILE instead of standard output");

  std::string forget_addr;
  bool forget_dry = false;
  CLI::App* forget_cmd =
      app.add_subcommand("forget", "Erase a person's messages, originals, attachments and PDFs");
  forget_cmd->add_option("address", forget_addr, "The person's address")->required();
  forget_cmd->add_flag("--dry-run", forget_dry, "List what would be removed; change nothing");
  bool forget_json = false;
  forget_cmd->add_flag("--json", forget_json, "One JSON summary object instead of the lines");
  bool outbox_json = false;
  CLI::App* outbox_cmd = app.add_subcommand("outbox", "List the mail queued for sending");
  outbox_cmd->add_flag("--json", outbox_json, "One JSON array instead of a table");
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
  bool reindex_restart = false;
  CLI::App* reindex_cmd = app.add_subcommand(
      "reindex", "Build the word index of `tickets --search` (stores from before it existed)");
  reindex_cmd->add_flag("--restart", reindex_restart, "Drop the index and build it anew");

  // deskctl/agents.cc: agents' states and assignment (docs/ROUTING.md).
  std::string agents_queue;
  bool agents_json = false;
  CLI::App* agents_cmd = app.add_subcommand("agents", "List agents: state, since, queues, open tickets");
  agents_cmd->add_option("--queue", agents_queue, "Only this queue's agents");
  agents_cmd->add_flag("--json", agents_json, "One JSON array instead of a table");
  CLI::App* agent_cmd = app.add_subcommand("agent", "Set an agent's state");
  agent_cmd->require_subcommand(1);
  std::string state_addr, state_name, state_by;
  CLI::App* agent_state_cmd = agent_cmd->add_subcommand(
      "state", "Set an agent's state (in-email, in-call, in-chat, away, offline, ... or clear)");
  agent_state_cmd->add_option("address", state_addr, "The agent's address")->required();
  agent_state_cmd->add_option("state", state_name, "The state, or clear to end in-call / in-chat")
      ->required();
  agent_state_cmd->add_option("--by", state_by, "Who sets it, for the history (default deskctl)");
  uint64_t assign_number = 0, unassign_number = 0;
  std::string assign_addr;
  CLI::App* assign_cmd = app.add_subcommand("assign", "Assign a ticket to an agent");
  assign_cmd->add_option("number", assign_number, "Ticket number")->required()->check(Decimal(false));
  assign_cmd->add_option("address", assign_addr, "The agent's address")->required();
  CLI::App* unassign_cmd = app.add_subcommand("unassign", "Make a ticket unassigned");
  unassign_cmd->add_option("number", unassign_number, "Ticket number")
      ->required()
      ->check(Decimal(false));
  bool queues_json = false;
  CLI::App* queues_cmd =
      app.add_subcommand("queues", "Queues: account status, waiting tickets, agents available");
  queues_cmd->add_flag("--json", queues_json, "One JSON array instead of a table");
  // deskctl/triggers.cc: the triggers.
  bool triggers_json = false;
  std::string triggers_sort = "id";
  CLI::App* triggers_cmd = app.add_subcommand("triggers", "List the triggers");
  triggers_cmd->add_flag("--json", triggers_json, "One JSON array instead of a table");
  triggers_cmd->add_option("--sort", triggers_sort, "id (the default) or status (active first)")
      ->check(CLI::IsMember({"id", "status"}));
  CLI::App* trigger_cmd = app.add_subcommand("trigger", "Show, search, create, edit, clone, "
                                                        "enable, disable or delete a trigger");
  trigger_cmd->require_subcommand(1);
  uint64_t trig_id = 0;
  std::string trig_file, trig_words;
  bool trig_json = false;
  CLI::App* tshow = trigger_cmd->add_subcommand("show", "Print a trigger as JSON");
  tshow->add_option("id", trig_id, "Trigger number")->required()->check(Decimal(false));
  CLI::App* tsearch = trigger_cmd->add_subcommand("search", "Triggers whose name or description "
                                                            "has every word");
  tsearch->add_option("words", trig_words, "Words")->required();
  tsearch->add_flag("--json", trig_json, "One JSON array instead of a table");
  CLI::App* tcreate = trigger_cmd->add_subcommand("create", "Add a trigger from a JSON file");
  tcreate->add_option("file", trig_file, "Trigger file (\"-\" = standard input)")->required();
  CLI::App* tedit = trigger_cmd->add_subcommand("edit", "Replace a trigger by a JSON file");
  tedit->add_option("id", trig_id, "Trigger number")->required()->check(Decimal(false));
  tedit->add_option("file", trig_file, "Trigger file (\"-\" = standard input)")->required();
  CLI::App* tclone = trigger_cmd->add_subcommand("clone", "Copy a trigger (inactive)");
  tclone->add_option("id", trig_id, "Trigger number")->required()->check(Decimal(false));
  CLI::App* tenable = trigger_cmd->add_subcommand("enable", "Make a trigger active");
  tenable->add_option("id", trig_id, "Trigger number")->required()->check(Decimal(false));
  CLI::App* tdisable = trigger_cmd->add_subcommand("disable", "Make a trigger inactive");
  tdisable->add_option("id", trig_id, "Trigger number")->required()->check(Decimal(false));
  CLI::App* tdelete = trigger_cmd->add_subcommand("delete", "Delete a trigger");
  tdelete->add_option("id", trig_id, "Trigger number")->required()->check(Decimal(false));

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
  if (*triggers_cmd) return RunTriggers(config_path, triggers_json, triggers_sort);
  if (*tshow) return RunTriggerShow(config_path, trig_id);
  if (*tsearch) return RunTriggerSearch(config_path, trig_words, trig_json);
  if (*tcreate) return RunTriggerCreate(config_path, trig_file);
  if (*tedit) return RunTriggerEdit(config_path, trig_id, trig_file);
  if (*tclone) return RunTriggerClone(config_path, trig_id);
  if (*tenable) return RunTriggerEnable(config_path, trig_id, true);
  if (*tdisable) return RunTriggerEnable(config_path, trig_id, false);
  if (*tdelete) return RunTriggerDelete(config_path, trig_id);
  if (*forget_cmd) return RunForget(config_path, forget_addr, forget_dry, forget_json);
  if (*outbox_cmd) return RunOutbox(config_path, outbox_json);
  if (*att_get) return RunAttachmentGet(config_path, att_sha, att_out);
  if (*msg_get) return RunMessageGet(config_path, msg_ticket, msg_seq, msg_out);
  if (*tickets_cmd) {
    if (unassigned) list.assignee = "-";
    return RunTickets(config_path, list);
  }
  if (*agents_cmd) return RunAgents(config_path, agents_queue, agents_json);
  if (*agent_state_cmd) return RunAgentState(config_path, state_addr, state_name, state_by);
  if (*assign_cmd) return RunAssign(config_path, assign_number, assign_addr);
  if (*unassign_cmd) return RunAssign(config_path, unassign_number, "");
  if (*queues_cmd) return RunQueues(config_path, queues_json);
  if (*stats_cmd) return RunStats(config_path, stats_json);
  if (*qlist_cmd) return RunQuarantineList(config_path, quarantine_json);
  if (*qget_cmd) return RunQuarantineGet(config_path, qget_id, qget_output);
  if (*qpurge_cmd) return RunQuarantinePurge(config_path, qpurge_days);
  if (*purge_cmd) return RunPurge(config_path, purge);
  if (*reindex_cmd) return RunReindex(config_path, reindex_restart);
  if (*close_cmd) return RunTicketSetStatus(config_path, close_number, desk::TicketStatus::kClosed);
  if (*reopen_cmd) return RunTicketSetStatus(config_path, reopen_number, desk::TicketStatus::kOpen);
  return RunTicketShow(config_path, show_number, show_json, show_pdf);
}
