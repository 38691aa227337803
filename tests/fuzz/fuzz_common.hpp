// fuzz_common.hpp: helpers shared by the libFuzzer targets in this folder.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <unistd.h>
#include <sys/mman.h>

namespace onboard::fuzz {

inline std::string_view as_view(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// memfd_with: an anonymous in-memory file holding `bytes`, positioned at offset 0 (-1 on error).
inline int memfd_with(std::string_view bytes) {
  int fd = memfd_create("fuzz", MFD_CLOEXEC);
  if (fd < 0) return -1;
  std::size_t off = 0;
  while (off < bytes.size()) {
    auto n = ::write(fd, bytes.data() + off, bytes.size() - off);
    if (n <= 0) {
      ::close(fd);
      return -1;
    }
    off += static_cast<std::size_t>(n);
  }
  ::lseek(fd, 0, SEEK_SET);
  return fd;
}

// fd_path: a path naming an open fd (/proc/self/fd/N), for APIs that take a path.
inline std::string fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

// split_at: text before the first `sep` (advancing `rest` past it), or all of `rest`.
inline std::string_view take_line(std::string_view& rest) {
  auto pos = rest.find('\n');
  std::string_view line = rest.substr(0, pos);
  rest = pos == std::string_view::npos ? std::string_view{} : rest.substr(pos + 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

}  // namespace onboard::fuzz
