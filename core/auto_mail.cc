// ClassifyAutoMail: see core/auto_mail.h for the classes, their order and why.
//
// The rules read the top-level headers from ParsedMessage, the envelope sender, and a bounded prefix
// of the raw body in which the top-level MIME children are found by their boundary (so the result
// does not depend on which parts the MIME parser chooses to list as attachments).
#include "core/auto_mail.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <initializer_list>

#include "core/ascii.h"
#include "core/address.h"

namespace desk {
namespace {

constexpr int kMaxPartDepth = 3;     // multipart nesting followed inside the body prefix
constexpr size_t kMaxParts = 64;     // MIME children looked at
constexpr size_t kMaxRuleToken = 40;  // longest header value copied into a rule string

using Headers = std::vector<std::pair<std::string, std::string>>;

char LowerChar(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (LowerChar(a[i]) != LowerChar(b[i])) return false;
  }
  return true;
}

bool IStartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && IEquals(s.substr(0, prefix.size()), prefix);
}

// Makes an untrusted header token safe and short for a rule string: lower-case [a-z0-9._/-].
std::string RuleToken(std::string_view v) {
  std::string out;
  for (char c : AsciiLower(Trim(v))) {
    if (out.size() >= kMaxRuleToken) break;
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
        c == '/') {
      out.push_back(c);
    } else {
      out.push_back('_');
    }
  }
  return out.empty() ? "empty" : out;
}

const std::string* FindHeader(const Headers& headers, std::string_view name) {
  for (const auto& [n, v] : headers) {
    if (IEquals(n, name)) return &v;
  }
  return nullptr;
}

// The value before the first ';', without RFC 5322 comments, trimmed and lower-cased:
// "Auto-Replied (vacation); owner=x" -> "auto-replied".
std::string FirstToken(std::string_view value) {
  std::string out;
  int comment_depth = 0;
  for (char c : value.substr(0, value.find(';'))) {
    if (c == '(') {
      ++comment_depth;
    } else if (c == ')' && comment_depth > 0) {
      --comment_depth;
    } else if (comment_depth == 0) {
      out.push_back(LowerChar(c));
    }
  }
  return std::string(Trim(out));
}

// One parameter of a structured header value (Content-Type), unquoted; "" when absent.
std::string Param(std::string_view value, std::string_view name) {
  size_t i = value.find(';');
  while (i != std::string_view::npos && i < value.size()) {
    ++i;  // past ';'
    size_t eq = value.find('=', i);
    if (eq == std::string_view::npos) return "";
    std::string_view key = Trim(value.substr(i, eq - i));
    size_t j = eq + 1;
    while (j < value.size() && IsSpace(value[j])) ++j;
    std::string val;
    if (j < value.size() && value[j] == '"') {
      ++j;
      while (j < value.size() && value[j] != '"') {
        if (value[j] == '\\' && j + 1 < value.size()) ++j;
        val.push_back(value[j++]);
      }
      i = value.find(';', j);
    } else {
      size_t end = value.find(';', j);
      val = std::string(Trim(value.substr(j, end == std::string_view::npos ? end : end - j)));
      i = end;
    }
    if (IEquals(key, name)) return val;
  }
  return "";
}

bool Falsy(std::string_view v) {
  std::string t = FirstToken(v);
  return t == "no" || t == "false" || t == "0" || t == "off";
}

// Splits text into lines (LF or CRLF); calls fn(line) until it returns false.
template <typename Fn>
void ForEachLine(std::string_view text, Fn fn) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!fn(line, eol + 1)) return;
    pos = eol + 1;
  }
}

bool HasLineStartingWith(std::string_view text, std::string_view prefix) {
  bool found = false;
  ForEachLine(text, [&](std::string_view line, size_t) {
    found = IStartsWith(line, prefix);
    return !found;
  });
  return found;
}

// One MIME part found in the body prefix. Parts inside message/* are never entered: a forwarded
// report is a person's mail about a bounce, not a bounce.
struct Part {
  std::string type;         // lower-case "type/subtype"
  std::string report_type;  // lower-case report-type parameter of a multipart/report
};

void CollectParts(std::string_view body, std::string_view boundary, int depth,
                  std::vector<Part>* out);

void ParsePart(std::string_view part, int depth, std::vector<Part>* out) {
  std::string content_type;
  bool in_content_type = false;
  size_t body_start = part.size();
  ForEachLine(part, [&](std::string_view line, size_t next) {
    if (line.empty()) {
      body_start = std::min(next, part.size());
      return false;
    }
    if (line.front() == ' ' || line.front() == '\t') {
      if (in_content_type) content_type.append(" ").append(Trim(line));
      return true;
    }
    in_content_type = IStartsWith(line, "content-type:");
    if (in_content_type) content_type = std::string(Trim(line.substr(13)));
    return true;
  });
  Part p;
  p.type = content_type.empty() ? "text/plain" : FirstToken(content_type);
  if (p.type == "multipart/report") p.report_type = AsciiLower(Param(content_type, "report-type"));
  const bool multipart = p.type.rfind("multipart/", 0) == 0;
  out->push_back(std::move(p));
  if (multipart) {
    CollectParts(part.substr(body_start), Param(content_type, "boundary"), depth + 1, out);
  }
}

void CollectParts(std::string_view body, std::string_view boundary, int depth,
                  std::vector<Part>* out) {
  if (boundary.empty() || depth > kMaxPartDepth) return;
  const std::string delimiter = "--" + std::string(boundary);
  bool in_part = false;
  size_t part_start = 0;
  size_t line_start = 0;
  ForEachLine(body, [&](std::string_view line, size_t next) {
    if (out->size() >= kMaxParts) return false;
    size_t this_line = line_start;
    line_start = next;
    if (!IStartsWith(line, delimiter)) return true;
    std::string_view rest = line.substr(delimiter.size());
    const bool close = rest.substr(0, 2) == "--";
    if (!close && !Trim(rest).empty()) return true;  // a longer boundary that starts like ours
    if (in_part) ParsePart(body.substr(part_start, this_line - part_start), depth, out);
    in_part = !close;
    part_start = std::min(next, body.size());
    return !close;
  });
  // A part cut off by the end of the prefix still has its header.
  if (in_part && out->size() < kMaxParts && part_start < body.size()) {
    ParsePart(body.substr(part_start), depth, out);
  }
}

std::string LocalPart(const std::string& normalized) {
  size_t at = normalized.rfind('@');
  return at == std::string::npos ? normalized : normalized.substr(0, at);
}

// Daemon addresses strong enough alone (RT's CheckForAutoGenerated, procmail's FROM_MAILER).
// Returns the canonical name for the rule, or nullptr.
const char* StrongDaemon(const std::string& local) {
  static constexpr std::array<std::pair<const char*, const char*>, 8> kDaemons = {{
      {"mailer-daemon", "mailer-daemon"},
      {"mailer_daemon", "mailer-daemon"},
      {"mailerdaemon", "mailer-daemon"},
      {"mail-daemon", "mailer-daemon"},
      {"maildaemon", "mailer-daemon"},
      {"postmaster", "postmaster"},
      {"post_master", "postmaster"},
      {"post-master", "postmaster"},
  }};
  for (const auto& [name, canonical] : kDaemons) {
    if (local == name) return canonical;
  }
  return nullptr;
}

// Sender local parts that only support a weak signal: nobody reads them, but contact forms and shops
// send real customers' requests from them too.
bool WeakDaemon(const std::string& local) {
  // The second line: gateway and antivirus appliances' senders of plain-text failure notices.
  static constexpr auto kWeak = std::to_array<const char*>({
      "no-reply", "noreply",  "no_reply", "do-not-reply", "donotreply",
      "do_not_reply", "bounce", "bounces",  "mdaemon",
      "mailscanner", "antivirus", "virusalert", "virus-alert", "quarantine", "mailadmin",
      "mail-admin", "mailsweeper", "smtp-gateway", "smtp_gateway", "mailgateway", "nobody"});
  for (const char* w : kWeak) {
    if (local == w) return true;
  }
  return false;
}

// Display names that MTAs give their bounces; compared whole, so "Postmaster Pete" is not one.
bool DaemonDisplayName(std::string_view name) {
  static constexpr std::array<const char*, 8> kNames = {
      "mailer-daemon",          "mailer daemon",   "mail delivery system",
      "mail delivery subsystem", "mail delivery service", "mail administrator",
      "postmaster",             "mail system"};
  std::string n = AsciiLower(Trim(name));
  if (n.size() >= 2 && n.front() == '"' && n.back() == '"') n = n.substr(1, n.size() - 2);
  for (const char* k : kNames) {
    if (n == k) return true;
  }
  return false;
}

// Subjects MTAs and providers give their bounces. Matched at the start of the subject only, so a
// person's "Re: why was my mail undeliverable?" is no match; a weak signal in any case.
bool BounceSubject(std::string_view subject) {
  static constexpr auto kPrefixes = std::to_array<const char*>({
      "undeliverable",           // Exchange, Office 365: "Undeliverable: <subject>"
      "undelivered mail",        // Postfix: "Undelivered Mail Returned to Sender"
      "delivery status notification",  // Gmail, Exchange 2003: "... (Failure)", "... (Delay)"
      "delivery status",         // McAfee, OpenSMTPD: "Delivery status notification: error"
      "delivery notification",   // Lotus Notes / Domino
      "delivery failure",        // "Delivery Failure: ..."
      "delivery failed",
      "delivery has failed",
      "mail delivery failed",    // Exim: "Mail delivery failed: returning message to sender"
      "mail delivery failure",
      "message delivery failure",
      "message not delivered",
      "failure notice",          // qmail, Yahoo
      "returned mail",           // Sendmail: "Returned mail: see transcript for details"
      "mail system error",       // "Mail System Error - Returned Mail"
      "non-delivery",
      "non delivery",
      "nondeliverable",
      "could not send message",
      "delivery delayed",        // Exchange warning: "Delivery delayed:<subject>"
      "mail delivery warning",   // Exchange, gateways
      "delivery warning",
      "warning: message",        // sendmail: "Warning: message ... delayed 4 hours"
      "warning: delayed mail",
      "delayed mail",            // Postfix notify_classes=delay: "Delayed Mail (still being retried)"
      "message delivery delayed",
      "message undeliverable",   // appliances: "Message Undeliverable: <subject>"
      "undelivered message",
      "mail not delivered",
      "notification of delivery failure",
      "virus found in sent message",  // antivirus gateways returning the message
      "virus detected",
      "blocked message",         // mail security gateways: "Blocked message: ..."
      "message blocked",
      "message rejected",
      "warning: could not send message",
      "mail could not be delivered",
      "unzustellbar",            // Exchange, German
      "nicht zustellbar",
      "non remis",               // Exchange, French
      "non recapitabile",        // Exchange, Italian
      "no se puede entregar",    // Exchange, Spanish
      "\xe3\x83\xa1\xe3\x83\xbc\xe3\x83\xab\xe3\x82\xa8\xe3\x83\xa9\xe3\x83\xbc\xe9\x80\x9a"
      "\xe7\x9f\xa5",            // au one net (KDDI): "mail error notification" in Japanese
  });
  std::string_view s = Trim(subject);
  for (const char* p : kPrefixes) {
    if (IStartsWith(s, p)) return true;
  }
  return false;
}

// Lines MTAs and gateways open a plain-text failure notice with (no delivery-status part). A weak
// signal: a person may paste one. Only unquoted lines near the top count (kBodyPhraseBytes), so a
// forwarded bounce under "---------- Forwarded message" or "> " quotes does not.
constexpr size_t kBodyPhraseBytes = 2048;
constexpr size_t kBodyPhraseLines = 25;

template <size_t N>
bool BodyHasPhrase(std::string_view body, const std::array<const char*, N>& phrases) {
  bool found = false;
  size_t lines = 0;
  ForEachLine(body.substr(0, kBodyPhraseBytes), [&](std::string_view line, size_t) {
    std::string_view t = Trim(line);
    if (t.empty() || IStartsWith(t, "content-")) return true;  // blank, a part's MIME header
    if (t.front() == '>' || ++lines > kBodyPhraseLines) return false;  // quoted: not ours
    const std::string l = AsciiLower(t);
    for (const char* p : phrases) {
      if (l.find(p) != std::string::npos) {
        found = true;
        return false;
      }
    }
    // "---------- Forwarded message ----------", "-----Original Message-----": what follows is
    // someone else's mail. Other "--" lines are MIME boundaries: skipped.
    if (IStartsWith(t, "--") &&
        (l.find("forward") != std::string::npos || l.find("original") != std::string::npos)) {
      return false;
    }
    return true;
  });
  return found;
}

bool BounceBody(std::string_view body) {
  static constexpr auto kPhrases = std::to_array<const char*>({
      "this is the mail system at host",                    // Postfix
      "this message was created automatically by mail delivery software",  // Exim
      "a message that you sent could not be delivered",     // Exim
      "this is a warning message only",                     // Exim delay warning
      "this is the qmail-send program",                     // qmail
      "i'm afraid i wasn't able to deliver your message",   // qmail, Yahoo
      "sorry, we were unable to deliver your message",      // Yahoo
      "the original message was received at",              // Sendmail
      "----- transcript of session follows -----",          // Sendmail
      "your message did not reach some or all of the intended recipients",  // Exchange
      "delivery has failed to these recipients or groups",  // Exchange 2007+
      "delivery to the following recipient has been delayed",  // Exchange warning
      "delivery to the following recipients has been delayed",
      "delivery to the following recipient(s) failed",      // Exchange 2003, Domino
      "delivery to the following recipients failed",
      "delivery to the following recipient failed permanently",  // Gmail
      "this is an automatically generated delivery status notification",  // Gmail
      "your message could not be delivered",                // gateways
      "could not be delivered to one or more recipients",
      "the following message to <",                         // "... was undeliverable"
      "message delivery to the following recipient",
      "a virus was found in",                               // antivirus gateways
      "the message you sent contained a virus",
      "contained a virus and was not delivered",
  });
  return BodyHasPhrase(body, kPhrases);
}

// Out-of-office answers without Auto-Submitted (Lotus Notes, old Exchange, webmail vacation
// programs): a subject that names the answer automatic AND one more sign, because people write
// "Auto-reply: how do I set it up?" to a help desk.
bool AutoReplySubject(std::string_view subject) {
  static constexpr auto kPrefixes = std::to_array<const char*>({
      "out of office autoreply",   // Exchange 2003
      "out of office reply",
      "automatic reply:",          // Exchange 2007+ (when Auto-Submitted is stripped)
      "autoreply:", "auto-reply:", "auto reply:", "auto response:", "auto-response:",
      "autoresponse:", "automatic response:", "vacation reply:", "away message:",
      "abwesenheitsnotiz",         // Exchange, German
      "automatische antwort",
      "r\xc3\xa9ponse automatique",  // French
      "risposta automatica",       // Italian
      "respuesta autom\xc3\xa1tica",  // Spanish
      "resposta autom\xc3\xa1tica",   // Portuguese
      "automatisch antwoord",      // Dutch
  });
  std::string_view s = Trim(subject);
  for (const char* p : kPrefixes) {
    if (IStartsWith(s, p)) return true;
  }
  return false;
}

bool OutOfOfficeBody(std::string_view body) {
  static constexpr auto kPhrases = std::to_array<const char*>({
      "out of the office", "out of office", "away from the office", "i am away", "i'm away",
      "i am on vacation", "i am on holiday", "i'm on vacation", "on annual leave",
      "limited access to e-mail", "limited access to email", "will be back on",
      "i will return on", "i will be back", "returning on", "i am currently out",
      "automatic reply", "auto-reply", "autoreply", "this is an automated response",
      "this is an automatic reply", "abwesend", "nicht im b\xc3\xbcro", "absent du bureau",
  });
  return BodyHasPhrase(body, kPhrases);
}

// Lotus Notes / Domino "AUTO: Jane Doe is out of the office (returning 02.01.2010)": upper-case
// "AUTO:" (as Notes writes it) with a Domino header or an absence phrase.
bool LotusAutoReply(const Headers& headers, std::string_view subject, std::string_view body) {
  std::string_view s = Trim(subject);
  if (s.substr(0, 5) != "AUTO:") return false;
  if (AsciiLower(s).find("out of the office") != std::string::npos) return true;
  if (FindHeader(headers, "x-mimetrack") != nullptr) return true;
  if (const std::string* m = FindHeader(headers, "x-mailer")) {
    if (AsciiLower(*m).find("lotus") != std::string::npos) return true;
  }
  return OutOfOfficeBody(body);
}

// Challenge-response systems (TMDA, Spam Arrest, Boxbe, Mailblocks, ...) ask the sender to confirm
// before delivering: an automatic answer that must never open a ticket, and must not be answered.
const char* ChallengeResponse(const Headers& headers, const std::string& envelope,
                              const std::string& from, std::string_view subject) {
  if (const std::string* agent = FindHeader(headers, "x-delivery-agent")) {
    if (IStartsWith(Trim(*agent), "tmda")) return "challenge:tmda";
  }
  for (const char* h : {"x-boxbe-pass", "x-spamarrest-noauth", "x-challenge", "x-csr-challenge"}) {
    if (FindHeader(headers, h) != nullptr) return "challenge:header";
  }
  static constexpr auto kServices = std::to_array<const char*>({
      "spamarrest.com", "boxbe.com", "mailblocks.com", "bluebottle.com", "sendio.com",
      "digiportal.com"});
  const std::string subj = AsciiLower(Trim(subject));
  const bool confirm_subject = subj.find("confirm") != std::string::npos ||
                               subj.find("verif") != std::string::npos ||
                               subj.find("authenticat") != std::string::npos ||
                               subj.find("guest list") != std::string::npos;
  for (const std::string* addr : {&envelope, &from}) {
    size_t at = addr->rfind('@');
    if (at == std::string::npos) continue;
    std::string_view domain = std::string_view(*addr).substr(at + 1);
    std::string_view local = std::string_view(*addr).substr(0, at);
    for (const char* d : kServices) {
      std::string_view sd(d);
      if (domain == sd || (domain.size() > sd.size() &&
                           domain.substr(domain.size() - sd.size()) == sd &&
                           domain[domain.size() - sd.size() - 1] == '.')) {
        if (confirm_subject) return "challenge:service";
      }
    }
    // TMDA-style confirm addresses: "jane-confirm-1262380882.123.abcdef@example.org".
    if ((local.find("-confirm-") != std::string_view::npos ||
         local.find("-confirm+") != std::string_view::npos) && confirm_subject) {
      return "challenge:confirm-address";
    }
  }
  return nullptr;
}

// The bits of a "From:" header we need when the parser left msg->from empty (hand-built input).
Mailbox FromHeaderFallback(const std::string& raw) {
  Mailbox m;
  std::string value;  // without (comments): "pm@example.com (Postmaster)"
  int depth = 0;
  for (char c : raw) {
    if (c == '(') {
      ++depth;
    } else if (c == ')' && depth > 0) {
      --depth;
    } else if (depth == 0) {
      value.push_back(c);
    }
  }
  size_t lt = value.find('<');
  size_t gt = value.find('>', lt == std::string::npos ? 0 : lt);
  if (lt != std::string::npos && gt != std::string::npos) {
    m.address = value.substr(lt + 1, gt - lt - 1);
    m.name = std::string(Trim(std::string_view(value).substr(0, lt)));
  } else {
    m.address = std::string(Trim(value));
  }
  return m;
}

// True when pattern (exact "a@b", "*@domain") names addr; exact patterns also match addr's plus
// form ("support+x@b").
bool AddressMatches(const std::string& addr, const std::vector<std::string>& patterns) {
  if (addr.empty()) return false;
  std::string base, tag;
  SplitPlus(addr, &base, &tag);
  size_t at = addr.rfind('@');
  std::string_view domain = at == std::string::npos ? std::string_view() :
                                                      std::string_view(addr).substr(at + 1);
  for (const std::string& raw : patterns) {
    std::string p = NormalizeAddress(raw);
    if (p.empty()) continue;
    if (p.rfind("*@", 0) == 0) {
      if (!domain.empty() && domain == std::string_view(p).substr(2)) return true;
    } else if (p == addr || p == base) {
      return true;
    }
  }
  return false;
}

// A forwarder's rewrite of the envelope sender. A mailbox provider or alias that forwards mail
// replaces MAIL FROM with an address of its own, so bounces come back to it; the author is only in
// From. Recognised forms (local part, case-insensitive):
//   Gmail / Workspace   box+caf_=DEST=DEST-DOMAIN@provider   (DEST is where the copy goes)
//   Microsoft 365       bounces+SRS=HASH=TT=DOMAIN=LOCAL@tenant
//   SRS (postsrsd, ...) SRS0=HASH=TT=DOMAIN=LOCAL@forwarder, SRS1=HASH=FWD==HASH=TT=DOMAIN=LOCAL@...
// Returns true for these; *original is the SRS-encoded original sender (normalized), or "" when
// the form carries none (Gmail). A plain Postfix virtual alias keeps MAIL FROM as it was: nothing
// to undo there.
bool ForwardedEnvelope(const std::string& envelope, std::string* original) {
  original->clear();
  size_t at = envelope.rfind('@');
  if (at == std::string::npos) return false;
  const std::string local = AsciiLower(envelope.substr(0, at));
  std::string srs;  // "HASH=TT=DOMAIN=LOCAL" once found
  if (size_t plus = local.find('+'); plus != std::string::npos) {
    std::string_view tag = std::string_view(local).substr(plus + 1);
    if (tag.rfind("caf_=", 0) == 0) return true;
    if (tag.rfind("srs=", 0) == 0) srs = envelope.substr(plus + 5, at - plus - 5);
  }
  if (srs.empty() && local.size() > 5 && local.rfind("srs", 0) == 0 &&
      (local[3] == '0' || local[3] == '1') &&
      (local[4] == '=' || local[4] == '+' || local[4] == '-')) {
    srs = envelope.substr(5, at - 5);
    if (local[3] == '1') {
      size_t dd = srs.find("==");
      srs = dd == std::string::npos ? "" : srs.substr(dd + 2);
      // SRS1 always carries an SRS0 address inside; without it, it is still a forwarder's.
      if (srs.empty()) return true;
    }
  }
  if (srs.empty()) return false;
  // HASH=TT=DOMAIN=LOCAL; LOCAL may itself contain '='.
  size_t p1 = srs.find('=');
  size_t p2 = p1 == std::string::npos ? p1 : srs.find('=', p1 + 1);
  size_t p3 = p2 == std::string::npos ? p2 : srs.find('=', p2 + 1);
  if (p3 != std::string::npos && p3 + 1 < srs.size() && p3 > p2 + 1) {
    *original = NormalizeAddress(srs.substr(p3 + 1) + "@" + srs.substr(p2 + 1, p3 - p2 - 1));
  }
  return true;
}

// Message-IDs of the reported message: Message-ID / Original-Message-ID lines in the body prefix
// (returned headers, MDN and ARF fields), then the mail's own In-Reply-To and References.
std::vector<std::string> ReportedIds(std::string_view body, const ParsedMessage& msg) {
  std::vector<std::string> ids;
  auto add = [&](std::string_view raw) {
    std::string_view v = Trim(raw);
    size_t lt = v.find('<');
    if (lt != std::string_view::npos) {
      size_t gt = v.find('>', lt);
      v = v.substr(lt + 1, gt == std::string_view::npos ? gt : gt - lt - 1);
    } else {
      size_t sp = v.find_first_of(" \t");
      if (sp != std::string_view::npos) v = v.substr(0, sp);
    }
    v = Trim(v);
    if (v.empty() || v.size() > 998 || v == msg.message_id || ids.size() >= kMaxReportedIds) {
      return;
    }
    if (std::find(ids.begin(), ids.end(), v) == ids.end()) ids.emplace_back(v);
  };
  static constexpr std::array<std::string_view, 3> kFields = {
      "message-id:", "original-message-id:", "x-original-message-id:"};
  bool want_continuation = false;
  ForEachLine(body, [&](std::string_view line, size_t) {
    if (want_continuation) {
      want_continuation = false;
      if (!line.empty() && (line.front() == ' ' || line.front() == '\t')) add(line);
      return true;
    }
    std::string_view l = line;
    while (!l.empty() && (l.front() == ' ' || l.front() == '\t')) l.remove_prefix(1);
    for (std::string_view f : kFields) {
      if (IStartsWith(l, f)) {
        std::string_view value = Trim(l.substr(f.size()));
        if (value.empty()) {
          want_continuation = true;  // "Message-ID:" folded onto the next line
        } else {
          add(value);
        }
        break;
      }
    }
    return ids.size() < kMaxReportedIds;
  });
  if (!msg.in_reply_to.empty()) add(msg.in_reply_to);
  for (const std::string& r : msg.references) add(r);
  return ids;
}

AutoVerdict Verdict(AutoKind kind, std::string rule) {
  AutoVerdict v;
  v.kind = kind;
  v.rule = std::move(rule);
  return v;
}

// What every rule group looks at, computed once.
struct Facts {
  const Headers* headers = nullptr;
  std::string envelope;   // normalized; "" for the null sender
  bool null_sender = false;
  // The envelope is a forwarder's rewrite (ForwardedEnvelope): it says who forwarded, not who
  // wrote, so it is not compared with our own addresses; forwarded_from is the original sender
  // when the rewrite carries it (SRS), else "".
  bool forwarded = false;
  std::string forwarded_from;
  Mailbox from;           // as parsed, or from the raw header
  std::string from_addr;  // normalized
  bool from_null = false;  // "From: <>" or "From: MAILER-DAEMON <>"
  std::string subject;
  std::string top_type;
  std::string report_type;  // of a multipart/report at the top or among the children
  bool has_report = false;
  std::vector<Part> parts;
};

bool HasPart(const Facts& f, std::initializer_list<std::string_view> types) {
  for (const Part& p : f.parts) {
    for (std::string_view t : types) {
      if (p.type == t) return true;
    }
  }
  return false;
}

Facts Gather(const AutoMailInput& in) {
  const ParsedMessage& msg = *in.msg;
  Facts f;
  f.headers = &msg.headers;
  f.envelope = NormalizeAddress(in.envelope_from);
  f.null_sender = f.envelope.empty();
  f.forwarded = ForwardedEnvelope(f.envelope, &f.forwarded_from);
  f.from = msg.from;
  const std::string* from_header = FindHeader(msg.headers, "from");
  if (from_header != nullptr) {
    std::string_view v = Trim(*from_header);
    f.from_null = v.size() >= 2 && v.substr(v.size() - 2) == "<>";
    if (f.from.address.empty() && f.from.name.empty()) f.from = FromHeaderFallback(*from_header);
  }
  f.from_addr = NormalizeAddress(f.from.address);
  f.subject = msg.subject;
  if (f.subject.empty()) {
    if (const std::string* s = FindHeader(msg.headers, "subject")) f.subject = *s;
  }
  if (const std::string* ct = FindHeader(msg.headers, "content-type")) {
    f.top_type = FirstToken(*ct);
    if (f.top_type == "multipart/report") {
      f.has_report = true;
      f.report_type = AsciiLower(Param(*ct, "report-type"));
    }
    if (f.top_type.rfind("multipart/", 0) == 0) {
      CollectParts(in.raw_body_prefix, Param(*ct, "boundary"), 1, &f.parts);
    }
  }
  for (const Part& p : f.parts) {
    if (!f.has_report && p.type == "multipart/report") {
      f.has_report = true;  // a report wrapped by a gateway in multipart/mixed
      f.report_type = p.report_type;
    }
  }
  return f;
}

bool CheckLoop(const AutoMailRules& rules, const Facts& f, AutoVerdict* out) {
  int received = 0;
  for (const auto& [name, value] : *f.headers) {
    if (!rules.installation_id.empty() && IEquals(name, rules.loop_stamp_header) &&
        Trim(value) == rules.installation_id) {
      *out = Verdict(AutoKind::kLoop, "loop-stamp");
      return true;
    }
    if (IEquals(name, "received")) ++received;
  }
  if (rules.max_received > 0 && received > rules.max_received) {
    *out = Verdict(AutoKind::kLoop, "received-count");
    return true;
  }
  return false;
}

bool CheckOwn(const AutoMailRules& rules, const Facts& f, AutoVerdict* out) {
  const std::pair<const std::vector<std::string>*, const char*> lists[] = {
      {&rules.own_addresses, "own"}, {&rules.blocked_senders, "blocked"}};
  for (const auto& [list, what] : lists) {
    if (f.forwarded) {
      if (AddressMatches(f.forwarded_from, *list)) {
        *out = Verdict(AutoKind::kOwn, std::string(what) + ":envelope-srs");
        return true;
      }
    } else if (AddressMatches(f.envelope, *list)) {
      *out = Verdict(AutoKind::kOwn, std::string(what) + ":envelope");
      return true;
    }
    if (AddressMatches(f.from_addr, *list)) {
      *out = Verdict(AutoKind::kOwn, std::string(what) + ":from");
      return true;
    }
  }
  return false;
}

bool CheckBounce(const AutoMailInput& in, const Facts& f, AutoVerdict* out) {
  auto bounce = [&](std::string rule) {
    *out = Verdict(AutoKind::kBounce, std::move(rule));
    return true;
  };
  if (f.has_report && f.report_type != "disposition-notification") {
    return bounce("report:" + (f.report_type.empty() ? std::string("unknown")
                                                     : RuleToken(f.report_type)));
  }
  // A bare report without its multipart/report wrapper (a broken gateway's delay notice).
  if (f.top_type == "message/delivery-status" || f.top_type == "message/global-delivery-status") {
    return bounce("top:message/delivery-status");
  }
  if (HasPart(f, {"message/delivery-status", "message/global-delivery-status"})) {
    return bounce("part:message/delivery-status");
  }
  if (HasPart(f, {"message/feedback-report"})) return bounce("part:message/feedback-report");
  if (FindHeader(*f.headers, "x-failed-recipients") != nullptr) {
    return bounce("x-failed-recipients");
  }
  for (const std::string* addr : {&f.envelope, &f.from_addr}) {
    if (const char* d = StrongDaemon(LocalPart(*addr))) return bounce(std::string("sender:") + d);
  }
  if (f.from_null) return bounce("from:null");
  // Microsoft's JMRP complaints (Hotmail, Outlook.com) return the message with this header added.
  if (HasLineStartingWith(in.raw_body_prefix, "x-hmxmroriginalrecipient:")) return bounce("jmrp");
  // Amazon SES bounce and complaint notifications delivered by SNS carry the report as JSON.
  if (FindHeader(*f.headers, "x-amz-sns-message-id") != nullptr) {
    // The report may sit inside an escaped JSON string ("Message" : "{\"notificationType\"...").
    std::string body = AsciiLower(in.raw_body_prefix.substr(0, 4096));
    std::erase_if(body, [](char c) { return c == '\\' || IsSpace(c); });
    if (body.find("\"notificationtype\":\"bounce\"") != std::string::npos) {
      return bounce("amazon-sns:bounce");
    }
    if (body.find("\"notificationtype\":\"complaint\"") != std::string::npos) {
      return bounce("amazon-sns:complaint");
    }
  }
  // Weak signals, only in pairs: a bounce subject, a daemon-like sender, a failure notice's
  // opening line in the body (plain-text notices of gateways and appliances have no report part).
  const bool subject = BounceSubject(f.subject);
  const bool body = BounceBody(in.raw_body_prefix);
  const char* sender = nullptr;
  if (f.null_sender) {
    sender = "null-sender";
  } else if (WeakDaemon(LocalPart(f.envelope)) || WeakDaemon(LocalPart(f.from_addr))) {
    sender = "daemon-sender";
  } else if (DaemonDisplayName(f.from.name)) {
    sender = "daemon-name";
  }
  if (subject && sender != nullptr) return bounce(std::string(sender) + "+subject");
  if (body && sender != nullptr) return bounce(std::string(sender) + "+body");
  if (body && subject) return bounce("subject+body");
  if (f.null_sender && HasPart(f, {"message/rfc822", "text/rfc822-headers", "message/global",
                                   "message/global-headers"})) {
    return bounce("null-sender+returned-message");
  }
  return false;
}

bool CheckAutoReply(const AutoMailInput& in, const Facts& f, AutoVerdict* out) {
  auto reply = [&](std::string rule) {
    *out = Verdict(AutoKind::kAutoReply, std::move(rule));
    return true;
  };
  if (f.has_report && f.report_type == "disposition-notification") {
    return reply("report:disposition-notification");
  }
  if (HasPart(f, {"message/disposition-notification", "message/global-disposition-notification"})) {
    return reply("part:message/disposition-notification");
  }
  for (const auto& [name, value] : *f.headers) {
    const std::string n = AsciiLower(name);
    const std::string token = FirstToken(value);
    if (n == "auto-submitted") {
      if (!token.empty() && token != "no") return reply("auto-submitted:" + RuleToken(token));
    } else if (n == "x-autoreply" || n == "x-autorespond" || n == "x-autoresponder" ||
               n == "x-autoreply-from" || n == "x-mail-autoreply") {
      if (!Falsy(value)) return reply(n);
    } else if (n == "x-ms-exchange-inbox-rules-loop") {
      // Set by an Exchange inbox rule that answered or forwarded: the value is the mailbox whose
      // rule acted. An answer comes From that mailbox; a forwarded mail keeps its author's From.
      if (f.from_addr.empty() || NormalizeAddress(FirstToken(value)) == f.from_addr) {
        return reply(n);
      }
    } else if (n == "precedence") {
      if (token == "auto_reply" || token == "auto-reply") return reply("precedence:auto_reply");
    } else if (n == "x-autogenerated") {
      if (token == "reply") return reply("x-autogenerated:reply");
    } else if (n == "x-post-messageclass") {
      if (AsciiLower(value).find("autoresponder") != std::string::npos) {
        return reply("x-post-messageclass:autoresponder");
      }
    } else if (n == "delivered-to") {
      if (token == "autoresponder") return reply("delivered-to:autoresponder");
    } else if (n == "x-apple-action") {
      if (token == "vacation") return reply("x-apple-action:vacation");
    } else if (n == "x-fc-machinegenerated") {
      if (token == "true") return reply("x-fc-machinegenerated");
    }
  }
  if (const char* rule = ChallengeResponse(*f.headers, f.envelope, f.from_addr, f.subject)) {
    return reply(rule);
  }
  if (LotusAutoReply(*f.headers, f.subject, in.raw_body_prefix)) return reply("subject:lotus-auto");
  if (AutoReplySubject(f.subject)) {
    if (f.null_sender) return reply("null-sender+subject");
    if (OutOfOfficeBody(in.raw_body_prefix)) return reply("subject+body");
  }
  return false;
}

bool CheckList(const Facts& f, AutoVerdict* out) {
  auto list = [&](std::string rule) {
    *out = Verdict(AutoKind::kList, std::move(rule));
    return true;
  };
  // RFC 2919 / 2369 first, by name, so the rule says which one fired.
  static constexpr std::array<const char*, 7> kListHeaders = {
      "list-id",     "list-unsubscribe", "list-post",   "list-help",
      "list-subscribe", "list-owner",    "list-archive"};
  for (const char* h : kListHeaders) {
    if (FindHeader(*f.headers, h) != nullptr) return list(h);
  }
  for (const auto& [name, value] : *f.headers) {
    const std::string n = AsciiLower(name);
    if (n == "precedence") {
      const std::string token = FirstToken(value);
      if (token == "bulk" || token == "list" || token == "junk") return list("precedence:" + token);
    } else if (n == "mailing-list" || n == "x-mailman-version" || n == "x-beenthere" ||
               n == "x-mlserver" || n == "x-ml-name" || n == "x-listserver" ||
               n == "x-list-administrivia") {
      return list(n);
    } else if (n == "x-amz-sns-message-id") {
      return list("amazon-sns");  // a subscription to notifications, with an unsubscribe link
    }
  }
  return false;
}

bool CheckFallbacks(const Facts& f, AutoVerdict* out) {
  if (FindHeader(*f.headers, "x-loop") != nullptr) {
    *out = Verdict(AutoKind::kAutoReply, "x-loop");
    return true;
  }
  if (f.null_sender) {
    *out = Verdict(AutoKind::kAutoReply, "null-sender");
    return true;
  }
  return false;
}

}  // namespace

AutoVerdict ClassifyAutoMail(const AutoMailInput& in, const AutoMailRules& rules) {
  const Facts f = Gather(in);
  AutoVerdict v;
  if (CheckLoop(rules, f, &v) || CheckOwn(rules, f, &v) || CheckBounce(in, f, &v) ||
      CheckAutoReply(in, f, &v) || CheckList(f, &v) || CheckFallbacks(f, &v)) {
    if (v.kind == AutoKind::kBounce || v.kind == AutoKind::kAutoReply) {
      v.reported_message_ids = ReportedIds(in.raw_body_prefix, *in.msg);
    }
  }
  return v;
}

const char* AutoKindName(AutoKind kind) {
  switch (kind) {
    case AutoKind::kNone: return "none";
    case AutoKind::kBounce: return "bounce";
    case AutoKind::kAutoReply: return "auto_reply";
    case AutoKind::kList: return "list";
    case AutoKind::kOwn: return "own";
    case AutoKind::kLoop: return "loop";
  }
  return "none";
}

}  // namespace desk
