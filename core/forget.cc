// forget: erasure planning for one ticket (see the header).
#include "core/forget.h"

#include <algorithm>
#include <string_view>

#include "core/ascii.h"
#include "core/address.h"

namespace desk {
namespace {

bool Is(const std::string& addr, const std::string& person) {
  return !addr.empty() && NormalizeAddress(addr) == person;
}

// Removes person from a mailbox list; true when something was removed.
bool DropFrom(std::vector<Mailbox>* list, const std::string& person) {
  const size_t before = list->size();
  list->erase(std::remove_if(list->begin(), list->end(),
                             [&](const Mailbox& m) { return Is(m.address, person); }),
              list->end());
  return list->size() != before;
}

// Whether text (lower-case) holds person as a whole address: not inside a longer one
// ("bob@example.com" is not in "jimbob@example.com" or "bob@example.com.evil").
bool HoldsAddress(const std::string& text, const std::string& person) {
  auto local_char = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           std::string_view("!#$%&'*+-/=?^_`{|}~.").find(c) != std::string_view::npos;
  };
  auto domain_char = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
  };
  for (size_t at = text.find(person); at != std::string::npos; at = text.find(person, at + 1)) {
    const size_t end = at + person.size();
    const bool before_ok = at == 0 || !local_char(text[at - 1]);
    // A final '.' ends a sentence, not the domain.
    const bool after_ok =
        end == text.size() || !domain_char(text[end]) ||
        (text[end] == '.' && (end + 1 == text.size() || !domain_char(text[end + 1])));
    if (before_ok && after_ok) return true;
  }
  return false;
}

}  // namespace

std::vector<std::string> MessageBlobs(const TicketMessage& m) {
  std::vector<std::string> out;
  if (!m.original_sha256.empty()) out.push_back("original:" + m.original_sha256);
  for (const StoredAttachment& a : m.attachments) {
    if (!a.sha256.empty() && a.verdict != "rejected" && a.verdict != "held") {
      out.push_back("attachment:" + a.sha256);
    }
  }
  return out;
}

bool OutboxHoldsPerson(const std::string& address, const OutboxMail& m) {
  const std::string person = NormalizeAddress(address);
  if (person.empty()) return false;
  if (Is(m.sender, person)) return true;
  for (const std::string& r : m.recipients) {
    if (Is(r, person)) return true;
  }
  return HoldsAddress(AsciiLower(m.raw), person);
}

std::vector<uint64_t> PlanForgetOutbox(const std::string& address,
                                       const std::vector<OutboxMail>& outbox,
                                       std::vector<ForgetPlan>* plans) {
  std::vector<uint64_t> other;
  for (const OutboxMail& m : outbox) {
    ForgetPlan* plan = nullptr;
    for (ForgetPlan& p : *plans) {
      if (m.ticket != 0 && p.ticket == m.ticket) plan = &p;
    }
    const bool holds = OutboxHoldsPerson(address, m);
    if (plan != nullptr && (plan->requester || holds)) {
      plan->outbox.push_back(m.seq);
    } else if (holds) {
      other.push_back(m.seq);
    }
  }
  for (ForgetPlan& p : *plans) std::sort(p.outbox.begin(), p.outbox.end());
  std::sort(other.begin(), other.end());
  return other;
}

bool PlanForget(const std::string& address, const Ticket& t,
                const std::vector<TicketMessage>& messages, const std::vector<TicketEvent>& events,
                int64_t now, ForgetPlan* plan) {
  const std::string person = NormalizeAddress(address);
  if (person.empty()) return false;
  ForgetPlan p;
  p.ticket = t.number;
  p.requester = Is(t.requester.address, person);
  p.fields = t;
  bool changed = p.requester;
  size_t attachments = 0, originals = 0;
  for (const TicketMessage& m : messages) {
    TicketMessage r = m;
    const bool sent = Is(m.from.address, person) || Is(m.envelope_from, person);
    if (p.requester || sent) {
      for (const std::string& b : MessageBlobs(m)) p.blobs.push_back(b);
      attachments += m.attachments.size();
      originals += m.original_sha256.empty() ? 0 : 1;
      r.subject = kForgottenText;
      r.body.clear();
      r.body_truncated = false;
      if (Is(r.from.address, person) || p.requester) r.from = {"", ""};
      r.to.clear();
      r.cc.clear();
      if (Is(r.envelope_from, person) || p.requester) r.envelope_from.clear();
      r.attachments.clear();
      r.original_sha256.clear();
      r.date.clear();
      p.removed_messages.push_back(m.seq);
      p.messages.push_back(std::move(r));
      changed = true;
    } else {
      const bool in_to = DropFrom(&r.to, person);
      const bool in_cc = DropFrom(&r.cc, person);
      if (in_to || in_cc) {
        p.messages.push_back(std::move(r));
        changed = true;
      }
    }
  }
  for (const TicketEvent& e : events) {
    const bool mentions = HoldsAddress(AsciiLower(e.text), person);  // not jimbob@ for bob@
    const bool own = p.requester && e.type != "latest_email" && !e.text.empty();
    if (mentions || own) {
      TicketEvent r = e;
      r.text = kForgottenText;
      p.events.push_back(std::move(r));
      changed = true;
    }
  }
  auto& parts = p.fields.participants;
  const size_t before = parts.size();
  parts.erase(std::remove(parts.begin(), parts.end(), person), parts.end());
  changed = changed || parts.size() != before;
  if (!changed) return false;
  if (p.requester) {
    p.fields.title = kForgottenText;
    p.fields.description.clear();
    p.fields.requester = {"", ""};
  }
  std::sort(p.blobs.begin(), p.blobs.end());
  p.blobs.erase(std::unique(p.blobs.begin(), p.blobs.end()), p.blobs.end());
  p.note.at = now;
  p.note.type = "forgotten";
  p.note.text = "Personal data removed on request: " + std::to_string(p.removed_messages.size()) +
                " message(s) with " + std::to_string(attachments) + " attachment(s) and " +
                std::to_string(originals) + " original(s)" +
                (p.requester ? "; requester, title and description; transcript rebuilt" : "");
  *plan = std::move(p);
  return true;
}

}  // namespace desk
