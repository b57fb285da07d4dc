// FileTypeDetector and CategoryOf: the true type of an attachment, from its decoded content.
//
// The detected type comes from libmagic (MAGIC_MIME_TYPE) on the decoded bytes, never from the
// declared Content-Type or the name alone. CategoryOf() then sorts a detected type into the coarse
// classes the attachment policy speaks of: image, video, audio, document, executable, archive,
// other.
//
// Guarantees:
// - Detect() returns a bare lower-case "type/subtype": libmagic's extra text (", no program
// header",
//   "; charset=") is cut off.
// - Office files that are zip containers (OOXML docx/xlsx/pptx, ODF odt/ods/odp) are reported with
//   their office type even when libmagic says application/zip because the entries are not in the
//   order it expects: Detect() looks for "[Content_Types].xml" / "mimetype" in the zip local
//   headers of the bytes it is given, and OfficeTypeFromEntryNames() does the same from a full
//   archive listing.
// - Text, including UTF-8 French or Japanese and Latin-1, is a document, never executable; scripts
//   are executable when libmagic says so (text/x-shellscript, text/x-msdos-batch) or when the name
//   ends in an extension Windows runs (.exe .bat .cmd .scr .com .js .vbs ...), see
//   IsExecutableName().
// - Documents that can run code are executable, not documents: a CHM (compiled HTML help runs
//   script), WinHelp, Windows shortcuts and HTML applications, by type and by name.
//
// Limits: give Detect() at least the first kDetectBytes of the decoded content (or all of it when
// shorter); libmagic misreads zips and PE files cut to a few dozen bytes.
//
// Thread-safety: a FileTypeDetector owns one magic_t cookie, which is NOT safe to share between
// threads: use one detector per connection or thread, or guard a shared one with a mutex.
// CategoryOf() and the other free functions are pure and thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace desk {

enum class Category { kImage, kVideo, kAudio, kDocument, kExecutable, kArchive, kOther };

// "image", "video", "audio", "document", "executable", "archive", "other".
const char* CategoryName(Category c);
// The inverse of CategoryName. Returns false for anything else.
bool ParseCategory(std::string_view s, Category* out);

class FileTypeDetector {
 public:
  // How many leading bytes of the decoded content Detect() wants to see.
  static constexpr size_t kDetectBytes = 64 * 1024;

  // Opens a libmagic cookie with the system database. Status::Internal when libmagic cannot load
  // it.
  static Status Create(std::unique_ptr<FileTypeDetector>* out);
  ~FileTypeDetector();
  FileTypeDetector(const FileTypeDetector&) = delete;
  FileTypeDetector& operator=(const FileTypeDetector&) = delete;

  // Sets *mime to the detected "type/subtype" of content (the first kDetectBytes or more of the
  // decoded attachment; longer input is cut to kDetectBytes). Empty content is
  // "application/x-empty". Status::Internal when libmagic fails; *mime is then unchanged.
  Status Detect(std::string_view content, std::string* mime);

 private:
  explicit FileTypeDetector(void* cookie) : cookie_(cookie) {}
  void* cookie_;  // magic_t
};

// The category of a detected type, with the file name as a second witness: the name can only make a
// file executable (a text file named "run.bat"), it never makes an executable harmless.
Category CategoryOf(std::string_view mime, std::string_view filename);

// The lower-case extension that decides what Windows or a desktop does with the name, without the
// dot: the last one, after stripping the trailing dots and spaces Windows ignores and any directory
// part ("a/b\\c.PDF.exe. " -> "exe"). "" when there is none.
std::string ExtensionOf(std::string_view filename);

// True when the name ends in an extension that runs code when opened (exe, dll, bat, cmd, scr, com,
// pif, cpl, msi, js, vbs, ps1, hta, jar, lnk, ...), including document-like types that run script or
// start programs (chm, hlp, sct, wsc, url, iqy, settingcontent-ms, xll, jnlp, ...).
bool IsExecutableName(std::string_view filename);

// Given the entry names of a zip container, the office MIME type it is ("[Content_Types].xml" with
// word/, xl/ or ppt/ parts; ODF with a "mimetype" entry whose content the caller passes, or "" when
// unknown), or "" when it is not an office document.
std::string OfficeTypeFromEntryNames(const std::vector<std::string>& names,
                                     std::string_view odf_mimetype_content = "");

}  // namespace desk
