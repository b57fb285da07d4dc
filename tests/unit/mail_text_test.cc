// The text of mail deskmilter writes itself (core/mail_text.h), and the notices routing queues:
// what a mail client reads back from them (parsed by GMime through ParseMessage) is what was meant.
#include "core/mail_text.h"

#include <gtest/gtest.h>

#include "config/loader.h"
#include "core/mime_parser.h"
#include "core/routing.h"
#include "core/spool.h"

namespace desk {
namespace {

class MailTextTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { InitMimeLibrary(); }

  static ParsedMessage Parse(const std::string& raw) {
    Spool spool("", 1 << 20);
    EXPECT_TRUE(spool.Append(raw).ok());
    ParsedMessage m;
    Status st = ParseMessage(spool, config::DefaultParseLimits(), &m);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return m;
  }

  // The header block of raw, one line per element (folded lines stay separate).
  static std::vector<std::string> HeaderLines(const std::string& raw) {
    std::vector<std::string> lines;
    const size_t end = raw.find("\r\n\r\n");
    for (size_t at = 0; at < end;) {
      size_t eol = raw.find("\r\n", at);
      lines.push_back(raw.substr(at, eol - at));
      at = eol + 2;
    }
    return lines;
  }
};

TEST_F(MailTextTest, HeaderTextIsPlainOnlyWhenItCanBe) {
  EXPECT_EQ(EncodeHeaderText("Printer broken"), "Printer broken");
  EXPECT_NE(EncodeHeaderText("Imprimante cassée").find("=?UTF-8?B?"), std::string::npos);
  EXPECT_NE(EncodeHeaderText("looks =?like?= a word").find("=?UTF-8?B?"), std::string::npos);
  const std::string long_ascii(2000, 'x');
  const std::string folded = EncodeHeaderText(long_ascii);
  EXPECT_NE(folded.find("\r\n "), std::string::npos);
}

TEST_F(MailTextTest, BodyEncodingFollowsItsText) {
  std::string body, cte;
  EncodeTextBody("line one\nline two\r\nthree", &body, &cte);
  EXPECT_EQ(cte, "7bit");
  EXPECT_EQ(body, "line one\r\nline two\r\nthree\r\n");  // CRLF in stays one line end
  EncodeTextBody("Ticket «42»\n", &body, &cte);
  EXPECT_EQ(cte, "base64");
  EncodeTextBody(std::string(1500, 'a'), &body, &cte);
  EXPECT_EQ(cte, "base64");
}

// A ticket titled in French, and a very long title: the assignment notice's Subject and body read
// back as written, and no header line of the notice is longer than RFC 5322's 998.
TEST_F(MailTextTest, NoticeWithNonAsciiOrLongSubjectReadsBackAsWritten) {
  for (const std::string& title : {std::string("Imprimante cassée — «urgent» 日本"),
                                  std::string(1200, 't') + " end"}) {
    OutboxItem item = BuildNoticeMail("Support <support@example.com>", "carl@staff.example.com",
                                      "[#42] assigned to you: " + title,
                                      "Ticket 42 is now yours.\r\nSubject: " + title + "\r\n",
                                      1700000000, "desk.example.com", "assign-42");
    for (const std::string& line : HeaderLines(item.mail.raw)) {
      EXPECT_LE(line.size(), 998u) << line.substr(0, 80);
      for (unsigned char c : line) EXPECT_LT(c, 0x80) << line.substr(0, 80);
    }
    ParsedMessage m = Parse(item.mail.raw);
    EXPECT_EQ(m.subject, "[#42] assigned to you: " + title);
    EXPECT_NE(m.text_body.find("Subject: " + title), std::string::npos) << m.text_body;
  }
}

}  // namespace
}  // namespace desk
