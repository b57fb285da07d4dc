// JSON forms of deskctl's output; see json_output.h and docs/DESKCTL.md (keep the two in step).
#include "deskctl/json_output.h"

#include "milter/reply.h"

namespace desk::ctl {
namespace {

// "" stands for "none" in the core's plain structs; scripts get null instead.
Json StringOrNull(const std::string& s) { return s.empty() ? Json(nullptr) : Json(s); }

Json MailboxList(const std::vector<Mailbox>& list) {
  Json out = Json::array();
  for (const Mailbox& m : list) out.push_back(MailboxJson(m));
  return out;
}

}  // namespace

Json DecisionJson(const std::string& file, const Decision& d) {
  Json j;
  j["file"] = file;
  j["verdict"] = OutcomeName(d.verdict);
  // Only reject and tempfail carry an SMTP reply; an accept never does, whatever the struct holds.
  // The SMTP reply the milter gives, from the same mapping (milter/reply.h).
  j["reply"] = StringOrNull(SmtpReplyFor(d).ToString());
  j["hold_reason"] = d.verdict == Outcome::kHold ? StringOrNull(d.reason) : Json(nullptr);
  j["failure"] = d.failure == FailureClass::kNone ? Json(nullptr) : Json(FailureClassName(d.failure));
  j["kind"] = d.kind;
  j["auto_class"] = StringOrNull(d.auto_class);
  j["auto_rule"] = StringOrNull(d.auto_rule);
  j["queue"] = StringOrNull(d.queue);
  j["ticket"] = d.ticket ? Json(*d.ticket) : Json(nullptr);
  j["ticket_action"] = d.ticket_action;
  j["message_id"] = StringOrNull(d.message_id);
  Json edits = Json::array();
  for (const HeaderEdit& e : d.header_changes) {
    Json je;
    je["op"] = HeaderEditOpName(e.op);
    je["name"] = e.name;
    je["value"] = e.value;
    je["index"] = e.index;
    edits.push_back(std::move(je));
  }
  j["header_changes"] = std::move(edits);
  j["envelope_from"] = StringOrNull(d.envelope_from);
  j["add_recipients"] = d.add_recipients;
  j["reasons"] = d.reasons;
  j["error"] = StringOrNull(d.error);
  Json atts = Json::array();
  for (const StoredAttachment& a : d.attachments) atts.push_back(AttachmentJson(a));
  j["attachments"] = std::move(atts);
  j["body_replaced"] = d.replacement_body != nullptr;
  return j;
}

Json UnreadableFileJson(const std::string& file, const std::string& error) {
  Json j;
  j["file"] = file;
  j["verdict"] = nullptr;
  j["reply"] = nullptr;
  j["hold_reason"] = nullptr;
  j["failure"] = nullptr;
  j["kind"] = nullptr;
  j["auto_class"] = nullptr;
  j["auto_rule"] = nullptr;
  j["queue"] = nullptr;
  j["ticket"] = nullptr;
  j["ticket_action"] = nullptr;
  j["message_id"] = nullptr;
  j["header_changes"] = Json::array();
  j["envelope_from"] = nullptr;
  j["add_recipients"] = Json::array();
  j["attachments"] = Json::array();
  j["body_replaced"] = false;
  j["reasons"] = Json::array();
  j["error"] = error;
  return j;
}

Json MailboxJson(const Mailbox& m) {
  Json j;
  j["name"] = m.name;
  j["address"] = m.address;
  return j;
}

Json AttachmentJson(const StoredAttachment& a) {
  Json j;
  j["filename"] = a.filename;
  j["declared_type"] = a.declared_type;
  j["detected_type"] = a.detected_type;
  j["size"] = a.size;
  j["sha256"] = a.sha256;
  j["verdict"] = a.verdict;
  j["reason"] = a.reason;
  j["virus"] = a.virus;
  return j;
}

Json TicketJson(const Ticket& t) {
  Json j;
  j["number"] = t.number;
  j["queue"] = t.queue;
  j["status"] = TicketStatusName(t.status);
  j["title"] = t.title;
  j["requester"] = MailboxJson(t.requester);
  j["description"] = t.description;
  j["received_at"] = t.received_at;
  j["assigned_agent"] = t.assigned_agent;
  j["created_at"] = t.created_at;
  j["updated_at"] = t.updated_at;
  j["linked_from"] = t.linked_from;
  j["participants"] = t.participants;
  j["message_count"] = t.message_count;
  j["event_count"] = t.event_count;
  j["brand"] = t.brand;
  j["tags"] = t.tags;
  j["auto_answers"] = t.auto_answers;
  return j;
}

Json MessageJson(const TicketMessage& m) {
  Json j;
  j["seq"] = m.seq;
  j["direction"] = DirectionName(m.direction);
  j["kind"] = m.kind;
  j["message_id"] = m.message_id;
  j["queue_id"] = m.queue_id;
  j["from"] = MailboxJson(m.from);
  j["to"] = MailboxList(m.to);
  j["cc"] = MailboxList(m.cc);
  j["envelope_from"] = m.envelope_from;
  j["envelope_rcpts"] = m.envelope_rcpts;
  j["subject"] = m.subject;
  j["date"] = m.date;
  j["received_at"] = m.received_at;
  j["size"] = m.size;
  j["body"] = m.body;
  j["body_truncated"] = m.body_truncated;
  j["agent"] = m.agent;
  Json atts = Json::array();
  for (const StoredAttachment& a : m.attachments) atts.push_back(AttachmentJson(a));
  j["attachments"] = std::move(atts);
  j["original_sha256"] = m.original_sha256;
  return j;
}

Json EventJson(const TicketEvent& e) {
  Json j;
  j["seq"] = e.seq;
  j["at"] = e.at;
  j["type"] = e.type;
  j["text"] = e.text;
  j["related_ticket"] = e.related_ticket;
  return j;
}

Json SlaJson(const SlaState& s) {
  auto opt = [](const std::optional<int64_t>& v) { return v ? Json(*v) : Json(nullptr); };
  auto target = [](int64_t v) { return v > 0 ? Json(v) : Json(nullptr); };
  Json j;
  j["state"] = s.state;
  j["breached"] = s.breached;
  j["first_response_target"] = target(s.targets.first_response);
  j["next_response_target"] = target(s.targets.next_response);
  j["due_at"] = s.running ? Json(s.running->due_at) : Json(nullptr);
  Json clocks = Json::array();
  for (const SlaClock& c : s.clocks) {
    Json jc;
    jc["kind"] = c.kind;
    jc["started_at"] = c.started_at;
    jc["due_at"] = c.due_at;
    jc["met_at"] = opt(c.met_at);
    jc["paused_at"] = opt(c.paused_at);
    jc["breached"] = c.breached;
    clocks.push_back(std::move(jc));
  }
  j["clocks"] = std::move(clocks);
  return j;
}

std::string Dump(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace desk::ctl
