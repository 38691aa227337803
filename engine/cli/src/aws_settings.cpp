#include <onboard/cli/aws_settings.hpp>

#include <onboard/chime/endpoint_rules.hpp>
#include <onboard/core/text.hpp>

#include <cctype>
#include <initializer_list>
#include <optional>

namespace onboard {

namespace {

// candidate: one place a value may come from, in precedence order.
struct candidate {
  enum kind { flag, env, config } k;
  std::string_view name;
};

setting first_of(const std::string& flag_value, std::string_view flag_name,
                 std::initializer_list<candidate> rest, const std::string& profile,
                 const signing::environment& env, std::string fallback) {
  if (!flag_value.empty()) return {flag_value, std::string(flag_name)};
  for (const auto& c : rest) {
    std::optional<std::string> v;
    if (c.k == candidate::env)
      v = env(c.name);
    else if (c.k == candidate::config)
      v = signing::config_value(profile, c.name, env);
    if (v && !v->empty())
      return {*v, c.k == candidate::env ? std::string(c.name) : "config " + std::string(c.name)};
  }
  return {std::move(fallback), "default"};
}

// ignore_configured_endpoints: botocore's ensure_boolean: only "true" (any case) is true.
bool ignore_configured_endpoints(const std::string& profile, const signing::environment& env) {
  auto v = env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
  if (!v) v = signing::config_value(profile, "ignore_configured_endpoint_urls", env);
  return v && iequals(*v, "true");
}

}  // namespace

setting configured_endpoint_url(std::string_view service, const std::string& flag,
                                const std::string& profile, const signing::environment& env) {
  if (!flag.empty()) return {flag, "--endpoint-url"};
  if (ignore_configured_endpoints(profile, env)) return {};
  std::string variable = "AWS_ENDPOINT_URL_";
  for (char c : service)
    variable.push_back(c == ' ' || c == '-'
                           ? '_'
                           : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  for (const std::string& name : {variable, std::string("AWS_ENDPOINT_URL")})
    if (auto v = env(name); v && !v->empty()) return {*v, name};
  const std::string key = std::string(service) + ".endpoint_url";
  if (auto services = signing::config_value(profile, "services", env)) {
    const std::string section = "services " + *services;
    if (auto v = signing::config_section_value(section, key, env))
      return {*v, "config [" + section + "] " + key};
  }
  if (auto v = signing::config_value(profile, "endpoint_url", env))
    return {*v, "config endpoint_url"};
  return {};
}

aws_settings resolve_aws_settings(const aws_flags& flags, const signing::environment& env) {
  aws_settings s;
  s.profile = signing::profile_name(flags.profile, env);
  using c = candidate;
  s.region =
      first_of(flags.region, "--region",
               {{c::env, "AWS_REGION"}, {c::env, "AWS_DEFAULT_REGION"}, {c::config, "region"}},
               s.profile, env, "us-east-1");
  s.endpoint_url = configured_endpoint_url("chime", flags.endpoint_url, s.profile, env);
  if (s.endpoint_url.value.empty()) {
    auto rules = chime::default_endpoint(s.region.value);
    s.endpoint_url = {std::move(rules.url), "endpoint rules for region " + s.region.value};
    s.signing_region = {std::move(rules.signing_region), s.endpoint_url.source};
  } else {
    s.signing_region = s.region;
  }
  s.ca_bundle = first_of(flags.ca_bundle, "--ca-bundle",
                         {{c::env, "AWS_CA_BUNDLE"}, {c::config, "ca_bundle"}}, s.profile, env, "");
  s.max_attempts =
      first_of(flags.max_attempts, "--max-attempts",
               {{c::env, "AWS_MAX_ATTEMPTS"}, {c::config, "max_attempts"}}, s.profile, env, "10");
  return s;
}

}  // namespace onboard
