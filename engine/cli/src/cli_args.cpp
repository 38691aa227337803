#include <onboard/cli/cli_args.hpp>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

namespace onboard::cli {

namespace {

parser::describe_sink& describe_sink_slot() {
  static parser::describe_sink sink;
  return sink;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

std::optional<bool> parse_bool(std::string_view s) {
  std::string v(s);
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
  if (v == "1" || v == "true" || v == "yes" || v == "on") return true;
  if (v == "0" || v == "false" || v == "no" || v == "off") return false;
  return std::nullopt;
}

// Optimal string alignment distance: a transposed pair counts as one typo, as people make them.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

bool secret_like(std::string_view name) {
  return name.find("secret") != std::string_view::npos ||
         name.find("token") != std::string_view::npos;
}

}  // namespace

std::string environment_name(std::string_view option_name) {
  std::string e = "CHIME_ONBOARD_";
  for (char c : option_name)
    e += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return e;
}

std::filesystem::path config_file_path() {
  if (const char* explicit_path = std::getenv("CHIME_ONBOARD_CONFIG")) return explicit_path;
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg && *xdg)
    return std::filesystem::path(xdg) / "chime-onboard" / "config";
  if (const char* home = std::getenv("HOME"); home && *home)
    return std::filesystem::path(home) / ".config" / "chime-onboard" / "config";
  return {};
}

std::optional<std::string> closest(std::string_view word,
                                   const std::vector<std::string>& candidates) {
  std::optional<std::string> best;
  std::size_t best_d = std::max<std::size_t>(1, std::min<std::size_t>(3, word.size() / 3)) + 1;
  std::vector<const std::string*> prefixed;
  for (const auto& c : candidates) {
    if (word.size() >= 3 && c.starts_with(word)) prefixed.push_back(&c);
    std::size_t d = edit_distance(word, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  if (!best && prefixed.size() == 1) best = *prefixed.front();
  return best;
}

void parser::set_describe_sink(describe_sink sink) { describe_sink_slot() = std::move(sink); }

parser::parser(std::string command, std::string summary, std::string example)
    : command_(std::move(command)), summary_(std::move(summary)), example_(std::move(example)) {
  add_flag("help", "show this help and exit").settable = false;
  add_flag("show-config",
           "print every setting that is not the default and where it came from, and exit")
      .settable = false;
}

option& parser::add_flag(std::string name, std::string help) {
  auto& o = options_.emplace_back();
  o.name = std::move(name);
  o.help = std::move(help);
  o.group = group_;
  o.is_flag = true;
  return o;
}

option& parser::add_value(std::string name, std::string metavar, std::string help,
                          std::string default_value) {
  auto& o = options_.emplace_back();
  o.name = std::move(name);
  o.metavar = std::move(metavar);
  o.help = std::move(help);
  o.group = group_;
  o.default_value = std::move(default_value);
  return o;
}

option& parser::add_list(std::string name, std::string metavar, std::string help) {
  auto& o = add_value(std::move(name), std::move(metavar), std::move(help));
  o.is_list = true;
  return o;
}

option* parser::find(std::string_view name) {
  for (auto& o : options_)
    if (o.name == name) return &o;
  return nullptr;
}

option* parser::find_short(char c) {
  for (auto& o : options_)
    if (o.short_name && o.short_name == c) return &o;
  return nullptr;
}

std::vector<std::string> parser::names() const {
  std::vector<std::string> n;
  for (const auto& o : options_) n.push_back(o.name);
  return n;
}

int parser::unknown_option(std::string_view name, std::string_view where) const {
  std::string m = std::string(where) + "unknown option '--" + std::string(name) + "'";
  if (auto near = closest(name, names())) m += "; did you mean '--" + *near + "'?";
  return usage_error(m);
}

std::optional<int> parser::set_from_text(option& o, std::string_view text, value_source source,
                                         std::string detail) {
  if (o.is_flag) {
    auto b = parse_bool(text);
    if (!b)
      return usage_error(detail + ": '" + std::string(text) + "' is not a yes/no value for '--" +
                         o.name + "' (use 1/0, true/false, yes/no or on/off)");
    o.seen = *b;
  } else {
    if (!o.is_list || o.source != source) o.values.clear();
    o.values.emplace_back(text);
    o.seen = true;
  }
  o.source = source;
  o.source_detail = std::move(detail);
  return std::nullopt;
}

std::optional<int> parser::apply_environment() {
  for (auto& o : options_) {
    if (!o.settable || o.source == value_source::command_line) continue;
    std::string var = environment_name(o.name);
    const char* v = std::getenv(var.c_str());
    if (!v || !*v) continue;
    if (auto rc = set_from_text(o, v, value_source::environment, var)) return rc;
  }
  return std::nullopt;
}

std::optional<int> parser::apply_config_file() {
  const char* explicit_path = std::getenv("CHIME_ONBOARD_CONFIG");
  auto path = config_file_path();
  if (path.empty()) return std::nullopt;
  std::ifstream in(path);
  if (!in) {
    std::error_code ec;
    if (!explicit_path && !std::filesystem::exists(path, ec)) return std::nullopt;
    return usage_error("cannot read the config file " + path.string() +
                       (explicit_path ? " (named by CHIME_ONBOARD_CONFIG)" : ""));
  }
  struct entry {
    option* o;
    std::string value, detail;
    bool in_section;
  };
  std::vector<entry> entries;
  std::string section, line;
  for (std::size_t n = 1; std::getline(in, line); ++n) {
    std::string where = path.string() + " line " + std::to_string(n);
    std::string_view l = trim(line);
    if (l.empty() || l[0] == '#' || l[0] == ';') continue;
    if (l.front() == '[') {
      if (l.back() != ']') return usage_error(where + ": a section is written [command]");
      section = std::string(trim(l.substr(1, l.size() - 2)));
      continue;
    }
    auto eq = l.find('=');
    if (eq == std::string_view::npos)
      return usage_error(where + ": expected 'name = value', got '" + std::string(l) + "'");
    std::string_view key = trim(l.substr(0, eq)), value = trim(l.substr(eq + 1));
    if (key.starts_with("--")) key.remove_prefix(2);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    const bool mine = section == command_;
    if (!section.empty() && !mine) continue;
    option* o = find(key);
    // A key outside any section may belong to another command; in this command's section it
    // must be one of ours.
    if (!o) {
      if (mine) return unknown_option(key, where + ": ");
      continue;
    }
    if (!o->settable) return usage_error(where + ": '" + o->name + "' can only be given as a flag");
    if (!o->file_allowed)
      return usage_error(where + ": '" + o->name +
                         "' cannot be set in the config file (it would hold for every later run); "
                         "give --" +
                         o->name + " or set " + environment_name(o->name));
    entries.push_back({o, std::string(value), where, mine});
  }
  // The command's own section beats the lines every command shares.
  for (auto& o : options_) {
    if (o.source > value_source::config_file) continue;
    bool any_section = std::any_of(entries.begin(), entries.end(),
                                   [&](const entry& e) { return e.o == &o && e.in_section; });
    for (const auto& e : entries) {
      if (e.o != &o || e.in_section != any_section) continue;
      if (auto rc = set_from_text(o, e.value, value_source::config_file, e.detail)) return rc;
    }
  }
  return std::nullopt;
}

std::optional<int> parser::parse(const std::vector<std::string>& args) {
  if (auto& sink = describe_sink_slot()) {
    sink(*this);
    return 0;
  }
  bool flags_done = false, show_config = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (flags_done || a.size() < 2 || a.rfind("--", 0) != 0) {
      if (a == "-" || flags_done || a.empty() || a[0] != '-') {
        if (positional_metavar_.empty()) return usage_error("unexpected argument '" + a + "'");
        positionals_.push_back(a);
        continue;
      }
      if (option* o = a.size() == 2 ? find_short(a[1]) : nullptr; o && o->is_flag) {
        o->seen = true;
        o->source = value_source::command_line;
        continue;
      }
      return usage_error("unknown option '" + a + "' (options are spelled --name)");
    }
    if (a == "--") {
      flags_done = true;
      continue;
    }
    std::string_view body = std::string_view(a).substr(2);
    std::optional<std::string> inline_value;
    if (auto eq = body.find('='); eq != std::string_view::npos) {
      inline_value = std::string(body.substr(eq + 1));
      body = body.substr(0, eq);
    }
    option* o = find(body);
    if (!o) return unknown_option(body, "");
    if (o->is_flag) {
      if (inline_value) return usage_error("option '--" + o->name + "' takes no value");
      o->seen = true;
      o->source = value_source::command_line;
      if (o->name == "help") {
        std::cout << help_text();
        return 0;
      }
      if (o->name == "show-config") show_config = true;
      continue;
    }
    std::string v;
    if (inline_value) {
      v = *inline_value;
    } else {
      if (i + 1 >= args.size())
        return usage_error("option '--" + o->name + "' needs a value (" + o->metavar + ")");
      v = args[++i];
    }
    if (!o->is_list) o->values.clear();
    o->values.push_back(std::move(v));
    o->seen = true;
    o->source = value_source::command_line;
  }
  if (auto rc = apply_environment()) return rc;
  if (auto rc = apply_config_file()) return rc;
  if (show_config) {
    std::cout << show_config_text();
    return 0;
  }
  return std::nullopt;
}

std::string parser::show_config_text() const {
  std::ostringstream out;
  auto file = config_file_path();
  std::error_code ec;
  out << "chime-onboard " << command_ << ": settings that are not the default\n"
      << "(the command line beats CHIME_ONBOARD_* variables, which beat the config file "
      << (file.empty() ? std::string("(none: no HOME)") : file.string())
      << (file.empty() || std::filesystem::exists(file, ec) ? "" : ", absent") << ")\n";
  bool any = false;
  for (const auto& o : options_) {
    if (o.source == value_source::default_value || !o.settable) continue;
    any = true;
    std::string setting = "--" + o.name;
    if (o.is_flag) {
      setting += o.seen ? "" : " (off)";
    } else {
      for (std::size_t i = 0; i < o.values.size(); ++i)
        setting += (i ? ", " : " ") + (secret_like(o.name) ? std::string("****") : o.values[i]);
    }
    const char* from = o.source == value_source::command_line  ? "command line"
                       : o.source == value_source::environment ? "environment"
                                                               : "config file";
    out << "  " << setting << std::string(setting.size() < 34 ? 34 - setting.size() : 1, ' ')
        << from << (o.source_detail.empty() ? "" : " " + o.source_detail) << "\n";
  }
  if (!any) out << "  (everything is the default)\n";
  return out.str();
}

std::string parser::help_text() const {
  std::ostringstream out;
  out << "usage: chime-onboard " << command_ << " [options]";
  if (!positional_metavar_.empty()) out << " " << positional_metavar_ << "...";
  out << "\n\n" << summary_ << "\n";
  // Sections in the order their first option was declared; the ungrouped ones (help) last.
  std::vector<std::string> groups;
  for (const auto& o : options_)
    if (std::find(groups.begin(), groups.end(), o.group) == groups.end()) groups.push_back(o.group);
  std::stable_partition(groups.begin(), groups.end(), [](const auto& g) { return !g.empty(); });
  for (const auto& g : groups) {
    out << "\n" << (g.empty() ? (groups.size() == 1 ? "options" : "general") : g) << ":\n";
    for (const auto& o : options_) {
      if (o.group != g) continue;
      std::string left =
          std::string(o.short_name ? std::string("  -") + o.short_name + ", " : "  ") + "--" +
          o.name + (o.metavar.empty() ? "" : " " + o.metavar);
      out << left;
      if (left.size() < 28)
        out << std::string(28 - left.size(), ' ');
      else
        out << "\n" << std::string(28, ' ');
      out << o.help;
      if (!o.default_value.empty()) out << " (default: " << o.default_value << ")";
      if (o.is_list) out << " [repeatable]";
      out << "\n";
    }
  }
  out << "\nAny option can also be set as CHIME_ONBOARD_<NAME> (e.g. " << environment_name("rate")
      << "=20)\nor in the config file ("
      << "$XDG_CONFIG_HOME/chime-onboard/config, else "
      << "~/.config/chime-onboard/config,\nor CHIME_ONBOARD_CONFIG): the command line beats the "
         "environment, which beats the file.\n";
  if (!example_.empty()) out << "\nexample:\n  " << example_ << "\n";
  if (!epilog_.empty()) out << "\n" << epilog_;
  return out.str();
}

int parser::usage_error(std::string_view message) const {
  std::cerr << "chime-onboard " << command_ << ": " << message << "\n"
            << "Try 'chime-onboard " << command_ << " --help'.\n";
  return 2;
}

std::string parser::named(const option& o) const {
  std::string n = "'--" + o.name + "'";
  if (o.source == value_source::environment) n += " (from " + o.source_detail + ")";
  if (o.source == value_source::config_file) n += " (from " + o.source_detail + ")";
  return n;
}

std::optional<double> parser::number(const option& o, double min, double max) const {
  const std::string& s = o.value();
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size() || v < min || v > max) {
    std::ostringstream m;
    m << "option " << named(o) << ": '" << s << "' is not a number in [" << min << ", " << max
      << "]";
    usage_error(m.str());
    return std::nullopt;
  }
  return v;
}

std::optional<std::int64_t> parser::integer(const option& o, std::int64_t min,
                                            std::int64_t max) const {
  const std::string& s = o.value();
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size() || v < min || v > max) {
    usage_error("option " + named(o) + ": '" + s + "' is not an integer in [" +
                std::to_string(min) + ", " + std::to_string(max) + "]");
    return std::nullopt;
  }
  return v;
}

}  // namespace onboard::cli
