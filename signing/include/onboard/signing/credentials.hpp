// onboard/signing/credentials.hpp: AWS credentials and the chain the AWS tools use to find them.
//
// The sources that need no network, in the AWS CLI's order: explicit keys > environment
// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) > shared credentials file >
// config file (including `credential_process`). The profile is `--profile`, else AWS_PROFILE,
// else "default". The sources on the network (STS, SSO, container, IMDS) are in
// onboard/cli/credential_chain.hpp, which slots them into this order.
//
//   #include <iostream>
//   // given: std::string flag_profile
//   auto env = onboard::signing::process_environment();
//   onboard::signing::resolve_options opts;
//   opts.profile = flag_profile;
//   auto creds = onboard::signing::resolve_credentials(opts, env);
//   if (!creds) { std::cerr << creds.error << "\n"; return 6; }
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace onboard::signing {

// secret_string: holds key material; wiped (OPENSSL_cleanse) when destroyed or reassigned, and has
// no stream operator so it cannot end up in a log by accident. `reveal()` is the one way in.
class secret_string {
 public:
  secret_string() = default;
  explicit secret_string(std::string s) : value_(std::move(s)) {}
  secret_string(const secret_string& o) : value_(o.value_) {}
  secret_string(secret_string&& o) noexcept : value_(std::move(o.value_)) { o.wipe(); }
  secret_string& operator=(const secret_string& o);
  secret_string& operator=(secret_string&& o) noexcept;
  ~secret_string() { wipe(); }

  const std::string& reveal() const { return value_; }
  bool empty() const { return value_.empty(); }

 private:
  void wipe() noexcept;
  std::string value_;
};

// credentials: one set of AWS keys. `expiration` is set for temporary credentials.
struct credentials {
  std::string access_key_id;
  secret_string secret_access_key;
  secret_string session_token;  // empty when none
  std::optional<std::chrono::system_clock::time_point> expiration;
  std::string
      source;  // where they came from, e.g. "environment", "profile demo (~/.aws/credentials)"
};

// environment: a lookup of environment variables, injectable for tests.
using environment = std::function<std::optional<std::string>(std::string_view name)>;

// process_environment: the real environment (getenv).
environment process_environment();

// map_environment: an environment backed by a map (tests).
environment map_environment(std::map<std::string, std::string> vars);

// resolve_options: what the command line says. Empty fields mean "not given".
struct resolve_options {
  std::string profile;
  std::string access_key_id;  // both keys given explicitly (tests, `sign --access-key`)
  std::string secret_access_key;
  std::string session_token;
};

struct resolve_result;
// credential_fetch: fetches a fresh set from the source that supplied the first one.
using credential_fetch = std::function<resolve_result()>;

// resolve_result: credentials or an error message naming what was tried (never a secret).
// `refetch` is set when the source can hand out a new set (credential_process, ...).
struct resolve_result {
  std::optional<credentials> value;
  std::string error;
  credential_fetch refetch;
  bool not_found = false;  // no source had anything (not: a source failed); the caller may go on
  explicit operator bool() const { return value.has_value(); }
  const credentials& operator*() const { return *value; }
  const credentials* operator->() const { return &*value; }
};

// resolve_credentials: the chain above: explicit_or_environment, else profile_credentials.
resolve_result resolve_credentials(const resolve_options& opts, const environment& env);

// explicit_or_environment: the explicit keys, else the environment's (AWS_ACCESS_KEY_ID, ...;
// skipped when opts.profile is given, as the AWS CLI skips them for --profile); nullopt when
// neither has keys, an error when one has only half of them.
std::optional<resolve_result> explicit_or_environment(const resolve_options& opts,
                                                      const environment& env);

// profile_credentials: the keys of `profile` in the credentials file, then the config file, then
// its `credential_process` (no shell interpolation beyond /bin/sh -c, as the CLI does; parses
// Version/AccessKeyId/SecretAccessKey/SessionToken/Expiration; refuses expired credentials; killed
// after 60 s or CHIME_ONBOARD_CREDENTIAL_PROCESS_TIMEOUT seconds). not_found when the profile has
// none of them; `environment_tried` only shapes that message.
resolve_result profile_credentials(const std::string& profile, const environment& env,
                                   bool environment_tried = false);

// profile_settings: one profile's keys as botocore's session sees them: the config file's
// section with the credentials file's section over it. `where` names the file(s) for messages.
struct profile_settings {
  std::map<std::string, std::string> values;
  std::string where;
  std::optional<std::string> get(const std::string& key) const {
    auto it = values.find(key);
    if (it == values.end() || it->second.empty()) return std::nullopt;
    return it->second;
  }
};

// load_profile_settings: nullopt when neither file has the profile.
std::optional<profile_settings> load_profile_settings(const std::string& profile,
                                                      const environment& env);

// profile_name: `--profile` if given, else AWS_PROFILE, else AWS_DEFAULT_PROFILE, else "default".
std::string profile_name(std::string_view flag, const environment& env);

// config_value: a key from the AWS config file for `profile` (`[default]` or `[profile NAME]`,
// AWS_CONFIG_FILE overrides ~/.aws/config). Used for region, endpoint_url, ca_bundle,
// max_attempts. Nested sections (e.g. `chime =\n  endpoint_url = ...`) are looked up as
// "chime.endpoint_url".
std::optional<std::string> config_value(std::string_view profile, std::string_view key,
                                        const environment& env);

// json_shape: how a credentials answer spells itself: credential_process ("Version": 1,
// SessionToken) or the container and instance metadata services (Token).
struct json_shape {
  std::string_view token_field = "SessionToken";
  bool versioned = false;
};

// parse_credentials_json: AccessKeyId, SecretAccessKey, the token and Expiration from a JSON
// answer; already-expired credentials are refused. Errors start with `where` and never quote
// the answer (it holds the secret).
resolve_result parse_credentials_json(std::string_view text, const json_shape& shape,
                                      std::string source, const std::string& where);

// parse_iso8601: "2024-05-01T12:00:00Z", with optional fractional seconds and a +hh:mm offset
// (the Expiration of credential_process, STS, the container and IMDS answers).
std::optional<std::chrono::sys_seconds> parse_iso8601(std::string_view s);

// format_iso8601: "2024-05-01T12:00:00Z" (UTC, whole seconds), the form parse_iso8601 reads.
std::string format_iso8601(std::chrono::system_clock::time_point t);

// config_section_value: a key from any section of the config file by its full name, e.g.
// "services corp" for the `[services corp]` section that holds per-service endpoints.
std::optional<std::string> config_section_value(std::string_view section, std::string_view key,
                                                const environment& env);

}  // namespace onboard::signing
