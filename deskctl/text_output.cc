// Human output of deskctl; see text_output.h.
#include "deskctl/text_output.h"

#include <time.h>

#include <cstdio>

namespace desk::ctl {
namespace {

void AppendHex(std::string* out, unsigned char c) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "\\x%02X", c);
  *out += buf;
}

// Length of the valid UTF-8 sequence at s[i], or 0 if it is invalid (overlong, surrogate, > U+10FFFF,
// truncated). Sets *cp to the code point.
size_t Utf8Sequence(std::string_view s, size_t i, uint32_t* cp) {
  unsigned char c = s[i];
  size_t len;
  uint32_t v;
  if (c < 0x80) {
    *cp = c;
    return 1;
  } else if ((c & 0xE0) == 0xC0) {
    len = 2;
    v = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3;
    v = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4;
    v = c & 0x07;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    unsigned char cc = s[i + k];
    if ((cc & 0xC0) != 0x80) return 0;
    v = (v << 6) | (cc & 0x3F);
  }
  static const uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (v < kMin[len] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
  *cp = v;
  return len;
}

// Number of code points of valid UTF-8 (continuation bytes are not counted).
size_t CodePoints(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// Appends the printable form of s to *out, stopping before max_width code points would be exceeded.
// Returns false when it had to stop early.
bool AppendPrintable(std::string_view s, bool keep_newlines, size_t max_width, std::string* out,
                     size_t* width) {
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = 0;
    size_t len = Utf8Sequence(s, i, &cp);
    std::string piece;
    if (len == 0) {
      AppendHex(&piece, static_cast<unsigned char>(s[i]));
      len = 1;
    } else if (cp == '\n' && keep_newlines) {
      piece = "\n";
    } else if (cp == '\r' && keep_newlines && i + 1 < s.size() && s[i + 1] == '\n') {
      piece = "";  // CRLF shows as a line break
    } else if (cp == '\t') {
      piece = " ";
    } else if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0)) {
      // C1 controls are two bytes in UTF-8; show the code point, not the bytes.
      AppendHex(&piece, static_cast<unsigned char>(cp));
    } else {
      piece.assign(s.substr(i, len));
    }
    // Escapes count by their printed length, so columns still line up.
    size_t piece_width = piece == "\n" ? 0 : CodePoints(piece);
    if (*width + piece_width > max_width) return false;
    *out += piece;
    *width += piece_width;
    i += len;
  }
  return true;
}

void Line(std::string* out, const std::string& label, const std::string& value) {
  *out += label;
  *out += value;
  *out += '\n';
}

std::string Addr(const Mailbox& m) {
  if (m.name.empty()) return Printable(m.address);
  return Printable(m.name) + " <" + Printable(m.address) + ">";
}

std::string AddrList(const std::vector<Mailbox>& list) {
  std::string out;
  for (const Mailbox& m : list) {
    if (!out.empty()) out += ", ";
    out += Addr(m);
  }
  return out;
}

// Appends each line of text (already Printable) to *out, prefixed with indent.
void AppendIndented(std::string* out, const char* indent, const std::string& text) {
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    *out += indent;
    out->append(text, start, nl - start);
    *out += '\n';
    start = nl + 1;
  }
}

std::string PadRight(const std::string& s, size_t width, size_t shown_width) {
  return shown_width >= width ? s : s + std::string(width - shown_width, ' ');
}

}  // namespace

std::string Printable(std::string_view s, bool keep_newlines) {
  std::string out;
  size_t width = 0;
  AppendPrintable(s, keep_newlines, SIZE_MAX, &out, &width);
  return out;
}

std::string Fit(std::string_view s, size_t max_width) {
  std::string out;
  size_t width = 0;
  if (AppendPrintable(s, false, max_width, &out, &width)) return out;
  // Too long: redo with room for the marker (an escape is never split).
  out.clear();
  width = 0;
  AppendPrintable(s, false, max_width > 3 ? max_width - 3 : 0, &out, &width);
  return out + "...";
}

std::string IsoTime(int64_t t) {
  if (t == 0) return "-";
  time_t tt = static_cast<time_t>(t);
  struct tm tm_utc;
  if (gmtime_r(&tt, &tm_utc) == nullptr) return std::to_string(t);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm_utc);
  return buf;
}

std::string FormatTicketTable(const std::vector<Ticket>& tickets) {
  struct Column {
    const char* title;
    size_t width;
  };
  // Fits an 80-column terminal when the title is short; the title is last and may run on.
  static const Column kCols[] = {{"NUMBER", 7}, {"STATUS", 6},     {"QUEUE", 12},
                                 {"UPDATED", 20}, {"REQUESTER", 28}, {"TITLE", 50}};
  std::string out;
  for (const Column& c : kCols) {
    out += PadRight(c.title, c.width + 2, std::string(c.title).size());
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  out += '\n';
  for (const Ticket& t : tickets) {
    const std::string cells[] = {std::to_string(t.number), TicketStatusName(t.status), t.queue,
                                 IsoTime(t.updated_at), t.requester.address, t.title};
    std::string line;
    for (size_t i = 0; i < std::size(kCols); ++i) {
      std::string cell = i == 0 || i == 1 || i == 3 ? cells[i] : Fit(cells[i], kCols[i].width);
      line += i + 1 == std::size(kCols) ? cell : PadRight(cell, kCols[i].width + 2, CodePoints(cell));
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line;
    out += '\n';
  }
  return out;
}

std::string FormatTicketDetail(const Ticket& t, const std::vector<TicketMessage>& messages,
                               const std::vector<TicketEvent>& events) {
  std::string out;
  Line(&out, "Ticket #", std::to_string(t.number) + "  " + Printable(t.title));
  Line(&out, "  Status:       ", TicketStatusName(t.status));
  Line(&out, "  Queue:        ", Printable(t.queue));
  Line(&out, "  Brand:        ", t.brand.empty() ? "-" : Printable(t.brand));
  Line(&out, "  Requester:    ", Addr(t.requester));
  Line(&out, "  Received at:  ", Printable(t.received_at));
  Line(&out, "  Assigned to:  ", t.assigned_agent.empty() ? "-" : Printable(t.assigned_agent));
  Line(&out, "  Created:      ", IsoTime(t.created_at));
  Line(&out, "  Updated:      ", IsoTime(t.updated_at));
  if (t.linked_from != 0) Line(&out, "  Linked from:  #", std::to_string(t.linked_from));
  std::string parts;
  for (const std::string& p : t.participants) {
    if (!parts.empty()) parts += ", ";
    parts += Printable(p);
  }
  Line(&out, "  Participants: ", parts.empty() ? "-" : parts);
  Line(&out, "  Messages:     ", std::to_string(t.message_count));
  Line(&out, "  Events:       ", std::to_string(t.event_count));

  for (const TicketMessage& m : messages) {
    out += '\n';
    Line(&out, "Message ", std::to_string(m.seq) + " (" + DirectionName(m.direction) + ", " +
                               Printable(m.kind) + ")");
    Line(&out, "  From:        ", Addr(m.from));
    if (!m.to.empty()) Line(&out, "  To:          ", AddrList(m.to));
    if (!m.cc.empty()) Line(&out, "  Cc:          ", AddrList(m.cc));
    Line(&out, "  Date:        ", m.date.empty() ? "-" : Printable(m.date));
    Line(&out, "  Subject:     ", Printable(m.subject));
    if (!m.original_sha256.empty()) Line(&out, "  Original:    sha256 ", m.original_sha256);
    Line(&out, "  Message-ID:  ", "<" + Printable(m.message_id) + ">");
    if (!m.queue_id.empty()) Line(&out, "  Queue ID:    ", Printable(m.queue_id));
    std::string rcpts;
    for (const std::string& r : m.envelope_rcpts) {
      if (!rcpts.empty()) rcpts += ", ";
      rcpts += Printable(r);
    }
    Line(&out, "  Envelope:    ",
         "from <" + Printable(m.envelope_from) + "> to " + (rcpts.empty() ? "-" : rcpts));
    Line(&out, "  Received:    ", IsoTime(m.received_at) + ", " + std::to_string(m.size) + " bytes");
    if (!m.agent.empty()) Line(&out, "  Agent:       ", Printable(m.agent));
    for (const StoredAttachment& a : m.attachments) {
      std::string desc = (a.filename.empty() ? "(no name)" : Printable(a.filename)) + "  " +
                         Printable(a.declared_type);
      if (!a.detected_type.empty()) desc += " (detected " + Printable(a.detected_type) + ")";
      desc += "  " + std::to_string(a.size) + " bytes";
      if (!a.verdict.empty()) desc += "  " + Printable(a.verdict);
      if (!a.reason.empty()) desc += ": " + Printable(a.reason);
      if (!a.virus.empty()) desc += "  virus " + Printable(a.virus);
      desc += "  sha256 " + Printable(a.sha256);
      Line(&out, "  Attachment:  ", desc);
    }
    out += '\n';
    // The body, indented; Printable keeps its line breaks and nothing else.
    AppendIndented(&out, "    ", Printable(m.body, true));
    if (m.body_truncated) out += "    [body truncated]\n";
  }

  if (!events.empty()) {
    out += "\nEvents\n";
    for (const TicketEvent& e : events) {
      std::string line = "  " + std::to_string(e.seq) + "  " + IsoTime(e.at) + "  " + Printable(e.type);
      if (e.related_ticket != 0) line += " #" + std::to_string(e.related_ticket);
      out += line;
      out += '\n';
      // Event texts may span lines (the "created" comment does).
      AppendIndented(&out, "      ", Printable(e.text, true));
    }
  }
  return out;
}

}  // namespace desk::ctl
