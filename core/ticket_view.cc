// ticket_view: view filters and word search (see the header).
#include "core/ticket_view.h"

#include <glib.h>

#include "core/address.h"

namespace desk {
namespace {

std::string Fold(const std::string& s) {
  gchar* valid = g_utf8_make_valid(s.data(), static_cast<gssize>(s.size()));
  gchar* folded = g_utf8_casefold(valid, -1);
  std::string out(folded);
  g_free(folded);
  g_free(valid);
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
  if (AllIn(words, Fold(t.title), &found)) return true;
  for (const TicketMessage& m : messages) {
    if (AllIn(words, Fold(m.subject), &found)) return true;
    if (AllIn(words, Fold(m.body), &found)) return true;
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
