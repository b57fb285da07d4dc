// See quarantine.h.
#include "core/quarantine.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

namespace desk {
namespace {

constexpr size_t kChunk = 64 * 1024;
constexpr size_t kMaxValue = 1000;

std::string Errno() { return std::strerror(errno); }

bool ValidId(const std::string& id) {
  if (id.empty() || id.size() > 200) return false;
  for (char c : id) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-')) return false;
  }
  return std::isdigit(static_cast<unsigned char>(id[0])) != 0;
}

std::string OneLine(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (out.size() >= kMaxValue) break;
    out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? ' ' : c;
  }
  return out;
}

Status WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return Status::Internal("quarantine write: " + Errno());
    p += w;
    n -= static_cast<size_t>(w);
  }
  return Status::Ok();
}

// Writes content produced by fill(fd) to path through a unique temp file and rename.
template <typename Fill>
Status WriteFileAtomically(const std::string& dir, const std::string& path, Fill fill) {
  std::string tmp = dir + "/.tmp.XXXXXX";
  int fd = mkstemp(tmp.data());
  if (fd < 0) return Status::Internal("quarantine: mkstemp in " + dir + ": " + Errno());
  fchmod(fd, 0640);
  Status st = fill(fd);
  if (st.ok() && fsync(fd) != 0) st = Status::Internal("quarantine fsync: " + Errno());
  if (close(fd) != 0 && st.ok()) st = Status::Internal("quarantine close: " + Errno());
  if (st.ok() && rename(tmp.c_str(), path.c_str()) != 0) {
    st = Status::Internal("quarantine rename " + path + ": " + Errno());
  }
  if (!st.ok()) unlink(tmp.c_str());
  return st;
}

int64_t IdTime(const std::string& id) {
  int64_t t = 0;
  for (char c : id) {
    if (!std::isdigit(static_cast<unsigned char>(c))) break;
    if (t > (INT64_MAX - 9) / 10) return INT64_MAX;
    t = t * 10 + (c - '0');
  }
  return t;
}

}  // namespace

std::string QuarantineDir(const Config& config) {
  if (!config.attachments_quarantine_dir.empty()) return config.attachments_quarantine_dir;
  return config.store_dir + "/quarantine";
}

std::string QuarantineEntry::Field(const std::string& key) const {
  for (const auto& kv : fields) {
    if (kv.first == key) return kv.second;
  }
  return "";
}

std::string QuarantineId(int64_t now, const std::string& queue_id) {
  std::string q;
  for (char c : queue_id) {
    if (std::isalnum(static_cast<unsigned char>(c)) && q.size() < 64) q += c;
  }
  return std::to_string(now < 0 ? 0 : now) + "-" + (q.empty() ? "noqueue" : q);
}

Status SaveQuarantine(const std::string& dir, const std::string& id, int64_t now,
                      const std::vector<std::pair<std::string, std::string>>& fields,
                      const Spool& message) {
  if (!ValidId(id)) return Status::Invalid("quarantine: bad entry id '" + id + "'");
  if (mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST) {
    return Status::Internal("quarantine: mkdir " + dir + ": " + Errno());
  }
  Status st = WriteFileAtomically(dir, dir + "/" + id + ".eml", [&](int fd) {
    std::string buf;
    for (uint64_t off = 0; off < message.size();) {
      Status s = message.Read(off, kChunk, &buf);
      if (!s.ok()) return s;
      if (buf.empty()) return Status::Internal("quarantine: short read of the message");
      s = WriteAll(fd, buf.data(), buf.size());
      if (!s.ok()) return s;
      off += buf.size();
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  std::string meta = "received_at=" + std::to_string(now) + "\n";
  for (const auto& [k, v] : fields) meta += OneLine(k) + "=" + OneLine(v) + "\n";
  return WriteFileAtomically(dir, dir + "/" + id + ".meta",
                             [&](int fd) { return WriteAll(fd, meta.data(), meta.size()); });
}

Status ListQuarantine(const std::string& dir, std::vector<QuarantineEntry>* out) {
  out->clear();
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return Status::Ok();
    return Status::Internal("quarantine: opendir " + dir + ": " + Errno());
  }
  std::vector<std::string> ids;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name.size() > 5 && name.compare(name.size() - 5, 5, ".meta") == 0) {
      std::string id = name.substr(0, name.size() - 5);
      if (ValidId(id)) ids.push_back(id);
    }
  }
  closedir(d);
  std::sort(ids.begin(), ids.end(), [](const std::string& a, const std::string& b) {
    int64_t ta = IdTime(a), tb = IdTime(b);
    return ta != tb ? ta < tb : a < b;
  });
  for (const std::string& id : ids) {
    struct stat sb;
    if (stat((dir + "/" + id + ".eml").c_str(), &sb) != 0) continue;  // incomplete
    QuarantineEntry entry;
    entry.id = id;
    entry.size = static_cast<uint64_t>(sb.st_size);
    entry.received_at = IdTime(id);
    std::ifstream in(dir + "/" + id + ".meta");
    std::string line;
    while (std::getline(in, line)) {
      size_t eq = line.find('=');
      if (eq == std::string::npos) continue;
      std::string k = line.substr(0, eq), v = line.substr(eq + 1);
      if (k == "received_at") continue;  // the id carries it
      entry.fields.emplace_back(std::move(k), std::move(v));
    }
    out->push_back(std::move(entry));
  }
  return Status::Ok();
}

Status QuarantineMessagePath(const std::string& dir, const std::string& id, std::string* path) {
  if (!ValidId(id)) return Status::Invalid("'" + id + "' is not a quarantine entry id");
  struct stat sb;
  if (stat((dir + "/" + id + ".meta").c_str(), &sb) != 0 ||
      stat((dir + "/" + id + ".eml").c_str(), &sb) != 0) {
    return Status::NotFound("no quarantine entry " + id + " in " + dir);
  }
  *path = dir + "/" + id + ".eml";
  return Status::Ok();
}

Status PurgeQuarantine(const std::string& dir, int64_t cutoff, uint64_t* removed) {
  *removed = 0;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return Status::Ok();
    return Status::Internal("quarantine: opendir " + dir + ": " + Errno());
  }
  std::map<std::string, std::vector<std::string>> by_id;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    size_t dot = name.rfind('.');
    if (dot == std::string::npos || dot == 0) continue;
    std::string ext = name.substr(dot);
    if (ext != ".eml" && ext != ".meta") continue;
    std::string id = name.substr(0, dot);
    if (ValidId(id) && IdTime(id) < cutoff) by_id[id].push_back(name);
  }
  closedir(d);
  Status st = Status::Ok();
  for (const auto& [id, names] : by_id) {
    for (const std::string& n : names) {
      if (unlink((dir + "/" + n).c_str()) != 0 && errno != ENOENT && st.ok()) {
        st = Status::Internal("quarantine: unlink " + dir + "/" + n + ": " + Errno());
      }
    }
    ++*removed;
  }
  return st;
}

}  // namespace desk
