// See metrics_http.h.
#include "milter/metrics_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string_view>

namespace desk::milter {
namespace {

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

void SetTimeout(int fd, int option, std::chrono::seconds t) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(t.count());
  setsockopt(fd, SOL_SOCKET, option, &tv, sizeof tv);
}

void SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // timeout or peer gone: nothing more to do for this client
    data.remove_prefix(static_cast<size_t>(n));
  }
}

std::string Response(const char* status, const char* content_type, const std::string& body,
                     bool head, const char* extra = "") {
  std::string r = std::string("HTTP/1.1 ") + status + "\r\nContent-Type: " + content_type +
                  "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra +
                  "Connection: close\r\n\r\n";
  if (!head) r += body;
  return r;
}

}  // namespace

MetricsHttpServer::~MetricsHttpServer() { Stop(); }

Status MetricsHttpServer::Start(const std::string& address, int port,
                                std::function<std::string()> render) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  const bool v6 = address.find(':') != std::string::npos;
  const std::string where = (v6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET6, address.c_str(), &a->sin6_addr) != 1) {
      return Status::Config("metrics.http_address: '" + address + "' is not an IP address");
    }
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, address.c_str(), &a->sin_addr) != 1) {
      return Status::Config("metrics.http_address: '" + address + "' is not an IP address");
    }
    len = sizeof *a;
  }
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Internal(Errno("metrics listener " + where + ": socket"));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (v6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || listen(fd, 16) != 0) {
    Status st = Status::Internal(Errno("metrics.http_address/http_port " + where));
    close(fd);
    return st;
  }
  if (pipe2(stop_pipe_, O_CLOEXEC) != 0) {
    Status st = Status::Internal(Errno("metrics listener: pipe"));
    close(fd);
    return st;
  }
  listen_fd_ = fd;
  render_ = std::move(render);
  thread_ = std::thread([this] {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);  // signals are the main thread's and libmilter's
    Serve();
  });
  return Status::Ok();
}

void MetricsHttpServer::Stop() {
  if (thread_.joinable()) {
    char c = 'x';
    ssize_t n = write(stop_pipe_[1], &c, 1);
    (void)n;
    thread_.join();
  }
  for (int* fd : {&listen_fd_, &stop_pipe_[0], &stop_pipe_[1]}) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
}

void MetricsHttpServer::Serve() {
  for (;;) {
    pollfd p[2] = {{listen_fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    int n = poll(p, 2, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 || (p[1].revents & (POLLIN | POLLHUP)) != 0) return;
    if ((p[0].revents & POLLIN) == 0) continue;
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;  // ECONNABORTED, EMFILE, ...: try again on the next poll
    try {
      Answer(fd);
    } catch (...) {
      // Out of memory while rendering: drop this scrape, keep serving.
    }
    close(fd);
  }
}

void MetricsHttpServer::Answer(int fd) {
  SetTimeout(fd, SO_RCVTIMEO, kReadTimeout);
  SetTimeout(fd, SO_SNDTIMEO, kWriteTimeout);
  const auto deadline = std::chrono::steady_clock::now() + kReadTimeout;
  std::string head;
  char buf[2048];
  while (head.find("\r\n\r\n") == std::string::npos && head.find("\n\n") == std::string::npos) {
    if (head.size() >= kMaxRequestBytes) {
      SendAll(fd,
              Response("431 Request Header Fields Too Large", "text/plain", "too large\n", false));
      // Read (and drop) a little of what the client still sends, so that closing with unread
      // input does not reset the connection before it reads the answer.
      shutdown(fd, SHUT_WR);
      for (size_t drained = 0; drained < 16 * kMaxRequestBytes;) {
        if (std::chrono::steady_clock::now() > deadline) break;
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        drained += static_cast<size_t>(n);
      }
      return;
    }
    // SO_RCVTIMEO bounds each read; the deadline bounds a client that trickles bytes.
    if (std::chrono::steady_clock::now() > deadline) return;
    ssize_t n = recv(fd, buf, std::min(sizeof buf, kMaxRequestBytes - head.size()), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    head.append(buf, static_cast<size_t>(n));
  }
  std::string_view line(head);
  line = line.substr(0, line.find_first_of("\r\n"));
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || !line.substr(sp2 + 1).starts_with("HTTP/")) {
    SendAll(fd, Response("400 Bad Request", "text/plain", "bad request\n", false));
    return;
  }
  std::string_view method = line.substr(0, sp1);
  std::string_view path = line.substr(sp1 + 1, sp2 - sp1 - 1);
  path = path.substr(0, path.find('?'));
  const bool head_only = method == "HEAD";
  if (method != "GET" && !head_only) {
    SendAll(fd, Response("405 Method Not Allowed", "text/plain", "only GET\n", false,
                         "Allow: GET, HEAD\r\n"));
  } else if (path == "/metrics") {
    SendAll(fd,
            Response("200 OK", "text/plain; version=0.0.4; charset=utf-8", render_(), head_only));
  } else if (path == "/") {
    SendAll(fd, Response("200 OK", "text/plain", "deskmilter: metrics at /metrics\n", head_only));
  } else {
    SendAll(fd, Response("404 Not Found", "text/plain", "not found\n", head_only));
  }
}

}  // namespace desk::milter
