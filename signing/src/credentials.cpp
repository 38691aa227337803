// credentials.cpp: the AWS CLI credential chain (explicit > environment > shared credentials file >
// config file > credential_process), the INI reader both files share, and config_value.
#include <onboard/signing/credentials.hpp>

#include "crypto.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <csignal>
#include <fcntl.h>
#include <poll.h>
#include <fstream>
#include <spawn.h>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace onboard::signing {

secret_string& secret_string::operator=(const secret_string& o) {
  if (this != &o) {
    wipe();
    value_ = o.value_;
  }
  return *this;
}

secret_string& secret_string::operator=(secret_string&& o) noexcept {
  if (this != &o) {
    wipe();
    value_ = std::move(o.value_);
    o.wipe();
  }
  return *this;
}

void secret_string::wipe() noexcept {
  // Grow to the capacity first so a short (in-object) buffer left by a move is wiped too.
  value_.resize(value_.capacity());
  detail::wipe(value_.data(), value_.size());
  value_.clear();
}

environment process_environment() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* v = std::getenv(std::string(name).c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  };
}

environment map_environment(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

namespace {

using section = std::map<std::string, std::string>;

// ini_file: sections of an AWS-style INI file. Nested sub-sections (`chime =` followed by
// indented `key = value` lines) are flattened to "chime.key".
struct ini_file {
  std::map<std::string, section> sections;
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

ini_file parse_ini(std::string_view text) {
  ini_file ini;
  section* current = nullptr;
  std::string nested_parent;
  while (!text.empty()) {
    std::size_t nl = text.find('\n');
    std::string_view raw = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    bool indented = raw.front() == ' ' || raw.front() == '\t';
    if (!indented && line.front() == '[') {
      std::size_t close = line.find(']');
      if (close == std::string_view::npos) continue;
      std::string name(trim(line.substr(1, close - 1)));
      current = &ini.sections[name];
      nested_parent.clear();
      continue;
    }
    if (!current) continue;
    std::size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    std::string key(trim(line.substr(0, eq)));
    std::string value(trim(line.substr(eq + 1)));
    if (indented && !nested_parent.empty()) {
      (*current)[nested_parent + "." + key] = value;
      continue;
    }
    nested_parent = value.empty() ? key : std::string{};
    (*current)[key] = std::move(value);
  }
  return ini;
}

// loaded_file: one of the two AWS files, remembered with the path used in messages.
struct loaded_file {
  std::string path;
  std::optional<ini_file> ini;  // nullopt when the file does not exist or cannot be read
};

std::string expand_home(const std::string& p, const environment& env) {
  if (p.size() >= 2 && p[0] == '~' && p[1] == '/')
    if (auto home = env("HOME")) return *home + p.substr(1);
  return p;
}

loaded_file load(std::string_view override_var, std::string_view default_rel,
                 const environment& env) {
  loaded_file f;
  if (auto v = env(override_var); v && !v->empty()) {
    f.path = expand_home(*v, env);
  } else if (auto home = env("HOME"); home && !home->empty()) {
    f.path = *home + "/" + std::string(default_rel);
  } else {
    f.path = "~/" + std::string(default_rel);
    return f;
  }
  std::ifstream in(f.path, std::ios::binary);
  if (!in) return f;
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  f.ini = parse_ini(text);
  detail::wipe(text.data(), text.size());
  return f;
}

loaded_file load_credentials_file(const environment& env) {
  return load("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials", env);
}
loaded_file load_config_file(const environment& env) {
  return load("AWS_CONFIG_FILE", ".aws/config", env);
}

const section* find_section(const loaded_file& f, const std::string& name) {
  if (!f.ini) return nullptr;
  auto it = f.ini->sections.find(name);
  return it == f.ini->sections.end() ? nullptr : &it->second;
}

// config_section: `[default]` (or `[profile default]`) and `[profile NAME]` in the config file.
const section* config_section(const loaded_file& f, const std::string& profile) {
  if (profile == "default")
    if (const section* s = find_section(f, "default")) return s;
  return find_section(f, "profile " + profile);
}

std::optional<std::string> get(const section* s, const std::string& key) {
  if (!s) return std::nullopt;
  auto it = s->find(key);
  if (it == s->end() || it->second.empty()) return std::nullopt;
  return it->second;
}

resolve_result error(std::string message) {
  resolve_result r;
  r.error = std::move(message);
  return r;
}

resolve_result found(std::string akid, std::string secret, std::string token, std::string source) {
  resolve_result r;
  credentials c;
  c.access_key_id = std::move(akid);
  c.secret_access_key = secret_string(std::move(secret));
  c.session_token = secret_string(std::move(token));
  c.source = std::move(source);
  r.value = std::move(c);
  return r;
}

// static_keys: aws_access_key_id/aws_secret_access_key[/aws_session_token] from one section;
// nullopt when the section has no keys, an error when it has only half of them.
std::optional<resolve_result> static_keys(const section* s, const std::string& profile,
                                          const std::string& path) {
  auto id = get(s, "aws_access_key_id");
  auto secret = get(s, "aws_secret_access_key");
  if (!id && !secret) return std::nullopt;
  if (!id || !secret)
    return error("profile '" + profile + "' in " + path + " has " +
                 (id ? "aws_access_key_id but no aws_secret_access_key"
                     : "aws_secret_access_key but no aws_access_key_id"));
  auto token = get(s, "aws_session_token");
  if (!token) token = get(s, "aws_security_token");
  return found(*id, *secret, token.value_or(""), "profile " + profile + " (" + path + ")");
}

}  // namespace

std::string format_iso8601(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::optional<std::chrono::sys_seconds> parse_iso8601(std::string_view s) {
  using namespace std::chrono;
  auto num = [&](std::size_t at, std::size_t len) -> int {
    if (at + len > s.size()) return -1;
    int v = 0;
    for (std::size_t i = at; i < at + len; ++i) {
      if (s[i] < '0' || s[i] > '9') return -1;
      v = v * 10 + (s[i] - '0');
    }
    return v;
  };
  if (s.size() < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') ||
      s[13] != ':' || s[16] != ':')
    return std::nullopt;
  int y = num(0, 4), mo = num(5, 2), d = num(8, 2), h = num(11, 2), mi = num(14, 2),
      se = num(17, 2);
  if (y < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || se < 0 || h > 23 || mi > 59 || se > 60)
    return std::nullopt;
  year_month_day ymd{year{y}, month{unsigned(mo)}, day{unsigned(d)}};
  if (!ymd.ok()) return std::nullopt;
  std::size_t at = 19;
  if (at < s.size() && s[at] == '.') {
    ++at;
    while (at < s.size() && s[at] >= '0' && s[at] <= '9') ++at;
  }
  seconds offset{0};
  std::string_view zone = s.substr(at);
  if (zone == "Z" || zone == "z") {
  } else if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':') {
    int oh = num(at + 1, 2), om = num(at + 4, 2);
    if (oh < 0 || om < 0) return std::nullopt;
    offset = hours{oh} + minutes{om};
    if (zone[0] == '-') offset = -offset;
  } else {
    return std::nullopt;
  }
  return sys_seconds{sys_days{ymd}} + hours{h} + minutes{mi} + seconds{se} - offset;
}

namespace {

// process_outcome: how a credential_process ended.
struct process_outcome {
  int status = -1;  // exit status (128+signal when killed by one); -1: could not be started
  bool timed_out = false;
};

// run_process: /bin/sh -c `command`, stdout captured (bounded), stderr passed through as the
// CLI does. A command still running after `limit` is killed with its whole process group (the
// shell and whatever it started), so a hung helper cannot hold a run forever.
process_outcome run_process(const std::string& command, std::string& out,
                            std::chrono::milliseconds limit) {
  process_outcome result;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return result;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  std::string sh = "/bin/sh", dash_c = "-c", cmd = command;
  char* argv[] = {sh.data(), dash_c.data(), cmd.data(), nullptr};
  pid_t pid = -1;
  int rc = posix_spawn(&pid, "/bin/sh", &fa, &attr, argv, environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    return result;
  }
  constexpr std::size_t cap = 1 << 20;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  char buf[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd pfd{fds[0], POLLIN, 0};
    int ready = left.count() > 0 ? poll(&pfd, 1, static_cast<int>(left.count())) : 0;
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) {
      result.timed_out = true;
      kill(-pid, SIGKILL);
      break;
    }
    ssize_t n = read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (out.size() < cap) out.append(buf, static_cast<std::size_t>(n));
  }
  detail::wipe(buf, sizeof buf);
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.status =
      WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  return result;
}

// printable: a bounded copy of untrusted text for messages (the Expiration value is not secret,
// but the output it came from is, so keep it short and control-free).
std::string printable(std::string_view s, std::size_t limit = 40) {
  std::string out;
  for (char c : s.substr(0, limit)) out.push_back(static_cast<unsigned char>(c) < 0x20 ? '?' : c);
  return out;
}

std::optional<std::string> json_string(const boost::json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string()) return std::nullopt;
  return std::string(it->value().as_string());
}

// credential_process_timeout: 60 s, or CHIME_ONBOARD_CREDENTIAL_PROCESS_TIMEOUT seconds (fractions
// allowed). An unreadable value is ignored rather than fatal: the default is a safe limit.
std::chrono::milliseconds credential_process_timeout(const environment& env) {
  constexpr std::chrono::milliseconds fallback{60'000};
  auto v = env("CHIME_ONBOARD_CREDENTIAL_PROCESS_TIMEOUT");
  if (!v || v->empty()) return fallback;
  char* end = nullptr;
  double seconds = std::strtod(v->c_str(), &end);
  if (end == v->c_str() || *end != '\0' || !(seconds > 0) || seconds > 86400) return fallback;
  return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000));
}

// credential_process: runs the profile's command and parses its JSON. Messages name the profile
// and file, never the output (it holds the secret).
resolve_result credential_process(const std::string& command, const std::string& profile,
                                  const std::string& path, std::chrono::milliseconds limit) {
  std::string where = "credential_process of profile '" + profile + "' (" + path + ")";
  std::string out;
  auto ran = run_process(command, out, limit);
  struct wipe_on_exit {
    std::string& s;
    ~wipe_on_exit() { detail::wipe(s.data(), s.size()); }
  } wipe_out{out};
  if (ran.status < 0) return error(where + ": cannot start /bin/sh");
  if (ran.timed_out)
    return error(where + ": `" + printable(command, 200) + "` gave no answer within " +
                 std::to_string(limit.count() / 1000) +
                 " s and was killed (CHIME_ONBOARD_CREDENTIAL_PROCESS_TIMEOUT sets the limit)");
  if (ran.status != 0) return error(where + ": exited with status " + std::to_string(ran.status));
  return parse_credentials_json(out, {"SessionToken", /*versioned=*/true},
                                "profile " + profile + " credential_process (" + path + ")", where);
}

}  // namespace

std::string profile_name(std::string_view flag, const environment& env) {
  if (!flag.empty()) return std::string(flag);
  if (auto p = env("AWS_PROFILE"); p && !p->empty()) return *p;
  if (auto p = env("AWS_DEFAULT_PROFILE"); p && !p->empty()) return *p;
  return "default";
}

std::optional<resolve_result> explicit_or_environment(const resolve_options& opts,
                                                      const environment& env) {
  if (!opts.access_key_id.empty() || !opts.secret_access_key.empty()) {
    if (opts.access_key_id.empty() || opts.secret_access_key.empty())
      return error("explicit credentials need both the access key id and the secret access key");
    return found(opts.access_key_id, opts.secret_access_key, opts.session_token, "command line");
  }
  // As the AWS CLI: an explicit --profile means that profile, so the environment's keys are not
  // consulted; AWS_PROFILE does not have that effect.
  if (!opts.profile.empty()) return std::nullopt;
  auto id = env("AWS_ACCESS_KEY_ID");
  auto secret = env("AWS_SECRET_ACCESS_KEY");
  bool has_id = id && !id->empty(), has_secret = secret && !secret->empty();
  if (has_id && has_secret) {
    auto token = env("AWS_SESSION_TOKEN");
    if (!token || token->empty()) token = env("AWS_SECURITY_TOKEN");
    return found(*id, *secret, token.value_or(""), "environment");
  }
  if (has_id != has_secret)
    return error(std::string("environment: ") +
                 (has_id ? "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not"
                         : "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not"));
  return std::nullopt;
}

std::optional<profile_settings> load_profile_settings(const std::string& profile,
                                                      const environment& env) {
  loaded_file creds_file = load_credentials_file(env);
  loaded_file config_file = load_config_file(env);
  const section* cs = find_section(creds_file, profile);
  const section* cfg = config_section(config_file, profile);
  if (!cs && !cfg) return std::nullopt;
  profile_settings p;
  if (cfg) p.values = *cfg;
  // As botocore's session: the credentials file's values override the config file's.
  if (cs)
    for (const auto& [k, v] : *cs) p.values[k] = v;
  p.where = cs && cfg ? creds_file.path + " and " + config_file.path
            : cs      ? creds_file.path
                      : config_file.path;
  return p;
}

resolve_result profile_credentials(const std::string& profile, const environment& env,
                                   bool environment_tried) {
  loaded_file creds_file = load_credentials_file(env);
  loaded_file config_file = load_config_file(env);
  const section* cs = find_section(creds_file, profile);
  const section* cfg = config_section(config_file, profile);

  if (!cs && !cfg && profile != "default")
    return error("profile '" + profile + "' not found in " + creds_file.path + " or " +
                 config_file.path);

  if (auto r = static_keys(cs, profile, creds_file.path)) return std::move(*r);
  if (auto r = static_keys(cfg, profile, config_file.path)) return std::move(*r);
  const auto limit = credential_process_timeout(env);
  // The command is run again for every refresh, as botocore's ProcessProvider does.
  auto process = [&](const std::string& cmd, const std::string& path) {
    resolve_result r = credential_process(cmd, profile, path, limit);
    r.refetch = [cmd, profile, path, limit] {
      return credential_process(cmd, profile, path, limit);
    };
    return r;
  };
  if (auto cmd = get(cfg, "credential_process")) return process(*cmd, config_file.path);
  if (auto cmd = get(cs, "credential_process")) return process(*cmd, creds_file.path);

  resolve_result none =
      error("unable to locate credentials for profile '" + profile + "': tried " +
            (environment_tried ? "the environment (AWS_ACCESS_KEY_ID), " : "") + creds_file.path +
            (cs ? "" : " (no such section)") + ", " + config_file.path +
            (cfg ? " (no keys or credential_process)" : " (no such section)"));
  none.not_found = true;
  return none;
}

resolve_result resolve_credentials(const resolve_options& opts, const environment& env) {
  if (auto r = explicit_or_environment(opts, env)) return std::move(*r);
  return profile_credentials(profile_name(opts.profile, env), env, opts.profile.empty());
}

resolve_result parse_credentials_json(std::string_view text, const json_shape& shape,
                                      std::string source, const std::string& where) {
  // Parsed into a buffer we own so the secret's copies can be wiped afterwards.
  std::vector<unsigned char> arena(text.size() * 2 + 4096);
  struct wipe_arena {
    std::vector<unsigned char>& a;
    ~wipe_arena() { detail::wipe(a.data(), a.size()); }
  } wipe_a{arena};
  resolve_result result;
  boost::json::monotonic_resource mr(arena.data(), arena.size());
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec, &mr);
  if (ec || !v.is_object()) return error(where + ": the answer is not a JSON object");
  const auto& o = v.as_object();
  if (shape.versioned) {
    auto version = o.find("Version");
    if (version == o.end() || !version->value().is_number() ||
        version->value().to_number<double>() != 1.0)
      return error(where + ": output lacks \"Version\": 1");
  }
  auto akid = json_string(o, "AccessKeyId");
  auto secret = json_string(o, "SecretAccessKey");
  if (!akid || akid->empty()) return error(where + ": the answer lacks AccessKeyId");
  if (!secret || secret->empty()) return error(where + ": the answer lacks SecretAccessKey");
  auto token = json_string(o, shape.token_field);
  std::optional<std::chrono::system_clock::time_point> expiration;
  if (auto exp = json_string(o, "Expiration")) {
    using namespace std::chrono;
    auto at = parse_iso8601(*exp);
    if (!at) return error(where + ": Expiration '" + printable(*exp) + "' is not ISO 8601");
    if (*at <= floor<seconds>(system_clock::now()))
      return error(where + ": the credentials expired at " + *exp);
    // Far-future dates (beyond what a nanosecond clock holds) mean "does not expire soon".
    auto latest = floor<seconds>(system_clock::time_point::max());
    expiration = *at >= latest ? system_clock::time_point::max()
                               : time_point_cast<system_clock::duration>(*at);
  }
  result = found(*akid, *secret, token.value_or(""), std::move(source));
  result.value->expiration = expiration;
  detail::wipe(secret->data(), secret->size());
  if (token) detail::wipe(token->data(), token->size());
  return result;
}

std::optional<std::string> config_value(std::string_view profile, std::string_view key,
                                        const environment& env) {
  loaded_file f = load_config_file(env);
  std::string name = profile.empty() ? profile_name("", env) : std::string(profile);
  return get(config_section(f, name), std::string(key));
}

std::optional<std::string> config_section_value(std::string_view section, std::string_view key,
                                                const environment& env) {
  loaded_file f = load_config_file(env);
  return get(find_section(f, std::string(section)), std::string(key));
}

}  // namespace onboard::signing
