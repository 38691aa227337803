#include <onboard/cli/credential_chain.hpp>

#include "metadata_http.hpp"

#include <onboard/core/text.hpp>

#include <array>
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

signing::resolve_result resolve_run_credentials(const signing::resolve_options& opts,
                                                const signing::environment& env) {
  signing::resolve_result r = signing::resolve_credentials(opts, env);
  if (r || !r.not_found) return r;
  if (auto c = container_credentials(env)) return std::move(*c);
  if (auto i = instance_metadata_credentials(env)) return std::move(*i);
  r.error +=
      ", the container (AWS_CONTAINER_CREDENTIALS_*_URI unset) and the instance metadata "
      "service";
  return r;
}

}  // namespace onboard
