#include "core/file_type.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>

#include "tests/unit/attach_fixtures.h"

namespace desk {
namespace {

using namespace desk::testing;

std::unique_ptr<FileTypeDetector> NewDetector() {
  std::unique_ptr<FileTypeDetector> d;
  Status st = FileTypeDetector::Create(&d);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return d;
}

std::string Repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

TEST(FileTypeTest, DetectAndCategory) {
  const std::string kOoxml = "application/vnd.openxmlformats-officedocument.";
  struct Case {
    const char* label;
    std::function<std::string()> content;
    const char* filename;
    std::string want_mime;  // "" = do not check the exact type
    Category want_category;
  } cases[] = {
      {"png", Png, "a.png", "image/png", Category::kImage},
      {"gif", Gif, "a.gif", "image/gif", Category::kImage},
      {"jpeg", Jpeg, "a.jpg", "image/jpeg", Category::kImage},
      {"pdf", Pdf, "a.pdf", "application/pdf", Category::kDocument},
      {"mp3", Mp3, "a.mp3", "audio/mpeg", Category::kAudio},
      {"wav", Wav, "a.wav", "audio/x-wav", Category::kAudio},
      {"mp4", Mp4, "a.mp4", "video/mp4", Category::kVideo},
      {"mov", Mov, "a.mov", "video/quicktime", Category::kVideo},
      {"docx", [] { return Ooxml("word/document.xml"); }, "a.docx",
       kOoxml + "wordprocessingml.document", Category::kDocument},
      {"xlsx", [] { return Ooxml("xl/workbook.xml"); }, "a.xlsx", kOoxml + "spreadsheetml.sheet",
       Category::kDocument},
      {"pptx", [] { return Ooxml("ppt/presentation.xml"); }, "a.pptx",
       kOoxml + "presentationml.presentation", Category::kDocument},
      // libmagic says application/zip when [Content_Types].xml is not first; the local headers say
      // otherwise.
      {"docx, content types last", [] { return Ooxml("word/document.xml", false); }, "a.docx",
       kOoxml + "wordprocessingml.document", Category::kDocument},
      {"odt", [] { return Odf("application/vnd.oasis.opendocument.text"); }, "a.odt",
       "application/vnd.oasis.opendocument.text", Category::kDocument},
      {"ods", [] { return Odf("application/vnd.oasis.opendocument.spreadsheet"); }, "a.ods",
       "application/vnd.oasis.opendocument.spreadsheet", Category::kDocument},
      {"zip",
       [] {
         return MakeArchive({{"a.pdf", Pdf()}});
       },
       "a.zip", "application/zip", Category::kArchive},
      {"tar.gz",
       [] {
         return MakeArchive({{"a.pdf", Pdf()}}, "ustar", "gzip");
       },
       "a.tgz", "application/gzip", Category::kArchive},
      {"7z",
       [] {
         return MakeArchive({{"a.pdf", Pdf()}}, "7zip");
       },
       "a.7z", "application/x-7z-compressed", Category::kArchive},
      {"elf", Elf, "tool", "application/x-executable", Category::kExecutable},
      {"shell script", [] { return std::string("#!/bin/sh\nrm -rf ~\n"); }, "x",
       "text/x-shellscript", Category::kExecutable},
      {"batch by content", [] { return std::string("@echo off\r\ndel c:\\x\r\n"); }, "x.txt",
       "text/x-msdos-batch", Category::kExecutable},
      {"text named .bat", [] { return std::string("hello world\n"); }, "run.bat", "",
       Category::kExecutable},
      {"text named .CMD", [] { return std::string("hello world\n"); }, "run.CMD", "",
       Category::kExecutable},
      {"text named .scr.", [] { return std::string("hello world\n"); }, "pic.scr. ", "",
       Category::kExecutable},
      {"english text", [] { return Repeat("Hello, my printer does not work.\n", 50); }, "a.txt", "",
       Category::kDocument},  // text/csv for libmagic 5.44: the commas
      {"french utf-8",
       [] {
         return Repeat(
             "Bonjour, voici le re\xc3\xa7u de la pi\xc3\xa8"
             "ce jointe, \xc3\xa7"
             "a marche.\n",
             40);
       },
       "re\xc3\xa7u.txt", "", Category::kDocument},
      {"japanese utf-8",
       [] {
         return Repeat(
             "\xe3\x81\x93\xe3\x82\x93\xe3\x81\xab\xe3\x81\xa1\xe3\x81\xaf\xe3\x80\x81"
             "\xe6\xb7\xbb\xe4\xbb\x98\xe3\x83\x95\xe3\x82\xa1\xe3\x82\xa4\xe3\x83\xab\n",
             60);
       },
       "memo.txt", "text/plain", Category::kDocument},
      {"latin-1",
       [] {
         return Repeat(
             "Caf\xe9 cr\xe8me \xe0 la fran\xe7"
             "aise, \xe9l\xe8ve o\xf9. ",
             30);
       },
       "note", "text/plain", Category::kDocument},
      {"empty", [] { return std::string(); }, "x", "application/x-empty", Category::kOther},
  };
  auto d = NewDetector();
  for (const auto& c : cases) {
    std::string got_mime;
    Status st = d->Detect(c.content(), &got_mime);
    ASSERT_TRUE(st.ok()) << c.label << ": " << st.ToString();
    if (!c.want_mime.empty()) {
      EXPECT_EQ(got_mime, c.want_mime) << c.label;
    }
    // libmagic's extra words never leak into the type.
    EXPECT_EQ(got_mime.find_first_of(" ,;"), std::string::npos) << c.label << ": " << got_mime;
    Category got_category = CategoryOf(got_mime, c.filename);
    EXPECT_EQ(CategoryName(got_category), std::string(CategoryName(c.want_category)))
        << c.label << " (" << got_mime << ")";
  }
}

TEST(FileTypeTest, ClamExeIsExecutable) {
  std::string path = std::string(kClamTestFiles) + "/clam.exe";
  if (!std::filesystem::exists(path)) FAIL() << "clamav-testfiles not installed (scripts/install-deps.sh installs it)";
  auto d = NewDetector();
  std::string got_mime;
  ASSERT_TRUE(d->Detect(ReadFileOrDie(path), &got_mime).ok());
  EXPECT_EQ(got_mime, "application/vnd.microsoft.portable-executable");
  // Content decides: the harmless-looking name does not help.
  EXPECT_EQ(CategoryOf(got_mime, "invoice.pdf"), Category::kExecutable);
}

TEST(FileTypeTest, NameNeverMakesExecutableHarmless) {
  EXPECT_EQ(CategoryOf("application/x-dosexec", "photo.jpg"), Category::kExecutable);
  EXPECT_EQ(CategoryOf("application/pdf", "invoice.pdf.exe"), Category::kExecutable);
  EXPECT_EQ(CategoryOf("application/pdf", std::string("invoice.exe\0.pdf", 16)),
            Category::kExecutable);
  EXPECT_EQ(CategoryOf("application/pdf", "invoice.pdf"), Category::kDocument);
  EXPECT_EQ(CategoryOf("application/vnd.ms-cab-compressed", "x.cab"), Category::kArchive);
  EXPECT_EQ(CategoryOf("application/vnd.ms-excel", "x.xls"), Category::kDocument);
  EXPECT_EQ(CategoryOf("application/octet-stream", "x.dat"), Category::kOther);
}

TEST(FileTypeTest, ExtensionOf) {
  struct Case {
    const char* in;
    const char* want;
  } cases[] = {
      {"a.pdf", "pdf"},
      {"A.PDF", "pdf"},
      {"a.pdf.exe", "exe"},
      {"a.exe.", "exe"},
      {"a.exe . .", "exe"},
      {"dir/x.Zip", "zip"},
      {"c:\\dir\\x.scr", "scr"},
      {"noext", ""},
      {"dir.d/noext", ""},
      {".bashrc", "bashrc"},
      {"", ""},
      {"trailing.", ""},
  };
  for (const auto& c : cases) EXPECT_EQ(ExtensionOf(c.in), c.want) << c.in;
}

TEST(FileTypeTest, OfficeTypeFromEntryNames) {
  EXPECT_EQ(OfficeTypeFromEntryNames({"_rels/.rels", "word/document.xml", "[Content_Types].xml"}),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document");
  EXPECT_EQ(OfficeTypeFromEntryNames({"[Content_Types].xml", "xl/workbook.xml"}),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
  EXPECT_EQ(OfficeTypeFromEntryNames({"word/document.xml"}), "");  // no content types: plain zip
  EXPECT_EQ(OfficeTypeFromEntryNames({"mimetype", "content.xml"},
                                     "application/vnd.oasis.opendocument.presentation"),
            "application/vnd.oasis.opendocument.presentation");
  EXPECT_EQ(OfficeTypeFromEntryNames({"mimetype"}, "application/x-msdownload"), "");
  EXPECT_EQ(OfficeTypeFromEntryNames({"a.pdf", "b.exe"}), "");
}

TEST(FileTypeTest, CategoryNames) {
  for (Category c : {Category::kImage, Category::kVideo, Category::kAudio, Category::kDocument,
                     Category::kExecutable, Category::kArchive, Category::kOther}) {
    Category got;
    ASSERT_TRUE(ParseCategory(CategoryName(c), &got));
    EXPECT_EQ(got, c);
  }
  Category got;
  EXPECT_FALSE(ParseCategory("pictures", &got));
}

}  // namespace
}  // namespace desk
