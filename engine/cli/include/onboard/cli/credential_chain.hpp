// onboard/cli/credential_chain.hpp: the whole credential chain of a run, in botocore's order:
// signing::resolve_credentials (explicit keys, the environment, the profile's keys and
// credential_process), then the container credentials endpoint, then the instance metadata
// service (IMDSv2). Sources that live on the
// network are here, beside io, rather than in signing, which stays free of sockets.
//
//   auto r = onboard::resolve_run_credentials(opts, onboard::signing::process_environment());
//   if (!r) { std::cerr << r.error << "\n"; return exit_config; }
#pragma once

#include <onboard/signing/credentials.hpp>

#include <optional>

namespace onboard {

// resolve_run_credentials: the chain above. Sources after the profile are only asked when the
// profile had nothing (not when one of its sources failed: that error is the answer).
signing::resolve_result resolve_run_credentials(const signing::resolve_options& opts,
                                                const signing::environment& env);

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
