// libFuzzer target over parse + attachment policy: each input is a raw mail, run through a
// Transaction of an Engine with one queue (archives inspected, refused types stripped), no ticket
// store and no virus scanner (dry run), so ParseMessage, the ambiguity checks, libmagic,
// libarchive listing, the policy and the strip rewrite all see hostile input. A stripped body must
// parse again. Built with -fsanitize=fuzzer (clang, -DDESK_FUZZ=ON) or, with any compiler, linked
// to replay_main.cc, which runs the inputs named on the command line (files or directories).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "config/loader.h"
#include "core/engine.h"
#include "core/mime_parser.h"

namespace {

const desk::Engine& FuzzEngine() {
  static std::unique_ptr<desk::Engine> engine = [] {
    desk::InitMimeLibrary();
    auto c = std::make_shared<desk::Config>(desk::config::DefaultConfig());
    c->scanner_enabled = false;
    c->spool_threshold = 64 * 1024;
    c->max_mime_parts = 200;
    // Archives are listed in this process, not in the daemon's bounded child (0 is below the
    // config's minimum, so only code can ask for it): the fuzzer sees libarchive's coverage and
    // sanitizer reports. The child itself is tested in tests/unit (ChildProcessTest).
    c->archive_memory_mb = 0;
    desk::QueueConfig q = desk::config::DefaultQueueConfig();
    q.name = "support";
    q.color = "#000000";
    q.addresses = {"support@example.com"};
    q.default_address = "support@example.com";
    q.subject_tag = "[#{n}]";
    q.archives = desk::ArchiveMode::kInspect;
    c->queues = {q};
    std::unique_ptr<desk::Engine> e;
    if (!desk::Engine::Create(c, nullptr, &e).ok()) std::abort();
    return e;
  }();
  return *engine;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const desk::Engine& engine = FuzzEngine();
  desk::Envelope env;
  env.mail_from = "a@example.org";
  env.rcpts = {"support@example.com"};
  desk::Transaction tx(engine, env);
  tx.Raw(std::string_view(reinterpret_cast<const char*>(data), size));
  desk::Decision d = tx.EndOfMessage(1700000000, /*dry_run=*/true);
  if (d.replacement_body != nullptr) {
    // The stripped mail still parses, and the notice took the place of every stripped part.
    std::string body;
    if (!d.replacement_body->Read(0, d.replacement_body->size(), &body).ok()) std::abort();
    std::string raw(reinterpret_cast<const char*>(data), size);
    desk::Spool spool("", 1 << 20);
    desk::ParsedMessage first;
    (void)spool.Append(raw);
    if (!desk::ParseMessage(spool, desk::config::DefaultParseLimits(), &first).ok()) std::abort();
    desk::Spool stripped("", 1 << 20);
    (void)stripped.Append(raw.substr(0, first.body_offset) + body);
    desk::ParsedMessage again;
    desk::ParseLimits limits = desk::config::DefaultParseLimits();
    limits.max_mime_parts = 200;
    if (!desk::ParseMessage(stripped, limits, &again).ok()) std::abort();
    if (body.find("deskmilter removed the attachment") == std::string::npos) std::abort();
  }
  return 0;
}
