// SLA clocks: first/next response, pauses on close, breach, business hours. Table-driven where the
// shape allows; times are small integers so the expectations read as arithmetic.
#include "core/sla.h"

#include <gtest/gtest.h>

#include "config/loader.h"

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

BusinessHours Hours(std::vector<std::string> entries, const std::string& time_zone = "UTC",
                    std::vector<std::string> holidays = {}) {
  QueueConfig q = config::DefaultQueueConfig();
  q.business_hours = std::move(entries);
  q.time_zone = time_zone;
  q.holidays = std::move(holidays);
  BusinessHours h = BusinessHoursOf(q);
  EXPECT_EQ(h.spans.size(), q.business_hours.size());
  return h;
}

TEST(SlaTest, BusinessHours) {
  // Mon..Fri 09:00-17:00 UTC. 2026-11-30 is a Monday; 1795996800 is its midnight UTC.
  BusinessHours s = Hours({"mon-fri 09:00-17:00"});
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
  // A zone moves the opening hours: 09:00 at UTC+2 (Etc/GMT-2) is 07:00 UTC.
  s.time_zone = "Etc/GMT-2";
  EXPECT_EQ(AddBusinessSeconds(s, monday + 6 * h, 1 * h), monday + 8 * h);
  // 24x7 adds plainly.
  EXPECT_EQ(AddBusinessSeconds(BusinessHours{}, 1000, 50), 1050);
}

TEST(SlaTest, BusinessHoursDueTimeOfAClock) {
  SlaTargets t = Targets(2 * 3600, 0);
  t.hours = Hours({"mon-fri 09:00-17:00"});
  const int64_t friday_4pm = 1795996800 + 4 * 86400 + 16 * 3600;
  SlaState s = ComputeSla(t, {In(friday_4pm, "new")}, {}, friday_4pm + 86400);
  ASSERT_TRUE(s.running);
  EXPECT_EQ(s.running->due_at, 1795996800 + 7 * 86400 + 10 * 3600);  // Monday 10:00
  EXPECT_EQ(s.state, "running");  // Saturday: not late
}

// A queue in Europe/Paris, Mon..Fri 09:00-17:00 local, Easter-like holiday on Monday 2026-03-30.
// Summer time starts on Sunday 2026-03-29 (CET UTC+1 -> CEST UTC+2), ends Sunday 2026-10-25.
TEST(SlaTest, QueueHoursNightWeekendHolidayAndSummerTime) {
  const BusinessHours paris = Hours({"mon-fri 09:00-17:00"}, "Europe/Paris", {"2026-03-30"});
  const int64_t h = 3600;
  const int64_t fri_mar27_1500z = 1774623600;  // Friday 16:00 CET
  const int64_t tue_mar31_1400z = 1774965600;  // Tuesday 16:00 CEST
  const int64_t wed_apr01_0800z = 1775030400;  // Wednesday 10:00 CEST
  const int64_t fri_oct23_1400z = 1792764000;  // Friday 16:00 CEST
  const int64_t mon_oct26_0900z = 1793005200;  // Monday 10:00 CET
  struct Case {
    const char* name;
    int64_t start, seconds, want;
  } cases[] = {
      // Friday 1 h (to 17:00 CET = 16:00Z), weekend, the summer-time change, the holiday Monday,
      // Tuesday 09:00-17:00 CEST (07:00Z-15:00Z) 8 h, the night, Wednesday 09:00 CEST + 1 h.
      {"night_weekend_holiday_spring", fri_mar27_1500z, 10 * h, wed_apr01_0800z},
      // One night: Tuesday 16:00-17:00 CEST, then Wednesday 09:00-10:00 CEST.
      {"one_night", tue_mar31_1400z, 2 * h, wed_apr01_0800z},
      // Opens at 08:00Z before the change and 07:00Z after it: Friday 09:00 CET + 1 h.
      {"opening_in_winter_time", fri_mar27_1500z - 7 * h, 1 * h, fri_mar27_1500z - 6 * h},
      // Summer time ends: Friday 16:00-17:00 CEST, then Monday 09:00 CET (08:00Z) + 1 h.
      {"weekend_autumn", fri_oct23_1400z, 2 * h, mon_oct26_0900z},
      // A due time exactly at closing is the closing time, not the next opening.
      {"ends_at_closing", tue_mar31_1400z, 1 * h, tue_mar31_1400z + 1 * h},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(AddBusinessSeconds(paris, c.start, c.seconds), c.want) << c.name;
  }
  // Through the clocks: the customer writes Friday 16:00 CET with a 10 h first-response target.
  SlaTargets t = Targets(10 * h, 0);
  t.hours = paris;
  SlaState s = ComputeSla(t, {In(fri_mar27_1500z, "new")}, {}, wed_apr01_0800z - 60);
  ASSERT_TRUE(s.running);
  EXPECT_EQ(s.running->due_at, wed_apr01_0800z);
  EXPECT_EQ(s.state, "running");  // five wall days later, not late in business time
  s = ComputeSla(t, {In(fri_mar27_1500z, "new")}, {}, wed_apr01_0800z + 60);
  EXPECT_EQ(s.state, "breached");
  // The same queue without business hours runs 24x7: due 10 wall hours later.
  SlaTargets always = Targets(10 * h, 0);
  always.hours = BusinessHoursOf(config::DefaultQueueConfig());
  s = ComputeSla(always, {In(fri_mar27_1500z, "new")}, {}, fri_mar27_1500z);
  ASSERT_TRUE(s.running);
  EXPECT_EQ(s.running->due_at, fri_mar27_1500z + 10 * h);
}

// SLA time and routing's "open" are one definition: minute by minute over the weeks of both
// summer-time changes, AddBusinessSeconds(start, n minutes) ends right after the n-th minute
// IsOpen calls open. The Sunday span straddles the skipped hour (spring) and the repeated hour
// (autumn), a holiday closes a Monday, and "sat 00:00-24:00" runs to midnight.
TEST(SlaTest, BusinessTimeCountsExactlyTheMinutesIsOpenCallsOpen) {
  const BusinessHours hours = Hours(
      {"mon-fri 09:00-12:30", "tue-thu 13:30-18:00", "sat 00:00-24:00", "sun 01:30-03:30"},
      "Europe/Paris", {"2026-03-30", "2026-10-26"});
  for (const int64_t start : {int64_t{1774483200}, int64_t{1792627200}}) {  // Thu 26 Mar, 22 Oct
    int64_t open_minutes = 0;
    int64_t sunday_minutes = 0;  // Saturday 23:00Z .. Sunday 04:00Z: the Sunday span only
    const int64_t sunday_from = start + 2 * 86400 + 23 * 3600, sunday_to = sunday_from + 5 * 3600;
    for (int64_t t = start; t < start + 8 * 86400; t += 60) {
      if (!IsOpen(hours, t)) continue;
      ++open_minutes;
      sunday_minutes += t >= sunday_from && t < sunday_to ? 1 : 0;
      ASSERT_EQ(AddBusinessSeconds(hours, start, open_minutes * 60), t + 60)
          << "start " << start << " minute " << open_minutes;
    }
    // Spring: 01:30-02:00 CET and 03:00-03:30 CEST (60 min). Autumn: 01:30 CEST .. 03:30 CET
    // through the repeated hour (180 min). Saturday ends at local midnight, before 23:00Z.
    EXPECT_EQ(sunday_minutes, start == 1774483200 ? 60 : 180);
    // Thu, Fri: 3.5 + 8 h and 3.5 h; Sat 24 h; Sun; the holiday Monday none; Tue, Wed 8 h each;
    // the second Thursday up to 24:00Z (Paris is ahead of UTC, so all of its open time).
    const int64_t sunday = start == 1774483200 ? 60 : 180;
    EXPECT_EQ(open_minutes, (8 * 60) * 4 + 210 + 24 * 60 + sunday);
  }
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
