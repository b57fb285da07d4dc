// business_hours: when a queue's desk is open. The one definition of "open", shared by routing
// (a queue's account status, core/routing.h) and SLA clocks (business time, core/sla.h).
//
// A queue's hours are weekly spans ("mon-fri 09:00-17:00") in an IANA time zone, summer time
// included (GLib's copy of tzdata), with holidays (local dates) closed all day. No spans: open
// 24x7. Pure: time comes in as a parameter (seconds since the epoch).
//
// Limits: a span boundary inside the hour repeated when summer time ends (e.g. 02:30 on the last
// Sunday of October in Europe/Paris) is taken at its first occurrence by AddBusinessSeconds, while
// IsOpen reads the local clock; boundaries in the hour skipped in spring are moved to its end by
// both. AddBusinessSeconds walks at most kMaxBusinessDays local days (see there).
//
// Thread-safety: pure functions (GLib's time-zone cache is thread-safe).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"

namespace desk {

// One entry: DAY[-DAY] HH:MM-HH:MM, days mon..sun, the end after the start (24:00 allowed), in the
// queue's time_zone. ParseBusinessHours is also the config's check.
struct BusinessSpan {
  int first_day = 1, last_day = 1;  // 1 = Monday .. 7 = Sunday, first_day <= last_day
  int start_minute = 0, end_minute = 0;  // minutes after local midnight, start < end <= 1440
};
bool ParseBusinessHours(std::string_view entry, BusinessSpan* out);
// True when time_zone is an IANA zone name this system knows (tzdata), or "UTC".
bool KnownTimeZone(const std::string& time_zone);

struct BusinessHours {
  std::vector<BusinessSpan> spans;    // empty: open 24x7
  std::string time_zone = "UTC";      // IANA name; "" = UTC
  std::vector<std::string> holidays;  // YYYY-MM-DD, local dates closed all day
};

// A queue's hours from its config (business_hours, time_zone, holidays). Entries that do not parse
// are skipped (the config refuses them at load).
BusinessHours BusinessHoursOf(const QueueConfig& queue);

// Whether the desk is open at now: no spans is always open; a holiday is closed all day.
bool IsOpen(const BusinessHours& hours, int64_t now);
// Shorthand for IsOpen(BusinessHoursOf(queue), now).
bool BusinessHoursOpen(const QueueConfig& queue, int64_t now);

// The instant `seconds` of open time after start (seconds <= 0: start). 24x7 adds plainly. A due
// time that lands exactly on a closing time is that closing time. Walks local days from start's
// (about 2 us for a 10 h target over a weekend); after kMaxBusinessDays without using up `seconds`
// (hours open a few minutes a year), the rest counts as plain time after the last open time
// counted.
constexpr int kMaxBusinessDays = 3700;
int64_t AddBusinessSeconds(const BusinessHours& hours, int64_t start, int64_t seconds);

}  // namespace desk
