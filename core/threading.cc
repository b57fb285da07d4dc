#include "core/threading.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "core/message_id.h"
#include "core/reply_token.h"
#include "core/sha256.h"

namespace desk {
namespace {

bool NameIs(std::string_view name, std::string_view want) {
  if (name.size() != want.size()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(name[i])) !=
        std::tolower(static_cast<unsigned char>(want[i]))) {
      return false;
    }
  }
  return true;
}

// The one addr-spec of a From value written as `addr`, `Name <addr>` or `"Name" <addr>` (comments
// in parentheses allowed around it); "" for anything else: a list (','), a group (':' ';'), a
// route (`<@relay:addr>`), text after '>' (`<carol@x>mallory@y`), a '<' without '>', two '<'.
std::string StrictFromAddress(std::string_view v) {
  std::string outside;  // the value with quoted strings and comments blanked out
  std::string addr;
  int lt = 0, gt = 0;
  size_t lt_pos = 0, gt_pos = 0;
  bool quoted = false;
  int comment = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    const char c = v[i];
    if (quoted) {
      if (c == '\\') ++i;
      else if (c == '"') quoted = false;
      outside.push_back(' ');
      continue;
    }
    if (comment > 0) {
      if (c == '\\') ++i;
      else if (c == '(') ++comment;
      else if (c == ')') --comment;
      outside.push_back(' ');
      continue;
    }
    if (c == '"') { quoted = true; outside.push_back(' '); continue; }
    if (c == '(') { comment = 1; outside.push_back(' '); continue; }
    if (c == ',' || c == ';' || c == ':') return "";
    if (c == '<') { ++lt; lt_pos = outside.size(); }
    if (c == '>') { ++gt; gt_pos = outside.size(); }
    outside.push_back(c);
  }
  if (quoted || comment > 0 || lt != gt || lt > 1) return "";
  auto trim = [](std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
  };
  std::string_view spec;
  if (lt == 1) {
    if (gt_pos < lt_pos) return "";
    if (!trim(std::string_view(outside).substr(gt_pos + 1)).empty()) return "";
    spec = std::string_view(outside).substr(lt_pos + 1, gt_pos - lt_pos - 1);
  } else {
    spec = outside;
  }
  spec = trim(spec);
  if (spec.empty() || spec.front() == '@') return "";
  size_t at = spec.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == spec.size() ||
      spec.find('@', at + 1) != std::string_view::npos) {
    return "";
  }
  for (unsigned char c : spec) {
    if (c <= ' ' || c >= 0x7f) return "";
  }
  return std::string(spec);
}

// Rule 1b's evidence that the message went to the people of the ticket whose mail named its id
// first (issue 18 item 1): its To or Cc names a participant of that ticket other than a support or
// agent address (options.inside), which any outsider can copy. The sender being a participant
// proves nothing: whoever opens a ticket makes everyone it copies a participant.
Status AddressedToTicket(TicketStore* store, uint64_t ticket, const ParsedMessage& msg,
                         const ThreadOptions& options, bool* out) {
  *out = false;
  Ticket t;
  Status st = store->GetTicket(ticket, &t);
  if (st.IsNotFound()) return Status::Ok();
  if (!st.ok()) return st;
  const auto& p = t.participants;
  auto on_ticket = [&](const std::string& addr) {
    const std::string a = NormalizeAddress(addr);
    if (a.empty() || (options.inside && options.inside(a))) return false;
    return std::find(p.begin(), p.end(), a) != p.end();
  };
  for (const auto* list : {&msg.to, &msg.cc}) {
    for (const Mailbox& mb : *list) {
      if (on_ticket(mb.address)) {
        *out = true;
        return Status::Ok();
      }
    }
  }
  return Status::Ok();
}

}  // namespace

bool StrictFrom(const ParsedMessage& msg) {
  const std::string* value = nullptr;
  for (const auto& [name, v] : msg.headers) {
    if (!NameIs(name, "From")) continue;
    if (value != nullptr) return false;  // two From headers
    value = &v;
  }
  if (value == nullptr) return false;
  const std::string addr = StrictFromAddress(*value);
  // What GMime read as the first mailbox must be that one address, or the two readings differ.
  return !addr.empty() && NameIs(addr, msg.from.address);
}

bool DmarcPassFromTrusted(const ParsedMessage& msg,
                          const std::vector<std::string>& trusted_authserv_ids) {
  if (trusted_authserv_ids.empty()) return false;
  const size_t at = msg.from.address.rfind('@');
  if (at == std::string::npos || !StrictFrom(msg)) return false;
  const std::string domain = msg.from.address.substr(at + 1);
  const std::string* value = nullptr;
  for (const auto& [name, v] : msg.headers) {
    if (NameIs(name, "Authentication-Results")) {
      value = &v;  // the topmost: the one our own MTA's checker inserted
      break;
    }
  }
  if (value == nullptr) return false;
  std::string text;  // comments removed, lower case
  int depth = 0;
  for (char c : *value) {
    if (c == '(') ++depth;
    else if (c == ')' && depth > 0) --depth;
    else if (depth == 0) text.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  std::vector<std::string_view> parts;
  for (size_t from = 0; from <= text.size();) {
    size_t semi = text.find(';', from);
    if (semi == std::string::npos) semi = text.size();
    std::string_view p = std::string_view(text).substr(from, semi - from);
    while (!p.empty() && std::isspace(static_cast<unsigned char>(p.front()))) p.remove_prefix(1);
    while (!p.empty() && std::isspace(static_cast<unsigned char>(p.back()))) p.remove_suffix(1);
    parts.push_back(p);
    from = semi + 1;
  }
  if (parts.empty()) return false;
  std::string_view id = parts[0].substr(0, parts[0].find_first_of(" \t"));  // drop a version
  bool trusted = false;
  for (const std::string& t : trusted_authserv_ids) trusted = trusted || NameIs(t, id);
  if (!trusted) return false;
  for (size_t i = 1; i < parts.size(); ++i) {
    std::string_view r = parts[i];
    if (r.substr(0, 10) != "dmarc=pass") continue;
    if (r.size() > 10 && !std::isspace(static_cast<unsigned char>(r[10]))) continue;
    for (size_t p = r.find("header.from="); p != std::string_view::npos;
         p = r.find("header.from=", p + 1)) {
      std::string_view d = r.substr(p + 12);
      d = d.substr(0, d.find_first_of(" \t"));
      if (NameIs(domain, d)) return true;
    }
  }
  return false;
}

std::vector<std::string> ReferencedIds(const ParsedMessage& msg, int64_t max_references) {
  std::vector<std::string> ids;
  auto add = [&](const std::string& id) {
    if (static_cast<int64_t>(ids.size()) >= max_references) return;
    if (!WellFormedMessageId(id) || id == msg.message_id) return;
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  };
  add(msg.in_reply_to);
  for (auto it = msg.references.rbegin(); it != msg.references.rend(); ++it) add(*it);
  return ids;
}

std::string FormatSubjectTag(const std::string& format, uint64_t n) {
  std::string out = format;
  size_t pos = out.find("{n}");
  if (pos != std::string::npos) out.replace(pos, 3, std::to_string(n));
  return out;
}

std::string RemoveForeignTags(const std::string& subject, const std::string& format,
                              uint64_t keep) {
  size_t hole = format.find("{n}");
  if (hole == std::string::npos) return subject;
  const std::string prefix = format.substr(0, hole), suffix = format.substr(hole + 3);
  if (prefix.empty() && suffix.empty()) return subject;
  std::string out;
  size_t from = 0;  // everything before it is copied or dropped already
  size_t scan = 0;
  while (scan < subject.size()) {
    size_t p = subject.find(prefix, scan);
    if (p == std::string::npos) break;
    size_t digits = p + prefix.size();
    size_t end = digits;
    while (end < subject.size() && subject[end] >= '0' && subject[end] <= '9') ++end;
    if (end > digits && subject.compare(end, suffix.size(), suffix) == 0) {
      uint64_t n = 0;
      auto r = std::from_chars(subject.data() + digits, subject.data() + end, n);
      const bool ours = r.ec == std::errc() && n == keep && keep != 0;
      size_t stop = end + suffix.size();
      if (!ours) {
        out.append(subject, from, p - from);
        while (stop < subject.size() && subject[stop] == ' ') ++stop;
        from = stop;
      }
      scan = stop;
    } else {
      scan = p + 1;
    }
  }
  out.append(subject, from, std::string::npos);
  return out;
}

std::optional<uint64_t> FindSubjectTag(const std::string& subject, const std::string& format) {
  size_t hole = format.find("{n}");
  if (hole == std::string::npos) return std::nullopt;
  const std::string prefix = format.substr(0, hole), suffix = format.substr(hole + 3);
  size_t from = 0;
  while (from <= subject.size()) {
    size_t p = subject.find(prefix, from);
    if (p == std::string::npos) return std::nullopt;
    size_t digits = p + prefix.size();
    size_t end = digits;
    while (end < subject.size() && subject[end] >= '0' && subject[end] <= '9') ++end;
    if (end > digits && end - digits <= 18 && subject.compare(end, suffix.size(), suffix) == 0) {
      uint64_t n = 0;
      std::from_chars(subject.data() + digits, subject.data() + end, n);
      if (n > 0) return n;
    }
    from = p + 1;
  }
  return std::nullopt;
}

std::string ContentSignature(const Spool& spool, const ParsedMessage& msg,
                             const std::string& envelope_sender) {
  Sha256 h;
  h.Update("deskmilter-signature:v1\n");
  h.Update(envelope_sender);
  h.Update("\n");
  constexpr size_t kChunk = 64 * 1024;
  std::string chunk;
  for (uint64_t off = msg.body_offset; off < spool.size(); off += chunk.size()) {
    if (!spool.Read(off, kChunk, &chunk).ok()) return "";
    if (chunk.empty()) break;
    h.Update(chunk);
  }
  return h.HexDigest().substr(0, 32);
}

std::string CollisionStorageId(const std::string& message_id, std::string_view signature) {
  return Sha256Hex(message_id + "\n" + std::string(signature)).substr(0, 24) +
         ".collision@deskmilter.invalid";
}

Status ResolveThread(TicketStore* store, const ParsedMessage& msg, const QueueMatch& match,
                     const std::string& sender, const ThreadOptions& options, ThreadResult* out) {
  *out = ThreadResult{};
  if (store == nullptr) return Status::Ok();
  const int64_t max_references = options.max_references;
  const std::string_view reply_token_secret = options.reply_token_secret;

  // Rule 0: the message's own id. Stored: a duplicate. Only referenced by a ticket's mail (its
  // reply arrived first): remembered, but taken only when no stored parent says otherwise and the
  // message was addressed to a participant of that ticket, since anyone who knows an id can
  // reference it first (squatting, issue 18 item 1). Not taken, the message is stored elsewhere
  // and its entry then points there: a stored message takes a named-only id over.
  MessageIdEntry e;
  uint64_t referenced_by = 0;
  Status st = msg.message_id.empty() ? Status::NotFound("") : store->FindMessageId(msg.message_id, &e);
  if (st.ok()) {
    const bool same = e.signature.empty() || options.signature.empty() ||
                      e.signature == options.signature;
    if (e.stored && !same) {
      // Planted duplicate (issue 18 item 2): another message holds this id. This one is kept
      // under its own generated id; a retry of it finds that id stored and is a duplicate.
      out->collision_ticket = e.ticket;
      out->storage_id = CollisionStorageId(msg.message_id, options.signature);
      MessageIdEntry mine;
      st = store->FindMessageId(out->storage_id, &mine);
      if (st.ok() && mine.stored) {
        const uint64_t collided = out->collision_ticket;
        std::string storage_id = std::move(out->storage_id);
        *out = ThreadResult{};
        out->kind = ThreadResult::Kind::kDuplicate;
        out->ticket = mine.ticket;
        out->matched_id = msg.message_id;
        out->collision_ticket = collided;
        out->storage_id = std::move(storage_id);
        return Status::Ok();
      }
      if (!st.ok() && !st.IsNotFound()) return st;
    } else if (e.stored) {
      out->kind = ThreadResult::Kind::kDuplicate;
      out->ticket = e.ticket;
      out->matched_id = msg.message_id;
      return Status::Ok();
    } else {
      referenced_by = e.ticket;
    }
  } else if (!st.IsNotFound()) {
    return st;
  }

  // Rule 1: In-Reply-To, then References newest first. A parent that is a stored message beats
  // an id that some ticket's mail merely named: stored ids were written by the mail itself, named
  // ids by whoever wrote first. The first hit of the stronger kind wins; a second ticket named is
  // reported.
  const bool irt_valid = !msg.in_reply_to.empty() && msg.in_reply_to != msg.message_id;
  struct Hit {
    uint64_t ticket;
    std::string id;
  };
  std::vector<Hit> stored_hits, named_hits;
  for (const std::string& id : ReferencedIds(msg, max_references)) {
    st = store->FindMessageId(id, &e);
    if (st.IsNotFound()) continue;
    if (!st.ok()) return st;
    if (e.contested) continue;  // it names two messages: followed by neither
    (e.stored ? stored_hits : named_hits).push_back({e.ticket, id});
  }
  auto take = [&](uint64_t ticket, const std::string& by, const std::string& id) {
    out->kind = ThreadResult::Kind::kReply;
    out->ticket = ticket;
    out->matched_by = by;
    out->matched_id = id;
  };
  auto by_of = [&](const std::string& id) {
    return irt_valid && id == msg.in_reply_to ? "in_reply_to" : "references";
  };
  // Rule 1b, the late parent, needs evidence beyond the id (AddressedToTicket); without it the
  // message may still join that ticket through its own references (1c).
  bool late_parent_joins = false;
  if (stored_hits.empty() && referenced_by != 0) {
    st = AddressedToTicket(store, referenced_by, msg, options, &late_parent_joins);
    if (!st.ok()) return st;
    if (!late_parent_joins) out->unjoined_referenced_by = referenced_by;
  }
  if (!stored_hits.empty()) {
    take(stored_hits.front().ticket, by_of(stored_hits.front().id), stored_hits.front().id);
  } else if (late_parent_joins) {
    take(referenced_by, "referenced_by", msg.message_id);
  } else if (!named_hits.empty()) {
    take(named_hits.front().ticket, by_of(named_hits.front().id), named_hits.front().id);
  }
  if (out->ticket != 0) {
    for (const auto* hits : {&stored_hits, &named_hits}) {
      for (const Hit& h : *hits) {
        if (h.ticket != out->ticket && out->also_ticket == 0) out->also_ticket = h.ticket;
      }
    }
    if (late_parent_joins && referenced_by != out->ticket && out->also_ticket == 0) {
      out->also_ticket = referenced_by;
    }
  }
  if (out->unjoined_referenced_by == out->ticket) out->unjoined_referenced_by = 0;
  if (out->ticket != 0) return Status::Ok();

  // Rule 1d: the reply token in the plus address the customer wrote to.
  if (match.queue != nullptr && !match.plus_tag.empty() && !reply_token_secret.empty() &&
      match.plus_tag.find('-') != std::string::npos) {
    Ticket t;
    auto n = CheckReplyToken(reply_token_secret, match.queue->name, match.plus_tag, options.now,
                             options.reply_token_max_age, &out->expired_token);
    Status tst = n ? store->GetTicket(*n, &t) : Status::NotFound("");
    if (tst.ok()) {
      out->kind = ThreadResult::Kind::kReply;
      out->ticket = *n;
      out->matched_by = "reply_token";
      return Status::Ok();
    }
    if (!tst.IsNotFound()) return tst;
    out->ignored_token = true;
  }

  // Rule 2: the queue's subject tag, from a participant only.
  if (match.queue != nullptr) {
    if (auto n = FindSubjectTag(msg.subject, match.queue->subject_tag)) {
      Ticket t;
      Status tst = store->GetTicket(*n, &t);
      if (tst.ok()) {
        const auto& p = t.participants;
        if (!sender.empty() && StrictFrom(msg) &&
            std::find(p.begin(), p.end(), sender) != p.end()) {
          out->kind = ThreadResult::Kind::kReply;
          out->ticket = *n;
          out->matched_by = "subject_tag";
          return Status::Ok();
        }
        out->ignored_tag_ticket = *n;
      } else if (tst.IsNotFound()) {
        out->ignored_tag_ticket = *n;  // a tag naming no ticket is ignored the same way
      } else {
        return tst;
      }
    }
  }
  // Rule 3: a new ticket.
  return Status::Ok();
}

}  // namespace desk
