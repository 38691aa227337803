// onboard/cli/aws_settings.hpp: where the region, endpoint, CA bundle and attempt limit come
// from, resolved as the AWS CLI does: command-line flag > environment variable > config file >
// default. Each value remembers its source so `--log-level debug` can say why it was chosen.
//
//   #include <onboard/cli/cli_args.hpp>
//   // given: const cli::option& region_flag, const cli::option& endpoint_flag
//   aws_flags f;
//   f.region = region_flag.value();  // empty when not given: the next source decides
//   f.endpoint_url = endpoint_flag.value();
//   auto s = resolve_aws_settings(f, signing::process_environment());
#pragma once

#include <onboard/signing/credentials.hpp>

#include <string>
#include <string_view>

namespace onboard {

// aws_flags: what the command line said (empty: not given).
struct aws_flags {
  std::string profile;
  std::string region;
  std::string endpoint_url;
  std::string ca_bundle;
  std::string max_attempts;
};

// setting: a resolved value and where it came from ("--region", "AWS_REGION", "config", "default").
struct setting {
  std::string value;
  std::string source;
};

struct aws_settings {
  std::string profile;
  setting region;
  setting endpoint_url;
  // signing_region: the region the signatures name: the configured one with a configured
  // endpoint; what the endpoint rules say (us-east-1 in the `aws` partition) with the public one.
  setting signing_region;
  setting ca_bundle;     // empty value: system CAs
  setting max_attempts;  // a decimal string; validated by the caller
};

// resolve_aws_settings:
//   region:       --region > AWS_REGION > AWS_DEFAULT_REGION > config `region` > us-east-1
//   endpoint_url: --endpoint-url > AWS_ENDPOINT_URL_CHIME > AWS_ENDPOINT_URL >
//                 `[services NAME]` `chime = endpoint_url` (NAME from the profile's `services`) >
//                 the profile's `endpoint_url` > the public endpoint (chime::default_endpoint).
//                 AWS_IGNORE_CONFIGURED_ENDPOINT_URLS (else the profile's
//                 `ignore_configured_endpoint_urls`) = true skips every source but the flag.
//                 This is botocore's order (configprovider.py, ConfiguredEndpointProvider).
//   ca_bundle:    --ca-bundle > AWS_CA_BUNDLE > config `ca_bundle`
//   max_attempts: --max-attempts > AWS_MAX_ATTEMPTS > config `max_attempts` > 10
aws_settings resolve_aws_settings(const aws_flags& flags, const signing::environment& env);

// configured_endpoint_url: the endpoint_url rule above for any service (`service` is its
// lower-case id: "chime", "sts", "sso"; the variable is AWS_ENDPOINT_URL_<ID upper-cased>, the
// `[services NAME]` key `<id> = endpoint_url`). An empty value: none is configured, the
// service's default endpoint applies.
setting configured_endpoint_url(std::string_view service, const std::string& flag,
                                const std::string& profile, const signing::environment& env);

}  // namespace onboard
