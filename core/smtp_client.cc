// SubmitSmtp over a plain TCP socket (see the header).
#include "core/smtp_client.h"

#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <utility>

namespace desk {
namespace {

class Conn {
 public:
  ~Conn() {
    if (fd_ >= 0) ::close(fd_);
  }

  // "" on success, else why not.
  std::string Open(const SmtpTarget& t) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    const std::string port = std::to_string(t.port);
    int rc = getaddrinfo(t.host.c_str(), port.c_str(), &hints, &res);
    if (rc != 0) return "resolve " + t.host + ": " + gai_strerror(rc);
    std::string why = "no address for " + t.host;
    timeval tv{};
    tv.tv_sec = t.timeout_seconds;
    for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
      int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
      if (fd < 0) {
        why = std::string("socket: ") + std::strerror(errno);
        continue;
      }
      // SO_SNDTIMEO also bounds connect() on Linux.
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
        fd_ = fd;
        why.clear();
        break;
      }
      why = std::string("connect: ") + std::strerror(errno);
      ::close(fd);
    }
    freeaddrinfo(res);
    return why;
  }

  bool Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // One (possibly multi-line) reply: its code and its last line's text. false on a broken or
  // oversized reply, a timeout or a closed connection (*why says which).
  bool Reply(int* code, std::string* text, std::string* why) {
    for (size_t lines = 0; lines < kMaxReplyLines; ++lines) {
      std::string line;
      if (!ReadLine(&line, why)) return false;
      if (line.size() < 3 || !std::isdigit(static_cast<unsigned char>(line[0])) ||
          !std::isdigit(static_cast<unsigned char>(line[1])) ||
          !std::isdigit(static_cast<unsigned char>(line[2])) ||
          (line.size() > 3 && line[3] != ' ' && line[3] != '-')) {
        *why = "malformed reply";
        return false;
      }
      if (line.size() > 3 && line[3] == '-') continue;
      *code = std::stoi(line.substr(0, 3));
      *text = std::move(line);
      return true;
    }
    *why = "reply of more than " + std::to_string(kMaxReplyLines) + " lines";
    return false;
  }

 private:
  bool ReadLine(std::string* line, std::string* why) {
    for (;;) {
      size_t nl = buf_.find('\n');
      if (nl != std::string::npos) {
        *line = buf_.substr(0, nl);
        if (!line->empty() && line->back() == '\r') line->pop_back();
        buf_.erase(0, nl + 1);
        return true;
      }
      if (buf_.size() > kMaxReplyLine) {
        *why = "reply line longer than " + std::to_string(kMaxReplyLine) + " bytes";
        return false;
      }
      char chunk[1024];
      ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n == 0) {
        *why = "connection closed";
        return false;
      }
      if (n < 0) {
        *why = errno == EAGAIN || errno == EWOULDBLOCK ? std::string("timeout")
                                                       : std::string(std::strerror(errno));
        return false;
      }
      buf_.append(chunk, static_cast<size_t>(n));
    }
  }

  int fd_ = -1;
  std::string buf_;
};

std::string Printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s.substr(0, 200)) out.push_back(c >= 0x20 && c < 0x7f ? char(c) : '?');
  return out;
}

SmtpResult Fail(SmtpResult::Kind kind, int code, const std::string& detail) {
  return {kind, code, Printable(detail)};
}

// An envelope address as it goes between angle brackets: CR, LF and brackets removed.
std::string Path(std::string_view a) {
  std::string out;
  for (char c : a) {
    if (c != '\r' && c != '\n' && c != '<' && c != '>') out.push_back(c);
  }
  return out;
}

}  // namespace

std::string DotStuff(const std::string& raw) {
  std::string out;
  out.reserve(raw.size() + raw.size() / 50 + 8);
  bool line_start = true;
  for (size_t i = 0; i < raw.size(); ++i) {
    const char c = raw[i];
    if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < raw.size() && raw[i + 1] == '\n') ++i;
      out += "\r\n";
      line_start = true;
      continue;
    }
    if (line_start && c == '.') out.push_back('.');
    out.push_back(c);
    line_start = false;
  }
  if (!line_start) out += "\r\n";
  out += ".\r\n";
  return out;
}

SmtpResult SubmitSmtp(const SmtpTarget& target, const OutboxMail& mail) {
  using K = SmtpResult::Kind;
  if (mail.recipients.empty()) return Fail(K::kPermanent, 0, "no recipient");
  Conn c;
  std::string why = c.Open(target);
  if (!why.empty()) return Fail(K::kTemporary, 0, why);
  int code = 0;
  std::string text;
  // One command (or none, for the greeting) and its reply; false when the reply is not `want`xx.
  auto step = [&](const char* what, const std::string& line, int want, SmtpResult* r) {
    if (!line.empty() && !c.Send(line)) {
      *r = Fail(K::kTemporary, 0, std::string(what) + ": send failed");
      return false;
    }
    std::string err;
    if (!c.Reply(&code, &text, &err)) {
      *r = Fail(K::kTemporary, 0, std::string(what) + ": " + err);
      return false;
    }
    if (code / 100 == want) return true;
    *r = Fail(code / 100 == 5 ? K::kPermanent : K::kTemporary, code,
              std::string(what) + ": " + text);
    return false;
  };
  SmtpResult r;
  if (!step("greeting", "", 2, &r)) return r;
  if (!step("EHLO", "EHLO " + Path(target.helo) + "\r\n", 2, &r)) {
    if (r.code == 0 || !step("HELO", "HELO " + Path(target.helo) + "\r\n", 2, &r)) return r;
  }
  if (!step("MAIL", "MAIL FROM:<" + Path(mail.sender) + ">\r\n", 2, &r)) return r;
  for (const std::string& rcpt : mail.recipients) {
    if (!step("RCPT", "RCPT TO:<" + Path(rcpt) + ">\r\n", 2, &r)) return r;
  }
  if (!step("DATA", "DATA\r\n", 3, &r)) return r;
  if (!step("end of data", DotStuff(mail.raw), 2, &r)) return r;
  SmtpResult sent = Fail(K::kSent, code, text);
  c.Send("QUIT\r\n");  // the mail is accepted; the answer to QUIT changes nothing
  return sent;
}

}  // namespace desk
