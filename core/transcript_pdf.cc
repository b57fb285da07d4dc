// transcript_pdf: PDF transcript of a ticket (see the header).
//
// Two steps: every paragraph becomes a PangoLayout wrapped to its width; then each layout line is
// placed on a page (a new page when the line would cross the bottom margin) and drawn with
// pango_cairo_show_layout_line at its baseline. Placing lines rather than whole layouts is what lets
// one long body flow over many pages. Page footers are drawn last, when the page count is known.
#include "core/transcript_pdf.h"

#include <cairo-pdf.h>
#include <cairo.h>
#include <glib.h>
#include <pango/pangocairo.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string_view>

namespace desk {
namespace {

constexpr double kPageWidth = 595.0;  // A4 in points
constexpr double kPageHeight = 842.0;
constexpr double kMargin = 50.0;
constexpr double kFooterGap = 24.0;
constexpr double kContentWidth = kPageWidth - 2 * kMargin;
constexpr double kBottom = kPageHeight - kMargin;
constexpr size_t kChunkChars = 300;

std::string Utc(int64_t t) {
  if (t == 0) return "-";
  time_t tt = static_cast<time_t>(t);
  struct tm tm;
  if (gmtime_r(&tt, &tm) == nullptr) return std::to_string(t);
  char buf[40];
  strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

std::string Mailboxes(const std::vector<Mailbox>& list) {
  std::string out;
  for (const Mailbox& m : list) {
    if (!out.empty()) out += ", ";
    out += FormatMailbox(m);
  }
  return out;
}

std::string HumanSize(uint64_t n) {
  char buf[64];
  if (n < 1024) {
    std::snprintf(buf, sizeof buf, "%llu bytes", static_cast<unsigned long long>(n));
  } else if (n < (1u << 20)) {
    std::snprintf(buf, sizeof buf, "%.1f KiB (%llu bytes)", n / 1024.0,
                  static_cast<unsigned long long>(n));
  } else {
    std::snprintf(buf, sizeof buf, "%.1f MiB (%llu bytes)", n / 1048576.0,
                  static_cast<unsigned long long>(n));
  }
  return buf;
}

struct LayoutUnref {
  void operator()(PangoLayout* l) const { g_object_unref(l); }
};

enum class Style { kTitle, kHeading, kField, kBody, kSmall };

struct Paragraph {
  std::unique_ptr<PangoLayout, LayoutUnref> layout;
  double space_before = 0;
  double indent = 0;
  bool rule_before = false;  // a thin line above (between messages)
};

// One placed line (or rule) on a page.
struct Placed {
  int page = 0;
  double x = 0, baseline = 0;
  PangoLayoutLine* line = nullptr;  // owned by its paragraph's layout; null for a rule
  double rule_y = 0;
};

class Builder {
 public:
  Builder(cairo_t* cr, const TranscriptOptions& o) : cr_(cr), options_(o) {}

  // A body becomes one paragraph per line, and a line longer than kChunkChars one paragraph per
  // chunk (cut at the last space of the chunk when there is one). Pango's line breaking is slow
  // on one huge paragraph (minutes for 200,000 characters without a space), and hostile mail can
  // send exactly that; short paragraphs keep the cost linear.
  void AddBody(const std::string& text, double space_before) {
    const std::string shown = TranscriptText(text, std::string::npos);
    size_t start = 0;
    bool first = true;
    while (start <= shown.size()) {
      size_t end = shown.find('\n', start);
      if (end == std::string::npos) end = shown.size();
      std::string_view line(shown.data() + start, end - start);
      do {
        size_t cut = line.size();
        // Byte offset after kChunkChars code points.
        size_t chars = 0, pos = 0;
        while (pos < line.size() && chars < kChunkChars) {
          pos = static_cast<size_t>(g_utf8_next_char(line.data() + pos) - line.data());
          ++chars;
        }
        if (pos < line.size()) {
          const size_t space = line.rfind(' ', pos);
          cut = space != std::string_view::npos && space > 0 ? space + 1 : pos;
        }
        AddShown(Style::kBody, std::string(line.substr(0, cut)), first ? space_before : 0, 0, false);
        first = false;
        line.remove_prefix(cut);
      } while (!line.empty());
      start = end + 1;
    }
  }

  void Add(Style style, const std::string& text, double space_before = 0, double indent = 0,
           bool rule = false) {
    AddShown(style, TranscriptText(text, kMaxFieldChars), space_before, indent, rule);
  }

  // shown: already passed through TranscriptText.
  void AddShown(Style style, const std::string& shown, double space_before, double indent,
                bool rule) {
    Paragraph p;
    p.layout.reset(pango_cairo_create_layout(cr_));
    PangoFontDescription* fd = pango_font_description_from_string(options_.font_family.c_str());
    double size = 10;
    switch (style) {
      case Style::kTitle:
        size = 16;
        pango_font_description_set_weight(fd, PANGO_WEIGHT_BOLD);
        break;
      case Style::kHeading:
        size = 12;
        pango_font_description_set_weight(fd, PANGO_WEIGHT_BOLD);
        break;
      case Style::kField:
      case Style::kBody:
        size = 10;
        break;
      case Style::kSmall:
        size = 8.5;
        break;
    }
    pango_font_description_set_size(fd, static_cast<int>(size * PANGO_SCALE));
    pango_layout_set_font_description(p.layout.get(), fd);
    pango_font_description_free(fd);
    pango_layout_set_width(p.layout.get(), static_cast<int>((kContentWidth - indent) * PANGO_SCALE));
    pango_layout_set_wrap(p.layout.get(), PANGO_WRAP_WORD_CHAR);
    pango_layout_set_text(p.layout.get(), shown.data(), static_cast<int>(shown.size()));
    p.space_before = space_before;
    p.indent = indent;
    p.rule_before = rule;
    paragraphs_.push_back(std::move(p));
  }

  // Places every line; returns the number of pages. Stops at options_.max_pages (truncated()).
  int Place() {
    int page = 0;
    double y = kMargin;
    for (Paragraph& p : paragraphs_) {
      y += p.space_before;
      if (p.rule_before) {
        if (y + 12 > kBottom) {
          if (!NewPage(&page, &y)) return page + 1;
        }
        placed_.push_back({page, 0, 0, nullptr, y});
        y += 6;
      }
      PangoLayoutIter* it = pango_layout_get_iter(p.layout.get());
      do {
        PangoRectangle logical;
        pango_layout_iter_get_line_extents(it, nullptr, &logical);
        const double top = logical.y / double(PANGO_SCALE);
        const double h = logical.height / double(PANGO_SCALE);
        const double base = pango_layout_iter_get_baseline(it) / double(PANGO_SCALE);
        if (y + h > kBottom && y > kMargin) {
          if (!NewPage(&page, &y)) {
            pango_layout_iter_free(it);
            return page + 1;
          }
        }
        Placed pl;
        pl.page = page;
        pl.x = kMargin + p.indent + logical.x / double(PANGO_SCALE);
        pl.baseline = y + (base - top);
        pl.line = pango_layout_iter_get_line_readonly(it);
        placed_.push_back(pl);
        y += h;
      } while (pango_layout_iter_next_line(it));
      pango_layout_iter_free(it);
    }
    return page + 1;
  }

  bool truncated() const { return truncated_; }
  const std::vector<Placed>& placed() const { return placed_; }

 private:
  bool NewPage(int* page, double* y) {
    if (*page + 1 >= options_.max_pages) {
      truncated_ = true;
      return false;
    }
    ++*page;
    *y = kMargin;
    return true;
  }

  cairo_t* cr_;
  const TranscriptOptions& options_;
  std::vector<Paragraph> paragraphs_;
  std::vector<Placed> placed_;
  bool truncated_ = false;
};

void Footer(cairo_t* cr, const TranscriptOptions& o, const std::string& text) {
  PangoLayout* l = pango_cairo_create_layout(cr);
  PangoFontDescription* fd = pango_font_description_from_string(o.font_family.c_str());
  pango_font_description_set_size(fd, 8 * PANGO_SCALE);
  pango_layout_set_font_description(l, fd);
  pango_font_description_free(fd);
  pango_layout_set_width(l, static_cast<int>(kContentWidth * PANGO_SCALE));
  pango_layout_set_alignment(l, PANGO_ALIGN_CENTER);
  pango_layout_set_text(l, text.data(), static_cast<int>(text.size()));
  cairo_move_to(cr, kMargin, kBottom + kFooterGap - 12);
  pango_cairo_show_layout(cr, l);
  g_object_unref(l);
}

void Content(Builder* b, const Ticket& t, const std::vector<TicketMessage>& messages,
             const std::vector<TicketEvent>& events) {
  b->Add(Style::kTitle, t.title.empty() ? std::string("(no subject)") : t.title);
  b->Add(Style::kField, "Ticket #" + std::to_string(t.number), 4);
  b->Add(Style::kField, "Queue: " + t.queue, 8);
  b->Add(Style::kField, "Brand: " + (t.brand.empty() ? std::string("-") : t.brand));
  b->Add(Style::kField, "Requester: " + FormatMailbox(t.requester));
  b->Add(Style::kField, std::string("Status: ") + TicketStatusName(t.status));
  b->Add(Style::kField, "Received at: " + (t.received_at.empty() ? "-" : t.received_at));
  b->Add(Style::kField,
         "Assigned agent: " + (t.assigned_agent.empty() ? "unassigned" : t.assigned_agent));
  b->Add(Style::kField, "Created: " + Utc(t.created_at) + "    Updated: " + Utc(t.updated_at));
  if (t.linked_from != 0) {
    b->Add(Style::kField, "Opened by a reply to ticket #" + std::to_string(t.linked_from));
  }

  b->Add(Style::kHeading, "Messages (" + std::to_string(messages.size()) + ")", 14);
  for (const TicketMessage& m : messages) {
    std::string head = "Message " + std::to_string(m.seq) + " - " + DirectionName(m.direction);
    if (!m.kind.empty()) head += " (" + m.kind + ")";
    b->Add(Style::kHeading, head, 10, 0, /*rule=*/true);
    b->Add(Style::kField, "From: " + FormatMailbox(m.from), 2);
    if (!m.to.empty()) b->Add(Style::kField, "To: " + Mailboxes(m.to));
    if (!m.cc.empty()) b->Add(Style::kField, "Cc: " + Mailboxes(m.cc));
    b->Add(Style::kField, "Date: " + (m.date.empty() ? "-" : m.date) +
                              "    Received: " + Utc(m.received_at));
    b->Add(Style::kField, "Subject: " + m.subject);
    if (!m.agent.empty()) b->Add(Style::kField, "Agent: " + m.agent);
    std::string body = m.body.empty() ? std::string("(no text body)") : m.body;
    if (m.body_truncated) body += "\n[... body cut at the configured length]";
    b->AddBody(body, 6);
    if (!m.attachments.empty()) {
      b->Add(Style::kField, "Attachments (" + std::to_string(m.attachments.size()) + "):", 6);
      for (const StoredAttachment& a : m.attachments) {
        std::string type = a.detected_type.empty() ? a.declared_type : a.detected_type;
        std::string line = (a.filename.empty() ? std::string("(unnamed)") : a.filename) + " - " +
                           (type.empty() ? std::string("unknown type") : type) + ", " +
                           HumanSize(a.size);
        if (!a.verdict.empty()) line += ", " + a.verdict;
        if (!a.reason.empty()) line += " (" + a.reason + ")";
        if (!a.virus.empty()) line += ", virus " + a.virus;
        b->Add(Style::kField, line, 2, 12);
        b->Add(Style::kSmall, "SHA-256 " + (a.sha256.empty() ? std::string("-") : a.sha256), 0, 12);
      }
    }
  }

  b->Add(Style::kHeading, "Events (" + std::to_string(events.size()) + ")", 16, 0, true);
  for (const TicketEvent& e : events) {
    std::string line = Utc(e.at) + "  " + e.type;
    if (e.related_ticket != 0) line += " (ticket #" + std::to_string(e.related_ticket) + ")";
    b->Add(Style::kField, line, 4);
    if (!e.text.empty()) b->Add(Style::kSmall, e.text, 0, 12);
  }
}

cairo_status_t WriteToFd(void* closure, const unsigned char* data, unsigned int length) {
  const int fd = *static_cast<int*>(closure);
  while (length > 0) {
    ssize_t n = ::write(fd, data, length);
    if (n < 0) return CAIRO_STATUS_WRITE_ERROR;
    data += n;
    length -= static_cast<unsigned int>(n);
  }
  return CAIRO_STATUS_SUCCESS;
}

}  // namespace

std::string TranscriptText(const std::string& s, size_t max_chars) {
  gchar* valid = g_utf8_make_valid(s.data(), static_cast<gssize>(s.size()));
  std::string out;
  size_t count = 0;
  for (const gchar* p = valid; *p != '\0'; p = g_utf8_next_char(p)) {
    if (count == max_chars) {
      out += "...";
      break;
    }
    gunichar c = g_utf8_get_char(p);
    if (c == '\r' && p[1] == '\n') continue;  // CRLF reads as a line break
    if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f || (c >= 0x80 && c < 0xa0) ||
        c == 0x2028 || c == 0x2029) {
      c = 0xfffd;
    }
    char buf[8];
    int n = g_unichar_to_utf8(c, buf);
    out.append(buf, static_cast<size_t>(n));
    ++count;
  }
  g_free(valid);
  return out;
}

Status WriteTranscriptPdf(const Ticket& ticket, const std::vector<TicketMessage>& messages,
                          const std::vector<TicketEvent>& events, const std::string& path,
                          const TranscriptOptions& options) {
  std::string tmp = path + ".tmp-XXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0) return Status::Store("transcript: cannot create a file beside " + path);
  cairo_surface_t* surface =
      cairo_pdf_surface_create_for_stream(WriteToFd, &fd, kPageWidth, kPageHeight);
  cairo_t* cr = cairo_create(surface);
  {
    const std::string title = "Ticket #" + std::to_string(ticket.number);
    cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_TITLE, title.c_str());
    cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATOR, "deskmilter");
    Builder b(cr, options);
    Content(&b, ticket, messages, events);
    const int pages = b.Place();
    const std::string total = std::to_string(pages);
    size_t i = 0;
    const auto& placed = b.placed();
    for (int page = 0; page < pages; ++page) {
      cairo_set_source_rgb(cr, 0, 0, 0);
      for (; i < placed.size() && placed[i].page == page; ++i) {
        const Placed& pl = placed[i];
        if (pl.line == nullptr) {
          cairo_set_source_rgb(cr, 0.6, 0.6, 0.6);
          cairo_set_line_width(cr, 0.5);
          cairo_move_to(cr, kMargin, pl.rule_y + 3);
          cairo_line_to(cr, kPageWidth - kMargin, pl.rule_y + 3);
          cairo_stroke(cr);
          cairo_set_source_rgb(cr, 0, 0, 0);
          continue;
        }
        cairo_move_to(cr, pl.x, pl.baseline);
        pango_cairo_show_layout_line(cr, pl.line);
      }
      std::string footer = "Ticket #" + std::to_string(ticket.number) + " - page " +
                           std::to_string(page + 1) + " of " + total;
      if (b.truncated() && page + 1 == pages) {
        footer += " - transcript cut at " + std::to_string(options.max_pages) + " pages";
      }
      Footer(cr, options, footer);
      cairo_show_page(cr);
    }
  }
  cairo_destroy(cr);
  cairo_surface_finish(surface);
  cairo_status_t cs = cairo_surface_status(surface);
  cairo_surface_destroy(surface);
  const bool synced = ::fsync(fd) == 0;
  const bool closed = ::close(fd) == 0;
  if (cs != CAIRO_STATUS_SUCCESS || !synced || !closed) {
    ::unlink(tmp.c_str());
    return Status::Store("transcript: " + path + ": " +
                         (cs != CAIRO_STATUS_SUCCESS ? cairo_status_to_string(cs) : "write failed"));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return Status::Store("transcript: cannot rename to " + path);
  }
  return Status::Ok();
}

}  // namespace desk
