// libFuzzer target over the config loader: each input is a TOML document given to
// config::LoadString. It must answer OK or a kConfig error naming the file, never crash, hang or
// throw; an accepted config must load again to the same queues. Built like attachment_fuzz.cc.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "config/loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string toml(reinterpret_cast<const char*>(data), size);
  std::shared_ptr<const desk::Config> config;
  desk::Status st = desk::config::LoadString(toml, "fuzz.toml", &config);
  if (st.ok()) {
    if (config == nullptr) std::abort();
    std::shared_ptr<const desk::Config> again;
    if (!desk::config::LoadString(toml, "fuzz.toml", &again).ok()) std::abort();
    if (again->queues.size() != config->queues.size()) std::abort();
  } else if (st.message().rfind("fuzz.toml", 0) != 0) {
    std::abort();  // every error names the file first
  }
  return 0;
}
