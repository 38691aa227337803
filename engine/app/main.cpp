// chime-onboard: one binary, git-style subcommands.
#include "command_table.hpp"
#include "demo.hpp"

#include <onboard/cli/cli_args.hpp>

#include <onboard/cli/commands.hpp>
#include <onboard/cli/exit_codes.hpp>
#include <onboard/emulator/command.hpp>
#include <onboard/cli/logging.hpp>
#include <onboard/cli/signals.hpp>

#include <cstring>
#include <exception>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

namespace {

using onboard::app::command;

// The command table. Keep it in the order a user meets the commands.
const command command_table[] = {
    // BEGIN COMMANDS (one line each; keep this marker)
    {"demo", "run everything against the built-in emulator (start here)", onboard::cmd_demo},
    {"invite", "invite every address of the inputs (InviteUsers, 50 a request)",
     onboard::cmd_invite},
    {"create-users", "create one user per input row (CreateUser)", onboard::cmd_create_users},
    {"sign", "sign a raw HTTP request with SigV4 and print any stage (debugging)",
     onboard::cmd_sign},
    {"emulator", "run the local Chime emulator (TLS, SigV4, throttling, faults)",
     onboard::emulator::cmd_emulator, nullptr},
    {"check", "check credentials, endpoint, TLS and the account before a run", onboard::cmd_check},
    {"export-users", "write every user of an account (ListUsers) as csv or jsonl",
     onboard::cmd_export_users},
    {"suspend", "suspend leavers by address (ListUsers, then BatchSuspendUser)",
     onboard::cmd_suspend},
    {"status", "summarise a run from its journal", onboard::cmd_status},
    {"report", "write per-address results from a journal (csv or jsonl)", onboard::cmd_report},
    {"journal", "repair a damaged journal (journal repair --journal FILE)", onboard::cmd_journal,
     "repair"},
    {"plan", "read the inputs and show what a run would do (no network)", onboard::cmd_plan},
    {"endpoint", "show the endpoint and signing region a run would use, and why",
     onboard::cmd_endpoint},
    {"completion", "print a bash or zsh completion script", onboard::app::cmd_completion, nullptr},
    {"man", "print the man page (chime-onboard man | man -l -)", onboard::app::cmd_man, nullptr},
    // END COMMANDS
};

void print_overview() {
  std::cout << "chime-onboard: onboard large user lists into an Amazon Chime Team account\n\n"
               "usage: chime-onboard <command> [options]   (chime-onboard <command> --help)\n\n"
               "commands:\n";
  for (const auto& c : command_table) {
    std::string n = c.name;
    std::cout << "  " << n << std::string(n.size() < 14 ? 14 - n.size() : 1, ' ') << c.summary
              << "\n";
  }
  std::cout << "\n" << onboard::exit_codes_help;
}

// sends: the commands that send requests, whose stop signals are handled from the first
// instruction (signals.hpp). The emulator keeps its own (it waits for them with sigwait).
bool sends(std::string_view command) {
  return command == "invite" || command == "create-users" || command == "demo";
}

}  // namespace

std::span<const command> onboard::app::commands() { return command_table; }

int main(int argc, char** argv) {
  // Before anything else, and before any thread exists: a signal from here on stops a run
  // cleanly instead of killing it.
  if (argc >= 2 && sends(argv[1])) onboard::install_stop_signals();
  onboard::init_logging_defaults();
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") ||
      !std::strcmp(argv[1], "help")) {
    print_overview();
    return argc < 2 ? onboard::exit_usage : onboard::exit_ok;
  }
  if (!std::strcmp(argv[1], "--version")) {
    std::cout << "chime-onboard " << onboard::version << "\n";
    return 0;
  }
  std::vector<std::string> args(argv + 2, argv + argc);
  for (const auto& c : command_table) {
    if (c.name == std::string_view(argv[1])) {
      try {
        return c.run(args);
      } catch (const std::exception& e) {
        std::cerr << "chime-onboard " << c.name << ": internal error: " << e.what() << "\n";
        return onboard::exit_internal;
      }
    }
  }
  std::vector<std::string> names;
  for (const auto& c : command_table) names.emplace_back(c.name);
  std::cerr << "chime-onboard: unknown command '" << argv[1] << "'";
  if (auto near = onboard::cli::closest(argv[1], names))
    std::cerr << "; did you mean '" << *near << "'?";
  std::cerr << " See 'chime-onboard --help'.\n";
  return onboard::exit_usage;
}
