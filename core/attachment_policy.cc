// AttachmentPolicy: the rules of attachment_policy.h.
#include "core/attachment_policy.h"

#include <algorithm>
#include <array>

namespace desk {
namespace {

// Names that say "archive". Refused by name while archives = refuse; under inspect the content
// decides, so a zip named .zip can be opened and judged.
constexpr std::array<std::string_view, 22> kArchiveExtensions = {
    "zip", "rar", "7z",  "tar", "gz",  "tgz", "bz2",  "tbz", "tbz2", "xz",  "txz",
    "zst", "lz",  "lzh", "lha", "cab", "arj", "cpio", "iso", "z",    "ace", "zipx",
};

constexpr std::string_view kOoxmlPrefix = "application/vnd.openxmlformats-officedocument.";
constexpr std::string_view kOdfPrefix = "application/vnd.oasis.opendocument.";

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

bool IsOfficeZipType(std::string_view mime) {
  return StartsWith(mime, kOoxmlPrefix) || StartsWith(mime, kOdfPrefix);
}

bool IsZipType(std::string_view mime) {
  return mime == "application/zip" || mime == "application/x-zip-compressed";
}

AttachmentVerdict Refused(std::string reason) {
  return AttachmentVerdict{AttachmentVerdict::Outcome::kRefusedType, std::move(reason)};
}
AttachmentVerdict ScanLimit(std::string reason) {
  return AttachmentVerdict{AttachmentVerdict::Outcome::kScanLimit, std::move(reason)};
}

// The extensions a name shows: the one after the last dot, and the one before a NUL if any, since C
// code on the desktop stops reading there.
std::vector<std::string> ExtensionsOf(std::string_view filename) {
  std::vector<std::string> out;
  out.push_back(ExtensionOf(filename));
  size_t nul = filename.find('\0');
  if (nul != std::string_view::npos) out.push_back(ExtensionOf(filename.substr(0, nul)));
  return out;
}

}  // namespace

const char* ArchiveModeName(ArchiveMode m) {
  return m == ArchiveMode::kInspect ? "inspect" : "refuse";
}

bool ParseArchiveMode(std::string_view s, ArchiveMode* out) {
  if (s == "refuse")
    *out = ArchiveMode::kRefuse;
  else if (s == "inspect")
    *out = ArchiveMode::kInspect;
  else
    return false;
  return true;
}

const char* EncryptedModeName(EncryptedMode m) {
  return m == EncryptedMode::kScanLimit ? "scan_limit" : "refuse";
}

bool ParseEncryptedMode(std::string_view s, EncryptedMode* out) {
  if (s == "refuse")
    *out = EncryptedMode::kRefuse;
  else if (s == "scan_limit")
    *out = EncryptedMode::kScanLimit;
  else
    return false;
  return true;
}

const char* OutcomeName(AttachmentVerdict::Outcome o) {
  switch (o) {
    case AttachmentVerdict::Outcome::kAllowed:
      return "allowed";
    case AttachmentVerdict::Outcome::kRefusedType:
      return "refused_type";
    case AttachmentVerdict::Outcome::kTooLarge:
      return "too_large";
    case AttachmentVerdict::Outcome::kScanLimit:
      return "scan_limit";
  }
  return "unknown";
}

bool TypeMatches(std::string_view pattern, std::string_view mime) {
  if (!pattern.empty() && pattern.back() == '*') {
    return StartsWith(mime, pattern.substr(0, pattern.size() - 1));
  }
  return pattern == mime;
}

AttachmentPolicy::AttachmentPolicy(AttachmentPolicyConfig config) : config_(std::move(config)) {}

bool AttachmentPolicy::TypeIn(const std::vector<std::string>& patterns,
                              std::string_view mime) const {
  if (mime.empty()) return false;
  return std::any_of(patterns.begin(), patterns.end(),
                     [&](const std::string& p) { return TypeMatches(p, mime); });
}

AttachmentVerdict AttachmentPolicy::JudgeName(std::string_view filename) const {
  const auto& c = config_;
  auto has = [](const std::vector<std::string>& v, std::string_view s) {
    return std::find(v.begin(), v.end(), s) != v.end();
  };
  auto category_allowed = [&](Category cat) {
    return std::find(c.allowed_categories.begin(), c.allowed_categories.end(), cat) !=
           c.allowed_categories.end();
  };
  for (const std::string& ext : ExtensionsOf(filename)) {
    if (ext.empty()) continue;
    bool archive_name = std::find(kArchiveExtensions.begin(), kArchiveExtensions.end(), ext) !=
                        kArchiveExtensions.end();
    if (has(c.refused_extensions, ext) || (archive_name && c.archives == ArchiveMode::kRefuse &&
                                           !category_allowed(Category::kArchive))) {
      return Refused("extension ." + ext);
    }
  }
  if (!c.allowed_extensions.empty() && !filename.empty()) {
    std::string ext = ExtensionOf(filename);
    if (!has(c.allowed_extensions, ext)) {
      return Refused(ext.empty() ? "no extension" : "extension ." + ext + " not allowed");
    }
  }
  if (IsExecutableName(filename) && !category_allowed(Category::kExecutable)) {
    return Refused("executable");
  }
  return AttachmentVerdict{};
}

AttachmentVerdict AttachmentPolicy::JudgeFile(std::string_view filename, std::string_view declared_type,
                                    std::string_view detected_type, Category category,
                                    uint64_t size) const {
  const auto& c = config_;
  auto category_allowed = [&](Category cat) {
    return std::find(c.allowed_categories.begin(), c.allowed_categories.end(), cat) !=
           c.allowed_categories.end();
  };
  // 1. size
  if (c.max_attachment_bytes > 0 && size > c.max_attachment_bytes) {
    return AttachmentVerdict{AttachmentVerdict::Outcome::kTooLarge,
                   "size " + std::to_string(size) + " > " + std::to_string(c.max_attachment_bytes)};
  }
  // 2. and the name's part of 3.
  AttachmentVerdict by_name = JudgeName(filename);
  if (!by_name.allowed()) return by_name;
  // 3. executable, by content, name or declared type
  if (!category_allowed(Category::kExecutable) &&
      (category == Category::kExecutable ||
       CategoryOf(declared_type, "") == Category::kExecutable)) {
    return Refused("executable");
  }
  // 4. refused types
  if (TypeIn(c.refused_types, detected_type)) return Refused("type " + std::string(detected_type));
  if (TypeIn(c.refused_types, declared_type)) {
    return Refused("declared type " + std::string(declared_type));
  }
  // 6. allowed? (archives are judged by their caller)
  if (category == Category::kArchive) return AttachmentVerdict{};
  if (category_allowed(category) || TypeIn(c.allowed_types, detected_type)) return AttachmentVerdict{};
  return Refused("type " + std::string(detected_type.empty() ? "unknown" : detected_type));
}

AttachmentVerdict AttachmentPolicy::JudgeEntries(const AttachmentFacts& f, bool office) const {
  const ArchiveListing& l = f.listing;
  AttachmentVerdict limit;  // the first scan_limit reason, reported when nothing is refused
  auto note_limit = [&](std::string reason) {
    if (limit.allowed()) limit = ScanLimit(std::move(reason));
  };
  auto encrypted = [&](std::string what) -> AttachmentVerdict {
    if (config_.encrypted == EncryptedMode::kScanLimit) return ScanLimit(std::move(what));
    return Refused(std::move(what));
  };
  for (size_t i = 0; i < l.entries.size(); ++i) {
    const ArchiveEntry& e = l.entries[i];
    std::string type = i < f.entry_types.size() ? f.entry_types[i] : "";
    if (office) {
      // Only content counts inside an office file; see the header.
      if (CategoryOf(type, "") == Category::kExecutable)
        return Refused("entry " + e.path + ": executable");
      continue;
    }
    Category cat = i < f.entry_categories.size() ? f.entry_categories[i] : CategoryOf(type, e.name);
    if (e.encrypted) {
      // The name is visible even when the content is not: judge it first.
      AttachmentVerdict v = JudgeName(e.name);
      if (v.outcome == AttachmentVerdict::Outcome::kRefusedType)
        return Refused("entry " + e.path + ": " + v.reason);
      AttachmentVerdict enc = encrypted("encrypted entry " + e.path);
      if (enc.outcome == AttachmentVerdict::Outcome::kRefusedType) return enc;
      note_limit(enc.reason);
      continue;
    }
    AttachmentVerdict v = JudgeFile(e.name, "", type, cat, e.size);
    if (!v.allowed()) {
      v.reason = "entry " + e.path + ": " + v.reason;
      return v;
    }
    if (cat == Category::kArchive && !e.opened)
      note_limit("archive entry not inspected: " + e.path);
  }
  if (office) return AttachmentVerdict{};
  if (l.encrypted_headers) {
    AttachmentVerdict enc = encrypted("encrypted archive");
    if (enc.outcome == AttachmentVerdict::Outcome::kRefusedType) return enc;
    note_limit(enc.reason);
  }
  if (!l.incomplete.empty()) note_limit("archive not fully inspected: " + l.incomplete);
  return limit;
}

AttachmentVerdict AttachmentPolicy::Judge(const AttachmentFacts& f) const {
  AttachmentVerdict v = JudgeFile(f.filename, f.declared_type, f.detected_type, f.category, f.size);
  if (!v.allowed()) return v;
  if (f.category == Category::kDocument && IsOfficeZipType(f.detected_type) && f.listed &&
      f.list_error.empty()) {
    return JudgeEntries(f, /*office=*/true);
  }
  if (f.category != Category::kArchive) return v;
  auto allowed_archive =
      std::find(config_.allowed_categories.begin(), config_.allowed_categories.end(),
                Category::kArchive) != config_.allowed_categories.end();
  if (config_.archives == ArchiveMode::kRefuse) {
    if (allowed_archive) return AttachmentVerdict{};
    return Refused("type " + f.detected_type);
  }
  if (!f.listed) return ScanLimit("archive not inspected");
  if (!f.list_error.empty()) return ScanLimit("archive unreadable: " + f.list_error);
  return JudgeEntries(f, /*office=*/false);
}

AttachmentVerdict AttachmentPolicy::JudgeTotal(uint64_t total_bytes) const {
  if (config_.max_total_bytes > 0 && total_bytes > config_.max_total_bytes) {
    return AttachmentVerdict{AttachmentVerdict::Outcome::kTooLarge, "total size " + std::to_string(total_bytes) +
                                                    " > " +
                                                    std::to_string(config_.max_total_bytes)};
  }
  return AttachmentVerdict{};
}

Status AttachmentPolicy::Describe(FileTypeDetector* detector, const ArchiveInspector& inspector,
                                  std::string_view filename, std::string_view declared_type,
                                  std::string_view content, AttachmentFacts* facts) const {
  AttachmentFacts f;
  f.filename = std::string(filename);
  f.declared_type = std::string(declared_type);
  f.size = content.size();
  Status st = detector->Detect(content, &f.detected_type);
  if (!st.ok()) return st;
  f.category = CategoryOf(f.detected_type, filename);

  bool office = IsOfficeZipType(f.detected_type);
  bool inspect = f.category == Category::kArchive && config_.archives == ArchiveMode::kInspect;
  bool zip = IsZipType(f.detected_type);  // maybe an office file libmagic did not recognize
  if (office || inspect || zip) {
    ArchiveLimits limits = inspector.limits();
    limits.max_depth = inspect ? config_.max_archive_depth : 1;
    if (!inspect) {
      // An office document or a zip looked at only for its entry names: the zip reader alone,
      // opening nothing nested, stays in this process. Its allocations follow the bytes it reads;
      // the readers that allocate what a header declares (7z) run in the child, and a fork per
      // office attachment would cost milliseconds per 100 MB of the daemon (docs/BENCHMARKS.md).
      limits.zip_only = true;
      limits.child_memory_mb = 0;
    }
    ArchiveInspector levels(limits);
    Status detect_status;
    DescendFn descend = [&](std::string_view name, std::string_view head) {
      std::string type;
      Status s = detector->Detect(head, &type);
      if (!s.ok()) detect_status = s;
      return s.ok() && CategoryOf(type, name) == Category::kArchive;
    };
    Status ls = levels.List(content, inspect ? descend : DescendFn(), &f.listing);
    if (!detect_status.ok()) return detect_status;
    // Our failure, not the archive's (no child process, limits refused): the internal-error
    // action, never "unreadable".
    if (ls.error_class() == ErrorClass::kInternal) return ls;
    f.listed = true;
    if (!ls.ok()) f.list_error = ls.message();
    for (const ArchiveEntry& e : f.listing.entries) {
      std::string type;
      if (!e.encrypted) {
        Status s = detector->Detect(e.head, &type);
        if (!s.ok()) return s;
      }
      f.entry_categories.push_back(CategoryOf(type, e.name));
      f.entry_types.push_back(std::move(type));
    }
    if (zip && ls.ok()) {
      std::vector<std::string> names;
      std::string odf_mimetype;
      for (const ArchiveEntry& e : f.listing.entries) {
        if (e.depth != 1) continue;
        names.push_back(e.name);
        if (e.name == "mimetype") odf_mimetype = e.head;
      }
      std::string office_type = OfficeTypeFromEntryNames(names, odf_mimetype);
      if (!office_type.empty()) {
        f.detected_type = office_type;
        f.category = CategoryOf(f.detected_type, filename);
      }
    }
  }
  *facts = std::move(f);
  return Status::Ok();
}

}  // namespace desk
