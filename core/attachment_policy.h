// AttachmentPolicy: which attachments a queue lets through, judged on facts, never on trust.
//
// The facts about one attachment (name, declared type, type detected by libmagic, category, size,
// and for an inspected archive the entries inside it) go in; an AttachmentVerdict comes out: allowed,
// refused_type, too_large or scan_limit, with a short reason for the 5xx reply, the strip notice
// and the log ("executable", "extension .exe", "type application/zip", "size 61234567 > 52428800").
//
// Rules, in order (the first that fires decides):
//  1. size > max_attachment_bytes                      -> too_large
//  2. the name's extension is refused, or not in a non-empty allowed_extensions list
//                                                      -> refused_type "extension .exe"
//  3. the category (from content AND name) is executable, or the declared type is an executable
//     type, and executables are not allowed           -> refused_type "executable"
//  4. the detected or declared type matches refused_types -> refused_type "type application/zip"
//  5. archive category: archives = refuse              -> refused_type "type <detected>"
//     archives = inspect: every entry judged by rules 1-4 and 6 with its own name and detected type
//     (an entry refused -> refused_type "entry x.exe: executable"), an encrypted entry
//     -> refused_type "encrypted entry x" (or scan_limit when encrypted = scan_limit), a nested
//     archive that could not be opened or an incomplete listing -> scan_limit
//  6. neither the category nor the detected type is allowed -> refused_type "type image/bmp"
//  7. otherwise allowed.
// So a refused type is refused whether the name or the content says so: a PE named .pdf is refused
// (content), a PDF named .exe is refused (name).
//
// Office zip containers (docx, xlsx, odt, ...) are documents, not archives; when they were listed
// (DescribeAttachment does, whatever the archives mode), an entry whose CONTENT is executable
// refuses the document ("entry x.exe: executable"), because anyone can put an [Content_Types].xml
// in a zip. Names inside office files are not judged: real ones hold oleObject1.bin and the like.
//
// Encrypted archive entries are refused by default: neither the policy nor ClamAV can see inside,
// and a password-protected zip with the password in the mail body is a classic way to deliver
// malware. A queue that receives them legitimately sets encrypted = kScanLimit (hold for an
// administrator).
//
// Pure: no I/O but through the detector and inspector passed in, no clock, no logging.
// Thread-safety: AttachmentPolicy is immutable after construction and safe to share.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/archive_inspect.h"
#include "core/file_type.h"
#include "core/status.h"

namespace desk {

enum class ArchiveMode { kRefuse, kInspect };
const char* ArchiveModeName(ArchiveMode m);                   // "refuse", "inspect"
bool ParseArchiveMode(std::string_view s, ArchiveMode* out);  // false on anything else

enum class EncryptedMode { kRefuse, kScanLimit };
const char* EncryptedModeName(EncryptedMode m);                   // "refuse", "scan_limit"
bool ParseEncryptedMode(std::string_view s, EncryptedMode* out);  // false on anything else

// One queue's attachment policy. Type patterns are lower-case MIME types, "type/*", or a prefix
// ending in "*" ("application/vnd.openxmlformats-officedocument.*"); extensions are lower-case
// without the dot. The product defaults are the option table's (config/schema.cc), through
// PolicyFromQueue (core/attachment_stage.h).
struct AttachmentPolicyConfig {
  std::vector<Category> allowed_categories;  // every type of these categories is allowed
  std::vector<std::string> allowed_types;    // patterns allowed beyond the categories
  std::vector<std::string> refused_types;    // patterns refused, whatever the category
  std::vector<std::string> refused_extensions;
  std::vector<std::string> allowed_extensions;  // when non-empty, only these extensions pass
  ArchiveMode archives = ArchiveMode::kRefuse;
  int max_archive_depth = 0;  // levels of nested archives inspected (1 = the archive itself)
  EncryptedMode encrypted = EncryptedMode::kRefuse;
  uint64_t max_attachment_bytes = 0;            // per attachment, decoded; 0 = no limit
  uint64_t max_total_bytes = 0;                 // all attachments of a message; 0 = no limit
};

// True when mime matches pattern ("image/png", "image/*", "application/vnd.ms-*").
bool TypeMatches(std::string_view pattern, std::string_view mime);

struct AttachmentFacts {
  std::string filename;                  // decoded, UTF-8; "" when the part has none
  std::string declared_type;             // lower-case "type/subtype" from Content-Type; may be ""
  std::string detected_type;             // from FileTypeDetector::Detect
  Category category = Category::kOther;  // CategoryOf(detected_type, filename)
  uint64_t size = 0;                     // decoded bytes
  // Filled when the attachment was listed (archive under inspect, or an office container).
  bool listed = false;
  std::string list_error;  // the archive could not be opened at all
  ArchiveListing listing;
  // Per entry of listing.entries, same order: detected type and category of its head.
  std::vector<std::string> entry_types;
  std::vector<Category> entry_categories;
};

struct AttachmentVerdict {
  enum class Outcome { kAllowed, kRefusedType, kTooLarge, kScanLimit };
  Outcome outcome = Outcome::kAllowed;
  std::string reason;  // "" when allowed
  bool allowed() const { return outcome == Outcome::kAllowed; }
};
const char* OutcomeName(
    AttachmentVerdict::Outcome o);  // "allowed", "refused_type", "too_large", "scan_limit"

class AttachmentPolicy {
 public:
  explicit AttachmentPolicy(AttachmentPolicyConfig config);

  AttachmentVerdict Judge(const AttachmentFacts& facts) const;

  // The message-level size rule: total decoded attachment bytes against max_total_bytes.
  AttachmentVerdict JudgeTotal(uint64_t total_bytes) const;

  // Builds the facts for one decoded attachment: detects its type (first kDetectBytes), its
  // category and, when it is an archive and archives = inspect or it is an office zip container,
  // lists it with the inspector (nested archives opened when their head is detected as an archive,
  // to max_archive_depth), detecting each entry. A zip that libmagic calls application/zip but
  // whose listing shows an office document gets the office type. Errors: only the detector's
  // (Status::Internal); an unreadable archive is a fact (list_error), not an error.
  Status Describe(FileTypeDetector* detector, const ArchiveInspector& inspector,
                  std::string_view filename, std::string_view declared_type,
                  std::string_view content, AttachmentFacts* facts) const;

  const AttachmentPolicyConfig& config() const { return config_; }

 private:
  // Rules 1-4 and 6 for a file (the attachment or an archive entry); archives pass rule 6.
  AttachmentVerdict JudgeFile(std::string_view filename, std::string_view declared_type,
                    std::string_view detected_type, Category category, uint64_t size) const;
  // Rule 2 and the name part of rule 3: what the name alone says.
  AttachmentVerdict JudgeName(std::string_view filename) const;
  AttachmentVerdict JudgeEntries(const AttachmentFacts& facts, bool office) const;
  bool TypeIn(const std::vector<std::string>& patterns, std::string_view mime) const;

  AttachmentPolicyConfig config_;
};

}  // namespace desk
