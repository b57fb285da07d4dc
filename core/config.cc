#include "core/config.h"

namespace desk {

const char* ActionName(Action a) {
  switch (a) {
    case Action::kAccept: return "accept";
    case Action::kTempfail: return "tempfail";
    case Action::kReject: return "reject";
    case Action::kHold: return "hold";
    case Action::kDiscard: return "discard";
  }
  return "unknown";
}

bool ParseAction(const std::string& s, Action* out) {
  static const struct { const char* name; Action a; } kActions[] = {
      {"accept", Action::kAccept}, {"tempfail", Action::kTempfail}, {"reject", Action::kReject},
      {"hold", Action::kHold},     {"discard", Action::kDiscard},
  };
  for (const auto& e : kActions) {
    if (s == e.name) {
      *out = e.a;
      return true;
    }
  }
  return false;
}

const char* AttachmentActionName(AttachmentAction a) {
  switch (a) {
    case AttachmentAction::kAccept: return "accept";
    case AttachmentAction::kTempfail: return "tempfail";
    case AttachmentAction::kReject: return "reject";
    case AttachmentAction::kHold: return "hold";
    case AttachmentAction::kStrip: return "strip";
  }
  return "unknown";
}

int AttachmentActionSeverity(AttachmentAction a) {
  switch (a) {
    case AttachmentAction::kAccept: return 0;
    case AttachmentAction::kStrip: return 1;
    case AttachmentAction::kHold: return 2;
    case AttachmentAction::kTempfail: return 3;
    case AttachmentAction::kReject: return 4;
  }
  return 0;
}

}  // namespace desk
