// See filter.h. The callbacks are thin: record the envelope, feed the Transaction, and at end of
// message apply the Decision with smfi_* calls and log it once.
#include "milter/filter.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/engine.h"
#include "milter/reply.h"
#include "core/logline.h"
#include "core/quarantine.h"
#include "milter/log.h"
#include "milter/notify.h"
#include "milter/outbox_worker.h"
#include "milter/transcript_worker.h"
#include "milter/runtime.h"
#include "milter/stats.h"

namespace desk::milter {
namespace {

using Clock = std::chrono::steady_clock;

// One message (MAIL FROM to end of message or abort).
struct Message {
  bool started = false;  // MAIL FROM seen
  Envelope envelope;
  std::unique_ptr<Transaction> tx;  // from DATA (or the first content callback) on
  bool passed = false;              // no support recipient: accepted untouched at DATA
  std::optional<Decision> failure;  // an adapter failure, decided at end of message
  uint64_t size = 0;                // bytes fed, as the spool stores them
  std::optional<Clock::time_point> eoh_at;
};

// One milter connection; owned through smfi_setpriv from connect (or the first callback) to close.
// Member order matters: msg (whose Transaction references *engine) is destroyed before engine.
struct Connection {
  std::shared_ptr<const Engine> engine;  // the snapshot taken at connect
  std::string client_addr;
  std::string daemon_name;
  Message msg;
};

std::string Macro(SMFICTX* ctx, const char* name) {
  const char* v = smfi_getsymval(ctx, const_cast<char*>(name));
  return v != nullptr ? std::string(v) : std::string();
}

// "<a@b>" -> "a@b", "<>" -> "", surrounding spaces dropped.
std::string StripBrackets(const char* raw) {
  if (raw == nullptr) return "";
  std::string_view s(raw);
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  if (s.size() >= 2 && s.front() == '<' && s.back() == '>') s = s.substr(1, s.size() - 2);
  return std::string(s);
}

std::string FormatSockaddr(const sockaddr* sa) {
  if (sa == nullptr) return "";
  char buf[INET6_ADDRSTRLEN] = "";
  if (sa->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof buf);
  } else if (sa->sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, buf, sizeof buf);
  } else if (sa->sa_family == AF_UNIX) {
    return "unix";
  }
  return buf;
}

Connection* OpenConnection(SMFICTX* ctx) {
  std::shared_ptr<const Engine> engine = CurrentEngine();
  if (engine == nullptr) return nullptr;
  auto conn = std::make_unique<Connection>();
  conn->engine = std::move(engine);
  if (smfi_setpriv(ctx, conn.get()) != MI_SUCCESS) return nullptr;
  ConnectionOpened();
  return conn.release();
}

// The connection state; created here when the MTA skipped connect. nullptr only on failure.
Connection* GetConnection(SMFICTX* ctx) {
  auto* conn = static_cast<Connection*>(smfi_getpriv(ctx));
  return conn != nullptr ? conn : OpenConnection(ctx);
}

void ResetMessage(Connection* conn) { conn->msg = Message(); }

// Printable single-line text for SMTP replies and quarantine reasons.
std::string OneLine(std::string_view s, size_t max) {
  std::string out;
  for (char c : s) {
    if (out.size() >= max) break;
    out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? ' ' : c;
  }
  return out;
}

// Header values may be folded ("\r\n\t" or "\n\t"); libmilter wants bare LF line breaks.
std::string HeaderValue(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c != '\r') out += c;
  }
  return out;
}

// Sets the SMTP reply of a reject/tempfail; milter/reply.h chooses it (always a code of the
// verdict's class).
void SetReply(SMFICTX* ctx, const std::string& qid, const Decision& d) {
  SmtpReply reply = SmtpReplyFor(d);
  std::string& rcode = reply.rcode;
  std::string& xcode = reply.xcode;
  std::string text;
  // libmilter passes the text through a printf-like expansion in Sendmail: a single '%' must be
  // doubled. libmilter refuses texts over 980 bytes.
  for (char c : OneLine(reply.text.empty() ? std::string("deskmilter") : reply.text, 900)) {
    text += c;
    if (c == '%') text += '%';
  }
  if (smfi_setreply(ctx, rcode.data(), xcode.data(), text.data()) != MI_SUCCESS) {
    LogWarning(FormatLogLine(qid, {{"smfi_setreply", "failed"}, {"rcode", rcode}, {"xcode", xcode}}));
  }
}

Status ApplyHeaderEdits(SMFICTX* ctx, const Decision& d) {
  for (const HeaderEdit& e : d.header_changes) {
    std::string name = e.name;
    std::string value = HeaderValue(e.value);
    int rc = MI_FAILURE;
    switch (e.op) {
      case HeaderEdit::Op::kAdd:
        rc = smfi_addheader(ctx, name.data(), value.data());
        break;
      case HeaderEdit::Op::kChange:
        rc = smfi_chgheader(ctx, name.data(), e.index, e.value.empty() ? nullptr : value.data());
        break;
      case HeaderEdit::Op::kInsert:
        rc = smfi_insheader(ctx, e.index, name.data(), value.data());
        break;
    }
    if (rc != MI_SUCCESS) {
      return Status::Internal(std::string("smfi_") + HeaderEditOpName(e.op) + "header " + e.name +
                              " failed");
    }
  }
  for (const std::string& rcpt : d.add_recipients) {
    std::string to = "<" + StripBrackets(rcpt.c_str()) + ">";
    if (smfi_addrcpt(ctx, to.data()) != MI_SUCCESS) return Status::Internal("smfi_addrcpt failed");
  }
  if (!d.envelope_from.empty()) {
    std::string from = "<" + StripBrackets(d.envelope_from.c_str()) + ">";
    if (smfi_chgfrom(ctx, from.data(), nullptr) != MI_SUCCESS) {
      return Status::Internal("smfi_chgfrom failed");
    }
  }
  return Status::Ok();
}

Status Quarantine(SMFICTX* ctx, const Decision& d) {
  // Postfix drops the quarantine reason (notes/postfix.md): keep it in a header of the held copy.
  std::string reason = OneLine(d.reason.empty() ? "held by deskmilter" : d.reason, 900);
  if (smfi_addheader(ctx, const_cast<char*>("X-Deskmilter-Hold"), reason.data()) != MI_SUCCESS) {
    return Status::Internal("smfi_addheader X-Deskmilter-Hold failed");
  }
  if (smfi_quarantine(ctx, reason.data()) != MI_SUCCESS) {
    return Status::Internal("smfi_quarantine failed");
  }
  return Status::Ok();
}

// A failed edit leaves the delivered copy half edited: never deliver it. The configured
// on_internal_error applies when it refuses the mail (tempfail, reject, discard); accept and hold
// (which would deliver or keep the half-edited copy) become tempfail, so the MTA retries and the
// retry is threaded as a duplicate of the ticket already written.
void EditFailed(const Engine& engine, const Status& st, Decision* d) {
  Decision f = engine.FailureDecision(st);
  if (f.verdict == Outcome::kAccept || f.verdict == Outcome::kHold) {
    f.verdict = Outcome::kTempfail;
    f.failure = FailureClass::kInternal;
  }
  d->Set(f.verdict, f.failure, f.reason);
  d->error = f.error;
  d->reasons.push_back("edit_failed");
}

// Sends the stripped body in chunks, back to back: Postfix refuses another edit between
// two smfi_replacebody calls (notes/postfix.md). libmilter limits one chunk to 64 KiB.
Status ReplaceBody(SMFICTX* ctx, const Spool& body) {
  constexpr size_t kChunk = 60 * 1024;
  std::string buf;
  if (body.size() == 0) {
    unsigned char empty[1] = {0};
    if (smfi_replacebody(ctx, empty, 0) != MI_SUCCESS) return Status::Internal("smfi_replacebody failed");
    return Status::Ok();
  }
  for (uint64_t off = 0; off < body.size();) {
    Status st = body.Read(off, kChunk, &buf);
    if (!st.ok()) return st;
    if (buf.empty()) return Status::Internal("replacement body: short read");
    if (smfi_replacebody(ctx, reinterpret_cast<unsigned char*>(buf.data()),
                         static_cast<int>(buf.size())) != MI_SUCCESS) {
      return Status::Internal("smfi_replacebody failed");
    }
    off += buf.size();
  }
  return Status::Ok();
}

// Applies d at end of message and returns the libmilter answer. d may change (edit failures).
sfsistat ApplyDecision(SMFICTX* ctx, const Engine& engine, const std::string& qid, Decision* d) {
  if (d->verdict == Outcome::kAccept || d->verdict == Outcome::kHold) {
    Status st = Status::Ok();
    if (d->replacement_body != nullptr) st = ReplaceBody(ctx, *d->replacement_body);
    if (st.ok()) st = ApplyHeaderEdits(ctx, *d);
    if (st.ok() && d->verdict == Outcome::kHold) st = Quarantine(ctx, *d);
    if (!st.ok()) EditFailed(engine, st, d);
  }
  switch (d->verdict) {
    case Outcome::kAccept:
    case Outcome::kHold:
      return SMFIS_CONTINUE;
    case Outcome::kReject:
      SetReply(ctx, qid, *d);
      return SMFIS_REJECT;
    case Outcome::kTempfail:
      SetReply(ctx, qid, *d);
      return SMFIS_TEMPFAIL;
    case Outcome::kDiscard:
      return SMFIS_DISCARD;
    case Outcome::kStrip:  // an attachment action only; never a message's (core/outcome.h)
      break;
  }
  return SMFIS_TEMPFAIL;
}

std::string OrDash(const std::string& s) { return s.empty() ? "-" : s; }

// Removes quarantine entries past attachments.quarantine_days: at most once an hour, from the
// thread that just wrote one (the daemon also purges at start).
void MaybePurgeQuarantine(const Config& cfg, int64_t now) {
  static std::atomic<int64_t> last{0};
  int64_t prev = last.load();
  if (now - prev < 3600 || !last.compare_exchange_strong(prev, now)) return;
  PurgeExpiredQuarantine(cfg, now);
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) {
    if (!out.empty()) out += ',';
    out += s;
  }
  return out;
}

// What the metrics count of one decision (core/metrics.h). The only place that reads a Decision
// for metrics: adapt it here when the Decision's vocabulary changes.
MessageSample SampleOf(const Decision& d, std::optional<double> elapsed_ms) {
  MessageSample s;
  s.now = static_cast<int64_t>(std::time(nullptr));
  s.verdict = OutcomeName(d.verdict);
  s.kind = d.kind;
  s.queue = d.queue;
  s.auto_class = d.auto_class;
  s.auto_rule = d.auto_rule;
  s.failure = d.failure == desk::FailureClass::kNone ? "" : FailureClassName(d.failure);
  // One attachment per "attachment=NAME, ..." log line: what was found and what was done.
  for (const auto& line : d.extra_log_lines) {
    if (line.empty() || line[0].first != "attachment") continue;
    MessageSample::Attachment a;
    for (const auto& [k, v] : line) {
      if (k == "outcome") a.outcome = v;
      else if (k == "action") a.action = v;
      else if (k == "virus" && v != "-") a.virus = v;
    }
    s.attachments.push_back(std::move(a));
  }
  if (elapsed_ms) s.eom_seconds = *elapsed_ms / 1000.0;
  return s;
}

// Logs the decision and counts it in the metrics: every decided message passes here exactly once.
void LogDecision(const std::string& qid, const Message& m, const Decision& d,
                 std::optional<double> elapsed_ms) {
  RecordMessage(SampleOf(d, elapsed_ms));
  std::vector<std::string> to;
  if (m.tx != nullptr && m.tx->IsAgent()) {
    to = m.envelope.rcpts;  // an agent's mail: name the outside recipient(s) it goes to
  } else if (m.tx != nullptr) {
    for (const QueueMatch& q : m.tx->support_rcpts()) to.push_back(q.address);
  } else {
    to = m.envelope.rcpts;  // a failure before routing: every recipient
  }
  std::vector<std::pair<std::string, std::string>> f;
  f.reserve(14 + d.log_fields.size());
  f.emplace_back("from", m.envelope.mail_from.empty() ? "<>" : m.envelope.mail_from);
  f.emplace_back("to", OrDash(Join(to)));
  f.emplace_back("verdict", OutcomeName(d.verdict));
  f.emplace_back("kind", OrDash(d.kind));
  f.emplace_back("queue", OrDash(d.queue));
  f.emplace_back("ticket", d.ticket ? std::to_string(*d.ticket) : "-");
  f.emplace_back("action", OrDash(d.ticket_action));
  f.emplace_back("msgid", OrDash(d.message_id));
  f.emplace_back("size", std::to_string(m.size));
  f.emplace_back("reasons", OrDash(Join(d.reasons)));
  // The automatic-mail class and the rule that fired (each classification is logged).
  // After the older fields, so patterns that match a prefix of the line keep matching.
  f.emplace_back("auto", OrDash(d.auto_class));
  f.emplace_back("rule", OrDash(d.auto_rule));
  // Who handed the message over: the SMTP client, and the SASL login when it authenticated.
  f.emplace_back("client", OrDash(m.envelope.client_addr));
  if (!m.envelope.auth_user.empty()) {
    f.emplace_back("login", m.envelope.auth_user);
    if (m.tx != nullptr && !m.tx->IsAgent()) f.emplace_back("agent", "none");
  }
  for (const auto& kv : d.log_fields) f.push_back(kv);
  if (!d.error.empty()) f.emplace_back("error", d.error);
  if (elapsed_ms) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", *elapsed_ms);
    f.emplace_back("elapsed_ms", buf);
  } else {
    f.emplace_back("elapsed_ms", "-");
  }
  LogInfo(FormatLogLine(qid, f));
  for (const auto& line : d.extra_log_lines) LogInfo(FormatLogLine(qid, line));
  CountMail(d.ticket_action == "created");  // systemd STATUS= (milter/notify.h)
}

// Authenticated mail whose login is no configured agent passes untouched; one line makes a login
// spelled differently from the MTA's {auth_authen} (alice vs alice@example.com) visible.
void LogUnknownLogin(const Envelope& e) {
  LogInfo(FormatLogLine(e.queue_id.empty() ? "NOQUEUE" : e.queue_id,
                        {{"from", e.mail_from.empty() ? "<>" : e.mail_from},
                         {"to", OrDash(Join(e.rcpts))},
                         {"verdict", "accept"},
                         {"kind", "not_support"},
                         {"client", OrDash(e.client_addr)},
                         {"login", e.auth_user},
                         {"agent", "none"}}));
}

// Keeps the original of a mail whose attachments are stripped (core/quarantine.h), before the
// edited copy goes out, so a false positive can be recovered with deskctl quarantine get. When
// that fails the stripped parts would be lost: the failure takes on_internal_error's action (as an
// edit failure: never a half-kept delivery).
void KeepOriginal(const Engine& engine, const std::string& qid, const Message& m, Decision* d) {
  const Config& cfg = engine.config();
  if (m.tx == nullptr || d->replacement_body == nullptr || cfg.attachments_quarantine_days <= 0) {
    return;
  }
  if (d->verdict != Outcome::kAccept && d->verdict != Outcome::kHold) return;
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  std::vector<std::pair<std::string, std::string>> fields = {
      {"queue_id", qid},
      {"from", m.envelope.mail_from.empty() ? "<>" : m.envelope.mail_from},
      {"to", Join(m.envelope.rcpts)},
      {"queue", d->queue},
      {"ticket", d->ticket ? std::to_string(*d->ticket) : ""},
      {"msgid", d->message_id},
  };
  for (const StoredAttachment& a : d->attachments) {
    if (a.verdict == "stripped") fields.emplace_back("stripped", a.filename + ": " + a.reason);
  }
  const std::string dir = QuarantineDir(cfg);
  const std::string id = QuarantineId(now, qid);
  Status st = SaveQuarantine(dir, id, now, fields, m.tx->spool());
  if (!st.ok()) {
    EditFailed(engine, Status::Internal("quarantine: " + st.message()), d);
    return;
  }
  d->log_fields.emplace_back("quarantine", id);
  MaybePurgeQuarantine(cfg, now);
}

// Creates the Transaction at the first content callback (DATA normally). Returns SMFIS_ACCEPT for
// a message without support recipient, SMFIS_CONTINUE otherwise (a Transaction exists, or a
// failure waits for end of message).
sfsistat Begin(SMFICTX* ctx, Connection* conn) {
  Message& m = conn->msg;
  if (m.failure) return SMFIS_CONTINUE;
  if (m.passed) return SMFIS_ACCEPT;
  if (m.tx != nullptr) return SMFIS_CONTINUE;
  // Postfix sends the queue id from DATA on; Sendmail already at MAIL.
  if (m.envelope.queue_id.empty()) m.envelope.queue_id = Macro(ctx, "i");
  auto tx = std::make_unique<Transaction>(*conn->engine, m.envelope);
  if (!tx->IsRelevant()) {
    m.passed = true;
    if (!m.envelope.auth_user.empty()) LogUnknownLogin(m.envelope);
    return SMFIS_ACCEPT;
  }
  m.tx = std::move(tx);
  return SMFIS_CONTINUE;
}

// An exception escaped a callback. Before end of message the failure is kept and decided (and
// logged) at end of message, so every message gets exactly one decision.
sfsistat Fail(SMFICTX* ctx, const char* stage, const char* what) noexcept {
  try {
    auto* conn = static_cast<Connection*>(smfi_getpriv(ctx));
    std::string text = std::string(stage) + ": " + what;
    if (conn == nullptr || conn->engine == nullptr) {
      LogError("NOQUEUE: " + text);
      return SMFIS_TEMPFAIL;
    }
    conn->msg.tx.reset();
    if (!conn->msg.failure) conn->msg.failure = conn->engine->FailureDecision(Status::Internal(text));
    return SMFIS_CONTINUE;
  } catch (...) {
    return SMFIS_TEMPFAIL;
  }
}

template <typename F>
sfsistat Guard(SMFICTX* ctx, const char* stage, F&& body) noexcept {
  try {
    return body();
  } catch (const std::exception& e) {
    return Fail(ctx, stage, e.what());
  } catch (...) {
    return Fail(ctx, stage, "unknown exception");
  }
}

// Asked once per connection: which actions and protocol steps. Only offered actions may be asked
// for (libmilter aborts the connection otherwise); a missing one makes its edits fail later, which
// tempfails that message, so it is worth one warning.
sfsistat Negotiate(SMFICTX* ctx, unsigned long f0, unsigned long f1, unsigned long /*f2*/,
                   unsigned long /*f3*/, unsigned long* pf0, unsigned long* pf1,
                   unsigned long* pf2, unsigned long* pf3) {
  static std::atomic<bool> warned{false};
  unsigned long actions = kFilterActions & f0;
  if (actions != kFilterActions && !warned.exchange(true)) {
    char buf[160];
    std::snprintf(buf, sizeof buf,
                  "the MTA offers milter actions 0x%lx, deskmilter wants 0x%lx: edits needing the "
                  "missing ones will tempfail",
                  f0, kFilterActions);
    LogWarning(buf);
  }
  if ((f0 & SMFIF_SETSYMLIST) != 0) {
    // Ask for what deskmilter records (Postfix's defaults already send these; this states it).
    bool ok = smfi_setsymlist(ctx, SMFIM_CONNECT, const_cast<char*>("j {daemon_name} {client_addr}")) ==
                  MI_SUCCESS &&
              smfi_setsymlist(ctx, SMFIM_ENVFROM, const_cast<char*>("i {auth_authen}")) == MI_SUCCESS &&
              smfi_setsymlist(ctx, SMFIM_DATA, const_cast<char*>("i")) == MI_SUCCESS &&
              smfi_setsymlist(ctx, SMFIM_EOH, const_cast<char*>("i")) == MI_SUCCESS &&
              smfi_setsymlist(ctx, SMFIM_EOM, const_cast<char*>("i")) == MI_SUCCESS;
    if (ok) actions |= SMFIF_SETSYMLIST;
  }
  // Skip HELO and unknown commands; every other step is sent and answered (no SMFIP_NR_* flags:
  // answering every packet is what keeps Nagle from stalling the MTA). No SMFIP_HDR_LEADSPC: the
  // MTA strips the space after the colon, as the Spool's "Name: value" expects.
  *pf0 = actions;
  *pf1 = f1 & (SMFIP_NOHELO | SMFIP_NOUNKNOWN);
  *pf2 = 0;
  *pf3 = 0;
  return SMFIS_CONTINUE;
}

// A failure here has no message to attach to: the whole connection is tempfailed.
sfsistat Connect(SMFICTX* ctx, char* /*hostname*/, _SOCK_ADDR* hostaddr) {
  try {
    auto* conn = static_cast<Connection*>(smfi_getpriv(ctx));
    if (conn == nullptr) conn = OpenConnection(ctx);
    if (conn == nullptr) return SMFIS_TEMPFAIL;
    conn->client_addr = Macro(ctx, "{client_addr}");
    if (conn->client_addr.empty()) conn->client_addr = FormatSockaddr(hostaddr);
    conn->daemon_name = Macro(ctx, "{daemon_name}");
    return SMFIS_CONTINUE;
  } catch (...) {
    return SMFIS_TEMPFAIL;
  }
}

sfsistat EnvFrom(SMFICTX* ctx, char** argv) {
  return Guard(ctx, "envfrom", [&]() -> sfsistat {
    Connection* conn = GetConnection(ctx);
    if (conn == nullptr) return SMFIS_TEMPFAIL;
    ResetMessage(conn);
    Message& m = conn->msg;
    m.started = true;
    m.envelope.mail_from = StripBrackets(argv != nullptr ? argv[0] : nullptr);
    m.envelope.auth_user = Macro(ctx, "{auth_authen}");
    m.envelope.client_addr = conn->client_addr;
    m.envelope.daemon_name = conn->daemon_name;
    m.envelope.queue_id = Macro(ctx, "i");
    return SMFIS_CONTINUE;
  });
}

sfsistat EnvRcpt(SMFICTX* ctx, char** argv) {
  return Guard(ctx, "envrcpt", [&]() -> sfsistat {
    Connection* conn = GetConnection(ctx);
    if (conn == nullptr) return SMFIS_TEMPFAIL;
    Message& m = conn->msg;
    m.started = true;
    if (m.tx == nullptr && !m.passed) {  // a RCPT after DATA began is ignored
      m.envelope.rcpts.push_back(StripBrackets(argv != nullptr ? argv[0] : nullptr));
    }
    return SMFIS_CONTINUE;
  });
}

sfsistat Data(SMFICTX* ctx) {
  return Guard(ctx, "data", [&]() -> sfsistat {
    Connection* conn = GetConnection(ctx);
    if (conn == nullptr) return SMFIS_TEMPFAIL;
    return Begin(ctx, conn);
  });
}

sfsistat Header(SMFICTX* ctx, char* name, char* value) {
  return Guard(ctx, "header", [&]() -> sfsistat {
    Connection* conn = GetConnection(ctx);
    if (conn == nullptr) return SMFIS_TEMPFAIL;
    sfsistat r = Begin(ctx, conn);
    Message& m = conn->msg;
    if (r != SMFIS_CONTINUE || m.tx == nullptr) return r;
    std::string_view n = name != nullptr ? name : "";
    std::string_view v = value != nullptr ? value : "";
    m.tx->Header(n, v);
    m.size += n.size() + v.size() + 4;  // "Name: value\r\n"
    return SMFIS_CONTINUE;
  });
}

sfsistat Eoh(SMFICTX* ctx) {
  return Guard(ctx, "eoh", [&]() -> sfsistat {
    Connection* conn = GetConnection(ctx);
    if (conn == nullptr) return SMFIS_TEMPFAIL;
    sfsistat r = Begin(ctx, conn);
    Message& m = conn->msg;
    if (r != SMFIS_CONTINUE || m.tx == nullptr) return r;
    m.eoh_at = Clock::now();
    m.tx->EndOfHeaders();
    m.size += 2;
    return SMFIS_CONTINUE;
  });
}

sfsistat Body(SMFICTX* ctx, unsigned char* chunk, size_t len) {
  return Guard(ctx, "body", [&]() -> sfsistat {
    Connection* conn = GetConnection(ctx);
    if (conn == nullptr) return SMFIS_TEMPFAIL;
    sfsistat r = Begin(ctx, conn);
    Message& m = conn->msg;
    if (r != SMFIS_CONTINUE || m.tx == nullptr) return r;
    if (chunk != nullptr && len > 0) {
      m.tx->Body(std::string_view(reinterpret_cast<const char*>(chunk), len));
      m.size += len;
    }
    return SMFIS_CONTINUE;
  });
}

sfsistat EomBody(SMFICTX* ctx, Connection* conn) {
  Message& m = conn->msg;
  if (Begin(ctx, conn) == SMFIS_ACCEPT) {  // not support mail: untouched, not logged
    ResetMessage(conn);
    return SMFIS_CONTINUE;
  }
  std::string qid = m.envelope.queue_id.empty() ? Macro(ctx, "i") : m.envelope.queue_id;
  Decision d;
  std::optional<double> elapsed_ms;
  if (m.failure) {
    d = *m.failure;
  } else {
    if (!m.eoh_at) m.eoh_at = Clock::now();  // no end-of-headers seen: time the decision alone
    d = m.tx->EndOfMessage(static_cast<int64_t>(std::time(nullptr)));
    elapsed_ms = std::chrono::duration<double, std::milli>(Clock::now() - *m.eoh_at).count();
  }
  KeepOriginal(*conn->engine, qid, m, &d);
  sfsistat r = ApplyDecision(ctx, *conn->engine, qid, &d);
  LogDecision(qid, m, d, elapsed_ms);
  EnqueueTranscript(conn->engine, d);  // queues with transcript = "pdf"; never blocks
  if (d.outbox_queued != 0) WakeOutbox();  // never blocks
  ResetMessage(conn);
  return r;
}

sfsistat Eom(SMFICTX* ctx) {
  Connection* conn = nullptr;
  try {
    conn = GetConnection(ctx);
    if (conn == nullptr) return SMFIS_TEMPFAIL;
    return EomBody(ctx, conn);
  } catch (...) {
    // Decide here (there is no later callback): the failure action, applied and logged.
    try {
      if (conn == nullptr || conn->engine == nullptr) return SMFIS_TEMPFAIL;
      std::string what = "eom: exception";
      try {
        throw;
      } catch (const std::exception& e) {
        what = std::string("eom: ") + e.what();
      } catch (...) {
      }
      Message& m = conn->msg;
      std::string qid = m.envelope.queue_id;
      Decision d = conn->engine->FailureDecision(Status::Internal(what));
      if (d.verdict == Outcome::kAccept || d.verdict == Outcome::kHold) {
        // Edits may have been sent already: refuse rather than deliver a half-edited copy.
        EditFailed(*conn->engine, Status::Internal(what), &d);
      }
      sfsistat r = ApplyDecision(ctx, *conn->engine, qid, &d);
      LogDecision(qid, m, d, std::nullopt);
      ResetMessage(conn);
      return r;
    } catch (...) {
      return SMFIS_TEMPFAIL;
    }
  }
}

sfsistat Abort(SMFICTX* ctx) {
  return Guard(ctx, "abort", [&]() -> sfsistat {
    auto* conn = static_cast<Connection*>(smfi_getpriv(ctx));
    if (conn != nullptr) ResetMessage(conn);
    return SMFIS_CONTINUE;
  });
}

sfsistat Close(SMFICTX* ctx) {
  auto* conn = static_cast<Connection*>(smfi_getpriv(ctx));
  if (conn != nullptr) {
    smfi_setpriv(ctx, nullptr);
    delete conn;
    ConnectionClosed();
  }
  return SMFIS_CONTINUE;
}

char kFilterName[] = "deskmilter";

}  // namespace

void PurgeExpiredQuarantine(const Config& cfg, int64_t now) {
  if (cfg.attachments_quarantine_days <= 0) return;
  uint64_t removed = 0;
  const std::string dir = QuarantineDir(cfg);
  Status st = PurgeQuarantine(dir, now - cfg.attachments_quarantine_days * 86400, &removed);
  if (!st.ok()) {
    LogWarning("quarantine purge: " + st.message());
  } else if (removed > 0) {
    LogInfo("quarantine purge: removed " + std::to_string(removed) + " entries older than " +
            std::to_string(cfg.attachments_quarantine_days) + " days from " + dir);
  }
}

smfiDesc FilterDescription() {
  smfiDesc d{};
  d.xxfi_name = kFilterName;
  d.xxfi_version = SMFI_VERSION;
  d.xxfi_flags = kFilterActions;
  d.xxfi_connect = Connect;
  d.xxfi_helo = nullptr;  // negotiated away (SMFIP_NOHELO)
  d.xxfi_envfrom = EnvFrom;
  d.xxfi_envrcpt = EnvRcpt;
  d.xxfi_header = Header;
  d.xxfi_eoh = Eoh;
  d.xxfi_body = Body;
  d.xxfi_eom = Eom;
  d.xxfi_abort = Abort;
  d.xxfi_close = Close;
  d.xxfi_unknown = nullptr;  // negotiated away (SMFIP_NOUNKNOWN)
  d.xxfi_data = Data;
  d.xxfi_negotiate = Negotiate;
  return d;
}

}  // namespace desk::milter
