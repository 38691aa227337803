// onboard/emulator/command.hpp: `chime-emulator` / `chime-onboard emulator` command line.
#pragma once

#include <string>
#include <vector>

namespace onboard::emulator {

// cmd_emulator: parses the flags, runs the server until SIGINT/SIGTERM, returns an exit code.
int cmd_emulator(const std::vector<std::string>& args);

}  // namespace onboard::emulator
