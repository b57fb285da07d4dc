// `deskctl agents`, `agent state`, `assign`, `unassign`, `queues`: agents' states and assignment
// (core/routing.h, docs/ROUTING.md).
//
// These write the store from outside the daemon, like `ticket close`: LMDB serializes the writers
// of both processes, and the daemon reads the states at each new ticket. Unknown agents, states
// and tickets print an error and exit 1 with nothing changed.
#include <cstdio>
#include <ctime>

#include "core/agents.h"
#include "core/routing.h"
#include "deskctl/commands.h"
#include "deskctl/json_output.h"

namespace desk::ctl {
namespace {

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

int Fail(const std::string& msg) {
  std::fprintf(stderr, "deskctl: %s\n", msg.c_str());
  return kExitFailure;
}

std::string FormatTime(int64_t t) {
  if (t == 0) return "-";
  char buf[32];
  const time_t tt = static_cast<time_t>(t);
  struct tm tm;
  if (gmtime_r(&tt, &tm) == nullptr) return "-";
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Open tickets per agent address, over every queue.
Status OpenCounts(TicketStore* store, std::vector<Ticket>* open) {
  TicketFilter f;
  f.status = TicketStatus::kOpen;
  return store->ListTickets(f, open);
}

const AgentStateRecord* FindRecord(const std::vector<AgentStateRecord>& states,
                                   const std::string& address) {
  for (const AgentStateRecord& r : states) {
    if (r.address == address) return &r;
  }
  return nullptr;
}

}  // namespace

int RunAgents(const std::string& config_path, const std::string& queue, bool json) {
  Context ctx;
  int rc = OpenContext(config_path, StoreMode::kRequired, &ctx);
  if (rc != kExitOk) return rc;
  const Config& cfg = *ctx.config;
  if (!queue.empty()) {
    bool known = false;
    for (const QueueConfig& q : cfg.queues) known = known || q.name == queue;
    if (!known) return Fail("no queue \"" + queue + "\" in the configuration");
  }
  std::vector<AgentStateRecord> states;
  Status st = ctx.store->GetAgentStates(&states);
  std::vector<Ticket> open;
  if (st.ok()) st = OpenCounts(ctx.store.get(), &open);
  if (!st.ok()) return Fail(st.ToString());
  const std::vector<StateDef> catalog = AgentStateCatalog(cfg);
  // Each agent once, in configuration order.
  std::vector<const AgentConfig*> agents;
  for (const QueueConfig& q : cfg.queues) {
    if (!queue.empty() && q.name != queue) continue;
    for (const AgentConfig& a : q.agents) {
      bool seen = false;
      for (const AgentConfig* s : agents) seen = seen || s->address == a.address;
      if (!seen) agents.push_back(&a);
    }
  }
  Json arr = Json::array();
  std::string text = "AGENT                                    STATE      SINCE                 OPEN  QUEUES\n";
  for (const AgentConfig* a : agents) {
    const AgentStateRecord* rec = FindRecord(states, a->address);
    uint64_t n = 0;
    for (const Ticket& t : open) n += t.assigned_agent == a->address ? 1 : 0;
    Json qs = Json::array();
    std::string qtext;
    for (const QueueConfig* q : QueuesOfAgent(cfg, a->address)) {
      qs.push_back(q->name);
      qtext += (qtext.empty() ? "" : ",") + q->name;
    }
    const std::string state = CurrentState(rec);
    if (json) {
      Json j = Json::object();
      j["address"] = a->address;
      j["name"] = a->name;
      j["state"] = state;
      j["returns_to"] = rec != nullptr && !rec->base.empty() ? Json(rec->base) : Json(nullptr);
      j["available"] = IsAvailable(catalog, rec);
      j["since"] = rec != nullptr ? rec->since : 0;
      j["set_by"] = rec != nullptr ? rec->set_by : "";
      j["queues"] = std::move(qs);
      j["open_tickets"] = n;
      arr.push_back(std::move(j));
    } else {
      char line[512];
      std::snprintf(line, sizeof line, "%-40s %-10s %-21s %4llu  %s\n", a->address.c_str(),
                    state.c_str(), FormatTime(rec != nullptr ? rec->since : 0).c_str(),
                    static_cast<unsigned long long>(n), qtext.c_str());
      text += line;
    }
  }
  if (json) {
    std::printf("%s\n", Dump(arr).c_str());
  } else {
    std::fputs(text.c_str(), stdout);
  }
  return kExitOk;
}

int RunAgentState(const std::string& config_path, const std::string& address,
                  const std::string& state, const std::string& by) {
  Context ctx;
  int rc = OpenContext(config_path, StoreMode::kRequired, &ctx);
  if (rc != kExitOk) return rc;
  StateRequest req;
  req.address = ConfiguredAgent(*ctx.config, address);
  if (req.address.empty()) return Fail("agent " + address + ": no such agent in the configuration");
  req.state = state;
  req.actor = StateActor::kManager;
  req.by = by.empty() ? "deskctl" : by;
  req.now = Now();
  AgentStateChange applied;
  std::vector<std::pair<uint64_t, std::string>> assigned;
  Status st = SetAgentState(ctx.store.get(), *ctx.config, req, /*confirm=*/false, &applied,
                            &assigned);
  if (!st.ok()) return Fail("agent " + req.address + ": " + st.message());
  std::printf("agent %s: %s -> %s\n", req.address.c_str(),
              applied.event.old_state.empty() ? "offline" : applied.event.old_state.c_str(),
              applied.record.state.c_str());
  for (const auto& [ticket, agent] : assigned) {
    std::printf("ticket %llu assigned to %s\n", static_cast<unsigned long long>(ticket),
                agent.c_str());
  }
  return kExitOk;
}

int RunAssign(const std::string& config_path, uint64_t ticket, const std::string& address) {
  Context ctx;
  int rc = OpenContext(config_path, StoreMode::kRequired, &ctx);
  if (rc != kExitOk) return rc;
  std::string agent;
  if (!address.empty()) {
    agent = ConfiguredAgent(*ctx.config, address);
    if (agent.empty()) return Fail("agent " + address + ": no such agent in the configuration");
  }
  Status st = AssignTicket(ctx.store.get(), *ctx.config, ticket, agent, "deskctl", Now());
  if (st.IsNotFound()) {
    return Fail("ticket " + std::to_string(ticket) + ": no such ticket");
  }
  if (!st.ok()) return Fail(st.ToString());
  if (agent.empty()) {
    std::printf("ticket %llu unassigned\n", static_cast<unsigned long long>(ticket));
  } else {
    std::printf("ticket %llu assigned to %s\n", static_cast<unsigned long long>(ticket),
                agent.c_str());
  }
  return kExitOk;
}

int RunQueues(const std::string& config_path, bool json) {
  Context ctx;
  int rc = OpenContext(config_path, StoreMode::kRequired, &ctx);
  if (rc != kExitOk) return rc;
  const Config& cfg = *ctx.config;
  std::vector<AgentStateRecord> states;
  Status st = ctx.store->GetAgentStates(&states);
  std::vector<Ticket> open;
  if (st.ok()) st = OpenCounts(ctx.store.get(), &open);
  if (!st.ok()) return Fail(st.ToString());
  const std::vector<StateDef> catalog = AgentStateCatalog(cfg);
  const int64_t now = Now();
  Json arr = Json::array();
  std::string text = "QUEUE                STATUS     ROUTING    WAITING  AVAILABLE  AGENTS\n";
  for (const QueueConfig& q : cfg.queues) {
    uint64_t waiting = 0, available = 0;
    for (const Ticket& t : open) waiting += t.queue == q.name && t.assigned_agent.empty() ? 1 : 0;
    for (const AgentConfig& a : q.agents) {
      available += IsAvailable(catalog, FindRecord(states, a.address)) ? 1 : 0;
    }
    const char* status = AccountStatusName(QueueAccountStatus(cfg, q, states, now));
    if (json) {
      Json j = Json::object();
      j["name"] = q.name;
      j["status"] = status;
      j["routing"] = q.routing;
      j["waiting_tickets"] = waiting;
      j["agents_available"] = available;
      j["agents"] = q.agents.size();
      arr.push_back(std::move(j));
    } else {
      char line[256];
      std::snprintf(line, sizeof line, "%-20s %-10s %-10s %7llu  %9llu  %6zu\n", q.name.c_str(),
                    status, q.routing.c_str(), static_cast<unsigned long long>(waiting),
                    static_cast<unsigned long long>(available), q.agents.size());
      text += line;
    }
  }
  if (json) {
    std::printf("%s\n", Dump(arr).c_str());
  } else {
    std::fputs(text.c_str(), stdout);
  }
  return kExitOk;
}

}  // namespace desk::ctl
