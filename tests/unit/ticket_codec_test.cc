// Tests for core/ticket_codec: key layout, round trips of every field, tolerance of missing optional
// fields, and clean errors (never crashes) on garbage and unknown encoding versions.
#include "core/ticket_codec.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace desk {
namespace {

using nlohmann::json;

std::string Framed(const json& j, uint8_t version = codec::kEncodingVersion) {
  std::string out(1, static_cast<char>(version));
  json::to_cbor(j, out);
  return out;
}

Ticket FullTicket() {
  Ticket t;
  t.number = 0x0102030405060708ull;
  t.queue = "support";
  t.status = TicketStatus::kClosed;
  t.title = "Printer on fire \xc3\xa9";
  t.requester = {"Ann Example", "Ann@Example.com"};
  t.description = "It burns.\nPlease help.";
  t.received_at = "support@example.com";
  t.assigned_agent = "bob";
  t.created_at = -5;  // times before the epoch must survive too
  t.updated_at = 1700000000;
  t.linked_from = 41;
  t.participants = {"ann@example.com", "carl@example.com"};
  t.message_count = 3;
  t.event_count = 4000000000u;
  return t;
}

TicketMessage FullMessage() {
  TicketMessage m;
  m.seq = 7;
  m.direction = Direction::kOutbound;
  m.kind = "reply";
  m.message_id = "abc@example.com";
  m.queue_id = "4XyZ1";
  m.from = {"Bob", "bob@example.com"};
  m.to = {{"Ann", "ann@example.com"}, {"", "dave@example.com"}};
  m.cc = {{"Carl", "carl@example.com"}};
  m.envelope_from = "bounce@example.com";
  m.envelope_rcpts = {"support@example.com", "help@example.com"};
  m.subject = "Re: [#5] Printer";
  m.date = "Tue, 1 Oct 2024 10:00:00 +0000";
  m.received_at = 1727776800;
  m.size = 123456789012ull;
  m.body = std::string("binary \x00\xff\xfe ok", 13);  // not UTF-8, with a NUL
  m.body_truncated = true;
  m.agent = "bob";
  StoredAttachment a;
  a.filename = "report.pdf";
  a.declared_type = "application/pdf";
  a.detected_type = "application/pdf";
  a.size = 4096;
  a.sha256 = std::string(64, 'a');
  a.verdict = "allowed";
  a.reason = "type allowed";
  a.virus = "";
  StoredAttachment b = a;
  b.filename = "x.exe";
  b.verdict = "stripped";
  b.virus = "Eicar-Test";
  m.attachments = {a, b};
  return m;
}

void ExpectMailboxEq(const Mailbox& got, const Mailbox& want) {
  EXPECT_EQ(got.name, want.name);
  EXPECT_EQ(got.address, want.address);
}

TEST(TicketCodec, TicketRoundTrip) {
  const Ticket want = FullTicket();
  Ticket got;
  ASSERT_TRUE(codec::DecodeTicket(codec::EncodeTicket(want), &got).ok());
  EXPECT_EQ(got.number, want.number);
  EXPECT_EQ(got.queue, want.queue);
  EXPECT_EQ(got.status, want.status);
  EXPECT_EQ(got.title, want.title);
  ExpectMailboxEq(got.requester, want.requester);
  EXPECT_EQ(got.description, want.description);
  EXPECT_EQ(got.received_at, want.received_at);
  EXPECT_EQ(got.assigned_agent, want.assigned_agent);
  EXPECT_EQ(got.created_at, want.created_at);
  EXPECT_EQ(got.updated_at, want.updated_at);
  EXPECT_EQ(got.linked_from, want.linked_from);
  EXPECT_EQ(got.participants, want.participants);
  EXPECT_EQ(got.message_count, want.message_count);
  EXPECT_EQ(got.event_count, want.event_count);
}

TEST(TicketCodec, MessageRoundTrip) {
  const TicketMessage want = FullMessage();
  TicketMessage got;
  Status s = codec::DecodeMessage(codec::EncodeMessage(want), &got);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(got.seq, want.seq);
  EXPECT_EQ(got.direction, want.direction);
  EXPECT_EQ(got.kind, want.kind);
  EXPECT_EQ(got.message_id, want.message_id);
  EXPECT_EQ(got.queue_id, want.queue_id);
  ExpectMailboxEq(got.from, want.from);
  ASSERT_EQ(got.to.size(), want.to.size());
  for (size_t i = 0; i < want.to.size(); ++i) ExpectMailboxEq(got.to[i], want.to[i]);
  ASSERT_EQ(got.cc.size(), want.cc.size());
  for (size_t i = 0; i < want.cc.size(); ++i) ExpectMailboxEq(got.cc[i], want.cc[i]);
  EXPECT_EQ(got.envelope_from, want.envelope_from);
  EXPECT_EQ(got.envelope_rcpts, want.envelope_rcpts);
  EXPECT_EQ(got.subject, want.subject);
  EXPECT_EQ(got.date, want.date);
  EXPECT_EQ(got.received_at, want.received_at);
  EXPECT_EQ(got.size, want.size);
  EXPECT_EQ(got.body, want.body);
  EXPECT_EQ(got.body_truncated, want.body_truncated);
  EXPECT_EQ(got.agent, want.agent);
  ASSERT_EQ(got.attachments.size(), want.attachments.size());
  for (size_t i = 0; i < want.attachments.size(); ++i) {
    const StoredAttachment& g = got.attachments[i];
    const StoredAttachment& w = want.attachments[i];
    EXPECT_EQ(g.filename, w.filename);
    EXPECT_EQ(g.declared_type, w.declared_type);
    EXPECT_EQ(g.detected_type, w.detected_type);
    EXPECT_EQ(g.size, w.size);
    EXPECT_EQ(g.sha256, w.sha256);
    EXPECT_EQ(g.verdict, w.verdict);
    EXPECT_EQ(g.reason, w.reason);
    EXPECT_EQ(g.virus, w.virus);
  }
}

TEST(TicketCodec, EventRoundTrip) {
  TicketEvent want;
  want.seq = 12;
  want.at = 1700000001;
  want.type = "linked";
  want.text = "linked from #3";
  want.related_ticket = 3;
  TicketEvent got;
  ASSERT_TRUE(codec::DecodeEvent(codec::EncodeEvent(want), &got).ok());
  EXPECT_EQ(got.seq, want.seq);
  EXPECT_EQ(got.at, want.at);
  EXPECT_EQ(got.type, want.type);
  EXPECT_EQ(got.text, want.text);
  EXPECT_EQ(got.related_ticket, want.related_ticket);
}

TEST(TicketCodec, MessageIdEntryAndMetaRoundTrip) {
  for (const MessageIdEntry& want : {MessageIdEntry{9, true}, MessageIdEntry{1ull << 40, false}}) {
    MessageIdEntry got;
    ASSERT_TRUE(codec::DecodeMessageIdEntry(codec::EncodeMessageIdEntry(want), &got).ok());
    EXPECT_EQ(got.ticket, want.ticket);
    EXPECT_EQ(got.stored, want.stored);
  }
  for (uint64_t want : {0ull, 1ull, 0xffffffffffffffffull}) {
    uint64_t got = 42;
    ASSERT_TRUE(codec::DecodeMetaU64(codec::EncodeMetaU64(want), &got).ok());
    EXPECT_EQ(got, want);
  }
}

TEST(TicketCodec, MissingOptionalFieldsGetDefaults) {
  Ticket t;
  Status s = codec::DecodeTicket(Framed({{"num", 5}}), &t);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(t.number, 5u);
  EXPECT_EQ(t.status, TicketStatus::kOpen);
  EXPECT_TRUE(t.participants.empty());

  TicketMessage m;
  // A later version's extra field is ignored.
  s = codec::DecodeMessage(Framed({{"seq", 2}, {"future_field", "x"}}), &m);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(m.seq, 2u);
  EXPECT_EQ(m.direction, Direction::kInbound);
  EXPECT_TRUE(m.attachments.empty());

  TicketEvent e;
  s = codec::DecodeEvent(Framed({{"seq", 1}, {"type", "closed"}}), &e);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(e.type, "closed");
  EXPECT_EQ(e.related_ticket, 0u);
}

TEST(TicketCodec, BadValuesAreErrors) {
  struct Case {
    const char* name;
    std::string value;
    const char* want_substr;
  };
  const std::vector<Case> cases = {
      {"empty", "", "corrupt record"},
      {"unknown version", Framed({{"num", 1}}, 2), "encoding version 2"},
      {"version zero", Framed({{"num", 1}}, 0), "encoding version 0"},
      {"garbage", std::string("\x01\xff\xfe\xfd garbage", 12), "corrupt record"},
      {"truncated", codec::EncodeTicket(FullTicket()).substr(0, 20), "corrupt record"},
      {"trailing bytes", codec::EncodeTicket(FullTicket()) + "x", "corrupt record"},
      {"deep nesting", "\x01" + std::string(100000, '\x81') + "\x00", "corrupt record"},
      {"not an object", Framed(json::array({1, 2})), "corrupt record"},
      {"missing number", Framed({{"queue", "q"}}), "missing num"},
      {"wrong type", Framed({{"num", "five"}}), "num is not"},
      {"negative number", Framed({{"num", -1}}), "num is not"},
      {"count overflow", Framed({{"num", 1}, {"msgs", 1ull << 33}}), "out of range"},
      {"unknown status", Framed({{"num", 1}, {"status", "limbo"}}), "unknown status"},
      {"bad requester", Framed({{"num", 1}, {"requester", 3}}), "requester"},
      {"bad participants", Framed({{"num", 1}, {"participants", {1}}}), "participants"},
  };
  for (const Case& c : cases) {
    Ticket got;
    Status s = codec::DecodeTicket(c.value, &got);
    EXPECT_EQ(s.error_class(), ErrorClass::kStore) << c.name;
    EXPECT_NE(s.message().find(c.want_substr), std::string::npos)
        << c.name << ": " << s.ToString();
  }
}

TEST(TicketCodec, BadMessageAndEventValues) {
  TicketMessage m;
  EXPECT_FALSE(codec::DecodeMessage(Framed({{"seq", 1}, {"dir", "sideways"}}), &m).ok());
  EXPECT_FALSE(codec::DecodeMessage(Framed({{"seq", 1}, {"atts", {{{"size", "big"}}}}}), &m).ok());
  EXPECT_FALSE(codec::DecodeMessage(Framed({{"seq", 1}, {"to", {{{"name", 1}}}}}), &m).ok());
  TicketEvent e;
  EXPECT_FALSE(codec::DecodeEvent(Framed({{"seq", 1}}), &e).ok());  // type is required
  MessageIdEntry me;
  EXPECT_FALSE(codec::DecodeMessageIdEntry(Framed({{"stored", true}}), &me).ok());
  uint64_t u = 0;
  EXPECT_FALSE(codec::DecodeMetaU64(Framed("x"), &u).ok());
  // Random bytes after a valid version byte: any outcome but a crash; record which.
  uint32_t seed = 12345;
  for (int i = 0; i < 2000; ++i) {
    std::string v(1, '\x01');
    for (int n = 0; n < 1 + i % 40; ++n) {
      seed = seed * 1103515245 + 12345;
      v.push_back(static_cast<char>(seed >> 16));
    }
    Ticket t;
    (void)codec::DecodeTicket(v, &t);
    (void)codec::DecodeMessage(v, &m);
  }
}

TEST(TicketCodec, Keys) {
  EXPECT_EQ(codec::TicketKey(0x0102030405060708ull), std::string("\x01\x02\x03\x04\x05\x06\x07\x08"));
  EXPECT_EQ(codec::EntryKey(1, 0x0a0b0c0d),
            std::string("\x00\x00\x00\x00\x00\x00\x00\x01\x0a\x0b\x0c\x0d", 12));
  // Big-endian keys sort like the numbers.
  EXPECT_LT(codec::TicketKey(255), codec::TicketKey(256));
  EXPECT_LT(codec::EntryKey(1, 0xffffffff), codec::EntryKey(2, 0));
  uint64_t n = 0;
  EXPECT_TRUE(codec::ParseTicketKey(codec::TicketKey(987654321), &n));
  EXPECT_EQ(n, 987654321u);
  EXPECT_FALSE(codec::ParseTicketKey("short", &n));

  struct Case {
    std::string id;
    bool want_hashed;
  };
  const std::vector<Case> cases = {
      {"a@b", false},
      {std::string(codec::kMaxKeyBytes, 'x'), false},
      {std::string(codec::kMaxKeyBytes + 1, 'x'), true},
      {"sha256:looks-hashed@example.com", true},
  };
  for (const Case& c : cases) {
    const std::string got = codec::MessageIdKey(c.id);
    EXPECT_LE(got.size(), codec::kMaxKeyBytes);
    if (c.want_hashed) {
      EXPECT_EQ(got.size(), 7u + 64u) << c.id.size();
      EXPECT_EQ(got.rfind("sha256:", 0), 0u);
    } else {
      EXPECT_EQ(got, c.id);
    }
  }
  // The hash is SHA-256 in lower-case hex (value from coreutils: printf 'sha256:' | sha256sum).
  EXPECT_EQ(codec::MessageIdKey("sha256:"),
            "sha256:9fd714ce6f63c3b320c944b70e80a5d105fd2f3e2d30ae2fa81370e223f50d07");
  EXPECT_NE(codec::MessageIdKey(std::string(600, 'a')), codec::MessageIdKey(std::string(601, 'a')));
  EXPECT_EQ(codec::MessageIdKey(""), "");
}

}  // namespace
}  // namespace desk
