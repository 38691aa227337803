// onboard/testkit/testkit.hpp: what every suite needs: temporary folders, files, and real child
// processes (spawned, read line by line with a deadline, signalled, reaped).
//
//   onboard::testkit::temp_dir dir;
//   auto p = onboard::testkit::child_process::spawn({ONBOARD_EMULATOR, "--listen", "127.0.0.1:0"});
//   auto line = p.read_stdout_line(std::chrono::seconds(20));   // nullopt on timeout or EOF
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <sys/types.h>
#include <thread>
#include <vector>

namespace onboard::testkit {

namespace fs = std::filesystem;

// temp_dir: a fresh folder under $TMPDIR, removed with its contents on destruction.
class temp_dir {
 public:
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

// write_file / read_file: whole-file helpers that throw on failure.
void write_file(const fs::path& p, const std::string& content);
std::string read_file(const fs::path& p);

// child_process: a real process with piped stdout and stderr (stdin from /dev/null unless
// `stdin_data` is given). Killed (SIGKILL) and reaped on destruction if still running.
class child_process {
 public:
  struct options {
    std::map<std::string, std::string> env_set;  // added/overridden variables
    std::vector<std::string> env_unset;          // removed variables
    std::optional<std::string> stdin_data;       // written then closed
    bool stdin_stays_open = false;  // ...written, then open until close_stdin(): a stdin that waits
    bool merge_stderr = false;      // stderr into the stdout pipe
    bool output_closed = false;     // started without stdout and stderr (`>&- 2>&-`)
    std::optional<unsigned long> max_open_files;  // RLIMIT_NOFILE, soft and hard (`ulimit -n`)
    std::string cwd;
  };

  static child_process spawn(const std::vector<std::string>& argv, const options& opts);
  static child_process spawn(const std::vector<std::string>& argv) {
    return spawn(argv, options{});
  }

  child_process(child_process&& o) noexcept;
  child_process& operator=(child_process&&) = delete;
  ~child_process();

  pid_t pid() const { return pid_; }

  // read_stdout_line: the next stdout line (without '\n'), nullopt on EOF or when `timeout` passes.
  std::optional<std::string> read_stdout_line(std::chrono::milliseconds timeout);

  // signal: sends `sig` (e.g. SIGINT, SIGKILL).
  void signal(int sig);

  // write_stdin: more data for a stdin kept open (options::stdin_stays_open), written from a
  // thread of its own after what was given before. close_stdin: then ends it (end of input).
  void write_stdin(std::string data);
  void close_stdin();

  // close_stderr: stops reading the child's stderr and closes the pipe, as a reader that went
  // away (`2>&1 | head`) would: the child's next writes there fail (EPIPE, or SIGPIPE).
  void close_stderr();

  // wait: waits up to `timeout` for exit, draining output meanwhile; returns the exit status
  // (code, or 128+signal), nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);

  // Everything read so far (wait() and read_stdout_line() accumulate).
  const std::string& stdout_text() const { return out_; }
  const std::string& stderr_text() const { return err_; }

 private:
  child_process() = default;
  bool pump(std::chrono::milliseconds timeout);  // reads what is available; false on timeout
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::string out_, err_;
  std::size_t out_consumed_ = 0;
  std::optional<int> status_;
  std::thread stdin_writer_;
  int in_fd_ = -1;  // the stdin pipe, while it stays open
};

// child_environment: this process's environment with `opts`' changes (env_unset removed, env_set
// added or replacing), as the "NAME=value" strings a child gets.
std::vector<std::string> child_environment(const child_process::options& opts);

// run_result / run: spawn, wait (bounded), collect. Throws if the deadline passes (after SIGKILL).
struct run_result {
  int status = -1;
  std::string out;
  std::string err;
};
run_result run(const std::vector<std::string>& argv, const child_process::options& opts,
               std::chrono::milliseconds timeout = std::chrono::minutes(5));
inline run_result run(const std::vector<std::string>& argv) { return run(argv, {}); }

// cli / emulator_binary: paths of the built binaries.
inline std::string cli() { return ONBOARD_CLI; }
inline std::string emulator_binary() { return ONBOARD_EMULATOR; }
inline fs::path source_dir() { return ONBOARD_SOURCE_DIR; }

}  // namespace onboard::testkit
