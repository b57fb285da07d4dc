// Corpus measurement for ClassifyAutoMail (issue 4).
//
//   bsd:     every file under sisimai-set-of-emails/maildir/bsd (real bounces from 77 MTA and
//            provider families, ARF reports, RFC 3834 auto-replies) must be classified automatic.
//   not:     maildir/not (mail that looks like a bounce) is reported, not asserted.
//   persons: the messages of fedora-devel-2010-01 and mail-box, with the headers their lists added
//            removed so they look like personal mail, must not be classified automatic.
// Counts per class are printed and recorded as test properties (DESK_AUTO_MAIL_VERBOSE=1 in the
// environment prints the verdict of every bsd file). Skips when the corpora are absent.
//
// The envelope sender is not in the files: the Return-Path header stands for it when there is one
// (what deskctl does on import), else the From address, i.e. the harder case of a non-null sender.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/auto_mail.h"

namespace desk {
namespace {

namespace fs = std::filesystem;

// A message as the engine sees it: parsed top-level fields plus the raw body prefix.
struct Loaded {
  ParsedMessage msg;
  std::string body;
  std::string return_path;  // "" when absent; "<>" for the null sender
  bool has_return_path = false;
  std::string mbox_from;  // address on the mbox "From " separator line, if any
};

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Unbracket(const std::string& v) {
  size_t lt = v.find('<'), gt = v.find('>', lt == std::string::npos ? 0 : lt);
  if (lt == std::string::npos || gt == std::string::npos) return Trim(v);
  return v.substr(lt + 1, gt - lt - 1);
}

Mailbox ParseMailbox(const std::string& raw) {
  Mailbox m;
  std::string v;  // without (comments): "pm@example.com (Postmaster)"
  int depth = 0;
  for (char c : raw) {
    if (c == '(') {
      ++depth;
    } else if (c == ')' && depth > 0) {
      --depth;
    } else if (depth == 0) {
      v.push_back(c);
    }
  }
  size_t lt = v.find('<');
  if (lt == std::string::npos) {
    m.address = Trim(v);
    return m;
  }
  m.address = Unbracket(v);
  m.name = Trim(v.substr(0, lt));
  if (m.name.size() >= 2 && m.name.front() == '"' && m.name.back() == '"') {
    m.name = m.name.substr(1, m.name.size() - 2);
  }
  return m;
}

// Splits the header block (unfolding continuation lines) and fills the fields the classifier reads.
Loaded Load(std::string raw) {
  Loaded out;
  if (raw.rfind("From ", 0) == 0) {
    size_t eol = std::min(raw.find('\n'), raw.size() - 1);
    std::string line = raw.substr(5, eol - 5);
    out.mbox_from = line.substr(0, line.find(' '));
    raw.erase(0, eol + 1);
  }
  size_t pos = 0;
  while (pos < raw.size()) {
    size_t eol = raw.find('\n', pos);
    if (eol == std::string::npos) eol = raw.size();
    std::string line = raw.substr(pos, eol - pos);
    pos = eol + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) break;
    if (line[0] == ' ' || line[0] == '\t') {
      if (!out.msg.headers.empty()) out.msg.headers.back().second += " " + Trim(line);
      continue;
    }
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    out.msg.headers.emplace_back(line.substr(0, colon), Trim(line.substr(colon + 1)));
  }
  out.body = pos < raw.size() ? raw.substr(pos, kAutoMailBodyScanBytes) : "";
  bool have_from = false;
  for (const auto& [name, value] : out.msg.headers) {
    const std::string n = Lower(name);
    if (n == "from" && !have_from) {
      out.msg.from = ParseMailbox(value);
      have_from = true;
    } else if (n == "subject" && out.msg.subject.empty()) {
      out.msg.subject = value;
    } else if (n == "message-id" && out.msg.message_id.empty()) {
      out.msg.message_id = Unbracket(value);
    } else if (n == "in-reply-to" && out.msg.in_reply_to.empty()) {
      out.msg.in_reply_to = Unbracket(value);
    } else if (n == "return-path" && !out.has_return_path) {
      out.has_return_path = true;
      out.return_path = Trim(value);
    }
  }
  return out;
}

AutoVerdict ClassifyLoaded(const Loaded& l, const std::string& envelope) {
  AutoMailInput in;
  in.envelope_from = envelope;
  in.msg = &l.msg;
  in.raw_body_prefix = l.body;
  AutoMailRules rules;
  rules.own_addresses = {"support@example.com"};  // no corpus mail comes from these
  rules.installation_id = "desk-corpus-test";
  return ClassifyAutoMail(in, rules);
}

std::string EnvelopeOf(const Loaded& l) {
  if (l.has_return_path) return l.return_path == "<>" ? "" : Unbracket(l.return_path);
  return l.msg.from.address.empty() ? "unknown@corpus.invalid" : l.msg.from.address;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

const fs::path kCorpora = DESK_CORPORA_DIR;

std::vector<fs::path> FilesIn(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_regular_file()) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string Counts(const std::map<std::string, int>& counts) {
  std::string out;
  for (const auto& [k, n] : counts) out += (out.empty() ? "" : " ") + k + "=" + std::to_string(n);
  return out;
}

// Not automatic, though sisimai keeps it among its bounces: a person forwarding a bounce inline
// ("Fwd: Returned mail: ...", the report quoted with "> "). At a help desk this is a customer asking
// why their mail bounced and must open a ticket; the classifier ignores quoted text on purpose.
const std::set<std::string> kBsdPersonMail = {"lhost-sendmail-14.eml"};

TEST(AutoMailCorpusTest, SisimaiBsdIsAutomatic) {
  const fs::path dir = kCorpora / "sisimai-set-of-emails/maildir/bsd";
  if (!fs::is_directory(dir)) GTEST_SKIP() << "no corpus at " << dir;
  std::map<std::string, int> kinds, rules;
  int total = 0;
  for (const fs::path& p : FilesIn(dir)) {
    Loaded l = Load(ReadFile(p));
    AutoVerdict v = ClassifyLoaded(l, EnvelopeOf(l));
    const std::string name = p.filename().string();
    ++total;
    if (std::getenv("DESK_AUTO_MAIL_VERBOSE") != nullptr) {
      std::printf("auto_mail corpus bsd: %s kind=%s rule=%s ids=%zu\n", name.c_str(),
                  AutoKindName(v.kind), v.rule.c_str(), v.reported_message_ids.size());
    }
    ++kinds[AutoKindName(v.kind)];
    ++rules[v.rule.empty() ? "-" : v.rule];
    if (kBsdPersonMail.count(name) != 0) {
      EXPECT_EQ(v.kind, AutoKind::kNone) << name << " is a person's forwarded bounce";
      continue;
    }
    EXPECT_NE(v.kind, AutoKind::kNone) << name << " was not recognised as automatic";
    EXPECT_NE(v.kind, AutoKind::kLoop) << name << " rule=" << v.rule;
    EXPECT_NE(v.kind, AutoKind::kOwn) << name << " rule=" << v.rule;
  }
  std::printf("auto_mail corpus bsd: files=%d %s\n", total, Counts(kinds).c_str());
  std::printf("auto_mail corpus bsd rules: %s\n", Counts(rules).c_str());
  for (const auto& [k, n] : kinds) RecordProperty("bsd_" + k, n);
  EXPECT_GT(total, 600);
}

TEST(AutoMailCorpusTest, SisimaiNotIsReported) {
  const fs::path dir = kCorpora / "sisimai-set-of-emails/maildir/not";
  if (!fs::is_directory(dir)) GTEST_SKIP() << "no corpus at " << dir;
  std::map<std::string, int> kinds;
  for (const fs::path& p : FilesIn(dir)) {
    Loaded l = Load(ReadFile(p));
    AutoVerdict v = ClassifyLoaded(l, EnvelopeOf(l));
    ++kinds[AutoKindName(v.kind)];
    std::printf("auto_mail corpus not: %s kind=%s rule=%s\n", p.filename().c_str(),
                AutoKindName(v.kind), v.rule.c_str());
  }
  std::printf("auto_mail corpus not: %s\n", Counts(kinds).c_str());
  for (const auto& [k, n] : kinds) RecordProperty("not_" + k, n);
}

// Headers a list server adds; removed so that list mail looks like a person's mail to us.
bool IsListHeader(const std::string& name) {
  const std::string n = Lower(name);
  return n.rfind("list-", 0) == 0 || n.rfind("x-mailman-", 0) == 0 ||
         n.rfind("x-list-", 0) == 0 || n == "precedence" || n == "mailing-list" ||
         n == "x-beenthere" || n == "x-loop" || n == "sender" || n == "errors-to";
}

// Splits an mbox on "From " separator lines.
std::vector<std::string> SplitMbox(const std::string& mbox) {
  std::vector<std::string> out;
  size_t start = std::string::npos, pos = 0;
  while (pos < mbox.size()) {
    size_t eol = mbox.find('\n', pos);
    if (eol == std::string::npos) eol = mbox.size();
    if (mbox.compare(pos, 5, "From ") == 0 && (pos == 0 || mbox.compare(pos - 2, 2, "\n\n") == 0 ||
                                               mbox.compare(pos - 3, 3, "\n\r\n") == 0)) {
      if (start != std::string::npos) out.push_back(mbox.substr(start, pos - start));
      start = pos;
    }
    pos = eol + 1;
  }
  if (start != std::string::npos) out.push_back(mbox.substr(start));
  return out;
}

TEST(AutoMailCorpusTest, PersonsAreNotAutomatic) {
  const fs::path mboxes[] = {kCorpora / "fedora-devel-2010-01/2010-January.txt",
                             kCorpora / "mail-box/folders/mbox.src"};
  int total = 0, false_positives = 0;
  for (const fs::path& p : mboxes) {
    if (!fs::is_regular_file(p)) GTEST_SKIP() << "no corpus at " << p;
    for (const std::string& raw : SplitMbox(ReadFile(p))) {
      Loaded l = Load(raw);
      std::erase_if(l.msg.headers, [](const auto& h) { return IsListHeader(h.first); });
      // A person's envelope is their own address; one message has no From header at all.
      AutoVerdict v = ClassifyLoaded(l, l.msg.from.address.empty() ? l.mbox_from
                                                                     : l.msg.from.address);
      ++total;
      if (v.kind != AutoKind::kNone) {
        ++false_positives;
        ADD_FAILURE() << p.filename() << " message " << l.msg.message_id << " from "
                      << l.msg.from.address << " subject '" << l.msg.subject
                      << "' classified " << AutoKindName(v.kind) << " rule=" << v.rule;
      }
    }
  }
  std::printf("auto_mail corpus persons: messages=%d false_positives=%d\n", total,
              false_positives);
  RecordProperty("persons_messages", total);
  RecordProperty("persons_false_positives", false_positives);
  EXPECT_GT(total, 300);
}

}  // namespace
}  // namespace desk
