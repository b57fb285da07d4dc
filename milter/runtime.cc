// See runtime.h. A mutex rather than std::atomic<std::shared_ptr>: it is taken once per connection,
// and its cost is nothing next to one message.
#include "milter/runtime.h"

#include <condition_variable>
#include <mutex>

namespace desk::milter {
namespace {

std::mutex g_mu;
std::condition_variable g_idle;
std::shared_ptr<const Engine> g_engine;  // guarded by g_mu
int g_connections = 0;                   // guarded by g_mu

}  // namespace

std::shared_ptr<const Engine> CurrentEngine() {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_engine;
}

void PublishEngine(std::shared_ptr<const Engine> engine) {
  std::shared_ptr<const Engine> old;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    old = std::move(g_engine);
    g_engine = std::move(engine);
  }
  // old is released here, outside the lock; connections still holding it keep it alive.
}

void ConnectionOpened() {
  std::lock_guard<std::mutex> lock(g_mu);
  ++g_connections;
}

void ConnectionClosed() {
  std::lock_guard<std::mutex> lock(g_mu);
  if (--g_connections <= 0) {
    g_connections = 0;
    g_idle.notify_all();
  }
}

int WaitForConnections(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(g_mu);
  g_idle.wait_for(lock, timeout, [] { return g_connections == 0; });
  return g_connections;
}

}  // namespace desk::milter
