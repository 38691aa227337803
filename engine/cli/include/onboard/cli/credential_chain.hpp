// onboard/cli/credential_chain.hpp: the whole credential chain of a run, in botocore's order
// (credentials.py, create_credential_resolver):
//   1. explicit keys, then the environment (AWS_ACCESS_KEY_ID, ...; not with --profile)
//   2. assume-role: the profile's role_arn with source_profile (that profile's credentials,
//      itself possibly a role) or credential_source (Environment, EcsContainer,
//      Ec2InstanceMetadata): STS AssumeRole signed with the source's keys; role_session_name,
//      external_id, duration_seconds; mfa_serial is refused (nobody to type the code)
//   3. web identity: web_identity_token_file + role_arn, or AWS_WEB_IDENTITY_TOKEN_FILE +
//      AWS_ROLE_ARN (+ AWS_ROLE_SESSION_NAME): STS AssumeRoleWithWebIdentity
//   4. SSO: sso_session (an [sso-session NAME] section) or sso_start_url/sso_region, with
//      sso_account_id and sso_role_name: the token `aws sso login` cached, GetRoleCredentials
//   5. the profile's keys in the credentials file, credential_process, the config file's keys
//   6. the container credentials endpoint, then the instance metadata service (IMDSv2).
// STS is https://sts.<region>.amazonaws.com unless AWS_ENDPOINT_URL_STS (or the other endpoint
// rules) says otherwise, the SSO portal https://portal.sso.<sso_region>.amazonaws.com unless
// AWS_ENDPOINT_URL_SSO. Every temporary set comes back with `refetch`, so the run's
// credential_provider refreshes it before it expires. Sources that live on the network are here,
// beside io, rather than in signing, which stays free of sockets.
//
//   auto r = onboard::resolve_run_credentials(opts, onboard::signing::process_environment());
//   if (!r) { std::cerr << r.error << "\n"; return exit_config; }
#pragma once

#include <onboard/signing/credentials.hpp>

#include <optional>
#include <string>

namespace onboard {

// chain_network: how the chain reaches STS and the SSO portal (over https): the run's
// --ca-bundle (empty: AWS_CA_BUNDLE, else the profile's ca_bundle, else the system's CAs) and
// --no-verify-ssl. HTTPS_PROXY applies as to the run's own requests.
struct chain_network {
  std::string ca_bundle;
  bool verify_ssl = true;
};

// resolve_run_credentials: the chain above. Sources after the profile are only asked when the
// profile had nothing (not when one of its sources failed: that error is the answer).
signing::resolve_result resolve_run_credentials(const signing::resolve_options& opts,
                                                const signing::environment& env,
                                                const chain_network& net = {});

// container_credentials: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (on http://169.254.170.2) or
// AWS_CONTAINER_CREDENTIALS_FULL_URI (http, to the container agent's or a loopback address),
// with AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (read at every fetch) or
// AWS_CONTAINER_AUTHORIZATION_TOKEN as the Authorization header. nullopt when neither URI
// variable is set. The answer's Expiration makes the credentials refreshable.
std::optional<signing::resolve_result> container_credentials(const signing::environment& env);

// instance_metadata_credentials: IMDSv2 (PUT latest/api/token, GET the role name under
// latest/meta-data/iam/security-credentials/, GET its credentials) on http://169.254.169.254/ or
// AWS_EC2_METADATA_SERVICE_ENDPOINT; nullopt when AWS_EC2_METADATA_DISABLED is true or there is
// no role to ask for (not on EC2).
std::optional<signing::resolve_result> instance_metadata_credentials(
    const signing::environment& env);

}  // namespace onboard
