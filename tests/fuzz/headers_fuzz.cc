// libFuzzer target over the header side of a mail: each input is a raw mail (mostly header), run
// through ParseMessage (GMime's RFC 2047 encoded words and RFC 2231 parameters, address lists,
// Message-ID lists in In-Reply-To and References), the threading key extraction (ReferencedIds,
// FindSubjectTag), the address helpers (NormalizeAddress, SplitPlus) on every parsed address and
// ClassifyAutoMail (forwarded envelopes, body phrase scans). Checks the contracts the callers rely
// on: ids carry no angle brackets or spaces, at most max_references ids, a normalized address is
// stable. Built like attachment_fuzz.cc (libFuzzer, or replay_main.cc over files).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/address.h"
#include "core/auto_mail.h"
#include "config/loader.h"
#include "core/mime_parser.h"
#include "core/spool.h"
#include "core/threading.h"

namespace {

void CheckId(const std::string& id) {
  if (id.empty() || id.find_first_of("<> \t\r\n") != std::string::npos) std::abort();
}

void CheckAddress(const std::string& a) {
  std::string n = desk::NormalizeAddress(a);
  if (desk::NormalizeAddress(n) != n) std::abort();  // normalizing twice changes nothing
  std::string base, tag;
  desk::SplitPlus(n, &base, &tag);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool init = [] {
    desk::InitMimeLibrary();
    return true;
  }();
  (void)init;
  std::string_view raw(reinterpret_cast<const char*>(data), size);
  desk::Spool spool("", 1 << 20);
  if (!spool.Append(raw).ok()) return 0;
  desk::ParseLimits limits = desk::config::DefaultParseLimits();
  limits.hostname = "fuzz.example";
  desk::ParsedMessage msg;
  if (!desk::ParseMessage(spool, limits, &msg).ok()) return 0;

  if (!msg.in_reply_to.empty()) CheckId(msg.in_reply_to);
  for (const std::string& r : msg.references) CheckId(r);
  std::vector<std::string> ids = desk::ReferencedIds(msg, 20);
  if (ids.size() > 20) std::abort();
  for (const std::string& id : ids) CheckId(id);
  (void)desk::FindSubjectTag(msg.subject, "[#{n}]");
  (void)desk::FindSubjectTag(msg.subject, "[Ticket {n}]");

  CheckAddress(msg.from.address);
  for (const desk::Mailbox& m : msg.to) CheckAddress(m.address);
  for (const desk::Mailbox& m : msg.cc) CheckAddress(m.address);

  // The classifier, with the first header line's value as envelope (forwarded forms included).
  size_t body_at = raw.find("\n\n");
  std::string_view body = body_at == std::string_view::npos ? std::string_view() :
                                                              raw.substr(body_at + 2);
  if (body.size() > desk::kAutoMailBodyScanBytes) body = body.substr(0, desk::kAutoMailBodyScanBytes);
  desk::AutoMailRules rules;
  rules.own_addresses = {"support@example.com", "*@help.example.com"};
  rules.installation_id = "fuzz";
  for (std::string_view envelope : {std::string_view(msg.from.address), std::string_view("<>"),
                                    raw.substr(0, std::min<size_t>(raw.find('\n'), 200))}) {
    desk::AutoMailInput in;
    in.envelope_from = envelope;
    in.msg = &msg;
    in.raw_body_prefix = body;
    desk::AutoVerdict v = desk::ClassifyAutoMail(in, rules);
    if (v.reported_message_ids.size() > desk::kMaxReportedIds) std::abort();
    if ((v.kind == desk::AutoKind::kNone) != v.rule.empty()) std::abort();
  }
  return 0;
}
