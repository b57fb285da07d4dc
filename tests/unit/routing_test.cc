// Routing to agents (core/routing.h): every agent-state rule, the pick, automatic routing through
// the pipeline, assignment by a manager, waiting tickets, control mail, and restart survival.
#include "core/routing.h"

#include <gtest/gtest.h>

#include <map>

#include "config/loader.h"
#include "tests/unit/engine_fixture.h"

namespace desk {
namespace {

using testing::EngineFixture;
using testing::Mail;

constexpr int64_t kNow = 1790000000;

class RoutingTest : public EngineFixture {
 protected:
  // support: automatic, agents alice, bob, carl; billing: manual, agent dora.
  Config RoutingConfig() const {
    Config c = BaseConfig();
    c.control_address = "desk-control@example.com";
    c.queues[0].routing = "automatic";
    c.queues[0].agents = {{"alice@staff.example.com", "Alice", "alice@example.com"},
                          {"bob@staff.example.com", "Bob", "bob@example.com"},
                          {"carl@staff.example.com", "Carl", "carl@example.com"}};
    c.queues[1].agents = {{"dora@staff.example.com", "Dora", "dora@example.com"}};
    return c;
  }

  Status Set(const std::string& who, const std::string& state,
             StateActor actor = StateActor::kManager, int64_t now = kNow) {
    StateRequest r;
    r.address = who;
    r.state = state;
    r.actor = actor;
    r.by = "test";
    r.now = now;
    AgentStateChange applied;
    std::vector<std::pair<uint64_t, std::string>> assigned;
    return SetAgentState(store_.get(), *config_, r, false, &applied, &assigned);
  }

  std::string StateOf(const std::string& who) {
    std::vector<AgentStateRecord> states;
    EXPECT_TRUE(store_->GetAgentStates(&states).ok());
    for (const AgentStateRecord& r : states) {
      if (r.address == who) return r.state;
    }
    return "offline";
  }

  Decision NewTicket(int i, int64_t now = kNow) {
    Mail m;
    m.from = "Cust " + std::to_string(i) + " <c" + std::to_string(i) + "@customer.test>";
    m.message_id = "<new" + std::to_string(i) + "@customer.test>";
    m.subject = "Question " + std::to_string(i);
    return IngestRaw(m.Render(), "c" + std::to_string(i) + "@customer.test",
                     "support@example.com", now);
  }

  size_t OutboxCount() {
    std::vector<OutboxMail> out;
    EXPECT_TRUE(store_->GetOutbox(&out).ok());
    return out.size();
  }
};

// ---- State rules (pure) ------------------------------------------------------------------

TEST(AgentStateRules, InEmailIsBuiltInAndCannotBeRedefinedOrRemoved) {
  Config c = config::DefaultConfig();
  c.extra_states = {"training=unavailable"};
  const std::vector<StateDef> cat = AgentStateCatalog(c);
  const StateDef* in_email = FindState(cat, "In-Email");
  ASSERT_NE(in_email, nullptr);
  EXPECT_TRUE(in_email->available);
  EXPECT_TRUE(in_email->builtin);
  ASSERT_NE(FindState(cat, "training"), nullptr);
  EXPECT_FALSE(FindState(cat, "training")->available);
  // The config refuses a built-in name: in-email cannot be redefined (e.g. made unavailable).
  std::shared_ptr<const Config> loaded;
  Status st = config::LoadString(
      "[agents]\nextra_states = [\"in-email=unavailable\"]\n", "t.toml", &loaded);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("agents.extra_states"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("built-in"), std::string::npos) << st.message();
  // An extra state of the same name never replaces the built-in one.
  c.extra_states = {"in-email=unavailable"};
  EXPECT_TRUE(FindState(AgentStateCatalog(c), "in-email")->available);
}

TEST(AgentStateRules, InEmailNotOfferedWithoutAQueue) {
  Config c = config::DefaultConfig();
  QueueConfig q = config::DefaultQueueConfig();
  q.name = "support";
  q.addresses = {"support@example.com"};
  q.agents = {{"alice@staff.example.com", "", ""}};
  c.queues = {q};
  std::vector<std::string> offered = OfferedStates(c, "alice@staff.example.com");
  EXPECT_NE(std::find(offered.begin(), offered.end(), "in-email"), offered.end());
  offered = OfferedStates(c, "nobody@staff.example.com");
  EXPECT_EQ(std::find(offered.begin(), offered.end(), "in-email"), offered.end());
  EXPECT_NE(std::find(offered.begin(), offered.end(), "away"), offered.end());
  StateRequest r{"nobody@staff.example.com", "in-email", StateActor::kManager, "m", kNow};
  AgentStateChange ch;
  Status st = DecideAgentState(c, r, nullptr, &ch);
  EXPECT_EQ(st.error_class(), ErrorClass::kInvalid);
  EXPECT_NE(st.message().find("at least one queue"), std::string::npos);
  r.state = "away";
  EXPECT_TRUE(DecideAgentState(c, r, nullptr, &ch).ok());
}

TEST(AgentStateRules, InEmailNeverSetAutomatically) {
  Config c = config::DefaultConfig();
  QueueConfig q = config::DefaultQueueConfig();
  q.name = "support";
  q.agents = {{"alice@staff.example.com", "", ""}};
  c.queues = {q};
  StateRequest r{"alice@staff.example.com", "in-email", StateActor::kSystem, "system", kNow};
  AgentStateChange ch;
  EXPECT_EQ(DecideAgentState(c, r, nullptr, &ch).error_class(), ErrorClass::kInvalid);
  r.actor = StateActor::kAgent;
  EXPECT_TRUE(DecideAgentState(c, r, nullptr, &ch).ok());
  r.actor = StateActor::kManager;
  EXPECT_TRUE(DecideAgentState(c, r, nullptr, &ch).ok());
  // An agent with no record is offline, not in-email, and so not available.
  EXPECT_EQ(CurrentState(nullptr), "offline");
  EXPECT_FALSE(IsAvailable(AgentStateCatalog(c), nullptr));
}

TEST(AgentStateRules, CallAndChatOverrideAndReturn) {
  Config c = config::DefaultConfig();
  QueueConfig q = config::DefaultQueueConfig();
  q.name = "support";
  q.agents = {{"alice@staff.example.com", "", ""}};
  c.queues = {q};
  const std::vector<StateDef> cat = AgentStateCatalog(c);
  StateRequest r{"alice@staff.example.com", "in-email", StateActor::kAgent, "alice", kNow};
  AgentStateChange ch;
  ASSERT_TRUE(DecideAgentState(c, r, nullptr, &ch).ok());
  AgentStateRecord rec = ch.record;
  EXPECT_TRUE(IsAvailable(cat, &rec));
  r.state = "In-Call";
  r.actor = StateActor::kSystem;  // a telephony system through deskctl
  ASSERT_TRUE(DecideAgentState(c, r, &rec, &ch).ok());
  EXPECT_EQ(ch.event.old_state, "in-email");
  rec = ch.record;
  EXPECT_EQ(rec.state, "in-call");
  EXPECT_EQ(rec.base, "in-email");
  EXPECT_FALSE(IsAvailable(cat, &rec));
  r.state = "in-chat";  // one override over the other keeps the state to return to
  ASSERT_TRUE(DecideAgentState(c, r, &rec, &ch).ok());
  rec = ch.record;
  EXPECT_EQ(rec.base, "in-email");
  r.state = "clear";
  ASSERT_TRUE(DecideAgentState(c, r, &rec, &ch).ok());
  rec = ch.record;
  EXPECT_EQ(rec.state, "in-email");
  EXPECT_EQ(rec.base, "");
  EXPECT_TRUE(IsAvailable(cat, &rec));
  // clear without an override is refused; an override from away returns to away.
  EXPECT_EQ(DecideAgentState(c, r, &rec, &ch).error_class(), ErrorClass::kInvalid);
  r.state = "away";
  ASSERT_TRUE(DecideAgentState(c, r, &rec, &ch).ok());
  rec = ch.record;
  r.state = "in-call";
  ASSERT_TRUE(DecideAgentState(c, r, &rec, &ch).ok());
  rec = ch.record;
  r.state = "clear";
  ASSERT_TRUE(DecideAgentState(c, r, &rec, &ch).ok());
  EXPECT_EQ(ch.record.state, "away");
}

TEST(AgentStateRules, UnknownStateRefused) {
  Config c = config::DefaultConfig();
  StateRequest r{"alice@staff.example.com", "lunch", StateActor::kManager, "m", kNow};
  AgentStateChange ch;
  Status st = DecideAgentState(c, r, nullptr, &ch);
  EXPECT_EQ(st.error_class(), ErrorClass::kInvalid);
  EXPECT_NE(st.message().find("unknown state"), std::string::npos);
}

TEST(AgentPick, RoundRobinThenFewestOpenThenOrder) {
  // got_/want_: index picked.
  struct Case {
    const char* name;
    std::vector<Candidate> cands;
    int want;
  } cases[] = {
      {"none available", {{"a", false, 0, 0}, {"b", false, 0, 0}}, -1},
      {"least recently assigned", {{"a", true, 7, 0}, {"b", true, 3, 9}, {"c", true, 5, 0}}, 1},
      {"tie broken by open tickets", {{"a", true, 0, 4}, {"b", true, 0, 1}, {"c", true, 0, 2}}, 1},
      {"full tie: config order", {{"a", true, 0, 0}, {"b", true, 0, 0}}, 0},
      {"unavailable skipped", {{"a", false, 0, 0}, {"b", true, 9, 9}}, 1},
  };
  for (const Case& c : cases) EXPECT_EQ(PickAgent(c.cands), c.want) << c.name;
}

// ---- States in the store -------------------------------------------------------------------

TEST_F(RoutingTest, StateChangesAreRecordedWithHistory) {
  Open(RoutingConfig());
  ASSERT_TRUE(Set("Alice@Staff.Example.com", "in-email", StateActor::kManager, kNow).ok());
  ASSERT_TRUE(Set("alice@staff.example.com", "in-call", StateActor::kSystem, kNow + 5).ok());
  ASSERT_TRUE(Set("alice@staff.example.com", "clear", StateActor::kSystem, kNow + 9).ok());
  EXPECT_EQ(StateOf("alice@staff.example.com"), "in-email");
  std::vector<AgentStateEvent> ev;
  ASSERT_TRUE(store_->GetAgentStateEvents("alice@staff.example.com", &ev).ok());
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].old_state, "");
  EXPECT_EQ(ev[0].new_state, "in-email");
  EXPECT_EQ(ev[1].at, kNow + 5);
  EXPECT_EQ(ev[1].new_state, "in-call");
  EXPECT_EQ(ev[2].old_state, "in-call");
  EXPECT_EQ(ev[2].new_state, "in-email");
  EXPECT_EQ(ev[2].by, "test");
}

TEST_F(RoutingTest, UnknownAgentOrStateChangesNothing) {
  Open(RoutingConfig());
  EXPECT_TRUE(Set("nobody@staff.example.com", "in-email").IsNotFound());
  EXPECT_EQ(Set("alice@staff.example.com", "lunch").error_class(), ErrorClass::kInvalid);
  std::vector<AgentStateEvent> ev;
  ASSERT_TRUE(store_->GetAgentStateEvents("", &ev).ok());
  EXPECT_TRUE(ev.empty());
  std::vector<AgentStateRecord> states;
  ASSERT_TRUE(store_->GetAgentStates(&states).ok());
  EXPECT_TRUE(states.empty());
}

// ---- Automatic routing ------------------------------------------------------------------

TEST_F(RoutingTest, NewTicketsRoundRobinOverAvailableAgents) {
  Open(RoutingConfig());
  ASSERT_TRUE(Set("alice@staff.example.com", "in-email").ok());
  ASSERT_TRUE(Set("bob@staff.example.com", "away").ok());
  ASSERT_TRUE(Set("carl@staff.example.com", "in-email").ok());
  std::map<std::string, int> got;
  for (int i = 1; i <= 10; ++i) {
    Decision d = NewTicket(i);
    ASSERT_EQ(d.ticket_action, "created") << i;
    ASSERT_EQ(d.add_recipients.size(), 1u) << i;
    const Ticket t = GetTicket(*d.ticket);
    EXPECT_EQ(t.assigned_agent, d.add_recipients[0]);
    ++got[t.assigned_agent];
    const std::vector<TicketEvent> ev = Events(*d.ticket);
    ASSERT_FALSE(ev.empty());
    EXPECT_NE(ev[0].text.find("Assigned agent: " + std::string(t.assigned_agent == "alice@staff.example.com" ? "Alice" : "Carl")),
              std::string::npos)
        << ev[0].text;
    EXPECT_TRUE(HasEvent(ev, "assigned"));
  }
  EXPECT_EQ(got["alice@staff.example.com"], 5);
  EXPECT_EQ(got["carl@staff.example.com"], 5);
  EXPECT_EQ(got.count("bob@staff.example.com"), 0u);
}

TEST_F(RoutingTest, ReplyGoesToTheAssignedAgent) {
  Open(RoutingConfig());
  ASSERT_TRUE(Set("bob@staff.example.com", "in-email").ok());
  Decision d = NewTicket(1);
  ASSERT_EQ(d.add_recipients, std::vector<std::string>{"bob@staff.example.com"});
  // Bob goes away; the customer's reply still reaches Bob, the assignee.
  ASSERT_TRUE(Set("bob@staff.example.com", "away").ok());
  Mail reply;
  reply.from = "Cust 1 <c1@customer.test>";
  reply.message_id = "<reply1@customer.test>";
  reply.in_reply_to = "<new1@customer.test>";
  Decision r = IngestRaw(reply.Render(), "c1@customer.test", "support@example.com", kNow + 60);
  EXPECT_EQ(r.ticket_action, "appended");
  EXPECT_EQ(r.add_recipients, std::vector<std::string>{"bob@staff.example.com"});
}

TEST_F(RoutingTest, NoAgentAvailableWaitsThenAssignedOnStateChange) {
  Open(RoutingConfig());
  Decision d = NewTicket(1);
  ASSERT_EQ(d.ticket_action, "created");
  EXPECT_TRUE(d.add_recipients.empty());
  EXPECT_EQ(GetTicket(*d.ticket).assigned_agent, "");
  EXPECT_NE(Events(*d.ticket)[0].text.find("Assigned agent: unassigned"), std::string::npos);
  EXPECT_EQ(OutboxCount(), 0u);
  // Carl sets in-email: the waiting ticket is his, with a notification in the outbox.
  StateRequest r{"carl@staff.example.com", "in-email", StateActor::kAgent, "carl", kNow + 10};
  AgentStateChange applied;
  std::vector<std::pair<uint64_t, std::string>> assigned;
  ASSERT_TRUE(SetAgentState(store_.get(), *config_, r, false, &applied, &assigned).ok());
  ASSERT_EQ(assigned.size(), 1u);
  EXPECT_EQ(assigned[0].first, *d.ticket);
  EXPECT_EQ(GetTicket(*d.ticket).assigned_agent, "carl@staff.example.com");
  EXPECT_TRUE(HasEvent(Events(*d.ticket), "assigned"));
  std::vector<OutboxMail> out;
  ASSERT_TRUE(store_->GetOutbox(&out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].ticket, *d.ticket);
  EXPECT_NE(out[0].raw.find("To: carl@staff.example.com\r\n"), std::string::npos);
  EXPECT_NE(out[0].raw.find("assigned to you"), std::string::npos);
}

TEST_F(RoutingTest, ManualQueueIsNotRouted) {
  Open(RoutingConfig());
  ASSERT_TRUE(Set("dora@staff.example.com", "in-email").ok());
  Mail m;
  m.to = "billing@example.com";
  Decision d = IngestRaw(m.Render(), "carol@customer.test", "billing@example.com", kNow);
  ASSERT_EQ(d.ticket_action, "created");
  EXPECT_TRUE(d.add_recipients.empty());
  EXPECT_EQ(GetTicket(*d.ticket).assigned_agent, "");
}

TEST_F(RoutingTest, ManagerAssignsReassignsAndUnassigns) {
  Open(RoutingConfig());
  Mail m;
  m.to = "billing@example.com";
  Decision d = IngestRaw(m.Render(), "carol@customer.test", "billing@example.com", kNow);
  const uint64_t n = *d.ticket;
  ASSERT_TRUE(AssignTicket(store_.get(), *config_, n, "dora@staff.example.com", "deskctl", kNow + 1).ok());
  EXPECT_EQ(GetTicket(n).assigned_agent, "dora@staff.example.com");
  ASSERT_TRUE(AssignTicket(store_.get(), *config_, n, "alice@staff.example.com", "deskctl", kNow + 2).ok());
  ASSERT_TRUE(AssignTicket(store_.get(), *config_, n, "", "deskctl", kNow + 3).ok());
  EXPECT_EQ(GetTicket(n).assigned_agent, "");
  const std::vector<TicketEvent> ev = Events(n);
  EXPECT_EQ(CountEvents(ev, "assigned"), 1);
  EXPECT_EQ(CountEvents(ev, "reassigned"), 1);
  EXPECT_EQ(CountEvents(ev, "unassigned"), 1);
  EXPECT_EQ(OutboxCount(), 2u);  // a notification per assignment
  // Unknown ticket or agent: nothing changed.
  EXPECT_TRUE(AssignTicket(store_.get(), *config_, 999, "dora@staff.example.com", "deskctl", kNow).IsNotFound());
  EXPECT_TRUE(AssignTicket(store_.get(), *config_, n, "nobody@x.example", "deskctl", kNow).IsNotFound());
  EXPECT_EQ(Events(n).size(), ev.size());
}

TEST_F(RoutingTest, StatesAndAssignmentsSurviveReopen) {
  Open(RoutingConfig());
  ASSERT_TRUE(Set("alice@staff.example.com", "in-email").ok());
  ASSERT_TRUE(Set("carl@staff.example.com", "in-email").ok());
  Decision d1 = NewTicket(1);
  Open(RoutingConfig());  // a new store object on the same directory: a restart
  EXPECT_EQ(StateOf("alice@staff.example.com"), "in-email");
  EXPECT_EQ(GetTicket(*d1.ticket).assigned_agent, "alice@staff.example.com");
  // The round robin goes on where it was.
  Decision d2 = NewTicket(2);
  EXPECT_EQ(GetTicket(*d2.ticket).assigned_agent, "carl@staff.example.com");
}

// ---- Control mail -------------------------------------------------------------------------

TEST_F(RoutingTest, ControlMailFromAuthenticatedAgentSetsState) {
  Open(RoutingConfig());
  Mail m;
  m.from = "Alice <alice@staff.example.com>";
  m.to = "desk-control@example.com";
  m.subject = "State In-Email";
  m.message_id = "<ctl1@staff.example.com>";
  Envelope env;
  env.mail_from = "alice@staff.example.com";
  env.rcpts = {"desk-control@example.com"};
  env.auth_user = "alice@example.com";
  Decision d = IngestRaw(m.Render(), env, kNow);
  EXPECT_EQ(d.verdict, Outcome::kDiscard);  // never delivered
  EXPECT_EQ(d.kind, "agent_control");
  EXPECT_FALSE(d.ticket.has_value());
  EXPECT_EQ(TicketCount(), 0u);  // never ticketed
  EXPECT_EQ(StateOf("alice@staff.example.com"), "in-email");
  std::vector<OutboxMail> out;
  ASSERT_TRUE(store_->GetOutbox(&out).ok());
  ASSERT_EQ(out.size(), 1u);  // the confirmation
  EXPECT_EQ(out[0].ticket, 0u);
  EXPECT_NE(out[0].raw.find("Subject: Your state is now in-email"), std::string::npos);
}

TEST_F(RoutingTest, ControlMailWithoutAuthIsRefusedAndChangesNothing) {
  Open(RoutingConfig());
  Mail m;
  m.from = "Alice <alice@staff.example.com>";
  m.to = "desk-control@example.com";
  m.subject = "state in-email";
  Envelope env;
  env.mail_from = "alice@staff.example.com";
  env.rcpts = {"desk-control@example.com"};
  Decision d = IngestRaw(m.Render(), env, kNow);
  EXPECT_EQ(d.verdict, Outcome::kReject);
  EXPECT_EQ(d.kind, "agent_control");
  EXPECT_NE(std::find(d.reasons.begin(), d.reasons.end(), "control:refused"), d.reasons.end());
  EXPECT_EQ(StateOf("alice@staff.example.com"), "offline");
  EXPECT_EQ(OutboxCount(), 0u);
  EXPECT_EQ(TicketCount(), 0u);
}

TEST_F(RoutingTest, ControlMailWithUnknownStateIsRefused) {
  Open(RoutingConfig());
  Mail m;
  m.to = "desk-control@example.com";
  m.subject = "state lunch";
  Envelope env;
  env.mail_from = "alice@staff.example.com";
  env.rcpts = {"desk-control@example.com"};
  env.auth_user = "alice@example.com";
  Decision d = IngestRaw(m.Render(), env, kNow);
  EXPECT_EQ(d.verdict, Outcome::kReject);
  EXPECT_EQ(StateOf("alice@staff.example.com"), "offline");
}

TEST_F(RoutingTest, AccountStatusFollowsAgentStates) {
  Open(RoutingConfig());
  std::vector<AgentStateRecord> states;
  ASSERT_TRUE(store_->GetAgentStates(&states).ok());
  EXPECT_EQ(QueueAccountStatus(*config_, config_->queues[0], states, kNow), AccountStatus::kAway);
  ASSERT_TRUE(Set("bob@staff.example.com", "in-email").ok());
  ASSERT_TRUE(store_->GetAgentStates(&states).ok());
  EXPECT_EQ(QueueAccountStatus(*config_, config_->queues[0], states, kNow), AccountStatus::kOnline);
  EXPECT_EQ(QueueAccountStatus(*config_, config_->queues[1], states, kNow), AccountStatus::kAway);
}

}  // namespace
}  // namespace desk

namespace desk {
namespace {

// Issue 13 item 5: "reply via" another identity than the address the mail was received at.
TEST(ReplyVia, MappingValidatedAtLoadAndUsedByTheRewrite) {
  const std::string base =
      "[[queue]]\nname = \"support\"\n"
      "addresses = [\"support@example.com\", \"it@example.com\", \"*@help.example.com\"]\n";
  struct Case {
    const char* name;
    std::string reply_via;
    bool want_ok;
    const char* want_error;
  } cases[] = {
      {"exact to exact", R"(["Support@example.com=it@example.com"])", true, ""},
      {"wildcard to exact", R"(["*@help.example.com=it@example.com"])", true, ""},
      {"not the queue's address", R"(["sales@example.com=it@example.com"])", false,
       "not one of this queue's addresses"},
      {"may not send as", R"(["support@example.com=ceo@example.com"])", false,
       "may send as"},
      {"twice", R"(["support@example.com=it@example.com", "support@example.com=support@example.com"])",
       false, "already mapped"},
      {"malformed", R"(["support@example.com"])", false, "RECEIVED_AT=REPLY_VIA"},
  };
  for (const Case& c : cases) {
    std::shared_ptr<const Config> got;
    Status st = config::LoadString(base + "reply_via = " + c.reply_via + "\n", "t.toml", &got);
    EXPECT_EQ(st.ok(), c.want_ok) << c.name << ": " << st.ToString();
    if (!c.want_ok) {
      EXPECT_NE(st.message().find("queue[0].reply_via"), std::string::npos) << st.message();
      EXPECT_NE(st.message().find(c.want_error), std::string::npos) << st.message();
    }
  }
  std::shared_ptr<const Config> cfg;
  ASSERT_TRUE(config::LoadString(base + "reply_via = [\"support@example.com=it@example.com\", "
                                        "\"*@help.example.com=it@example.com\"]\n",
                                 "t.toml", &cfg)
                  .ok());
  QueueRouter router;
  ASSERT_TRUE(QueueRouter::Build(*cfg, &router).ok());
  const QueueConfig& q = cfg->queues[0];
  EXPECT_EQ(ReplyViaAddress(router, q, "support@example.com"), "it@example.com");
  EXPECT_EQ(ReplyViaAddress(router, q, "support+x@example.com"), "it@example.com");
  EXPECT_EQ(ReplyViaAddress(router, q, "anything@help.example.com"), "it@example.com");
  EXPECT_EQ(ReplyViaAddress(router, q, "it@example.com"), "it@example.com");
}

}  // namespace
}  // namespace desk

namespace desk {
namespace {

TEST(BusinessHours, ParsedAndValidatedAtLoad) {
  BusinessSpan s;
  ASSERT_TRUE(ParseBusinessHours("Mon-Fri 09:00-17:30", &s));
  EXPECT_EQ(s.first_day, 1);
  EXPECT_EQ(s.last_day, 5);
  EXPECT_EQ(s.start_minute, 540);
  EXPECT_EQ(s.end_minute, 1050);
  EXPECT_TRUE(ParseBusinessHours("sun 00:00-24:00", &s));
  for (const char* bad : {"fri-mon 09:00-17:00", "mon 17:00-09:00", "mon 9:00-17:00",
                          "funday 09:00-10:00", "mon", "mon 09:00-24:30"}) {
    EXPECT_FALSE(ParseBusinessHours(bad, &s)) << bad;
  }
  const std::string q = "[[queue]]\nname = \"s\"\naddresses = [\"s@example.com\"]\n";
  struct Case {
    std::string toml;
    const char* want_error;  // "" = loads
  } cases[] = {
      {q + "business_hours = [\"mon-fri 09:00-17:00\"]\ntime_zone = \"Europe/Paris\"\n"
           "holidays = [\"2026-12-25\"]\n", ""},
      {q + "time_zone = \"Mars/Olympus\"\n", "queue[0].time_zone"},
      {q + "business_hours = [\"weekdays 9-5\"]\n", "queue[0].business_hours"},
      {q + "holidays = [\"25/12/2026\"]\n", "queue[0].holidays"},
  };
  for (const Case& c : cases) {
    std::shared_ptr<const Config> got;
    Status st = config::LoadString(c.toml, "t.toml", &got);
    if (std::string(c.want_error).empty()) {
      EXPECT_TRUE(st.ok()) << st.ToString();
    } else {
      EXPECT_NE(st.message().find(c.want_error), std::string::npos) << st.ToString();
    }
  }
}

TEST(BusinessHours, InvisibleOutsideHoursInTheQueueTimeZone) {
  Config c = config::DefaultConfig();
  QueueConfig q = config::DefaultQueueConfig();
  q.name = "support";
  q.agents = {{"alice@staff.example.com", "", ""}};
  q.business_hours = {"mon-fri 09:00-17:00"};
  q.time_zone = "Europe/Paris";
  q.holidays = {"2026-12-25"};
  c.queues = {q};
  const std::vector<AgentStateRecord> states = {{"alice@staff.example.com", "in-email", "", 0, ""}};
  // Thursday 2026-12-03 07:30 UTC = 08:30 in Paris (UTC+1): closed; 08:30 UTC = 09:30: open.
  const int64_t thu_0730_utc = 1796283000;
  EXPECT_EQ(QueueAccountStatus(c, c.queues[0], states, thu_0730_utc), AccountStatus::kInvisible);
  EXPECT_EQ(QueueAccountStatus(c, c.queues[0], states, thu_0730_utc + 3600), AccountStatus::kOnline);
  // Summer time: Wednesday 2026-07-01 07:30 UTC = 09:30 in Paris (UTC+2): open.
  EXPECT_TRUE(BusinessHoursOpen(c.queues[0], 1782891000));
  // Friday 2026-12-25 10:00 UTC (11:00 Paris) is a holiday; Saturday is outside the schedule.
  EXPECT_FALSE(BusinessHoursOpen(c.queues[0], 1798192800));
  EXPECT_FALSE(BusinessHoursOpen(c.queues[0], 1798192800 + 86400));
  // Open, but nobody available: away.
  EXPECT_EQ(QueueAccountStatus(c, c.queues[0], {}, thu_0730_utc + 3600), AccountStatus::kAway);
  // A queue without agents (a shared mailbox): online within its hours, invisible outside them.
  QueueConfig shared = c.queues[0];
  shared.agents.clear();
  EXPECT_EQ(QueueAccountStatus(c, shared, {}, thu_0730_utc + 3600), AccountStatus::kOnline);
  EXPECT_EQ(QueueAccountStatus(c, shared, {}, thu_0730_utc), AccountStatus::kInvisible);
  // No schedule: always open.
  c.queues[0].business_hours.clear();
  EXPECT_TRUE(BusinessHoursOpen(c.queues[0], thu_0730_utc));
}

}  // namespace
}  // namespace desk
