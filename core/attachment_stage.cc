// The attachment stage: see attachment_stage.h.
#include "core/attachment_stage.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "core/decision.h"
#include "core/record_store.h"

namespace desk {
namespace {

// Largest decoded archive read into memory for listing; a larger one is described from its first
// bytes only (its size already refuses it by default). Other attachments on disk are typed from
// their first kDetectBytes.
constexpr uint64_t kMaxDescribeBytes = 64ull << 20;
constexpr size_t kCopyChunk = 64 * 1024;

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }


// Reads [offset, offset+len) of spool into *out.
Status ReadRange(const Spool& spool, uint64_t offset, uint64_t len, std::string* out) {
  return spool.Read(offset, static_cast<size_t>(len), out);
}

// Copies [from, to) of spool into body.
Status CopyRange(const Spool& spool, uint64_t from, uint64_t to, Spool* body) {
  std::string buf;
  while (from < to) {
    uint64_t n = std::min<uint64_t>(kCopyChunk, to - from);
    Status s = ReadRange(spool, from, n, &buf);
    if (!s.ok()) return s;
    if (buf.empty()) return Status::Internal("spool: short read while stripping");
    s = body->Append(buf);
    if (!s.ok()) return s;
    from += buf.size();
  }
  return Status::Ok();
}

// Makes text safe inside a quoted reply and a one-line notice.
std::string Printable(const std::string& s, size_t max) {
  std::string out;
  for (char c : s) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    unsigned char u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f || c == '"') ? '_' : c;
  }
  return out;
}

const char* AttachmentVerdictName(Outcome a) {
  switch (a) {
    case Outcome::kAccept: return "allowed";
    case Outcome::kStrip: return "stripped";
    case Outcome::kHold: return "held";
    case Outcome::kReject:
    case Outcome::kTempfail:
    case Outcome::kDiscard: return "rejected";
  }
  return "allowed";
}

// Keeps the more severe of (action, reason, outcome) pairs.
void Escalate(Outcome action, const std::string& outcome, const std::string& reason,
              AttachmentOutcome* o) {
  if (o->outcome == "allowed" ||
      OutcomeSeverity(action) > OutcomeSeverity(o->action)) {
    o->action = action;
    o->outcome = outcome;
    o->reason = reason;
  }
}

}  // namespace

FailureClass FailureClassOfOutcome(const std::string& outcome) {
  if (outcome == "infected") return FailureClass::kInfected;
  if (outcome == "refused_type") return FailureClass::kRefusedType;
  if (outcome == "too_large") return FailureClass::kTooLarge;
  if (outcome == "scan_limit") return FailureClass::kScanLimit;
  if (outcome == "scanner_error") return FailureClass::kScannerError;
  if (outcome == "malformed") return FailureClass::kMalformedMime;
  return FailureClass::kNone;
}

ScannerOptions ScannerOptionsFromConfig(const Config& c) {
  ScannerOptions o;
  o.database_dir = c.scanner_database_dir;
  o.temp_dir = c.scanner_temp_dir;
  o.max_scan_size = static_cast<uint64_t>(c.scanner_max_scan_size);
  o.max_file_size = static_cast<uint64_t>(c.scanner_max_file_size);
  o.max_recursion = static_cast<uint32_t>(c.scanner_max_recursion);
  o.max_files = static_cast<uint32_t>(c.scanner_max_files);
  o.max_scan_time_ms = static_cast<uint32_t>(c.scanner_max_scan_time_ms);
  return o;
}

AttachmentPolicyConfig PolicyFromQueue(const QueueConfig& q) {
  AttachmentPolicyConfig p;
  for (const std::string& name : q.attachments_allow_categories) {
    Category c;
    if (ParseCategory(name, &c)) p.allowed_categories.push_back(c);
  }
  p.allowed_types = q.attachments_allow_types;
  p.refused_types = q.attachments_refuse_types;
  p.refused_extensions = q.attachments_refuse_extensions;
  p.allowed_extensions = q.attachments_allow_extensions;
  p.archives = q.archives;
  p.max_archive_depth = static_cast<int>(q.archive_depth);
  p.encrypted = q.archive_encrypted;
  p.max_attachment_bytes = static_cast<uint64_t>(q.max_attachment_bytes);
  p.max_total_bytes = static_cast<uint64_t>(q.max_message_attachment_bytes);
  return p;
}

std::string AttachmentStoreDir(const Config& c) {
  if (!c.attachments_store_dir.empty()) return c.attachments_store_dir;
  return c.store_dir + "/attachments";
}

std::string AttachmentStorePath(const std::string& dir, const std::string& sha256) {
  return dir + "/" + sha256.substr(0, 2) + "/" + sha256.substr(2, 2) + "/" + sha256;
}

std::string StripNotice(const std::string& name, const std::string& reason) {
  return "[deskmilter removed the attachment \"" + Printable(name, 200) + "\": " +
         Printable(reason, 300) + "]";
}

Status AttachmentContext::Create(const Config& config, std::shared_ptr<ScannerHolder> scanner,
                                 std::shared_ptr<const AttachmentContext>* out) {
  std::shared_ptr<AttachmentContext> c(new AttachmentContext());
  for (const QueueConfig& q : config.queues) c->policies_.emplace_back(PolicyFromQueue(q));
  c->store_dir_ = AttachmentStoreDir(config);
  ArchiveLimits archive_limits;
  archive_limits.child_memory_mb = static_cast<uint64_t>(config.archive_memory_mb);
  archive_limits.child_time_ms = config.archive_time_ms;
  c->inspector_ = ArchiveInspector(archive_limits);
  c->scan_budget_ms_ = config.scanner_message_scan_time_ms;
  c->scan_budget_bytes_ = static_cast<uint64_t>(config.scanner_message_scan_bytes);
  c->fail_on_stale_database_ = config.scanner_on_database_failure == ScannerDatabaseFailure::kFail;
  if (config.scanner_enabled) {
    if (scanner == nullptr) {
      std::unique_ptr<ScannerHolder> holder;
      Status s = ScannerHolder::Create(ScannerOptionsFromConfig(config), &holder);
      if (!s.ok()) return s;
      scanner = std::move(holder);
    }
    c->scanner_ = std::move(scanner);
  }
  *out = std::move(c);
  return Status::Ok();
}

AttachmentCollector::AttachmentCollector(const AttachmentContext& context, const QueueConfig& queue,
                                         size_t queue_index, bool store,
                                         const MonotonicClock* clock)
    : context_(context),
      queue_(queue),
      policy_(context.policy(queue_index)),
      store_(store),
      clock_(clock),
      start_ms_(clock != nullptr ? clock->NowMs() : 0) {}

AttachmentCollector::~AttachmentCollector() {
  for (const AttachmentOutcome& o : outcomes_) {
    if (!o.temp_path.empty()) ::unlink(o.temp_path.c_str());
  }
}

Status AttachmentCollector::OnAttachment(const AttachmentInfo& info, const Spool& content) {
  if (detector_ == nullptr) {
    Status s = FileTypeDetector::Create(&detector_);
    if (!s.ok()) return s;
  }
  AttachmentOutcome o;
  o.info = info;
  o.name = info.filename;
  if (o.name.empty() && !info.other_names.empty()) o.name = info.other_names.front();
  if (o.name.empty()) o.name = "part " + info.part_path;
  o.outcome = "allowed";

  // Facts: libmagic and (for archives and office files) libarchive on the decoded bytes.
  std::string bytes;
  std::string_view view;
  if (content.on_disk()) {
    // Only archives and office containers are listed, and only they need more than the head:
    // a large picture or PDF is never read into memory.
    Status s = content.Read(0, FileTypeDetector::kDetectBytes, &bytes);
    if (!s.ok()) return s;
    std::string head_type;
    s = detector_->Detect(bytes, &head_type);
    if (!s.ok()) return s;
    const bool listed = CategoryOf(head_type, info.filename) == Category::kArchive ||
                        head_type.find("officedocument") != std::string::npos ||
                        head_type.find("opendocument") != std::string::npos;
    if (listed && content.size() > bytes.size()) {
      s = content.Read(0, static_cast<size_t>(std::min<uint64_t>(content.size(), kMaxDescribeBytes)),
                       &bytes);
      if (!s.ok()) return s;
    }
    view = bytes;
  } else {
    view = content.data();
  }
  AttachmentFacts facts;
  Status s = policy_.Describe(detector_.get(), context_.inspector(), info.filename,
                              info.declared_type, view, &facts);
  if (!s.ok()) return s;
  facts.size = info.size;
  o.detected_type = facts.detected_type;

  // Policy, for every name the part gives itself: a client may show or save any of them.
  std::vector<std::string> names{info.filename};
  names.insert(names.end(), info.other_names.begin(), info.other_names.end());
  for (const std::string& name : names) {
    AttachmentFacts f = facts;
    f.filename = name;
    f.category = CategoryOf(facts.detected_type, name);
    if (f.category != facts.category && facts.category == Category::kExecutable) {
      f.category = facts.category;  // a name never makes an executable harmless
    }
    AttachmentVerdict v = policy_.Judge(f);
    switch (v.outcome) {
      case AttachmentVerdict::Outcome::kAllowed: break;
      case AttachmentVerdict::Outcome::kRefusedType:
        Escalate(queue_.on_refused_type, "refused_type", "refused: " + v.reason, &o);
        break;
      case AttachmentVerdict::Outcome::kTooLarge:
        Escalate(queue_.on_too_large, "too_large", "too large: " + v.reason, &o);
        break;
      case AttachmentVerdict::Outcome::kScanLimit:
        Escalate(queue_.on_scan_limit, "scan_limit", "not inspected: " + v.reason, &o);
        break;
    }
  }

  // ClamAV on the whole decoded content, within the message's scanning budget.
  ScannerHolder* holder = context_.scanner();
  if (holder != nullptr) {
    // A budget of 0 (a Config built in code without the table's defaults) is no budget.
    const int64_t budget_ms = context_.scan_budget_ms();
    const uint64_t budget_bytes = context_.scan_budget_bytes();
    const int64_t used_ms = clock_ != nullptr ? clock_->NowMs() - start_ms_ : 0;
    if (budget_ms > 0 && used_ms >= budget_ms) {
      Escalate(queue_.on_scan_limit, "scan_limit",
               "not scanned: message scanning budget of " +
                   std::to_string(budget_ms) + " ms used up",
               &o);
      holder = nullptr;
    } else if (budget_bytes > 0 &&
               content.size() > budget_bytes - std::min(scanned_bytes_, budget_bytes)) {
      Escalate(queue_.on_scan_limit, "scan_limit",
               "not scanned: message scanning budget of " +
                   std::to_string(budget_bytes) + " bytes used up",
               &o);
      holder = nullptr;
    }
  }
  if (holder != nullptr) {
    scanned_bytes_ += content.size();
    std::shared_ptr<const VirusScanner> scanner = holder->Get();
    ScanResult r;
    if (context_.fail_on_stale_database() && holder->database_stale()) {
      r = ScanResult{ScanResult::kError, "", std::string(kScannerDatabaseStale)};
      database_stale_ = true;
    } else if (content.on_disk()) {
      if (::lseek(content.fd(), 0, SEEK_SET) < 0) return Status::Internal(Errno("lseek"));
      r = scanner->ScanFd(content.fd());
    } else {
      r = scanner->Scan(content.data().data(), content.data().size());
    }
    switch (r.outcome) {
      case ScanResult::kClean: break;
      case ScanResult::kInfected:
        // The reason may reach the sender: "virus found", never the signature's name (which
        // the attachment's log line and record keep).
        o.virus = r.virus;
        Escalate(queue_.on_infected, "infected", "virus found", &o);
        break;
      case ScanResult::kScanLimit:
        Escalate(queue_.on_scan_limit, "scan_limit", "not scanned: " + r.error, &o);
        break;
      case ScanResult::kError:
        Escalate(queue_.on_scanner_error, "scanner_error", "virus scanner error: " + r.error, &o);
        break;
    }
  }

  if (o.action == Outcome::kAccept && store_) {
    s = StoreTemp(content, &o);
    if (!s.ok()) return s;
  }
  outcomes_.push_back(std::move(o));
  return Status::Ok();
}

Status AttachmentCollector::StoreTemp(const Spool& content, AttachmentOutcome* o) {
  const std::string& dir = context_.store_dir();
  if (BlobPresent(AttachmentStorePath(dir, o->info.sha256), content.size())) {
    return Status::Ok();  // stored once
  }
  return WriteTempBlob(dir, content, &o->temp_path);
}

Status AttachmentCollector::BuildStrippedBody(const Spool& spool, const ParsedMessage& msg,
                                              std::shared_ptr<Spool>* body, bool* cuttable) const {
  *cuttable = true;
  struct Cut {
    uint64_t from, to;
    std::string replacement;
  };
  // The line ending the message uses, so the notice matches it (CRLF from the MTA).
  std::string probe;
  Status s = spool.Read(msg.body_offset >= 2 ? msg.body_offset - 2 : 0, 2, &probe);
  if (!s.ok()) return s;
  const std::string eol = probe == "\r\n" ? "\r\n" : "\n";
  std::vector<Cut> cuts;
  for (const AttachmentOutcome& o : outcomes_) {
    if (o.action != Outcome::kStrip) continue;
    const AttachmentInfo& i = o.info;
    if (i.raw_content_end < 0 || i.raw_content_start < 0) {
      *cuttable = false;
      return Status::Ok();
    }
    std::string notice = StripNotice(o.name, o.reason) + eol;
    if (i.raw_header_offset >= 0) {
      if (static_cast<uint64_t>(i.raw_header_offset) < msg.body_offset) {
        *cuttable = false;  // the top-level part: its headers are the message's
        return Status::Ok();
      }
      cuts.push_back({static_cast<uint64_t>(i.raw_header_offset),
                      static_cast<uint64_t>(i.raw_content_end),
                      "Content-Type: text/plain; charset=utf-8" + eol +
                          "Content-Disposition: inline" + eol +
                          "Content-Transfer-Encoding: 8bit" + eol + eol + notice});
    } else {
      // No headers: the part is text/plain by default; only its content changes.
      if (static_cast<uint64_t>(i.raw_content_start) < msg.body_offset) {
        *cuttable = false;
        return Status::Ok();
      }
      cuts.push_back({static_cast<uint64_t>(i.raw_content_start),
                      static_cast<uint64_t>(i.raw_content_end), notice});
    }
  }
  std::sort(cuts.begin(), cuts.end(), [](const Cut& a, const Cut& b) { return a.from < b.from; });
  // Files found inside one MIME part (a TNEF, an attached message, text blocks) share its range:
  // the part is cut once.
  cuts.erase(std::unique(cuts.begin(), cuts.end(),
                         [](const Cut& a, const Cut& b) { return a.from == b.from && a.to == b.to; }),
             cuts.end());
  for (size_t k = 1; k < cuts.size(); ++k) {
    if (cuts[k].from < cuts[k - 1].to) {
      *cuttable = false;
      return Status::Ok();
    }
  }
  auto out = std::make_shared<Spool>(std::string(), 1 << 20);
  uint64_t pos = msg.body_offset;
  for (const Cut& c : cuts) {
    if (c.to > spool.size()) {
      *cuttable = false;
      return Status::Ok();
    }
    s = CopyRange(spool, pos, c.from, out.get());
    if (s.ok()) s = out->Append(c.replacement);
    if (!s.ok()) return s;
    pos = c.to;
  }
  s = CopyRange(spool, pos, spool.size(), out.get());
  if (!s.ok()) return s;
  *body = std::move(out);
  return Status::Ok();
}

Status AttachmentCollector::CommitFiles() {
  for (AttachmentOutcome& o : outcomes_) {
    if (o.temp_path.empty()) continue;
    Status s = RenameIntoStore(o.temp_path, AttachmentStorePath(context_.store_dir(), o.info.sha256));
    if (!s.ok()) return s;
    o.temp_path.clear();
  }
  return Status::Ok();
}

Status AttachmentCollector::Finish(const Spool& spool, const ParsedMessage& msg, int64_t now,
                                   Decision* d, std::vector<StoredAttachment>* stored,
                                   std::vector<TicketEvent>* events, bool* refused) {
  *refused = false;
  // Message-level outcomes: the total size and ambiguous MIME.
  Outcome message_action = Outcome::kAccept;
  std::string message_outcome, message_reason;
  uint64_t total = 0;
  for (const AttachmentOutcome& o : outcomes_) total += o.info.size;
  AttachmentVerdict tv = policy_.JudgeTotal(total);
  if (!tv.allowed()) {
    message_action = queue_.on_too_large;
    message_outcome = "too_large";
    message_reason = "attachments too large: " + tv.reason;
  }
  if (!msg.mime_ambiguities.empty() &&
      OutcomeSeverity(queue_.on_malformed_attachment) >
          OutcomeSeverity(message_action)) {
    message_action = queue_.on_malformed_attachment;
    message_outcome = "malformed";
    message_reason = "ambiguous MIME: " + msg.mime_ambiguities.front();
  }
  if (message_action == Outcome::kStrip) {
    if (message_outcome == "too_large") {
      for (AttachmentOutcome& o : outcomes_) {
        Escalate(Outcome::kStrip, "too_large", message_reason, &o);
      }
      message_action = Outcome::kAccept;
    } else {
      message_action = Outcome::kHold;  // which interpretation would we cut?
    }
  }

  // The message's action: the most severe of all; the first attachment with it names the reply.
  Outcome action = message_action;
  const AttachmentOutcome* decider = nullptr;
  for (const AttachmentOutcome& o : outcomes_) {
    if (OutcomeSeverity(o.action) > OutcomeSeverity(action)) {
      action = o.action;
      decider = &o;
    }
  }
  std::shared_ptr<Spool> body;
  const bool any_strip =
      std::any_of(outcomes_.begin(), outcomes_.end(),
                  [](const AttachmentOutcome& o) { return o.action == Outcome::kStrip; });
  // Stripped parts are cut from a held copy too: a release must not deliver them.
  if (any_strip && action != Outcome::kReject && action != Outcome::kTempfail) {
    bool cuttable = true;
    Status s = BuildStrippedBody(spool, msg, &body, &cuttable);
    if (!s.ok()) return s;
    if (!cuttable) {
      for (AttachmentOutcome& o : outcomes_) {
        if (o.action == Outcome::kStrip) {
          o.action = Outcome::kHold;
          o.reason += " (cannot be cut out: held)";
          if (OutcomeSeverity(Outcome::kHold) > OutcomeSeverity(action)) {
            action = Outcome::kHold;
            decider = &o;
          }
        }
      }
      body.reset();
    }
  }

  std::string why;
  std::string outcome;
  if (decider != nullptr) {
    why = "attachment \"" + Printable(decider->name, 200) + "\" " + decider->reason;
    outcome = decider->outcome;
  } else {
    why = message_reason;
    outcome = message_outcome;
  }
  // The message's outcome; SMTP codes are the adapter's (milter/reply.h).
  if (action != Outcome::kAccept && action != Outcome::kStrip) {
    d->Set(action, FailureClassOfOutcome(outcome), why);
    *refused = action == Outcome::kReject || action == Outcome::kTempfail;
  }
  if (action != Outcome::kAccept) {
    d->reasons.push_back(std::string("attachment:") + outcome + ":" + OutcomeName(action));
  }
  if (database_stale_) d->reasons.push_back(std::string(kScannerDatabaseStale));
  d->replacement_body = body;

  // Records, log lines, events; renames into the store when the message is kept.
  for (AttachmentOutcome& o : outcomes_) {
    StoredAttachment sa;
    sa.filename = o.info.filename.empty() ? o.name : o.info.filename;
    sa.declared_type = o.info.declared_type;
    sa.detected_type = o.detected_type;
    sa.size = o.info.size;
    sa.sha256 = o.info.sha256;
    sa.verdict = AttachmentVerdictName(o.action);
    sa.reason = o.reason;
    sa.virus = o.virus;
    if (o.action == Outcome::kTempfail) sa.reason = "tempfail: " + sa.reason;
    if (o.action == Outcome::kStrip) {
      TicketEvent ev;
      ev.at = now;
      ev.type = "attachment_removed";
      ev.text = "Attachment \"" + o.name + "\" removed: " + o.reason;
      events->push_back(std::move(ev));
    }
    d->extra_log_lines.push_back({{"attachment", o.name},
                                  {"part", o.info.part_path},
                                  {"declared", o.info.declared_type.empty() ? "-" : o.info.declared_type},
                                  {"detected", o.detected_type.empty() ? "-" : o.detected_type},
                                  {"size", std::to_string(o.info.size)},
                                  {"sha256", o.info.sha256},
                                  {"outcome", o.outcome},
                                  {"action", OutcomeName(o.action)},
                                  {"reason", o.reason.empty() ? "-" : o.reason},
                                  {"virus", o.virus.empty() ? "-" : o.virus}});
    stored->push_back(sa);
  }
  if (!message_outcome.empty()) {
    d->extra_log_lines.push_back({{"attachments", "message"},
                                  {"outcome", message_outcome},
                                  {"action", OutcomeName(message_action)},
                                  {"reason", message_reason}});
  }
  d->attachments = *stored;
  return Status::Ok();
}

}  // namespace desk
