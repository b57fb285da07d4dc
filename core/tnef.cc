// ReadTnef: see tnef.h. Layout from MS-OXTNEF: a 4-byte signature and a 2-byte key, then
// attributes (level u8, id u32, length u32, data, checksum u16); attachment MAPI properties are a
// count and then (tag, [name], value) entries, variable-length values padded to 4 bytes.
#include "core/tnef.h"

#include <algorithm>
#include <cstdint>

namespace desk {
namespace {

constexpr uint32_t kSignature = 0x223E9F78;
constexpr uint16_t kAttAttachData = 0x800F;
constexpr uint16_t kAttAttachTitle = 0x8010;
constexpr uint16_t kAttAttachRendData = 0x9002;
constexpr uint16_t kAttAttachment = 0x9005;

constexpr uint16_t kPrDisplayName = 0x3001;
constexpr uint16_t kPrAttachData = 0x3701;
constexpr uint16_t kPrAttachExtension = 0x3703;
constexpr uint16_t kPrAttachFilename = 0x3704;
constexpr uint16_t kPrAttachLongFilename = 0x3707;
constexpr uint16_t kPrAttachMimeTag = 0x370E;

constexpr uint16_t kPtObject = 0x000D;
constexpr uint16_t kPtString8 = 0x001E;
constexpr uint16_t kPtUnicode = 0x001F;
constexpr uint16_t kPtBinary = 0x0102;
constexpr uint16_t kMvFlag = 0x1000;

// A bounds-checked little-endian reader over a byte view.
class Reader {
 public:
  explicit Reader(std::string_view b) : b_(b) {}
  bool U16(uint16_t* v) {
    if (left() < 2) return false;
    *v = uint16_t(uint8_t(b_[pos_]) | uint8_t(b_[pos_ + 1]) << 8);
    pos_ += 2;
    return true;
  }
  bool U32(uint32_t* v) {
    uint16_t lo, hi;
    if (left() < 4 || !U16(&lo) || !U16(&hi)) return false;
    *v = uint32_t(lo) | uint32_t(hi) << 16;
    return true;
  }
  bool Bytes(size_t n, std::string_view* out) {
    if (left() < n) return false;
    *out = b_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool Skip(size_t n) {
    if (left() < n) return false;
    pos_ += n;
    return true;
  }
  size_t left() const { return b_.size() - pos_; }

 private:
  std::string_view b_;
  size_t pos_ = 0;
};

size_t Pad4(size_t n) { return (n + 3) & ~size_t{3}; }

std::string_view StripNuls(std::string_view s) {
  while (!s.empty() && s.back() == '\0') s.remove_suffix(1);
  return s;
}

// UTF-16LE to UTF-8; unpaired surrogates become U+FFFD; stops at a NUL.
std::string Utf16ToUtf8(std::string_view b) {
  std::string out;
  auto put = [&out](uint32_t cp) {
    if (cp < 0x80) {
      out.push_back(char(cp));
    } else if (cp < 0x800) {
      out.push_back(char(0xC0 | cp >> 6));
      out.push_back(char(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(char(0xE0 | cp >> 12));
      out.push_back(char(0x80 | (cp >> 6 & 0x3F)));
      out.push_back(char(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(char(0xF0 | cp >> 18));
      out.push_back(char(0x80 | (cp >> 12 & 0x3F)));
      out.push_back(char(0x80 | (cp >> 6 & 0x3F)));
      out.push_back(char(0x80 | (cp & 0x3F)));
    }
  };
  for (size_t i = 0; i + 1 < b.size(); i += 2) {
    uint32_t u = uint8_t(b[i]) | uint8_t(b[i + 1]) << 8;
    if (u == 0) break;
    if (u >= 0xD800 && u < 0xDC00 && i + 3 < b.size()) {
      uint32_t lo = uint8_t(b[i + 2]) | uint8_t(b[i + 3]) << 8;
      if (lo >= 0xDC00 && lo < 0xE000) {
        put(0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00));
        i += 2;
        continue;
      }
    }
    put(u >= 0xD800 && u < 0xE000 ? 0xFFFD : u);
  }
  return out;
}

// Size of one value of a fixed-length property type, -1 when the type is variable or unknown.
int FixedSize(uint16_t type) {
  switch (type) {
    case 0x0001:  // PtypNull
      return 0;
    case 0x0002:  // Integer16
    case 0x000B:  // Boolean
      return 2;
    case 0x0003:  // Integer32
    case 0x0004:  // Floating32
    case 0x000A:  // ErrorCode
      return 4;
    case 0x0005:  // Floating64
    case 0x0006:  // Currency
    case 0x0007:  // FloatingTime
    case 0x0014:  // Integer64
    case 0x0040:  // Time
      return 8;
    case 0x0048:  // Guid
      return 16;
    default:
      return -1;
  }
}

struct Attachment {
  std::string long_name, title, filename, display_name, extension, mime_tag;
  std::string_view data, prop_data;
  bool has_data = false, has_prop_data = false;
};

std::string PropString(uint16_t type, std::string_view v) {
  if (type == kPtUnicode) return Utf16ToUtf8(v);
  return std::string(StripNuls(v));
}

// The attachment's MAPI properties (attAttachment). False with *error on a property that runs past
// the end or has a type whose length cannot be known.
bool ReadProps(std::string_view bytes, Attachment* a, std::string* error) {
  Reader r(bytes);
  uint32_t count;
  if (!r.U32(&count)) {
    *error = "TNEF: attachment properties cut short";
    return false;
  }
  uint32_t done = 0;
  for (uint32_t i = 0; i < count; ++i) {
    uint16_t type, id;
    if (!r.U16(&type) || !r.U16(&id)) break;
    if (id >= 0x8000) {  // a named property: GUID, kind, then a number or a UTF-16 name
      uint32_t kind, n;
      if (!r.Skip(16) || !r.U32(&kind) || !r.U32(&n)) break;
      if (kind == 1 && !r.Skip(Pad4(n))) break;
    }
    const bool multi = (type & kMvFlag) != 0;
    const uint16_t base = type & uint16_t(~kMvFlag);
    const bool variable =
        base == kPtString8 || base == kPtUnicode || base == kPtBinary || base == kPtObject;
    if (!variable) {
      int size = FixedSize(base);
      if (size < 0) {
        *error = "TNEF: property type " + std::to_string(base) + " of unknown length";
        return false;
      }
      uint32_t values = 1;
      if (multi && !r.U32(&values)) break;
      if (values > r.left() || !r.Skip(size_t(values) * Pad4(size_t(size)))) break;
      ++done;
      continue;
    }
    uint32_t values;
    if (!r.U32(&values)) break;
    bool ok = true;
    for (uint32_t v = 0; v < values && ok; ++v) {
      uint32_t len;
      std::string_view value;
      ok = r.U32(&len) && r.Bytes(len, &value) && r.Skip(std::min(Pad4(len) - len, r.left()));
      if (!ok || v > 0 || multi) continue;
      switch (id) {
        case kPrAttachLongFilename: a->long_name = PropString(base, value); break;
        case kPrAttachFilename: a->filename = PropString(base, value); break;
        case kPrDisplayName: a->display_name = PropString(base, value); break;
        case kPrAttachExtension: a->extension = PropString(base, value); break;
        case kPrAttachMimeTag: a->mime_tag = PropString(base, value); break;
        case kPrAttachData:
          if (base == kPtObject) value.remove_prefix(std::min<size_t>(16, value.size()));
          if (base == kPtObject || base == kPtBinary) {
            a->prop_data = value;
            a->has_prop_data = true;
          }
          break;
        default: break;
      }
    }
    if (!ok) break;
    ++done;
  }
  if (done == count) return true;
  *error = "TNEF: attachment property runs past the end of its attribute";
  return false;
}

void AddName(const std::string& n, TnefFile* f) {
  if (n.empty()) return;
  if (f->name.empty()) {
    f->name = n;
    return;
  }
  if (n == f->name) return;
  if (std::find(f->other_names.begin(), f->other_names.end(), n) == f->other_names.end()) {
    f->other_names.push_back(n);
  }
}

void Emit(const Attachment& a, TnefResult* out) {
  auto make = [&a](std::string_view data) {
    TnefFile f;
    AddName(a.long_name, &f);
    AddName(a.title, &f);
    AddName(a.filename, &f);
    AddName(a.display_name, &f);
    if (!a.extension.empty()) AddName((a.extension[0] == '.' ? "*" : "*.") + a.extension, &f);
    f.mime_tag = a.mime_tag;
    f.data = data;
    return f;
  };
  if (a.has_data) out->files.push_back(make(a.data));
  if (a.has_prop_data && (!a.has_data || a.prop_data != a.data)) {
    out->files.push_back(make(a.prop_data));
  }
}

}  // namespace

bool IsTnef(std::string_view bytes) {
  Reader r(bytes);
  uint32_t sig;
  return r.U32(&sig) && sig == kSignature;
}

TnefResult ReadTnef(std::string_view bytes) {
  TnefResult out;
  Reader r(bytes);
  uint32_t sig;
  if (!r.U32(&sig) || sig != kSignature || !r.Skip(2)) {
    out.truncated = true;
    out.error = "TNEF: no signature";
    return out;
  }
  Attachment cur;
  bool open = false;
  // An attribute is at least 11 bytes (level, id, length, checksum); fewer trailing bytes are
  // padding some writers leave and cannot hide anything.
  while (r.left() >= 11) {
    std::string_view level_byte, data;
    uint32_t attr, len;
    r.Bytes(1, &level_byte);
    if (!r.U32(&attr) || !r.U32(&len)) break;
    if (level_byte[0] != 1 && level_byte[0] != 2) {
      out.truncated = true;
      out.error = "TNEF: attribute level " + std::to_string(uint8_t(level_byte[0]));
      break;
    }
    if (!r.Bytes(len, &data) || !r.Skip(2)) {
      out.truncated = true;
      out.error = "TNEF: attribute runs past the end of the stream";
      break;
    }
    const uint16_t id = uint16_t(attr & 0xFFFF);
    if (id == kAttAttachRendData) {
      if (open) Emit(cur, &out);
      cur = Attachment{};
      open = true;
      continue;
    }
    if (id != kAttAttachData && id != kAttAttachTitle && id != kAttAttachment) continue;
    open = true;  // data before any RendData still belongs to an attachment
    if (id == kAttAttachData) {
      cur.data = data;
      cur.has_data = true;
    } else if (id == kAttAttachTitle) {
      cur.title = std::string(StripNuls(data));
    } else if (!ReadProps(data, &cur, &out.error)) {
      out.truncated = true;
    }
  }
  if (open) Emit(cur, &out);
  return out;
}

}  // namespace desk
