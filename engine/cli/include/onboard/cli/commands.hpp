// onboard/cli/commands.hpp: the subcommands of `chime-onboard`. Each takes the arguments after
// the command name and returns an exit code (onboard/cli/exit_codes.hpp).
#pragma once

#include <onboard/core/version.hpp>

#include <string>
#include <vector>

namespace onboard {

using args_t = std::vector<std::string>;

int cmd_sign(const args_t& args);          // engine/cli/src/cmd_sign.cpp
int cmd_plan(const args_t& args);          // engine/cli/src/cmd_plan.cpp
int cmd_endpoint(const args_t& args);      // engine/cli/src/cmd_endpoint.cpp
int cmd_invite(const args_t& args);        // engine/cli/src/cmd_invite.cpp
int cmd_create_users(const args_t& args);  // engine/cli/src/cmd_invite.cpp
int cmd_check(const args_t& args);         // engine/cli/src/cmd_check.cpp
int cmd_export_users(const args_t& args);  // engine/cli/src/cmd_export_users.cpp
int cmd_suspend(const args_t& args);       // engine/cli/src/cmd_suspend.cpp
int cmd_status(const args_t& args);        // engine/cli/src/cmd_journal.cpp
int cmd_report(const args_t& args);        // engine/cli/src/cmd_journal.cpp
int cmd_journal(const args_t& args);       // engine/cli/src/cmd_journal.cpp (journal repair)

}  // namespace onboard
