// archive_child_bench: what listing an archive in its bounded child process costs
// (limits.archive_memory_mb, core/child_process.h), against the size of the daemon that forks.
//
//   archive_child_bench [MiB ...]   for each size (default 10 250 500 1000 1500): the process
//                                   first allocates and touches that much memory (as libclamav's
//                                   signatures fill the daemon), then lists one small zip 200 times
//                                   in process and 200 times in the child; prints one Markdown
//                                   row per size: medians, and the difference, in ms.
//
// The fork copies the caller's page tables, so the cost grows with the daemon's resident size.
// Not part of the test command; no timed assertions.
#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/archive_inspect.h"

namespace {

std::string SmallZip() {
  std::vector<char> buf(1 << 20);
  size_t used = 0;
  archive* a = archive_write_new();
  archive_write_set_format_zip(a);
  archive_write_open_memory(a, buf.data(), buf.size(), &used);
  for (int i = 0; i < 5; ++i) {
    std::string name = "file" + std::to_string(i) + ".pdf";
    std::string data = "%PDF-1.4\n" + std::string(4000, char('a' + i));
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_size(e, static_cast<la_int64_t>(data.size()));
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_write_header(a, e);
    archive_write_data(a, data.data(), data.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  return std::string(buf.data(), used);
}

double MedianMs(const desk::ArchiveInspector& inspector, const std::string& zip) {
  std::vector<double> ms;
  for (int i = 0; i < 200; ++i) {
    desk::ArchiveListing l;
    auto t0 = std::chrono::steady_clock::now();
    desk::Status st = inspector.List(zip, nullptr, &l);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                     .count());
    if (!st.ok() || l.entries.size() != 5) {
      std::fprintf(stderr, "archive_child_bench: listing failed: %s\n", st.ToString().c_str());
      std::exit(1);
    }
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(std::atoi(argv[i]));
  if (sizes.empty()) sizes = {10, 250, 500, 1000, 1500};
  std::sort(sizes.begin(), sizes.end());
  std::string zip = SmallZip();
  desk::ArchiveLimits in_process;
  desk::ArchiveLimits child;
  child.child_memory_mb = 256;
  std::vector<char*> held;
  int have = 0;
  std::printf("| daemon resident (MiB) | in process (ms) | in the child (ms) | fork cost (ms) |\n");
  std::printf("|---|---|---|---|\n");
  for (int mb : sizes) {
    for (; have < mb; ++have) {
      char* p = static_cast<char*>(std::malloc(1 << 20));
      std::memset(p, have & 0xff, 1 << 20);
      held.push_back(p);
    }
    double here = MedianMs(desk::ArchiveInspector(in_process), zip);
    double there = MedianMs(desk::ArchiveInspector(child), zip);
    std::printf("| %d | %.2f | %.2f | %.2f |\n", mb, here, there, there - here);
    std::fflush(stdout);
  }
  for (char* p : held) std::free(p);
  return 0;
}
