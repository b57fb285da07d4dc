// FileTypeDetector: libmagic detection and the category table. See file_type.h.
#include "core/file_type.h"

#include <magic.h>

#include <algorithm>
#include <array>
#include <cstdint>

namespace desk {
namespace {

constexpr std::string_view kZipMime = "application/zip";
constexpr std::string_view kOoxmlPrefix = "application/vnd.openxmlformats-officedocument.";
constexpr std::string_view kOdfPrefix = "application/vnd.oasis.opendocument.";

// Types that run code. libmagic 5.44 names a PE "application/vnd.microsoft.portable-executable",
// a bare DOS header "application/x-dosexec", an ELF "application/x-executable" / "x-sharedlib" /
// "x-pie-executable", a Mach-O "application/x-mach-binary".
// Documents that run script or code when opened are classed by what they can do: a CHM
// ("application/vnd.ms-htmlhelp", libmagic 5.44) runs script, WinHelp runs macros, a shortcut
// starts a program; the "application/vnd.ms-" document rule below must never see them.
constexpr std::array<std::string_view, 24> kExecutableTypes = {
    "application/vnd.microsoft.portable-executable",
    "application/x-dosexec",
    "application/x-msdownload",
    "application/x-msdos-program",
    "application/x-executable",
    "application/x-sharedlib",
    "application/x-pie-executable",
    "application/x-elf",
    "application/x-object",
    "application/x-mach-binary",
    "application/x-mach-o-executable",
    "application/x-msi",
    "application/x-ms-installer",
    "application/java-archive",
    "application/x-java-applet",
    "text/x-shellscript",
    "text/x-msdos-batch",
    "application/vnd.ms-htmlhelp",
    "application/x-chm",
    "application/winhelp",
    "application/x-winhelp",
    "application/x-ms-shortcut",
    "application/hta",
    "text/x-vbscript",
};

constexpr std::array<std::string_view, 23> kArchiveTypes = {
    "application/zip",
    "application/x-zip-compressed",
    "application/x-rar",
    "application/vnd.rar",
    "application/x-rar-compressed",
    "application/x-7z-compressed",
    "application/x-tar",
    "application/x-gtar",
    "application/gzip",
    "application/x-gzip",
    "application/x-bzip2",
    "application/x-xz",
    "application/x-lzma",
    "application/x-lzip",
    "application/zstd",
    "application/x-compress",
    "application/vnd.ms-cab-compressed",
    "application/x-cpio",
    "application/x-arj",
    "application/x-lha",
    "application/x-lzh-compressed",
    "application/x-archive",
    "application/x-iso9660-image",
};

// Extensions that run code when opened on a desktop, Windows above all. The second block are
// "documents" that run script or start programs: compiled HTML help, WinHelp, scriptlets, Internet
// and settings shortcuts, Excel web queries and add-ins, ClickOnce and Java Web Start files.
constexpr std::array<std::string_view, 42> kExecutableExtensions = {
    "exe", "dll", "bat", "cmd", "scr", "com", "pif",    "cpl",         "msi", "msp",
    "msc", "vbs", "vbe", "js",  "jse", "wsf", "wsh",    "hta",         "ps1", "lnk",
    "jar", "reg", "sys", "ocx", "drv", "scf", "gadget", "application",
    "chm", "hlp", "sct", "wsc", "url", "iqy", "settingcontent-ms", "appref-ms", "xll", "jnlp",
    "psc1", "msh", "vb", "inf",
};

// Document types outside text/*, application/vnd.ms-*, OOXML and ODF.
constexpr std::array<std::string_view, 10> kDocumentTypes = {
    "application/pdf",        "application/msword",   "application/rtf",
    "application/postscript", "application/epub+zip", "application/json",
    "application/xml",        "application/csv",      "application/x-mobipocket-ebook",
    "message/rfc822",
};

template <size_t N>
bool In(const std::array<std::string_view, N>& table, std::string_view s) {
  return std::find(table.begin(), table.end(), s) != table.end();
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

uint32_t Le16(std::string_view b, size_t at) {
  return uint32_t(uint8_t(b[at])) | uint32_t(uint8_t(b[at + 1])) << 8;
}
uint32_t Le32(std::string_view b, size_t at) { return Le16(b, at) | Le16(b, at + 2) << 16; }

// Cuts libmagic's answer to a bare lower-case "type/subtype".
std::string BareMime(std::string_view raw) {
  size_t end = raw.find_first_of(",; \t");
  std::string mime(raw.substr(0, end));
  for (char& ch : mime) {
    if (ch >= 'A' && ch <= 'Z') ch = char(ch - 'A' + 'a');
  }
  return mime;
}

// Entry names (and the content of a stored "mimetype" entry) from the zip local file headers found
// in the bytes given; the central directory is usually beyond them.
std::string OfficeTypeFromLocalHeaders(std::string_view b) {
  std::vector<std::string> names;
  std::string odf_mimetype;
  size_t pos = 0;
  while (names.size() < 64) {
    pos = b.find("PK\x03\x04", pos);
    if (pos == std::string_view::npos || b.size() - pos < 30) break;
    uint32_t method = Le16(b, pos + 8);
    uint32_t csize = Le32(b, pos + 18);
    uint32_t name_len = Le16(b, pos + 26);
    uint32_t extra_len = Le16(b, pos + 28);
    size_t name_at = pos + 30;
    if (b.size() - name_at < name_len) break;
    std::string name(b.substr(name_at, name_len));
    size_t data_at = name_at + name_len + extra_len;
    if (name == "mimetype" && method == 0 && data_at <= b.size()) {
      odf_mimetype = std::string(b.substr(data_at, std::min<size_t>(csize, 100)));
    }
    names.push_back(std::move(name));
    pos = name_at;
  }
  return OfficeTypeFromEntryNames(names, odf_mimetype);
}

}  // namespace

const char* CategoryName(Category c) {
  switch (c) {
    case Category::kImage:
      return "image";
    case Category::kVideo:
      return "video";
    case Category::kAudio:
      return "audio";
    case Category::kDocument:
      return "document";
    case Category::kExecutable:
      return "executable";
    case Category::kArchive:
      return "archive";
    case Category::kOther:
      return "other";
  }
  return "other";
}

bool ParseCategory(std::string_view s, Category* out) {
  for (Category c : {Category::kImage, Category::kVideo, Category::kAudio, Category::kDocument,
                     Category::kExecutable, Category::kArchive, Category::kOther}) {
    if (s == CategoryName(c)) {
      *out = c;
      return true;
    }
  }
  return false;
}

Status FileTypeDetector::Create(std::unique_ptr<FileTypeDetector>* out) {
  magic_t cookie = magic_open(MAGIC_MIME_TYPE | MAGIC_ERROR);
  if (cookie == nullptr) return Status::Internal("magic_open failed");
  if (magic_load(cookie, nullptr) != 0) {
    std::string err = magic_error(cookie) ? magic_error(cookie) : "unknown error";
    magic_close(cookie);
    return Status::Internal("magic_load: " + err);
  }
  out->reset(new FileTypeDetector(cookie));
  return Status::Ok();
}

FileTypeDetector::~FileTypeDetector() { magic_close(static_cast<magic_t>(cookie_)); }

Status FileTypeDetector::Detect(std::string_view content, std::string* mime) {
  if (content.empty()) {
    *mime = "application/x-empty";
    return Status::Ok();
  }
  content = content.substr(0, kDetectBytes);
  const char* raw = magic_buffer(static_cast<magic_t>(cookie_), content.data(), content.size());
  if (raw == nullptr) {
    const char* err = magic_error(static_cast<magic_t>(cookie_));
    return Status::Internal(std::string("magic_buffer: ") + (err ? err : "unknown error"));
  }
  std::string detected = BareMime(raw);
  if (detected == "inode/x-empty") detected = "application/x-empty";
  if (detected == kZipMime) {
    std::string office = OfficeTypeFromLocalHeaders(content);
    if (!office.empty()) detected = office;
  }
  *mime = std::move(detected);
  return Status::Ok();
}

std::string ExtensionOf(std::string_view filename) {
  size_t slash = filename.find_last_of("/\\");
  if (slash != std::string_view::npos) filename.remove_prefix(slash + 1);
  while (!filename.empty() && (filename.back() == '.' || filename.back() == ' ')) {
    filename.remove_suffix(1);
  }
  size_t dot = filename.rfind('.');
  if (dot == std::string_view::npos) return "";
  std::string ext(filename.substr(dot + 1));
  for (char& ch : ext) {
    if (ch >= 'A' && ch <= 'Z') ch = char(ch - 'A' + 'a');
  }
  return ext;
}

bool IsExecutableName(std::string_view filename) {
  // A NUL in a decoded name ("x.exe\0.pdf") ends the name for C code on the desktop: judge both.
  size_t nul = filename.find('\0');
  if (nul != std::string_view::npos && IsExecutableName(filename.substr(0, nul))) return true;
  return In(kExecutableExtensions, ExtensionOf(filename));
}

Category CategoryOf(std::string_view mime, std::string_view filename) {
  if (In(kExecutableTypes, mime) || IsExecutableName(filename)) return Category::kExecutable;
  if (In(kArchiveTypes, mime)) return Category::kArchive;
  if (StartsWith(mime, "image/")) return Category::kImage;
  if (StartsWith(mime, "video/")) return Category::kVideo;
  if (StartsWith(mime, "audio/")) return Category::kAudio;
  if (StartsWith(mime, "text/") || StartsWith(mime, kOoxmlPrefix) || StartsWith(mime, kOdfPrefix) ||
      StartsWith(mime, "application/vnd.ms-") || In(kDocumentTypes, mime)) {
    return Category::kDocument;
  }
  return Category::kOther;
}

std::string OfficeTypeFromEntryNames(const std::vector<std::string>& names,
                                     std::string_view odf_mimetype_content) {
  bool content_types = false, word = false, xl = false, ppt = false, odf = false;
  for (const std::string& n : names) {
    if (n == "[Content_Types].xml") content_types = true;
    if (StartsWith(n, "word/")) word = true;
    if (StartsWith(n, "xl/")) xl = true;
    if (StartsWith(n, "ppt/")) ppt = true;
    if (n == "mimetype") odf = true;
  }
  if (content_types) {
    if (word) return std::string(kOoxmlPrefix) + "wordprocessingml.document";
    if (xl) return std::string(kOoxmlPrefix) + "spreadsheetml.sheet";
    if (ppt) return std::string(kOoxmlPrefix) + "presentationml.presentation";
  }
  if (odf && StartsWith(odf_mimetype_content, kOdfPrefix)) {
    std::string_view t = odf_mimetype_content;
    size_t end = t.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789.-+/");
    return std::string(t.substr(0, end));
  }
  return "";
}

}  // namespace desk
