// Status and Result<T>: how errors travel through deskmilter's core.
//
// Errors are values, never exceptions across module boundaries (LevelDB style). A Status carries an
// error class and a human message; the core reports the class, and only the milter adapter maps a
// class to an SMTP answer through the configured failure actions.
//
// Thread-safety: plain values; copy freely.
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace desk {

// The classes of failure the core can report. Each class (other than kOk and kNotFound) maps to a
// configured action in the adapter.
enum class ErrorClass {
  kOk,
  kNotFound,   // a lookup found nothing; not a failure of the mail
  kMalformed,  // the mail itself is broken or exceeds a protective limit
  kStore,      // the ticket store failed (I/O, map full after retries, corrupt record)
  kScanner,    // the virus scanner failed
  kConfig,     // bad configuration (start-up only)
  kInternal,   // a bug or an unexpected library failure
  kInvalid,    // bad input from an operator (deskctl arguments)
};

const char* ErrorClassName(ErrorClass c);

class Status {
 public:
  Status() = default;  // OK
  static Status Ok() { return Status(); }
  static Status NotFound(std::string msg) { return Status(ErrorClass::kNotFound, std::move(msg)); }
  static Status Malformed(std::string msg) { return Status(ErrorClass::kMalformed, std::move(msg)); }
  static Status Store(std::string msg) { return Status(ErrorClass::kStore, std::move(msg)); }
  static Status Scanner(std::string msg) { return Status(ErrorClass::kScanner, std::move(msg)); }
  static Status Config(std::string msg) { return Status(ErrorClass::kConfig, std::move(msg)); }
  static Status Internal(std::string msg) { return Status(ErrorClass::kInternal, std::move(msg)); }
  static Status Invalid(std::string msg) { return Status(ErrorClass::kInvalid, std::move(msg)); }

  bool ok() const { return class_ == ErrorClass::kOk; }
  bool IsNotFound() const { return class_ == ErrorClass::kNotFound; }
  ErrorClass error_class() const { return class_; }
  const std::string& message() const { return message_; }
  // "store: mdb_put: MDB_MAP_FULL" or "OK".
  std::string ToString() const;

 private:
  Status(ErrorClass c, std::string msg) : class_(c), message_(std::move(msg)) {}
  ErrorClass class_ = ErrorClass::kOk;
  std::string message_;
};

// A value or the Status explaining why there is none.
template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}  // NOLINT: must not be OK
  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() { return *value_; }
  const T& value() const { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() { return *value_; }
  const T& operator*() const { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace desk
