// RunInChild: runs a function in a forked child process whose memory and time are bounded, and
// returns the bytes it produced.
//
// For library code that trusts its input less than the process around it: libarchive 3.6 takes
// the counts in a 7z header at their word and allocates for them before reading the entries, so a
// 363-byte attachment can ask for gigabytes (docs/SECURITY.md, "Archive listing"). Run in the child,
// such a request fails there (the address-space limit) or the child is killed, and the caller
// gets a Status instead of a daemon that the kernel's OOM killer or systemd's MemoryMax stops.
//
// The child is a fork of the calling thread: it sees the caller's memory as it was (copy on
// write), runs fn, writes fn's result to a pipe and leaves with _exit (no destructors, no atexit).
// fn must therefore only use what the calling thread owns (its own buffers, its own libmagic
// handle), never a lock another thread may hold, never the ticket store.
//
// Thread-safety: RunInChild may be called from many threads at once; each call has its own child.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"

namespace desk {

struct ChildLimits {
  // The child's address space may grow by this much over the caller's (RLIMIT_AS, set in the
  // child from its size at fork). An allocation past it fails in the child.
  uint64_t memory_mb = 256;
  // Wall time from fork to the end of fn's output; the child is killed (SIGKILL) after it. Its CPU
  // time is bounded alike (RLIMIT_CPU, rounded up to whole seconds).
  int64_t time_ms = 10000;
  // Largest result accepted; a child writing more is killed and the call fails (Malformed: the
  // input made fn's result that large).
  uint64_t max_output = 256ull << 20;
};

// Runs fn in a child process and stores what it returned in *out. The child closes every
// descriptor from 3 up except keep_fds (an input file fn reads, say). Status::Malformed when the
// child ran out of memory or time, wrote more than max_output, or died of a signal (its message
// says which: the input was more than the limits allow, or crashed the code); Status::Internal
// when no child could be started, could not set its limits (it never runs fn unbounded) or threw.
Status RunInChild(const ChildLimits& limits, const std::vector<int>& keep_fds,
                  const std::function<std::string()>& fn, std::string* out);

}  // namespace desk
