// cmd_endpoint.cpp: `chime-onboard endpoint`: where a run with the same flags, environment and
// config files would send its requests and which region its signatures would name, with where
// each came from. No network. It answers "why does it go there?" and lets a test compare the
// resolution with botocore's on the same files.
#include <onboard/cli/aws_settings.hpp>
#include <onboard/cli/cli_args.hpp>
#include <onboard/cli/commands.hpp>
#include <onboard/cli/exit_codes.hpp>
#include <onboard/cli/json_text.hpp>

#include <boost/json.hpp>

#include <iostream>

namespace onboard {

int cmd_endpoint(const args_t& args) {
  cli::parser p{"endpoint",
                "Show the endpoint URL and signing region a run would use, and where each comes "
                "from (flags, environment, ~/.aws/config, the endpoint rules). No network.",
                "chime-onboard endpoint --profile corp --output json"};
  auto& profile = p.add_value("profile", "NAME", "AWS profile (else AWS_PROFILE, else default)");
  auto& region = p.add_value("region", "REGION", "as for invite");
  auto& endpoint_url = p.add_value("endpoint-url", "URL", "as for invite");
  auto& output = p.add_value("output", "FORMAT", "text | json", "text");
  p.add_epilog(exit_codes_help);
  if (auto rc = p.parse(args)) return *rc;
  if (output.value() != "text" && output.value() != "json")
    return p.usage_error("--output '" + output.value() + "' is not text or json");

  aws_flags f;
  f.profile = profile.value();
  f.region = region.value();
  f.endpoint_url = endpoint_url.value();
  const aws_settings s = resolve_aws_settings(f, signing::process_environment());
  if (output.value() == "json") {
    boost::json::object o;
    o["profile"] = s.profile;
    o["region"] = s.region.value;
    o["region_source"] = s.region.source;
    o["endpoint_url"] = s.endpoint_url.value;
    o["endpoint_url_source"] = s.endpoint_url.source;
    o["signing_region"] = s.signing_region.value;
    o["signing_region_source"] = s.signing_region.source;
    std::cout << json_text(o) << "\n";
  } else {
    std::cout << "profile         " << s.profile << "\n"
              << "region          " << s.region.value << "  (" << s.region.source << ")\n"
              << "endpoint        " << s.endpoint_url.value << "  (" << s.endpoint_url.source
              << ")\n"
              << "signing region  " << s.signing_region.value << "  (" << s.signing_region.source
              << ")\n";
  }
  return exit_ok;
}

}  // namespace onboard
