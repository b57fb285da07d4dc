// MetricsHttpServer: the optional HTTP listener that serves the metrics (docs/METRICS.md).
//
// A deliberately tiny HTTP/1.1 server on plain sockets: GET (or HEAD) /metrics answers the
// Prometheus text, / a one-line pointer to it, other paths 404, other methods 405. Every answer
// closes the connection (Connection: close); no keep-alive, no chunked bodies, no TLS, no auth:
// bind it to loopback (the default) or put a firewall or a reverse proxy in front of it.
//
// Bounds (the port may be reachable by others): one connection is served at a time, on one thread;
// a request head is read for at most kReadTimeout and kMaxRequestBytes bytes (more is 431);
// sending the answer gives up after kWriteTimeout. A slow or stuck client therefore delays other
// scrapes by at most those timeouts and never holds memory beyond one request head and one answer.
//
// Thread-safety: Start and Stop from one thread (the daemon's main thread); render is called on
// the server's own thread and must be thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "core/status.h"

namespace desk::milter {

class MetricsHttpServer {
 public:
  static constexpr size_t kMaxRequestBytes = 8192;
  static constexpr std::chrono::seconds kReadTimeout{2};
  static constexpr std::chrono::seconds kWriteTimeout{5};

  MetricsHttpServer() = default;
  ~MetricsHttpServer();  // Stop()
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  // Binds address:port (an IPv4 or IPv6 literal) and starts serving render()'s text at /metrics.
  // A bind failure is returned (kConfig when the address is not an IP address, else kInternal,
  // naming the address and errno's text) and nothing is started.
  Status Start(const std::string& address, int port, std::function<std::string()> render);
  // Stops serving and closes the socket; waits for a request being served. Idempotent.
  void Stop();

 private:
  void Serve();
  void Answer(int fd);

  int listen_fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  std::function<std::string()> render_;
  std::thread thread_;
};

}  // namespace desk::milter
