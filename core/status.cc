#include "core/status.h"

namespace desk {

const char* ErrorClassName(ErrorClass c) {
  switch (c) {
    case ErrorClass::kOk: return "ok";
    case ErrorClass::kNotFound: return "not_found";
    case ErrorClass::kMalformed: return "malformed";
    case ErrorClass::kStore: return "store";
    case ErrorClass::kScanner: return "scanner";
    case ErrorClass::kConfig: return "config";
    case ErrorClass::kInternal: return "internal";
    case ErrorClass::kInvalid: return "invalid";
  }
  return "unknown";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  return std::string(ErrorClassName(class_)) + ": " + message_;
}

}  // namespace desk
