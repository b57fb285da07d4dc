// transcript_pdf: the PDF is read back with poppler's pdftotext/pdfinfo (scripts/install-deps.sh
// installs poppler-utils; a missing tool fails the test with a message, it never skips).
#include "core/transcript_pdf.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <regex>
#include <string>

namespace desk {
namespace {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/desk_transcript_XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Output of a shell command; fails the test when it exits non-zero.
std::string Shell(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) {
    ADD_FAILURE() << "popen " << cmd;
    return out;
  }
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int rc = ::pclose(p);
  EXPECT_EQ(rc, 0) << cmd << " failed (is poppler-utils installed? scripts/install-deps.sh)";
  return out;
}

// pdftotext breaks lines where the layout wrapped them, may split a shaped Arabic word where its
// glyphs join, and wraps right-to-left runs in U+202B ... U+202C: compare without whitespace and
// without the bidi embedding marks (U+200E, U+200F, U+202A..U+202E).
std::string NoSpace(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f') continue;
    if (s.compare(i, 2, "\xE2\x80") == 0 && i + 2 < s.size()) {
      const unsigned char t = static_cast<unsigned char>(s[i + 2]);
      if (t == 0x8E || t == 0x8F || (t >= 0xAA && t <= 0xAE)) {
        i += 2;
        continue;
      }
    }
    out += c;
  }
  return out;
}

TicketMessage Msg(uint32_t seq, Direction dir, const std::string& from, const std::string& subject,
                  const std::string& body) {
  TicketMessage m;
  m.seq = seq;
  m.direction = dir;
  m.kind = seq == 1 ? "new" : "reply";
  m.from = {"", from};
  m.to = {{"Support", "support@example.com"}};
  m.subject = subject;
  m.date = "Thu, 03 Dec 2026 08:00:00 +0000";
  m.received_at = 1796284800 + seq;
  m.body = body;
  return m;
}

struct Fixture {
  Ticket t;
  std::vector<TicketMessage> messages;
  std::vector<TicketEvent> events;
};

Fixture Multilingual() {
  Fixture f;
  f.t.number = 42;
  f.t.queue = "support";
  f.t.brand = "Acme";
  f.t.title = "Принтер не печатает";
  f.t.requester = {"Иван Петров", "ivan@example.ru"};
  f.t.received_at = "support@example.com";
  f.t.created_at = 1796284800;
  f.t.updated_at = 1796284900;
  f.messages.push_back(Msg(1, Direction::kInbound, "ivan@example.ru", "Принтер не печатает",
                           "Здравствуйте, принтер в бухгалтерии не печатает с понедельника."));
  f.messages.push_back(Msg(2, Direction::kOutbound, "alice@example.com", "Re: Принтер",
                           "Γεια σας, ο εκτυπωτής επισκευάστηκε σήμερα το πρωί."));
  f.messages.push_back(Msg(3, Direction::kInbound, "tanaka@example.jp", "プリンター",
                           "プリンターが動きません。至急対応をお願いします。"));
  f.messages.push_back(Msg(4, Direction::kInbound, "li@example.cn", "打印机", "打印机又坏了，请帮忙修理。"));
  StoredAttachment a;
  a.filename = "счёт.pdf";
  a.declared_type = "application/pdf";
  a.detected_type = "application/pdf";
  a.size = 123456;
  a.sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
  a.verdict = "allowed";
  f.messages[0].attachments.push_back(a);
  TicketEvent e;
  e.seq = 1;
  e.at = 1796284800;
  e.type = "created";
  e.text = "Sent by: ivan@example.ru";
  f.events.push_back(e);
  return f;
}

TEST(TranscriptPdfTest, EveryBodyAndFieldIsInTheText) {
  TempDir dir;
  Fixture f = Multilingual();
  const std::string pdf = dir.path() + "/t.pdf";
  ASSERT_TRUE(WriteTranscriptPdf(f.t, f.messages, f.events, pdf).ok());
  const std::string text = NoSpace(Shell("pdftotext -enc UTF-8 '" + pdf + "' -"));
  for (const TicketMessage& m : f.messages) {
    EXPECT_NE(text.find(NoSpace(m.body)), std::string::npos) << "missing body: " << m.body;
    EXPECT_NE(text.find(NoSpace(m.from.address)), std::string::npos) << m.from.address;
  }
  for (const std::string& want : std::vector<std::string>{
           "Ticket#42", "Queue:support", "Brand:Acme", "Status:open", "ИванПетров", "счёт.pdf",
        "application/pdf", f.messages[0].attachments[0].sha256, "inbound", "outbound", "created",
        "page1of"}) {
    EXPECT_NE(text.find(NoSpace(want)), std::string::npos) << "missing: " << want;
  }
}

TEST(TranscriptPdfTest, ArabicIsShapedAndKept) {
  TempDir dir;
  Fixture f = Multilingual();
  f.messages.resize(1);
  f.messages[0].body = "مرحبا بكم في مكتب المساعدة";
  const std::string pdf = dir.path() + "/ar.pdf";
  ASSERT_TRUE(WriteTranscriptPdf(f.t, f.messages, f.events, pdf).ok());
  const std::string text = Shell("pdftotext -enc UTF-8 '" + pdf + "' -");
  // pdftotext gives a right-to-left line in logical order.
  EXPECT_NE(NoSpace(text).find(NoSpace(f.messages[0].body)), std::string::npos) << text;
  // The fonts used are real fonts, not a fallback box: pdffonts lists a Noto Arabic face.
  EXPECT_NE(Shell("pdffonts '" + pdf + "'").find("Arabic"), std::string::npos);
}

TEST(TranscriptPdfTest, LongBodyWrapsAndPaginates) {
  TempDir dir;
  Fixture f = Multilingual();
  std::string body;
  for (int i = 0; i < 600; ++i) body += "line " + std::to_string(i) + " of a long message body\n";
  body += std::string(3000, 'x');  // one word wider than many lines: broken by characters
  body += "\nTHE-END-MARKER";
  f.messages[1].body = body;
  const std::string pdf = dir.path() + "/long.pdf";
  ASSERT_TRUE(WriteTranscriptPdf(f.t, f.messages, f.events, pdf).ok());
  const std::string info = Shell("pdfinfo '" + pdf + "'");
  const size_t at = info.find("Pages:");
  ASSERT_NE(at, std::string::npos);
  const int pages = std::atoi(info.c_str() + at + 6);
  EXPECT_GT(pages, 10);
  // Page footers interrupt the body where it crosses a page: take them out first.
  const std::string text = NoSpace(std::regex_replace(
      Shell("pdftotext -enc UTF-8 '" + pdf + "' -"), std::regex("Ticket #42 - page \\d+ of \\d+"),
      ""));
  EXPECT_NE(text.find(NoSpace(body)), std::string::npos) << "long body not intact";
  EXPECT_NE(NoSpace(Shell("pdftotext '" + pdf + "' -"))
                .find("page" + std::to_string(pages) + "of" + std::to_string(pages)),
            std::string::npos);
  for (const TicketMessage& m : f.messages) {
    EXPECT_NE(text.find(NoSpace(m.body)), std::string::npos);
  }
}

TEST(TranscriptPdfTest, PageLimitCutsVisibly) {
  TempDir dir;
  Fixture f = Multilingual();
  f.messages[0].body = std::string(200000, 'y');
  TranscriptOptions o;
  o.max_pages = 3;
  const std::string pdf = dir.path() + "/cut.pdf";
  ASSERT_TRUE(WriteTranscriptPdf(f.t, f.messages, f.events, pdf, o).ok());
  const std::string info = Shell("pdfinfo '" + pdf + "'");
  EXPECT_NE(info.find("Pages:           3\n"), std::string::npos) << info;
  EXPECT_NE(NoSpace(Shell("pdftotext '" + pdf + "' -")).find("transcriptcutat3pages"),
            std::string::npos);
}

TEST(TranscriptPdfTest, HostileTextIsSanitised) {
  // Invalid UTF-8 and control characters never reach Pango; markup is not interpreted.
  EXPECT_EQ(TranscriptText("a\xff" "b", 100), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(TranscriptText("a\x1b[2Jb\r\nc\td", 100), "a\xEF\xBF\xBD[2Jb\nc\td");
  EXPECT_EQ(TranscriptText("абвгд", 3), "абв...");
  TempDir dir;
  Fixture f = Multilingual();
  f.messages[0].body = "<b>not bold</b> & \x01\xfe";
  const std::string pdf = dir.path() + "/h.pdf";
  ASSERT_TRUE(WriteTranscriptPdf(f.t, f.messages, f.events, pdf).ok());
  EXPECT_NE(Shell("pdftotext -enc UTF-8 '" + pdf + "' -").find("<b>not bold</b> &"),
            std::string::npos);
}

TEST(TranscriptPdfTest, UnwritableDirectoryIsAStoreError) {
  Fixture f = Multilingual();
  Status st = WriteTranscriptPdf(f.t, f.messages, f.events, "/nonexistent-dir/x.pdf");
  EXPECT_EQ(st.error_class(), ErrorClass::kStore);
}

}  // namespace
}  // namespace desk
