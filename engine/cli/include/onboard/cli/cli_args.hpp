// onboard/cli/cli_args.hpp: the one command-line parser every subcommand uses.
//
// Declarative and strict: unknown flags, missing values and bad numbers are usage errors that name
// the flag. `--name value` and `--name=value` both work; `--` ends the flags. A flag may also have
// a one-letter spelling (`-y`), set with option::short_name.
//
//   // given: const std::vector<std::string>& args
//   cli::parser p{"plan", "Read the inputs and print what a run would do (no network).",
//                 "chime-onboard plan --input users.csv --rate 20"};
//   auto& inputs = p.add_list("input", "FILE", "corpus file (repeatable; - for stdin)");
//   auto& rate   = p.add_value("rate", "R", "requests per second for the estimate", "10");
//   auto& json   = p.add_flag("json", "print JSON");
//   if (auto rc = p.parse(args)) return *rc;   // printed help (0) or a usage error (2)
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace onboard::cli {

// option: one declared flag and what the command line said about it.
struct option {
  std::string name;     // without the leading "--"
  char short_name = 0;  // `-y` for --yes; flags only (0: none)
  std::string metavar;  // empty for boolean flags
  std::string help;
  std::string default_value;  // shown in --help; also the value when not given
  bool is_flag = false;
  bool is_list = false;
  bool seen = false;
  std::vector<std::string> values;

  // value: the last given value, else the default.
  const std::string& value() const { return values.empty() ? default_value : values.back(); }
  bool given() const { return seen; }
  explicit operator bool() const { return is_flag ? seen : !value().empty(); }
};

class parser {
 public:
  parser(std::string command, std::string summary, std::string example);

  option& add_flag(std::string name, std::string help);
  option& add_value(std::string name, std::string metavar, std::string help,
                    std::string default_value = {});
  option& add_list(std::string name, std::string metavar, std::string help);
  // allow_positionals: positional arguments are collected (else they are a usage error).
  void allow_positionals(std::string metavar) { positional_metavar_ = std::move(metavar); }
  // add_epilog: extra text printed at the end of --help (exit codes, environment variables).
  void add_epilog(std::string text) { epilog_ += std::move(text); }

  // parse: returns nullopt to go on, or the exit code to return now (0 after --help, 2 on error).
  std::optional<int> parse(const std::vector<std::string>& args);

  const std::vector<std::string>& positionals() const { return positionals_; }
  std::string help_text() const;

  // usage_error: prints "chime-onboard CMD: MESSAGE" and a hint to stderr; returns 2.
  int usage_error(std::string_view message) const;

  // Numeric accessors that turn a bad value into a usage error naming the flag.
  std::optional<double> number(const option& o, double min, double max) const;
  std::optional<std::int64_t> integer(const option& o, std::int64_t min, std::int64_t max) const;

 private:
  option* find(std::string_view name);
  option* find_short(char c);
  std::string command_, summary_, example_, epilog_, positional_metavar_;
  std::deque<option> options_;  // deque: references handed out stay valid
  std::vector<std::string> positionals_;
};

}  // namespace onboard::cli
