// RunInChild: see child_process.h.
#include "core/child_process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <new>
#include <vector>

namespace desk {
namespace {

// How the child tells the parent why it stopped without output.
constexpr int kExitOutOfMemory = 3;
constexpr int kExitException = 4;
constexpr int kExitWrite = 5;
constexpr int kExitLimits = 6;

std::string Errno(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

// The child's address-space size now, in bytes (first field of /proc/self/statm, in pages); 0 when
// it cannot be read.
uint64_t AddressSpaceBytes() {
  int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[128];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  uint64_t pages = 0;
  for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; ++i) pages = pages * 10 + (buf[i] - '0');
  return pages * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

bool WriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += size_t(n);
  }
  return true;
}

// Closes every descriptor from 3 up except those in keep (sorted): the child must not hold the
// daemon's sockets, store or another call's pipe.
void CloseRange(unsigned from, unsigned to) {
  if (close_range(from, to, 0) == 0) return;
  // No close_range (a kernel before 5.9, a seccomp filter): one by one, up to the fd limit.
  long max = sysconf(_SC_OPEN_MAX);
  unsigned last = std::min<unsigned long>(to, max > 0 ? static_cast<unsigned long>(max) : 65536);
  for (unsigned fd = from; fd <= last && fd >= from; ++fd) close(static_cast<int>(fd));
}

void CloseAllBut(std::vector<int> keep) {
  std::sort(keep.begin(), keep.end());
  unsigned from = 3;
  for (int k : keep) {
    if (k < 3) continue;
    if (unsigned(k) > from) CloseRange(from, unsigned(k) - 1);
    from = std::max(from, unsigned(k) + 1);
  }
  CloseRange(from, ~0U);
}

[[noreturn]] void ChildMain(const ChildLimits& limits, const std::vector<int>& keep_fds,
                            const std::function<std::string()>& fn, int out_fd) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  std::vector<int> keep = keep_fds;
  keep.push_back(out_fd);
  CloseAllBut(keep);
  // Unbounded is not an option: without its limits the child does nothing (a seccomp filter
  // that forbids prlimit64, say, makes every call fail instead of silently unbounded).
  uint64_t base = AddressSpaceBytes();
  rlimit as{};
  as.rlim_cur = as.rlim_max = base + (limits.memory_mb << 20);
  rlimit cpu{};
  cpu.rlim_cur = cpu.rlim_max = static_cast<rlim_t>((limits.time_ms + 999) / 1000);
  if (base == 0 || setrlimit(RLIMIT_AS, &as) != 0 || setrlimit(RLIMIT_CPU, &cpu) != 0)
    _exit(kExitLimits);
  std::string result;
  try {
    result = fn();
  } catch (const std::bad_alloc&) {
    _exit(kExitOutOfMemory);
  } catch (...) {
    _exit(kExitException);
  }
  if (!WriteAll(out_fd, result)) _exit(kExitWrite);
  _exit(0);
}

std::string WhyStopped(int wstatus, const ChildLimits& limits) {
  if (WIFSIGNALED(wstatus)) {
    int sig = WTERMSIG(wstatus);
    if (sig == SIGXCPU) return "stopped at its CPU time limit (SIGXCPU)";
    // Not our own kill (that is reported as the time limit): RLIMIT_CPU's hard limit, or the
    // kernel's OOM killer.
    if (sig == SIGKILL) return "killed (SIGKILL: its CPU time limit, or the kernel)";
    return "killed by signal " + std::to_string(sig);
  }
  if (WIFEXITED(wstatus)) {
    switch (WEXITSTATUS(wstatus)) {
      case kExitOutOfMemory:
        return "out of memory (limit " + std::to_string(limits.memory_mb) + " MiB)";
      case kExitException: return "failed with an exception";
      case kExitWrite: return "could not write its result";
      case kExitLimits: return "could not set its memory and time limits (RLIMIT_AS, RLIMIT_CPU)";
      default: return "exited with status " + std::to_string(WEXITSTATUS(wstatus));
    }
  }
  return "stopped";
}

}  // namespace

Status RunInChild(const ChildLimits& limits, const std::vector<int>& keep_fds,
                  const std::function<std::string()>& fn, std::string* out) {
  out->clear();
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Status::Internal(Errno("child process: pipe"));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(limits.time_ms);
  pid_t pid = fork();
  if (pid < 0) {
    Status s = Status::Internal(Errno("child process: fork"));
    close(fds[0]);
    close(fds[1]);
    return s;
  }
  if (pid == 0) {
    close(fds[0]);
    ChildMain(limits, keep_fds, fn, fds[1]);
  }
  close(fds[1]);

  std::string got;
  std::string failure;  // why the parent stopped reading early: our own failure
  bool timed_out = false, too_much = false;
  char buf[64 * 1024];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 1 << 30)));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      failure = Errno("child process: poll");
      break;
    }
    if (r == 0) continue;  // the deadline is checked above
    ssize_t n = read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      failure = Errno("child process: read");
      break;
    }
    if (n == 0) break;  // the child is done writing
    got.append(buf, size_t(n));
    if (got.size() > limits.max_output) {  // what the input made fn produce
      too_much = true;
      break;
    }
  }
  close(fds[0]);
  if (timed_out || too_much || !failure.empty()) kill(pid, SIGKILL);
  int wstatus = 0;
  pid_t w;
  do {
    w = waitpid(pid, &wstatus, 0);
  } while (w < 0 && errno == EINTR);
  if (!failure.empty()) return Status::Internal(failure);
  if (too_much) {
    return Status::Malformed("child process result over " + std::to_string(limits.max_output) +
                             " bytes");
  }
  if (timed_out) {
    return Status::Malformed("child process stopped at its time limit (" +
                             std::to_string(limits.time_ms) + " ms)");
  }
  if (w < 0) return Status::Internal(Errno("child process: waitpid"));
  if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) != 0 &&
      WEXITSTATUS(wstatus) != kExitOutOfMemory) {
    // Not the input's doing: our own failure (an exception, a lost pipe, limits refused).
    return Status::Internal("child process " + WhyStopped(wstatus, limits));
  }
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0)
    return Status::Malformed("child process " + WhyStopped(wstatus, limits));
  *out = std::move(got);
  return Status::Ok();
}

}  // namespace desk
