// onboard/chime/endpoint_rules.hpp: where the Chime API is and which region signs for it when no
// endpoint URL is configured, as botocore's endpoint rules for Chime
// (botocore/data/chime/2018-05-01/endpoint-rule-set-1.json) decide it.
//
// The region is matched to its partition as botocore does (its regions by name, then by pattern;
// anything else is the `aws` partition). In `aws` Chime is a global service: one endpoint in
// us-east-1, signed with us-east-1 whatever region is configured. In the other partitions the
// endpoint is regional and signed with the region itself. A configured endpoint URL (flag,
// environment, config file) bypasses these rules and keeps the configured region for signing.
// FIPS and dual-stack endpoints are not supported.
//
//   auto ep = onboard::chime::default_endpoint("eu-west-1");
//   ep.url;             // "https://chime.us-east-1.amazonaws.com"
//   ep.signing_region;  // "us-east-1"
#pragma once

#include <string>
#include <string_view>

namespace onboard::chime {

struct rules_endpoint {
  std::string url;
  std::string signing_region;
};

// partition_of: "aws", "aws-cn", "aws-us-gov", "aws-iso" or "aws-iso-b".
std::string_view partition_of(std::string_view region);

// default_endpoint: the endpoint and signing region the rules give for `region`.
rules_endpoint default_endpoint(std::string_view region);

}  // namespace onboard::chime
