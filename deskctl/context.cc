// Opening what a deskctl command needs: config, store, engine. See commands.h.
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <system_error>

#include "config/loader.h"
#include "core/lmdb_store.h"
#include "core/mime_parser.h"
#include "deskctl/commands.h"
#include "milter/steady_clock.h"

namespace desk::ctl {

int OpenContext(const std::string& config_path, StoreMode mode, Context* out) {
  Status st = config::LoadFile(config_path, &out->config);
  if (!st.ok()) {
    // The loader's message already reads "FILE: KEY: reason".
    std::fprintf(stderr, "deskctl: %s\n", st.message().c_str());
    return kExitConfig;
  }
  const std::shared_ptr<const Config> loaded = out->config;  // keeps cfg alive below
  const Config& cfg = *loaded;
  struct stat sb;
  bool exists = !cfg.store_dir.empty() && ::stat(cfg.store_dir.c_str(), &sb) == 0;
  if (mode == StoreMode::kRequired && !exists) {
    // Say where it looked: a relative store.dir is taken from the working directory, which is the
    // usual reason when deskctl runs somewhere other than the daemon.
    std::error_code ec;
    std::string where = std::filesystem::absolute(cfg.store_dir, ec).string();
    if (ec || where.empty()) where = cfg.store_dir;
    std::fprintf(stderr, "deskctl: no store at %s (store.dir = \"%s\" in %s%s)\n", where.c_str(),
                 cfg.store_dir.c_str(), config_path.c_str(),
                 cfg.store_dir.empty() || cfg.store_dir[0] != '/'
                     ? "; a relative path is taken from the working directory"
                     : "");
    return kExitFailure;
  }
  if (mode == StoreMode::kCreate || exists) {
    LmdbOptions lo;
    lo.dir = cfg.store_dir;
    if (cfg.store_map_mb > 0) lo.map_size = static_cast<uint64_t>(cfg.store_map_mb) << 20;
    st = OpenLmdbTicketStore(lo, &out->store);
    if (!st.ok()) {
      std::fprintf(stderr, "deskctl: %s: %s\n", cfg.store_dir.c_str(), st.ToString().c_str());
      return kExitFailure;
    }
    // The loop stamp the daemon uses: its stored random installation id, unless configured.
    std::string id;
    if (cfg.installation_id.empty() && LmdbInstallationId(out->store.get(), "", &id).ok()) {
      auto copy = std::make_shared<Config>(cfg);
      copy->installation_id = id;
      out->config = std::move(copy);
    }
  }
  st = Engine::Create(out->config, out->store.get(), &out->engine);
  if (!st.ok()) {
    std::fprintf(stderr, "deskctl: %s\n", st.message().c_str());
    return st.error_class() == ErrorClass::kConfig ? kExitConfig : kExitFailure;
  }
  out->engine->SetClock(std::make_shared<SteadyClock>());
  InitMimeLibrary();
  return kExitOk;
}

}  // namespace desk::ctl
