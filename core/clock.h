// MonotonicClock: how the core measures time spent on one message (the scanning budget) without
// reading a clock itself. The daemon and deskctl pass a steady clock (milter/steady_clock.h); tests
// pass a clock they move by hand, so what the core does at a deadline is tested without waiting.
//
// Thread-safety: NowMs may be called from any thread at once.
#pragma once

#include <cstdint>

namespace desk {

class MonotonicClock {
 public:
  virtual ~MonotonicClock() = default;
  // Milliseconds from an arbitrary fixed origin; never decreases.
  virtual int64_t NowMs() const = 0;
};

}  // namespace desk
