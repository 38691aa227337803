// fuzz_corpus_reader: the corpus reader on arbitrary bytes, as a plain list, as CSV (by name) and
// as stdin (format sniffed), with a small buffer and max_line so the refill/too_long/quote-recovery
// paths are reached with short inputs. Only corpus_error may escape; records must be consistent.
#include "fuzz_common.hpp"

#include <onboard/io/corpus_reader.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <unistd.h>

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

void drain(onboard::io::corpus_reader& r, std::size_t max_line) {
  onboard::io::corpus_record rec;
  std::size_t n = 0;
  while (r.next(rec)) {
    check(++n <= 1'000'000);
    if (rec.problem == onboard::io::line_problem::none) {
      check(rec.email.size() <= max_line);
      check(onboard::io::valid_utf8(rec.email));
      check(onboard::io::valid_utf8(rec.user_type) && onboard::io::valid_utf8(rec.username) &&
            onboard::io::valid_utf8(rec.account_id));
    } else {
      check(!rec.detail.empty());
    }
    check(rec.source < r.input_count());
  }
}

// run: one reader over the bytes, through a path (plain or .csv) or through stdin_fd.
void run(std::string_view bytes, int mode, std::size_t buffer, std::size_t max_line) {
  onboard::io::corpus_options o;
  o.buffer_size = buffer;
  o.max_line = max_line;
  int fd = onboard::fuzz::memfd_with(bytes);
  if (fd < 0) return;
  std::string link;
  try {
    std::vector<std::string> inputs;
    if (mode == 0) {
      o.stdin_fd = fd;
      inputs = {"-"};
    } else {
      // A .csv name forces CSV; a name without it is sniffed (plain unless a CSV header).
      static const std::string dir = [] {
        auto d =
            std::filesystem::temp_directory_path() / ("fuzz_corpus_" + std::to_string(::getpid()));
        std::filesystem::create_directories(d);
        return d.string();
      }();
      link = dir + (mode == 1 ? "/in.csv" : "/in.txt");
      std::filesystem::remove(link);
      std::filesystem::create_symlink(onboard::fuzz::fd_path(fd), link);
      inputs = {link};
    }
    onboard::io::corpus_reader r(inputs, o);
    drain(r, max_line);
  } catch (const onboard::io::corpus_error&) {
  }
  ::close(fd);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t ctl = data[0];
  auto bytes = onboard::fuzz::as_view(data + 1, size - 1);
  const int mode = ctl % 3;                             // stdin, .csv, sniffed
  const std::size_t buffer = (ctl & 0x04) ? 4096 : 64;  // small buffers reach the refill paths
  const std::size_t max_line = (ctl & 0x08) ? 64 * 1024 : 48;
  run(bytes, mode, std::max(buffer, max_line + 16), max_line);
  return 0;
}
