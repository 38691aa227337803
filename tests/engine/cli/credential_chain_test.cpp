// The run's credential chain beyond the profile: container credentials and IMDSv2 from local
// responders that follow the documented wire formats (the container agent: GET with an
// Authorization header; IMDSv2: PUT a token, GET the role, GET its credentials; both answer JSON
// with AccessKeyId / SecretAccessKey / Token / Expiration), their place in botocore's order, and
// the cross-check that Debian's boto3 resolves the same configuration to the same key id.
#include "aws_responders.hpp"
#include "cli_env.hpp"
#include "credential_responder.hpp"

#include <onboard/cli/credential_chain.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <regex>

namespace {

using namespace onboard;
using namespace onboard::testkit;
using namespace onboard::testkit::cli_test;
using namespace std::chrono_literals;
using sys = std::chrono::system_clock;

// container_answer: what the ECS agent answers (its documented shape, RoleArn included).
std::string container_answer(const std::string& key_id) {
  return R"({"AccessKeyId": ")" + key_id +
         R"(", "SecretAccessKey": "containerSecret/K7MDENGbPxRfiCY", "Token": "containerToken-)" +
         key_id + R"(", "Expiration": ")" + onboard::signing::format_iso8601(sys::now() + 1h) +
         R"(", "RoleArn": "arn:aws:iam::123456789012:role/task"})";
}

// responder_for: answers GET /creds with a fresh key id each time (ASIACONTAINER1, 2, ...).
credential_responder::handler numbered_keys(std::atomic<int>& served) {
  return [&served](const credential_responder::request& r) {
    credential_responder::answer a;
    if (r.method != "GET" || r.target != "/creds") {
      a.status = 404;
      return a;
    }
    a.body = container_answer("ASIACONTAINER" + std::to_string(++served));
    return a;
  };
}

TEST(container_credentials, absent_without_either_variable) {
  EXPECT_FALSE(container_credentials(signing::map_environment({})).has_value());
}

TEST(container_credentials, full_uri_and_token_give_refreshable_credentials) {
  std::atomic<int> served{0};
  credential_responder agent(numbered_keys(served));
  auto env = signing::map_environment({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", agent.url("/creds")},
                                       {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "Basic abc=="}});
  auto r = container_credentials(env);
  ASSERT_TRUE(r && *r) << (r ? r->error : "nullopt");
  EXPECT_EQ((*r)->access_key_id, "ASIACONTAINER1");
  EXPECT_EQ((*r)->session_token.reveal(), "containerToken-ASIACONTAINER1");
  ASSERT_TRUE((*r)->expiration.has_value());
  EXPECT_GT(*(*r)->expiration, sys::now() + 50min);
  auto reqs = agent.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "GET");
  EXPECT_EQ(reqs[0].headers["authorization"], "Basic abc==");
  EXPECT_EQ(reqs[0].headers["accept"], "application/json");

  ASSERT_TRUE(r->refetch);
  auto again = r->refetch();
  ASSERT_TRUE(again) << again.error;
  EXPECT_EQ(again->access_key_id, "ASIACONTAINER2");
}

TEST(container_credentials, the_token_file_wins_and_is_read_at_every_fetch) {
  std::atomic<int> served{0};
  credential_responder agent(numbered_keys(served));
  temp_dir dir;
  write_file(dir / "token", "first-token\n");
  auto env = signing::map_environment(
      {{"AWS_CONTAINER_CREDENTIALS_FULL_URI", agent.url("/creds")},
       {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "ignored"},
       {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", (dir / "token").string()}});
  auto r = container_credentials(env);
  ASSERT_TRUE(r && *r) << (r ? r->error : "nullopt");
  write_file(dir / "token", "rotated-token");
  ASSERT_TRUE(r->refetch());
  auto reqs = agent.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].headers["authorization"], "first-token");
  EXPECT_EQ(reqs[1].headers["authorization"], "rotated-token");
}

TEST(container_credentials, a_full_uri_to_another_host_is_refused_naming_the_variable) {
  auto r = container_credentials(signing::map_environment(
      {{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://metadata.example.com/creds"}}));
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(*r);
  EXPECT_NE(r->error.find("AWS_CONTAINER_CREDENTIALS_FULL_URI"), std::string::npos) << r->error;
}

TEST(container_credentials, an_agent_that_keeps_failing_is_an_error_naming_it) {
  credential_responder agent([](const credential_responder::request&) {
    return credential_responder::answer{500, R"({"message":"agent down"})", {}};
  });
  auto r = container_credentials(
      signing::map_environment({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", agent.url("/creds")}}));
  ASSERT_TRUE(r.has_value());
  ASSERT_FALSE(*r);
  EXPECT_NE(r->error.find("HTTP 500"), std::string::npos) << r->error;
  EXPECT_NE(r->error.find(agent.url("/creds")), std::string::npos) << r->error;
  EXPECT_EQ(agent.requests().size(), 3u);  // botocore's three tries
}

// botocore's order: the profile's keys come before the container; the container only when the
// profile has nothing.
TEST(credential_chain, the_profile_comes_before_the_container) {
  std::atomic<int> served{0};
  credential_responder agent(numbered_keys(served));
  temp_dir home;
  write_file(home / "config", "[default]\nregion = us-east-1\n");
  write_file(home / "credentials",
             "[default]\naws_access_key_id = AKIAPROFILE\naws_secret_access_key = s\n");
  std::map<std::string, std::string> vars{
      {"HOME", home.path().string()},
      {"AWS_CONFIG_FILE", (home / "config").string()},
      {"AWS_CONTAINER_CREDENTIALS_FULL_URI", agent.url("/creds")}};
  vars["AWS_SHARED_CREDENTIALS_FILE"] = (home / "credentials").string();
  auto with_profile = resolve_run_credentials({}, signing::map_environment(vars));
  ASSERT_TRUE(with_profile) << with_profile.error;
  EXPECT_EQ(with_profile->access_key_id, "AKIAPROFILE");
  EXPECT_EQ(served, 0);

  vars["AWS_SHARED_CREDENTIALS_FILE"] = (home / "none").string();
  auto from_container = resolve_run_credentials({}, signing::map_environment(vars));
  ASSERT_TRUE(from_container) << from_container.error;
  EXPECT_EQ(from_container->access_key_id, "ASIACONTAINER1");
  EXPECT_NE(from_container->source.find("container"), std::string::npos);
}

// boto3_key: "METHOD KEYID" as Debian's boto3 resolves the environment (boto3_credentials.py).
std::string boto3_key(const child_process::options& env) {
  auto py = run({"/usr/bin/python3", ONBOARD_SOURCE_DIR "/tests/engine/cli/boto3_credentials.py"},
                env, 30s);
  EXPECT_EQ(py.status, 0) << py.err;
  return py.out;
}

// our_signature: what `chime-onboard sign` prints for a small request (its Authorization names
// the key id it signed with).
std::string our_signature(const child_process::options& env, const temp_dir& dir) {
  write_file(dir / "request.txt", "GET /accounts HTTP/1.1\r\nHost: example.com\r\n\r\n");
  auto ours = run({cli(), "sign", "--request", (dir / "request.txt").string(), "--region",
                   "us-east-1", "--time", "20150830T123600Z"},
                  env, 30s);
  EXPECT_EQ(ours.status, 0) << ours.err;
  return ours.out;
}

std::string signed_key_id(const std::string& signed_request) {
  std::smatch m;
  if (!std::regex_search(signed_request, m, std::regex("Credential=([A-Z0-9]+)/"))) return "";
  return m[1];
}

// The cross-check: the same environment, the same responder; chime-onboard (the key id it signs
// with) and Debian's boto3 name the same key. Also: `sign` never prints the session token.
TEST(credential_chain, chime_onboard_and_boto3_take_the_same_container_key) {
  credential_responder agent([](const credential_responder::request& r) {
    credential_responder::answer a;
    if (r.headers.count("authorization") == 0 || r.headers.at("authorization") != "tok-42") {
      a.status = 401;
      return a;
    }
    a.body = container_answer("ASIACROSSCHECK0");
    return a;
  });
  temp_dir home;
  auto env = clean_env(home.path());
  env.env_set["AWS_CONFIG_FILE"] = (home / "no-config").string();
  env.env_set["AWS_SHARED_CREDENTIALS_FILE"] = (home / "no-credentials").string();
  env.env_set["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = agent.url("/creds");
  env.env_set["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "tok-42";

  EXPECT_EQ(boto3_key(env), "container-role ASIACROSSCHECK0\n");
  const std::string ours = our_signature(env, home);
  EXPECT_EQ(signed_key_id(ours), "ASIACROSSCHECK0") << ours;
  EXPECT_FALSE(contains(ours, "containerToken")) << ours;
  EXPECT_TRUE(contains(ours, "X-Amz-Security-Token:<session token not shown>")) << ours;
}

// imds: an IMDSv2-only instance: the token is required for every GET, as on an instance with
// HttpTokens=required.
// With `fixed_key`, every fetch gets that key id; else ASIAINSTANCE1, 2, ...
credential_responder::handler imds(std::atomic<int>& served, std::string fixed_key = "") {
  return [&served, fixed_key](const credential_responder::request& r) {
    credential_responder::answer a;
    const std::string base = "/latest/meta-data/iam/security-credentials/";
    if (r.method == "PUT" && r.target == "/latest/api/token") {
      if (r.headers.count("x-aws-ec2-metadata-token-ttl-seconds") == 0) a.status = 400;
      a.body = "imds-session-token";
      return a;
    }
    auto t = r.headers.find("x-aws-ec2-metadata-token");
    if (t == r.headers.end() || t->second != "imds-session-token") {
      a.status = 401;
      return a;
    }
    if (r.method == "GET" && r.target == base) {
      a.body = "instance-role";
    } else if (r.method == "GET" && r.target == base + "instance-role") {
      a.body = R"({"Code": "Success", "LastUpdated": ")" +
               onboard::signing::format_iso8601(sys::now()) +
               R"(", "Type": "AWS-HMAC", "AccessKeyId": ")" +
               (fixed_key.empty() ? "ASIAINSTANCE" + std::to_string(++served) : fixed_key) +
               R"(", "SecretAccessKey": "instanceSecret/abc", "Token": "instanceToken", )"
               R"("Expiration": ")" +
               onboard::signing::format_iso8601(sys::now() + 6h) + R"("})";
    } else {
      a.status = 404;
    }
    return a;
  };
}

TEST(instance_metadata_credentials, token_then_role_then_credentials) {
  std::atomic<int> served{0};
  credential_responder service(imds(served));
  auto r = instance_metadata_credentials(
      signing::map_environment({{"AWS_EC2_METADATA_SERVICE_ENDPOINT",
                                 "http://127.0.0.1:" + std::to_string(service.port())}}));
  ASSERT_TRUE(r && *r) << (r ? r->error : "nullopt");
  EXPECT_EQ((*r)->access_key_id, "ASIAINSTANCE1");
  EXPECT_EQ((*r)->session_token.reveal(), "instanceToken");
  EXPECT_NE((*r)->source.find("instance-role"), std::string::npos);
  auto reqs = service.requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].method + " " + reqs[0].target, "PUT /latest/api/token");
  EXPECT_EQ(reqs[0].headers["x-aws-ec2-metadata-token-ttl-seconds"], "21600");
  EXPECT_EQ(reqs[2].target, "/latest/meta-data/iam/security-credentials/instance-role");
  ASSERT_TRUE(r->refetch);
  auto again = r->refetch();
  ASSERT_TRUE(again) << again.error;
  EXPECT_EQ(again->access_key_id, "ASIAINSTANCE2");
}

TEST(instance_metadata_credentials, disabled_asks_nothing) {
  std::atomic<int> served{0};
  credential_responder service(imds(served));
  auto r = instance_metadata_credentials(
      signing::map_environment({{"AWS_EC2_METADATA_DISABLED", "TRUE"},
                                {"AWS_EC2_METADATA_SERVICE_ENDPOINT", service.url("/")}}));
  EXPECT_FALSE(r.has_value());
  EXPECT_TRUE(service.requests().empty());
}

TEST(credential_chain, chime_onboard_and_boto3_take_the_same_instance_role_key) {
  std::atomic<int> served{0};
  credential_responder service(imds(served, "ASIAINSTANCEROLE"));
  temp_dir home;
  auto env = clean_env(home.path());
  env.env_set["AWS_CONFIG_FILE"] = (home / "no-config").string();
  env.env_set["AWS_SHARED_CREDENTIALS_FILE"] = (home / "no-credentials").string();
  env.env_set["AWS_EC2_METADATA_DISABLED"] = "false";
  env.env_set["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = service.url("/");

  EXPECT_EQ(boto3_key(env), "iam-role ASIAINSTANCEROLE\n");
  EXPECT_EQ(signed_key_id(our_signature(env, home)), "ASIAINSTANCEROLE");
}

// role_env: clean_env with a config file `config`, base's keys in the credentials file, STS at
// `sts` in us-east-1.
child_process::options role_env(const temp_dir& home, const std::string& config,
                                const credential_responder& sts) {
  auto env = clean_env(home.path());
  write_file(home / "config", config);
  write_file(home / "credentials",
             "[base]\naws_access_key_id = AKIABASE\naws_secret_access_key = baseSecret/K7MDENG\n");
  env.env_set["AWS_CONFIG_FILE"] = (home / "config").string();
  env.env_set["AWS_SHARED_CREDENTIALS_FILE"] = (home / "credentials").string();
  env.env_set["AWS_DEFAULT_REGION"] = "us-east-1";  // Debian's botocore reads no AWS_REGION
  env.env_set["AWS_ENDPOINT_URL_STS"] = sts.url("/");
  return env;
}

signing::credentials base_keys() {
  signing::credentials c;
  c.access_key_id = "AKIABASE";
  c.secret_access_key = signing::secret_string("baseSecret/K7MDENG");
  return c;
}

// The same role profile, the same STS responder: boto3 and chime-onboard assume the role (each
// signature checked by the responder's verifier) and name the same key.
TEST(credential_chain, chime_onboard_and_boto3_assume_the_same_role) {
  sts_service sts(base_keys(), std::chrono::hours(1), /*numbered=*/false);
  credential_responder server(sts.handler());
  temp_dir home;
  auto env = role_env(home,
                      "[profile deploy]\nrole_arn = arn:aws:iam::123456789012:role/Deploy\n"
                      "source_profile = base\nexternal_id = ext-7\n",
                      server);
  env.env_set["AWS_PROFILE"] = "deploy";
  EXPECT_EQ(boto3_key(env), "assume-role ASIADEPLOYX\n");
  EXPECT_EQ(signed_key_id(our_signature(env, home)), "ASIADEPLOYX");
  auto calls = sts.calls();
  ASSERT_EQ(calls.size(), 2u);
  for (auto& c : calls) {
    EXPECT_EQ(c["_verdict"], "ok");
    EXPECT_EQ(c["ExternalId"], "ext-7");
  }
}

TEST(credential_chain, chime_onboard_and_boto3_take_the_same_web_identity_role) {
  sts_service sts(base_keys(), std::chrono::hours(1), /*numbered=*/false);
  sts.set_web_token("jwt-for-both");
  credential_responder server(sts.handler());
  temp_dir home;
  auto env = role_env(home, "", server);
  write_file(home / "token", "jwt-for-both");
  env.env_set["AWS_WEB_IDENTITY_TOKEN_FILE"] = (home / "token").string();
  env.env_set["AWS_ROLE_ARN"] = "arn:aws:iam::123456789012:role/Pod";
  EXPECT_EQ(boto3_key(env), "assume-role-with-web-identity ASIAPODX\n");
  EXPECT_EQ(signed_key_id(our_signature(env, home)), "ASIAPODX");
  EXPECT_EQ(sts.calls().size(), 2u);
}

// SSO: the token cache botocore reads (its file name is botocore's SSOTokenLoader key) is the one
// chime-onboard reads, and both ask the same portal.
TEST(credential_chain, chime_onboard_and_boto3_take_the_same_sso_role) {
  std::atomic<int> served{0};
  credential_responder portal(
      sso_portal("sso-access-token", served, std::chrono::hours(1), "ASIASSOSHARED"));
  temp_dir home;
  auto env = clean_env(home.path());
  write_file(home / "config",
             "[profile admin]\nsso_session = corp\nsso_account_id = 123456789012\n"
             "sso_role_name = ChimeAdmin\nregion = us-east-1\n"
             "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\n"
             "sso_region = eu-west-1\n");
  std::filesystem::create_directories(home / ".aws/sso/cache");
  write_file(home / ".aws/sso/cache/ee0bfd2552fbd840c02cc48b6e823320543c450f.json",
             R"({"startUrl": "https://corp.awsapps.com/start", "region": "eu-west-1", )"
             R"("accessToken": "sso-access-token", "expiresAt": ")" +
                 signing::format_iso8601(sys::now() + 8h) + R"("})");
  env.env_set["AWS_CONFIG_FILE"] = (home / "config").string();
  env.env_set["AWS_SHARED_CREDENTIALS_FILE"] = (home / "no-credentials").string();
  env.env_set["AWS_ENDPOINT_URL_SSO"] = portal.url("/");
  env.env_set["AWS_PROFILE"] = "admin";
  EXPECT_EQ(boto3_key(env), "sso ASIASSOSHARED\n");
  EXPECT_EQ(signed_key_id(our_signature(env, home)), "ASIASSOSHARED");
  EXPECT_EQ(served, 2);
}

}  // namespace
