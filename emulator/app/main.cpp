// chime-emulator: the same server as `chime-onboard emulator`.
#include <onboard/emulator/command.hpp>

#include <string>
#include <vector>

int main(int argc, char** argv) {
  return onboard::emulator::cmd_emulator(std::vector<std::string>(argv + 1, argv + argc));
}
