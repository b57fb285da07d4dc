// ticket_view: view filters and word search (see the header).
#include "core/ticket_view.h"

#include <glib.h>

#include <algorithm>
#include <string_view>

#include "core/address.h"

namespace desk {
namespace {

// Lower-cases valid UTF-8 (ASCII directly, the rest with GLib's simple lower-case mapping);
// invalid bytes become U+FFFD. Simple mapping rather than g_utf8_casefold: several times faster
// over 100,000 bodies, and query and text go through the same function.
void Fold(std::string_view s, std::string* out) {
  out->clear();
  out->reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out->push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c));
      ++i;
      continue;
    }
    const gunichar u = g_utf8_get_char_validated(s.data() + i, static_cast<gssize>(s.size() - i));
    if (u == static_cast<gunichar>(-1) || u == static_cast<gunichar>(-2)) {
      out->append("\xEF\xBF\xBD");
      ++i;
      continue;
    }
    char buf[8];
    const int n = g_unichar_to_utf8(g_unichar_tolower(u), buf);
    out->append(buf, static_cast<size_t>(n));
    i += static_cast<size_t>(g_utf8_skip[c]);
  }
}

std::string Fold(std::string_view s) {
  std::string out;
  Fold(s, &out);
  return out;
}

bool AllIn(const std::vector<std::string>& words, const std::string& folded,
           std::vector<bool>* found) {
  bool all = true;
  for (size_t i = 0; i < words.size(); ++i) {
    if (!(*found)[i] && folded.find(words[i]) != std::string::npos) (*found)[i] = true;
    all = all && (*found)[i];
  }
  return all;
}

}  // namespace

bool SearchWords(const std::string& text, std::vector<std::string>* words) {
  words->clear();
  const std::string folded = Fold(text);
  std::string cur;
  auto flush = [&]() -> bool {
    if (cur.empty()) return true;
    if (cur.size() > 100 || words->size() == kMaxSearchWords) return false;
    words->push_back(cur);
    cur.clear();
    return true;
  };
  for (const gchar* p = folded.c_str(); *p != '\0'; p = g_utf8_next_char(p)) {
    const gunichar c = g_utf8_get_char(p);
    if (g_unichar_isalnum(c) || g_unichar_ismark(c)) {
      cur.append(p, static_cast<size_t>(g_utf8_next_char(p) - p));
    } else if (!flush()) {
      return false;
    }
  }
  return flush();
}

namespace {

void AddRun(std::string_view run, std::vector<std::string>* keys) {
  if (run.empty()) return;
  if (run.size() <= kMaxIndexedWordBytes) {
    keys->emplace_back(run);
    return;
  }
  for (size_t start = 0; start < run.size(); start += kMaxIndexedWordBytes / 2) {
    keys->emplace_back(run.substr(start, kMaxIndexedWordBytes));
    if (start + kMaxIndexedWordBytes >= run.size()) break;
  }
}

}  // namespace

void IndexWords(std::string_view text, std::vector<std::string>* keys) {
  std::string folded;
  Fold(text, &folded);  // valid UTF-8 (invalid bytes became U+FFFD)
  size_t run = 0;
  for (size_t i = 0; i < folded.size();) {
    const unsigned char c = static_cast<unsigned char>(folded[i]);
    size_t n = 1;
    bool word = false;
    if (c < 0x80) {
      word = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z');
    } else {
      n = static_cast<size_t>(g_utf8_skip[c]);
      const gunichar u = g_utf8_get_char(folded.data() + i);
      word = g_unichar_isalnum(u) || g_unichar_ismark(u);
    }
    if (!word) {
      AddRun(std::string_view(folded).substr(run, i - run), keys);
      run = i + n;
    }
    i += n;
  }
  AddRun(std::string_view(folded).substr(run), keys);
}

std::vector<std::string> IndexKeys(const std::string* title,
                                   const std::vector<const TicketMessage*>& messages) {
  std::vector<std::string> keys;
  if (title != nullptr) IndexWords(*title, &keys);
  for (const TicketMessage* m : messages) {
    IndexWords(m->subject, &keys);
    IndexWords(m->body, &keys);
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

bool MatchesFields(const ViewFilter& f, const Ticket& t) {
  if (!f.brand.empty() && (f.brand == "-" ? !t.brand.empty() : t.brand != f.brand)) return false;
  if (!f.requester.empty() &&
      NormalizeAddress(t.requester.address) != NormalizeAddress(f.requester)) {
    return false;
  }
  if (!f.assignee.empty()) {
    if (f.assignee == "-" ? !t.assigned_agent.empty()
                          : NormalizeAddress(t.assigned_agent) != NormalizeAddress(f.assignee)) {
      return false;
    }
  }
  if (!f.received_at.empty() &&
      NormalizeAddress(t.received_at) != NormalizeAddress(f.received_at)) {
    return false;
  }
  if (f.received_from != 0 && t.created_at < f.received_from) return false;
  if (f.received_until != 0 && t.created_at >= f.received_until) return false;
  return true;
}

bool MatchesWords(const std::vector<std::string>& words, const Ticket& t,
                  const std::vector<TicketMessage>& messages) {
  if (words.empty()) return true;
  std::vector<bool> found(words.size(), false);
  std::string folded;
  Fold(t.title, &folded);
  if (AllIn(words, folded, &found)) return true;
  for (const TicketMessage& m : messages) {
    Fold(m.subject, &folded);
    if (AllIn(words, folded, &found)) return true;
    Fold(m.body, &folded);
    if (AllIn(words, folded, &found)) return true;
  }
  return false;
}

bool MatchesSla(const ViewFilter& f, const SlaState& s, int64_t now) {
  if (f.sla.empty()) return true;
  if (f.sla == "breached") return s.breached;
  if (f.sla == "due") {
    return s.running && s.running->due_at >= now && s.running->due_at <= f.sla_due_by;
  }
  if (f.sla == "running") return s.running.has_value();
  return s.state == f.sla;
}

}  // namespace desk
