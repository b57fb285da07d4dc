// The attachment stage of the engine: every attachment of a support mail is typed,
// virus-scanned and judged by its queue's policy while the message is parsed; at end of message
// the outcomes become one action for the message, the reply, the strip edits and the ticket's
// attachment records.
//
//   AttachmentContext   per Engine: the queues' policies, the shared ScannerHolder, the archive
//                       inspector and the attachment store directory.
//   AttachmentCollector an AttachmentVisitor for ParseMessage (one per message): runs
//                       AttachmentPolicy::Describe (libmagic, libarchive), ClamAV and Judge on each
//                       decoded attachment as it is decoded, and writes allowed ones to a temp file
//                       in the attachment store; it keeps only the facts, never the content.
//   Finish              at end of message: the message's outcome (the most severe of its
//                       attachments': reject > tempfail > hold > strip > accept) with its failure
//                       class and reason, and the new body when parts are stripped.
//   CommitFiles         the store's renames, by the pipeline's Commit stage just before the ticket
//                       write (never for a refused message).
//
// Scanning budget: one message's ClamAV scans together get scanner.message_scan_time_ms, counted
// from the collector's creation (the Parse stage, at end of message) on the MonotonicClock given,
// and scanner.message_scan_bytes of decoded content (containers' files count again). An attachment
// reached when either is used up is not scanned: its outcome is scan_limit ("not scanned: message
// scanning budget ..."), with the queue's on_scan_limit action. A scan already running is bounded
// by scanner.max_scan_time_ms, so the answer comes within the two together (defaults 60 s + 120 s,
// below Postfix's milter_content_timeout of 300 s). Without a clock only the byte budget applies.
//
// A virus's reason is "virus found": the reason may be shown to the sender (milter/reply.h), the
// signature's name goes to the log line and the attachment record only.
//
// Outcome classes and their per-queue actions (QueueConfig::on_*): infected, refused_type,
// too_large, scan_limit, scanner_error, malformed (ambiguous MIME, see mime_parser.h). An
// attachment with several outcomes takes the most severe action among them. `strip` for a
// message-level outcome (total size, malformed MIME) or for a part that cannot be cut out (the
// top-level part of a single-part mail) becomes `hold`: nothing is lost.
//
// Strip keeps the message's MIME structure and boundaries byte for byte and replaces only the
// stripped part's header block and content with a text/plain notice naming the file and why; the
// new body (everything after the top-level header block) is a Spool for smfi_replacebody.
//
// Store: dir/ab/cd/<sha256>, written to a temp file in dir and renamed into place (CommitFiles) only
// when the message is kept (not rejected or tempfailed), before the ticket commit; a file already present
// is never rewritten (unless its size is wrong). Each file is fsync'd before its rename. File names never become paths. Held attachments are not stored (the held
// mail keeps them); nothing is stored in a dry run.
//
// The core does not log: each attachment's decision comes back as one key=value line in
// Decision::extra_log_lines for the adapter to print with the queue id.
//
// Thread-safety: AttachmentContext is immutable and shared; an AttachmentCollector belongs to one
// Transaction (it owns a FileTypeDetector, which is not thread-safe).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/archive_inspect.h"
#include "core/attachment_policy.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/decision.h"
#include "core/file_type.h"
#include "core/mime_parser.h"
#include "core/spool.h"
#include "core/status.h"
#include "core/ticket.h"
#include "core/virus_scanner.h"

namespace desk {


// The scan error and decision reason of an attachment not scanned because the last virus database
// reload failed and scanner.on_database_failure is "fail".
inline constexpr std::string_view kScannerDatabaseStale = "scanner_database_stale";

// The scanner options of a config's [scanner] section.
ScannerOptions ScannerOptionsFromConfig(const Config& config);
// The attachment policy of one queue.
AttachmentPolicyConfig PolicyFromQueue(const QueueConfig& queue);
// attachments.store_dir, or <store.dir>/attachments when that is "".
std::string AttachmentStoreDir(const Config& config);
// Where an attachment with this SHA-256 (lower-case hex) lives in the store: dir/ab/cd/<sha256>.
std::string AttachmentStorePath(const std::string& dir, const std::string& sha256);

class AttachmentContext {
 public:
  // scanner may be null when config.scanner_enabled is false; when it is enabled and scanner is
  // null, one is created from the config (Status::Scanner when the database cannot be loaded).
  static Status Create(const Config& config, std::shared_ptr<ScannerHolder> scanner,
                       std::shared_ptr<const AttachmentContext>* out);

  // The policy of config.queues[i] (same order).
  const AttachmentPolicy& policy(size_t queue_index) const { return policies_[queue_index]; }
  const ArchiveInspector& inspector() const { return inspector_; }
  ScannerHolder* scanner() const { return scanner_.get(); }  // null when scanning is off
  const std::shared_ptr<ScannerHolder>& shared_scanner() const { return scanner_; }
  const std::string& store_dir() const { return store_dir_; }
  // The per-message scanning budget (scanner.message_scan_time_ms, scanner.message_scan_bytes).
  int64_t scan_budget_ms() const { return scan_budget_ms_; }
  uint64_t scan_budget_bytes() const { return scan_budget_bytes_; }
  // scanner.on_database_failure = "fail": while the scanner's database is stale (its last reload
  // failed) every scan is a scanner error instead of a scan with the old signatures.
  bool fail_on_stale_database() const { return fail_on_stale_database_; }

 private:
  AttachmentContext() = default;
  bool fail_on_stale_database_ = false;
  int64_t scan_budget_ms_ = 0;
  uint64_t scan_budget_bytes_ = 0;
  std::vector<AttachmentPolicy> policies_;
  ArchiveInspector inspector_;
  std::shared_ptr<ScannerHolder> scanner_;
  std::string store_dir_;
};

// What happened to one attachment.
struct AttachmentOutcome {
  AttachmentInfo info;
  std::string name;  // the name shown in replies and notices: filename, else another, else part
  std::string detected_type;
  std::string outcome;  // "allowed", "infected", "refused_type", "too_large", "scan_limit",
                        // "scanner_error", "malformed"
  Outcome action = Outcome::kAccept;
  std::string reason;  // "" when allowed
  std::string virus;
  std::string temp_path;  // an allowed attachment written to the store, awaiting its rename
};

class AttachmentCollector : public AttachmentVisitor {
 public:
  // queue_index: the routed queue in config.queues. store: write allowed attachments to the store
  // (false for dry runs and when there is no ticket store). clock: where the scanning budget's
  // time is read (null: no time budget); it must outlive the collector.
  AttachmentCollector(const AttachmentContext& context, const QueueConfig& queue,
                      size_t queue_index, bool store, const MonotonicClock* clock = nullptr);
  ~AttachmentCollector() override;  // removes temp files not renamed
  AttachmentCollector(const AttachmentCollector&) = delete;
  AttachmentCollector& operator=(const AttachmentCollector&) = delete;

  Status OnAttachment(const AttachmentInfo& info, const Spool& content) override;

  const std::vector<AttachmentOutcome>& outcomes() const { return outcomes_; }

  // The message-level result (see the file comment). Sets d's verdict, failure class and reason
  // (d->Set) when an attachment outcome is hold, tempfail or reject; fills replacement_body,
  // attachments and extra_log_lines; *stored gets the ticket's attachment records and *events
  // the ticket events ("attachment_removed"). *refused: the outcome is reject or tempfail (no
  // ticket is written). spool is the raw message; msg its parse. A store or I/O failure is
  // returned as a Status (the caller's failure actions apply). Moves no file.
  Status Finish(const Spool& spool, const ParsedMessage& msg, int64_t now, Decision* d,
                std::vector<StoredAttachment>* stored, std::vector<TicketEvent>* events,
                bool* refused);
  // Renames the kept attachments' temp files into the store. A kStore Status on failure.
  Status CommitFiles();

 private:
  Status StoreTemp(const Spool& content, AttachmentOutcome* o);
  Status BuildStrippedBody(const Spool& spool, const ParsedMessage& msg,
                           std::shared_ptr<Spool>* body, bool* cuttable) const;

  const AttachmentContext& context_;
  const QueueConfig& queue_;
  const AttachmentPolicy& policy_;
  bool store_;
  const MonotonicClock* clock_;
  int64_t start_ms_ = 0;         // the budget's start, on clock_
  uint64_t scanned_bytes_ = 0;   // handed to ClamAV so far
  bool database_stale_ = false;  // a scan failed because the database is stale ("fail" mode)
  std::unique_ptr<FileTypeDetector> detector_;
  std::vector<AttachmentOutcome> outcomes_;
};

// The failure class of an AttachmentOutcome::outcome name ("infected" -> kInfected, ...).
FailureClass FailureClassOfOutcome(const std::string& outcome);

// The notice that replaces a stripped part (UTF-8 text, no line ending at the end).
std::string StripNotice(const std::string& name, const std::string& reason);

}  // namespace desk
