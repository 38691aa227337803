// command_table.hpp: what one `chime-onboard` subcommand is, as main.cpp lists them and as the
// man page and the completions (reference.cpp) read them.
#pragma once

#include <onboard/cli/commands.hpp>

#include <span>

namespace onboard::app {

struct command {
  const char* name;
  const char* summary;
  int (*run)(const args_t& args);
  // describe_with: the arguments that reach the command's cli::parser (journal's is behind its
  // `repair` subcommand); nullptr for a command without one (the emulator parses its own flags).
  const char* describe_with = "";
};

std::span<const command> commands();

// The generated references: every option comes from the parser tables themselves, so they
// never drift from --help.
int cmd_completion(const args_t& args);  // chime-onboard completion bash|zsh
int cmd_man(const args_t& args);         // chime-onboard man (troff on stdout)

}  // namespace onboard::app
