// ticket_view: the filters of `deskctl tickets` (views) and word search, as pure predicates.
//
// A view narrows the ticket list by fields stored on the ticket (queue and status are already
// narrowed by the store), then, for what needs a ticket's messages, by word search and SLA state.
// Callers test the cheap MatchesFields first and read messages only for the tickets that pass.
//
// Words: the search text is split on anything that is not a letter or digit; a ticket matches when
// every word occurs (as a substring, lower-cased with GLib's simple Unicode mapping) in its title or
// in the subject or body of one of its messages. Bounds: at most kMaxSearchWords words, each at most 100
// bytes; the text searched is what the store keeps (bodies already cut at max_body_chars).
//
// Word index (the store's `words` table, core/lmdb_store.h): IndexWords cuts text into the folded
// runs of letters, digits and marks that SearchWords makes words of. A search word that occurs in
// folded text lies inside one such run (it is made of the same characters and UTF-8 is
// self-synchronising), so the tickets indexed under the runs that contain the word are a superset
// of the tickets MatchesWords accepts; callers still check each with MatchesWords. Runs longer than
// kMaxIndexedWordBytes are indexed as overlapping windows of that length starting every
// kMaxIndexedWordBytes / 2 bytes, so every substring of at most 100 bytes lies inside one window.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/sla.h"
#include "core/ticket.h"

namespace desk {

inline constexpr size_t kMaxSearchWords = 16;
inline constexpr size_t kMaxIndexedWordBytes = 200;  // >= 2 * the longest search word (100 bytes)

struct ViewFilter {
  std::string brand;        // "" = any; "-" = tickets without a brand
  std::string requester;    // address, any case; "" = any
  std::string assignee;     // agent address; "-" = unassigned; "" = any
  std::string received_at;  // support address, any case; "" = any
  int64_t received_from = 0;   // created_at >= this; 0 = no bound
  int64_t received_until = 0;  // created_at < this; 0 = no bound
  std::vector<std::string> words;  // case-folded search words (SearchWords)
  // SLA: "" = any; "breached"; "due" (a running clock due at or before sla_due_by, not yet late);
  // "running"; "ok"; "none".
  std::string sla;
  int64_t sla_due_by = 0;
};

// Splits and case-folds search text; false when it holds more than kMaxSearchWords words or a word
// longer than 100 bytes.
bool SearchWords(const std::string& text, std::vector<std::string>* words);

// Adds the index keys of text (folded runs, windows of long runs; see above) to *keys, unsorted and
// possibly repeated. Linear in the size of text.
void IndexWords(std::string_view text, std::vector<std::string>* keys);
// The index keys of a ticket's title and of a message's subject and body, sorted, no repeats.
std::vector<std::string> IndexKeys(const std::string* title, const std::vector<const TicketMessage*>& messages);

bool MatchesFields(const ViewFilter& f, const Ticket& t);
bool MatchesWords(const std::vector<std::string>& words, const Ticket& t,
                  const std::vector<TicketMessage>& messages);
bool MatchesSla(const ViewFilter& f, const SlaState& s, int64_t now);

}  // namespace desk
