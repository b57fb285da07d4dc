// Config: the options the core and the adapter run with, as plain data.
//
// These structs carry no defaults and no docs on purpose (members start at zero, false, empty or the
// first enumerator): every option is declared exactly once, with its name, type, default, bounds and
// one-line doc, in the schema table of config/schema.cc. The loader (config/loader.h) fills a Config
// from a TOML file, applying those defaults. Code and tests that build one by hand start from
// config::DefaultConfig() and config::DefaultQueueConfig().
//
// A Config is immutable once loaded; connections hold a shared_ptr<const Config> snapshot, so a reload
// on SIGHUP never changes the options of a message in flight.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/attachment_policy.h"
#include "core/outcome.h"

namespace desk {



// What a reply to a closed ticket does.
enum class ClosedReply { kReopen, kNew };

// Agents(core/agents.h): one [[queue.agent]] table each.
struct AgentConfig {
  std::string address;  // the agent's personal address, lower-case
  std::string name;     // display name ("" = none)
  std::string login;    // SMTP AUTH user ({auth_authen}) as the MTA reports it; "" = none
};

// Display name of the From header of agents' mail to customers.
enum class ReplyName { kQueue, kAgentViaQueue };  // "support" | "Alice via support"
// What automatic mail of one class does to tickets.
//   kNone    never touches a ticket
//   kRecord  recorded on the ticket it belongs to (a bounce as a delivery-failure event on the
//            ticket of the message it reports; an auto-reply joins its thread, marked automatic);
//            never opens a ticket
//   kOpen    treated like a person's mail: joins or opens a ticket
enum class TicketEffect { kNone, kRecord, kOpen };
// What scans do after a virus database reload failed (scanner.on_database_failure):
//   kKeep  scan with the signatures loaded before (as clamd does)
//   kFail  every scan fails (the queue's on_scanner_error) until a good database loads
enum class ScannerDatabaseFailure { kKeep, kFail };

struct QueueConfig {
  std::string name;                    // unique, e.g. "support"
  std::string color;                   // "#RRGGBB", for agents' clients and deskctl
  std::vector<std::string> addresses;  // "support@example.com" or "*@help.example.com"
  std::string default_address;         // reply-via address for wildcard tickets; first exact address
  std::string subject_tag;             // format with "{n}", e.g. "[#{n}]"
  bool tag_subject = false;            // add the tag to the delivered subject when missing
  ClosedReply closed_reply = ClosedReply::kReopen;

  // Attachment policy; turned into an AttachmentPolicyConfig by the engine (PolicyFromQueue).
  std::vector<std::string> attachments_allow_categories;  // category names
  std::vector<std::string> attachments_allow_types;
  std::vector<std::string> attachments_refuse_types;
  std::vector<std::string> attachments_refuse_extensions;  // lower-case, no dot
  std::vector<std::string> attachments_allow_extensions;   // empty: any not refused
  ArchiveMode archives = ArchiveMode::kRefuse;
  int64_t archive_depth = 0;
  EncryptedMode archive_encrypted = EncryptedMode::kRefuse;
  int64_t max_attachment_bytes = 0;
  int64_t max_message_attachment_bytes = 0;  // 0 = no limit
  Outcome on_infected = Outcome::kAccept;
  Outcome on_refused_type = Outcome::kAccept;
  Outcome on_too_large = Outcome::kAccept;
  Outcome on_scan_limit = Outcome::kAccept;
  Outcome on_scanner_error = Outcome::kAccept;
  Outcome on_malformed_attachment = Outcome::kAccept;
  // Agents' mail.
  std::vector<AgentConfig> agents;
  ReplyName reply_name = ReplyName::kQueue;
  bool rewrite_envelope = false;  // envelope sender of agents' mail -> the reply-via address
  bool reply_token = false;       // Reply-To support+TOKEN@domain (needs reply_token_secret)
  // Routing to agents (core/routing.h, docs/ROUTING.md).
  std::string routing;  // "manual" | "automatic"
  // "RECEIVED_AT=REPLY_VIA": agents' replies to tickets received at RECEIVED_AT (an address or
  // *@domain of the queue) go out as REPLY_VIA (an exact address of the queue or its
  // default_address); lower-cased and checked at load.
  std::vector<std::string> reply_via;
  // Business hours (core/business_hours.h, shared by routing and SLA clocks): "mon-fri
  // 09:00-17:00" entries in time_zone (an IANA name); holidays "YYYY-MM-DD" are closed all day.
  // Empty business_hours: always open.
  std::vector<std::string> business_hours;
  std::string time_zone;
  std::vector<std::string> holidays;
  // The ticket record (core/record_store.h, core/transcript_pdf.h, core/brand.h, core/sla.h).
  bool keep_text = false;                   // text body kept on the ticket
  bool keep_original = false;               // message as received kept in the external store
  std::string transcript;                   // "none" | "pdf"
  std::string brand;                        // "" = none
  std::string brand_display_name;           // "" = brand
  std::vector<std::string> address_brands;  // "address=Brand"
  int64_t sla_first_response = 0;           // seconds; 0 = no target
  int64_t sla_next_response = 0;            // seconds; 0 = no target
};

struct Config {
  std::string source_file;  // the file this was loaded from, for messages; "" when built in code

  // [milter]
  std::string socket;           // "unix:/path" or "inet:PORT@HOST"
  int64_t socket_mode = 0;      // permissions of a unix socket (octal in the file)
  int64_t timeout_seconds = 0;  // libmilter's I/O timeout
  std::string hostname;         // used in generated Message-IDs and the loop stamp

  // [store]
  std::string store_dir;       // LMDB environment directory
  int64_t store_map_mb = 0;    // initial LMDB map size; grown when full
  std::string spool_dir;       // temp files for bodies above spool_threshold
  int64_t spool_threshold = 0; // bytes held in memory before a message is spooled to a file

  // [limits]
  int64_t max_message_bytes = 0;
  int64_t max_header_bytes = 0;
  int64_t max_mime_depth = 0;
  int64_t max_mime_parts = 0;
  int64_t max_body_chars = 0;  // text body stored on the ticket, in characters
  int64_t archive_memory_mb = 0;  // bound of the child process that lists one archive
  int64_t archive_time_ms = 0;

  // [scanner] libclamav in process
  bool scanner_enabled = false;
  std::string scanner_database_dir;
  std::string scanner_temp_dir;  // "" = libclamav's default
  int64_t scanner_max_scan_size = 0;
  int64_t scanner_max_file_size = 0;
  int64_t scanner_max_recursion = 0;
  int64_t scanner_max_files = 0;
  int64_t scanner_max_scan_time_ms = 0;
  int64_t scanner_reload_check_seconds = 0;  // 0 = only on SIGHUP
  int64_t scanner_message_scan_time_ms = 0;   // per message, all attachments together
  int64_t scanner_message_scan_bytes = 0;     // per message, all attachments together
  ScannerDatabaseFailure scanner_on_database_failure = ScannerDatabaseFailure::kKeep;

  // [metrics] (milter/metrics_http.h, core/metrics.h); the listener needs a restart to change
  bool metrics_http_enabled = false;
  std::string metrics_http_address;
  int64_t metrics_http_port = 0;
  int64_t metrics_max_series = 0;
  int64_t metrics_max_virus_names = 0;
  int64_t metrics_flush_seconds = 0;

  // [attachments]
  std::string attachments_store_dir;  // "" = <store_dir>/attachments
  std::string attachments_quarantine_dir;  // originals of stripped mail; "" = <store_dir>/quarantine
  int64_t attachments_quarantine_days = 0;  // how long they are kept; 0 = not kept

  // [actions] for failure classes
  Outcome on_internal_error = Outcome::kAccept;
  Outcome on_store_error = Outcome::kAccept;
  Outcome on_malformed = Outcome::kAccept;

  // [tickets]
  bool add_ticket_header = false;  // X-Deskmilter-Ticket on delivered mail
  int64_t max_references = 0;     // newest References ids considered for threading and indexed
  std::vector<std::string> trusted_authserv_ids;  // Authentication-Results ids we trust (DMARC)
  int64_t max_participants = 0;  // participants kept per ticket
  int64_t max_named_ids = 0;     // named-only Message-IDs indexed per ticket
  int64_t max_named_ids_per_sender = 0;  // named-only Message-IDs indexed per sender per day

  // [agents]
  std::vector<std::string> trusted_networks;  // CIDRs whose envelope sender may identify an agent
  std::string reply_token_secret;             // HMAC key of reply tokens; "" = none
  std::string control_address;  // agents set their state by mail to it; "" = none (core/routing.h)
  std::vector<std::string> extra_states;  // "name=available" | "name=unavailable"
  int64_t reply_token_max_age_days = 0;       // tokens older than this no longer thread; 0 = never
  // [loops] automatic mail and loop protection
  std::string installation_id;  // value of our loop stamp header; "" = milter.hostname
  int64_t max_received = 0;     // more Received headers than this is a loop
  std::vector<std::string> blocked_senders;  // "filter outgoing emails": never open tickets
  int64_t flood_max = 0;        // mails from one sender to one queue per window; 0 = off
  int64_t flood_window = 0;     // seconds
  int64_t flood_max_per_network = 0;  // mails from one client network to one queue per window
  Outcome bounce_action = Outcome::kAccept;
  TicketEffect bounce_ticket = TicketEffect::kNone;
  Outcome auto_reply_action = Outcome::kAccept;
  TicketEffect auto_reply_ticket = TicketEffect::kNone;
  Outcome list_action = Outcome::kAccept;
  TicketEffect list_ticket = TicketEffect::kNone;
  Outcome own_action = Outcome::kAccept;
  TicketEffect own_ticket = TicketEffect::kNone;
  Outcome loop_action = Outcome::kAccept;
  Outcome flood_action = Outcome::kAccept;

  // [outbox] (milter/outbox_worker.h): where queued mail is submitted, and its retries
  std::string outbox_smtp_host;
  int64_t outbox_smtp_port = 0;
  std::string outbox_helo_name;     // "" = milter.hostname
  int64_t outbox_timeout = 0;       // seconds per SMTP command
  int64_t outbox_retry_min = 0;     // seconds before the first retry; doubles per attempt
  int64_t outbox_retry_max = 0;     // longest wait between two attempts
  int64_t outbox_max_age = 0;       // seconds after queueing: a temporary failure becomes final

  // [answers] (core/auto_answer.h, docs/TRIGGERS.md)
  int64_t auto_answer_window = 0;          // at most one answer per sender and queue per window
  int64_t auto_answer_max_per_ticket = 0;  // at most this many automatic answers per ticket

  std::vector<QueueConfig> queues;
};

}  // namespace desk
