// business_hours: the desk's open time (see the header).
#include "core/business_hours.h"

#include <glib.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <mutex>
#include <utility>

#include "core/ascii.h"

namespace desk {
namespace {

int DayNumber(std::string_view d) {
  static const char* const kDays[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
  for (int i = 0; i < 7; ++i) {
    if (d == kDays[i]) return i + 1;
  }
  return 0;
}

bool ParseClock(std::string_view t, int* minute) {
  if (t.size() != 5 || t[2] != ':') return false;
  for (size_t i : {0, 1, 3, 4}) {
    if (!std::isdigit(static_cast<unsigned char>(t[i]))) return false;
  }
  const int h = (t[0] - '0') * 10 + (t[1] - '0'), m = (t[3] - '0') * 10 + (t[4] - '0');
  if (h > 24 || m > 59 || (h == 24 && m != 0)) return false;
  *minute = h * 60 + m;
  return true;
}

// The zone, a new reference. Loading one reads its tzdata file (about 0.2 ms), and GLib forgets
// a zone with its last reference, so loaded zones are kept for the process: the names come from
// the config (checked at load), at most kMaxCachedZones of them; more are loaded per call.
constexpr size_t kMaxCachedZones = 64;

GTimeZone* ZoneOf(const BusinessHours& hours) {
  if (hours.time_zone.empty() || hours.time_zone == "UTC") return g_time_zone_new_utc();
  static std::mutex mu;
  static std::map<std::string, GTimeZone*, std::less<>>* cache =
      new std::map<std::string, GTimeZone*, std::less<>>();
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache->find(hours.time_zone);
    if (it != cache->end()) return g_time_zone_ref(it->second);
  }
  GTimeZone* tz = g_time_zone_new_identifier(hours.time_zone.c_str());
  if (tz == nullptr) return g_time_zone_new_utc();  // refused at load; never reached
  std::lock_guard<std::mutex> lock(mu);
  if (cache->size() < kMaxCachedZones && cache->emplace(hours.time_zone, tz).second) {
    return g_time_zone_ref(tz);
  }
  return tz;
}

// A local calendar date.
struct LocalDate {
  int year = 1970, month = 1, day = 1;
  int weekday = 4;  // 1 = Monday .. 7 = Sunday
};

// The open minutes of a local date, [start, end) after local midnight, sorted and merged: the
// spans of its weekday, none on a holiday. This is the definition of "open" both IsOpen and
// AddBusinessSeconds read.
std::vector<std::pair<int, int>> OpenMinutes(const BusinessHours& hours, const LocalDate& d) {
  std::vector<std::pair<int, int>> out;
  char date[16];
  std::snprintf(date, sizeof date, "%04d-%02d-%02d", d.year, d.month, d.day);
  for (const std::string& h : hours.holidays) {
    if (h == date) return out;
  }
  for (const BusinessSpan& s : hours.spans) {
    if (d.weekday >= s.first_day && d.weekday <= s.last_day) {
      out.emplace_back(s.start_minute, s.end_minute);
    }
  }
  std::sort(out.begin(), out.end());
  std::vector<std::pair<int, int>> merged;
  for (const auto& r : out) {
    if (!merged.empty() && r.first <= merged.back().second) {
      merged.back().second = std::max(merged.back().second, r.second);
    } else {
      merged.push_back(r);
    }
  }
  return merged;
}

// The first instant whose local time on date d reads `minute` (1440: the next date's midnight).
// GLib moves a time skipped by summer time to the end of the gap.
bool LocalToUtc(GTimeZone* tz, GDate* d, int minute, int64_t* out) {
  GDate next = *d;
  if (minute >= 1440) {
    g_date_add_days(&next, 1);
    minute -= 1440;
  }
  GDateTime* t = g_date_time_new(tz, g_date_get_year(&next), g_date_get_month(&next),
                                 g_date_get_day(&next), minute / 60, minute % 60, 0);
  if (t == nullptr) return false;
  *out = g_date_time_to_unix(t);
  g_date_time_unref(t);
  return true;
}

}  // namespace

bool ParseBusinessHours(std::string_view entry, BusinessSpan* out) {
  const std::string e = AsciiLower(TrimSpace(entry));
  const size_t sp = e.find(' ');
  if (sp == std::string::npos) return false;
  const std::string days = e.substr(0, sp), hours = std::string(TrimSpace(e.substr(sp + 1)));
  BusinessSpan s;
  const size_t dash = days.find('-');
  s.first_day = DayNumber(days.substr(0, dash));
  s.last_day = dash == std::string::npos ? s.first_day : DayNumber(days.substr(dash + 1));
  if (s.first_day == 0 || s.last_day == 0 || s.first_day > s.last_day) return false;
  const size_t hd = hours.find('-');
  if (hd == std::string::npos || !ParseClock(hours.substr(0, hd), &s.start_minute) ||
      !ParseClock(hours.substr(hd + 1), &s.end_minute) || s.start_minute >= s.end_minute) {
    return false;
  }
  *out = s;
  return true;
}

bool KnownTimeZone(const std::string& time_zone) {
  if (time_zone == "UTC") return true;
  // glib >= 2.68: NULL for an identifier it cannot load.
  GTimeZone* tz = g_time_zone_new_identifier(time_zone.c_str());
  if (tz == nullptr) return false;
  g_time_zone_unref(tz);
  return true;
}

BusinessHours BusinessHoursOf(const QueueConfig& queue) {
  BusinessHours h;
  for (const std::string& e : queue.business_hours) {
    BusinessSpan s;
    if (ParseBusinessHours(e, &s)) h.spans.push_back(s);
  }
  h.time_zone = queue.time_zone;
  h.holidays = queue.holidays;
  return h;
}

bool IsOpen(const BusinessHours& hours, int64_t now) {
  if (hours.spans.empty()) return true;
  GTimeZone* tz = ZoneOf(hours);
  GDateTime* utc = g_date_time_new_from_unix_utc(now);
  GDateTime* local = utc != nullptr ? g_date_time_to_timezone(utc, tz) : nullptr;
  bool open = false;
  if (local != nullptr) {
    LocalDate d;
    d.year = g_date_time_get_year(local);
    d.month = g_date_time_get_month(local);
    d.day = g_date_time_get_day_of_month(local);
    d.weekday = g_date_time_get_day_of_week(local);
    const int minute = g_date_time_get_hour(local) * 60 + g_date_time_get_minute(local);
    for (const auto& [from, to] : OpenMinutes(hours, d)) {
      open = open || (minute >= from && minute < to);
    }
    g_date_time_unref(local);
  }
  if (utc != nullptr) g_date_time_unref(utc);
  g_time_zone_unref(tz);
  return open;
}

bool BusinessHoursOpen(const QueueConfig& queue, int64_t now) {
  return IsOpen(BusinessHoursOf(queue), now);
}

int64_t AddBusinessSeconds(const BusinessHours& hours, int64_t start, int64_t seconds) {
  if (seconds <= 0) return start;
  if (hours.spans.empty()) return start + seconds;
  GTimeZone* tz = ZoneOf(hours);
  GDateTime* utc = g_date_time_new_from_unix_utc(start);
  GDateTime* local = utc != nullptr ? g_date_time_to_timezone(utc, tz) : nullptr;
  if (utc != nullptr) g_date_time_unref(utc);
  if (local == nullptr) {
    g_time_zone_unref(tz);
    return start + seconds;
  }
  GDate date;
  g_date_clear(&date, 1);
  g_date_set_dmy(&date, static_cast<GDateDay>(g_date_time_get_day_of_month(local)),
                 static_cast<GDateMonth>(g_date_time_get_month(local)),
                 static_cast<GDateYear>(g_date_time_get_year(local)));
  g_date_time_unref(local);
  int64_t at = start;  // how far the walk has counted
  int64_t left = seconds;
  for (int i = 0; i < kMaxBusinessDays && left > 0; ++i, g_date_add_days(&date, 1)) {
    LocalDate d;
    d.year = g_date_get_year(&date);
    d.month = g_date_get_month(&date);
    d.day = g_date_get_day(&date);
    d.weekday = g_date_get_weekday(&date);  // G_DATE_MONDAY = 1 .. G_DATE_SUNDAY = 7
    for (const auto& [open, close] : OpenMinutes(hours, d)) {
      int64_t from = 0, to = 0;
      if (!LocalToUtc(tz, &date, open, &from) || !LocalToUtc(tz, &date, close, &to)) continue;
      from = std::max(from, at);
      if (from >= to) continue;
      if (to - from >= left) {
        at = from + left;
        left = 0;
        break;
      }
      left -= to - from;
      at = to;
    }
  }
  g_time_zone_unref(tz);
  return at + left;
}

}  // namespace desk
