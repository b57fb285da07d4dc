// sla: response clocks (see the header).
#include "core/sla.h"

#include <algorithm>

namespace desk {
namespace {

constexpr int64_t kDay = 86400;

bool IsCustomerMail(const TicketMessage& m) {
  return m.direction == Direction::kInbound && (m.kind == "new" || m.kind == "reply");
}

// An agent's mail to the customer (core/agents.h kinds); internal notes and automatic answers are
// not responses.
bool IsAgentReply(const TicketMessage& m) {
  return m.direction == Direction::kOutbound && (m.kind == "agent_reply" || m.kind == "agent_new");
}

}  // namespace

SlaState ComputeSla(const SlaTargets& targets, const std::vector<TicketMessage>& messages,
                    const std::vector<TicketEvent>& events, int64_t now) {
  SlaState st;
  st.targets = targets;
  // One timeline of what matters, in time order (messages before events at the same second, so a
  // reply and the close it came with stop the clock as met).
  struct Step {
    int64_t at;
    int order;
    enum { kCustomer, kAgent, kClose, kReopen } what;
  };
  std::vector<Step> steps;
  for (const TicketMessage& m : messages) {
    if (IsCustomerMail(m)) steps.push_back({m.received_at, 0, Step::kCustomer});
    if (IsAgentReply(m)) steps.push_back({m.received_at, 0, Step::kAgent});
  }
  for (const TicketEvent& e : events) {
    if (e.type == "closed") steps.push_back({e.at, 1, Step::kClose});
    if (e.type == "reopened") steps.push_back({e.at, 1, Step::kReopen});
  }
  std::stable_sort(steps.begin(), steps.end(), [](const Step& a, const Step& b) {
    return a.at != b.at ? a.at < b.at : a.order < b.order;
  });

  bool first_done = false;  // a first-response clock has been started
  std::optional<SlaClock> run;
  auto finish = [&](SlaClock c) {
    const int64_t end = c.met_at ? *c.met_at : (c.paused_at ? *c.paused_at : now);
    c.breached = end > c.due_at;
    st.breached = st.breached || c.breached;
    st.clocks.push_back(std::move(c));
  };
  for (const Step& s : steps) {
    switch (s.what) {
      case Step::kCustomer: {
        if (run) break;  // already waiting for an answer
        const bool first = !first_done;
        first_done = true;
        const int64_t target = first ? targets.first_response : targets.next_response;
        if (target <= 0) break;
        SlaClock c;
        c.kind = first ? "first_response" : "next_response";
        c.started_at = s.at;
        c.due_at = AddBusinessSeconds(targets.hours, s.at, target);
        run = c;
        break;
      }
      case Step::kAgent:
        first_done = true;  // an agent who writes first answers the ticket
        if (run) {
          run->met_at = s.at;
          finish(*run);
          run.reset();
        }
        break;
      case Step::kClose:
        if (run) {
          run->paused_at = s.at;
          finish(*run);
          run.reset();
        }
        break;
      case Step::kReopen:
        break;
    }
  }
  if (run) {
    finish(*run);
    st.running = st.clocks.back();
  }
  if (targets.first_response <= 0 && targets.next_response <= 0) {
    st.state = "none";
  } else if (st.breached) {
    st.state = "breached";
  } else if (st.running) {
    st.state = "running";
  } else {
    st.state = "ok";
  }
  return st;
}

bool ParseDuration(const std::string& text, int64_t* seconds) {
  if (text.empty() || text.size() > 12) return false;
  size_t i = 0;
  int64_t v = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') v = v * 10 + (text[i++] - '0');
  if (i == 0) return false;
  int64_t unit = 1;
  if (i < text.size()) {
    if (i + 1 != text.size()) return false;
    switch (text[i]) {
      case 's': unit = 1; break;
      case 'm': unit = 60; break;
      case 'h': unit = 3600; break;
      case 'd': unit = kDay; break;
      default: return false;
    }
  }
  *seconds = v * unit;
  return true;
}

}  // namespace desk
