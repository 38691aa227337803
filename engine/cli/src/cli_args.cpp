#include <onboard/cli/cli_args.hpp>

#include <charconv>
#include <iostream>
#include <sstream>

namespace onboard::cli {

parser::parser(std::string command, std::string summary, std::string example)
    : command_(std::move(command)), summary_(std::move(summary)), example_(std::move(example)) {
  add_flag("help", "show this help and exit");
}

option& parser::add_flag(std::string name, std::string help) {
  auto& o = options_.emplace_back();
  o.name = std::move(name);
  o.help = std::move(help);
  o.is_flag = true;
  return o;
}

option& parser::add_value(std::string name, std::string metavar, std::string help,
                          std::string default_value) {
  auto& o = options_.emplace_back();
  o.name = std::move(name);
  o.metavar = std::move(metavar);
  o.help = std::move(help);
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

std::optional<int> parser::parse(const std::vector<std::string>& args) {
  bool flags_done = false;
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
    if (!o) return usage_error("unknown option '--" + std::string(body) + "'");
    if (o->is_flag) {
      if (inline_value) return usage_error("option '--" + o->name + "' takes no value");
      o->seen = true;
      if (o->name == "help") {
        std::cout << help_text();
        return 0;
      }
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
  }
  return std::nullopt;
}

std::string parser::help_text() const {
  std::ostringstream out;
  out << "usage: chime-onboard " << command_ << " [options]";
  if (!positional_metavar_.empty()) out << " " << positional_metavar_ << "...";
  out << "\n\n" << summary_ << "\n\noptions:\n";
  for (const auto& o : options_) {
    std::string left = std::string(o.short_name ? std::string("  -") + o.short_name + ", " : "  ") +
                       "--" + o.name + (o.metavar.empty() ? "" : " " + o.metavar);
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
  if (!example_.empty()) out << "\nexample:\n  " << example_ << "\n";
  if (!epilog_.empty()) out << "\n" << epilog_;
  return out.str();
}

int parser::usage_error(std::string_view message) const {
  std::cerr << "chime-onboard " << command_ << ": " << message << "\n"
            << "Try 'chime-onboard " << command_ << " --help'.\n";
  return 2;
}

std::optional<double> parser::number(const option& o, double min, double max) const {
  const std::string& s = o.value();
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size() || v < min || v > max) {
    std::ostringstream m;
    m << "option '--" << o.name << "': '" << s << "' is not a number in [" << min << ", " << max
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
    usage_error("option '--" + o.name + "': '" + s + "' is not an integer in [" +
                std::to_string(min) + ", " + std::to_string(max) + "]");
    return std::nullopt;
  }
  return v;
}

}  // namespace onboard::cli
