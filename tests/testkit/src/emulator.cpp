#include <onboard/testkit/emulator.hpp>

#include <csignal>
#include <stdexcept>

namespace onboard::testkit {

emulator_process::emulator_process(const std::vector<std::string>& extra_flags,
                                   const options& opts) {
  std::vector<std::string> argv = {emulator_binary(), "--listen", "127.0.0.1:0", "--write-ca",
                                   ca_path().string()};
  if (opts.ledger) {
    argv.push_back("--ledger");
    argv.push_back(ledger_path().string());
  }
  argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
  child_process::options co;
  co.env_set = opts.env_set;
  proc_ = std::make_unique<child_process>(child_process::spawn(argv, co));
  auto line = proc_->read_stdout_line(opts.start_timeout);
  const std::string prefix = "listening on ";
  if (!line || line->rfind(prefix, 0) != 0) {
    proc_->signal(SIGKILL);
    proc_->wait(std::chrono::seconds(5));
    stopped_ = true;
    throw std::runtime_error("chime-emulator did not start: first line '" +
                             line.value_or("<none>") + "', stderr: " + proc_->stderr_text());
  }
  url_ = line->substr(prefix.size());
  port_ = std::stoi(url_.substr(url_.rfind(':') + 1));
}

emulator_process::~emulator_process() {
  if (!stopped_) stop();
}

int emulator_process::stop() {
  if (stopped_) return -1;
  stopped_ = true;
  proc_->signal(SIGTERM);
  auto st = proc_->wait(std::chrono::seconds(20));
  if (!st) {
    proc_->signal(SIGKILL);
    proc_->wait(std::chrono::seconds(5));
    return -1;
  }
  return *st;
}

std::string emulator_process::stats() {
  static const char* script =
      "import ssl,sys,urllib.request\n"
      "ctx=ssl.create_default_context(cafile=sys.argv[2])\n"
      "sys.stdout.write(urllib.request.urlopen(sys.argv[1]+'/_emulator/"
      "stats',context=ctx,timeout=10)"
      ".read().decode())\n";
  auto r = run({"/usr/bin/python3", "-c", script, url_, ca_path().string()}, {},
               std::chrono::seconds(30));
  if (r.status != 0) throw std::runtime_error("fetching emulator stats failed: " + r.err);
  return r.out;
}

std::uint64_t emulator_process::stat(std::string_view name) { return json_counter(stats(), name); }

std::uint64_t json_counter(const std::string& s, std::string_view name) {
  std::string_view text = s;
  std::string key;
  if (name.substr(0, 7) == "status.") {
    auto scope = text.find("\"requests_by_status\"");
    if (scope == std::string_view::npos) return 0;
    auto close = text.find('}', scope);
    text = text.substr(scope, close - scope);
    key = "\"" + std::string(name.substr(7)) + "\":";
  } else {
    key = "\"" + std::string(name) + "\":";
  }
  auto pos = text.find(key);
  if (pos == std::string_view::npos) return 0;
  pos += key.size();
  std::uint64_t v = 0;
  while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9')
    v = v * 10 + static_cast<std::uint64_t>(text[pos++] - '0');
  return v;
}

}  // namespace onboard::testkit
