#include "core/threading.h"

#include <algorithm>
#include <charconv>

#include "core/reply_token.h"

namespace desk {
namespace {

bool WellFormedId(const std::string& id) {
  if (id.empty() || id.size() > 250 || id.find('@') == std::string::npos) return false;
  for (unsigned char c : id) {
    if (c <= ' ' || c >= 0x7f || c == '<' || c == '>') return false;
  }
  return true;
}

}  // namespace

std::vector<std::string> ReferencedIds(const ParsedMessage& msg, int64_t max_references) {
  std::vector<std::string> ids;
  auto add = [&](const std::string& id) {
    if (static_cast<int64_t>(ids.size()) >= max_references) return;
    if (!WellFormedId(id) || id == msg.message_id) return;
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

Status ResolveThread(TicketStore* store, const ParsedMessage& msg, const QueueMatch& match,
                     const std::string& sender, int64_t max_references, ThreadResult* out,
                     std::string_view reply_token_secret) {
  *out = ThreadResult{};
  if (store == nullptr) return Status::Ok();

  // Rule 0: the message's own id. Stored: a duplicate. Only referenced by a ticket's mail (its
  // reply arrived first): remembered, but taken only when no stored parent says otherwise, since
  // anyone who knows an id can reference it first (squatting, issue 18 item 1).
  MessageIdEntry e;
  uint64_t referenced_by = 0;
  Status st = msg.message_id.empty() ? Status::NotFound("") : store->FindMessageId(msg.message_id, &e);
  if (st.ok()) {
    if (e.stored) {
      out->kind = ThreadResult::Kind::kDuplicate;
      out->ticket = e.ticket;
      out->matched_id = msg.message_id;
      return Status::Ok();
    }
    referenced_by = e.ticket;
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
  if (!stored_hits.empty()) {
    take(stored_hits.front().ticket, by_of(stored_hits.front().id), stored_hits.front().id);
  } else if (referenced_by != 0) {
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
    if (referenced_by != 0 && referenced_by != out->ticket && out->also_ticket == 0) {
      out->also_ticket = referenced_by;
    }
  }
  if (out->ticket != 0) return Status::Ok();

  // Rule 1b: the reply token in the plus address the customer wrote to.
  if (match.queue != nullptr && !match.plus_tag.empty() && !reply_token_secret.empty() &&
      match.plus_tag.find('-') != std::string::npos) {
    Ticket t;
    auto n = CheckReplyToken(reply_token_secret, match.queue->name, match.plus_tag);
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
        if (!sender.empty() && std::find(p.begin(), p.end(), sender) != p.end()) {
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
