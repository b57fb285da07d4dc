// HtmlToText (declared in core/mime_parser.h): HTML mail body reduced to readable plain text.
//
// One forward pass, no regular expressions: every search moves strictly forward, so the cost is
// linear in the input (times the length of a short fixed needle). Not an HTML parser: it drops
// <script>/<style> content and comments, turns line-breaking elements into newlines, strips all
// other tags, collapses source whitespace as a browser would, decodes the common entities, then
// trims lines and collapses runs of blank lines. <pre> is not special. Unterminated tags or
// comments swallow the rest of the input.
//
// Thread-safety: pure function.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/mime_parser.h"

namespace desk {
namespace {

// The longest entity body looked at after '&' ("#x10FFFF" plus slack): anything longer is text.
constexpr size_t kMaxEntity = 10;

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f'; }

// Case-insensitive search for an ASCII needle (lower-case) from pos; npos if absent.
size_t FindCi(std::string_view hay, std::string_view needle, size_t pos) {
  if (needle.empty() || hay.size() < needle.size()) return std::string_view::npos;
  for (size_t i = pos; i + needle.size() <= hay.size(); ++i) {
    size_t k = 0;
    while (k < needle.size() && Lower(hay[i + k]) == needle[k]) ++k;
    if (k == needle.size()) return i;
  }
  return std::string_view::npos;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Decodes the entity body between '&' and ';' (e.g. "amp", "#39", "#x41"). False if unknown.
bool DecodeEntity(std::string_view name, std::string* out) {
  struct Named {
    std::string_view name;
    std::string_view text;
  };
  static constexpr Named kNamed[] = {
      {"amp", "&"},         {"lt", "<"},         {"gt", ">"},         {"quot", "\""},
      {"apos", "'"},        {"nbsp", " "},       {"copy", "\u00a9"},  {"reg", "\u00ae"},
      {"hellip", "\u2026"}, {"mdash", "\u2014"}, {"ndash", "\u2013"}, {"euro", "\u20ac"},
  };
  if (name.size() >= 2 && name[0] == '#') {
    bool hex = name[1] == 'x' || name[1] == 'X';
    std::string_view digits = name.substr(hex ? 2 : 1);
    if (digits.empty() || digits.size() > 8) return false;
    uint32_t cp = 0;
    for (char c : digits) {
      int v;
      if (c >= '0' && c <= '9') {
        v = c - '0';
      } else if (hex && Lower(c) >= 'a' && Lower(c) <= 'f') {
        v = Lower(c) - 'a' + 10;
      } else {
        return false;
      }
      cp = cp * (hex ? 16 : 10) + static_cast<uint32_t>(v);
    }
    if (cp == 0xA0) cp = ' ';
    AppendUtf8(cp, out);
    return true;
  }
  for (const Named& n : kNamed) {
    if (name == n.name) {
      out->append(n.text);
      return true;
    }
  }
  return false;
}

// What a tag contributes to the text, by lower-case name ("/p" for a closing tag).
std::string_view TagBreak(std::string_view tag) {
  static constexpr std::string_view kLine[] = {
      "br",  "br/", "li",  "/div",   "/tr", "/li", "/h1",         "/h2", "/h3",
      "/h4", "/h5", "/h6", "/table", "/ul", "/ol", "/blockquote", "hr",  "/title"};
  if (tag == "/p") return "\n\n";
  for (std::string_view t : kLine) {
    if (tag == t) return "\n";
  }
  if (tag == "/td" || tag == "/th") return " ";
  return "";
}

// Trims each line, collapses 3+ newlines to 2, trims the whole text.
std::string Tidy(const std::string& raw) {
  std::string out;
  out.reserve(raw.size());
  size_t pending_newlines = 0;
  size_t pos = 0;
  while (pos <= raw.size()) {
    size_t end = raw.find('\n', pos);
    if (end == std::string::npos) end = raw.size();
    size_t b = pos, e = end;
    while (b < e && (raw[b] == ' ' || raw[b] == '\t')) ++b;
    while (e > b && (raw[e - 1] == ' ' || raw[e - 1] == '\t')) --e;
    if (b == e) {
      ++pending_newlines;
    } else {
      if (!out.empty()) out.append(pending_newlines >= 1 ? 2 : 1, '\n');
      out.append(raw, b, e - b);
      pending_newlines = 0;
    }
    pos = end + 1;
  }
  return out;
}

}  // namespace

std::string HtmlToText(const std::string& html) {
  std::string_view in(html);
  std::string text;
  text.reserve(in.size() / 2);
  bool space_pending = false;  // collapse source whitespace into one space
  auto emit_space = [&] {
    if (space_pending && !text.empty() && text.back() != '\n' && text.back() != ' ') {
      text.push_back(' ');
    }
    space_pending = false;
  };
  size_t i = 0;
  while (i < in.size()) {
    char c = in[i];
    if (c == '<') {
      if (in.substr(i, 4) == "<!--") {
        size_t end = in.find("-->", i + 4);
        i = end == std::string_view::npos ? in.size() : end + 3;
        continue;
      }
      size_t end = in.find('>', i + 1);
      if (end == std::string_view::npos) break;
      // Tag name: optional '/', then letters and digits (and a trailing '/' for <br/>).
      size_t n = i + 1;
      std::string name;
      if (n < end && in[n] == '/') {
        name.push_back('/');
        ++n;
      }
      while (n < end && name.size() < 16 &&
             ((in[n] >= 'a' && in[n] <= 'z') || (in[n] >= 'A' && in[n] <= 'Z') ||
              (in[n] >= '0' && in[n] <= '9'))) {
        name.push_back(Lower(in[n]));
        ++n;
      }
      i = end + 1;
      if (name == "script" || name == "style") {
        size_t close = FindCi(in, name == "script" ? "</script" : "</style", i);
        if (close == std::string_view::npos) break;
        size_t close_end = in.find('>', close);
        i = close_end == std::string_view::npos ? in.size() : close_end + 1;
        continue;
      }
      std::string_view brk = TagBreak(name);
      if (brk == " ") {
        space_pending = true;
      } else if (!brk.empty()) {
        space_pending = false;
        text.append(brk);
      }
      continue;
    }
    if (IsSpace(c)) {
      space_pending = true;
      ++i;
      continue;
    }
    emit_space();
    if (c == '&') {
      // Look for the ';' only within the longest entity we decode: searching to the end of the
      // input for every '&' made a body of many '&' without ';' quadratic (issue 12, item 6).
      size_t semi = in.substr(i + 1, kMaxEntity).find(';');
      if (semi != std::string_view::npos &&
          DecodeEntity(in.substr(i + 1, semi), &text)) {
        i += semi + 2;
        continue;
      }
    }
    text.push_back(c);
    ++i;
  }
  return Tidy(text);
}

}  // namespace desk
