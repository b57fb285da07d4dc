// The TOML loader: config text -> validated desk::Config, driven by the schema tables (schema.h).
//
// Guarantees: every key in the file is an option of the schema (else "unknown key" / "unknown
// section"); every option gets a value of its type within its bounds, from the file or from its
// default; queues are checked as a whole (unique names, each address in one queue, a usable
// default_address). Only the first error is reported, as "FILE: KEY: reason".
// toml++ is built with exceptions here (TOML_EXCEPTIONS=1); they never leave this file.
// Relative paths are kept as written (they are resolved against the working directory by whoever
// opens them).
//
// Thread-safety: pure functions, no shared state.
#include "config/loader.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string_view>
#include <utility>

#include <toml++/toml.h>

#include "core/ascii.h"
#include "config/schema.h"
#include "core/pipeline.h"

namespace desk::config {
namespace {

const char* NodeTypeName(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a floating-point number";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    case toml::node_type::none: break;
  }
  return "nothing";
}

const char* Expected(Type t) {
  switch (t) {
    case Type::kString:
    case Type::kAction:
    case Type::kEnum: return "a string";
    case Type::kInt: return "an integer";
    case Type::kBool: return "a boolean (true or false)";
    case Type::kOctalMode: return "an octal string such as \"0660\" or an integer";
    case Type::kSize: return "an integer or a size string such as \"100M\"";
    case Type::kStringArray: return "an array of strings";
  }
  return "?";
}

std::string Quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

// "0660", "660", "0o660" -> 432.
bool ParseOctal(std::string_view s, int64_t* out) {
  if (s.starts_with("0o")) s.remove_prefix(2);
  if (s.empty() || s.size() > 8) return false;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '7') return false;
    v = v * 8 + (c - '0');
  }
  *out = v;
  return true;
}

// "4096", "64K", "100M", "1G" (powers of 1024, case-insensitive) -> bytes.
bool ParseSize(std::string_view s, int64_t* out) {
  int64_t unit = 1;
  if (!s.empty()) {
    switch (s.back()) {
      case 'k': case 'K': unit = int64_t{1} << 10; break;
      case 'm': case 'M': unit = int64_t{1} << 20; break;
      case 'g': case 'G': unit = int64_t{1} << 30; break;
      default: break;
    }
    if (unit != 1) s.remove_suffix(1);
  }
  if (s.empty() || s.size() > 12) return false;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v * unit;  // at most 10^12 * 2^30 < 2^63
  return true;
}

std::string NumberText(Type t, int64_t v) {
  char buf[32];
  if (t == Type::kOctalMode && v >= 0) {
    std::snprintf(buf, sizeof buf, "0%03" PRIo64, static_cast<uint64_t>(v));
  } else {
    std::snprintf(buf, sizeof buf, "%" PRId64, v);
  }
  return buf;
}

// A converted value, before it is stored in its Field.
struct Value {
  std::string str;
  int64_t num = 0;  // kInt, kSize, kOctalMode; the choice's index for kEnum
  bool flag = false;
  Outcome action = Outcome::kTempfail;
  std::vector<std::string> list;
};

class Loader {
 public:
  explicit Loader(std::string name) : name_(std::move(name)) {}

  Status Load(std::string_view text, Config* out) {
    toml::table root;
    try {
      root = toml::parse(text, name_);
    } catch (const toml::parse_error& e) {
      return Status::Config(name_ + ": line " + std::to_string(e.source().begin.line) +
                            ", column " + std::to_string(e.source().begin.column) + ": " +
                            std::string(e.description()));
    }
    if (Status s = CheckKeys(root); !s.ok()) return s;
    for (const Option& option : Options()) {
      const toml::node* node = nullptr;
      if (const toml::table* section = root.get_as<toml::table>(SectionOf(option.name))) {
        node = section->get(KeyOf(option.name));
      }
      if (Status s = Apply(option, node, std::string(option.name), out); !s.ok()) return s;
    }
    return LoadQueues(root.get(kQueueSection), out);
  }

 private:
  Status Fail(std::string_view key, std::string_view reason) const {
    return Status::Config(name_ + ": " + std::string(key) + ": " + std::string(reason));
  }

  // Unknown sections and keys, and sections that are not tables. Queue keys are checked per queue.
  Status CheckKeys(const toml::table& root) const {
    const auto sections = Sections();
    for (auto&& [k, node] : root) {
      std::string section(k.str());
      if (section == kQueueSection) continue;
      bool known = false;
      for (auto s : sections) known = known || s == section;
      if (!known) return Fail(section, node.is_table() ? "unknown section" : "unknown key");
      const toml::table* table = node.as_table();
      if (table == nullptr) {
        return Fail(section, "expected a table ([" + section + "]), got " + NodeTypeName(node));
      }
      for (auto&& [key, value] : *table) {
        std::string name = section + "." + std::string(key.str());
        if (FindOption(name) == nullptr) return Fail(name, "unknown key");
      }
    }
    return Status::Ok();
  }

  // Converts node (or the option's default when node is null) and stores it in *target. A missing
  // option without a default leaves the member as it is (the queue checks fill those in).
  template <typename C>
  Status Apply(const OptionSpec<C>& option, const toml::node* node, const std::string& key,
               C* target) const {
    toml::table defaults;
    if (node == nullptr) {
      if (option.required) return Fail(key, "required");
      if (option.default_value.empty()) return Status::Ok();
      try {
        defaults = toml::parse("v = " + std::string(option.default_value));
      } catch (const toml::parse_error& e) {
        return Fail(key, "schema default is not TOML: " + std::string(e.description()));
      }
      node = defaults.get("v");
    }
    Value value;
    if (Status s = Convert(option, *node, key, &value); !s.ok()) return s;
    return Store(option, value, key, target);
  }

  template <typename C>
  Status Convert(const OptionSpec<C>& option, const toml::node& node, const std::string& key,
                 Value* v) const {
    const std::string got = std::string("expected ") + Expected(option.type) + ", got " +
                            NodeTypeName(node);
    switch (option.type) {
      case Type::kString:
        if (!node.is_string()) return Fail(key, got);
        v->str = node.as_string()->get();
        if (option.check != nullptr) {
          if (std::string why = option.check(v->str); !why.empty()) return Fail(key, why);
        }
        return Status::Ok();
      case Type::kBool:
        if (!node.is_boolean()) return Fail(key, got);
        v->flag = node.as_boolean()->get();
        return Status::Ok();
      case Type::kAction:
        if (!node.is_string()) return Fail(key, got);
        // Strip is an attachment action only (core/outcome.h).
        if (!ParseOutcome(node.as_string()->get(), &v->action) || v->action == Outcome::kStrip) {
          return Fail(key, Quoted(node.as_string()->get()) + " is not one of " + RangeText(option));
        }
        return Status::Ok();
      case Type::kEnum: {
        if (!node.is_string()) return Fail(key, got);
        std::string_view s = node.as_string()->get();
        std::string_view rest = option.choices;
        for (int64_t i = 0;; ++i) {
          size_t bar = rest.find('|');
          if (rest.substr(0, bar) == s) {
            v->num = i;
            v->str = std::string(s);
            return Status::Ok();
          }
          if (bar == std::string_view::npos) break;
          rest.remove_prefix(bar + 1);
        }
        return Fail(key, Quoted(s) + " is not one of " + RangeText(option));
      }
      case Type::kInt:
      case Type::kSize:
      case Type::kOctalMode:
        if (node.is_integer()) {
          v->num = node.as_integer()->get();
        } else if (node.is_string() && option.type != Type::kInt) {
          const std::string& s = node.as_string()->get();
          bool ok = option.type == Type::kSize ? ParseSize(s, &v->num) : ParseOctal(s, &v->num);
          if (!ok) {
            return Fail(key, Quoted(s) + (option.type == Type::kSize
                                              ? " is not a size (bytes, or a number with K, M or G)"
                                              : " is not an octal mode such as \"0660\""));
          }
        } else {
          return Fail(key, got);
        }
        if (v->num < option.min) {
          return Fail(key, NumberText(option.type, v->num) + " is below the minimum " +
                               NumberText(option.type, option.min));
        }
        if (v->num > option.max) {
          return Fail(key, NumberText(option.type, v->num) + " is above the maximum " +
                               NumberText(option.type, option.max));
        }
        return Status::Ok();
      case Type::kStringArray: {
        const toml::array* array = node.as_array();
        if (array == nullptr) return Fail(key, got);
        if (static_cast<int64_t>(array->size()) < option.min) {
          return Fail(key, "needs at least " + std::to_string(option.min) +
                               (option.min == 1 ? " entry" : " entries"));
        }
        for (size_t i = 0; i < array->size(); ++i) {
          std::string element_key = key + "[" + std::to_string(i) + "]";
          const toml::node& element = *array->get(i);
          if (!element.is_string()) {
            return Fail(element_key, std::string("expected a string, got ") +
                                         NodeTypeName(element));
          }
          v->list.push_back(element.as_string()->get());
          if (option.check != nullptr) {
            std::string why = option.check(v->list.back());
            if (!why.empty()) return Fail(element_key, why);
          }
        }
        return Status::Ok();
      }
    }
    return Fail(key, "unknown type in the schema");
  }

  template <typename C>
  Status Store(const OptionSpec<C>& option, Value& v, const std::string& key, C* target) const {
    struct Visitor {
      const OptionSpec<C>& option;
      Value& v;
      C* target;
      bool operator()(std::string C::*m) const {
        target->*m = std::move(v.str);
        return option.type == Type::kString;
      }
      bool operator()(int64_t C::*m) const {
        target->*m = v.num;
        return option.type == Type::kInt || option.type == Type::kSize ||
               option.type == Type::kOctalMode;
      }
      bool operator()(bool C::*m) const {
        target->*m = v.flag;
        return option.type == Type::kBool;
      }
      bool operator()(Outcome C::*m) const {
        // kAction fields, and kEnum ones whose choices are outcome names (attachment actions).
        if (option.type == Type::kAction) {
          target->*m = v.action;
          return true;
        }
        return option.type == Type::kEnum && ParseOutcome(v.str, &(target->*m));
      }
      bool operator()(ClosedReply C::*m) const {
        target->*m = static_cast<ClosedReply>(v.num);
        return option.type == Type::kEnum;
      }
      bool operator()(ReplyName C::*m) const {
        target->*m = static_cast<ReplyName>(v.num);
        return option.type == Type::kEnum;
      }
      bool operator()(TicketEffect C::*m) const {
        target->*m = static_cast<TicketEffect>(v.num);
        return option.type == Type::kEnum;
      }
      bool operator()(ScannerDatabaseFailure C::*m) const {
        target->*m = static_cast<ScannerDatabaseFailure>(v.num);
        return option.type == Type::kEnum;
      }
      bool operator()(ArchiveMode C::*m) const {
        target->*m = static_cast<ArchiveMode>(v.num);
        return option.type == Type::kEnum;
      }
      bool operator()(EncryptedMode C::*m) const {
        target->*m = static_cast<EncryptedMode>(v.num);
        return option.type == Type::kEnum;
      }
      bool operator()(std::vector<std::string> C::*m) const {
        target->*m = std::move(v.list);
        return option.type == Type::kStringArray;
      }
    };
    if (!std::visit(Visitor{option, v, target}, option.field)) {
      return Fail(key, "schema error: the type does not fit the Config member");
    }
    return Status::Ok();
  }

  Status LoadQueues(const toml::node* node, Config* out) const {
    out->queues.clear();
    if (node == nullptr) return Status::Ok();
    const toml::array* array = node->as_array();
    if (array == nullptr) {
      return Fail(kQueueSection,
                  std::string("expected an array of tables ([[queue]]), got ") + NodeTypeName(*node));
    }
    std::map<std::string, size_t> names;  // queue name -> index
    std::map<std::string, std::pair<size_t, size_t>> owners;  // address -> (queue, entry)
    for (size_t i = 0; i < array->size(); ++i) {
      const std::string prefix = std::string(kQueueSection) + "[" + std::to_string(i) + "]";
      const toml::table* table = array->get(i)->as_table();
      if (table == nullptr) {
        return Fail(prefix, std::string("expected a table, got ") + NodeTypeName(*array->get(i)));
      }
      for (auto&& [k, value] : *table) {
        if (k.str() == kAgentKey) continue;  // [[queue.agent]], loaded by LoadAgents
        if (FindQueueOption(k.str()) == nullptr) {
          return Fail(prefix + "." + std::string(k.str()), "unknown key");
        }
      }
      QueueConfig queue;
      for (const QueueOption& option : QueueOptions()) {
        std::string key = prefix + "." + std::string(option.name);
        if (Status s = Apply(option, table->get(option.name), key, &queue); !s.ok()) return s;
      }
      if (auto [it, fresh] = names.emplace(queue.name, i); !fresh) {
        return Fail(prefix + ".name", Quoted(queue.name) + " is already the name of queue[" +
                                          std::to_string(it->second) + "]");
      }
      if (Status s = FinishQueue(prefix, i, &queue, &owners, out); !s.ok()) return s;
      if (Status s = LoadAgents(prefix, table->get(kAgentKey), &queue); !s.ok()) return s;
      if (Status s = CheckReplyVia(prefix, &queue); !s.ok()) return s;
      if (queue.reply_token && out->reply_token_secret.empty()) {
        return Fail(prefix + ".reply_token", "needs agents.reply_token_secret");
      }
      out->queues.push_back(std::move(queue));
    }
    return CheckAgents(*out);
  }

  // reply_via (issue 13 item 5): both sides lower-cased; RECEIVED_AT must be one of the queue's
  // addresses, REPLY_VIA an address the queue may send as (an exact address or default_address);
  // one mapping per RECEIVED_AT.
  Status CheckReplyVia(const std::string& prefix, QueueConfig* queue) const {
    std::map<std::string, size_t> seen;
    for (size_t i = 0; i < queue->reply_via.size(); ++i) {
      std::string& rv = queue->reply_via[i];
      rv = AsciiLower(rv);
      const std::string key = prefix + ".reply_via[" + std::to_string(i) + "]";
      const size_t eq = rv.find('=');
      const std::string from = rv.substr(0, eq), via = rv.substr(eq + 1);
      bool from_ok = false, via_ok = via == queue->default_address;
      for (const std::string& a : queue->addresses) {
        from_ok = from_ok || a == from;
        via_ok = via_ok || (a == via && !a.starts_with("*@"));
      }
      if (!from_ok) {
        return Fail(key, Quoted(from) + " is not one of this queue's addresses");
      }
      if (!via_ok) {
        return Fail(key, Quoted(via) + " is not an address this queue may send as (one of its "
                         "exact addresses or its default_address)");
      }
      if (auto [it, fresh] = seen.emplace(from, i); !fresh) {
        return Fail(key, Quoted(from) + " is already mapped by reply_via[" +
                             std::to_string(it->second) + "]");
      }
    }
    return Status::Ok();
  }

  // The [[queue.agent]] tables of one queue (issue 5, docs/AGENTS.md).
  Status LoadAgents(const std::string& prefix, const toml::node* node, QueueConfig* queue) const {
    if (node == nullptr) return Status::Ok();
    const std::string key = prefix + "." + std::string(kAgentKey);
    const toml::array* array = node->as_array();
    if (array == nullptr) {
      return Fail(key, std::string("expected an array of tables ([[queue.agent]]), got ") +
                           NodeTypeName(*node));
    }
    for (size_t i = 0; i < array->size(); ++i) {
      const std::string agent_prefix = key + "[" + std::to_string(i) + "]";
      const toml::table* table = array->get(i)->as_table();
      if (table == nullptr) {
        return Fail(agent_prefix,
                    std::string("expected a table, got ") + NodeTypeName(*array->get(i)));
      }
      for (auto&& [k, value] : *table) {
        if (FindAgentOption(k.str()) == nullptr) {
          return Fail(agent_prefix + "." + std::string(k.str()), "unknown key");
        }
      }
      AgentConfig agent;
      for (const AgentOption& option : AgentOptions()) {
        std::string option_key = agent_prefix + "." + std::string(option.name);
        if (Status s = Apply(option, table->get(option.name), option_key, &agent); !s.ok()) {
          return s;
        }
      }
      agent.address = AsciiLower(agent.address);
      queue->agents.push_back(std::move(agent));
    }
    return Status::Ok();
  }

  // An agent may serve several queues, but one login names one address and one address one
  // login, and an agent's address is no support address.
  Status CheckAgents(const Config& config) const {
    std::map<std::string, std::string> login_address, address_login;
    std::map<std::string, std::string> support;
    for (const QueueConfig& q : config.queues) {
      for (const std::string& a : q.addresses) support.emplace(a, q.name);
    }
    for (size_t i = 0; i < config.queues.size(); ++i) {
      const QueueConfig& q = config.queues[i];
      for (size_t j = 0; j < q.agents.size(); ++j) {
        const AgentConfig& a = q.agents[j];
        const std::string key = std::string(kQueueSection) + "[" + std::to_string(i) + "]." +
                                std::string(kAgentKey) + "[" + std::to_string(j) + "]";
        std::string domain_wildcard = "*" + a.address.substr(a.address.rfind('@'));
        if (support.count(a.address) || support.count(domain_wildcard)) {
          return Fail(key + ".address", Quoted(a.address) + " is a support address");
        }
        if (!a.login.empty()) {
          auto [it, fresh] = login_address.emplace(a.login, a.address);
          if (!fresh && it->second != a.address) {
            return Fail(key + ".login", Quoted(a.login) + " is already the login of " +
                                            Quoted(it->second));
          }
        }
        auto [it, fresh] = address_login.emplace(a.address, a.login);
        if (!fresh && it->second != a.login) {
          return Fail(key + ".login", Quoted(a.address) + " has another login in another queue");
        }
      }
    }
    return Status::Ok();
  }

  // Lower-cases the addresses, claims them for this queue and settles default_address.
  Status FinishQueue(const std::string& prefix, size_t index, QueueConfig* queue,
                     std::map<std::string, std::pair<size_t, size_t>>* owners,
                     const Config* config) const {
    std::string first_exact;
    for (size_t j = 0; j < queue->addresses.size(); ++j) {
      std::string& address = queue->addresses[j];
      address = AsciiLower(address);
      if (first_exact.empty() && !address.starts_with("*@")) first_exact = address;
      auto [it, fresh] = owners->emplace(address, std::make_pair(index, j));
      if (!fresh) {
        std::string key = prefix + ".addresses[" + std::to_string(j) + "]";
        if (it->second.first == index) {
          return Fail(key, Quoted(address) + " is listed twice in this queue");
        }
        return Fail(key, Quoted(address) + " is already claimed by queue '" +
                             config->queues[it->second.first].name + "'");
      }
    }
    const std::string key = prefix + ".default_address";
    if (queue->default_address.empty()) {
      if (first_exact.empty()) {
        return Fail(key, "required when the queue has only *@domain addresses (replies need a "
                         "real sender address)");
      }
      queue->default_address = first_exact;
      return Status::Ok();
    }
    queue->default_address = AsciiLower(queue->default_address);
    const std::string& d = queue->default_address;
    std::string wildcard = "*" + d.substr(d.rfind('@'));
    for (const auto& address : queue->addresses) {
      if (address == d || address == wildcard) return Status::Ok();
    }
    return Fail(key, Quoted(d) + " is not one of the queue's addresses");
  }

  std::string name_;
};

}  // namespace

Status LoadString(const std::string& toml, const std::string& name,
                  std::shared_ptr<const Config>* out) {
  auto config = std::make_shared<Config>();
  config->source_file = name;
  if (Status s = Loader(name).Load(toml, config.get()); !s.ok()) return s;
  *out = std::move(config);
  return Status::Ok();
}

Status LoadFile(const std::string& path, std::shared_ptr<const Config>* out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::Config(path + ": cannot open: " + std::strerror(errno));
  std::string text;
  char buf[16384];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return Status::Config(path + ": cannot read: " + std::strerror(err));
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return LoadString(text, path, out);
}

Config DefaultConfig() {
  std::shared_ptr<const Config> config;
  Status s = LoadString("", "(schema defaults)", &config);
  if (!s.ok()) {
    // Only a broken schema table gets here; config_test.cc catches it first.
    std::fprintf(stderr, "deskmilter: %s\n", s.ToString().c_str());
    std::abort();
  }
  Config copy = *config;
  copy.source_file.clear();
  return copy;
}

QueueConfig DefaultQueueConfig() {
  std::shared_ptr<const Config> config;
  Status s = LoadString("[[queue]]\nname = \"q\"\naddresses = [\"q@example.invalid\"]\n",
                        "(schema defaults)", &config);
  if (!s.ok() || config->queues.size() != 1) {
    std::fprintf(stderr, "deskmilter: %s\n", s.ToString().c_str());
    std::abort();
  }
  QueueConfig q = config->queues[0];
  q.name.clear();
  q.addresses.clear();
  q.default_address.clear();
  return q;
}

ParseLimits DefaultParseLimits() { return ParseLimitsFromConfig(DefaultConfig()); }

std::string OptionsHelp() {
  auto line = [](std::string name, const auto& option) {
    name.resize(std::max<size_t>(name.size(), 32), ' ');
    std::string out = "  " + name + " " + TypeName(option.type);
    std::string def = DefaultText(option);
    out += option.required ? ", required" : ", default " + def;
    std::string range = RangeText(option);
    if (option.type == Type::kAction || option.type == Type::kEnum) range = "one of " + range;
    if (!range.empty()) out += ", " + range;
    return out + ": " + std::string(option.doc) + "\n";
  };
  std::string help = "Configuration file options (TOML; docs/CONFIG.md has the full reference):\n";
  for (const Option& o : Options()) help += line(std::string(o.name), o);
  help += "Per-queue options, in each [[queue]] table:\n";
  for (const QueueOption& o : QueueOptions()) {
    help += line(std::string(kQueueSection) + "." + std::string(o.name), o);
  }
  help += "Agents of a queue, one [[queue.agent]] table each:\n";
  for (const AgentOption& o : AgentOptions()) {
    help += line(std::string(kAgentSection) + "." + std::string(o.name), o);
  }
  return help;
}

}  // namespace desk::config
