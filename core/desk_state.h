// DeskState: what the triggers ask about the help desk itself, behind one small interface: the
// account status of a queue (from agent states and business hours) and whether it is within
// business hours.
//
// The daemon's implementation is RoutingDeskState (core/routing.h), from the store's agent states
// and the queue's business hours. FixedDeskState (Online, within hours) is for tests and tools
// that have no store.
//
// Thread-safety: implementations must be safe from any thread (one serves all connections).
#pragma once

#include <cstdint>
#include <string>

namespace desk {

enum class AccountStatus { kOnline, kAway, kInvisible };
const char* AccountStatusName(AccountStatus s);  // "online", "away", "invisible"

class DeskState {
 public:
  virtual ~DeskState() = default;
  virtual AccountStatus QueueAccountStatus(const std::string& queue, int64_t now) const = 0;
  virtual bool WithinBusinessHours(const std::string& queue, int64_t now) const = 0;
};

// Online and within business hours, always.
class FixedDeskState : public DeskState {
 public:
  AccountStatus QueueAccountStatus(const std::string&, int64_t) const override {
    return AccountStatus::kOnline;
  }
  bool WithinBusinessHours(const std::string&, int64_t) const override { return true; }
};

}  // namespace desk
