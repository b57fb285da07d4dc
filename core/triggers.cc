// Triggers: the JSON format, the defaults and the evaluation (see the header).
#include "core/triggers.h"

#include <algorithm>
#include <cctype>
#include <exception>
#include <nlohmann/json.hpp>
#include <set>

#include "core/ascii.h"

namespace desk {
namespace {

using json = nlohmann::json;

const std::set<std::string> kStringFields = {"account_status", "queue", "received_at",
                                             "sender_domain", "ticket_status"};
const std::set<std::string> kNumberFields = {"waiting_tickets", "since_last_agent_reply"};
const std::set<std::string> kPlaceholders = {"ticket.id", "ticket.subject", "queue.name",
                                             "requester.name"};

Status Bad(const std::string& where, const std::string& why) {
  return Status::Invalid(where + ": " + why);
}

// Every {{name}} of text is a known placeholder.
Status CheckTemplate(const std::string& where, const std::string& text) {
  for (size_t pos = text.find("{{"); pos != std::string::npos; pos = text.find("{{", pos + 2)) {
    size_t end = text.find("}}", pos + 2);
    if (end == std::string::npos) return Bad(where, "unclosed {{");
    std::string name = text.substr(pos + 2, end - pos - 2);
    name.erase(0, name.find_first_not_of(' '));
    name.erase(name.find_last_not_of(' ') + 1);
    if (kPlaceholders.count(name) == 0) return Bad(where, "unknown placeholder {{" + name + "}}");
  }
  return Status::Ok();
}

Status ParseCondition(const std::string& where, const json& j, TriggerCondition* c) {
  if (!j.is_object()) return Bad(where, "not an object");
  for (const auto& [k, v] : j.items()) {
    if (k != "field" && k != "operator" && k != "value")
      return Bad(where + "." + k, "unknown field");
  }
  if (!j.contains("field") || !j["field"].is_string()) return Bad(where + ".field", "missing");
  if (!j.contains("operator") || !j["operator"].is_string()) {
    return Bad(where + ".operator", "missing");
  }
  if (!j.contains("value")) return Bad(where + ".value", "missing");
  c->field = j["field"].get<std::string>();
  c->op = j["operator"].get<std::string>();
  const json& v = j["value"];
  const std::string& f = c->field;
  std::set<std::string> ops;
  if (kStringFields.count(f) != 0) {
    if (!v.is_string()) return Bad(where + ".value", "must be a string");
    c->text = f == "queue" ? v.get<std::string>() : AsciiLower(v.get<std::string>());
    ops = {"is", "is_not"};
    if (f == "sender_domain" || f == "received_at") ops.insert("ends_with");
    if (f == "account_status" && c->text != "online" && c->text != "away" &&
        c->text != "invisible") {
      return Bad(where + ".value", "'" + c->text + "' is not online, away or invisible");
    }
    if (f == "ticket_status" && c->text != "open" && c->text != "closed") {
      return Bad(where + ".value", "'" + c->text + "' is not open or closed");
    }
  } else if (kNumberFields.count(f) != 0) {
    if (!v.is_number_integer() || v.get<int64_t>() < 0) {
      return Bad(where + ".value", "must be a whole number >= 0");
    }
    c->number = v.get<int64_t>();
    ops = {"is", "less_than", "greater_than"};
  } else if (f == "business_hours") {
    if (!v.is_boolean()) return Bad(where + ".value", "must be true or false");
    c->flag = v.get<bool>();
    ops = {"is"};
  } else {
    return Bad(where + ".field", "unknown condition '" + f + "'");
  }
  if (ops.count(c->op) == 0) {
    return Bad(where + ".operator", "unknown operator '" + c->op + "' for " + f);
  }
  return Status::Ok();
}

Status ParseAction(const std::string& where, const json& j, TriggerAction* a) {
  if (!j.is_object() || j.size() != 1) return Bad(where, "must be an object with one action");
  const std::string k = j.begin().key();
  const json& v = j.begin().value();
  if (k == "wait") {
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > kMaxTriggerWait) {
      return Bad(where + ".wait", "must be seconds from 0 to " + std::to_string(kMaxTriggerWait));
    }
    a->type = TriggerAction::Type::kWait;
    a->seconds = v.get<int64_t>();
    return Status::Ok();
  }
  if (k == "send_message" || k == "set_tag") {
    if (!v.is_string() || v.get<std::string>().empty() ||
        v.get<std::string>().size() > kMaxTriggerText) {
      return Bad(where + "." + k,
                 "must be a text of 1 to " + std::to_string(kMaxTriggerText) + " bytes");
    }
    a->text = v.get<std::string>();
    for (unsigned char c : a->text) {
      if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) {
        return Bad(where + "." + k, "control characters other than newline and tab");
      }
    }
    if (k == "send_message") {
      a->type = TriggerAction::Type::kSendMessage;
      return CheckTemplate(where + "." + k, a->text);
    }
    a->type = TriggerAction::Type::kSetTag;
    for (unsigned char c : a->text) {
      if (!std::isalnum(c) && c != '-' && c != '_' && c != '.') {
        return Bad(where + ".set_tag", "a tag is letters, digits, '-', '_' or '.'");
      }
    }
    if (a->text.size() > 64) return Bad(where + ".set_tag", "longer than 64 characters");
    return Status::Ok();
  }
  return Bad(where + "." + k, "unknown action");
}

Status ParseTriggerJson(const json& j, Trigger* t) {
  if (!j.is_object()) return Bad("trigger", "not a JSON object");
  for (const auto& [k, v] : j.items()) {
    if (k != "name" && k != "description" && k != "enabled" && k != "event" && k != "conditions" &&
        k != "actions") {
      return Bad(k, "unknown field");
    }
  }
  if (!j.contains("name") || !j["name"].is_string() || j["name"].get<std::string>().empty() ||
      j["name"].get<std::string>().size() > 200) {
    return Bad("name", "must be a text of 1 to 200 bytes");
  }
  t->name = j["name"].get<std::string>();
  if (j.contains("description")) {
    if (!j["description"].is_string() ||
        j["description"].get<std::string>().size() > kMaxTriggerText) {
      return Bad("description", "must be a text");
    }
    t->description = j["description"].get<std::string>();
  }
  if (j.contains("enabled")) {
    if (!j["enabled"].is_boolean()) return Bad("enabled", "must be true or false");
    t->enabled = j["enabled"].get<bool>();
  }
  if (!j.contains("event") || !j["event"].is_string()) return Bad("event", "missing");
  const std::string event = j["event"].get<std::string>();
  if (event == "ticket_opened") {
    t->event = TriggerEvent::kTicketOpened;
  } else if (event == "customer_reply") {
    t->event = TriggerEvent::kCustomerReply;
  } else {
    return Bad("event", "unknown event '" + event + "' (ticket_opened, customer_reply)");
  }
  if (j.contains("conditions")) {
    const json& c = j["conditions"];
    if (!c.is_object()) return Bad("conditions", "must be an object with all and any");
    for (const auto& [k, v] : c.items()) {
      if (k != "all" && k != "any") return Bad("conditions." + k, "unknown field");
      if (!v.is_array()) return Bad("conditions." + k, "must be a list");
      if (v.size() > kMaxTriggerConditions) return Bad("conditions." + k, "too many conditions");
      auto& list = k == "all" ? t->all : t->any;
      for (size_t i = 0; i < v.size(); ++i) {
        Status s = ParseCondition("conditions." + k + "[" + std::to_string(i) + "]", v[i],
                                  &list.emplace_back());
        if (!s.ok()) return s;
      }
    }
  }
  if (!j.contains("actions") || !j["actions"].is_array() || j["actions"].empty()) {
    return Bad("actions", "must be a list of at least one action");
  }
  if (j["actions"].size() > kMaxTriggerActions) return Bad("actions", "too many actions");
  for (size_t i = 0; i < j["actions"].size(); ++i) {
    Status s = ParseAction("actions[" + std::to_string(i) + "]", j["actions"][i],
                           &t->actions.emplace_back());
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

json ConditionJson(const TriggerCondition& c) {
  json j = {{"field", c.field}, {"operator", c.op}};
  if (kNumberFields.count(c.field) != 0) {
    j["value"] = c.number;
  } else if (c.field == "business_hours") {
    j["value"] = c.flag;
  } else {
    j["value"] = c.text;
  }
  return j;
}

bool Compare(const std::string& op, const std::string& got, const std::string& want) {
  if (op == "is") return got == want;
  if (op == "is_not") return got != want;
  if (op == "ends_with") {
    return got.size() >= want.size() &&
           got.compare(got.size() - want.size(), want.size(), want) == 0;
  }
  return false;
}

bool Compare(const std::string& op, int64_t got, int64_t want) {
  if (op == "is") return got == want;
  if (op == "less_than") return got < want;
  if (op == "greater_than") return got > want;
  return false;
}

bool Holds(const TriggerCondition& c, const TriggerFacts& f) {
  if (c.field == "account_status")
    return Compare(c.op, AccountStatusName(f.account_status), c.text);
  if (c.field == "queue") return Compare(c.op, f.queue, c.text);
  if (c.field == "received_at") return Compare(c.op, f.received_at, c.text);
  if (c.field == "sender_domain") return Compare(c.op, f.sender_domain, c.text);
  if (c.field == "ticket_status") return Compare(c.op, f.ticket_status, c.text);
  if (c.field == "waiting_tickets") return Compare(c.op, f.waiting_tickets, c.number);
  if (c.field == "business_hours") return f.business_hours == c.flag;
  if (c.field == "since_last_agent_reply") {
    if (!f.since_last_agent_reply) return c.op == "greater_than";
    return Compare(c.op, *f.since_last_agent_reply, c.number);
  }
  return false;
}

bool Uses(const Trigger& t, const char* field) {
  for (const auto* list : {&t.all, &t.any}) {
    for (const TriggerCondition& c : *list) {
      if (c.field == field) return true;
    }
  }
  return false;
}

Trigger Default(const char* name, const char* description, std::vector<TriggerCondition> all,
                std::vector<TriggerAction> actions) {
  Trigger t;
  t.name = name;
  t.description = description;
  t.enabled = false;
  t.event = TriggerEvent::kTicketOpened;
  t.all = std::move(all);
  t.actions = std::move(actions);
  return t;
}

}  // namespace

const char* AccountStatusName(AccountStatus s) {
  switch (s) {
    case AccountStatus::kOnline:
      return "online";
    case AccountStatus::kAway:
      return "away";
    case AccountStatus::kInvisible:
      return "invisible";
  }
  return "online";
}

const char* TriggerEventName(TriggerEvent e) {
  return e == TriggerEvent::kTicketOpened ? "ticket_opened" : "customer_reply";
}

Status ParseTrigger(const std::string& text, Trigger* out) {
  json j;
  try {
    j = json::parse(text);
  } catch (const std::exception& e) {
    return Status::Invalid(std::string("not JSON: ") + e.what());
  }
  Trigger t;
  Status s = ParseTriggerJson(j, &t);
  if (s.ok()) *out = std::move(t);
  return s;
}

std::string TriggerJson(const Trigger& t, bool pretty) {
  json j = json::object();
  j["name"] = t.name;
  j["description"] = t.description;
  j["enabled"] = t.enabled;
  j["event"] = TriggerEventName(t.event);
  json all = json::array(), any = json::array();
  for (const TriggerCondition& c : t.all) all.push_back(ConditionJson(c));
  for (const TriggerCondition& c : t.any) any.push_back(ConditionJson(c));
  j["conditions"] = {{"all", all}, {"any", any}};
  json actions = json::array();
  for (const TriggerAction& a : t.actions) {
    switch (a.type) {
      case TriggerAction::Type::kWait:
        actions.push_back({{"wait", a.seconds}});
        break;
      case TriggerAction::Type::kSendMessage:
        actions.push_back({{"send_message", a.text}});
        break;
      case TriggerAction::Type::kSetTag:
        actions.push_back({{"set_tag", a.text}});
        break;
    }
  }
  j["actions"] = actions;
  return pretty ? j.dump(2) + "\n" : j.dump();
}

std::vector<Trigger> DefaultTriggers() {
  TriggerCondition away{"account_status", "is", "away"};
  TriggerCondition invisible{"account_status", "is", "invisible"};
  TriggerAction wait5{TriggerAction::Type::kWait, 5, ""};
  auto send = [](const char* text) {
    return TriggerAction{TriggerAction::Type::kSendMessage, 0, text};
  };
  return {
      Default("First Reply", "Tells customers who open a ticket that their request was received.",
              {}, {wait5, send("Thank you for your message, an agent will be with you shortly.")}),
      Default("Request Contact Details",
              "When the account status is Away, asks customers who open a ticket for their "
              "contact details.",
              {away},
              {send("Hello. Sorry, we are away at the moment. Leave us your contact details "
                    "(phone number, or another e-mail address) and we will get back to you as "
                    "soon as possible.")}),
      Default("All Agents Offline",
              "When every agent is offline (account status Invisible), tells customers who "
              "open a ticket that the answer may be delayed.",
              {invisible},
              {send("Hello! Thank you for contacting us. We are offline at the moment, but we "
                    "will answer your message when we are back online in a few hours.")}),
  };
}

bool NeedsWaitingTickets(const Trigger& t) { return Uses(t, "waiting_tickets"); }
bool NeedsLastAgentReply(const Trigger& t) { return Uses(t, "since_last_agent_reply"); }

bool TriggerMatches(const Trigger& t, const TriggerFacts& facts) {
  for (const TriggerCondition& c : t.all) {
    if (!Holds(c, facts)) return false;
  }
  if (t.any.empty()) return true;
  return std::any_of(t.any.begin(), t.any.end(),
                     [&](const TriggerCondition& c) { return Holds(c, facts); });
}

std::string ExpandTemplate(const std::string& text, const TemplateValues& v) {
  std::string out;
  size_t pos = 0;
  for (;;) {
    size_t open = text.find("{{", pos);
    if (open == std::string::npos) break;
    size_t end = text.find("}}", open + 2);
    if (end == std::string::npos) break;
    out.append(text, pos, open - pos);
    std::string name = text.substr(open + 2, end - open - 2);
    name.erase(0, name.find_first_not_of(' '));
    name.erase(name.find_last_not_of(' ') + 1);
    if (name == "ticket.id") {
      out += v.ticket_id;
    } else if (name == "ticket.subject") {
      out += v.ticket_subject;
    } else if (name == "queue.name") {
      out += v.queue_name;
    } else if (name == "requester.name") {
      out += v.requester_name;
    } else {
      out.append(text, open, end + 2 - open);
    }
    pos = end + 2;
  }
  out.append(text, pos, std::string::npos);
  return out;
}

}  // namespace desk
