// Quarantine: the original of every message whose attachments were stripped, kept for a while so
// a false positive can be recovered (deskctl quarantine list|get|purge).
//
// Stripping delivers a copy without the refused parts; the original, as the MTA handed it over
// (headers as received, then the body), is written here before the edited copy goes out. An
// entry is two files in one flat directory:
//   ID.eml   the original message, CRLF line ends; ID.meta   one "key=value" line per fact
// ID is "<received-at>-<queue id>" (digits, '-', letters and digits only: the queue id is filtered),
// so entries sort by time and an SMTP retry of the same message overwrites its own entry. The .eml
// is written to a temp file and renamed, then the .meta: an entry without .meta is incomplete and
// ignored by List (Purge removes it once old).
//
// Limits: the message is copied in 64 KiB chunks (never whole in memory); sizes are already bound
// by limits.max_message_bytes. Meta values are made single-line and cut at 1000 bytes each.
// Purge removes entries older than keep_days; the daemon runs it at start and at most hourly after
// a write, deskctl on demand. keep_days = 0 keeps nothing (Save writes nothing).
//
// The core has no clock: times are passed in. Thread-safety: functions are stateless; concurrent
// Saves of different IDs are safe (temp files have unique names).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/config.h"
#include "core/spool.h"
#include "core/status.h"

namespace desk {

// attachments.quarantine_dir, or <store.dir>/quarantine when that is "".
std::string QuarantineDir(const Config& config);

struct QuarantineEntry {
  std::string id;
  int64_t received_at = 0;
  uint64_t size = 0;  // bytes of the .eml
  // In file order: queue_id, from, to, queue, ticket, msgid, subject, stripped (one per
  // attachment: "FILENAME: REASON").
  std::vector<std::pair<std::string, std::string>> fields;
  std::string Field(const std::string& key) const;  // the first value of key, "" if none
};

// The entry ID for a message received at now with this queue id ("" when none: "noqueue").
std::string QuarantineId(int64_t now, const std::string& queue_id);

// Writes entry id: the message in spool and its fields. Creates dir (0750) when missing.
// kInternal on an I/O error (nothing half-written stays under the entry's names).
Status SaveQuarantine(const std::string& dir, const std::string& id, int64_t now,
                      const std::vector<std::pair<std::string, std::string>>& fields,
                      const Spool& message);

// Every complete entry, oldest first. A missing dir is an empty quarantine.
Status ListQuarantine(const std::string& dir, std::vector<QuarantineEntry>* out);

// The path of entry id's message; kNotFound when there is no such (complete) entry, kInvalid for an
// id that could not be one (a path, say).
Status QuarantineMessagePath(const std::string& dir, const std::string& id, std::string* path);

// Removes entries received before cutoff (seconds since the epoch), complete or not; *removed
// counts them. A missing dir is nothing to do.
Status PurgeQuarantine(const std::string& dir, int64_t cutoff, uint64_t* removed);

}  // namespace desk
