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

  MessageIdEntry e;
  Status st = msg.message_id.empty() ? Status::NotFound("") : store->FindMessageId(msg.message_id, &e);
  if (st.ok()) {
    out->kind = e.stored ? ThreadResult::Kind::kDuplicate : ThreadResult::Kind::kReply;
    out->ticket = e.ticket;
    out->matched_by = e.stored ? "" : "referenced_by";
    out->matched_id = msg.message_id;
    if (e.stored) return Status::Ok();
  } else if (!st.IsNotFound()) {
    return st;
  }

  // Rule 1: In-Reply-To, then References newest first; the first hit wins, a second ticket named
  // is reported.
  const bool irt_valid = !msg.in_reply_to.empty() && msg.in_reply_to != msg.message_id;
  for (const std::string& id : ReferencedIds(msg, max_references)) {
    st = store->FindMessageId(id, &e);
    if (st.IsNotFound()) continue;
    if (!st.ok()) return st;
    if (out->ticket == 0) {
      out->kind = ThreadResult::Kind::kReply;
      out->ticket = e.ticket;
      out->matched_by = irt_valid && id == msg.in_reply_to ? "in_reply_to" : "references";
      out->matched_id = id;
    } else if (e.ticket != out->ticket && out->also_ticket == 0) {
      out->also_ticket = e.ticket;
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
