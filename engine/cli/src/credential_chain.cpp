#include <onboard/cli/credential_chain.hpp>

#include "metadata_http.hpp"
#include "sso_portal.hpp"
#include "sts_client.hpp"

#include <onboard/cli/aws_settings.hpp>
#include <onboard/signing/credential_provider.hpp>

#include <onboard/core/text.hpp>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

namespace onboard {

namespace {

using namespace std::chrono_literals;

// As botocore's ContainerMetadataFetcher: 2 s per try, 3 tries, 1 s apart.
constexpr auto container_timeout = 2000ms;
constexpr int container_attempts = 3;
constexpr auto container_pause = 1s;

// The hosts a full URI may name: the ECS and EKS agents' link-local addresses and loopback.
constexpr std::array<std::string_view, 6> container_hosts{
    "169.254.170.2", "169.254.170.23", "fd00:ec2::23", "localhost", "127.0.0.1", "::1"};

signing::resolve_result failed(std::string message) {
  signing::resolve_result r;
  r.error = std::move(message);
  return r;
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

signing::resolve_result fetch_container(const std::string& url, const std::string& variable,
                                        const signing::environment& env) {
  const std::string where = "container credentials (" + variable + ")";
  detail::http_headers headers{{"Accept", "application/json"}};
  if (auto file = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"); file && !file->empty()) {
    std::ifstream in(*file, std::ios::binary);
    if (!in) return failed(where + ": cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE " + *file);
    std::ostringstream ss;
    ss << in.rdbuf();
    headers.emplace_back("Authorization", trimmed(ss.str()));
  } else if (auto token = env("AWS_CONTAINER_AUTHORIZATION_TOKEN"); token && !token->empty()) {
    headers.emplace_back("Authorization", *token);
  }
  std::string why;
  for (int attempt = 1; attempt <= container_attempts; ++attempt) {
    if (attempt > 1) std::this_thread::sleep_for(container_pause);
    auto reply = detail::http_request("GET", url, headers, container_timeout);
    if (!reply.answered()) {
      why = reply.error;
      continue;
    }
    if (reply.status != 200) {
      why = "HTTP " + std::to_string(reply.status);
      continue;
    }
    return signing::parse_credentials_json(reply.body, {"Token", false},
                                           "container credentials (" + url + ")", where);
  }
  return failed(where + ": " + url + " gave no credentials after " +
                std::to_string(container_attempts) + " tries (last: " + why + ")");
}

// As botocore's IMDSFetcher: 1 s per request, one try; a token for six hours.
constexpr auto imds_timeout = 1000ms;
constexpr const char* imds_default_endpoint = "http://169.254.169.254/";
constexpr const char* imds_credentials_path = "latest/meta-data/iam/security-credentials/";

std::string imds_url(const std::string& base, std::string_view path) {
  return base + (base.empty() || base.back() == '/' ? "" : "/") + std::string(path);
}

// imds_fetch: IMDSv2 (PUT a token, then GET the role and its credentials with it); a service that
// refuses tokens (403/404/405) or does not answer the PUT is asked without one, as botocore does.
// nullopt when there is no role to ask for (no metadata service: not on EC2, or no role).
std::optional<signing::resolve_result> imds_fetch(const std::string& base) {
  const std::string where = "instance metadata (" + base + ")";
  detail::http_headers headers;
  auto token =
      detail::http_request("PUT", imds_url(base, "latest/api/token"),
                           {{"X-aws-ec2-metadata-token-ttl-seconds", "21600"}}, imds_timeout);
  if (token.answered() && token.status == 200)
    headers.emplace_back("X-aws-ec2-metadata-token", token.body);
  else if (token.answered() && token.status == 400)
    return failed(where + ": the token request was refused (HTTP 400)");
  auto role =
      detail::http_request("GET", imds_url(base, imds_credentials_path), headers, imds_timeout);
  if (!role.answered() || role.status != 200) return std::nullopt;
  std::string name = role.body.substr(0, role.body.find('\n'));
  name = trimmed(name);
  if (name.empty()) return std::nullopt;
  auto creds = detail::http_request("GET", imds_url(base, imds_credentials_path + name), headers,
                                    imds_timeout);
  if (!creds.answered())
    return failed(where + ": no answer for the credentials of role " + name + ": " + creds.error);
  if (creds.status != 200)
    return failed(where + ": HTTP " + std::to_string(creds.status) +
                  " for the credentials of role " + name);
  return signing::parse_credentials_json(creds.body, {"Token", false},
                                         "instance metadata (role " + name + ")", where);
}

}  // namespace

std::optional<signing::resolve_result> instance_metadata_credentials(
    const signing::environment& env) {
  if (auto off = env("AWS_EC2_METADATA_DISABLED"); off && ascii_lower(*off) == "true")
    return std::nullopt;
  std::string base = imds_default_endpoint;
  if (auto e = env("AWS_EC2_METADATA_SERVICE_ENDPOINT"); e && !e->empty()) base = *e;
  auto r = imds_fetch(base);
  if (r && *r)
    r->refetch = [base]() -> signing::resolve_result {
      if (auto again = imds_fetch(base)) return std::move(*again);
      return failed("instance metadata (" + base + "): the role is gone");
    };
  return r;
}

std::optional<signing::resolve_result> container_credentials(const signing::environment& env) {
  std::string url, variable;
  if (auto rel = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"); rel && !rel->empty()) {
    variable = "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI";
    url = "http://169.254.170.2" + *rel;
  } else if (auto full = env("AWS_CONTAINER_CREDENTIALS_FULL_URI"); full && !full->empty()) {
    variable = "AWS_CONTAINER_CREDENTIALS_FULL_URI";
    url = *full;
    const std::string host = detail::http_url_host(url);
    bool allowed = false;
    for (auto h : container_hosts) allowed = allowed || host == h;
    if (!allowed)
      return failed(variable + " '" + url +
                    "': must be an http:// URL to 169.254.170.2, 169.254.170.23, "
                    "[fd00:ec2::23] or a loopback address");
  } else {
    return std::nullopt;
  }
  signing::resolve_result r = fetch_container(url, variable, env);
  if (r) r.refetch = [url, variable, env] { return fetch_container(url, variable, env); };
  return r;
}

namespace {

bool has_static_keys(const signing::profile_settings& s) {
  return s.get("aws_access_key_id") || s.get("aws_secret_access_key");
}

// has_role: botocore's _has_assume_role_config_vars: role_arn, and not a web identity profile.
bool has_role(const signing::profile_settings& s) {
  return s.get("role_arn") && !s.get("web_identity_token_file");
}

// chain: what every step of one resolution shares.
struct chain {
  signing::environment env;
  detail::service_client client;
  std::string top_profile;  // STS is configured (region, endpoint) by the profile the run names
  std::string region;
  std::vector<std::string> visited;  // the profiles an assume-role chain went through
};

detail::sts_endpoint sts_of(const chain& c) {
  std::string url = configured_endpoint_url("sts", "", c.top_profile, c.env).value;
  if (url.empty()) url = "https://sts." + c.region + ".amazonaws.com";
  return {url, c.region, c.client};
}

// default_session_name: botocore's, fixed when the provider is built and kept for its refreshes.
std::string default_session_name() {
  return "botocore-session-" +
         std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count());
}

signing::resolve_result profile_sources(const std::string& profile,
                                        const std::optional<signing::profile_settings>& settings,
                                        chain& c, bool env_vars);
signing::resolve_result assume_role_profile(const std::string& profile,
                                            const signing::profile_settings& settings, chain& c);

// web_identity: botocore's AssumeRoleWithWebIdentityProvider: AWS_WEB_IDENTITY_TOKEN_FILE,
// AWS_ROLE_ARN and AWS_ROLE_SESSION_NAME (unless the profile was named explicitly) over the
// profile's web_identity_token_file, role_arn and role_session_name.
std::optional<signing::resolve_result> web_identity(
    const std::string& profile, const std::optional<signing::profile_settings>& settings,
    const chain& c, bool env_vars) {
  auto value = [&](const char* key, const char* variable) -> std::optional<std::string> {
    if (env_vars)
      if (auto v = c.env(variable); v && !v->empty()) return v;
    return settings ? settings->get(key) : std::nullopt;
  };
  auto token_file = value("web_identity_token_file", "AWS_WEB_IDENTITY_TOKEN_FILE");
  if (!token_file) return std::nullopt;
  auto role_arn = value("role_arn", "AWS_ROLE_ARN");
  if (!role_arn)
    return failed("web identity token file " + *token_file + " (profile '" + profile +
                  "' or AWS_WEB_IDENTITY_TOKEN_FILE) has no role: set role_arn or AWS_ROLE_ARN");
  detail::role_request req{
      *role_arn,
      value("role_session_name", "AWS_ROLE_SESSION_NAME").value_or(default_session_name()),
      std::nullopt, std::nullopt,
      "assume-role-with-web-identity (profile " + profile + ", role " + *role_arn + ")"};
  const auto sts = sts_of(c);
  const std::string file = *token_file;
  auto r = detail::assume_role_with_web_identity(req, file, sts);
  if (r)
    r.refetch = [req, file, sts] { return detail::assume_role_with_web_identity(req, file, sts); };
  return r;
}

// source_credentials: botocore's _resolve_credentials_from_profile: a source profile with keys
// or without a role of its own is resolved by the profile sources (never the environment);
// otherwise it assumes its own role first.
signing::resolve_result source_credentials(const std::string& source, chain& c) {
  auto settings = signing::load_profile_settings(source, c.env);
  if (!settings) return failed("the source_profile '" + source + "' does not exist");
  if (has_static_keys(*settings) || !has_role(*settings)) {
    auto r = profile_sources(source, settings, c, false);
    if (!r && r.not_found) r.error = "the source_profile '" + source + "' has no credentials";
    return r;
  }
  return assume_role_profile(source, *settings, c);
}

// assume_role_profile: botocore's AssumeRoleProvider for a profile with role_arn.
signing::resolve_result assume_role_profile(const std::string& profile,
                                            const signing::profile_settings& settings, chain& c) {
  const std::string named = "profile '" + profile + "' (" + settings.where + ")";
  const std::string role_arn = *settings.get("role_arn");
  if (settings.get("mfa_serial"))
    return failed(named + " sets mfa_serial: assuming " + role_arn +
                  " needs an MFA code, which an unattended run cannot ask for. Use a profile "
                  "without mfa_serial (a role that trusts the source without MFA, SSO or "
                  "credentials from `aws sts get-session-token`)");
  auto source_profile = settings.get("source_profile");
  auto credential_source = settings.get("credential_source");
  if (source_profile && credential_source)
    return failed(named + " has both source_profile and credential_source; keep one");
  if (!source_profile && !credential_source)
    return failed(named + " has role_arn but neither source_profile nor credential_source");
  detail::role_request req;
  req.role_arn = role_arn;
  req.session_name = settings.get("role_session_name").value_or(default_session_name());
  req.external_id = settings.get("external_id");
  if (auto d = settings.get("duration_seconds")) {
    char* end = nullptr;
    const long v = std::strtol(d->c_str(), &end, 10);
    if (end == d->c_str() || *end != '\0' || v < 900 || v > 43200)
      return failed(named + ": duration_seconds '" + *d +
                    "' is not a number of seconds from 900 to 43200");
    req.duration_seconds = v;
  }
  signing::resolve_result source;
  if (credential_source) {
    req.source =
        "assume-role (profile " + profile + " via credential_source " + *credential_source + ")";
    std::optional<signing::resolve_result> from;
    if (*credential_source == "Environment")
      from = signing::explicit_or_environment({}, c.env);
    else if (*credential_source == "EcsContainer")
      from = container_credentials(c.env);
    else if (*credential_source == "Ec2InstanceMetadata")
      from = instance_metadata_credentials(c.env);
    else
      return failed(named + ": credential_source '" + *credential_source +
                    "' is not one of Environment, EcsContainer, Ec2InstanceMetadata");
    if (!from)
      return failed(named + ": credential_source " + *credential_source + " has no credentials");
    source = std::move(*from);
  } else {
    req.source = "assume-role (profile " + profile + " via source_profile " + *source_profile + ")";
    // As botocore: a profile may name itself (its own keys assume its role); any other return
    // to a profile already on the chain is a loop.
    const bool seen =
        std::find(c.visited.begin(), c.visited.end(), *source_profile) != c.visited.end();
    if (seen && (*source_profile != profile || !has_static_keys(settings)))
      return failed(named + ": source_profile '" + *source_profile +
                    "' leads back to a profile already on the chain");
    c.visited.push_back(*source_profile);
    source = source_credentials(*source_profile, c);
  }
  if (!source) return failed(named + ": " + source.error);
  // The source's own refresh (a role of a role, SSO, credential_process) happens when a
  // refresh of this role finds it near its expiry.
  auto caller = signing::make_provider(std::move(source));
  const auto sts = sts_of(c);
  auto r = detail::assume_role(req, *caller->current(), sts);
  if (r)
    r.refetch = [req, caller, sts] { return detail::assume_role(req, *caller->current(), sts); };
  return r;
}

// profile_sources: botocore's profile providers, in order: web identity, SSO, the shared
// credentials file, credential_process, the config file.
signing::resolve_result profile_sources(const std::string& profile,
                                        const std::optional<signing::profile_settings>& settings,
                                        chain& c, bool env_vars) {
  if (auto r = web_identity(profile, settings, c, env_vars)) return std::move(*r);
  if (settings)
    if (auto r = detail::sso_credentials(profile, *settings, c.client)) return std::move(*r);
  return signing::profile_credentials(profile, c.env, env_vars);
}

}  // namespace

signing::resolve_result resolve_run_credentials(const signing::resolve_options& opts,
                                                const signing::environment& env,
                                                const chain_network& net) {
  if (auto r = signing::explicit_or_environment(opts, env)) return std::move(*r);
  aws_flags flags;
  flags.profile = opts.profile;
  flags.ca_bundle = net.ca_bundle;
  const aws_settings s = resolve_aws_settings(flags, env);
  detail::service_client client;
  client.ca_bundle = s.ca_bundle.value;
  client.verify_ssl = net.verify_ssl;
  client.env = env;
  chain c{env, std::move(client), s.profile, s.region.value, {s.profile}};
  const bool env_vars = opts.profile.empty();
  auto settings = signing::load_profile_settings(s.profile, env);
  signing::resolve_result r = settings && has_role(*settings)
                                  ? assume_role_profile(s.profile, *settings, c)
                                  : profile_sources(s.profile, settings, c, env_vars);
  if (r || !r.not_found) return r;
  if (auto container = container_credentials(env)) return std::move(*container);
  if (auto instance = instance_metadata_credentials(env)) return std::move(*instance);
  r.error +=
      ", the container (AWS_CONTAINER_CREDENTIALS_*_URI unset) and the instance metadata "
      "service";
  return r;
}

}  // namespace onboard
