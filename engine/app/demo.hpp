// demo.hpp: `chime-onboard demo`, the engine against the embedded emulator. It lives beside main
// because it needs the emulator, which no engine library may link.
#pragma once

#include <onboard/cli/commands.hpp>

namespace onboard {

int cmd_demo(const args_t& args);

}  // namespace onboard
