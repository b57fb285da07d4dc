// ScanMimeStructure (see core/mime_scan.h): boundary bookkeeping modelled on GMime 3's parser.
//
// A line is read at most kMaxLine bytes deep (the rest of a longer line is skipped; boundaries are
// at most 70 characters), a Content-Type value at most kMaxContentType bytes. Boundary lines are
// recognised as GMime does: "--" + boundary, optionally "--", then only linear whitespace, checked
// from the innermost open multipart outwards, the closing form first at each level.
//
// Thread-safety: pure function.
#include "core/mime_scan.h"

#include <gmime/gmime.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace desk {
namespace {

constexpr size_t kMaxLine = 4096;
constexpr size_t kMaxContentType = 64 * 1024;
constexpr size_t kChunk = 64 * 1024;
// Parameters in one Content-Type or Content-Disposition header. GMime spends about 4 us on each
// (20,000 in a 190 KB header took 80 ms: 450 ms per MB, bench/hostile_mime_bench); real mail has a
// handful, and a 1000-character RFC 2231 file name split in continuations about 15.
constexpr uint64_t kMaxParams = 100;

// Hands out the spool's lines (without "\n" and a trailing "\r"), each cut at kMaxLine bytes.
class LineReader {
 public:
  explicit LineReader(const Spool& spool) : spool_(spool) {}

  // False at the end of the data; *status is set on a read error. *full_size: the line's length
  // before the cut, newline included.
  // *semicolons: how many ';' the whole line holds (parameter separators, counted past the cut).
  bool Next(std::string* line, uint64_t* full_size, uint64_t* semicolons, Status* status) {
    line->clear();
    *full_size = 0;
    *semicolons = 0;
    bool any = false;
    for (;;) {
      if (pos_ == chunk_.size()) {
        if (!Fill(status)) return false;
        if (chunk_.empty()) break;
      }
      any = true;
      size_t nl = chunk_.find('\n', pos_);
      size_t end = nl == std::string::npos ? chunk_.size() : nl;
      *full_size += end - pos_ + (nl == std::string::npos ? 0 : 1);
      *semicolons += static_cast<uint64_t>(
          std::count(chunk_.begin() + static_cast<std::ptrdiff_t>(pos_),
                     chunk_.begin() + static_cast<std::ptrdiff_t>(end), ';'));
      if (line->size() < kMaxLine) {
        line->append(chunk_, pos_, std::min(end - pos_, kMaxLine - line->size()));
      }
      pos_ = nl == std::string::npos ? chunk_.size() : nl + 1;
      if (nl != std::string::npos) break;
    }
    if (!line->empty() && line->back() == '\r') line->pop_back();
    return any;
  }

 private:
  bool Fill(Status* status) {
    chunk_.clear();
    pos_ = 0;
    if (offset_ >= spool_.size()) return true;
    size_t want = static_cast<size_t>(std::min<uint64_t>(kChunk, spool_.size() - offset_));
    if (!spool_.on_disk()) {
      chunk_.assign(spool_.data(), offset_, want);
    } else {
      chunk_.resize(want);
      ssize_t n;
      do {
        n = pread(spool_.fd(), chunk_.data(), want, static_cast<off_t>(offset_));
      } while (n < 0 && errno == EINTR);
      if (n < 0) {
        *status = Status::Internal(std::string("spool read: ") + std::strerror(errno));
        return false;
      }
      chunk_.resize(static_cast<size_t>(n));
    }
    offset_ += chunk_.size();
    return true;
  }

  const Spool& spool_;
  std::string chunk_;
  size_t pos_ = 0;
  uint64_t offset_ = 0;
};

bool OnlyLwsp(std::string_view s) {
  for (char c : s) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return false;
  }
  return true;
}

struct OpenMultipart {
  std::string boundary;
  int64_t depth;  // depth of the multipart entity itself
};

class Scanner {
 public:
  Scanner(int64_t max_parts, int64_t max_depth, int64_t max_header_bytes)
      : max_parts_(max_parts), max_depth_(max_depth), max_header_bytes_(max_header_bytes) {}

  // line: cut at kMaxLine; full_size: its length in the spool, newline included; semicolons: the
  // ';' in the whole line.
  Status Line(const std::string& line, uint64_t full_size, uint64_t semicolons) {
    if (pending_message_ >= 0 && !IsBoundary(line)) {
      // GMime builds the attached message only when it has content before the next boundary.
      int64_t depth = pending_message_;
      pending_message_ = -1;
      Status s = StartEntity(depth);
      if (!s.ok()) return s;
    }
    pending_message_ = -1;
    if (line.size() >= 2 && line[0] == '-' && line[1] == '-' && !open_.empty()) {
      for (size_t i = open_.size(); i-- > 0;) {
        const std::string& b = open_[i].boundary;
        if (line.compare(2, b.size(), b) != 0) continue;
        std::string_view rest = std::string_view(line).substr(2 + b.size());
        if (rest.substr(0, 2) == "--" && OnlyLwsp(rest.substr(2))) {
          open_.resize(i);  // that multipart ends; its parent's content continues
          in_headers_ = false;
          return Status::Ok();
        }
        if (OnlyLwsp(rest)) {
          int64_t depth = open_[i].depth + 1;
          open_.resize(i + 1);
          return StartEntity(depth);
        }
      }
    }
    if (!in_headers_) return Status::Ok();
    if (line.empty()) return EndHeaders();
    // Each entity's header block is bounded like the message's: GMime keeps every header of every
    // part in memory, and the ambiguity checks read them all.
    header_bytes_ += full_size;
    if (entity_depth_ > 0 && static_cast<int64_t>(header_bytes_) > max_header_bytes_) {
      return Status::Malformed("part header bytes " + std::to_string(header_bytes_) +
                               " exceed limit " + std::to_string(max_header_bytes_));
    }
    if (line[0] == ' ' || line[0] == '\t') {
      if (in_param_header_) {
        params_ += semicolons;
        if (params_ > kMaxParams) return ParamsError();
      }
      if (in_content_type_ && content_type_.size() < kMaxContentType) {
        content_type_.append(line, 0, kMaxContentType - content_type_.size());
      }
      return Status::Ok();
    }
    size_t colon = line.find(':');
    if (colon == std::string::npos) return EndHeaders();  // not a header: content starts here
    in_content_type_ = colon >= 12 && g_ascii_strncasecmp(line.c_str(), "Content-Type", 12) == 0 &&
                       OnlyLwsp(std::string_view(line).substr(12, colon - 12));
    in_param_header_ =
        in_content_type_ ||
        (colon >= 19 && g_ascii_strncasecmp(line.c_str(), "Content-Disposition", 19) == 0 &&
         OnlyLwsp(std::string_view(line).substr(19, colon - 19)));
    params_ = in_param_header_ ? semicolons : 0;
    if (params_ > kMaxParams) return ParamsError();
    if (in_content_type_) content_type_.assign(line, colon + 1, kMaxContentType);
    return Status::Ok();
  }

 private:
  bool IsBoundary(const std::string& line) const {
    if (line.size() < 2 || line[0] != '-' || line[1] != '-') return false;
    for (const OpenMultipart& m : open_) {
      if (line.compare(2, m.boundary.size(), m.boundary) != 0) continue;
      std::string_view rest = std::string_view(line).substr(2 + m.boundary.size());
      if (OnlyLwsp(rest) || (rest.substr(0, 2) == "--" && OnlyLwsp(rest.substr(2)))) return true;
    }
    return false;
  }

  Status ParamsError() const {
    return Status::Malformed("mime parameters " + std::to_string(params_) + " in one header exceed limit " +
                             std::to_string(kMaxParams));
  }

  Status StartEntity(int64_t depth) {
    ++parts_;
    if (parts_ > max_parts_) return MimeLimitError("parts", parts_, max_parts_);
    if (depth > max_depth_) return MimeLimitError("depth", depth, max_depth_);
    entity_depth_ = depth;
    header_bytes_ = 0;
    in_headers_ = true;
    in_content_type_ = false;
    in_param_header_ = false;
    content_type_.clear();
    return Status::Ok();
  }

  Status EndHeaders() {
    in_headers_ = false;
    in_content_type_ = false;
    in_param_header_ = false;
    if (content_type_.empty()) return Status::Ok();
    GMimeContentType* ct = g_mime_content_type_parse(nullptr, content_type_.c_str());
    if (ct == nullptr) return Status::Ok();
    if (g_mime_content_type_is_type(ct, "multipart", "*")) {
      const char* boundary = g_mime_content_type_get_parameter(ct, "boundary");
      if (boundary != nullptr && boundary[0] != '\0') {
        open_.push_back(OpenMultipart{boundary, entity_depth_});
      }
    } else if (g_mime_content_type_is_type(ct, "message", "rfc822") ||
               g_mime_content_type_is_type(ct, "message", "news") ||
               g_mime_content_type_is_type(ct, "message", "global")) {
      pending_message_ = entity_depth_ + 1;  // the attached message's header block follows
    }
    g_object_unref(ct);
    return Status::Ok();
  }

  const int64_t max_parts_, max_depth_, max_header_bytes_;
  uint64_t header_bytes_ = 0;  // of the current entity's header block so far
  int64_t parts_ = 1;  // the mail itself
  int64_t entity_depth_ = 0;
  bool in_headers_ = true;
  bool in_content_type_ = false;
  bool in_param_header_ = false;  // inside a Content-Type or Content-Disposition header
  uint64_t params_ = 0;           // ';' seen in that header so far
  int64_t pending_message_ = -1;  // depth of an attached message not yet seen to have content
  std::string content_type_;
  std::vector<OpenMultipart> open_;
};

}  // namespace

Status MimeLimitError(const char* what, int64_t got, int64_t limit) {
  return Status::Malformed(
      std::string("mime ") + what + " " + std::to_string(got) +
      (std::string_view(what) == "parts" ? " exceed limit " : " exceeds limit ") +
      std::to_string(limit));
}

Status ScanMimeStructure(const Spool& spool, int64_t max_mime_parts, int64_t max_mime_depth,
                         int64_t max_header_bytes) {
  LineReader reader(spool);
  Scanner scanner(max_mime_parts, max_mime_depth, max_header_bytes);
  std::string line;
  uint64_t full_size = 0, semicolons = 0;
  Status read_status;
  while (reader.Next(&line, &full_size, &semicolons, &read_status)) {
    Status s = scanner.Line(line, full_size, semicolons);
    if (!s.ok()) return s;
  }
  return read_status;
}

}  // namespace desk
