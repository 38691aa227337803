#include <onboard/cli/aws_settings.hpp>

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

}  // namespace

aws_settings resolve_aws_settings(const aws_flags& flags, const signing::environment& env) {
  aws_settings s;
  s.profile = signing::profile_name(flags.profile, env);
  using c = candidate;
  s.region =
      first_of(flags.region, "--region",
               {{c::env, "AWS_REGION"}, {c::env, "AWS_DEFAULT_REGION"}, {c::config, "region"}},
               s.profile, env, "us-east-1");
  s.endpoint_url = first_of(flags.endpoint_url, "--endpoint-url",
                            {{c::env, "AWS_ENDPOINT_URL_CHIME"},
                             {c::env, "AWS_ENDPOINT_URL"},
                             {c::config, "chime.endpoint_url"},
                             {c::config, "endpoint_url"}},
                            s.profile, env, default_chime_endpoint);
  s.ca_bundle = first_of(flags.ca_bundle, "--ca-bundle",
                         {{c::env, "AWS_CA_BUNDLE"}, {c::config, "ca_bundle"}}, s.profile, env, "");
  s.max_attempts =
      first_of(flags.max_attempts, "--max-attempts",
               {{c::env, "AWS_MAX_ATTEMPTS"}, {c::config, "max_attempts"}}, s.profile, env, "10");
  return s;
}

}  // namespace onboard
