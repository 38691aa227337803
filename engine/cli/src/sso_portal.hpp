// sso_portal.hpp (internal): credentials from IAM Identity Center (SSO), as botocore's
// SSOProvider: the profile names the account and role (sso_account_id, sso_role_name) and the
// SSO instance, either through an `[sso-session NAME]` section (sso_session = NAME) or, in the
// legacy form, with sso_start_url and sso_region in the profile itself. The access token is the
// one `aws sso login` cached in ~/.aws/sso/cache/<sha1 of the session name, or of the start URL
// in the legacy form>.json (accessToken, expiresAt); it is exchanged at the portal's
// GetRoleCredentials for role credentials, and read again at every refresh (a new login
// replaces it). An expired token stops with "run `aws sso login --profile X`": an unattended run
// cannot open the browser that login needs.
#pragma once

#include "service_http.hpp"

#include <onboard/signing/credentials.hpp>

#include <optional>
#include <string>

namespace onboard::detail {

// sso_cache_file: ~/.aws/sso/cache/<sha1 hex of `key`>.json.
std::string sso_cache_file(const std::string& key, const signing::environment& env);

// sso_credentials: nullopt when the profile is not an SSO profile (neither sso_account_id nor
// sso_role_name); an error naming the profile for incomplete configuration, a missing or expired
// token and a refusal by the portal. The portal is AWS_ENDPOINT_URL_SSO (and the other endpoint
// rules) or https://portal.sso.<sso_region>.amazonaws.com.
std::optional<signing::resolve_result> sso_credentials(const std::string& profile,
                                                       const signing::profile_settings& settings,
                                                       const service_client& client);

}  // namespace onboard::detail
