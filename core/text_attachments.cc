// EncodedBlockExtractor: see text_attachments.h.
#include "core/text_attachments.h"

#include <array>
#include <cstring>
#include <utility>

namespace desk {
namespace {

constexpr std::string_view kBinhexAlphabet =
    "!\"#$%&'()*+,-012345689@ABCDEFGHIJKLMNPQRSTUVXYZ[`abcdefhijklmpqr";

// Reverse table of an alphabet: -1 for characters not in it.
std::array<int8_t, 256> Reverse(std::string_view alphabet) {
  std::array<int8_t, 256> t;
  t.fill(-1);
  for (size_t i = 0; i < alphabet.size(); ++i) t[uint8_t(alphabet[i])] = int8_t(i);
  return t;
}

const std::array<int8_t, 256>& BinhexTable() {
  static const std::array<int8_t, 256> t = Reverse(kBinhexAlphabet);
  return t;
}
const std::array<int8_t, 256>& Base64Table() {
  static const std::array<int8_t, 256> t =
      Reverse("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
  return t;
}

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// "begin NNN name" / "begin-base64 NNN name": the name, or false.
bool UuBegin(std::string_view line, std::string_view keyword, std::string* name) {
  if (!StartsWith(line, keyword) || line.size() <= keyword.size() || line[keyword.size()] != ' ') {
    return false;
  }
  line.remove_prefix(keyword.size() + 1);
  size_t digits = 0;
  while (digits < line.size() && line[digits] >= '0' && line[digits] <= '7') ++digits;
  if (digits < 3 || digits > 4 || digits >= line.size() || line[digits] != ' ') return false;
  std::string_view n = line.substr(digits + 1);
  while (!n.empty() && (n.back() == ' ' || n.back() == '\t')) n.remove_suffix(1);
  if (n.empty()) return false;
  *name = std::string(n);
  return true;
}

// The value of "name=" on a yEnc header line (the rest of the line, as yEnc defines it).
std::string YencName(std::string_view line) {
  size_t at = line.find(" name=");
  if (at == std::string_view::npos) return "";
  return std::string(line.substr(at + 6));
}

// Decodes one uuencoded line; false when it is not a well-formed data line.
bool UuDecodeLine(std::string_view line, std::string* out) {
  if (line.empty()) return false;
  for (char c : line) {
    if (c < 0x20 || c > 0x60) return false;
  }
  const size_t n = size_t((line[0] - 0x20) & 0x3F);
  const size_t full = (n + 2) / 3 * 4;  // characters an encoder writes
  const size_t need = (n * 4 + 2) / 3;  // characters that carry the bytes
  const size_t have = line.size() - 1;
  if (have < need || have > full + 2) return false;  // +2: some encoders add a checksum char
  out->clear();
  auto v = [&line](size_t i) -> uint32_t {
    return i + 1 < line.size() ? uint32_t((line[i + 1] - 0x20) & 0x3F) : 0;
  };
  for (size_t i = 0; out->size() < n; i += 4) {
    uint32_t w = v(i) << 18 | v(i + 1) << 12 | v(i + 2) << 6 | v(i + 3);
    out->push_back(char(w >> 16));
    if (out->size() < n) out->push_back(char(w >> 8 & 0xFF));
    if (out->size() < n) out->push_back(char(w & 0xFF));
  }
  return true;
}

}  // namespace

EncodedBlockExtractor::EncodedBlockExtractor(std::string decode_dir, uint64_t threshold,
                                             uint64_t max_block_bytes, OnFile on_file)
    : dir_(std::move(decode_dir)),
      threshold_(threshold),
      max_block_bytes_(max_block_bytes),
      on_file_(std::move(on_file)) {}

EncodedBlockExtractor::~EncodedBlockExtractor() = default;

Status EncodedBlockExtractor::Feed(std::string_view text) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view piece = text.substr(0, nl);
    if (line_.size() < kMaxLineBytes) {
      line_.append(piece.substr(0, kMaxLineBytes - line_.size()));
    }
    if (line_.size() >= kMaxLineBytes && piece.size() > 0) line_cut_ = true;
    if (nl == std::string_view::npos) break;
    std::string_view line = line_;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    Status s = Line(line, line_cut_);
    line_.clear();
    line_cut_ = false;
    if (!s.ok()) return s;
    text.remove_prefix(nl + 1);
  }
  return Status::Ok();
}

Status EncodedBlockExtractor::Finish() {
  if (!line_.empty()) {
    std::string_view line = line_;
    if (line.back() == '\r') line.remove_suffix(1);
    Status s = Line(line, line_cut_);
    line_.clear();
    if (!s.ok()) return s;
  }
  return state_ == State::kText || state_ == State::kBinhexWait ? Status::Ok() : End();
}

Status EncodedBlockExtractor::Begin(State state, const char* kind, std::string name) {
  state_ = state;
  kind_ = kind;
  name_ = std::move(name);
  block_ = std::make_unique<Spool>(dir_, threshold_);
  pending_.clear();
  first_data_line_ = true;
  bits_ = 0;
  nbits_ = 0;
  rle_marker_ = false;
  rle_last_ = -1;
  bh_header_.clear();
  bh_data_left_ = 0;
  bh_in_data_ = false;
  return Status::Ok();
}

Status EncodedBlockExtractor::End() {
  state_ = State::kText;
  Status s = Flush();
  if (!s.ok()) return s;
  std::unique_ptr<Spool> block = std::move(block_);
  if (block == nullptr || block->size() == 0) return Status::Ok();
  return on_file_(kind_, name_, *block);
}

// Decoded bytes are gathered into kFlushBytes before they go to the spool: a spool on disk would
// otherwise take one write per 45-byte line.
Status EncodedBlockExtractor::Out(const char* bytes, size_t n) {
  if (block_->size() + pending_.size() + n > max_block_bytes_) {
    return Status::Malformed(std::string(kind_) + " block \"" + name_ + "\" decodes to more than " +
                             std::to_string(max_block_bytes_) + " bytes");
  }
  pending_.append(bytes, n);
  return pending_.size() >= kFlushBytes ? Flush() : Status::Ok();
}

Status EncodedBlockExtractor::Flush() {
  if (pending_.empty() || block_ == nullptr) return Status::Ok();
  Status s = block_->Append(pending_);
  pending_.clear();
  return s;
}

Status EncodedBlockExtractor::Line(std::string_view line, bool cut) {
  switch (state_) {
    case State::kText:
    case State::kBinhexWait: {
      if (state_ == State::kBinhexWait && !line.empty() && line[0] == ':') {
        Status s = Begin(State::kBinhex, "binhex", "");
        return s.ok() ? Line(line.substr(1), cut) : s;
      }
      std::string name;
      if (UuBegin(line, "begin", &name)) return Begin(State::kUu, "uuencode", name);
      if (UuBegin(line, "begin-base64", &name)) return Begin(State::kUuBase64, "uuencode", name);
      if (StartsWith(line, "=ybegin ")) return Begin(State::kYenc, "yenc", YencName(line));
      if (line.find("(This file must be converted with BinHex") != std::string_view::npos) {
        state_ = State::kBinhexWait;
      }
      return Status::Ok();
    }
    case State::kUu: {
      if (line == "end") return End();
      std::string bytes;
      if (cut || !UuDecodeLine(line, &bytes)) {
        if (first_data_line_) {  // "begin 644 x" followed by prose: not a block
          state_ = State::kText;
          block_.reset();
          pending_.clear();
          return Line(line, cut);
        }
        Status s = End();
        return s.ok() ? Line(line, cut) : s;
      }
      first_data_line_ = false;
      return Out(bytes.data(), bytes.size());
    }
    case State::kUuBase64:
      if (line == "====") return End();
      return Base64Line(line);
    case State::kYenc: {
      if (StartsWith(line, "=yend")) return End();
      if (StartsWith(line, "=ypart ")) return Status::Ok();
      std::string bytes;
      bytes.reserve(line.size());
      for (size_t i = 0; i < line.size(); ++i) {
        uint8_t c = uint8_t(line[i]);
        if (c == '=' && i + 1 < line.size()) c = uint8_t(uint8_t(line[++i]) - 64);
        bytes.push_back(char(uint8_t(c - 42)));
      }
      Status s = Out(bytes.data(), bytes.size());
      if (!s.ok() || !cut) return s;
      return End();
    }
    case State::kBinhex: {
      const auto& table = BinhexTable();
      for (char ch : line) {
        if (ch == ':') return End();
        if (ch == ' ' || ch == '\t') continue;
        int8_t v = table[uint8_t(ch)];
        if (v < 0) return End();  // not BinHex: what was decoded is still judged
        bits_ = bits_ << 6 | uint32_t(v);
        nbits_ += 6;
        if (nbits_ >= 8) {
          nbits_ -= 8;
          Status s = BinhexByte(uint8_t(bits_ >> nbits_ & 0xFF));
          if (!s.ok()) return s;
          if (state_ != State::kBinhex) return Status::Ok();  // data fork complete
        }
      }
      return cut ? End() : Status::Ok();
    }
  }
  return Status::Ok();
}

Status EncodedBlockExtractor::Base64Line(std::string_view line) {
  const auto& table = Base64Table();
  std::string bytes;
  for (char ch : line) {
    if (ch == '=') break;
    int8_t v = table[uint8_t(ch)];
    if (v < 0) continue;
    bits_ = bits_ << 6 | uint32_t(v);
    nbits_ += 6;
    if (nbits_ >= 8) {
      nbits_ -= 8;
      bytes.push_back(char(bits_ >> nbits_ & 0xFF));
    }
  }
  bits_ &= (1u << nbits_) - 1;
  return Out(bytes.data(), bytes.size());
}

// 0x90 n: repeat the previous byte n-1 more times; 0x90 0x00 is a literal 0x90.
Status EncodedBlockExtractor::BinhexByte(uint8_t b) {
  bits_ &= (1u << nbits_) - 1;
  if (rle_marker_) {
    rle_marker_ = false;
    if (b == 0) {
      rle_last_ = 0x90;
      return BinhexPlain(0x90);
    }
    for (int i = 1; i < b && rle_last_ >= 0 && state_ == State::kBinhex; ++i) {
      Status s = BinhexPlain(uint8_t(rle_last_));
      if (!s.ok()) return s;
    }
    return Status::Ok();
  }
  if (b == 0x90) {
    rle_marker_ = true;
    return Status::Ok();
  }
  rle_last_ = b;
  return BinhexPlain(b);
}

// Header: name length, name, version, type(4), creator(4), flags(2), data length(4, big-endian),
// resource length(4), header CRC(2); then the data fork.
Status EncodedBlockExtractor::BinhexPlain(uint8_t b) {
  if (bh_in_data_) {
    Status s = Out(char(b));
    if (!s.ok()) return s;
    if (--bh_data_left_ == 0) return End();
    return Status::Ok();
  }
  bh_header_.push_back(char(b));
  const size_t name_len = uint8_t(bh_header_[0]);
  const size_t header_len = name_len + 22;
  if (bh_header_.size() < header_len) return Status::Ok();
  name_ = bh_header_.substr(1, name_len);
  const size_t at = 1 + name_len + 1 + 4 + 4 + 2;
  bh_data_left_ = 0;
  for (size_t i = 0; i < 4; ++i) bh_data_left_ = bh_data_left_ << 8 | uint8_t(bh_header_[at + i]);
  if (bh_data_left_ > max_block_bytes_) {
    return Status::Malformed("binhex block \"" + name_ + "\" declares " +
                             std::to_string(bh_data_left_) + " bytes, more than " +
                             std::to_string(max_block_bytes_));
  }
  bh_in_data_ = true;
  if (bh_data_left_ == 0) return End();
  return Status::Ok();
}

}  // namespace desk
