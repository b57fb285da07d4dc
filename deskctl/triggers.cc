// deskctl triggers / trigger ...: the triggers stored in the ticket store (core/triggers.h).
//
// Every command first adds the default triggers if this store never had them (the daemon does the
// same at start), so they exist from the first start whichever runs first. A trigger file is
// parsed completely before anything is written: a file with an unknown field, condition or action
// changes nothing and names the field.
#include "core/ascii.h"
#include "core/triggers.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/auto_answer.h"
#include "deskctl/commands.h"

namespace desk::ctl {
namespace {

struct Loaded {
  uint64_t id = 0;
  Trigger trigger;
  bool valid = true;
};

int Open(const std::string& config_path, Context* ctx) {
  int rc = OpenContext(config_path, StoreMode::kRequired, ctx);
  if (rc != kExitOk) return rc;
  Status st = SeedDefaultTriggers(ctx->store.get());
  if (!st.ok()) {
    std::fprintf(stderr, "deskctl: %s\n", st.ToString().c_str());
    return kExitFailure;
  }
  return kExitOk;
}

int Load(Context& ctx, std::vector<Loaded>* out) {
  std::vector<StoredTrigger> stored;
  Status st = ctx.store->GetTriggers(&stored);
  if (!st.ok()) {
    std::fprintf(stderr, "deskctl: %s\n", st.ToString().c_str());
    return kExitFailure;
  }
  for (const StoredTrigger& s : stored) {
    Loaded l;
    l.id = s.id;
    l.valid = ParseTrigger(s.json, &l.trigger).ok();
    out->push_back(std::move(l));
  }
  return kExitOk;
}

int Find(Context& ctx, uint64_t id, Trigger* out) {
  std::vector<Loaded> all;
  int rc = Load(ctx, &all);
  if (rc != kExitOk) return rc;
  for (const Loaded& l : all) {
    if (l.id == id && l.valid) {
      *out = l.trigger;
      return kExitOk;
    }
  }
  std::fprintf(stderr, "deskctl: no trigger %llu\n", static_cast<unsigned long long>(id));
  return kExitFailure;
}

int ReadTriggerFile(const std::string& path, Trigger* out) {
  std::string text;
  if (path == "-") {
    std::stringstream ss;
    ss << std::cin.rdbuf();
    text = ss.str();
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "deskctl: %s: cannot read\n", path.c_str());
      return kExitFailure;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  Status st = ParseTrigger(text, out);
  if (!st.ok()) {
    std::fprintf(stderr, "deskctl: %s: %s (nothing changed)\n", path.c_str(), st.message().c_str());
    return kExitFailure;
  }
  return kExitOk;
}

int Put(Context& ctx, uint64_t id, const Trigger& t, const char* verb) {
  StoredTrigger s{id, TriggerJson(t)};
  Status st = ctx.store->PutTrigger(&s);
  if (!st.ok()) {
    std::fprintf(stderr, "deskctl: %s\n", st.ToString().c_str());
    return kExitFailure;
  }
  std::printf("%s trigger %llu: %s (%s)\n", verb, static_cast<unsigned long long>(s.id),
              t.name.c_str(), t.enabled ? "active" : "inactive");
  return kExitOk;
}

nlohmann::json Summary(const Loaded& l) {
  nlohmann::json j = {{"id", l.id}};
  if (!l.valid) {
    j["status"] = "invalid";
    return j;
  }
  j["name"] = l.trigger.name;
  j["description"] = l.trigger.description;
  j["status"] = l.trigger.enabled ? "active" : "inactive";
  j["event"] = TriggerEventName(l.trigger.event);
  return j;
}

void Print(const std::vector<Loaded>& list, bool json) {
  if (json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const Loaded& l : list) arr.push_back(Summary(l));
    std::printf("%s\n", arr.dump(2).c_str());
    return;
  }
  std::printf("%-4s %-9s %-15s %s\n", "ID", "STATUS", "EVENT", "NAME");
  for (const Loaded& l : list) {
    std::printf("%-4llu %-9s %-15s %s\n", static_cast<unsigned long long>(l.id),
                !l.valid ? "invalid" : (l.trigger.enabled ? "active" : "inactive"),
                l.valid ? TriggerEventName(l.trigger.event) : "-",
                l.valid ? l.trigger.name.c_str() : "-");
  }
}

}  // namespace

int RunTriggers(const std::string& config_path, bool json, const std::string& sort) {
  Context ctx;
  int rc = Open(config_path, &ctx);
  std::vector<Loaded> all;
  if (rc == kExitOk) rc = Load(ctx, &all);
  if (rc != kExitOk) return rc;
  if (sort == "status") {
    std::stable_sort(all.begin(), all.end(), [](const Loaded& a, const Loaded& b) {
      return (a.valid && a.trigger.enabled) > (b.valid && b.trigger.enabled);
    });
  }
  Print(all, json);
  return kExitOk;
}

int RunTriggerSearch(const std::string& config_path, const std::string& words, bool json) {
  Context ctx;
  int rc = Open(config_path, &ctx);
  std::vector<Loaded> all, found;
  if (rc == kExitOk) rc = Load(ctx, &all);
  if (rc != kExitOk) return rc;
  std::istringstream in(AsciiLower(words));
  std::vector<std::string> want;
  for (std::string w; in >> w;) want.push_back(w);
  for (const Loaded& l : all) {
    if (!l.valid) continue;
    const std::string hay = AsciiLower(l.trigger.name + " " + l.trigger.description);
    if (std::all_of(want.begin(), want.end(),
                    [&](const std::string& w) { return hay.find(w) != std::string::npos; })) {
      found.push_back(l);
    }
  }
  Print(found, json);
  return kExitOk;
}

int RunTriggerShow(const std::string& config_path, uint64_t id) {
  Context ctx;
  int rc = Open(config_path, &ctx);
  Trigger t;
  if (rc == kExitOk) rc = Find(ctx, id, &t);
  if (rc != kExitOk) return rc;
  nlohmann::json j = nlohmann::json::parse(TriggerJson(t));
  j["id"] = id;
  std::printf("%s\n", j.dump(2).c_str());
  return kExitOk;
}

int RunTriggerCreate(const std::string& config_path, const std::string& file) {
  Trigger t;
  int rc = ReadTriggerFile(file, &t);
  Context ctx;
  if (rc == kExitOk) rc = Open(config_path, &ctx);
  if (rc != kExitOk) return rc;
  return Put(ctx, 0, t, "created");
}

int RunTriggerEdit(const std::string& config_path, uint64_t id, const std::string& file) {
  Trigger t, old;
  int rc = ReadTriggerFile(file, &t);
  Context ctx;
  if (rc == kExitOk) rc = Open(config_path, &ctx);
  if (rc == kExitOk) rc = Find(ctx, id, &old);
  if (rc != kExitOk) return rc;
  return Put(ctx, id, t, "edited");
}

int RunTriggerClone(const std::string& config_path, uint64_t id) {
  Context ctx;
  int rc = Open(config_path, &ctx);
  Trigger t;
  if (rc == kExitOk) rc = Find(ctx, id, &t);
  if (rc != kExitOk) return rc;
  t.name = "Copy of " + t.name;
  t.enabled = false;
  return Put(ctx, 0, t, "created");
}

int RunTriggerEnable(const std::string& config_path, uint64_t id, bool enabled) {
  Context ctx;
  int rc = Open(config_path, &ctx);
  Trigger t;
  if (rc == kExitOk) rc = Find(ctx, id, &t);
  if (rc != kExitOk) return rc;
  t.enabled = enabled;
  return Put(ctx, id, t, enabled ? "enabled" : "disabled");
}

int RunTriggerDelete(const std::string& config_path, uint64_t id) {
  Context ctx;
  int rc = Open(config_path, &ctx);
  if (rc != kExitOk) return rc;
  Status st = ctx.store->DeleteTrigger(id);
  if (!st.ok()) {
    std::fprintf(
        stderr, "deskctl: %s\n",
        st.IsNotFound() ? ("no trigger " + std::to_string(id)).c_str() : st.ToString().c_str());
    return kExitFailure;
  }
  std::printf("deleted trigger %llu\n", static_cast<unsigned long long>(id));
  return kExitOk;
}

}  // namespace desk::ctl
