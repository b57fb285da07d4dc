// Start-up checks of the directories the daemon writes.
//
// A directory that does not exist or cannot be written is not noticed by the loader (it checks
// values, not the file system) and would otherwise show up only when mail needs it: a missing
// spool_dir tempfails every message above spool_threshold, for ever. So start-up and `deskmilter
// -n` both run these checks, and report every problem at once, one line each naming the file, the
// key, the directory and the reason.
//
// What is checked, as the user running the check (the effective uid/gid, through
// faccessat(AT_EACCESS); systemd starts deskmilter as its service user, so run `-n` as that user,
// e.g. `runuser -u deskmilter -- deskmilter -n -c FILE`, to see what the service will see):
//   store.dir              created by the store when missing: it, or else its parent, must be a
//                          writable directory (LMDB creates one level only).
//   attachments.store_dir  created on first use (mkdir -p): it, or its nearest existing ancestor,
//                          must be a writable directory.
//   store.spool_dir        must exist ("" means $TMPDIR, else /tmp).
//   scanner.temp_dir       must exist ("" means $TMPDIR, else /tmp); only when scanner.enabled.
// "Writable" means a directory with write and search permission on a file system not mounted
// read-only. Free space is not checked: it changes at run time, and a full disk tempfails.
//
// Thread-safety: reads the file system and the environment only; safe from any thread.
#pragma once

#include <string>
#include <vector>

#include "core/config.h"

namespace desk::config {

// Every problem found, one line each: "FILE: KEY: DIR: reason". Empty when all is well.
std::vector<std::string> CheckWritableDirs(const Config& config, const std::string& file);

}  // namespace desk::config
