// Test fixtures for the attachment tests, built at run time so no binary is committed: archives
// written with libarchive's writer, minimal image/audio/video/office headers, the EICAR test
// string, a hand-written ClamAV signature database in a temporary directory (see
// shared/notes/clamav.md).
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace desk::testing {

struct FixtureEntry {
  std::string name;
  std::string data;
};

// An archive in memory. format: "zip", "7zip", "ustar"; filter: "", "gzip", "bzip2", "xz".
// passphrase: encrypt the entries (zip: traditional PKWARE encryption). options: libarchive writer
// options, e.g. "zip:compression=store".
inline std::string MakeArchive(const std::vector<FixtureEntry>& entries,
                               const std::string& format = "zip", const std::string& filter = "",
                               const std::string& passphrase = "",
                               const std::string& options = "") {
  archive* a = archive_write_new();
  EXPECT_EQ(archive_write_set_format_by_name(a, format.c_str()), ARCHIVE_OK);
  if (!filter.empty()) {
    EXPECT_EQ(archive_write_add_filter_by_name(a, filter.c_str()), ARCHIVE_OK);
  }
  if (!options.empty()) {
    EXPECT_EQ(archive_write_set_options(a, options.c_str()), ARCHIVE_OK) << archive_error_string(a);
  }
  if (!passphrase.empty()) {
    EXPECT_EQ(archive_write_set_options(a, "zip:encryption=zipcrypt"), ARCHIVE_OK)
        << archive_error_string(a);
    EXPECT_EQ(archive_write_set_passphrase(a, passphrase.c_str()), ARCHIVE_OK);
  }
  std::vector<char> buf(1 << 22);
  size_t used = 0;
  EXPECT_EQ(archive_write_open_memory(a, buf.data(), buf.size(), &used), ARCHIVE_OK);
  for (const FixtureEntry& e : entries) {
    archive_entry* ae = archive_entry_new();
    archive_entry_set_pathname(ae, e.name.c_str());
    archive_entry_set_filetype(ae, AE_IFREG);
    archive_entry_set_perm(ae, 0644);
    archive_entry_set_size(ae, la_int64_t(e.data.size()));
    EXPECT_EQ(archive_write_header(a, ae), ARCHIVE_OK) << archive_error_string(a);
    EXPECT_EQ(archive_write_data(a, e.data.data(), e.data.size()), la_ssize_t(e.data.size()));
    archive_entry_free(ae);
  }
  EXPECT_EQ(archive_write_close(a), ARCHIVE_OK) << archive_error_string(a);
  archive_write_free(a);
  return std::string(buf.data(), used);
}

// The 68-byte EICAR test string, assembled so this source file is not itself a test virus.
inline std::string Eicar() {
  std::string s = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$";
  s += "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$";
  s += "H+H*";
  return s;
}

inline std::string Png() {
  std::string s("\x89PNG\r\n\x1a\n", 8);
  s += std::string("\x00\x00\x00\x0dIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00", 21);
  s += std::string("\x90\x77\x53\xde", 4);
  return s + std::string(64, '\0');
}
inline std::string Gif() {
  return std::string("GIF89a\x01\x00\x01\x00\x80\x00\x00", 13) + std::string(64, '\0');
}
inline std::string Jpeg() {
  return std::string("\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00", 20) +
         std::string(64, '\0');
}
inline std::string Pdf() {
  return "%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\ntrailer\n<< /Root 1 0 R "
         ">>\n%%EOF\n";
}
inline std::string Mp3() {
  std::string frame("\xff\xfb\x90\x64", 4);
  frame += std::string(413, '\0');
  return std::string("ID3\x03\x00\x00\x00\x00\x00\x00", 10) + frame + frame + frame;
}
inline std::string Le32(uint32_t v) {
  return std::string{char(v & 0xff), char(v >> 8 & 0xff), char(v >> 16 & 0xff), char(v >> 24)};
}
inline std::string Be32(uint32_t v) {
  return std::string{char(v >> 24), char(v >> 16 & 0xff), char(v >> 8 & 0xff), char(v & 0xff)};
}
inline std::string Wav() {
  std::string fmt =
      std::string("fmt ") + Le32(16) +
      std::string("\x01\x00\x01\x00\x40\x1f\x00\x00\x80\x3e\x00\x00\x02\x00\x10\x00", 16);
  std::string data = std::string("data") + Le32(100) + std::string(100, '\0');
  return "RIFF" + Le32(uint32_t(4 + fmt.size() + data.size())) + "WAVE" + fmt + data;
}
inline std::string Mp4() {
  return Be32(24) + "ftypisom" + std::string("\x00\x00\x02\x00", 4) + "isomiso2" + Be32(8) +
         "free" + std::string(100, '\0');
}
inline std::string Mov() {
  return Be32(20) + "ftypqt  " + std::string("\x00\x00\x02\x00", 4) + "qt  " + Be32(8) + "wide" +
         std::string(100, '\0');
}
inline std::string Elf() {
  return std::string(
             "\x7f"
             "ELF\x02\x01\x01",
             7) +
         std::string(9, '\0') + std::string("\x02\x00\x3e\x00\x01\x00\x00\x00", 8) +
         std::string(100, '\0');
}

inline const char* kContentTypes =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Types "
    "xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"><Default "
    "Extension=\"xml\" ContentType=\"application/xml\"/></Types>";

// A minimal OOXML package; main_part "word/document.xml", "xl/workbook.xml" or
// "ppt/presentation.xml". content_types_first = false puts [Content_Types].xml last, which libmagic
// 5.44 no longer recognizes as OOXML.
inline std::string Ooxml(const std::string& main_part, bool content_types_first = true) {
  std::vector<FixtureEntry> e = {{"_rels/.rels", "<Relationships/>"}, {main_part, "<doc/>"}};
  if (content_types_first) {
    e.insert(e.begin(), {"[Content_Types].xml", kContentTypes});
  } else {
    e.push_back({"[Content_Types].xml", kContentTypes});
  }
  return MakeArchive(e);
}

// A minimal ODF package: "mimetype" first and stored, as ODF requires.
inline std::string Odf(const std::string& mimetype) {
  return MakeArchive({{"mimetype", mimetype},
                      {"content.xml", "<office:document-content/>"},
                      {"META-INF/manifest.xml", "<manifest:manifest/>"}},
                     "zip", "", "", "zip:compression=store");
}

inline std::string ReadFileOrDie(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
  ASSERT_TRUE(out.good()) << path;
}

// TNEF (winmail.dat) written by hand, after MS-OXTNEF: attributes (level, id, length, data,
// checksum) and MAPI properties (tag, value count, length, value padded to 4 bytes).
namespace tnef {
inline std::string Le16(uint32_t v) { return {char(v & 0xFF), char(v >> 8 & 0xFF)}; }
inline std::string Le32(uint32_t v) { return Le16(v & 0xFFFF) + Le16(v >> 16); }
constexpr uint32_t kRendData = 0x00069002, kTitle = 0x00018010, kData = 0x0006800F,
                   kAttachment = 0x00069005, kSubject = 0x00018004;

inline std::string Attr(uint8_t level, uint32_t id, const std::string& data) {
  uint32_t sum = 0;
  for (char c : data) sum += uint8_t(c);
  return std::string(1, char(level)) + Le32(id) + Le32(uint32_t(data.size())) + data +
         Le16(sum & 0xFFFF);
}
inline std::string Utf16(const std::string& ascii) {
  std::string out;
  for (char c : ascii) out += std::string{c, '\0'};
  return out + std::string(2, '\0');
}
// One variable-length MAPI property (PT_UNICODE 0x1F, PT_BINARY 0x102, PT_OBJECT 0x0D).
inline std::string Prop(uint16_t type, uint16_t id, std::string value) {
  const uint32_t len = uint32_t(value.size());
  while (value.size() % 4 != 0) value.push_back('\0');
  return Le16(type) + Le16(id) + Le32(1) + Le32(len) + value;
}
inline std::string Props(const std::vector<std::string>& props) {
  std::string out = Le32(uint32_t(props.size()));
  for (const std::string& p : props) out += p;
  return out;
}
// The signature, a key and a message subject, then attrs.
inline std::string Stream(const std::string& attrs) {
  return Le32(0x223E9F78) + Le16(0x1234) + Attr(1, kSubject, "hello") + attrs;
}
// One attachment: an 8.3 title, data, and a long file name in its MAPI properties.
inline std::string File(const std::string& title, const std::string& long_name,
                        const std::string& data) {
  return Attr(2, kRendData, std::string(14, '\0')) + Attr(2, kTitle, title + '\0') +
         Attr(2, kData, data) + Attr(2, kAttachment, Props({Prop(0x1F, 0x3707, Utf16(long_name))}));
}
}  // namespace tnef

constexpr const char* kClamTestFiles = "/usr/share/clamav-testfiles";

// A temporary directory, removed with everything in it at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "desk_attach_XXXXXX").string();
    char* p = mkdtemp(tmpl.data());
    EXPECT_NE(p, nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace desk::testing
