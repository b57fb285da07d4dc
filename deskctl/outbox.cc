// `deskctl outbox [--json]`: the mail queued for sending (automatic answers, notifications; see
// docs/TRIGGERS.md), oldest first, read-only.
//
// Recipients, Message-IDs and errors may come from mail or a remote MTA: the table shows them
// through Printable(); the JSON carries them as they are (Dump() replaces invalid UTF-8).
#include <cstdio>

#include "deskctl/commands.h"
#include "deskctl/json_output.h"
#include "deskctl/text_output.h"

namespace desk::ctl {
namespace {

// One row; docs/DESKCTL.md documents the keys in this order.
Json OutboxMailJson(const OutboxMail& m) {
  Json j = Json::object();
  j["seq"] = m.seq;
  j["ticket"] = m.ticket;
  j["kind"] = m.kind;
  j["sender"] = m.sender;
  j["recipients"] = m.recipients;
  j["message_id"] = m.message_id;
  j["queued_at"] = m.queued_at;
  j["due_at"] = m.due_at;
  j["attempts"] = m.attempts;
  j["last_error"] = m.last_error;
  j["size"] = m.raw.size();
  return j;
}

}  // namespace

int RunOutbox(const std::string& config_path, bool json) {
  Context ctx;
  int rc = OpenContext(config_path, StoreMode::kRequired, &ctx);
  if (rc != kExitOk) return rc;
  std::vector<OutboxMail> rows;
  Status st = ctx.store->GetOutbox(&rows);
  if (!st.ok()) {
    std::fprintf(stderr, "deskctl: %s\n", st.ToString().c_str());
    return kExitFailure;
  }
  if (json) {
    Json arr = Json::array();
    for (const OutboxMail& m : rows) arr.push_back(OutboxMailJson(m));
    std::printf("%s\n", Dump(arr).c_str());
    return kExitOk;
  }
  std::string text =
      "SEQ     TICKET  KIND        DUE                   ATTEMPTS  TO                             "
      "         LAST ERROR\n";
  for (const OutboxMail& m : rows) {
    std::string to;
    for (const std::string& r : m.recipients) to += (to.empty() ? "" : ",") + r;
    char line[1024];
    std::snprintf(line, sizeof line, "%-7llu %-7s %-11s %-21s %8u  %-38s %s\n",
                  static_cast<unsigned long long>(m.seq),
                  m.ticket == 0 ? "-" : std::to_string(m.ticket).c_str(), Fit(m.kind, 11).c_str(),
                  IsoTime(m.due_at).c_str(), m.attempts, Fit(to, 38).c_str(),
                  m.last_error.empty() ? "-" : Fit(m.last_error, 60).c_str());
    text += line;
  }
  std::fputs(text.c_str(), stdout);
  std::printf("outbox: %zu queued mail(s)\n", rows.size());
  return kExitOk;
}

}  // namespace desk::ctl
