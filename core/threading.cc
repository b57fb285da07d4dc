#include "core/threading.h"

#include <algorithm>
#include <charconv>

namespace desk {
namespace {

// Looks id up; true when it is a stored message of some ticket.
Status LookupStored(TicketStore* store, const std::string& id, uint64_t* ticket) {
  if (id.empty()) return Status::NotFound("empty id");
  MessageIdEntry e;
  Status st = store->FindMessageId(id, &e);
  if (!st.ok()) return st;
  if (!e.stored) return Status::NotFound("only referenced");
  *ticket = e.ticket;
  return Status::Ok();
}

}  // namespace

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
                     const std::string& sender, ThreadResult* out) {
  *out = ThreadResult{};
  if (store == nullptr) return Status::Ok();

  uint64_t ticket = 0;
  Status st = LookupStored(store, msg.message_id, &ticket);
  if (st.ok()) {
    out->kind = ThreadResult::Kind::kDuplicate;
    out->ticket = ticket;
    out->matched_id = msg.message_id;
    return Status::Ok();
  }
  if (!st.IsNotFound()) return st;

  // Rule 1: In-Reply-To, then References newest first.
  std::vector<std::pair<std::string, const char*>> candidates;
  if (!msg.in_reply_to.empty()) candidates.emplace_back(msg.in_reply_to, "in_reply_to");
  for (auto it = msg.references.rbegin(); it != msg.references.rend(); ++it) {
    candidates.emplace_back(*it, "references");
  }
  for (const auto& [id, rule] : candidates) {
    st = LookupStored(store, id, &ticket);
    if (st.ok()) {
      out->kind = ThreadResult::Kind::kReply;
      out->ticket = ticket;
      out->matched_by = rule;
      out->matched_id = id;
      return Status::Ok();
    }
    if (!st.IsNotFound()) return st;
  }

  // Rule 2: the queue's subject tag, from a participant only.
  if (match.queue != nullptr) {
    if (auto n = FindSubjectTag(msg.subject, match.queue->subject_tag)) {
      Ticket t;
      st = store->GetTicket(*n, &t);
      if (st.ok()) {
        const auto& p = t.participants;
        if (!sender.empty() && std::find(p.begin(), p.end(), sender) != p.end()) {
          out->kind = ThreadResult::Kind::kReply;
          out->ticket = *n;
          out->matched_by = "subject_tag";
          return Status::Ok();
        }
        out->ignored_tag_ticket = *n;
      } else if (st.IsNotFound()) {
        out->ignored_tag_ticket = *n;  // a tag naming no ticket is ignored the same way
      } else {
        return st;
      }
    }
  }
  // Rule 3: a new ticket.
  return Status::Ok();
}

}  // namespace desk
