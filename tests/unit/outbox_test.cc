// The outbox: its rows in the LMDB store (queue, reschedule, finish), the retry policy, and the
// SMTP client against a real smtp-sink (Postfix's test server): a mail accepted and dumped with its
// dot-stuffed lines intact, a 4xx and a refused connection are temporary, a 5xx is permanent.
#include "core/outbox.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/smtp_client.h"
#include "tests/unit/engine_fixture.h"

extern char** environ;

namespace desk {
namespace {

using desk::testing::EngineFixture;
using desk::testing::Mail;

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

bool Listening(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// smtp-sink on a free loopback port, dumping each mail to dir; extra: e.g. {"-r", "RCPT"}.
class Sink {
 public:
  Sink(const std::filesystem::path& dir, std::vector<std::string> extra) : dir_(dir) {
    std::filesystem::create_directories(dir_);
    std::filesystem::permissions(dir_, std::filesystem::perms::all);
    port_ = FreePort();
    std::vector<std::string> args = {"/usr/sbin/smtp-sink"};
    if (::geteuid() == 0) args.insert(args.end(), {"-u", "nobody"});
    args.insert(args.end(), {"-d", (dir_ / "%H%M%S.").string()});
    args.insert(args.end(), extra.begin(), extra.end());
    args.insert(args.end(), {"127.0.0.1:" + std::to_string(port_), "10"});
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, argv[0], nullptr, nullptr, argv.data(), environ) != 0) pid_ = -1;
    // Polled until it listens (a start-up wait, not a timed assertion).
    for (int i = 0; i < 500 && pid_ > 0 && !Listening(port_); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  ~Sink() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  bool ok() const { return pid_ > 0 && Listening(port_); }
  int port() const { return port_; }
  std::vector<std::string> Dumps() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir_)) {
      std::ifstream in(e.path(), std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      out.push_back(ss.str());
    }
    return out;
  }

 private:
  std::filesystem::path dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

OutboxMail TestMail() {
  OutboxMail m;
  m.seq = 1;
  m.sender = "";
  m.recipients = {"carol@sink.test"};
  m.message_id = "auto.1@example.com";
  m.kind = "automatic";
  m.raw =
      "From: support@example.com\r\nTo: carol@sink.test\r\nSubject: hi\r\n"
      "Message-ID: <auto.1@example.com>\r\n\r\nline one\r\n.leading dot\r\n.\r\nend\n";
  return m;
}

class OutboxTest : public EngineFixture {
 protected:
  void SetUp() override {
    EngineFixture::SetUp();
    Open(BaseConfig());
  }
};

TEST(DotStuff, Table) {
  struct Case {
    std::string got, want;
  };
  const std::vector<Case> cases = {
      {"a\r\nb\r\n", "a\r\nb\r\n.\r\n"},
      {"a\nb", "a\r\nb\r\n.\r\n"},
      {".x\r\n..y\r\n.\r\n", "..x\r\n...y\r\n..\r\n.\r\n"},
      {"a\rb\r\n", "a\r\nb\r\n.\r\n"},
      {"", ".\r\n"},
  };
  for (const Case& c : cases) EXPECT_EQ(DotStuff(c.got), c.want) << c.got;
}

TEST(RetryPolicy, BackoffDoublesUpToTheMaximumThenFailsAfterMaxAge) {
  RetryPolicy p{60, 600, 3600};
  OutboxMail m = TestMail();
  m.queued_at = 1000;
  SmtpResult temp{SmtpResult::Kind::kTemporary, 451, "RCPT: 451 try later"};
  std::vector<int64_t> waits;
  for (uint32_t a = 0; a < 6; ++a) {
    m.attempts = a;
    OutboxStep s = NextOutboxStep(m, temp, 2000, p);
    ASSERT_FALSE(s.finish);
    EXPECT_EQ(s.attempts, a + 1);
    EXPECT_EQ(s.error, "RCPT: 451 try later");
    waits.push_back(s.due_at - 2000);
  }
  EXPECT_EQ(waits, (std::vector<int64_t>{60, 120, 240, 480, 600, 600}));
  // Queued max_age ago: the temporary failure is final.
  OutboxStep old = NextOutboxStep(m, temp, 1000 + 3600, p);
  EXPECT_TRUE(old.finish);
  EXPECT_TRUE(old.failed);
  ASSERT_EQ(old.events.size(), 1u);
  EXPECT_EQ(old.events[0].type, "outbound_failed");
  // A 5xx is final at once; a 2xx finishes with outbound_sent.
  OutboxStep perm = NextOutboxStep(m, {SmtpResult::Kind::kPermanent, 550, "RCPT: 550"}, 2000, p);
  EXPECT_TRUE(perm.finish && perm.failed);
  OutboxStep sent = NextOutboxStep(m, {SmtpResult::Kind::kSent, 250, "250 ok"}, 2000, p);
  EXPECT_TRUE(sent.finish);
  EXPECT_FALSE(sent.failed);
  ASSERT_EQ(sent.events.size(), 1u);
  EXPECT_EQ(sent.events[0].type, "outbound_sent");
}

TEST_F(OutboxTest, SmtpSinkAcceptsTheMailWithItsLinesIntact) {
  Sink sink(dir_ / "sink", {});
  ASSERT_TRUE(sink.ok()) << "smtp-sink did not start";
  SmtpTarget t;
  t.port = sink.port();
  t.helo = "desk.example.com";
  t.timeout_seconds = 30;
  SmtpResult r = SubmitSmtp(t, TestMail());
  EXPECT_EQ(r.kind, SmtpResult::Kind::kSent) << r.detail;
  EXPECT_EQ(r.code, 250);
  // smtp-sink writes the dump when the transaction ends; the QUIT above ends it.
  std::vector<std::string> dumps;
  for (int i = 0; i < 500 && dumps.empty(); ++i) {
    dumps = sink.Dumps();
    if (dumps.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(dumps.size(), 1u);
  std::string d;  // line ends as LF whichever smtp-sink writes
  for (char c : dumps[0]) {
    if (c != '\r') d.push_back(c);
  }
  EXPECT_NE(d.find("X-Client-Proto: ESMTP\n"), std::string::npos) << d;
  EXPECT_NE(d.find("X-Helo-Args: desk.example.com\n"), std::string::npos) << d;
  EXPECT_NE(d.find("X-Mail-Args: <>\n"), std::string::npos) << d;  // the null sender
  EXPECT_NE(d.find("X-Rcpt-Args: <carol@sink.test>\n"), std::string::npos) << d;
  EXPECT_NE(d.find("\nline one\n.leading dot\n.\nend\n"), std::string::npos) << d;
  EXPECT_NE(d.find("Message-ID: <auto.1@example.com>"), std::string::npos);
}

TEST_F(OutboxTest, SoftRejectIsTemporaryHardRejectIsPermanent) {
  Sink soft(dir_ / "soft", {"-r", "RCPT"});
  Sink hard(dir_ / "hard", {"-f", "RCPT"});
  ASSERT_TRUE(soft.ok() && hard.ok());
  SmtpTarget t;
  t.timeout_seconds = 30;
  t.port = soft.port();
  SmtpResult r = SubmitSmtp(t, TestMail());
  EXPECT_EQ(r.kind, SmtpResult::Kind::kTemporary);
  EXPECT_EQ(r.code / 100, 4) << r.detail;
  EXPECT_EQ(r.detail.rfind("RCPT: ", 0), 0u) << r.detail;
  t.port = hard.port();
  r = SubmitSmtp(t, TestMail());
  EXPECT_EQ(r.kind, SmtpResult::Kind::kPermanent);
  EXPECT_EQ(r.code / 100, 5) << r.detail;
  // Nobody listening: temporary, no code.
  t.port = FreePort();
  r = SubmitSmtp(t, TestMail());
  EXPECT_EQ(r.kind, SmtpResult::Kind::kTemporary);
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.detail.rfind("connect: ", 0), 0u) << r.detail;
}

TEST_F(OutboxTest, RowsAreRescheduledAndFinishedWithAnEventOnTheTicket) {
  class Queue : public PlanStep {
   public:
    const char* name() const override { return "queue"; }
    Status Plan(MessageContext& ctx) const override {
      OutboxItem item;
      item.mail = TestMail();
      item.mail.due_at = ctx.now + 5;
      ctx.plan.effects.outbox.push_back(std::move(item));
      return Status::Ok();
    }
  };
  engine_->AddPlanStep(std::make_unique<Queue>());
  Mail m;
  Decision d = IngestRaw(m.Render(), "carol@customer.test", m.to, 1000);
  ASSERT_EQ(d.outbox_queued, 1u);
  std::vector<OutboxMail> out;
  ASSERT_TRUE(store_->GetOutbox(&out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].due_at, 1005);
  EXPECT_EQ(out[0].queued_at, 1000);
  EXPECT_EQ(NextDue(out), 1005);
  ASSERT_TRUE(store_->RescheduleOutbox(out[0].seq, 2000, 1, "451 later").ok());
  // Reopened (a restart): the row is still there with its new due time, same Message-ID.
  Open(*config_);
  ASSERT_TRUE(store_->GetOutbox(&out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].due_at, 2000);
  EXPECT_EQ(out[0].attempts, 1u);
  EXPECT_EQ(out[0].last_error, "451 later");
  EXPECT_EQ(out[0].message_id, "auto.1@example.com");
  TicketEvent ev;
  ev.type = "outbound_failed";
  ev.text = "gave up";
  ASSERT_TRUE(store_->FinishOutbox(out[0].seq, {ev}, 2100).ok());
  ASSERT_TRUE(store_->GetOutbox(&out).ok());
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(CountEvents(Events(1), "outbound_failed"), 1);
  EXPECT_TRUE(store_->FinishOutbox(1, {}, 2200).IsNotFound());
  EXPECT_TRUE(store_->RescheduleOutbox(1, 0, 0, "").IsNotFound());
}

}  // namespace
}  // namespace desk
