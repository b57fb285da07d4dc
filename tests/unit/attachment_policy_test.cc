#include "core/attachment_policy.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>

#include "tests/unit/attach_fixtures.h"
#include "config/loader.h"
#include "core/attachment_stage.h"

namespace desk {
namespace {

// The product defaults, from the option table (as a loaded queue gets them).
AttachmentPolicyConfig DefaultPolicy() { return PolicyFromQueue(config::DefaultQueueConfig()); }

using namespace desk::testing;
using Outcome = AttachmentVerdict::Outcome;

AttachmentFacts Facts(std::string filename, std::string detected, uint64_t size = 1000,
                      std::string declared = "application/octet-stream") {
  AttachmentFacts f;
  f.filename = std::move(filename);
  f.declared_type = std::move(declared);
  f.detected_type = std::move(detected);
  f.category = CategoryOf(f.detected_type, f.filename);
  f.size = size;
  return f;
}

// Text that deflate cannot shrink much, deterministic.
std::string Noise(size_t n) {
  std::string s;
  uint32_t x = 12345;
  while (s.size() < n) {
    x = x * 1103515245 + 12345;
    s.push_back(char('a' + (x >> 16) % 26));
  }
  return s;
}

// An EBML header with DocType "matroska".
std::string Matroska() {
  return std::string("\x1a\x45\xdf\xa3\x93\x42\x82\x88matroska\x42\x87\x81\x04\x42\x85\x81\x02",
                     24) +
         std::string(100, '\0');
}

TEST(AttachmentPolicyTest, DefaultPolicyOnFacts) {
  const std::string kPe = "application/vnd.microsoft.portable-executable";
  struct Case {
    AttachmentFacts facts;
    Outcome want_outcome;
    std::string want_reason;
  } cases[] = {
      // refused whether the content or the name says so
      {Facts("invoice.pdf", kPe), Outcome::kRefusedType, "executable"},
      {Facts("invoice.exe", "application/pdf"), Outcome::kRefusedType, "extension .exe"},
      {Facts("INVOICE.PDF.EXE", "application/pdf"), Outcome::kRefusedType, "extension .exe"},
      {Facts("invoice.exe.", "application/pdf"), Outcome::kRefusedType, "extension .exe"},
      {Facts(std::string("invoice.exe\0.pdf", 16), "application/pdf"), Outcome::kRefusedType,
       "extension .exe"},
      {Facts("lib.dll", "application/pdf"), Outcome::kRefusedType, "extension .dll"},
      {Facts("run.bat", "text/plain"), Outcome::kRefusedType, "extension .bat"},
      {Facts("run.cmd", "text/plain"), Outcome::kRefusedType, "executable"},
      {Facts("pic.scr", "image/png"), Outcome::kRefusedType, "extension .scr"},
      {Facts("firmware.bin", "application/pdf"), Outcome::kRefusedType, "extension .bin"},
      {Facts("blob.dat", "application/octet-stream"), Outcome::kRefusedType,
       "type application/octet-stream"},
      {Facts("tool", "application/x-executable"), Outcome::kRefusedType, "executable"},
      {Facts("x.sh", "text/x-shellscript"), Outcome::kRefusedType, "executable"},
      {Facts("invoice.pdf", "application/pdf", 1000, "application/x-msdownload"),
       Outcome::kRefusedType, "executable"},
      // archives are refused by default, by content and by name
      {Facts("a.zip", "application/zip"), Outcome::kRefusedType, "extension .zip"},
      {Facts("a.pdf", "application/zip"), Outcome::kRefusedType, "type application/zip"},
      {Facts("a.pdf", "application/x-rar"), Outcome::kRefusedType, "type application/x-rar"},
      {Facts("report.rar", "application/pdf"), Outcome::kRefusedType, "extension .rar"},
      // images, video, audio of the product list
      {Facts("a.jpg", "image/jpeg"), Outcome::kAllowed, ""},
      {Facts("a.png", "image/png"), Outcome::kAllowed, ""},
      {Facts("a.gif", "image/gif"), Outcome::kAllowed, ""},
      {Facts("a.tif", "image/tiff"), Outcome::kAllowed, ""},
      {Facts("a.webp", "image/webp"), Outcome::kAllowed, ""},
      {Facts("a.cr2", "image/x-canon-cr2"), Outcome::kAllowed, ""},
      {Facts("a.bmp", "image/bmp"), Outcome::kRefusedType, "type image/bmp"},
      {Facts("a.mp4", "video/mp4"), Outcome::kAllowed, ""},
      {Facts("a.mov", "video/quicktime"), Outcome::kAllowed, ""},
      {Facts("a.avi", "video/x-msvideo"), Outcome::kAllowed, ""},
      {Facts("a.wmv", "video/x-ms-asf"), Outcome::kAllowed, ""},
      {Facts("a.webm", "video/webm"), Outcome::kAllowed, ""},
      {Facts("a.mkv", "video/x-matroska"), Outcome::kRefusedType, "type video/x-matroska"},
      {Facts("a.mp3", "audio/mpeg"), Outcome::kAllowed, ""},
      {Facts("a.wav", "audio/x-wav"), Outcome::kAllowed, ""},
      {Facts("a.ogg", "audio/ogg"), Outcome::kRefusedType, "type audio/ogg"},
      // documents of every type
      {Facts("a.pdf", "application/pdf"), Outcome::kAllowed, ""},
      {Facts("a.doc", "application/msword"), Outcome::kAllowed, ""},
      {Facts("a.xls", "application/vnd.ms-excel"), Outcome::kAllowed, ""},
      {Facts("a.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
       Outcome::kAllowed, ""},
      {Facts("a.odt", "application/vnd.oasis.opendocument.text"), Outcome::kAllowed, ""},
      {Facts("a.txt", "text/plain"), Outcome::kAllowed, ""},
      {Facts("", "text/plain"), Outcome::kAllowed, ""},
      {Facts("a.rtf", "text/rtf"), Outcome::kAllowed, ""},
      // size
      {Facts("a.pdf", "application/pdf", 50ull << 20), Outcome::kAllowed, ""},
      {Facts("a.pdf", "application/pdf", (50ull << 20) + 1), Outcome::kTooLarge,
       "size 52428801 > 52428800"},
      {Facts("a.exe", kPe, (50ull << 20) + 1), Outcome::kTooLarge, "size 52428801 > 52428800"},
  };
  AttachmentPolicy policy(DefaultPolicy());
  for (const auto& c : cases) {
    AttachmentVerdict got = policy.Judge(c.facts);
    EXPECT_EQ(OutcomeName(got.outcome), std::string(OutcomeName(c.want_outcome)))
        << c.facts.filename << " " << c.facts.detected_type << ": " << got.reason;
    EXPECT_EQ(got.reason, c.want_reason) << c.facts.filename << " " << c.facts.detected_type;
  }
}

TEST(AttachmentPolicyTest, QueueOverrides) {
  AttachmentPolicyConfig c = DefaultPolicy();
  c.refused_types = {"image/*", "application/vnd.ms-*"};
  c.allowed_types.push_back("audio/ogg");
  c.allowed_extensions = {"pdf", "ogg", "xls", "txt"};
  AttachmentPolicy policy(c);
  struct Case {
    AttachmentFacts facts;
    std::string want_reason;  // "" = allowed
  } cases[] = {
      {Facts("a.png", "image/png"), "extension .png not allowed"},
      {Facts("a.pdf", "image/png"), "type image/png"},
      {Facts("a.xls", "application/vnd.ms-excel"), "type application/vnd.ms-excel"},
      {Facts("a.ogg", "audio/ogg"), ""},
      {Facts("a.pdf", "application/pdf"), ""},
      {Facts("noext", "application/pdf"), "no extension"},
      {Facts("a.txt", "text/plain", 10, "image/gif"), "declared type image/gif"},
  };
  for (const auto& k : cases) {
    AttachmentVerdict got = policy.Judge(k.facts);
    EXPECT_EQ(got.reason, k.want_reason) << k.facts.filename << " " << k.facts.detected_type;
    EXPECT_EQ(got.allowed(), k.want_reason.empty()) << k.facts.filename;
  }
  // Executables can be allowed explicitly, e.g. for an internal build queue.
  AttachmentPolicyConfig exe = DefaultPolicy();
  exe.allowed_categories.push_back(Category::kExecutable);
  exe.refused_extensions.clear();
  EXPECT_TRUE(AttachmentPolicy(exe).Judge(Facts("tool", "application/x-executable")).allowed());
}

TEST(AttachmentPolicyTest, TotalSize) {
  AttachmentPolicyConfig c = DefaultPolicy();
  EXPECT_TRUE(AttachmentPolicy(c).JudgeTotal(1ull << 40).allowed());  // 0 = no limit
  c.max_total_bytes = 1000;
  AttachmentPolicy policy(c);
  EXPECT_TRUE(policy.JudgeTotal(1000).allowed());
  AttachmentVerdict got = policy.JudgeTotal(1001);
  EXPECT_EQ(got.outcome, Outcome::kTooLarge);
  EXPECT_EQ(got.reason, "total size 1001 > 1000");
}

TEST(AttachmentPolicyTest, ParseModes) {
  ArchiveMode a;
  EXPECT_TRUE(ParseArchiveMode("inspect", &a));
  EXPECT_EQ(a, ArchiveMode::kInspect);
  EXPECT_STREQ(ArchiveModeName(a), "inspect");
  EXPECT_FALSE(ParseArchiveMode("scan", &a));
  EncryptedMode e;
  EXPECT_TRUE(ParseEncryptedMode("scan_limit", &e));
  EXPECT_EQ(e, EncryptedMode::kScanLimit);
  EXPECT_FALSE(ParseEncryptedMode("allow", &e));
}

// Describe + Judge on real bytes: what the engine will do per attachment.
class DescribeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Status st = FileTypeDetector::Create(&detector_);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  AttachmentVerdict Run(const AttachmentPolicyConfig& c, const std::string& filename,
              const std::string& content, AttachmentFacts* facts_out = nullptr) {
    AttachmentPolicy policy(c);
    AttachmentFacts facts;
    Status st = policy.Describe(detector_.get(), inspector_, filename, "application/octet-stream",
                                content, &facts);
    EXPECT_TRUE(st.ok()) << st.ToString();
    if (facts_out) *facts_out = facts;
    return policy.Judge(facts);
  }
  static AttachmentPolicyConfig Inspect(int depth = 3) {
    AttachmentPolicyConfig c = DefaultPolicy();
    c.archives = ArchiveMode::kInspect;
    c.max_archive_depth = depth;
    return c;
  }
  std::unique_ptr<FileTypeDetector> detector_;
  ArchiveInspector inspector_;
};

TEST_F(DescribeTest, AllowedContent) {
  struct Case {
    const char* filename;
    std::function<std::string()> content;
  } cases[] = {
      {"a.png", Png},
      {"a.gif", Gif},
      {"a.jpg", Jpeg},
      {"a.pdf", Pdf},
      {"a.mp3", Mp3},
      {"a.wav", Wav},
      {"a.mp4", Mp4},
      {"a.mov", Mov},
      {"a.docx", [] { return Ooxml("word/document.xml"); }},
      {"a.xlsx", [] { return Ooxml("xl/workbook.xml"); }},
      {"a.pptx", [] { return Ooxml("ppt/presentation.xml"); }},
      {"late.docx", [] { return Ooxml("word/document.xml", false); }},
      {"a.odt", [] { return Odf("application/vnd.oasis.opendocument.text"); }},
      {"a.ods", [] { return Odf("application/vnd.oasis.opendocument.spreadsheet"); }},
      {"r\xc3\xa9sum\xc3\xa9.txt",
       [] {
         return std::string(
             "Bonjour, je vous \xc3\xa9"
             "cris au sujet de ma facture.\n");
       }},
      {"\xe5\xa0\xb1\xe5\x91\x8a.txt",
       [] {
         return std::string("\xe3\x81\x93\xe3\x82\x93\xe3\x81\xab\xe3\x81\xa1\xe3\x81\xaf\n");
       }},
  };
  for (const auto& c : cases) {
    AttachmentFacts facts;
    AttachmentVerdict got = Run(DefaultPolicy(), c.filename, c.content(), &facts);
    EXPECT_TRUE(got.allowed()) << c.filename << " (" << facts.detected_type << "): " << got.reason;
  }
}

TEST_F(DescribeTest, ExecutablesRefused) {
  std::string pe_path = std::string(kClamTestFiles) + "/clam.exe";
  if (std::filesystem::exists(pe_path)) {
    std::string pe = ReadFileOrDie(pe_path);
    AttachmentVerdict got = Run(DefaultPolicy(), "invoice.pdf", pe);
    EXPECT_EQ(got.outcome, Outcome::kRefusedType);
    EXPECT_EQ(got.reason, "executable");
  }
  AttachmentVerdict got = Run(DefaultPolicy(), "invoice.exe", Pdf());
  EXPECT_EQ(got.reason, "extension .exe");
  got = Run(DefaultPolicy(), "photo.jpg", Elf());
  EXPECT_EQ(got.reason, "executable");
}

TEST_F(DescribeTest, ArchivesUnderRefuseAndInspect) {
  std::string zip_pdf = MakeArchive({{"a.pdf", Pdf()}, {"b.png", Png()}});
  std::string zip_exe = MakeArchive({{"a.pdf", Pdf()}, {"evil.exe", Elf()}});
  std::string zip_pe_as_pdf = MakeArchive({{"invoice.pdf", Elf()}});
  std::string zip_in_zip_exe = MakeArchive({{"inner.zip", zip_exe}});
  std::string tgz_pdf = MakeArchive({{"a.pdf", Pdf()}}, "ustar", "gzip");
  std::string seven_exe = MakeArchive({{"docs/run.bat", "@echo off\r\n"}}, "7zip");
  std::string zip_mkv = MakeArchive({{"a.mkv", Matroska()}});
  // A zip whose deflated data is damaged half way: listed in part, never judged clean.
  std::string damaged = MakeArchive({{"a.txt", Noise(200000)}, {"b.pdf", Pdf()}});
  for (size_t i = 2000; i < 4000; ++i) damaged[i] = char(damaged[i] ^ 0x5a);
  struct Case {
    const char* label;
    AttachmentPolicyConfig config;
    std::string filename;
    std::string content;
    Outcome want_outcome;
    std::string want_reason;
  } cases[] = {
      {"refuse: zip of pdf", DefaultPolicy(), "docs.zip", zip_pdf, Outcome::kRefusedType,
       "extension .zip"},
      {"refuse: zip named pdf", DefaultPolicy(), "docs.pdf", zip_pdf,
       Outcome::kRefusedType, "type application/zip"},
      {"inspect: zip of pdf", Inspect(), "docs.zip", zip_pdf, Outcome::kAllowed, ""},
      {"inspect: tgz of pdf", Inspect(), "docs.tgz", tgz_pdf, Outcome::kAllowed, ""},
      {"inspect: zip with exe", Inspect(), "docs.zip", zip_exe, Outcome::kRefusedType,
       "entry evil.exe: extension .exe"},
      {"inspect: executable named pdf in zip", Inspect(), "docs.zip", zip_pe_as_pdf,
       Outcome::kRefusedType, "entry invoice.pdf: executable"},
      {"inspect: zip in zip with exe", Inspect(), "docs.zip", zip_in_zip_exe, Outcome::kRefusedType,
       "entry inner.zip/evil.exe: extension .exe"},
      {"inspect: 7z with bat", Inspect(), "docs.7z", seven_exe, Outcome::kRefusedType,
       "entry docs/run.bat: extension .bat"},
      {"inspect: zip with mkv", Inspect(), "docs.zip", zip_mkv, Outcome::kRefusedType,
       "entry a.mkv: type video/x-matroska"},
      {"inspect depth 1: nested zip", Inspect(1), "docs.zip", zip_in_zip_exe, Outcome::kScanLimit,
       "archive entry not inspected: inner.zip"},
      {"inspect: damaged zip", Inspect(), "docs.zip", damaged, Outcome::kScanLimit, ""},
      {"inspect: zip signature then junk", Inspect(), "docs.zip",
       std::string("PK\x03\x04", 4) + std::string(200, '\x01'), Outcome::kRefusedType,
       "type application/octet-stream"},
  };
  for (const auto& c : cases) {
    AttachmentVerdict got = Run(c.config, c.filename, c.content);
    EXPECT_EQ(OutcomeName(got.outcome), std::string(OutcomeName(c.want_outcome)))
        << c.label << ": " << got.reason;
    if (!c.want_reason.empty()) {
      EXPECT_EQ(got.reason, c.want_reason) << c.label;
    }
  }
}

TEST_F(DescribeTest, EncryptedArchive) {
  std::string zip = MakeArchive({{"secret.pdf", Pdf()}}, "zip", "", "pw");
  AttachmentVerdict got = Run(Inspect(), "secret.zip", zip);
  EXPECT_EQ(got.outcome, Outcome::kRefusedType);
  EXPECT_EQ(got.reason, "encrypted entry secret.pdf");

  AttachmentPolicyConfig hold = Inspect();
  hold.encrypted = EncryptedMode::kScanLimit;
  got = Run(hold, "secret.zip", zip);
  EXPECT_EQ(got.outcome, Outcome::kScanLimit);
  EXPECT_EQ(got.reason, "encrypted entry secret.pdf");

  // The name of an encrypted entry is still judged.
  std::string zip_exe = MakeArchive({{"evil.exe", Pdf()}}, "zip", "", "pw");
  got = Run(hold, "secret.zip", zip_exe);
  EXPECT_EQ(got.outcome, Outcome::kRefusedType);
  EXPECT_EQ(got.reason, "entry evil.exe: extension .exe");
}

TEST_F(DescribeTest, OfficeContainers) {
  // An [Content_Types].xml does not make a zip of executables a document.
  std::string fake = MakeArchive({{"[Content_Types].xml", kContentTypes},
                                  {"word/document.xml", "<doc/>"},
                                  {"word/media/image1.png", Elf()}});
  AttachmentFacts facts;
  AttachmentVerdict got = Run(DefaultPolicy(), "report.docx", fake, &facts);
  EXPECT_EQ(facts.category, Category::kDocument) << facts.detected_type;
  EXPECT_EQ(got.outcome, Outcome::kRefusedType);
  EXPECT_EQ(got.reason, "entry word/media/image1.png: executable");

  // Real documents carry embedded objects with names the policy would refuse on their own.
  std::string real = MakeArchive({{"[Content_Types].xml", kContentTypes},
                                  {"word/document.xml", "<doc/>"},
                                  {"word/embeddings/oleObject1.bin", std::string(600, '\x07')}});
  got = Run(DefaultPolicy(), "report.docx", real, &facts);
  EXPECT_TRUE(got.allowed()) << got.reason;
}

}  // namespace
}  // namespace desk
