// sts_client.hpp (internal): the two STS calls that hand out role credentials, in the Query
// API's wire format (POST form `Action=...&Version=2011-06-15&...`, XML answer):
// AssumeRole, signed with SigV4 (service `sts`) by the source credentials, and
// AssumeRoleWithWebIdentity, unsigned, with the token read from its file at every call (the
// issuer rotates it).
#pragma once

#include "service_http.hpp"

#include <onboard/signing/credentials.hpp>

#include <optional>
#include <string>

namespace onboard::detail {

// sts_endpoint: where STS is and the region it signs for.
struct sts_endpoint {
  std::string url;  // "https://sts.eu-west-1.amazonaws.com" or a configured endpoint URL
  std::string region;
  service_client client;
};

// role_request: the AssumeRole* parameters; `source` names the credentials for messages and the
// run's start line ("assume-role (profile X via source_profile Y)").
struct role_request {
  std::string role_arn;
  std::string session_name;
  std::optional<std::string> external_id;
  std::optional<long> duration_seconds;
  std::string source;
};

// assume_role: AssumeRole signed with `caller` (its session token as X-Amz-Security-Token).
signing::resolve_result assume_role(const role_request& r, const signing::credentials& caller,
                                    const sts_endpoint& sts);

// assume_role_with_web_identity: AssumeRoleWithWebIdentity with the token in `token_file`.
signing::resolve_result assume_role_with_web_identity(const role_request& r,
                                                      const std::string& token_file,
                                                      const sts_endpoint& sts);

// parse_sts_credentials: the Credentials element of an AssumeRole* answer; errors start with
// `where` and never quote the answer (it holds the secret).
signing::resolve_result parse_sts_credentials(const std::string& xml, std::string source,
                                              const std::string& where);

}  // namespace onboard::detail
