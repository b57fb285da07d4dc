// The ticket record's small pieces: brand resolution, the content-addressed blob store, view filters
// and word search.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "core/attachment_stage.h"
#include "core/brand.h"
#include "core/forget.h"
#include "core/lmdb_store.h"
#include "core/record_store.h"
#include "core/spool.h"
#include "core/ticket_view.h"

namespace desk {
namespace {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/desk_record_XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string ReadFd(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

TEST(BrandTest, Resolution) {
  QueueConfig q;
  q.brand = "acme";
  q.brand_display_name = "Acme Support";
  q.address_brands = {"help@globex.example=Globex", "Sales@Acme.example=Acme Sales"};
  struct {
    const char* rcvd;
    const char* want_name;
    const char* want_display;
  } cases[] = {
      {"support@acme.example", "acme", "Acme Support"},
      {"help@globex.example", "Globex", "Globex"},
      {"HELP@Globex.Example", "Globex", "Globex"},
      {"sales@acme.example", "Acme Sales", "Acme Sales"},
      {"", "acme", "Acme Support"},
  };
  for (const auto& c : cases) {
    Brand got = ResolveBrand(q, c.rcvd);
    EXPECT_EQ(got.name, c.want_name) << c.rcvd;
    EXPECT_EQ(got.display_name, c.want_display) << c.rcvd;
  }
  QueueConfig plain;
  EXPECT_EQ(ResolveBrand(plain, "a@b.example").name, "");
  plain.brand = "solo";
  EXPECT_EQ(ResolveBrand(plain, "a@b.example").display_name, "solo");  // falls back to the name
}

TEST(RecordStoreTest, HashValidation) {
  std::string out;
  const std::string good(64, 'a');
  EXPECT_TRUE(NormalizeSha256(std::string(64, 'A'), &out).ok());
  EXPECT_EQ(out, good);
  for (const std::string& bad :
       {std::string(""), std::string(63, 'a'), std::string(65, 'a'), std::string(63, 'a') + "g",
        std::string("../../../../etc/passwd"), std::string(62, 'a') + "/.", good + "\n"}) {
    Status st = NormalizeSha256(bad, &out);
    EXPECT_EQ(st.error_class(), ErrorClass::kInvalid) << bad;
  }
}

// A file at a blob's path that is not the whole blob (another size: cut short by a full disk or a
// hand copy) is written again, never trusted; a whole one is not rewritten.
TEST(RecordStoreTest, BlobOfTheWrongSizeIsRewritten) {
  TempDir dir;
  Spool spool(dir.path(), 1 << 20);
  const std::string raw = "Subject: torn\r\n\r\n" + std::string(3000, 'q');
  ASSERT_TRUE(spool.Append(raw).ok());
  std::string sha;
  ASSERT_TRUE(StoreBlob(dir.path(), spool, &sha).ok());
  const std::string path = AttachmentStorePath(dir.path(), sha);
  ASSERT_EQ(::truncate(path.c_str(), 0), 0);
  ASSERT_TRUE(StoreBlob(dir.path(), spool, &sha).ok());
  int fd = -1;
  uint64_t size = 0;
  ASSERT_TRUE(OpenBlob(dir.path(), sha, &fd, &size).ok());
  EXPECT_EQ(ReadFd(fd), raw);
  ::close(fd);
  struct stat before;
  ASSERT_EQ(::stat(path.c_str(), &before), 0);
  ASSERT_TRUE(StoreBlob(dir.path(), spool, &sha).ok());
  struct stat after;
  ASSERT_EQ(::stat(path.c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino);
}

TEST(RecordStoreTest, StoreOpenCopyByteIdentical) {
  TempDir dir;
  // In memory and spooled to disk: both round-trip byte for byte (CR, NUL, 8-bit).
  for (uint64_t threshold : {uint64_t{1} << 20, uint64_t{16}}) {
    Spool spool(dir.path(), threshold);
    std::string raw = "Subject: x\r\n\r\nbody \x00\xff\r\n.\r\nend";
    raw += std::string(5000, 'z');
    ASSERT_TRUE(spool.Append(raw).ok());
    std::string sha;
    ASSERT_TRUE(StoreBlob(dir.path(), spool, &sha).ok());
    EXPECT_EQ(sha, spool.Sha256Hex());
    struct stat sb;
    EXPECT_EQ(::stat(AttachmentStorePath(dir.path(), sha).c_str(), &sb), 0);
    int fd = -1;
    uint64_t size = 0;
    ASSERT_TRUE(OpenBlob(dir.path(), sha, &fd, &size).ok());
    EXPECT_EQ(size, raw.size());
    EXPECT_EQ(ReadFd(fd), raw);
    ::close(fd);
    // Storing the same bytes again is a no-op that gives the same name.
    std::string again;
    ASSERT_TRUE(StoreBlob(dir.path(), spool, &again).ok());
    EXPECT_EQ(again, sha);
    // CopyBlob to a file.
    const std::string out = dir.path() + "/copy";
    int ofd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT_TRUE(CopyBlob(dir.path(), sha, ofd).ok());
    ::close(ofd);
    int rfd = ::open(out.c_str(), O_RDONLY);
    EXPECT_EQ(ReadFd(rfd), raw);
    ::close(rfd);
  }
}

TEST(RecordStoreTest, MissingMalformedAndSymlinked) {
  TempDir dir;
  int fd = -1;
  uint64_t size = 0;
  EXPECT_EQ(OpenBlob(dir.path(), std::string(64, 'b'), &fd, &size).error_class(),
            ErrorClass::kNotFound);
  EXPECT_EQ(OpenBlob(dir.path(), "../x", &fd, &size).error_class(), ErrorClass::kInvalid);
  // A symlink planted in the store is not followed.
  const std::string sha(64, 'c');
  const std::string path = AttachmentStorePath(dir.path(), sha);
  ASSERT_EQ(::mkdir((dir.path() + "/cc").c_str(), 0700), 0);
  ASSERT_EQ(::mkdir((dir.path() + "/cc/cc").c_str(), 0700), 0);
  ASSERT_EQ(::symlink("/etc/passwd", path.c_str()), 0);
  EXPECT_EQ(OpenBlob(dir.path(), sha, &fd, &size).error_class(), ErrorClass::kStore);
}

TEST(TicketViewTest, SearchWords) {
  std::vector<std::string> w;
  ASSERT_TRUE(SearchWords("Printer  BROKEN, принтер!", &w));
  EXPECT_EQ(w, (std::vector<std::string>{"printer", "broken", "принтер"}));
  ASSERT_TRUE(SearchWords("", &w));
  EXPECT_TRUE(w.empty());
  std::string many;
  for (int i = 0; i < 17; ++i) many += "w" + std::to_string(i) + " ";
  EXPECT_FALSE(SearchWords(many, &w));
  EXPECT_FALSE(SearchWords(std::string(101, 'x'), &w));
}

TEST(TicketViewTest, FieldsAndWords) {
  Ticket t;
  t.brand = "acme";
  t.requester = {"Bob", "Bob@Example.com"};
  t.received_at = "support@acme.example";
  t.created_at = 1000;
  t.title = "Printer on fire";
  TicketMessage m;
  m.subject = "Re: Printer on fire";
  m.body = "Der Drucker im Büro brennt. Γεια σας.";
  struct {
    const char* name;
    ViewFilter f;
    bool want;
  } cases[] = {
      {"empty", {}, true},
      {"brand", {.brand = "acme"}, true},
      {"other_brand", {.brand = "globex"}, false},
      {"no_brand", {.brand = "-"}, false},
      {"requester_any_case", {.requester = "bob@example.COM"}, true},
      {"other_requester", {.requester = "eve@example.com"}, false},
      {"unassigned", {.assignee = "-"}, true},
      {"assigned_to_alice", {.assignee = "alice@example.com"}, false},
      {"received_at", {.received_at = "SUPPORT@acme.example"}, true},
      {"since", {.received_from = 1000}, true},
      {"since_later", {.received_from = 1001}, false},
      {"until", {.received_until = 1000}, false},
      {"until_later", {.received_until = 1001}, true},
  };
  for (const auto& c : cases) EXPECT_EQ(MatchesFields(c.f, t), c.want) << c.name;

  std::vector<std::string> w;
  struct {
    const char* text;
    bool want;
  } searches[] = {{"printer", true},  {"BÜRO drucker", true}, {"γεια", true},
                  {"fire büro", true}, {"printer scanner", false}, {"brenn", true}};
  for (const auto& s : searches) {
    ASSERT_TRUE(SearchWords(s.text, &w));
    EXPECT_EQ(MatchesWords(w, t, {m}), s.want) << s.text;
  }
}

TEST(TicketViewTest, Sla) {
  SlaState running;
  running.state = "running";
  running.running = SlaClock{.kind = "first_response", .started_at = 0, .due_at = 5000};
  SlaState late = running;
  late.breached = true;
  late.state = "breached";
  ViewFilter due{.sla = "due", .sla_due_by = 4000 + 3600};
  EXPECT_TRUE(MatchesSla(due, running, 4000));
  EXPECT_FALSE(MatchesSla(due, running, 5001));  // already late: breached, not due
  ViewFilter soon{.sla = "due", .sla_due_by = 4000 + 60};
  EXPECT_FALSE(MatchesSla(soon, running, 4000));
  ViewFilter breached{.sla = "breached"};
  EXPECT_TRUE(MatchesSla(breached, late, 9000));
  EXPECT_FALSE(MatchesSla(breached, running, 4000));
}

TicketMessage FMsg(uint32_t seq, Direction dir, const std::string& from,
                   std::vector<Mailbox> to, const std::string& orig,
                   const std::string& att = "") {
  TicketMessage m;
  m.seq = seq;
  m.direction = dir;
  m.kind = dir == Direction::kInbound ? "reply" : "agent_reply";
  m.message_id = "m" + std::to_string(seq) + "@example.com";
  m.from = {"Someone", from};
  m.envelope_from = from;
  m.to = std::move(to);
  m.subject = "Subject " + std::to_string(seq);
  m.body = "Body " + std::to_string(seq);
  m.original_sha256 = orig;
  if (!att.empty()) {
    StoredAttachment a;
    a.filename = "f.pdf";
    a.sha256 = att;
    a.verdict = "allowed";
    m.attachments.push_back(a);
  }
  return m;
}

TEST(ForgetTest, RequesterTicketLosesEverythingPersonal) {
  Ticket t;
  t.number = 7;
  t.title = "Bob's problem";
  t.description = "Body 1";
  t.requester = {"Bob", "bob@example.com"};
  t.participants = {"bob@example.com", "carol@example.com"};
  const std::string o1(64, '1'), o2(64, '2'), a1(64, 'a');
  std::vector<TicketMessage> msgs = {
      FMsg(1, Direction::kInbound, "Bob@Example.com", {{"", "support@x.example"}}, o1, a1),
      FMsg(2, Direction::kOutbound, "alice@staff.example", {{"", "bob@example.com"}}, o2)};
  msgs[1].agent = "alice@staff.example";
  std::vector<TicketEvent> events(2);
  events[0] = {.seq = 1, .at = 1, .type = "created", .text = "Sent by: Bob <bob@example.com>"};
  events[1] = {.seq = 2, .at = 1, .type = "latest_email", .text = "mid:m1@example.com"};
  ForgetPlan p;
  ASSERT_TRUE(PlanForget("BOB@example.com", t, msgs, events, 99, &p));
  EXPECT_TRUE(p.requester);
  EXPECT_EQ(p.fields.title, kForgottenText);
  EXPECT_EQ(p.fields.requester.address, "");
  EXPECT_EQ(p.fields.participants, std::vector<std::string>{"carol@example.com"});
  EXPECT_EQ(p.removed_messages, (std::vector<uint32_t>{1, 2}));
  ASSERT_EQ(p.messages.size(), 2u);
  for (const TicketMessage& m : p.messages) {
    EXPECT_EQ(m.body, "");
    EXPECT_EQ(m.subject, kForgottenText);
    EXPECT_TRUE(m.attachments.empty());
    EXPECT_EQ(m.original_sha256, "");
    EXPECT_TRUE(m.to.empty());
    EXPECT_FALSE(m.message_id.empty());  // threading keeps working
  }
  EXPECT_EQ(p.messages[1].agent, "alice@staff.example");
  EXPECT_EQ(p.blobs, (std::vector<std::string>{"attachment:" + a1, "original:" + o1,
                                                "original:" + o2}));
  EXPECT_EQ(BlobRefPath("/s", "original:" + o1), AttachmentStorePath("/s/originals", o1));
  EXPECT_EQ(BlobRefPath("/s", "attachment:" + a1), AttachmentStorePath("/s", a1));
  EXPECT_EQ(BlobRefPath("/s", "original:../x"), "");
  EXPECT_EQ(BlobRefPath("/s", "other:" + a1), "");
  ASSERT_EQ(p.events.size(), 1u);  // the created event; the mid: URL stays
  EXPECT_EQ(p.events[0].seq, 1u);
  EXPECT_EQ(p.note.type, "forgotten");
  EXPECT_EQ(p.note.text.find("bob"), std::string::npos);  // the note does not name the person
}

TEST(ForgetTest, OtherTicketLosesOnlyThePersonsMessages) {
  Ticket t;
  t.number = 8;
  t.requester = {"", "carol@example.com"};
  t.participants = {"carol@example.com", "bob@example.com"};
  std::vector<TicketMessage> msgs = {
      FMsg(1, Direction::kInbound, "carol@example.com",
           {{"", "support@x.example"}, {"Bob", "bob@example.com"}}, std::string(64, '3')),
      FMsg(2, Direction::kInbound, "bob@example.com", {{"", "support@x.example"}},
           std::string(64, '4'))};
  ForgetPlan p;
  ASSERT_TRUE(PlanForget("bob@example.com", t, msgs, {}, 99, &p));
  EXPECT_FALSE(p.requester);
  EXPECT_EQ(p.fields.requester.address, "carol@example.com");
  EXPECT_EQ(p.removed_messages, std::vector<uint32_t>{2});
  ASSERT_EQ(p.messages.size(), 2u);
  EXPECT_EQ(p.messages[0].body, "Body 1");  // Carol's mail stays, without Bob in To
  EXPECT_EQ(p.messages[0].to.size(), 1u);
  EXPECT_EQ(p.messages[1].body, "");
  EXPECT_EQ(p.blobs, std::vector<std::string>{"original:" + std::string(64, '4')});
  EXPECT_EQ(p.fields.participants, std::vector<std::string>{"carol@example.com"});
  // Nothing of Dave here.
  EXPECT_FALSE(PlanForget("dave@example.com", t, msgs, {}, 99, &p));
}

// Events naming the person as a whole address are blanked; one naming a longer address that
// merely contains it (jimbob@, bob@example.com.evil) is someone else's record and stays.
TEST(ForgetTest, EventsAreBlankedOnlyForTheWholeAddress) {
  Ticket t;
  t.number = 9;
  t.requester = {"", "carol@example.com"};
  t.participants = {"carol@example.com", "bob@example.com"};
  std::vector<TicketMessage> msgs = {FMsg(1, Direction::kInbound, "carol@example.com",
                                          {{"", "support@x.example"}}, std::string(64, '5'))};
  std::vector<TicketEvent> events(4);
  events[0] = {.seq = 1, .at = 1, .type = "note", .text = "Copied JimBob@example.com"};
  events[1] = {.seq = 2, .at = 1, .type = "note", .text = "Ask bob@example.com."};
  events[2] = {.seq = 3, .at = 1, .type = "note", .text = "see bob@example.com.evil.test"};
  events[3] = {.seq = 4, .at = 1, .type = "note", .text = "<Bob@Example.com> called"};
  ForgetPlan p;
  ASSERT_TRUE(PlanForget("bob@example.com", t, msgs, events, 99, &p));
  std::vector<uint32_t> blanked;
  for (const TicketEvent& e : p.events) {
    EXPECT_EQ(e.text, kForgottenText);
    blanked.push_back(e.seq);
  }
  EXPECT_EQ(blanked, (std::vector<uint32_t>{2, 4}));
}

TEST(ForgetTest, StoreRedactRewritesInOneTransaction) {
  TempDir dir;
  LmdbOptions o;
  o.dir = dir.path() + "/db";
  std::unique_ptr<TicketStore> store;
  ASSERT_TRUE(OpenLmdbTicketStore(o, &store).ok());
  TicketWrite w;
  w.now = 10;
  w.new_ticket.title = "Bob's problem";
  w.new_ticket.requester = {"Bob", "bob@example.com"};
  w.new_ticket.brand = "acme";
  w.message = FMsg(0, Direction::kInbound, "bob@example.com", {}, std::string(64, '5'));
  TicketEvent created{.type = "created", .text = "Sent by: bob@example.com"};
  w.events = {created};
  w.participants = {"bob@example.com"};
  WriteResult r;
  ASSERT_TRUE(store->Write(w, &r).ok());
  Ticket t;
  std::vector<TicketMessage> msgs;
  std::vector<TicketEvent> evs;
  ASSERT_TRUE(store->GetTicket(r.ticket, &t).ok());
  EXPECT_EQ(t.brand, "acme");  // the brand round-trips through the codec
  ASSERT_TRUE(store->GetMessages(r.ticket, &msgs).ok());
  EXPECT_EQ(msgs[0].original_sha256, std::string(64, '5'));
  ASSERT_TRUE(store->GetEvents(r.ticket, &evs).ok());
  ForgetPlan p;
  ASSERT_TRUE(PlanForget("bob@example.com", t, msgs, evs, 20, &p));
  ASSERT_TRUE(
      store->Redact(r.ticket, p.fields, p.messages, p.events, {p.note}, {}, 20, nullptr).ok());
  ASSERT_TRUE(store->GetTicket(r.ticket, &t).ok());
  ASSERT_TRUE(store->GetMessages(r.ticket, &msgs).ok());
  ASSERT_TRUE(store->GetEvents(r.ticket, &evs).ok());
  EXPECT_EQ(t.title, kForgottenText);
  EXPECT_EQ(t.message_count, 1u);
  EXPECT_EQ(t.event_count, 2u);
  EXPECT_EQ(t.updated_at, 20);
  EXPECT_EQ(msgs[0].body, "");
  EXPECT_EQ(msgs[0].original_sha256, "");
  ASSERT_EQ(evs.size(), 2u);
  EXPECT_EQ(evs[0].text, kForgottenText);
  EXPECT_EQ(evs[1].type, "forgotten");
  // The Message-ID still threads to the ticket.
  MessageIdEntry e;
  ASSERT_TRUE(store->FindMessageId(msgs[0].message_id, &e).ok());
  EXPECT_EQ(e.ticket, r.ticket);
  // An unknown message seq is refused and nothing changes.
  TicketMessage ghost = msgs[0];
  ghost.seq = 9;
  EXPECT_EQ(store->Redact(r.ticket, t, {ghost}, {}, {}, {}, 30, nullptr).error_class(),
            ErrorClass::kNotFound);
  EXPECT_EQ(store->Redact(999, t, {}, {}, {}, {}, 30, nullptr).error_class(), ErrorClass::kNotFound);
}

// Queued outbox mail: a ticket from `from` (participants: from and others) with one outbox row
// per (recipient, raw) pair.
uint64_t TicketWithOutbox(TicketStore* store, const std::string& id, const std::string& from,
                          const std::vector<std::string>& others,
                          const std::vector<std::pair<std::string, std::string>>& mails) {
  TicketWrite w;
  w.now = 10;
  w.new_ticket.title = "From " + from;
  w.new_ticket.requester = {"", from};
  w.message = FMsg(0, Direction::kInbound, from, {}, "");
  w.message.message_id = id;
  w.participants = {from};
  for (const std::string& o : others) w.participants.push_back(o);
  for (const auto& [to, raw] : mails) {
    OutboxItem item;
    item.mail.recipients = {to};
    item.mail.message_id = "out-" + to + "-" + id;
    item.mail.kind = "automatic";
    item.mail.raw = raw;
    w.outbox.push_back(item);
  }
  WriteResult r;
  EXPECT_TRUE(store->Write(w, &r).ok());
  EXPECT_EQ(r.outbox_queued, mails.size());
  return r.ticket;
}

// Privacy hole (issue 14/15): forget rewrote the tickets but left the person's queued automatic
// answers and notifications in the outbox, still to be sent with their address and text.
TEST(ForgetTest, ForgetRemovesQueuedOutboxMail) {
  TempDir dir;
  LmdbOptions o;
  o.dir = dir.path() + "/db";
  std::unique_ptr<TicketStore> store;
  ASSERT_TRUE(OpenLmdbTicketStore(o, &store).ok());
  // Bob's own ticket: an answer to Bob and a notification to an agent (it quotes his mail).
  const uint64_t bobs = TicketWithOutbox(
      store.get(), "b1@example.com", "bob@example.com", {},
      {{"bob@example.com", "To: bob@example.com\r\n\r\nThanks\r\n"},
       {"alice@staff.example", "To: alice@staff.example\r\n\r\nNew ticket\r\n"}});
  // Carol's ticket with Bob in it: the mail naming Bob goes, the other stays.
  const uint64_t carols = TicketWithOutbox(
      store.get(), "c1@example.com", "carol@example.com", {"bob@example.com"},
      {{"carol@example.com", "To: carol@example.com\r\nCc: BOB@Example.com\r\n\r\nHi\r\n"},
       {"carol@example.com", "To: carol@example.com\r\nCc: jimbob@example.com\r\n\r\n"
                             "Write to bob@example.com.evil\r\n"}});
  // Dave's ticket holds nothing of Bob, but one queued mail goes to Bob.
  const uint64_t daves = TicketWithOutbox(
      store.get(), "d1@example.com", "dave@example.com", {},
      {{"Bob@example.com", "To: Bob@example.com\r\n\r\nFYI\r\n"},
       {"dave@example.com", "To: dave@example.com\r\n\r\nThanks\r\n"}});
  std::vector<OutboxMail> outbox;
  ASSERT_TRUE(store->GetOutbox(&outbox).ok());
  ASSERT_EQ(outbox.size(), 6u);

  // What deskctl forget does.
  std::vector<Ticket> tickets;
  ASSERT_TRUE(store->ListTickets({}, &tickets).ok());
  std::vector<ForgetPlan> plans;
  for (const Ticket& t : tickets) {
    std::vector<TicketMessage> msgs;
    std::vector<TicketEvent> evs;
    ASSERT_TRUE(store->GetMessages(t.number, &msgs).ok());
    ASSERT_TRUE(store->GetEvents(t.number, &evs).ok());
    ForgetPlan p;
    if (PlanForget("bob@example.com", t, msgs, evs, 20, &p)) plans.push_back(std::move(p));
  }
  ASSERT_EQ(plans.size(), 2u);  // Bob's and Carol's; nothing of Bob is on Dave's ticket
  const std::vector<uint64_t> other = PlanForgetOutbox("bob@example.com", outbox, &plans);
  ASSERT_EQ(other.size(), 1u);
  EXPECT_EQ(other[0], outbox[4].seq);  // Dave's ticket's mail to Bob
  size_t removed_total = 0;
  for (const ForgetPlan& p : plans) {
    EXPECT_EQ(p.outbox.size(), p.ticket == bobs ? 2u : 1u);
    size_t removed = 99;
    ASSERT_TRUE(store->Redact(p.ticket, p.fields, p.messages, p.events, {p.note}, p.outbox, 20,
                              &removed).ok());
    EXPECT_EQ(removed, p.outbox.size());
    removed_total += removed;
  }
  size_t removed = 99;
  ASSERT_TRUE(store->DeleteOutbox(other, &removed).ok());
  EXPECT_EQ(removed, 1u);
  EXPECT_EQ(removed_total + removed, 4u);

  std::vector<OutboxMail> left;
  ASSERT_TRUE(store->GetOutbox(&left).ok());
  ASSERT_EQ(left.size(), 2u);
  EXPECT_EQ(left[0].ticket, carols);
  EXPECT_EQ(left[0].recipients, std::vector<std::string>{"carol@example.com"});
  EXPECT_EQ(left[1].ticket, daves);
  EXPECT_EQ(left[1].recipients, std::vector<std::string>{"dave@example.com"});
  for (const OutboxMail& m : left) {
    EXPECT_FALSE(OutboxHoldsPerson("bob@example.com", m));
  }
  // Rows already gone (sent meanwhile) are skipped and not counted.
  ASSERT_TRUE(store->DeleteOutbox(other, &removed).ok());
  EXPECT_EQ(removed, 0u);
}

}  // namespace
}  // namespace desk

namespace desk {
namespace {

void Age(const std::string& path) {
  const auto old = std::filesystem::file_time_type::clock::now() - std::chrono::hours(2);
  std::filesystem::last_write_time(path, old);
}

std::string StoreBytes(const std::string& dir, const std::string& bytes) {
  Spool spool(dir, 1 << 20);
  EXPECT_TRUE(spool.Append(bytes).ok());
  std::string sha;
  EXPECT_TRUE(StoreBlob(dir, spool, &sha).ok());
  return sha;
}

void Touch(const std::string& path) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("%PDF-1.4 x", f);
  std::fclose(f);
}

// The purge order: the tickets are deleted (committed) and then the process dies before any file
// is removed (here: nothing removes them). The sweep afterwards takes every file of the deleted
// ticket (attachment, original, PDF, a writer's temporary file) and nothing a live ticket names,
// nothing young, nothing outside the layout.
TEST(RecordStoreTest, SweepAfterDeleteRemovesEveryFileOfDeletedTicketsOnly) {
  TempDir dir;
  const std::string files = dir.path() + "/files";
  std::unique_ptr<TicketStore> store;
  LmdbOptions o;
  o.dir = dir.path() + "/store";
  ASSERT_TRUE(OpenLmdbTicketStore(o, &store).ok());
  const std::string shared = StoreBytes(files, "shared attachment");
  const std::string gone_att = StoreBytes(files, "attachment of the purged ticket");
  const std::string kept_orig = StoreBytes(OriginalsDir(files), "original kept");
  const std::string gone_orig = StoreBytes(OriginalsDir(files), "original purged");
  const std::string young = StoreBytes(files, "attachment of mail in flight");
  uint64_t numbers[2] = {0, 0};
  for (int i = 0; i < 2; ++i) {
    TicketWrite w;
    w.op = TicketWrite::Op::kCreate;
    w.new_ticket.queue = "support";
    w.message.message_id = "m" + std::to_string(i) + "@x";
    w.message.original_sha256 = i == 0 ? kept_orig : gone_orig;
    StoredAttachment a;
    a.sha256 = shared;
    w.message.attachments.push_back(a);
    if (i == 1) {
      a.sha256 = gone_att;
      w.message.attachments.push_back(a);
    }
    w.now = 100;
    WriteResult r;
    ASSERT_TRUE(store->Write(w, &r).ok());
    numbers[i] = r.ticket;
    Touch(TranscriptPath(files, r.ticket));
  }
  Touch(TranscriptPath(files, numbers[1]) + ".tmp-AbC123");  // a PDF writer that died
  Touch(files + "/.tmp-XyZ789");                              // a StoreBlob that died
  Touch(files + "/README");                                   // not ours: never touched
  Touch(TranscriptDir(files) + "/notes.pdf");
  for (const auto& e : std::filesystem::recursive_directory_iterator(files)) {
    if (e.is_regular_file() && e.path().filename() != young) Age(e.path().string());
  }
  uint64_t deleted = 0;
  ASSERT_TRUE(LmdbDeleteTickets(store.get(), {numbers[1]}, &deleted).ok());
  ASSERT_EQ(deleted, 1u);

  // What deskctl purge gathers from the remaining tickets.
  std::set<std::string> atts, origs;
  std::set<uint64_t> live;
  ASSERT_TRUE(store->ScanTickets({}, [&](const Ticket& t) {
    live.insert(t.number);
    return true;
  }).ok());
  for (uint64_t n : live) {
    std::vector<TicketMessage> ms;
    ASSERT_TRUE(store->GetMessages(n, &ms).ok());
    for (const TicketMessage& m : ms) {
      origs.insert(m.original_sha256);
      for (const StoredAttachment& a : m.attachments) atts.insert(a.sha256);
    }
  }
  const auto keep_after = std::filesystem::file_time_type::clock::now() - std::chrono::hours(1);
  auto exists = [&](uint64_t n) { return live.count(n) != 0; };
  SweepResult got;
  ASSERT_TRUE(SweepRecordStore(files, atts, origs, exists, keep_after, true, &got).ok());
  EXPECT_EQ(got.attachments, 1u);
  EXPECT_EQ(got.originals, 1u);
  EXPECT_EQ(got.transcripts, 1u);
  EXPECT_EQ(got.temp_files, 2u);
  EXPECT_TRUE(std::filesystem::exists(AttachmentStorePath(files, gone_att)));  // dry run
  ASSERT_TRUE(SweepRecordStore(files, atts, origs, exists, keep_after, false, &got).ok());
  EXPECT_EQ(got.attachments + got.originals + got.transcripts + got.temp_files, 5u);
  namespace fs = std::filesystem;
  EXPECT_FALSE(fs::exists(AttachmentStorePath(files, gone_att)));
  EXPECT_FALSE(fs::exists(AttachmentStorePath(OriginalsDir(files), gone_orig)));
  EXPECT_FALSE(fs::exists(TranscriptPath(files, numbers[1])));
  EXPECT_FALSE(fs::exists(TranscriptPath(files, numbers[1]) + ".tmp-AbC123"));
  EXPECT_FALSE(fs::exists(files + "/.tmp-XyZ789"));
  EXPECT_TRUE(fs::exists(AttachmentStorePath(files, shared)));
  EXPECT_TRUE(fs::exists(AttachmentStorePath(files, young)));
  EXPECT_TRUE(fs::exists(AttachmentStorePath(OriginalsDir(files), kept_orig)));
  EXPECT_TRUE(fs::exists(TranscriptPath(files, numbers[0])));
  EXPECT_TRUE(fs::exists(files + "/README"));
  EXPECT_TRUE(fs::exists(TranscriptDir(files) + "/notes.pdf"));
  // Nothing is left to sweep.
  ASSERT_TRUE(SweepRecordStore(files, atts, origs, exists, keep_after, false, &got).ok());
  EXPECT_EQ(got.attachments + got.originals + got.transcripts + got.temp_files, 0u);
  // A missing store directory is nothing to do.
  ASSERT_TRUE(SweepRecordStore(files + "/none", atts, origs, exists, keep_after, false, &got).ok());
}

}  // namespace
}  // namespace desk
