// Routing to agents: see routing.h.
#include "core/routing.h"

#include <algorithm>
#include <cctype>
#include <ctime>

#include "core/ascii.h"
#include "core/address.h"
#include "core/agents.h"
#include "core/mail_text.h"

namespace desk {
namespace {

TicketEvent Event(int64_t now, std::string type, std::string text) {
  TicketEvent ev;
  ev.at = now;
  ev.type = std::move(type);
  ev.text = std::move(text);
  return ev;
}

const QueueConfig* FindQueue(const Config& config, const std::string& name) {
  for (const QueueConfig& q : config.queues) {
    if (q.name == name) return &q;
  }
  return nullptr;
}

const AgentConfig* AgentOfQueue(const QueueConfig& queue, const std::string& address) {
  for (const AgentConfig& a : queue.agents) {
    if (a.address == address) return &a;
  }
  return nullptr;
}

std::string Label(const Config& config, const std::string& address) {
  const AgentConfig* a = FindAgentByAddress(config, address);
  return a != nullptr ? AgentLabel(*a) : address;
}

std::string NoticeFrom(const QueueConfig& queue) {
  if (!queue.default_address.empty()) return queue.default_address;
  for (const std::string& a : queue.addresses) {
    if (a.find('*') == std::string::npos) return a;
  }
  return "";
}

// The notification to an agent given a ticket outside the mail path.
OutboxItem AssignmentNotice(const Config& config, const QueueConfig& queue, const Ticket& t,
                             const std::string& agent, int64_t now) {
  const std::string tag = FormatSubjectTag(queue.subject_tag, t.number);
  return BuildNoticeMail(
      NoticeFrom(queue), agent, tag + " assigned to you: " + t.title,
      "Ticket " + std::to_string(t.number) + " of queue " + queue.name +
          " is now assigned to you.\r\nFrom: " + FormatMailbox(t.requester) +
          "\r\nSubject: " + t.title + "\r\n\r\ndeskctl ticket " + std::to_string(t.number) +
          " shows it.\r\n",
      now, config.hostname, "assign-" + std::to_string(t.number) + "-" + agent);
}

}  // namespace

std::vector<StateDef> AgentStateCatalog(const Config& config) {
  std::vector<StateDef> out = {
      {std::string(kStateInEmail), true, false, true},
      {"in-call", false, true, true},
      {"in-chat", false, true, true},
      {"away", false, false, true},
      {std::string(kStateOffline), false, false, true},
  };
  for (const std::string& e : config.extra_states) {
    size_t eq = e.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    const std::string name = AsciiLower(e.substr(0, eq));
    if (FindState(out, name) != nullptr || name == kStateClear) continue;
    out.push_back({name, e.substr(eq + 1) == "available", false, false});
  }
  return out;
}

const StateDef* FindState(const std::vector<StateDef>& catalog, std::string_view name) {
  const std::string n = AsciiLower(TrimSpace(name));
  for (const StateDef& s : catalog) {
    if (s.name == n) return &s;
  }
  return nullptr;
}

std::vector<const QueueConfig*> QueuesOfAgent(const Config& config, std::string_view address) {
  const std::string a = NormalizeAddress(address);
  std::vector<const QueueConfig*> out;
  for (const QueueConfig& q : config.queues) {
    if (AgentOfQueue(q, a) != nullptr) out.push_back(&q);
  }
  return out;
}

std::string ConfiguredAgent(const Config& config, std::string_view address) {
  const AgentConfig* a = FindAgentByAddress(config, address);
  return a != nullptr ? a->address : "";
}

std::vector<std::string> OfferedStates(const Config& config, std::string_view address) {
  const bool in_queue = !QueuesOfAgent(config, address).empty();
  std::vector<std::string> out;
  for (const StateDef& s : AgentStateCatalog(config)) {
    if (s.name == kStateInEmail && !in_queue) continue;
    out.push_back(s.name);
  }
  return out;
}

std::string CurrentState(const AgentStateRecord* record) {
  return record != nullptr && !record->state.empty() ? record->state : std::string(kStateOffline);
}

bool IsAvailable(const std::vector<StateDef>& catalog, const AgentStateRecord* record) {
  const StateDef* s = FindState(catalog, CurrentState(record));
  return s != nullptr && s->available && !s->override_state;
}

Status DecideAgentState(const Config& config, const StateRequest& req,
                        const AgentStateRecord* current, AgentStateChange* change) {
  const std::vector<StateDef> catalog = AgentStateCatalog(config);
  const std::string old_state = CurrentState(current);
  const StateDef* old_def = FindState(catalog, old_state);
  const bool overridden = old_def != nullptr && old_def->override_state;
  const std::string requested = AsciiLower(TrimSpace(req.state));
  AgentStateRecord next;
  next.address = req.address;
  next.since = req.now;
  next.set_by = req.by;
  if (requested == kStateClear) {
    if (!overridden) {
      return Status::Invalid("agent " + req.address + " is " + old_state +
                             ": \"clear\" ends in-call or in-chat only");
    }
    next.state = current->base.empty() ? std::string(kStateOffline) : current->base;
    // Returning to in-email after a call is the agent's own state coming back, not in-email being
    // set anew: the rule "never set automatically" is about choosing in-email, not restoring it.
  } else {
    const StateDef* def = FindState(catalog, requested);
    if (def == nullptr) {
      std::string names;
      for (const StateDef& s : catalog) names += (names.empty() ? "" : ", ") + s.name;
      return Status::Invalid("unknown state \"" + requested + "\" (states: " + names + ", clear)");
    }
    if (def->name == kStateInEmail) {
      if (req.actor == StateActor::kSystem) {
        return Status::Invalid("in-email is set only by the agent or a manager, never automatically");
      }
      if (QueuesOfAgent(config, req.address).empty()) {
        return Status::Invalid("in-email is offered only to an agent of at least one queue; " +
                               req.address + " is in none");
      }
    }
    next.state = def->name;
    if (def->override_state) {
      // The state to return to: the one before the first override.
      next.base = overridden ? current->base : old_state;
    }
  }
  change->record = next;
  change->event = AgentStateEvent();
  change->event.address = req.address;
  change->event.at = req.now;
  change->event.by = req.by;
  change->event.old_state = current != nullptr ? current->state : "";
  change->event.new_state = next.state;
  return Status::Ok();
}

int PickAgent(const std::vector<Candidate>& candidates) {
  int best = -1;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const Candidate& c = candidates[i];
    if (!c.available) continue;
    if (best < 0) {
      best = static_cast<int>(i);
      continue;
    }
    const Candidate& b = candidates[static_cast<size_t>(best)];
    if (c.last_ticket < b.last_ticket ||
        (c.last_ticket == b.last_ticket && c.open_tickets < b.open_tickets)) {
      best = static_cast<int>(i);
    }
  }
  return best;
}

Status ChooseAgent(TicketStore* store, const Config& config, const QueueConfig& queue,
                   std::string* agent) {
  agent->clear();
  if (queue.agents.empty()) return Status::Ok();
  const std::vector<StateDef> catalog = AgentStateCatalog(config);
  std::vector<AgentStateRecord> states;
  Status st = store->GetAgentStates(&states);
  if (!st.ok()) return st;
  std::vector<std::string> addresses;
  for (const AgentConfig& a : queue.agents) addresses.push_back(a.address);
  std::vector<uint64_t> marks;
  st = store->GetRouteMarks(queue.name, addresses, &marks);
  if (!st.ok()) return st;
  std::vector<Candidate> cands;
  for (size_t i = 0; i < addresses.size(); ++i) {
    const AgentStateRecord* rec = nullptr;
    for (const AgentStateRecord& r : states) {
      if (r.address == addresses[i]) rec = &r;
    }
    cands.push_back({addresses[i], IsAvailable(catalog, rec), marks[i], 0});
  }
  // Open tickets matter only for a tie on the round-robin mark.
  uint64_t low = UINT64_MAX;
  int at_low = 0;
  for (const Candidate& c : cands) {
    if (!c.available) continue;
    if (c.last_ticket < low) {
      low = c.last_ticket;
      at_low = 1;
    } else if (c.last_ticket == low) {
      ++at_low;
    }
  }
  if (at_low > 1) {
    TicketFilter f;
    f.queue = queue.name;
    f.status = TicketStatus::kOpen;
    std::vector<Ticket> open;
    st = store->ListTickets(f, &open);
    if (!st.ok()) return st;
    for (Candidate& c : cands) {
      for (const Ticket& t : open) c.open_tickets += t.assigned_agent == c.address ? 1 : 0;
    }
  }
  const int pick = PickAgent(cands);
  if (pick >= 0) *agent = cands[static_cast<size_t>(pick)].address;
  return Status::Ok();
}

OutboxItem BuildNoticeMail(const std::string& from, const std::string& to,
                            const std::string& subject, const std::string& body, int64_t now,
                            const std::string& hostname, const std::string& id_part) {
  char date[64] = "";
  const time_t t = static_cast<time_t>(now);
  struct tm tm;
  if (gmtime_r(&t, &tm) != nullptr) {
    std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  }
  std::string id;
  for (char c : id_part) {
    id += std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' ? c : '.';
  }
  const std::string host = hostname.empty() ? "localhost" : hostname;
  OutboxItem item;
  item.mail.recipients = {to};
  item.mail.message_id = "deskmilter." + id + "." + std::to_string(now) + "@" + host;
  item.mail.kind = "notification";
  item.mail.due_at = now;
  std::string text, cte;
  EncodeTextBody(body, &text, &cte);
  item.mail.raw = "From: " + from + "\r\nTo: " + to + "\r\nSubject: " +
                  EncodeHeaderText(subject) + "\r\nDate: " + date + "\r\nMessage-ID: <" +
                  item.mail.message_id +
                  ">\r\nAuto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n"
                  "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: " +
                  cte + "\r\n\r\n" + text;
  return item;
}

Status SetAgentState(TicketStore* store, const Config& config, const StateRequest& req,
                     bool confirm, AgentStateChange* applied,
                     std::vector<std::pair<uint64_t, std::string>>* assigned) {
  const std::string agent = ConfiguredAgent(config, req.address);
  if (agent.empty()) return Status::NotFound("no agent " + req.address + " in the configuration");
  StateRequest r = req;
  r.address = agent;
  const std::vector<const QueueConfig*> queues = QueuesOfAgent(config, agent);
  Status st = store->UpdateAgentState(
      agent,
      [&](const AgentStateRecord* current, AgentStateChange* change) {
        Status s = DecideAgentState(config, r, current, change);
        if (!s.ok()) return s;
        change->outbox.clear();
        if (confirm && !queues.empty()) {
          const std::string from = NoticeFrom(*queues.front());
          change->outbox.push_back(BuildNoticeMail(
              from, agent, "Your state is now " + change->record.state,
              "Your state was " + CurrentState(current) + " and is now " + change->record.state +
                  ".\r\n",
              r.now, config.hostname, "state-" + agent));
        }
        *applied = *change;
        return Status::Ok();
      },
      r.now);
  if (!st.ok()) return st;
  if (IsAvailable(AgentStateCatalog(config), &applied->record)) {
    return AssignWaiting(store, config, r.now, assigned);
  }
  return Status::Ok();
}

Status AssignTicket(TicketStore* store, const Config& config, uint64_t ticket,
                    const std::string& agent_in, const std::string& actor, int64_t now) {
  Ticket t;
  Status st = store->GetTicket(ticket, &t);
  if (!st.ok()) return st;
  const QueueConfig* queue = FindQueue(config, t.queue);
  std::string agent;
  if (!agent_in.empty()) {
    agent = ConfiguredAgent(config, agent_in);
    if (agent.empty()) return Status::NotFound("no agent " + agent_in + " in the configuration");
  }
  TicketWrite w;
  w.op = TicketWrite::Op::kEvents;
  w.ticket = ticket;
  w.now = now;
  w.set_assignee = agent;
  if (agent.empty()) {
    w.events.push_back(Event(now, "unassigned",
                             "Unassigned by " + actor +
                                 (t.assigned_agent.empty()
                                      ? std::string()
                                      : " (was " + Label(config, t.assigned_agent) + ")")));
  } else {
    std::string text = (t.assigned_agent.empty() ? "Assigned to " : "Reassigned to ") +
                       Label(config, agent) + " by " + actor;
    if (!t.assigned_agent.empty()) text += " (was " + Label(config, t.assigned_agent) + ")";
    w.events.push_back(Event(now, t.assigned_agent.empty() ? "assigned" : "reassigned", text));
    if (queue != nullptr) w.outbox.push_back(AssignmentNotice(config, *queue, t, agent, now));
  }
  WriteResult r;
  return store->Write(w, &r);
}

Status AssignWaiting(TicketStore* store, const Config& config, int64_t now,
                     std::vector<std::pair<uint64_t, std::string>>* assigned) {
  for (const QueueConfig& q : config.queues) {
    if (q.routing != "automatic" || q.agents.empty()) continue;
    TicketFilter f;
    f.queue = q.name;
    f.status = TicketStatus::kOpen;
    std::vector<Ticket> open;
    Status st = store->ListTickets(f, &open);
    if (!st.ok()) return st;
    std::reverse(open.begin(), open.end());  // the store lists newest first; oldest waits longest
    for (const Ticket& t : open) {
      if (!t.assigned_agent.empty()) continue;
      std::string agent;
      st = ChooseAgent(store, config, q, &agent);
      if (!st.ok()) return st;
      if (agent.empty()) break;
      TicketWrite w;
      w.op = TicketWrite::Op::kEvents;
      w.ticket = t.number;
      w.now = now;
      w.set_assignee = agent;
      w.only_if_unassigned = true;
      w.route_mark = true;
      w.events.push_back(Event(now, "assigned",
                               "Assigned to " + Label(config, agent) +
                                   " by automatic routing (the ticket was waiting)"));
      w.outbox.push_back(AssignmentNotice(config, q, t, agent, now));
      WriteResult r;
      st = store->Write(w, &r);
      if (!st.ok()) return st;
      if (!r.assign_skipped && assigned != nullptr) assigned->emplace_back(t.number, agent);
    }
  }
  return Status::Ok();
}

AccountStatus QueueAccountStatus(const Config& config, const QueueConfig& queue,
                                 const std::vector<AgentStateRecord>& states, int64_t now) {
  if (!BusinessHoursOpen(queue, now)) return AccountStatus::kInvisible;
  // A queue without agents is read from a shared mailbox (Postfix expands its address): there are
  // no agent states to judge it by, so it is Online within its hours.
  if (queue.agents.empty()) return AccountStatus::kOnline;
  const std::vector<StateDef> catalog = AgentStateCatalog(config);
  for (const AgentConfig& a : queue.agents) {
    for (const AgentStateRecord& r : states) {
      if (r.address == a.address && IsAvailable(catalog, &r)) return AccountStatus::kOnline;
    }
  }
  return AccountStatus::kAway;
}

namespace {

// Automatic routing in the Plan stage (see routing.h).
class RoutingStep : public PlanStep {
 public:
  const char* name() const override { return "routing"; }

  Status Plan(MessageContext& ctx) const override {
    if (ctx.role != MailRole::kCustomer || ctx.queue == nullptr ||
        ctx.queue->routing != "automatic" || ctx.env.store == nullptr) {
      return Status::Ok();
    }
    TicketWrite& w = ctx.plan.ticket_write;
    const Config& cfg = *ctx.env.config;
    const QueueConfig& queue = *ctx.queue;
    if (w.op == TicketWrite::Op::kCreate) {
      std::string agent;
      Status st = ChooseAgent(ctx.env.store, cfg, queue, &agent);
      if (!st.ok()) return st;
      if (agent.empty()) {
        ctx.d.log_fields.emplace_back("assigned", "waiting");
        return Status::Ok();
      }
      w.new_ticket.assigned_agent = agent;
      w.route_mark = true;
      const std::string label = Label(cfg, agent);
      for (TicketEvent& ev : w.events) {
        if (ev.type != "created") continue;
        const std::string from = "\nAssigned agent: unassigned";
        size_t at = ev.text.find(from);
        if (at != std::string::npos) ev.text.replace(at, from.size(), "\nAssigned agent: " + label);
      }
      w.events.push_back(Event(ctx.now, "assigned", "Assigned to " + label + " by automatic routing"));
      AddRecipient(ctx, agent);
      return Status::Ok();
    }
    if (w.op != TicketWrite::Op::kAppend) return Status::Ok();
    Ticket t;
    Status st = ctx.env.store->GetTicket(w.ticket, &t);
    if (st.IsNotFound()) return Status::Ok();
    if (!st.ok()) return st;
    if (!t.assigned_agent.empty()) {
      if (AgentOfQueue(queue, t.assigned_agent) != nullptr) AddRecipient(ctx, t.assigned_agent);
      return Status::Ok();
    }
    std::string agent;
    st = ChooseAgent(ctx.env.store, cfg, queue, &agent);
    if (!st.ok()) return st;
    if (agent.empty()) {
      ctx.d.log_fields.emplace_back("assigned", "waiting");
      return Status::Ok();
    }
    w.set_assignee = agent;
    w.route_mark = true;
    w.events.push_back(Event(ctx.now, "assigned",
                             "Assigned to " + Label(cfg, agent) + " by automatic routing"));
    AddRecipient(ctx, agent);
    return Status::Ok();
  }

 private:
  static void AddRecipient(MessageContext& ctx, const std::string& agent) {
    ctx.d.log_fields.emplace_back("assigned", agent);
    for (const std::string& r : ctx.envelope.rcpts) {
      if (NormalizeAddress(r) == agent) return;  // already a recipient
    }
    ctx.plan.effects.add_recipients.push_back(agent);
  }
};

}  // namespace

std::unique_ptr<PlanStep> MakeRoutingStep() { return std::make_unique<RoutingStep>(); }

const QueueConfig* RoutingDeskState::Find(const std::string& queue) const {
  for (const QueueConfig& q : config_->queues) {
    if (q.name == queue) return &q;
  }
  return nullptr;
}

AccountStatus RoutingDeskState::QueueAccountStatus(const std::string& queue, int64_t now) const {
  const QueueConfig* q = Find(queue);
  if (q == nullptr) return AccountStatus::kOnline;
  std::vector<AgentStateRecord> states;
  if (store_ != nullptr && !store_->GetAgentStates(&states).ok()) return AccountStatus::kOnline;
  return desk::QueueAccountStatus(*config_, *q, states, now);
}

bool RoutingDeskState::WithinBusinessHours(const std::string& queue, int64_t now) const {
  const QueueConfig* q = Find(queue);
  return q == nullptr || BusinessHoursOpen(*q, now);
}

}  // namespace desk
