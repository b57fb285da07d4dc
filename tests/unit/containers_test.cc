// Containers the MIME walk opens so that no file hides from the attachment policy: TNEF
// (winmail.dat), messages in any transfer encoding, uuencode / yEnc / BinHex blocks in text bodies;
// and structure that cannot be read one way only (reported as malformed, never as "no
// attachments"). Hand-written minimal messages, the MimeKit TNEF samples and ClamAV's test files.
#include <dirent.h>
#include <glib.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "core/mime_parser.h"
#include "core/text_attachments.h"
#include "config/loader.h"
#include "core/tnef.h"
#include "tests/unit/attach_fixtures.h"

namespace desk {
namespace {

using namespace desk::testing;

class ContainersTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { InitMimeLibrary(); }
};

std::string Sha256(const std::string& s) {
  gchar* hex = g_compute_checksum_for_data(G_CHECKSUM_SHA256,
                                           reinterpret_cast<const guchar*>(s.data()), s.size());
  std::string out(hex);
  g_free(hex);
  return out;
}

std::string Base64(const std::string& s) {
  gchar* b = g_base64_encode(reinterpret_cast<const guchar*>(s.data()), s.size());
  std::string out(b);
  g_free(b);
  std::string lines;
  for (size_t i = 0; i < out.size(); i += 76) lines += out.substr(i, 76) + "\n";
  return lines;
}

Status Parse(const std::string& raw, ParsedMessage* out, const ParseLimits& limits = config::DefaultParseLimits()) {
  Spool spool("", 1 << 20);
  Status s = spool.Append(raw);
  if (!s.ok()) return s;
  return ParseMessage(spool, limits, out);
}

ParsedMessage MustParse(const std::string& raw, const ParseLimits& limits = config::DefaultParseLimits()) {
  ParsedMessage m;
  Status s = Parse(raw, &m, limits);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return m;
}

const AttachmentInfo* Find(const ParsedMessage& m, const std::string& path) {
  for (const AttachmentInfo& a : m.attachments) {
    if (a.part_path == path) return &a;
  }
  return nullptr;
}

std::string Paths(const ParsedMessage& m) {
  std::string out;
  for (const AttachmentInfo& a : m.attachments) out += a.part_path + " ";
  return out;
}

// A multipart/mixed mail: a text body, then one part with the given headers and (raw) content.
std::string MailWith(const std::string& part_headers, const std::string& content,
                     const std::string& body = "see attached\n") {
  return "From: a@customer.test\nTo: support@example.com\nSubject: t\nMIME-Version: 1.0\n"
         "Content-Type: multipart/mixed; boundary=\"b1\"\n\n--b1\n"
         "Content-Type: text/plain\n\n" +
         body + "--b1\n" + part_headers + "\n\n" + content + "\n--b1--\n";
}

// ---- TNEF, written by hand ----

using tnef::Attr;
using tnef::Prop;
using tnef::Props;
using tnef::Utf16;
using tnef::kAttachment;
using tnef::kData;
using tnef::kRendData;
std::string Tnef(const std::string& attrs) { return tnef::Stream(attrs); }
std::string TnefFileAttrs(const std::string& title, const std::string& long_name,
                          const std::string& data) {
  return tnef::File(title, long_name, data);
}

std::string TnefMail(const std::string& tnef) {
  return MailWith(
      "Content-Type: application/ms-tnef; name=\"winmail.dat\"\n"
      "Content-Disposition: attachment; filename=\"winmail.dat\"\n"
      "Content-Transfer-Encoding: base64",
      Base64(tnef));
}

// The Windows desktop sees "invoice.pdf.exe": its name and content are judged, at a path that
// says where it came from, with the raw offsets of winmail.dat (stripping it cuts that part).
TEST_F(ContainersTest, TnefFilesReachTheVisitorWithEveryName) {
  const std::string exe = "MZ" + std::string(200, 'x');
  ParsedMessage m = MustParse(TnefMail(
      Tnef(TnefFileAttrs("INVOIC~1.EXE", "invoice.pdf.exe", exe) +
           TnefFileAttrs("notes.txt", "notes.txt", "plain words\n"))));
  EXPECT_TRUE(m.mime_ambiguities.empty());
  ASSERT_EQ(m.attachments.size(), 3u) << Paths(m);
  const AttachmentInfo* container = Find(m, "2");
  const AttachmentInfo* got = Find(m, "2/invoice.pdf.exe");
  ASSERT_NE(container, nullptr);
  ASSERT_NE(got, nullptr) << Paths(m);
  EXPECT_EQ(got->filename, "invoice.pdf.exe");
  EXPECT_EQ(got->other_names, std::vector<std::string>{"INVOIC~1.EXE"});
  EXPECT_EQ(got->sha256, Sha256(exe));
  EXPECT_EQ(got->size, exe.size());
  EXPECT_EQ(got->raw_header_offset, container->raw_header_offset);
  EXPECT_EQ(got->raw_content_end, container->raw_content_end);
  ASSERT_NE(Find(m, "2/notes.txt"), nullptr);
  EXPECT_EQ(Find(m, "2/notes.txt")->sha256, Sha256("plain words\n"));
}

// A TNEF is recognised by its signature whatever it is called or declared as.
TEST_F(ContainersTest, TnefFoundBySignatureUnderAnyName) {
  ParsedMessage m = MustParse(MailWith(
      "Content-Type: application/octet-stream; name=\"data.bin\"\n"
      "Content-Transfer-Encoding: base64",
      Base64(Tnef(TnefFileAttrs("A.EXE", "a.exe", "MZ payload")))));
  ASSERT_NE(Find(m, "2/a.exe"), nullptr) << Paths(m);
}

// PR_ATTACH_DATA_OBJ without attAttachData (embedded object): the data after the 16-byte IID.
TEST_F(ContainersTest, TnefDataObjectPropertyIsAFile) {
  const std::string object = std::string(16, '\x07') + "MZ embedded";
  ParsedMessage m = MustParse(TnefMail(Tnef(
      Attr(2, kRendData, std::string(14, '\0')) +
      Attr(2, kAttachment,
           Props({Prop(0x1F, 0x3707, Utf16("run.exe")), Prop(0x0D, 0x3701, object)})))));
  const AttachmentInfo* got = Find(m, "2/run.exe");
  ASSERT_NE(got, nullptr) << Paths(m);
  EXPECT_EQ(got->sha256, Sha256("MZ embedded"));
}

// An embedded message is itself TNEF: its files are opened too, one level deeper.
TEST_F(ContainersTest, TnefInsideTnefIsOpened) {
  const std::string inner = Tnef(TnefFileAttrs("DEEP.EXE", "deep.exe", "MZ deep"));
  ParsedMessage m = MustParse(TnefMail(Tnef(TnefFileAttrs("MSG", "forwarded", inner))));
  ASSERT_NE(Find(m, "2/forwarded/deep.exe"), nullptr) << Paths(m);
}

// A cut stream cannot be read one way only: malformed (held by default), and what was read before
// the cut is still judged.
TEST_F(ContainersTest, TruncatedTnefIsMalformed) {
  std::string tnef = Tnef(TnefFileAttrs("A.EXE", "a.exe", "MZ payload") +
                          Attr(2, kData, std::string(100, 'z')));
  tnef.resize(tnef.size() - 50);
  ParsedMessage m = MustParse(TnefMail(tnef));
  ASSERT_FALSE(m.mime_ambiguities.empty());
  EXPECT_NE(m.mime_ambiguities[0].find("TNEF"), std::string::npos) << m.mime_ambiguities[0];
  EXPECT_NE(Find(m, "2/a.exe"), nullptr) << Paths(m);
}

TEST_F(ContainersTest, TnefFilesCountAgainstThePartLimit) {
  std::string attrs;
  for (int i = 0; i < 20; ++i) attrs += TnefFileAttrs("F.TXT", "f.txt", "x" + std::to_string(i));
  ParseLimits limits = config::DefaultParseLimits();
  limits.max_mime_parts = 10;
  ParsedMessage m;
  Status s = Parse(TnefMail(Tnef(attrs)), &m, limits);
  EXPECT_EQ(s.error_class(), ErrorClass::kMalformed) << s.ToString();
  EXPECT_NE(s.message().find("parts"), std::string::npos) << s.ToString();
}

// ClamAV's sample: its file comes out whole (ClamAV's own signature for it matches the file,
// which is what the scanner then sees).
TEST_F(ContainersTest, ClamavTnefSampleIsOpened) {
  const std::string path = std::string(kClamTestFiles) + "/clam.tnef";
  if (!std::filesystem::exists(path)) FAIL() << "clamav-testfiles not installed";
  const std::string tnef = ReadFileOrDie(path);  // the files are views into it: keep it alive
  TnefResult r = ReadTnef(tnef);
  EXPECT_FALSE(r.truncated) << r.error;
  ASSERT_FALSE(r.files.empty());
  const std::string exe = ReadFileOrDie(std::string(kClamTestFiles) + "/clam.exe");
  bool found = std::any_of(r.files.begin(), r.files.end(),
                           [&exe](const TnefFile& f) { return f.data == exe; });
  EXPECT_TRUE(found) << "first file: " << r.files[0].name << " " << r.files[0].data.size();
}

// The MimeKit samples: every file their .list names (other than the message body, which is not an
// attachment) is found, with the bytes of the extracted copy when the sample has one.
TEST_F(ContainersTest, MimekitTnefSamplesYieldTheirFiles) {
  const std::string dir = std::string(DESK_CORPORA_DIR) + "/mimekit/tnef";
  if (!std::filesystem::is_directory(dir)) FAIL() << "missing corpus " << dir;
  int samples = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".tnef") continue;
    std::filesystem::path list = entry.path();
    list.replace_extension(".list");
    if (!std::filesystem::exists(list)) continue;
    ++samples;
    const std::string bytes = ReadFileOrDie(entry.path());
    TnefResult r = ReadTnef(bytes);
    const std::string label = entry.path().filename().string();
    // panic.tnef ends in 17 KB of base64 text where an attribute should be: malformed (held),
    // its three images still found. Every other sample reads to its end.
    EXPECT_EQ(r.truncated, label == "panic.tnef") << label << ": " << r.error;
    std::vector<std::string> want;
    std::string listed = ReadFileOrDie(list);
    for (size_t pos = 0; pos < listed.size();) {
      size_t nl = listed.find('\n', pos);
      std::string name = listed.substr(pos, nl == std::string::npos ? nl : nl - pos);
      if (!name.empty() && name.back() == '\r') name.pop_back();
      if (!name.empty() && name != "body.rtf" && name != "body.html") want.push_back(name);
      if (nl == std::string::npos) break;
      pos = nl + 1;
    }
    std::filesystem::path extracted = entry.path();
    extracted.replace_extension("");
    for (const std::string& name : want) {
      auto it = std::find_if(r.files.begin(), r.files.end(), [&name](const TnefFile& f) {
        return f.name == name ||
               std::find(f.other_names.begin(), f.other_names.end(), name) != f.other_names.end();
      });
      if (name == "Untitled Attachment") {  // MimeKit's name for a nameless one: any file
        EXPECT_FALSE(r.files.empty()) << label;
        continue;
      }
      ASSERT_NE(it, r.files.end()) << label << ": " << name << " not found";
      if (std::filesystem::exists(extracted / name)) {
        // The stored copies of text files have LF line ends, and MimeKit keeps the 16-byte
        // interface id in front of an embedded object, which we drop so that its type shows.
        auto no_cr = [](std::string t) {
          t.erase(std::remove(t.begin(), t.end(), '\r'), t.end());
          return t;
        };
        const std::string got = no_cr(std::string(it->data));
        const std::string want = no_cr(ReadFileOrDie(extracted / name));
        EXPECT_TRUE(got == want || (want.size() == got.size() + 16 && want.substr(16) == got))
            << label << ": " << name << " " << got.size() << " bytes, want " << want.size();
      }
    }
  }
  EXPECT_GE(samples, 10);
}

// ---- messages in any transfer encoding ----

const char kInnerMail[] =
    "From: x@evil.test\nSubject: inner\nMIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"in\"\n\n--in\nContent-Type: text/plain\n\nhi\n"
    "--in\nContent-Type: application/octet-stream; name=\"setup.exe\"\n"
    "Content-Transfer-Encoding: base64\n\nTVpQQVlMT0FE\n--in--\n";

// GMime keeps a base64 message/rfc822 part as an opaque leaf: it is decoded and walked like any
// attached message, its parts at 2.1, 2.2.
TEST_F(ContainersTest, Base64AttachedMessageIsDescendedInto) {
  ParsedMessage m = MustParse(MailWith(
      "Content-Type: message/rfc822\nContent-Transfer-Encoding: base64", Base64(kInnerMail)));
  const AttachmentInfo* exe = Find(m, "2.2");
  ASSERT_NE(exe, nullptr) << Paths(m);
  EXPECT_EQ(exe->filename, "setup.exe");
  EXPECT_EQ(exe->sha256, Sha256("MZPAYLOAD"));
  EXPECT_EQ(exe->raw_content_end, Find(m, "2")->raw_content_end);  // cut as the whole .eml
  EXPECT_NE(Find(m, "2.1"), nullptr);  // the inner text is an attachment of this mail
}

// An attached mail written with bare CR line ends only (old Mac OS, or a sender's choice) is read
// as the mail itself would be: a client that opens it may take every CR as a line end and show
// setup.exe, so the filter must find it too. Before, GMime read one long line and found nothing.
TEST_F(ContainersTest, BareCrAttachedMessageIsReadLikeABareCrMail) {
  std::string cr = kInnerMail;
  std::replace(cr.begin(), cr.end(), '\n', '\r');
  for (const char* type : {"Content-Type: message/rfc822\nContent-Transfer-Encoding: base64",
                           "Content-Type: application/octet-stream; name=\"fwd.eml\"\n"
                           "Content-Transfer-Encoding: base64"}) {
    ParsedMessage m = MustParse(MailWith(type, Base64(cr)));
    const AttachmentInfo* exe = Find(m, "2.2");
    ASSERT_NE(exe, nullptr) << type << "\n" << Paths(m);
    EXPECT_EQ(exe->filename, "setup.exe");
    EXPECT_EQ(exe->sha256, Sha256("MZPAYLOAD"));
  }
}

TEST_F(ContainersTest, QuotedPrintableAttachedMessageIsDescendedInto) {
  std::string qp = kInnerMail;
  size_t at = qp.find("boundary=");
  qp.replace(at + 8, 1, "=3D");
  ParsedMessage m = MustParse(MailWith(
      "Content-Type: message/rfc822\nContent-Transfer-Encoding: quoted-printable", qp));
  const AttachmentInfo* exe = Find(m, "2.2");
  ASSERT_NE(exe, nullptr) << Paths(m);
  EXPECT_EQ(exe->sha256, Sha256("MZPAYLOAD"));
}

// An .eml sent as application/octet-stream opens in a mail client all the same.
TEST_F(ContainersTest, EmlFileIsDescendedInto) {
  ParsedMessage m = MustParse(MailWith(
      "Content-Type: application/octet-stream; name=\"fwd.eml\"\nContent-Transfer-Encoding: base64",
      Base64(kInnerMail)));
  ASSERT_NE(Find(m, "2.2"), nullptr) << Paths(m);
  EXPECT_EQ(Find(m, "2.2")->filename, "setup.exe");
}

TEST_F(ContainersTest, DecodedMessagesCountAgainstTheLimits) {
  ParseLimits limits = config::DefaultParseLimits();
  limits.max_mime_parts = 5;  // the outer mail has 3 entities, the inner one 3 more
  ParsedMessage m;
  Status s = Parse(MailWith("Content-Type: message/rfc822\nContent-Transfer-Encoding: base64",
                            Base64(kInnerMail)),
                   &m, limits);
  EXPECT_EQ(s.error_class(), ErrorClass::kMalformed) << s.ToString();
  limits = config::DefaultParseLimits();
  limits.max_mime_depth = 2;
  s = Parse(MailWith("Content-Type: message/rfc822\nContent-Transfer-Encoding: base64",
                     Base64(kInnerMail)),
            &m, limits);
  EXPECT_EQ(s.error_class(), ErrorClass::kMalformed) << s.ToString();
}

// ---- encoded blocks in text ----

std::string Uuencode(const std::string& name, const std::string& data) {
  std::string out = "begin 644 " + name + "\n";
  auto enc = [](uint32_t v) { return char(v == 0 ? '`' : v + 0x20); };
  for (size_t i = 0; i < data.size(); i += 45) {
    std::string chunk = data.substr(i, 45);
    out += enc(uint32_t(chunk.size()));
    for (size_t j = 0; j < chunk.size(); j += 3) {
      uint32_t w = uint32_t(uint8_t(chunk[j])) << 16;
      if (j + 1 < chunk.size()) w |= uint32_t(uint8_t(chunk[j + 1])) << 8;
      if (j + 2 < chunk.size()) w |= uint8_t(chunk[j + 2]);
      for (int k = 3; k >= 0; --k) out += enc(w >> (6 * k) & 0x3F);
    }
    out += "\n";
  }
  return out + "`\nend\n";
}

std::string Yenc(const std::string& name, const std::string& data) {
  std::string out = "=ybegin line=128 size=" + std::to_string(data.size()) + " name=" + name + "\n";
  size_t col = 0;
  for (char c : data) {
    uint8_t e = uint8_t(uint8_t(c) + 42);
    if (e == 0 || e == '\n' || e == '\r' || e == '=') {
      out += '=';
      e = uint8_t(e + 64);
    }
    out += char(e);
    if (++col == 128) {
      out += "\n";
      col = 0;
    }
  }
  return out + "\n=yend size=" + std::to_string(data.size()) + "\n";
}

std::string PlainMail(const std::string& body, const std::string& cte = "") {
  return "From: a@customer.test\nTo: support@example.com\nSubject: t\nMIME-Version: 1.0\n"
         "Content-Type: text/plain\n" +
         (cte.empty() ? "" : "Content-Transfer-Encoding: " + cte + "\n") + "\n" + body;
}

// Outlook and Thunderbird show a uuencoded block in the body as an attachment: so do we.
TEST_F(ContainersTest, UuencodedFileInTheBodyIsAnAttachment) {
  const std::string exe = "MZ" + std::string(300, '\x90') + "tail";
  ParsedMessage m = MustParse(PlainMail("Hello,\nthe file:\n\n" + Uuencode("setup.exe", exe) +
                                        "\nregards\n"));
  const AttachmentInfo* got = Find(m, "1/setup.exe");
  ASSERT_NE(got, nullptr) << Paths(m);
  EXPECT_EQ(got->filename, "setup.exe");
  EXPECT_EQ(got->sha256, Sha256(exe));
  EXPECT_NE(m.text_body.find("regards"), std::string::npos);
}

// Inside a base64 text part too, and in a text/plain attachment.
TEST_F(ContainersTest, UuencodedFileInAnEncodedTextPartIsAnAttachment) {
  ParsedMessage m = MustParse(MailWith(
      "Content-Type: text/plain; name=\"notes.txt\"\nContent-Transfer-Encoding: base64",
      Base64("notes\n" + Uuencode("run.bat", "@echo off\r\nformat c:\r\n"))));
  ASSERT_NE(Find(m, "2/run.bat"), nullptr) << Paths(m);
}

TEST_F(ContainersTest, YencFileInTheBodyIsAnAttachment) {
  std::string data;
  for (int i = 0; i < 600; ++i) data.push_back(char(i * 7));
  ParsedMessage m = MustParse(PlainMail("text\n" + Yenc("tool.exe", data) + "more\n"));
  const AttachmentInfo* got = Find(m, "1/tool.exe");
  ASSERT_NE(got, nullptr) << Paths(m);
  EXPECT_EQ(got->sha256, Sha256(data));
}

// ClamAV's BinHex sample pasted into a body decodes to clam.exe byte for byte.
TEST_F(ContainersTest, BinhexFileInTheBodyIsAnAttachment) {
  const std::string dir = kClamTestFiles;
  if (!std::filesystem::exists(dir + "/clam.exe.binhex")) FAIL() << "clamav-testfiles not installed";
  ParsedMessage m = MustParse(PlainMail("see below\n\n" + ReadFileOrDie(dir + "/clam.exe.binhex")));
  ASSERT_EQ(m.attachments.size(), 1u) << Paths(m);
  EXPECT_EQ(m.attachments[0].sha256, Sha256(ReadFileOrDie(dir + "/clam.exe")));
  EXPECT_EQ(m.attachments[0].part_path, "1/" + m.attachments[0].filename);
}

// Prose that starts like a uuencode header is not a block.
TEST_F(ContainersTest, ProseStartingWithBeginIsNotABlock) {
  ParsedMessage m = MustParse(PlainMail(
      "begin 644 is the mode we use\nHello there, this is a normal line of text.\nend\n"
      "=ybegin is a yEnc word\n"));
  EXPECT_TRUE(m.attachments.empty()) << Paths(m);
}

TEST_F(ContainersTest, TextBlocksCountAgainstThePartLimit) {
  std::string body;
  for (int i = 0; i < 30; ++i) body += Uuencode("f" + std::to_string(i) + ".exe", "MZ");
  ParseLimits limits = config::DefaultParseLimits();
  limits.max_mime_parts = 20;
  ParsedMessage m;
  Status s = Parse(PlainMail(body), &m, limits);
  EXPECT_EQ(s.error_class(), ErrorClass::kMalformed) << s.ToString();
}

// A BinHex header that declares more than can be inspected: malformed, not a 4 GB temp file.
TEST_F(ContainersTest, OversizedBinhexDeclarationIsMalformed) {
  std::vector<std::string> files;
  Status got_size_error;
  EncodedBlockExtractor x("", 1 << 20, 1000, [&](const std::string&, const std::string& name,
                                                  const Spool&) {
    files.push_back(name);
    return Status::Ok();
  });
  // Header: name "a", version, type, creator, flags, data length 0xFFFFFFFF, resource length, crc.
  std::string header = std::string("\x01" "a\0", 3) + std::string(10, 'T') + "\xff\xff\xff\xff" +
                       std::string(6, '\0');
  std::string encoded;
  const std::string alphabet =
      "!\"#$%&'()*+,-012345689@ABCDEFGHIJKLMNPQRSTUVXYZ[`abcdefhijklmpqr";
  uint32_t bits = 0;
  int n = 0;
  for (char c : header) {
    bits = bits << 8 | uint8_t(c);
    n += 8;
    while (n >= 6) {
      n -= 6;
      encoded += alphabet[bits >> n & 0x3F];
    }
  }
  Status s = x.Feed("(This file must be converted with BinHex 4.0)\n:" + encoded + "!!!!:\n");
  if (s.ok()) s = x.Finish();
  EXPECT_EQ(s.error_class(), ErrorClass::kMalformed) << s.ToString();
  EXPECT_TRUE(files.empty());

  ParsedMessage m =
      MustParse(PlainMail("(This file must be converted with BinHex 4.0)\n:" + encoded + "!!:\n"));
  // 64 MiB is the parser's cap: the declaration alone makes the structure malformed.
  ASSERT_FALSE(m.mime_ambiguities.empty()) << Paths(m);
}

// ---- structure that cannot be read one way only ----

TEST_F(ContainersTest, Base64EncodedMultipartIsMalformed) {
  const std::string inner =
      "--in\nContent-Type: application/octet-stream; name=\"a.exe\"\n\nMZ\n--in--\n";
  ParsedMessage m = MustParse(
      "From: a@customer.test\nSubject: t\nMIME-Version: 1.0\n"
      "Content-Type: multipart/mixed; boundary=\"in\"\nContent-Transfer-Encoding: base64\n\n" +
      Base64(inner));
  ASSERT_FALSE(m.mime_ambiguities.empty());
  const std::string all = m.mime_ambiguities[0];
  EXPECT_NE(all.find("Content-Transfer-Encoding base64"), std::string::npos) << all;
}

TEST_F(ContainersTest, BoundaryWithoutSemicolonIsMalformed) {
  ParsedMessage m = MustParse(
      "From: a@customer.test\nSubject: t\nMIME-Version: 1.0\n"
      "Content-Type: multipart/mixed boundary=\"b\"\n\n--b\n"
      "Content-Type: application/octet-stream; name=\"a.exe\"\n\nMZ\n--b--\n");
  ASSERT_FALSE(m.mime_ambiguities.empty()) << Paths(m);
  bool named = false;
  for (const std::string& a : m.mime_ambiguities) {
    named = named || a.find("without their ';'") != std::string::npos;
  }
  EXPECT_TRUE(named) << m.mime_ambiguities[0];
}

TEST_F(ContainersTest, FileNameWithoutSemicolonIsMalformed) {
  ParsedMessage m = MustParse(MailWith("Content-Type: application/pdf name=\"a.exe\"", "MZ"));
  ASSERT_EQ(m.mime_ambiguities.size(), 1u);
  EXPECT_EQ(m.mime_ambiguities[0], "2: Content-Type parameters without their ';'");
}

TEST_F(ContainersTest, MultipartWithoutPartsIsMalformed) {
  ParsedMessage m = MustParse(
      "From: a@customer.test\nSubject: t\nMIME-Version: 1.0\n"
      "Content-Type: multipart/mixed; boundary=\"never\"\n\n--other\n\nMZ\n");
  ASSERT_FALSE(m.mime_ambiguities.empty());
  EXPECT_EQ(m.mime_ambiguities[0], "top: multipart with no parts");
}

// A bounce whose returned message was cut after its headers: the multipart has no parts and
// nothing any reader could take for one (only prose): not malformed, so such bounces are not held.
// (11 of the 1236 mails in tests/data/corpora, bounces, are like this.)
TEST_F(ContainersTest, MultipartWithNoPartsAndOnlyProseIsNotMalformed) {
  ParsedMessage m = MustParse(
      "From: a@customer.test\nSubject: t\nMIME-Version: 1.0\n"
      "Content-Type: multipart/alternative; boundary=\"cut\"\n\n"
      "This is a multi-part message in MIME format...\n\n");
  EXPECT_TRUE(m.mime_ambiguities.empty()) << m.mime_ambiguities[0];
}

// Ordinary mail stays clean: no structure complaint, no invented attachments.
TEST_F(ContainersTest, OrdinaryMailHasNoStructureProblems) {
  ParsedMessage m = MustParse(MailWith(
      "Content-Type: application/pdf; name=\"a.pdf\"\nContent-Transfer-Encoding: base64",
      Base64("%PDF-1.4 fake"), "Hello,\nbegin with this: nothing attached.\n"));
  EXPECT_TRUE(m.mime_ambiguities.empty()) << m.mime_ambiguities[0];
  ASSERT_EQ(m.attachments.size(), 1u) << Paths(m);
}

}  // namespace
}  // namespace desk
