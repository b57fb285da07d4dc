// SteadyClock: the MonotonicClock (core/clock.h) the daemon and deskctl give the core, over
// std::chrono::steady_clock (unaffected by changes of the wall clock).
//
// Thread-safety: stateless; safe from any thread.
#pragma once

#include <chrono>
#include <cstdint>

#include "core/clock.h"

namespace desk {

class SteadyClock : public MonotonicClock {
 public:
  int64_t NowMs() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
};

}  // namespace desk
