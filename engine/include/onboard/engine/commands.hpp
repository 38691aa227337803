// onboard/engine/commands.hpp: the subcommands of `chime-onboard`. Each takes the arguments after
// the command name and returns an exit code (onboard/engine/exit_codes.hpp).
#pragma once

#include <string>
#include <vector>

namespace onboard {

inline constexpr const char* version = "0.1.0";

using args_t = std::vector<std::string>;

int cmd_sign(const args_t& args);          // engine/src/cmd_sign.cpp
int cmd_plan(const args_t& args);          // engine/src/cmd_plan.cpp
int cmd_invite(const args_t& args);        // engine/src/cmd_invite.cpp
int cmd_create_users(const args_t& args);  // engine/src/cmd_invite.cpp
int cmd_status(const args_t& args);        // engine/src/cmd_journal.cpp
int cmd_report(const args_t& args);        // engine/src/cmd_journal.cpp
int cmd_demo(const args_t& args);          // engine/app/demo.cpp (needs the emulator)

}  // namespace onboard
