// SLA clocks: first/next response, pauses on close, breach, business hours. Table-driven where the
// shape allows; times are small integers so the expectations read as arithmetic.
#include "core/sla.h"

#include <gtest/gtest.h>

namespace desk {
namespace {

TicketMessage In(int64_t at, const std::string& kind = "reply") {
  TicketMessage m;
  m.direction = Direction::kInbound;
  m.kind = kind;
  m.received_at = at;
  return m;
}

TicketMessage Out(int64_t at, const std::string& kind = "agent_reply") {
  TicketMessage m;
  m.direction = Direction::kOutbound;
  m.kind = kind;
  m.agent = "alice@staff.example.com";
  m.received_at = at;
  return m;
}

TicketEvent Ev(int64_t at, const std::string& type) {
  TicketEvent e;
  e.at = at;
  e.type = type;
  return e;
}

SlaTargets Targets(int64_t first, int64_t next) {
  SlaTargets t;
  t.first_response = first;
  t.next_response = next;
  return t;
}

TEST(SlaTest, FirstResponseMetInTime) {
  SlaState s = ComputeSla(Targets(100, 50), {In(1000, "new"), Out(1090)}, {}, 5000);
  ASSERT_EQ(s.clocks.size(), 1u);
  EXPECT_EQ(s.clocks[0].kind, "first_response");
  EXPECT_EQ(s.clocks[0].due_at, 1100);
  EXPECT_EQ(s.clocks[0].met_at, 1090);
  EXPECT_FALSE(s.breached);
  EXPECT_FALSE(s.running);
  EXPECT_EQ(s.state, "ok");
}

TEST(SlaTest, Table) {
  struct Case {
    const char* name;
    std::vector<TicketMessage> messages;
    std::vector<TicketEvent> events;
    int64_t now;
    const char* want_state;
    size_t want_clocks;
    std::optional<int64_t> want_running_due;
  };
  const Case cases[] = {
      {"first_late_answer", {In(1000, "new"), Out(1200)}, {}, 5000, "breached", 1, std::nullopt},
      {"first_running_not_late", {In(1000, "new")}, {}, 1050, "running", 1, 1100},
      {"first_running_late", {In(1000, "new")}, {}, 1101, "breached", 1, 1100},
      {"exactly_due_is_not_late", {In(1000, "new")}, {}, 1100, "running", 1, 1100},
      {"follow_up_starts_next", {In(1000, "new"), Out(1010), In(2000)}, {}, 2010, "running", 2, 2050},
      {"two_customer_mails_one_clock", {In(1000, "new"), Out(1010), In(2000), In(2040)}, {}, 2045,
       "running", 2, 2050},
      {"next_breached", {In(1000, "new"), Out(1010), In(2000), Out(2100)}, {}, 9000, "breached", 2,
       std::nullopt},
      {"internal_note_does_not_stop", {In(1000, "new"), Out(1010, "internal_note")}, {}, 1050,
       "running", 1, 1100},
      {"auto_reply_does_not_start", {In(1000, "new"), Out(1010), In(1500, "auto_reply")}, {}, 9000,
       "ok", 1, std::nullopt},
      {"bounce_does_not_start", {In(1000, "new"), Out(1010), In(1500, "bounce")}, {}, 9000, "ok", 1,
       std::nullopt},
      {"close_pauses", {In(1000, "new")}, {Ev(1050, "closed")}, 9000, "ok", 1, std::nullopt},
      {"close_after_due_stays_breached", {In(1000, "new")}, {Ev(1150, "closed")}, 9000, "breached", 1,
       std::nullopt},
      {"reopen_by_mail_starts_next",
       {In(1000, "new"), In(3000)},
       {Ev(1050, "closed"), Ev(3000, "reopened")},
       3010,
       "running",
       2,
       3050},
      {"agent_first_then_customer", {Out(900, "agent_new"), In(1000)}, {}, 1010, "running", 1, 1050},
  };
  for (const Case& c : cases) {
    SlaState s = ComputeSla(Targets(100, 50), c.messages, c.events, c.now);
    EXPECT_EQ(s.state, c.want_state) << c.name;
    EXPECT_EQ(s.clocks.size(), c.want_clocks) << c.name;
    if (c.want_running_due) {
      ASSERT_TRUE(s.running.has_value()) << c.name;
      EXPECT_EQ(s.running->due_at, *c.want_running_due) << c.name;
    } else {
      EXPECT_FALSE(s.running.has_value()) << c.name;
    }
  }
}

TEST(SlaTest, NoTargetsNoClocks) {
  SlaState s = ComputeSla(Targets(0, 0), {In(1000, "new")}, {}, 999999);
  EXPECT_EQ(s.state, "none");
  EXPECT_TRUE(s.clocks.empty());
  EXPECT_FALSE(s.breached);
}

TEST(SlaTest, BusinessHours) {
  // Mon..Fri 09:00-17:00 UTC. 2026-11-30 is a Monday; 1795996800 is its midnight UTC.
  Schedule s;
  s.always = false;
  const int64_t monday = 1795996800;
  const int64_t h = 3600;
  struct Case {
    const char* name;
    int64_t start, seconds, want;
  } cases[] = {
      {"inside_same_day", monday + 10 * h, 2 * h, monday + 12 * h},
      {"before_opening", monday + 6 * h, 1 * h, monday + 10 * h},
      {"spills_to_next_day", monday + 16 * h, 2 * h, monday + 24 * h + 10 * h},
      {"after_closing", monday + 20 * h, 1 * h, monday + 24 * h + 10 * h},
      {"friday_to_monday", monday + 4 * 24 * h + 16 * h, 2 * h, monday + 7 * 24 * h + 10 * h},
      {"saturday_start", monday + 5 * 24 * h + 12 * h, 1 * h, monday + 7 * 24 * h + 10 * h},
      {"exactly_a_week", monday + 9 * h, 40 * h, monday + 4 * 24 * h + 17 * h},
      {"three_weeks", monday + 9 * h, 120 * h, monday + 18 * 24 * h + 17 * h},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(AddBusinessSeconds(s, c.start, c.seconds), c.want) << c.name;
  }
  // A UTC offset moves the opening hours: 09:00 at UTC+2 is 07:00 UTC.
  s.utc_offset_minutes = 120;
  EXPECT_EQ(AddBusinessSeconds(s, monday + 6 * h, 1 * h), monday + 8 * h);
  // 24x7 adds plainly.
  EXPECT_EQ(AddBusinessSeconds(Schedule{}, 1000, 50), 1050);
}

TEST(SlaTest, BusinessHoursDueTimeOfAClock) {
  SlaTargets t = Targets(2 * 3600, 0);
  t.schedule.always = false;
  const int64_t friday_4pm = 1795996800 + 4 * 86400 + 16 * 3600;
  SlaState s = ComputeSla(t, {In(friday_4pm, "new")}, {}, friday_4pm + 86400);
  ASSERT_TRUE(s.running);
  EXPECT_EQ(s.running->due_at, 1795996800 + 7 * 86400 + 10 * 3600);  // Monday 10:00
  EXPECT_EQ(s.state, "running");  // Saturday: not late
}

TEST(SlaTest, ParseDuration) {
  int64_t v = 0;
  EXPECT_TRUE(ParseDuration("90", &v));
  EXPECT_EQ(v, 90);
  EXPECT_TRUE(ParseDuration("45m", &v));
  EXPECT_EQ(v, 2700);
  EXPECT_TRUE(ParseDuration("1h", &v));
  EXPECT_EQ(v, 3600);
  EXPECT_TRUE(ParseDuration("2d", &v));
  EXPECT_EQ(v, 172800);
  for (const char* bad : {"", "h", "1x", "1hh", "-1h", "1 h", "9999999999999"}) {
    EXPECT_FALSE(ParseDuration(bad, &v)) << bad;
  }
}

}  // namespace
}  // namespace desk
