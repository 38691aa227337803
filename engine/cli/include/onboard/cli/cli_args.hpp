// onboard/cli/cli_args.hpp: the one command-line parser every subcommand uses.
//
// Declarative and strict: unknown flags, missing values and bad numbers are usage errors that name
// the flag (and suggest the nearest one). `--name value` and `--name=value` both work; `--` ends
// the flags. A flag may also have a one-letter spelling (`-y`), set with option::short_name.
//
// Every option can also come from the environment (CHIME_ONBOARD_<NAME>, dashes as underscores)
// and from the config file (config_file_path()); the command line beats the environment, which
// beats the file, which beats the default, as in the AWS CLI and rclone. `--show-config` prints
// every value that is not the default and where it came from.
//
//   // given: const std::vector<std::string>& args
//   cli::parser p{"plan", "Read the inputs and print what a run would do (no network).",
//                 "chime-onboard plan --input users.csv --rate 20"};
//   p.group("input");
//   auto& inputs = p.add_list("input", "FILE", "corpus file (repeatable; - for stdin)");
//   p.group("output");
//   auto& json   = p.add_flag("json", "print JSON");
//   if (auto rc = p.parse(args)) return *rc;   // printed help (0) or a usage error (2)
#pragma once

#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace onboard::cli {

// value_source: where an option's value came from, strongest last.
enum class value_source : std::uint8_t { default_value, config_file, environment, command_line };

// option: one declared flag and what the command line said about it.
struct option {
  std::string name;     // without the leading "--"
  char short_name = 0;  // `-y` for --yes; flags only (0: none)
  std::string metavar;  // empty for boolean flags
  std::string help;
  std::string default_value;  // shown in --help; also the value when not given
  std::string group;          // the --help section it is listed under
  bool is_flag = false;
  bool is_list = false;
  // settable: false for options that only the command line may set (--help, --show-config).
  bool settable = true;
  // file_allowed: false for options a config file must not set for every later run (--yes would
  // silence the confirmation of every run on the machine); the environment still may.
  bool file_allowed = true;
  bool seen = false;
  std::vector<std::string> values;
  value_source source = value_source::default_value;
  std::string source_detail;  // the variable, or "FILE line N"

  // value: the last given value, else the default.
  const std::string& value() const { return values.empty() ? default_value : values.back(); }
  bool given() const { return seen; }
  explicit operator bool() const { return is_flag ? seen : !value().empty(); }
};

// environment_name: CHIME_ONBOARD_ACCOUNT_ID for account-id.
std::string environment_name(std::string_view option_name);

// config_file_path: $CHIME_ONBOARD_CONFIG if set (it must exist), else
// $XDG_CONFIG_HOME/chime-onboard/config, else ~/.config/chime-onboard/config (optional).
std::filesystem::path config_file_path();

// closest: the candidate nearest to `word` by edit distance (or the one it is a prefix of), when
// it is near enough to be a likely typo; nullopt otherwise.
std::optional<std::string> closest(std::string_view word,
                                   const std::vector<std::string>& candidates);

class parser {
 public:
  parser(std::string command, std::string summary, std::string example);

  // group: options added from now on are listed under `title` in --help.
  void group(std::string title) { group_ = std::move(title); }
  option& add_flag(std::string name, std::string help);
  option& add_value(std::string name, std::string metavar, std::string help,
                    std::string default_value = {});
  option& add_list(std::string name, std::string metavar, std::string help);
  // allow_positionals: positional arguments are collected (else they are a usage error).
  void allow_positionals(std::string metavar) { positional_metavar_ = std::move(metavar); }
  // add_epilog: extra text printed at the end of --help (exit codes, environment variables).
  void add_epilog(std::string text) { epilog_ += std::move(text); }

  // parse: returns nullopt to go on, or the exit code to return now (0 after --help or
  // --show-config, 2 on error). The command line first, then the environment and the config file
  // fill what it left unset.
  std::optional<int> parse(const std::vector<std::string>& args);

  const std::vector<std::string>& positionals() const { return positionals_; }
  std::string help_text() const;
  std::string show_config_text() const;

  // usage_error: prints "chime-onboard CMD: MESSAGE" and a hint to stderr; returns 2.
  int usage_error(std::string_view message) const;
  // named: "'--rate'", plus where the value came from when not the command line, for messages.
  std::string named(const option& o) const;

  // Numeric accessors that turn a bad value into a usage error naming the flag.
  std::optional<double> number(const option& o, double min, double max) const;
  std::optional<std::int64_t> integer(const option& o, std::int64_t min, std::int64_t max) const;

  // The declared table, for the generated man page and shell completions.
  const std::string& command() const { return command_; }
  const std::string& summary() const { return summary_; }
  const std::string& example() const { return example_; }
  const std::string& epilog() const { return epilog_; }
  const std::string& positional_metavar() const { return positional_metavar_; }
  const std::deque<option>& options() const { return options_; }

  // describe_sink: when set, parse() hands the declared parser to it and returns 0 without
  // reading anything: how `chime-onboard completion` and `man` read every command's own table.
  using describe_sink = std::function<void(const parser&)>;
  static void set_describe_sink(describe_sink sink);

 private:
  option* find(std::string_view name);
  option* find_short(char c);
  std::vector<std::string> names() const;
  int unknown_option(std::string_view name, std::string_view where) const;
  std::optional<int> set_from_text(option& o, std::string_view text, value_source source,
                                   std::string detail);
  std::optional<int> apply_environment();
  std::optional<int> apply_config_file();
  std::string command_, summary_, example_, epilog_, positional_metavar_, group_;
  std::deque<option> options_;  // deque: references handed out stay valid
  std::vector<std::string> positionals_;
};

}  // namespace onboard::cli
