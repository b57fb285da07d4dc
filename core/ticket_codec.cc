// ticket_codec: key layout and versioned CBOR encoding of the store's records (see the header).
//
// CBOR is parsed through a SAX wrapper that caps nesting depth, so a corrupt value cannot recurse the
// parser into a stack overflow; every nlohmann exception is caught here and becomes a Status.
#include "core/ticket_codec.h"

#include <exception>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

#include "core/sha256.h"

namespace desk::codec {
namespace {

using json = nlohmann::json;

// Our records nest at most three levels (message -> attachments -> attachment).
constexpr int kMaxDepth = 16;

void PutBigEndian(std::string* out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t GetBigEndian(std::string_view in) {
  uint64_t v = 0;
  for (unsigned char c : in) v = (v << 8) | c;
  return v;
}

// Builds the DOM like nlohmann's own SAX DOM parser, but stops at kMaxDepth.
class DepthLimitedSax {
 public:
  explicit DepthLimitedSax(json* result) : dom_(*result, /*allow_exceptions=*/false) {}

  bool null() { return dom_.null(); }
  bool boolean(bool v) { return dom_.boolean(v); }
  bool number_integer(json::number_integer_t v) { return dom_.number_integer(v); }
  bool number_unsigned(json::number_unsigned_t v) { return dom_.number_unsigned(v); }
  bool number_float(json::number_float_t v, const json::string_t& s) {
    return dom_.number_float(v, s);
  }
  bool string(json::string_t& v) { return dom_.string(v); }
  bool binary(json::binary_t& v) { return dom_.binary(v); }
  bool start_object(std::size_t n) { return Enter() && dom_.start_object(n); }
  bool key(json::string_t& k) { return dom_.key(k); }
  bool end_object() {
    --depth_;
    return dom_.end_object();
  }
  bool start_array(std::size_t n) { return Enter() && dom_.start_array(n); }
  bool end_array() {
    --depth_;
    return dom_.end_array();
  }
  bool parse_error(std::size_t /*pos*/, const std::string& /*token*/,
                   const nlohmann::detail::exception& ex) {
    error_ = ex.what();
    return false;
  }

  const std::string& error() const { return error_; }

 private:
  bool Enter() {
    if (++depth_ > kMaxDepth) {
      error_ = "nesting deeper than " + std::to_string(kMaxDepth);
      return false;
    }
    return true;
  }

  nlohmann::detail::json_sax_dom_parser<json> dom_;
  int depth_ = 0;
  std::string error_;
};

std::string Frame(const json& j) {
  std::string out(1, static_cast<char>(kEncodingVersion));
  json::to_cbor(j, out);
  return out;
}

Status Corrupt(const char* record, const std::string& why) {
  return Status::Store(std::string("corrupt record (") + record + "): " + why);
}

// Checks the version byte and parses the CBOR object after it.
Status Unframe(std::string_view value, const char* record, json* out) {
  if (value.empty()) return Corrupt(record, "empty value");
  const auto version = static_cast<unsigned char>(value[0]);
  if (version != kEncodingVersion) {
    return Status::Store(std::string(record) + " record has encoding version " +
                         std::to_string(version) + "; this build reads version " +
                         std::to_string(kEncodingVersion));
  }
  try {
    DepthLimitedSax sax(out);
    const bool ok = json::sax_parse(value.begin() + 1, value.end(), &sax, json::input_format_t::cbor,
                                    /*strict=*/true);
    if (!ok) return Corrupt(record, sax.error().empty() ? "invalid CBOR" : sax.error());
  } catch (const std::exception& e) {
    return Corrupt(record, e.what());
  }
  return Status::Ok();
}

// Reads the fields of one JSON object, remembering the first problem. Absent optional fields leave
// the target untouched (it holds the struct default).
class Fields {
 public:
  Fields(const json& j, const char* record) : j_(j), record_(record) {
    if (!j_.is_object()) Fail("not an object");
  }

  void Str(const char* name, std::string* out, bool required = false) {
    const json* v = Find(name, required);
    if (v == nullptr) return;
    if (!v->is_string()) return Fail(std::string(name) + " is not a string");
    *out = v->get_ref<const std::string&>();
  }

  void U64(const char* name, uint64_t* out, bool required = false) {
    const json* v = Find(name, required);
    if (v == nullptr) return;
    if (!v->is_number_unsigned()) return Fail(std::string(name) + " is not an unsigned integer");
    *out = v->get<uint64_t>();
  }

  void U32(const char* name, uint32_t* out, bool required = false) {
    uint64_t v = *out;
    U64(name, &v, required);
    if (v > std::numeric_limits<uint32_t>::max()) return Fail(std::string(name) + " out of range");
    *out = static_cast<uint32_t>(v);
  }

  void I64(const char* name, int64_t* out) {
    const json* v = Find(name, false);
    if (v == nullptr) return;
    if (v->is_number_unsigned()) {
      if (v->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return Fail(std::string(name) + " out of range");
      }
    } else if (!v->is_number_integer()) {
      return Fail(std::string(name) + " is not an integer");
    }
    *out = v->get<int64_t>();
  }

  void Bool(const char* name, bool* out) {
    const json* v = Find(name, false);
    if (v == nullptr) return;
    if (!v->is_boolean()) return Fail(std::string(name) + " is not a boolean");
    *out = v->get<bool>();
  }

  void Box(const char* name, Mailbox* out) {
    const json* v = Find(name, false);
    if (v == nullptr) return;
    ReadMailbox(*v, name, out);
  }

  void Boxes(const char* name, std::vector<Mailbox>* out) {
    const json* v = Find(name, false);
    if (v == nullptr) return;
    if (!v->is_array()) return Fail(std::string(name) + " is not an array");
    out->clear();
    for (const json& item : *v) ReadMailbox(item, name, &out->emplace_back());
  }

  void Strings(const char* name, std::vector<std::string>* out) {
    const json* v = Find(name, false);
    if (v == nullptr) return;
    if (!v->is_array()) return Fail(std::string(name) + " is not an array");
    out->clear();
    for (const json& item : *v) {
      if (!item.is_string()) return Fail(std::string(name) + " holds a non-string");
      out->push_back(item.get<std::string>());
    }
  }

  // The array under name, or nullptr (absent, or not an array: then a failure is recorded).
  const json* Array(const char* name) {
    const json* v = Find(name, false);
    if (v == nullptr) return nullptr;
    if (!v->is_array()) {
      Fail(std::string(name) + " is not an array");
      return nullptr;
    }
    return v;
  }

  void Fail(const std::string& why) {
    if (error_.empty()) error_ = why;
  }
  bool ok() const { return error_.empty(); }
  Status status() const { return ok() ? Status::Ok() : Corrupt(record_, error_); }

 private:
  const json* Find(const char* name, bool required) {
    if (!j_.is_object()) return nullptr;
    auto it = j_.find(name);
    if (it == j_.end()) {
      if (required) Fail(std::string("missing ") + name);
      return nullptr;
    }
    return &*it;
  }

  void ReadMailbox(const json& v, const char* name, Mailbox* out) {
    Fields f(v, record_);
    f.Str("name", &out->name);
    f.Str("addr", &out->address);
    if (!f.ok()) Fail(std::string(name) + ": " + f.error_);
  }

  const json& j_;
  const char* record_;
  std::string error_;
};

json MailboxJson(const Mailbox& m) {
  json j = json::object();
  j["name"] = m.name;
  j["addr"] = m.address;
  return j;
}

json MailboxesJson(const std::vector<Mailbox>& v) {
  json j = json::array();
  for (const Mailbox& m : v) j.push_back(MailboxJson(m));
  return j;
}

}  // namespace

std::string TicketKey(uint64_t number) {
  std::string k;
  PutBigEndian(&k, number, 8);
  return k;
}

bool ParseTicketKey(std::string_view key, uint64_t* number) {
  if (key.size() != 8) return false;
  *number = GetBigEndian(key);
  return true;
}

std::string EntryKey(uint64_t ticket, uint32_t seq) {
  std::string k;
  PutBigEndian(&k, ticket, 8);
  PutBigEndian(&k, seq, 4);
  return k;
}

std::string MessageIdKey(std::string_view message_id) {
  if (message_id.size() <= kMaxKeyBytes && !message_id.starts_with(kHashedIdPrefix)) {
    return std::string(message_id);
  }
  std::string key(kHashedIdPrefix);
  key += Sha256Hex(message_id);
  return key;
}

std::string EncodeTicket(const Ticket& t) {
  json j = json::object();
  j["num"] = t.number;
  j["queue"] = t.queue;
  j["status"] = TicketStatusName(t.status);
  j["title"] = t.title;
  j["requester"] = MailboxJson(t.requester);
  j["desc"] = t.description;
  j["rcvd_at"] = t.received_at;
  j["agent"] = t.assigned_agent;
  j["created"] = t.created_at;
  j["updated"] = t.updated_at;
  j["linked_from"] = t.linked_from;
  if (t.successor != 0) j["successor"] = t.successor;  // absent in records written before it
  if (t.named_ids != 0) j["named_ids"] = t.named_ids;
  j["participants"] = t.participants;
  j["msgs"] = t.message_count;
  j["events"] = t.event_count;
  j["brand"] = t.brand;
  if (t.auto_answers != 0) j["auto"] = t.auto_answers;
  if (!t.tags.empty()) j["tags"] = t.tags;  // absent in records written before it
  return Frame(j);
}

Status DecodeTicket(std::string_view value, Ticket* out) {
  json j;
  Status s = Unframe(value, "ticket", &j);
  if (!s.ok()) return s;
  Ticket t;
  Fields f(j, "ticket");
  f.U64("num", &t.number, /*required=*/true);
  f.Str("queue", &t.queue);
  std::string status = TicketStatusName(t.status);
  f.Str("status", &status);
  if (status == TicketStatusName(TicketStatus::kOpen)) {
    t.status = TicketStatus::kOpen;
  } else if (status == TicketStatusName(TicketStatus::kClosed)) {
    t.status = TicketStatus::kClosed;
  } else {
    f.Fail("unknown status \"" + status + "\"");
  }
  f.Str("title", &t.title);
  f.Box("requester", &t.requester);
  f.Str("desc", &t.description);
  f.Str("rcvd_at", &t.received_at);
  f.Str("agent", &t.assigned_agent);
  f.I64("created", &t.created_at);
  f.I64("updated", &t.updated_at);
  f.U64("linked_from", &t.linked_from);
  f.U64("successor", &t.successor);
  f.U32("named_ids", &t.named_ids);
  f.Strings("participants", &t.participants);
  f.U32("msgs", &t.message_count);
  f.U32("events", &t.event_count);
  f.Str("brand", &t.brand);
  f.U32("auto", &t.auto_answers);
  f.Strings("tags", &t.tags);
  if (!f.ok()) return f.status();
  *out = std::move(t);
  return Status::Ok();
}

std::string EncodeMessage(const TicketMessage& m) { return EncodeMessage(m, m.seq); }

std::string EncodeMessage(const TicketMessage& m, uint32_t seq) {
  json j = json::object();
  j["seq"] = seq;
  j["dir"] = DirectionName(m.direction);
  j["kind"] = m.kind;
  j["mid"] = m.message_id;
  j["qid"] = m.queue_id;
  j["from"] = MailboxJson(m.from);
  j["to"] = MailboxesJson(m.to);
  j["cc"] = MailboxesJson(m.cc);
  j["env_from"] = m.envelope_from;
  j["env_rcpts"] = m.envelope_rcpts;
  j["subject"] = m.subject;
  j["date"] = m.date;
  j["rcvd"] = m.received_at;
  j["size"] = m.size;
  j["body"] = m.body;
  j["truncated"] = m.body_truncated;
  j["agent"] = m.agent;
  json atts = json::array();
  for (const StoredAttachment& a : m.attachments) {
    json aj = json::object();
    aj["file"] = a.filename;
    aj["declared"] = a.declared_type;
    aj["detected"] = a.detected_type;
    aj["size"] = a.size;
    aj["sha256"] = a.sha256;
    aj["verdict"] = a.verdict;
    aj["reason"] = a.reason;
    aj["virus"] = a.virus;
    atts.push_back(std::move(aj));
  }
  j["atts"] = std::move(atts);
  j["orig"] = m.original_sha256;
  return Frame(j);
}

Status DecodeMessage(std::string_view value, TicketMessage* out) {
  json j;
  Status s = Unframe(value, "message", &j);
  if (!s.ok()) return s;
  TicketMessage m;
  Fields f(j, "message");
  f.U32("seq", &m.seq, /*required=*/true);
  std::string dir = DirectionName(m.direction);
  f.Str("dir", &dir);
  if (dir == DirectionName(Direction::kInbound)) {
    m.direction = Direction::kInbound;
  } else if (dir == DirectionName(Direction::kOutbound)) {
    m.direction = Direction::kOutbound;
  } else {
    f.Fail("unknown direction \"" + dir + "\"");
  }
  f.Str("kind", &m.kind);
  f.Str("mid", &m.message_id);
  f.Str("qid", &m.queue_id);
  f.Box("from", &m.from);
  f.Boxes("to", &m.to);
  f.Boxes("cc", &m.cc);
  f.Str("env_from", &m.envelope_from);
  f.Strings("env_rcpts", &m.envelope_rcpts);
  f.Str("subject", &m.subject);
  f.Str("date", &m.date);
  f.I64("rcvd", &m.received_at);
  f.U64("size", &m.size);
  f.Str("body", &m.body);
  f.Bool("truncated", &m.body_truncated);
  f.Str("agent", &m.agent);
  f.Str("orig", &m.original_sha256);
  if (const json* atts = f.Array("atts")) {
    for (const json& aj : *atts) {
      StoredAttachment& a = m.attachments.emplace_back();
      Fields af(aj, "message");
      af.Str("file", &a.filename);
      af.Str("declared", &a.declared_type);
      af.Str("detected", &a.detected_type);
      af.U64("size", &a.size);
      af.Str("sha256", &a.sha256);
      af.Str("verdict", &a.verdict);
      af.Str("reason", &a.reason);
      af.Str("virus", &a.virus);
      if (!af.ok()) return af.status();
    }
  }
  if (!f.ok()) return f.status();
  *out = std::move(m);
  return Status::Ok();
}

std::string EncodeEvent(const TicketEvent& e) {
  json j = json::object();
  j["seq"] = e.seq;
  j["at"] = e.at;
  j["type"] = e.type;
  j["text"] = e.text;
  j["related"] = e.related_ticket;
  return Frame(j);
}

Status DecodeEvent(std::string_view value, TicketEvent* out) {
  json j;
  Status s = Unframe(value, "event", &j);
  if (!s.ok()) return s;
  TicketEvent e;
  Fields f(j, "event");
  f.U32("seq", &e.seq, /*required=*/true);
  f.I64("at", &e.at);
  f.Str("type", &e.type, /*required=*/true);
  f.Str("text", &e.text);
  f.U64("related", &e.related_ticket);
  if (!f.ok()) return f.status();
  *out = std::move(e);
  return Status::Ok();
}

std::string EncodeMessageIdEntry(const MessageIdEntry& e) {
  json j = json::object();
  j["ticket"] = e.ticket;
  j["stored"] = e.stored;
  if (!e.signature.empty()) j["sig"] = e.signature;
  if (e.outbound) j["out"] = true;
  if (e.contested) j["contested"] = true;
  return Frame(j);
}

Status DecodeMessageIdEntry(std::string_view value, MessageIdEntry* out) {
  json j;
  Status s = Unframe(value, "msgid", &j);
  if (!s.ok()) return s;
  MessageIdEntry e;
  Fields f(j, "msgid");
  f.U64("ticket", &e.ticket, /*required=*/true);
  f.Bool("stored", &e.stored);
  f.Str("sig", &e.signature);
  f.Bool("out", &e.outbound);
  f.Bool("contested", &e.contested);
  if (!f.ok()) return f.status();
  *out = e;
  return Status::Ok();
}

std::string EncodeMetaU64(uint64_t v) { return Frame(json(v)); }

Status DecodeMetaU64(std::string_view value, uint64_t* out) {
  json j;
  Status s = Unframe(value, "meta", &j);
  if (!s.ok()) return s;
  if (!j.is_number_unsigned()) return Corrupt("meta", "not an unsigned integer");
  *out = j.get<uint64_t>();
  return Status::Ok();
}

std::string EncodeOutboxMail(const OutboxMail& m) {
  json j = json::object();
  j["seq"] = m.seq;
  j["ticket"] = m.ticket;
  j["at"] = m.queued_at;
  j["from"] = m.sender;
  j["rcpts"] = m.recipients;
  j["mid"] = m.message_id;
  j["kind"] = m.kind;
  j["due"] = m.due_at;
  j["tries"] = m.attempts;
  j["err"] = m.last_error;
  j["raw"] = m.raw;
  return Frame(j);
}

Status DecodeOutboxMail(std::string_view value, OutboxMail* out) {
  json j;
  Status s = Unframe(value, "outbox mail", &j);
  if (!s.ok()) return s;
  OutboxMail m;
  Fields f(j, "outbox mail");
  f.U64("seq", &m.seq, /*required=*/true);
  f.U64("ticket", &m.ticket);
  f.I64("at", &m.queued_at);
  f.Str("from", &m.sender);
  f.Strings("rcpts", &m.recipients);
  f.Str("mid", &m.message_id);
  f.Str("kind", &m.kind);
  f.I64("due", &m.due_at);
  f.U32("tries", &m.attempts);
  f.Str("err", &m.last_error);
  f.Str("raw", &m.raw);
  if (!f.ok()) return f.status();
  *out = std::move(m);
  return Status::Ok();
}

std::string EncodeAgentState(const AgentStateRecord& r) {
  json j = json::object();
  j["addr"] = r.address;
  j["state"] = r.state;
  j["base"] = r.base;
  j["since"] = r.since;
  j["by"] = r.set_by;
  return Frame(j);
}

Status DecodeAgentState(std::string_view value, AgentStateRecord* out) {
  json j;
  Status s = Unframe(value, "agent state", &j);
  if (!s.ok()) return s;
  AgentStateRecord r;
  Fields f(j, "agent state");
  f.Str("addr", &r.address, /*required=*/true);
  f.Str("state", &r.state, /*required=*/true);
  f.Str("base", &r.base);
  f.I64("since", &r.since);
  f.Str("by", &r.set_by);
  if (!f.ok()) return f.status();
  *out = std::move(r);
  return Status::Ok();
}

std::string EncodeAgentStateEvent(const AgentStateEvent& e) {
  json j = json::object();
  j["seq"] = e.seq;
  j["addr"] = e.address;
  j["at"] = e.at;
  j["by"] = e.by;
  j["old"] = e.old_state;
  j["new"] = e.new_state;
  return Frame(j);
}

Status DecodeAgentStateEvent(std::string_view value, AgentStateEvent* out) {
  json j;
  Status s = Unframe(value, "agent event", &j);
  if (!s.ok()) return s;
  AgentStateEvent e;
  Fields f(j, "agent event");
  f.U64("seq", &e.seq, /*required=*/true);
  f.Str("addr", &e.address, /*required=*/true);
  f.I64("at", &e.at);
  f.Str("by", &e.by);
  f.Str("old", &e.old_state);
  f.Str("new", &e.new_state);
  if (!f.ok()) return f.status();
  *out = std::move(e);
  return Status::Ok();
}

std::string AgentKey(std::string_view address) { return MessageIdKey(address); }

std::string RouteMarkKey(std::string_view queue, std::string_view address) {
  std::string key(queue);
  key += '\x1f';
  key.append(address);
  return MessageIdKey(key);
}

std::string FloodCounterKey(std::string_view queue, std::string_view sender) {
  std::string key = "flood\x1f";
  key.append(queue);
  key += '\x1f';
  key.append(sender);
  return MessageIdKey(key);
}

std::string EncodeCounter(int64_t window_start, uint64_t count) {
  std::string enc(17, '\0');
  enc[0] = 1;
  uint64_t us = static_cast<uint64_t>(window_start);
  for (int i = 8; i >= 1; --i, us >>= 8) enc[i] = static_cast<char>(us & 0xff);
  for (int i = 16; i >= 9; --i, count >>= 8) enc[i] = static_cast<char>(count & 0xff);
  return enc;
}

bool DecodeCounter(std::string_view value, int64_t* window_start, uint64_t* count) {
  if (value.size() != 17 || value[0] != 1) return false;
  uint64_t raw_start = 0, n = 0;
  for (int i = 1; i <= 8; ++i) raw_start = raw_start << 8 | static_cast<unsigned char>(value[i]);
  for (int i = 9; i <= 16; ++i) n = n << 8 | static_cast<unsigned char>(value[i]);
  *window_start = static_cast<int64_t>(raw_start);
  *count = n;
  return true;
}

}  // namespace desk::codec
