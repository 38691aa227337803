// SSO through the run's credential chain, against the portal responder (aws_responders.hpp):
// the sso-session and legacy forms, the token cache file botocore names (sha1 of the session
// name or the start URL), refresh re-reading the cache, and the stops that tell the user to log in.
#include "aws_responders.hpp"
#include "cli_env.hpp"

#include <onboard/cli/credential_chain.hpp>

#include <gtest/gtest.h>

namespace {

using namespace onboard;
using namespace onboard::testkit;
using namespace onboard::testkit::cli_test;
using namespace std::chrono_literals;

// sso_setup: a HOME with the config, a portal responder and a helper to write the token cache
// as `aws sso login` does.
struct sso_setup {
  temp_dir home;
  std::atomic<int> served{0};
  credential_responder portal{sso_portal("sso-access-token", served)};
  explicit sso_setup(const std::string& config) { write_file(home / "config", config); }
  void cache(const std::string& file_sha1, const std::string& token,
             std::chrono::system_clock::duration valid) {
    std::filesystem::create_directories(home / ".aws/sso/cache");
    write_file(home / ".aws/sso/cache" / (file_sha1 + ".json"),
               R"({"startUrl": "https://corp.awsapps.com/start", "region": "eu-west-1", )"
               R"("accessToken": ")" +
                   token + R"(", "expiresAt": ")" +
                   signing::format_iso8601(std::chrono::system_clock::now() + valid) + R"("})");
  }
  signing::resolve_result resolve(const std::string& profile) const {
    signing::resolve_options o;
    o.profile = profile;
    return resolve_run_credentials(
        o, signing::map_environment({{"HOME", home.path().string()},
                                     {"AWS_CONFIG_FILE", (home / "config").string()},
                                     {"AWS_SHARED_CREDENTIALS_FILE", (home / "none").string()},
                                     {"AWS_EC2_METADATA_DISABLED", "true"},
                                     {"AWS_ENDPOINT_URL_SSO", portal.url("/")}}));
  }
};

const std::string session_config =
    "[profile admin]\nsso_session = corp\nsso_account_id = 123456789012\n"
    "sso_role_name = ChimeAdmin\nregion = us-east-1\n"
    "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\n"
    "sso_registration_scopes = sso:account:access\n";
// sha1("corp"), as botocore's SSOTokenLoader keys the sso-session form.
const std::string corp_sha1 = "ee0bfd2552fbd840c02cc48b6e823320543c450f";
// sha1("https://corp.awsapps.com/start"), the legacy form's key.
const std::string start_url_sha1 = "a51746d4aa793ae07b25e90c3a5db96fc7832bd7";

TEST(sso, the_session_form_reads_the_cached_token_and_asks_the_portal) {
  sso_setup s(session_config);
  s.cache(corp_sha1, "sso-access-token", 8h);
  auto r = s.resolve("admin");
  ASSERT_TRUE(r) << r.error;
  EXPECT_EQ(r->access_key_id, "ASIASSO1");
  EXPECT_EQ(r->source, "sso (profile admin, role ChimeAdmin in account 123456789012)");
  ASSERT_TRUE(r->expiration.has_value());
  EXPECT_GT(*r->expiration, std::chrono::system_clock::now() + 50min);
  auto reqs = s.portal.requests();
  ASSERT_EQ(reqs.size(), 1u);
  auto q = form_fields(reqs[0].target.substr(reqs[0].target.find('?') + 1));
  EXPECT_EQ(q["account_id"], "123456789012");
  EXPECT_EQ(q["role_name"], "ChimeAdmin");
  ASSERT_TRUE(r.refetch);
  auto again = r.refetch();
  ASSERT_TRUE(again) << again.error;
  EXPECT_EQ(again->access_key_id, "ASIASSO2");
}

TEST(sso, the_legacy_form_keys_the_cache_by_start_url) {
  sso_setup s(
      "[profile old]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\n"
      "sso_account_id = 123456789012\nsso_role_name = ChimeAdmin\n");
  s.cache(start_url_sha1, "sso-access-token", 8h);
  auto r = s.resolve("old");
  ASSERT_TRUE(r) << r.error;
  EXPECT_EQ(r->access_key_id, "ASIASSO1");
}

TEST(sso, an_expired_or_missing_token_says_to_log_in) {
  sso_setup s(session_config);
  auto missing = s.resolve("admin");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error.find("run `aws sso login --profile admin`"), std::string::npos)
      << missing.error;
  s.cache(corp_sha1, "sso-access-token", -1min);
  auto expired = s.resolve("admin");
  ASSERT_FALSE(expired);
  EXPECT_NE(expired.error.find("expired"), std::string::npos) << expired.error;
  EXPECT_NE(expired.error.find("run `aws sso login --profile admin`"), std::string::npos)
      << expired.error;
  s.cache(corp_sha1, "revoked-token", 8h);
  auto refused = s.resolve("admin");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error.find("HTTP 401"), std::string::npos) << refused.error;
  EXPECT_NE(refused.error.find("aws sso login --profile admin"), std::string::npos)
      << refused.error;
  EXPECT_EQ(s.served, 0);
}

TEST(sso, incomplete_configuration_names_what_is_missing) {
  sso_setup s("[profile half]\nsso_account_id = 123456789012\nsso_start_url = https://x/start\n");
  auto r = s.resolve("half");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error.find("profile 'half'"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("sso_region, sso_role_name"), std::string::npos) << r.error;
}

}  // namespace
