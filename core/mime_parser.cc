// ParseMessage: GMime 3 over a Spool (see core/mime_parser.h for the contract).
//
// Memory: the spool is handed to GMime without copying (a memory stream over the spool's buffer,
// or a file stream over a dup() of the spool's descriptor), and the parser keeps parts' content on
// that stream. Attachments are decoded through a null stream behind a SHA-256 filter, so only a
// few kilobytes are ever buffered; the text body is read through decode/charset filters and reading
// stops once enough bytes for max_body_chars code points are in hand (HTML: kHtmlBytesPerChar
// bytes per character, at least kMinHtmlBytes).
//
// Order of work: the top-level header block is measured and the MIME structure counted by a
// line scan (core/mime_scan.h) before GMime sees the mail, so mail over a limit never costs GMime's
// object tree; the tree GMime builds is counted again (parts, depth) before anything is decoded.
// GMime itself stops nesting at about 1000 levels, which bounds the recursion here.
//
// Body choice: the first text/plain leaf that is not an attachment (no "attachment" disposition,
// no filename), found depth-first through multiparts but not inside attached messages; else the
// first such text/html leaf, reduced by HtmlToText. The body is cut at exactly max_body_chars code
// points and text_body_truncated says so.
//
// Attachments: every leaf except the chosen body, at any depth, including leaves of attached
// message/rfc822 parts. Inside the multipart/alternative that holds the body (at any depth below
// it), non-attachment text/plain and text/html leaves are other renderings of the body and are not
// listed; other leaves there (inline images of a multipart/related) are.
//
// The subject is GMime's RFC 2047 decoding with every whitespace run (folding included) turned
// into one space, since it becomes a ticket title; headers[] keeps values as written, unfolded.
//
// Part paths follow IMAP: the children of the root multipart are "1", "2", ...; a single-part
// message's body is "1"; an attached message at "2" has its parts at "2.1", "2.2", ....
// mime_parts counts every entity (leaves, multiparts, message/rfc822 wrappers) and every file
// found inside a container (TNEF, a decoded message's entities, text blocks); mime_depth is the
// number of containers above the deepest entity or file (0 for a single-part mail).
//
// Containers inside decoded leaves (docs/ATTACHMENTS.md): a TNEF stream (core/tnef.h), a
// message/rfc822 leaf in base64 or quoted-printable or a part named *.eml (parsed again from its
// decoded bytes), uuencode / yEnc / BinHex blocks in text/plain (core/text_attachments.h). Their
// files reach the visitor like attachments, at paths such as "2/setup.exe" or "2.1", with the raw
// offsets of the MIME part that holds them.
//
// Address headers: GMime parses every From/To/Cc/Bcc/Reply-To/Sender header while it builds the
// message, with an object per group colon. A header with more than kMaxAddressGroups (32) group
// colons is shown to GMime under another name (a copy of the message with the same offsets) and
// its addresses are read only up to its 33rd group (ParsedMessage::addresses_cut); a long list with
// few groups is read from GMime's list rather than parsed a second time.
//
// Thread-safety: GMime objects are per call; InitMimeLibrary runs g_mime_init once.
#include "core/mime_parser.h"

#include <gmime/gmime.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "core/ascii.h"
#include "core/file_type.h"
#include "core/message_id.h"
#include "core/mime_scan.h"
#include "core/sha256.h"
#include "core/text_attachments.h"
#include "core/tnef.h"

namespace desk {
namespace {

constexpr int64_t kHtmlBytesPerChar = 16;
constexpr int64_t kMinHtmlBytes = 256 * 1024;
constexpr size_t kReadChunk = 16 * 1024;
// The largest TNEF container read into memory to list its files, and the largest file decoded
// from a text block; beyond either the structure is "malformed" (held), never passed unlooked.
constexpr uint64_t kMaxContainerBytes = 64ull << 20;

struct GObjectUnref {
  void operator()(gpointer p) const {
    if (p != nullptr) g_object_unref(p);
  }
};
template <typename T>
using GPtr = std::unique_ptr<T, GObjectUnref>;

struct GFreeDeleter {
  void operator()(gpointer p) const { g_free(p); }
};
using GString_ = std::unique_ptr<char, GFreeDeleter>;

std::string Str(const char* s) { return s != nullptr ? std::string(s) : std::string(); }

// Runs of whitespace (folding included) become one space; trimmed. For a subject turned title.
std::string CollapseSpace(const std::string& s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

// A raw header value without its line breaks (the folding whitespace stays), trimmed.
std::string Unfold(const char* raw) {
  std::string out;
  if (raw == nullptr) return out;
  for (const char* p = raw; *p != '\0'; ++p) {
    if (*p != '\r' && *p != '\n') out.push_back(*p);
  }
  return std::string(TrimBlanks(out));
}

// An address header value longer than this is not parsed a second time when GMime's list of the
// message holds the same addresses (see ParseMessage).
constexpr size_t kReparseMaxBytes = 8192;

// Group colons read in one address header. GMime builds a group object per ':' (about 90 ms per MB
// of "a:" words, nested), so a header with more is not shown to GMime as an address header, and
// its addresses are read only up to the colon after the kMaxAddressGroups-th (ParseMessage).
// Mail from people has a group or two ("undisclosed-recipients:;").
constexpr int kMaxAddressGroups = 32;

// Measures the top-level header block (bytes before the empty line) without loading the body.
// block (may be nullptr) receives the header block, up to and including the line end before the
// empty line.
Status CheckHeaderBytes(const Spool& spool, int64_t max_bytes, std::string* block = nullptr) {
  const uint64_t limit = static_cast<uint64_t>(std::max<int64_t>(max_bytes, 0));
  // The block ends at "\n\n" or "\n\r\n"; looking at limit + 3 bytes is enough to decide.
  const uint64_t want = std::min<uint64_t>(spool.size(), limit + 3);
  std::string head;
  if (spool.on_disk()) {
    head.resize(want);
    uint64_t got = 0;
    while (got < want) {
      ssize_t n = pread(spool.fd(), head.data() + got, want - got, static_cast<off_t>(got));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Status::Internal(std::string("spool read: ") + std::strerror(errno));
      if (n == 0) break;
      got += static_cast<uint64_t>(n);
    }
    head.resize(got);
  } else {
    head.assign(spool.data(), 0, want);
  }
  uint64_t end = head.size();  // headers only, no body: the whole spool is header
  if (!head.empty() && (head[0] == '\n' || head.compare(0, 2, "\r\n") == 0)) {
    end = 0;
  } else {
    for (size_t i = 0; i + 1 < head.size(); ++i) {
      if (head[i] != '\n') continue;
      if (head[i + 1] == '\n' ||
          (head[i + 1] == '\r' && i + 2 < head.size() && head[i + 2] == '\n')) {
        end = i + 1;
        break;
      }
    }
  }
  if (end == head.size() && spool.size() > head.size()) {
    return Status::Malformed("header bytes exceed limit " + std::to_string(limit));
  }
  if (end > limit) {
    return Status::Malformed("header bytes " + std::to_string(end) + " exceed limit " +
                             std::to_string(limit));
  }
  if (block != nullptr) {
    head.resize(end);
    *block = std::move(head);
  }
  return Status::Ok();
}

// Where an address list's (n)th group colon is: a ':' outside quoted strings, comments and
// domain literals, each of which opens a group (RFC 5322 3.4). npos when it has fewer. A count,
// not a parse: GMime reads the list.
size_t NthGroupColon(std::string_view v, int n) {
  int seen = 0, comment = 0;
  bool quoted = false, literal = false;
  for (size_t i = 0; i < v.size(); ++i) {
    const char c = v[i];
    if ((quoted || comment > 0) && c == '\\') {
      ++i;
    } else if (quoted) {
      quoted = c != '"';
    } else if (comment > 0) {
      comment += c == '(' ? 1 : c == ')' ? -1 : 0;
    } else if (literal) {
      literal = c != ']';
    } else if (c == '"') {
      quoted = true;
    } else if (c == '(') {
      comment = 1;
    } else if (c == '[') {
      literal = true;
    } else if (c == ':' && ++seen == n) {
      return i;
    }
  }
  return std::string_view::npos;
}

bool IsAddressHeaderName(std::string_view name) {
  std::string n = AsciiLower(std::string(name));
  if (n.rfind("resent-", 0) == 0) n = n.substr(7);
  return n == "from" || n == "to" || n == "cc" || n == "bcc" || n == "reply-to" || n == "sender";
}

// A top-level address header GMime is not shown as one (see ParseMessage).
struct HiddenHeader {
  size_t offset = 0;  // of its name in the message
  std::string name;   // as written
};

// The address headers of a header block with more than kMaxAddressGroups group colons.
std::vector<HiddenHeader> GroupHeavyAddressHeaders(const std::string& block) {
  std::vector<HiddenHeader> out;
  size_t pos = 0;
  while (pos < block.size()) {
    size_t end = block.find('\n', pos);
    end = end == std::string::npos ? block.size() : end + 1;
    while (end < block.size() && (block[end] == ' ' || block[end] == '\t')) {
      size_t next = block.find('\n', end);
      end = next == std::string::npos ? block.size() : next + 1;
    }
    const std::string_view field(block.data() + pos, end - pos);
    const size_t colon = field.find(':');
    if (colon != std::string_view::npos && IsAddressHeaderName(TrimBlanks(field.substr(0, colon))) &&
        NthGroupColon(field.substr(colon + 1), kMaxAddressGroups + 1) != std::string_view::npos) {
      out.push_back({pos, std::string(field.substr(0, colon))});
    }
    pos = end;
  }
  return out;
}

// Message ids written as <...@...> in text, brackets removed, in order. Anything else (comments,
// words, ids without '@' or with spaces) is skipped.
std::vector<std::string> ExtractMsgIds(std::string_view text) {
  std::vector<std::string> ids;
  size_t pos = 0;
  while ((pos = text.find('<', pos)) != std::string_view::npos) {
    size_t close = text.find_first_of("<>", pos + 1);
    if (close == std::string_view::npos) break;
    if (text[close] == '<') {  // "<junk <id@x>": restart at the inner '<'
      pos = close;
      continue;
    }
    std::string_view id = TrimBlanks(text.substr(pos + 1, close - pos - 1));
    if (WellFormedMessageId(id)) ids.emplace_back(id);
    pos = close + 1;
  }
  return ids;
}

// In-Reply-To as old clients write it, parsed like JWZ's threader and notmuch: every <id@host>
// token counts, prose around them is skipped, and tokens without '@' are not ids. Clients wrote
// prose such as (elm, old Pine, MH):
//   Message from "Jane Doe" <jane@example.org> of "Tue, 1 Jan 2002 10:00:00 GMT" <id@host>
//   <id@host> (Jane Doe's message of "Tue, 1 Jan 2002")
// Taking the first token would take Jane's address. The parent is therefore: the last token that is
// also in References (the two headers agree), else the first token not introduced by "from" in the
// prose before it (an author's address), else the first token. Every other non-address token is
// returned in *others, to be appended to the References list (JWZ appends In-Reply-To's id to it;
// notmuch links on every id of both headers).
std::string InReplyToParent(std::string_view text, const std::vector<std::string>& references,
                            std::vector<std::string>* others) {
  struct Token {
    std::string id;
    bool address = false;  // introduced by "from ..." in the prose before it
  };
  std::vector<Token> tokens;
  size_t pos = 0, prose_start = 0;
  while ((pos = text.find('<', pos)) != std::string_view::npos && tokens.size() < 64) {
    size_t close = text.find_first_of("<>", pos + 1);
    if (close == std::string_view::npos) break;
    if (text[close] == '<') {
      pos = close;
      continue;
    }
    std::vector<std::string> one = ExtractMsgIds(text.substr(pos, close - pos + 1));
    if (!one.empty()) {
      std::string prose = AsciiLower(std::string(text.substr(prose_start, pos - prose_start)));
      bool address = false;
      for (size_t f = prose.find("from"); f != std::string::npos; f = prose.find("from", f + 1)) {
        bool word_start = f == 0 || !std::isalnum(static_cast<unsigned char>(prose[f - 1]));
        bool word_end = f + 4 >= prose.size() ||
                        !std::isalnum(static_cast<unsigned char>(prose[f + 4]));
        if (word_start && word_end) address = true;
      }
      tokens.push_back(Token{std::move(one.front()), address});
      prose_start = close + 1;
    }
    pos = close + 1;
  }
  if (tokens.empty()) return "";
  size_t pick = tokens.size();
  for (size_t i = tokens.size(); i-- > 0 && pick == tokens.size();) {
    if (std::find(references.begin(), references.end(), tokens[i].id) != references.end()) pick = i;
  }
  for (size_t i = 0; i < tokens.size() && pick == tokens.size(); ++i) {
    if (!tokens[i].address) pick = i;
  }
  if (pick == tokens.size()) pick = 0;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (i != pick && !tokens[i].address) others->push_back(tokens[i].id);
  }
  return tokens[pick].id;
}

// Groups nest only in hostile mail (RFC 5322 forbids it); GMime builds whatever nesting a header
// spells, so the walk stops at kMaxGroupDepth rather than recurse off the stack (found by the
// fuzzer: a To header of thousands of ':'-bearing words).
constexpr int kMaxGroupDepth = 8;


std::string WithoutCrLf(std::string s) {
  s.erase(std::remove_if(s.begin(), s.end(), [](char c) { return c == '\r' || c == '\n'; }),
          s.end());
  return s;
}

// unfold: the list was parsed from a folded header value (GMime's own lists of the message),
// whose line breaks stay in names and quoted local parts; they are removed, which gives what a
// parse of the unfolded value gives.
void AddMailboxes(InternetAddressList* list, std::vector<Mailbox>* out, bool unfold = false,
                  int depth = 0) {
  if (list == nullptr || depth > kMaxGroupDepth) return;
  int n = internet_address_list_length(list);
  for (int i = 0; i < n; ++i) {
    InternetAddress* ia = internet_address_list_get_address(list, i);
    if (INTERNET_ADDRESS_IS_GROUP(ia)) {
      AddMailboxes(internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia)), out, unfold,
                   depth + 1);
    } else if (INTERNET_ADDRESS_IS_MAILBOX(ia)) {
      std::string name = Str(internet_address_get_name(ia));
      std::string addr = Str(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia)));
      if (unfold) {
        name = WithoutCrLf(std::move(name));
        addr = WithoutCrLf(std::move(addr));
      }
      out->push_back(Mailbox{std::string(TrimBlanks(name)), std::move(addr)});
    }
  }
}

std::string MimeType(GMimeObject* obj) {
  GMimeContentType* ct = g_mime_object_get_content_type(obj);
  if (ct == nullptr) return "application/octet-stream";
  GString_ type(g_mime_content_type_get_mime_type(ct));
  return AsciiLower(Str(type.get()));
}

bool IsAttachmentLike(GMimeObject* obj) {
  const char* disposition = g_mime_object_get_disposition(obj);
  if (disposition != nullptr && g_ascii_strcasecmp(disposition, "attachment") == 0) return true;
  const char* filename = g_mime_part_get_filename(GMIME_PART(obj));
  return filename != nullptr && filename[0] != '\0';
}

// Cuts s to at most max_chars UTF-8 code points; true if something was cut.
bool TruncateUtf8(std::string* s, int64_t max_chars) {
  if (max_chars < 0) max_chars = 0;
  size_t pos = 0;
  int64_t chars = 0;
  while (pos < s->size() && chars < max_chars) {
    unsigned char c = static_cast<unsigned char>((*s)[pos]);
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xE  ? 3
                 : (c >> 3) == 0x1E ? 4
                                    : 1;
    pos = std::min(s->size(), pos + len);
    ++chars;
  }
  if (pos >= s->size()) return false;
  s->resize(pos);
  return true;
}

// Drops an incomplete UTF-8 sequence at the end (left by stopping a read mid-character).
void DropPartialTail(std::string* s) {
  size_t n = s->size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    unsigned char c = static_cast<unsigned char>((*s)[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xE  ? 3
                 : (c >> 3) == 0x1E ? 4
                                    : 1;
    if (len > back) s->resize(n - back);
    return;
  }
}

// Reads the decoded content of a text part as UTF-8, at most max_bytes of it; *cut is set when
// more was left. Transfer encoding, charset and CRLF are handled by filters as the bytes stream by.
Status ReadText(GMimePart* part, uint64_t max_bytes, std::string* out, bool* cut) {
  out->clear();
  *cut = false;
  GMimeDataWrapper* content = g_mime_part_get_content(part);
  if (content == nullptr) return Status::Ok();
  GMimeStream* source = g_mime_data_wrapper_get_stream(content);
  if (source == nullptr) return Status::Ok();
  if (g_mime_stream_reset(source) < 0) return Status::Internal("mime: cannot rewind part stream");
  GPtr<GMimeStream> filtered(g_mime_stream_filter_new(source));
  GMimeStreamFilter* chain = GMIME_STREAM_FILTER(filtered.get());
  GMimeContentEncoding encoding = g_mime_data_wrapper_get_encoding(content);
  if (encoding == GMIME_CONTENT_ENCODING_BASE64 ||
      encoding == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
      encoding == GMIME_CONTENT_ENCODING_UUENCODE) {
    GPtr<GMimeFilter> decode(g_mime_filter_basic_new(encoding, FALSE));
    g_mime_stream_filter_add(chain, decode.get());
  }
  const char* charset = g_mime_object_get_content_type_parameter(GMIME_OBJECT(part), "charset");
  bool converting = false;
  if (charset != nullptr && g_ascii_strcasecmp(charset, "utf-8") != 0 &&
      g_ascii_strcasecmp(charset, "us-ascii") != 0) {
    GPtr<GMimeFilter> convert(g_mime_filter_charset_new(charset, "UTF-8"));
    if (convert != nullptr) {  // NULL: a charset iconv does not know; guessed below
      g_mime_stream_filter_add(chain, convert.get());
      converting = true;
    }
  }
  GPtr<GMimeFilter> dos2unix(g_mime_filter_dos2unix_new(FALSE));
  g_mime_stream_filter_add(chain, dos2unix.get());

  char buf[kReadChunk];
  int idle = 0;  // a filter may swallow a read without output; never spin forever
  while (!g_mime_stream_eos(filtered.get()) && idle < 64) {
    if (out->size() >= max_bytes) {
      *cut = true;
      break;
    }
    size_t want = std::min<uint64_t>(sizeof(buf), max_bytes - out->size());
    ssize_t n = g_mime_stream_read(filtered.get(), buf, want);
    if (n < 0) return Status::Internal("mime: cannot read text part");
    idle = n == 0 ? idle + 1 : 0;
    out->append(buf, static_cast<size_t>(n));
  }
  if (*cut) DropPartialTail(out);
  if (!g_utf8_validate(out->data(), static_cast<gssize>(out->size()), nullptr)) {
    if (!converting) {
      // Undeclared or lying charset: let GMime guess (UTF-8, then its fallbacks, then Latin-1).
      GString_ guessed(
          g_mime_utils_decode_8bit(g_mime_parser_options_get_default(), out->data(), out->size()));
      *out = Str(guessed.get());
    } else {
      GString_ valid(g_utf8_make_valid(out->data(), static_cast<gssize>(out->size())));
      *out = Str(valid.get());
    }
  }
  return Status::Ok();
}

// Decoded size and SHA-256 of a leaf, read through the transfer-decoding filter; the decoded bytes
// also go to *decoded when it is not null.
Status DecodeContent(GMimePart* part, AttachmentInfo* info, Spool* decoded) {
  Sha256 sum;
  uint64_t size = 0;
  GMimeDataWrapper* content = g_mime_part_get_content(part);
  GMimeStream* source = content != nullptr ? g_mime_data_wrapper_get_stream(content) : nullptr;
  if (source != nullptr) {
    if (g_mime_stream_reset(source) < 0) return Status::Internal("mime: cannot rewind part stream");
    GPtr<GMimeStream> filtered(g_mime_stream_filter_new(source));
    GMimeContentEncoding encoding = g_mime_data_wrapper_get_encoding(content);
    if (encoding == GMIME_CONTENT_ENCODING_BASE64 ||
        encoding == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
        encoding == GMIME_CONTENT_ENCODING_UUENCODE) {
      GPtr<GMimeFilter> decode(g_mime_filter_basic_new(encoding, FALSE));
      g_mime_stream_filter_add(GMIME_STREAM_FILTER(filtered.get()), decode.get());
    }
    char buf[kReadChunk];
    int idle = 0;  // a filter may swallow a read without output; never spin forever
    while (!g_mime_stream_eos(filtered.get()) && idle < 64) {
      ssize_t n = g_mime_stream_read(filtered.get(), buf, sizeof buf);
      if (n < 0) return Status::Internal("mime: cannot decode part " + info->part_path);
      idle = n == 0 ? idle + 1 : 0;
      if (n == 0) continue;
      sum.Update(std::string_view(buf, static_cast<size_t>(n)));
      size += static_cast<uint64_t>(n);
      if (decoded != nullptr) {
        Status s = decoded->Append(std::string_view(buf, static_cast<size_t>(n)));
        if (!s.ok()) return s;
      }
    }
  }
  info->size = size;
  info->sha256 = sum.HexDigest();
  return Status::Ok();
}

bool SameName(const char* a, const char* b) { return g_ascii_strcasecmp(a, b) == 0; }

// Duplicate parameter names in a parameter list ("boundary", "name", ...), lower-case.
void DuplicateParams(GMimeParamList* list, const char* header, const std::string& where,
                     std::vector<std::string>* out) {
  if (list == nullptr) return;
  // One pass with a set of the names seen: comparing each with every earlier one was quadratic in
  // the number of parameters, which the sender chooses (issue 12, item 6).
  int n = g_mime_param_list_length(list);
  std::unordered_set<std::string> seen;
  for (int i = 0; i < n; ++i) {
    const char* a = g_mime_param_get_name(g_mime_param_list_get_parameter_at(list, i));
    if (a == nullptr) continue;
    std::string name = AsciiLower(a);
    if (!seen.insert(name).second) {
      out->push_back(where + ": duplicate " + name + " parameter in " + header);
    }
  }
}

// A header value that holds a line of nothing but spaces: some readers end the header block
// there (MIME-tools' header fake-out), GMime reads on.
bool HasBlankishLine(const char* raw) {
  if (raw == nullptr) return false;
  std::string_view v(raw);
  size_t pos = 0;
  while ((pos = v.find('\n', pos)) != std::string_view::npos) {
    size_t end = v.find('\n', pos + 1);
    std::string_view line = v.substr(pos + 1, end == std::string_view::npos ? v.npos : end - pos - 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos &&
        end != std::string_view::npos) {
      return true;
    }
    pos = pos + 1;
  }
  return false;
}

// Records the ways obj's own headers can be read twice. where: the entity's path ("" = top).
void FindAmbiguities(GMimeObject* obj, const std::string& path, std::vector<std::string>* out) {
  const std::string where = path.empty() ? "top" : path;
  GMimeHeaderList* list = g_mime_object_get_header_list(obj);
  int n = list != nullptr ? g_mime_header_list_get_count(list) : 0;
  int ct = 0, cte = 0, cd = 0;
  bool blank = false;
  for (int i = 0; i < n; ++i) {
    GMimeHeader* h = g_mime_header_list_get_header_at(list, i);
    const char* name = g_mime_header_get_name(h);
    if (name == nullptr) continue;
    if (g_mime_header_get_offset(h) < 0) continue;  // synthesized by GMime, not received
    if (SameName(name, "Content-Type")) ++ct;
    if (SameName(name, "Content-Transfer-Encoding")) ++cte;
    if (SameName(name, "Content-Disposition")) ++cd;
    if (!blank && HasBlankishLine(g_mime_header_get_raw_value(h))) {
      blank = true;
      out->push_back(where + ": a line of spaces inside the " + Str(name) + " header");
    }
  }
  if (ct > 1) out->push_back(where + ": duplicate Content-Type");
  if (cte > 1) out->push_back(where + ": duplicate Content-Transfer-Encoding");
  if (cd > 1) out->push_back(where + ": duplicate Content-Disposition");
  if (GMimeContentType* type = g_mime_object_get_content_type(obj)) {
    DuplicateParams(g_mime_content_type_get_parameters(type), "Content-Type", where, out);
  }
  if (GMimeContentDisposition* disp = g_mime_object_get_content_disposition(obj)) {
    DuplicateParams(g_mime_content_disposition_get_parameters(disp), "Content-Disposition", where,
                    out);
  }
}

// The raw Content-Type value continues after "type/subtype" with something other than ';' or a
// comment: `multipart/mixed boundary="b"` loses its boundary for GMime, but not for every reader.
bool ParamsWithoutSemicolon(std::string_view v) {
  size_t i = v.find('/');
  if (i == std::string_view::npos) return false;
  ++i;
  while (i < v.size() && v[i] != ';' && v[i] != ' ' && v[i] != '\t' && v[i] != '\r' &&
         v[i] != '\n' && v[i] != '(') {
    ++i;
  }
  int comment = 0;
  for (; i < v.size(); ++i) {
    char c = v[i];
    if (comment > 0) {
      if (c == '(') ++comment;
      if (c == ')') --comment;
      continue;
    }
    if (c == '(') ++comment;
    else if (c == ';') return false;
    else if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return true;
  }
  return false;
}

// Whether the text GMime left outside any part (a multipart's prologue or epilogue) holds something
// another reader could take for a part: a line that starts like a boundary ("--") or like a part
// header ("Content-"). Bounces whose returned message was cut after its headers hold only prose
// there ("This is a multi-part message in MIME format..."): nothing to find, not malformed.
bool MayHoldParts(const char* text) {
  if (text == nullptr) return false;
  std::string_view t(text);
  for (size_t pos = 0; pos < t.size();) {
    size_t nl = t.find('\n', pos);
    std::string_view line = t.substr(pos, nl == std::string_view::npos ? t.npos : nl - pos);
    if (line.substr(0, 2) == "--") return true;
    if (line.size() >= 8 && g_ascii_strncasecmp(line.data(), "content-", 8) == 0) return true;
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  return false;
}

// Records structure that cannot be read one way only. A multipart without parts (when the text
// GMime left outside parts could hold one, see MayHoldParts), or without a boundary, or with a transfer encoding other than 7bit/8bit/binary (RFC 2045 forbids encoding a
// multipart or message/rfc822 entity: readers that decode it see parts GMime does not, so we do not
// guess: malformed); parameters after the type without their ';' on a multipart, a message, or a
// leaf whose lost parameter names a file.
void FindStructureProblems(GMimeObject* obj, const std::string& path,
                           std::vector<std::string>* out) {
  const std::string where = path.empty() ? "top" : path;
  GMimeHeaderList* list = g_mime_object_get_header_list(obj);
  int n = list != nullptr ? g_mime_header_list_get_count(list) : 0;
  const bool container = GMIME_IS_MULTIPART(obj) || GMIME_IS_MESSAGE_PART(obj);
  for (int i = 0; i < n; ++i) {
    GMimeHeader* h = g_mime_header_list_get_header_at(list, i);
    const char* name = g_mime_header_get_name(h);
    if (name == nullptr || g_mime_header_get_offset(h) < 0) continue;
    std::string value = AsciiLower(Unfold(g_mime_header_get_raw_value(h)));
    if (SameName(name, "Content-Type") && ParamsWithoutSemicolon(value) &&
        (container || value.find("name") != std::string::npos)) {
      out->push_back(where + ": Content-Type parameters without their ';'");
    }
    if (container && SameName(name, "Content-Transfer-Encoding")) {
      std::string_view cte = TrimBlanks(value);
      if (cte != "7bit" && cte != "8bit" && cte != "binary") {
        out->push_back(where + ": " + (GMIME_IS_MULTIPART(obj) ? "multipart" : "message") +
                       " with Content-Transfer-Encoding " + std::string(cte));
      }
    }
  }
  if (!GMIME_IS_MULTIPART(obj)) return;
  GMimeMultipart* mp = GMIME_MULTIPART(obj);
  if (g_mime_multipart_get_count(mp) == 0 &&
      (MayHoldParts(g_mime_multipart_get_prologue(mp)) ||
       MayHoldParts(g_mime_multipart_get_epilogue(mp)))) {
    out->push_back(where + ": multipart with no parts");
  }
  const char* boundary = g_mime_object_get_content_type_parameter(obj, "boundary");
  if (boundary == nullptr || boundary[0] == '\0') {
    out->push_back(where + ": multipart without a boundary");
  }
}

// Every value of parameter param in list (duplicates included).
void ParamValues(GMimeParamList* list, const char* param, std::vector<std::string>* out) {
  if (list == nullptr) return;
  int n = g_mime_param_list_length(list);
  for (int i = 0; i < n; ++i) {
    GMimeParam* p = g_mime_param_list_get_parameter_at(list, i);
    const char* name = g_mime_param_get_name(p);
    const char* value = g_mime_param_get_value(p);
    if (name != nullptr && value != nullptr && SameName(name, param)) out->emplace_back(value);
  }
}

// The names a leaf gives itself besides the one GMime reports (see AttachmentInfo::other_names).
std::vector<std::string> OtherNames(GMimeObject* obj, const std::string& filename) {
  std::vector<std::string> all;
  if (GMimeContentDisposition* disp = g_mime_object_get_content_disposition(obj)) {
    ParamValues(g_mime_content_disposition_get_parameters(disp), "filename", &all);
    ParamValues(g_mime_content_disposition_get_parameters(disp), "name", &all);
  }
  if (GMimeContentType* type = g_mime_object_get_content_type(obj)) {
    ParamValues(g_mime_content_type_get_parameters(type), "name", &all);
  }
  std::vector<std::string> out;
  for (std::string& n : all) {
    if (n.empty() || n == filename) continue;
    if (std::find(out.begin(), out.end(), n) == out.end()) out.push_back(std::move(n));
  }
  return out;
}

// The first byte of obj's received header block, or -1.
int64_t HeaderOffset(GMimeObject* obj) {
  GMimeHeaderList* list = g_mime_object_get_header_list(obj);
  int n = list != nullptr ? g_mime_header_list_get_count(list) : 0;
  int64_t first = -1;
  for (int i = 0; i < n; ++i) {
    gint64 off = g_mime_header_get_offset(g_mime_header_list_get_header_at(list, i));
    if (off >= 0 && (first < 0 || off < first)) first = off;
  }
  return first;
}

// Counts entities and nesting before any content is decoded.
void CountTree(GMimeObject* obj, int depth, int* parts, int* max_depth) {
  if (obj == nullptr) return;
  ++*parts;
  *max_depth = std::max(*max_depth, depth);
  if (GMIME_IS_MULTIPART(obj)) {
    GMimeMultipart* mp = GMIME_MULTIPART(obj);
    int n = g_mime_multipart_get_count(mp);
    for (int i = 0; i < n; ++i)
      CountTree(g_mime_multipart_get_part(mp, i), depth + 1, parts, max_depth);
  } else if (GMIME_IS_MESSAGE_PART(obj)) {
    GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
    if (inner != nullptr)
      CountTree(g_mime_message_get_mime_part(inner), depth + 1, parts, max_depth);
  }
}

struct BodyChoice {
  GMimeObject* part = nullptr;
  GMimeObject* alternative = nullptr;  // nearest multipart/alternative above the body, if any
};

// Depth-first search for the first non-attachment leaf of type text/<subtype>, through multiparts
// only (an attached message's text is not this mail's body).
bool FindBody(GMimeObject* obj, const char* subtype, GMimeObject* alternative, BodyChoice* choice) {
  if (obj == nullptr) return false;
  if (GMIME_IS_MULTIPART(obj)) {
    GMimeContentType* ct = g_mime_object_get_content_type(obj);
    if (ct != nullptr && g_mime_content_type_is_type(ct, "multipart", "alternative")) {
      alternative = obj;
    }
    GMimeMultipart* mp = GMIME_MULTIPART(obj);
    int n = g_mime_multipart_get_count(mp);
    for (int i = 0; i < n; ++i) {
      if (FindBody(g_mime_multipart_get_part(mp, i), subtype, alternative, choice)) return true;
    }
    return false;
  }
  if (!GMIME_IS_PART(obj) || GMIME_IS_MESSAGE_PART(obj)) return false;
  GMimeContentType* ct = g_mime_object_get_content_type(obj);
  if (ct == nullptr || !g_mime_content_type_is_type(ct, "text", subtype)) return false;
  if (IsAttachmentLike(obj)) return false;
  choice->part = obj;
  choice->alternative = alternative;
  return true;
}

// A GMime stream over a spool, without copying it: a memory stream over the spool's buffer (which
// *borrowed describes and must outlive the stream), or a file stream over a dup() of its fd.
Status OpenStream(const Spool& spool, GByteArray* borrowed, GPtr<GMimeStream>* stream) {
  if (spool.on_disk()) {
    int fd = dup(spool.fd());
    if (fd < 0) return Status::Internal(std::string("mime: dup: ") + std::strerror(errno));
    stream->reset(g_mime_stream_fs_new_with_bounds(fd, 0, static_cast<gint64>(spool.size())));
  } else {
    borrowed->data = reinterpret_cast<guint8*>(const_cast<char*>(spool.data().data()));
    borrowed->len = static_cast<guint>(spool.data().size());
    stream->reset(g_mime_stream_mem_new_with_byte_array(borrowed));
    g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(stream->get()), FALSE);
  }
  return Status::Ok();
}

// A file name as one component of a part path ("2/winmail.dat/setup.exe").
std::string PathComponent(const std::string& name) {
  std::string out = name.empty() ? "unnamed" : name.substr(0, 200);
  for (char& c : out) {
    if (c == '/' || c == '\\') c = '_';
  }
  return out;
}

// Whether a decoded leaf is a mail to be read as one: declared message/rfc822 or message/global
// (in any transfer encoding: GMime keeps a base64 one as an opaque leaf), or named *.eml.
bool IsMessageLeaf(const AttachmentInfo& info) {
  if (info.declared_type == "message/rfc822" || info.declared_type == "message/global") {
    return true;
  }
  if (ExtensionOf(info.filename) == "eml") return true;
  for (const std::string& n : info.other_names) {
    if (ExtensionOf(n) == "eml") return true;
  }
  return false;
}

// Defined below ParseMessage's bare-CR reading, which they serve first.
Status SpoolHasBareCrLineEnds(const Spool& spool, bool* bare_cr);
Status CopyBareCrAsLf(const Spool& spool, Spool* copy);

// Walks the tree GMime built and lists attachments (see the file comment). Containers inside
// decoded leaves are opened too (Expand): a TNEF stream, a message in any transfer encoding, and
// uuencode/yEnc/BinHex blocks in text/plain; each file found reaches the visitor like any
// attachment, with a part path that says where it came from and the raw offsets of the MIME part
// that holds it (stripping it cuts that part). Every file found counts as a MIME part against
// max_mime_parts, and every container level against max_mime_depth.
class Lister {
 public:
  Lister(const BodyChoice& body, const ParseLimits& limits, AttachmentVisitor* visitor,
         ParsedMessage* out)
      : body_(body),
        limits_(limits),
        visitor_(visitor),
        msg_(out),
        out_(&out->attachments),
        parts_(out->mime_parts) {}

  // path: this entity's IMAP path ("" for the root multipart of the mail); depth: the number of
  // containers above it, as CountTree counts.
  Status Visit(GMimeObject* obj, const std::string& path, bool in_body_alternative, int depth) {
    if (obj == nullptr) return Status::Ok();
    FindAmbiguities(obj, path, &msg_->mime_ambiguities);
    FindStructureProblems(obj, path, &msg_->mime_ambiguities);
    if (obj == body_.alternative) in_body_alternative = true;
    if (GMIME_IS_MULTIPART(obj)) {
      GMimeMultipart* mp = GMIME_MULTIPART(obj);
      int n = g_mime_multipart_get_count(mp);
      for (int i = 0; i < n; ++i) {
        std::string child =
            path.empty() ? std::to_string(i + 1) : path + "." + std::to_string(i + 1);
        Status s = Visit(g_mime_multipart_get_part(mp, i), child, in_body_alternative, depth + 1);
        if (!s.ok()) return s;
      }
      return Status::Ok();
    }
    if (GMIME_IS_MESSAGE_PART(obj)) {
      GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
      if (inner == nullptr) return Status::Ok();
      FindAmbiguities(GMIME_OBJECT(inner), path, &msg_->mime_ambiguities);
      return VisitMessageBody(g_mime_message_get_mime_part(inner), path, depth + 1);
    }
    if (!GMIME_IS_PART(obj)) return Status::Ok();
    std::string type = MimeType(obj);
    if (obj == body_.part) {
      return type == "text/plain" ? ScanBody(GMIME_PART(obj), path, depth) : Status::Ok();
    }
    if (in_body_alternative && (type == "text/plain" || type == "text/html") &&
        !IsAttachmentLike(obj)) {
      return Status::Ok();
    }
    AttachmentInfo info;
    info.filename = Str(g_mime_part_get_filename(GMIME_PART(obj)));
    info.declared_type = type;
    info.part_path = path;
    const char* disposition = g_mime_object_get_disposition(obj);
    info.inline_disposition =
        disposition != nullptr && g_ascii_strcasecmp(disposition, "inline") == 0;
    info.other_names = OtherNames(obj, info.filename);
    SetRawOffsets(obj, &info);
    Spool decoded(limits_.decode_dir, limits_.decode_threshold);
    Status s = DecodeContent(GMIME_PART(obj), &info, &decoded);
    if (!s.ok()) return s;
    return Judge(std::move(info), decoded, depth);
  }

  // The body of a message whose own path is message_path ("" for the mail itself); depth: the
  // depth of that body's root entity.
  Status VisitMessageBody(GMimeObject* root, const std::string& message_path, int depth) {
    if (root != nullptr && GMIME_IS_MULTIPART(root)) {
      return Visit(root, message_path, false, depth);
    }
    return Visit(root, message_path.empty() ? "1" : message_path + ".1", false, depth);
  }

 private:
  // Raw offsets of the MIME part in the mail; inside a decoded container, those of the part that
  // holds it.
  void SetRawOffsets(GMimeObject* obj, AttachmentInfo* info) const {
    if (holder_ != nullptr) {
      info->raw_header_offset = holder_->raw_header_offset;
      info->raw_content_start = holder_->raw_content_start;
      info->raw_content_end = holder_->raw_content_end;
      return;
    }
    info->raw_header_offset = HeaderOffset(obj);
    if (GMimeDataWrapper* content = g_mime_part_get_content(GMIME_PART(obj))) {
      GMimeStream* raw = g_mime_data_wrapper_get_stream(content);
      if (raw != nullptr && raw->bound_start >= 0 && raw->bound_end >= raw->bound_start) {
        info->raw_content_start = raw->bound_start;
        info->raw_content_end = raw->bound_end;
      }
    }
  }

  // Hands a decoded attachment to the visitor, lists it, then opens it if it is a container.
  Status Judge(AttachmentInfo info, const Spool& content, int depth) {
    if (visitor_ != nullptr) {
      Status s = visitor_->OnAttachment(info, content);
      if (!s.ok()) return s;
    }
    out_->push_back(info);
    return Expand(info, content, depth);
  }

  // A file found inside a container: counted, then judged like any attachment.
  Status Extracted(const AttachmentInfo& parent, std::string name,
                   std::vector<std::string> other_names, std::string declared,
                   const Spool& content, int depth) {
    ++parts_;
    if (parts_ > limits_.max_mime_parts) {
      return MimeLimitError("parts", parts_, limits_.max_mime_parts);
    }
    if (depth > limits_.max_mime_depth) {
      return MimeLimitError("depth", depth, limits_.max_mime_depth);
    }
    msg_->mime_parts = static_cast<int>(parts_);
    msg_->mime_depth = std::max(msg_->mime_depth, depth);
    AttachmentInfo info;
    info.part_path = parent.part_path + "/" + PathComponent(name);
    info.filename = std::move(name);
    info.other_names = std::move(other_names);
    info.declared_type = declared.empty() ? "application/octet-stream" : AsciiLower(std::move(declared));
    info.size = content.size();
    Status s = content.Sha256Hex(&info.sha256);
    if (!s.ok()) return s;
    info.raw_header_offset = parent.raw_header_offset;
    info.raw_content_start = parent.raw_content_start;
    info.raw_content_end = parent.raw_content_end;
    return Judge(std::move(info), content, depth);
  }

  Status Expand(const AttachmentInfo& info, const Spool& content, int depth) {
    std::string head;
    Status s = content.Read(0, 4, &head);
    if (!s.ok()) return s;
    if (IsTnef(head)) return ExpandTnef(info, content, depth);
    if (IsMessageLeaf(info)) return ExpandMessage(info, content, depth);
    if (info.declared_type == "text/plain") return ExpandText(info, content, depth);
    return Status::Ok();
  }

  Status ExpandTnef(const AttachmentInfo& info, const Spool& content, int depth) {
    if (content.size() > kMaxContainerBytes) {
      msg_->mime_ambiguities.push_back(info.part_path + ": TNEF of " +
                                       std::to_string(content.size()) +
                                       " bytes is larger than can be inspected");
      return Status::Ok();
    }
    std::string whole;
    std::string_view bytes = content.data();
    if (content.on_disk()) {
      Status s = content.Read(0, static_cast<size_t>(content.size()), &whole);
      if (!s.ok()) return s;
      bytes = whole;
    }
    TnefResult r = ReadTnef(bytes);
    if (r.truncated) msg_->mime_ambiguities.push_back(info.part_path + ": " + r.error);
    for (TnefFile& f : r.files) {
      Spool file(limits_.decode_dir, limits_.decode_threshold);
      Status s = file.Append(f.data);
      if (s.ok()) {
        s = Extracted(info, std::move(f.name), std::move(f.other_names), std::move(f.mime_tag),
                      file, depth + 1);
      }
      if (!s.ok()) return s;
    }
    return Status::Ok();
  }

  // A message kept as a leaf (base64 or quoted-printable message/rfc822, an .eml): parsed from its
  // decoded bytes and walked like an attached message, its parts at path.1, path.2, ...
  Status ExpandMessage(const AttachmentInfo& info, const Spool& decoded, int depth) {
    const std::string& path = info.part_path;
    // An attached mail with no LF at all is read as the mail itself would be (ParseMessage): every
    // bare CR a line end. A client that opens the attachment may read it so, and then shows parts
    // that GMime, reading one long line, would hide from the filter.
    bool bare_cr = false;
    Status s = SpoolHasBareCrLineEnds(decoded, &bare_cr);
    if (!s.ok()) return s;
    std::optional<Spool> converted;
    if (bare_cr) {
      converted.emplace(limits_.decode_dir,
                        decoded.on_disk() ? limits_.decode_threshold : decoded.size());
      s = CopyBareCrAsLf(decoded, &*converted);
      if (!s.ok()) return s;
    }
    const Spool& content = bare_cr ? *converted : decoded;
    // The same guard as for the mail itself: GMime's tree is never built for a part bomb.
    s = CheckHeaderBytes(content, limits_.max_header_bytes);
    if (s.ok()) {
      s = ScanMimeStructure(content, limits_.max_mime_parts, limits_.max_mime_depth,
                            limits_.max_header_bytes);
    }
    if (!s.ok()) return s;
    GByteArray borrowed{};
    GPtr<GMimeStream> stream;
    s = OpenStream(content, &borrowed, &stream);
    if (!s.ok()) return s;
    GPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
    g_mime_parser_set_format(parser.get(), GMIME_FORMAT_MESSAGE);
    GPtr<GMimeMessage> inner(g_mime_parser_construct_message(parser.get(), nullptr));
    if (inner == nullptr) {
      msg_->mime_ambiguities.push_back(path + ": attached message cannot be parsed");
      return Status::Ok();
    }
    GMimeObject* root = g_mime_message_get_mime_part(inner.get());
    int parts = 0, max_depth = 0;
    CountTree(root, depth + 1, &parts, &max_depth);
    parts_ += parts;
    if (parts_ > limits_.max_mime_parts) {
      return MimeLimitError("parts", parts_, limits_.max_mime_parts);
    }
    if (max_depth > limits_.max_mime_depth) {
      return MimeLimitError("depth", max_depth, limits_.max_mime_depth);
    }
    msg_->mime_parts = static_cast<int>(parts_);
    msg_->mime_depth = std::max(msg_->mime_depth, max_depth);
    FindAmbiguities(GMIME_OBJECT(inner.get()), path, &msg_->mime_ambiguities);
    const AttachmentInfo* saved = holder_;
    if (holder_ == nullptr) holder_ = &info;
    s = VisitMessageBody(root, path, depth + 1);
    holder_ = saved;
    return s;
  }

  // uuencode / yEnc / BinHex blocks in a text/plain part's decoded content.
  Status ExpandText(const AttachmentInfo& info, const Spool& content, int depth) {
    Status visit;  // a failure of the visitor or a limit: ends the parse
    EncodedBlockExtractor extractor(
        limits_.decode_dir, limits_.decode_threshold, kMaxContainerBytes,
        [&](const std::string& kind, const std::string& name, const Spool& file) {
          std::string shown = name.empty() ? kind + " block" : name;
          visit = Extracted(info, shown, {}, "", file, depth + 1);
          return visit;
        });
    std::string chunk;
    Status s;
    for (uint64_t off = 0; off < content.size() && s.ok(); off += chunk.size()) {
      s = content.Read(off, kReadChunk, &chunk);
      if (!s.ok()) return s;
      if (chunk.empty()) return Status::Internal("mime: short read of part " + info.part_path);
      s = extractor.Feed(chunk);
    }
    if (s.ok()) s = extractor.Finish();
    if (!visit.ok()) return visit;
    if (!s.ok()) {
      if (s.error_class() != ErrorClass::kMalformed) return s;
      msg_->mime_ambiguities.push_back(info.part_path + ": " + s.message());
    }
    return Status::Ok();
  }

  // The chosen text/plain body is not an attachment, but blocks in it are.
  Status ScanBody(GMimePart* part, const std::string& path, int depth) {
    AttachmentInfo body;
    body.part_path = path;
    body.declared_type = "text/plain";
    SetRawOffsets(GMIME_OBJECT(part), &body);
    Spool decoded(limits_.decode_dir, limits_.decode_threshold);
    Status s = DecodeContent(part, &body, &decoded);
    if (!s.ok()) return s;
    return ExpandText(body, decoded, depth);
  }

  const BodyChoice& body_;
  const ParseLimits& limits_;
  AttachmentVisitor* visitor_;
  ParsedMessage* msg_;
  std::vector<AttachmentInfo>* out_;
  int64_t parts_;  // entities counted so far, files found in containers included
  const AttachmentInfo* holder_ = nullptr;  // the MIME part holding a decoded message being walked
};

// GMime files the top-level Content-* headers under the root part, the rest under the message;
// stream offsets restore the order they were written in.
std::vector<GMimeHeader*> TopLevelHeaders(GMimeObject* message, GMimeObject* root) {
  std::vector<GMimeHeader*> all;
  for (GMimeObject* obj : {message, root}) {
    if (obj == nullptr) continue;
    GMimeHeaderList* list = g_mime_object_get_header_list(obj);
    int n = g_mime_header_list_get_count(list);
    for (int i = 0; i < n; ++i) {
      GMimeHeader* h = g_mime_header_list_get_header_at(list, i);
      if (obj == root && g_mime_header_get_offset(h) < 0) continue;  // synthesized, not received
      all.push_back(h);
    }
  }
  std::stable_sort(all.begin(), all.end(), [](GMimeHeader* a, GMimeHeader* b) {
    return g_mime_header_get_offset(a) < g_mime_header_get_offset(b);
  });
  return all;
}

Status ChooseBody(GMimeObject* root, const ParseLimits& limits, BodyChoice* choice,
                  ParsedMessage* out) {
  bool html = false;
  if (!FindBody(root, "plain", nullptr, choice)) {
    *choice = BodyChoice{};
    if (!FindBody(root, "html", nullptr, choice)) return Status::Ok();
    html = true;
  }
  const int64_t max_chars = std::max<int64_t>(limits.max_body_chars, 0);
  uint64_t max_bytes = static_cast<uint64_t>(max_chars) * 4 + 16;  // >= max_chars + 1 code points
  if (html)
    max_bytes = static_cast<uint64_t>(std::max(max_chars * kHtmlBytesPerChar, kMinHtmlBytes));
  std::string text;
  bool cut = false;
  Status s = ReadText(GMIME_PART(choice->part), max_bytes, &text, &cut);
  if (!s.ok()) return s;
  if (html) {
    text = HtmlToText(text);
  } else {
    cut = false;  // the byte budget always covers max_chars + 1 code points
  }
  bool truncated = TruncateUtf8(&text, max_chars);
  out->text_body = std::move(text);
  out->body_from_html = html;
  out->text_body_truncated = truncated || cut;
  return Status::Ok();
}

}  // namespace

void InitMimeLibrary() {
  static std::once_flag once;
  std::call_once(once, [] { g_mime_init(); });
}

Status ParseMessage(const Spool& spool, const ParseLimits& limits, ParsedMessage* out) {
  return ParseMessage(spool, limits, nullptr, out);
}

bool HasBareCrLineEnds(std::string_view text) {
  return text.find('\n') == std::string_view::npos && text.find('\r') != std::string_view::npos;
}

void BareCrToLf(std::string* text) {
  std::string& t = *text;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] == '\r' && (i + 1 == t.size() || t[i + 1] != '\n')) t[i] = '\n';
  }
}

namespace {

// HasBareCrLineEnds over the whole spool, read in chunks: mail with LFs stops at its first line.
Status SpoolHasBareCrLineEnds(const Spool& spool, bool* bare_cr) {
  *bare_cr = false;
  constexpr size_t kChunk = 64 * 1024;
  std::string chunk;
  bool cr_seen = false;
  for (uint64_t at = 0; at < spool.size(); at += chunk.size()) {
    Status s = spool.Read(at, kChunk, &chunk);
    if (!s.ok()) return s;
    if (chunk.empty()) break;
    if (chunk.find('\n') != std::string::npos) return Status::Ok();
    cr_seen = cr_seen || chunk.find('\r') != std::string::npos;
  }
  *bare_cr = cr_seen;
  return Status::Ok();
}

// *copy = spool with every bare CR made an LF (BareCrToLf), read in chunks.
Status CopyBareCrAsLf(const Spool& spool, Spool* copy) {
  constexpr size_t kChunk = 64 * 1024;
  std::string chunk;
  for (uint64_t at = 0; at < spool.size(); at += kChunk) {
    // One byte more than the chunk: a CR at its end is judged by the byte after it.
    Status s = spool.Read(at, kChunk + 1, &chunk);
    if (!s.ok()) return s;
    if (chunk.empty()) return Status::Internal("mime: short read of the spool");
    const bool more = chunk.size() > kChunk;
    BareCrToLf(&chunk);
    if (more) chunk.resize(kChunk);
    s = copy->Append(chunk);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace

Status ParseMessage(const Spool& spool, const ParseLimits& limits, AttachmentVisitor* visitor,
                    ParsedMessage* out) {
  *out = ParsedMessage{};
  out->size_bytes = spool.size();
  bool bare_cr = false;
  Status s = SpoolHasBareCrLineEnds(spool, &bare_cr);
  if (!s.ok()) return s;
  if (bare_cr) {
    // The copy's first line ends in LF, so the call below parses it as it is.
    Spool copy(limits.decode_dir, spool.on_disk() ? limits.decode_threshold : spool.size());
    s = CopyBareCrAsLf(spool, &copy);
    if (!s.ok()) return s;
    s = ParseMessage(copy, limits, visitor, out);
    out->bare_cr_line_ends = true;
    return s;
  }
  std::string header_block;
  s = CheckHeaderBytes(spool, limits.max_header_bytes, &header_block);
  if (!s.ok()) return s;
  s = ScanMimeStructure(spool, limits.max_mime_parts, limits.max_mime_depth,
                          limits.max_header_bytes);
  if (!s.ok()) return s;

  // An address header with more than kMaxAddressGroups group colons is shown to GMime under a
  // name of as many 'X's, so that GMime does not build its groups: GMime reads a copy of the
  // message with those names overwritten (in memory or a temp file, as decoded attachments are),
  // so every offset stays the same; the names are restored below. Only hostile mail pays the copy.
  const std::vector<HiddenHeader> hidden = GroupHeavyAddressHeaders(header_block);
  Spool shown(limits.decode_dir, limits.decode_threshold);
  const Spool* read = &spool;
  if (!hidden.empty()) {
    for (const HiddenHeader& h : hidden) {
      header_block.replace(h.offset, h.name.size(), h.name.size(), 'X');
    }
    s = shown.Append(header_block);
    constexpr size_t kChunk = 1 << 16;
    std::string chunk;
    for (uint64_t at = header_block.size(); s.ok() && at < spool.size(); at += chunk.size()) {
      s = spool.Read(at, kChunk, &chunk);
      if (s.ok() && chunk.empty()) s = Status::Internal("mime: spool ended early");
      if (s.ok()) s = shown.Append(chunk);
    }
    if (!s.ok()) return s;
    read = &shown;
  }

  // In memory: a GByteArray header over the spool's buffer; the stream does not own it, and it
  // outlives every GMime object below (declared first, destroyed last).
  GByteArray borrowed{};
  GPtr<GMimeStream> stream;
  s = OpenStream(*read, &borrowed, &stream);
  if (!s.ok()) return s;
  GPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
  g_mime_parser_set_format(parser.get(), GMIME_FORMAT_MESSAGE);
  GPtr<GMimeMessage> message(g_mime_parser_construct_message(parser.get(), nullptr));
  if (message == nullptr) return Status::Malformed("mime: message cannot be parsed");
  {
    // The header block ends at headers_end; the body starts after the blank line that follows.
    gint64 end = g_mime_parser_get_headers_end(parser.get());
    out->body_offset = end > 0 ? static_cast<uint64_t>(end) : 0;
  }
  GMimeObject* root = g_mime_message_get_mime_part(message.get());

  int parts = 0, depth = 0;
  CountTree(root, 0, &parts, &depth);
  out->mime_parts = parts;
  out->mime_depth = depth;
  if (depth > limits.max_mime_depth) return MimeLimitError("depth", depth, limits.max_mime_depth);
  if (parts > limits.max_mime_parts) return MimeLimitError("parts", parts, limits.max_mime_parts);

  // One reading for every header threading uses: the FIRST occurrence (docs/THREADING.md), for
  // Message-ID, In-Reply-To, References, Subject, Date, From, To and Cc alike. GMime's own
  // accessors take the last Message-ID and Subject and join every From/To/Cc header, so they are
  // not used for these.
  constexpr size_t kNoHeader = static_cast<size_t>(-1);
  size_t irt_index = kNoHeader;  // the first In-Reply-To among out->headers
  size_t id_index = kNoHeader, subject_index = kNoHeader, date_index = kNoHeader;
  size_t from_index = kNoHeader, to_index = kNoHeader, cc_index = kNoHeader;
  int from_count = 0, to_count = 0, cc_count = 0;
  for (GMimeHeader* h : TopLevelHeaders(GMIME_OBJECT(message.get()), root)) {
    std::string name = Str(g_mime_header_get_name(h));
    for (const HiddenHeader& hh : hidden) {
      if (static_cast<gint64>(hh.offset) == g_mime_header_get_offset(h)) name = hh.name;
    }
    std::string value = Unfold(g_mime_header_get_raw_value(h));
    auto first = [&](const char* want, size_t* index) {
      if (*index == kNoHeader && g_ascii_strcasecmp(name.c_str(), want) == 0) {
        *index = out->headers.size();
      }
    };
    first("Date", &date_index);
    first("In-Reply-To", &irt_index);
    first("Message-ID", &id_index);
    first("Subject", &subject_index);
    first("From", &from_index);
    first("To", &to_index);
    first("Cc", &cc_index);
    from_count += g_ascii_strcasecmp(name.c_str(), "From") == 0 ? 1 : 0;
    to_count += g_ascii_strcasecmp(name.c_str(), "To") == 0 ? 1 : 0;
    cc_count += g_ascii_strcasecmp(name.c_str(), "Cc") == 0 ? 1 : 0;
    if (out->date.empty() && date_index == out->headers.size()) out->date = value;
    if (g_ascii_strcasecmp(name.c_str(), "References") == 0 && out->references.empty()) {
      out->references = ExtractMsgIds(value);
    }
    out->headers.emplace_back(std::move(name), std::move(value));
  }
  if (irt_index != kNoHeader) {
    // After References, which picks the parent among several tokens (InReplyToParent).
    std::vector<std::string> others;
    out->in_reply_to = InReplyToParent(out->headers[irt_index].second, out->references, &others);
    for (std::string& id : others) {
      if (std::find(out->references.begin(), out->references.end(), id) == out->references.end()) {
        out->references.push_back(std::move(id));
      }
    }
  }

  std::string id = id_index != kNoHeader ? MessageIdOf(out->headers[id_index].second) : "";
  if (id.empty()) {  // none, or not an id (core/message_id.h): one is generated
    std::string hash;
    Status hs = spool.Sha256Hex(&hash);
    if (!hs.ok()) return hs;  // an empty hash would give every such message the same id
    out->message_id = hash.substr(0, 24) + ".deskmilter@" + limits.hostname;
    out->message_id_generated = true;
  } else {
    out->message_id = std::move(id);
  }

  // GMime parsed every From, To and Cc header while it built the message. A value over
  // kReparseMaxBytes (only hostile mail has one: tens of addresses fit in it) that is the only
  // header of its name is read from GMime's list instead of being parsed a second time; GMime's
  // pass is then the whole cost (bench/hostile_mime_bench, "To: of 4,000 RFC 2047 words").
  // Shorter values, and the first of several headers of a name (GMime's list joins them all), are
  // parsed again from the unfolded value, as the first-occurrence rule above needs.
  // A header with more than kMaxAddressGroups group colons (GMime did not read it) is read up to
  // the ',' or ';' before the colon after the kMaxAddressGroups-th (that group's name); the
  // header's name goes to addresses_cut.
  auto addresses = [&](size_t index, int count, GMimeAddressType type,
                       std::vector<Mailbox>* list) {
    if (index == kNoHeader) return;
    const std::string& value = out->headers[index].second;
    const size_t colon = NthGroupColon(value, kMaxAddressGroups + 1);
    if (colon != std::string::npos) {
      const size_t sep = value.find_last_of(",;", colon);
      const size_t cut = sep == std::string::npos ? 0 : sep + 1;
      GPtr<InternetAddressList> parsed(
          internet_address_list_parse(nullptr, value.substr(0, cut).c_str()));
      AddMailboxes(parsed.get(), list);
      out->addresses_cut.push_back(out->headers[index].first);
      return;
    }
    if (count == 1 && value.size() > kReparseMaxBytes) {
      AddMailboxes(g_mime_message_get_addresses(message.get(), type), list, /*unfold=*/true);
      return;
    }
    GPtr<InternetAddressList> parsed(internet_address_list_parse(nullptr, value.c_str()));
    AddMailboxes(parsed.get(), list);
  };
  std::vector<Mailbox> from;
  addresses(from_index, from_count, GMIME_ADDRESS_TYPE_FROM, &from);
  if (!from.empty()) out->from = std::move(from.front());
  addresses(to_index, to_count, GMIME_ADDRESS_TYPE_TO, &out->to);
  addresses(cc_index, cc_count, GMIME_ADDRESS_TYPE_CC, &out->cc);
  if (subject_index != kNoHeader) {
    char* decoded =
        g_mime_utils_header_decode_text(nullptr, out->headers[subject_index].second.c_str());
    out->subject = CollapseSpace(Str(decoded));
    g_free(decoded);
  }
  if (!out->date.empty()) {
    GDateTime* date = g_mime_utils_header_decode_date(out->date.c_str());
    if (date != nullptr) {
      out->date_unix = g_date_time_to_unix(date);
      g_date_time_unref(date);
    }
  }

  BodyChoice body;
  s = ChooseBody(root, limits, &body, out);
  if (!s.ok()) return s;
  FindAmbiguities(GMIME_OBJECT(message.get()), "", &out->mime_ambiguities);
  Lister lister(body, limits, visitor, out);
  return lister.VisitMessageBody(root, "", 0);
}

}  // namespace desk
