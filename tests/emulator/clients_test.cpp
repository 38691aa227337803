// clients_test.cpp: the real AWS CLI (/usr/bin/aws) and boto3 against the emulator binary,
// unchanged: success shapes parse, and every error arrives as its modelled exception.
#include <onboard/testkit/emulator.hpp>
#include <onboard/testkit/testkit.hpp>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

namespace onboard::emulator::test {
namespace {

namespace tk = onboard::testkit;
namespace json = boost::json;

constexpr const char* aws = "/usr/bin/aws";
constexpr const char* python = "/usr/bin/python3";

bool have_aws() { return tk::fs::exists(aws); }
bool have_boto3() {
  if (!tk::fs::exists(python)) return false;
  return tk::run({python, "-c", "import boto3, botocore"}).status == 0;
}

class aws_cli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have_aws()) GTEST_SKIP() << "/usr/bin/aws is not installed";
    tk::write_file(home_ / "config", "");
    tk::write_file(home_ / "credentials", "");
  }
  tk::run_result cli(tk::emulator_process& emu, std::vector<std::string> args,
                     const std::string& secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY") {
    std::vector<std::string> argv = {aws, "chime"};
    argv.insert(argv.end(), args.begin(), args.end());
    for (const std::string& a :
         {std::string("--endpoint-url"), emu.url(), std::string("--ca-bundle"),
          emu.ca_path().string(), std::string("--region"), std::string("us-east-1"),
          std::string("--output"), std::string("json")})
      argv.push_back(a);
    tk::child_process::options o;
    o.env_set = {{"HOME", home_.path().string()},
                 {"AWS_CONFIG_FILE", (home_ / "config").string()},
                 {"AWS_SHARED_CREDENTIALS_FILE", (home_ / "credentials").string()},
                 {"AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"},
                 {"AWS_SECRET_ACCESS_KEY", secret},
                 {"AWS_MAX_ATTEMPTS", "1"},
                 {"AWS_PAGER", ""}};
    o.env_unset = {"AWS_PROFILE",     "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN",
                   "AWS_CA_BUNDLE",   "AWS_DEFAULT_REGION",  "AWS_REGION",
                   "AWS_ENDPOINT_URL"};
    return tk::run(argv, o, std::chrono::seconds(120));
  }
  tk::temp_dir home_;
};

void expect_error(const tk::run_result& r, const std::string& code,
                  const std::string& needle = "") {
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_NE(r.err.find("An error occurred (" + code + ")"), std::string::npos) << r.err;
  if (!needle.empty()) {
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  }
}

TEST_F(aws_cli, invite_create_list_and_modelled_errors) {
  tk::emulator_process emu({"--accounts", "acct-1", "--seed", "1"},
                           tk::emulator_process::with_ledger());
  auto r = cli(emu, {"invite-users", "--account-id", "acct-1", "--user-email-list",
                     "alice@example.com", "bob@example.com", "--user-type", "PrivateUser"});
  ASSERT_EQ(r.status, 0) << r.err;
  auto inv = json::parse(r.out).at("Invites").as_array();
  ASSERT_EQ(inv.size(), 2u);
  EXPECT_EQ(inv[1].at("EmailAddress").as_string(), "bob@example.com");
  EXPECT_EQ(inv[1].at("Status").as_string(), "Pending");

  r = cli(emu, {"create-user", "--account-id", "acct-1", "--username", "carol", "--email",
                "carol@example.com", "--user-type", "SharedDevice"});
  ASSERT_EQ(r.status, 0) << r.err;
  auto user = json::parse(r.out).at("User").as_object();
  EXPECT_EQ(user.at("PrimaryEmail").as_string(), "carol@example.com");
  EXPECT_EQ(user.at("DisplayName").as_string(), "carol");

  r = cli(emu, {"list-users", "--account-id", "acct-1"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(json::parse(r.out).at("Users").as_array().size(), 3u);
  r = cli(emu, {"list-users", "--account-id", "acct-1", "--user-email", "bob@example.com"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(json::parse(r.out).at("Users").as_array().size(), 1u);

  expect_error(cli(emu, {"invite-users", "--account-id", "acct-1", "--user-email-list",
                         "ok@example.com", "notanemail"}),
               "BadRequestException", "userEmailList.2.member");
  expect_error(cli(emu, {"invite-users", "--account-id", "acct-1", "--user-email-list",
                         "a@example.com", "--user-type", "Bogus"}),
               "BadRequestException", "userType");
  expect_error(cli(emu, {"create-user", "--account-id", "acct-1", "--email", "carol@example.com"}),
               "ConflictException");
  expect_error(
      cli(emu, {"invite-users", "--account-id", "nope", "--user-email-list", "a@example.com"}),
      "NotFoundException");
  auto wrong =
      cli(emu, {"invite-users", "--account-id", "acct-1", "--user-email-list", "w@example.com"},
          "wrong-secret");
  expect_error(wrong, "UnauthorizedClientException", "signature");

  EXPECT_EQ(emu.stop(), 0);
  auto ledger = tk::read_file(emu.ledger_path());
  EXPECT_EQ(ledger,
            "invite\tacct-1\talice@example.com\ninvite\tacct-1\tbob@example.com\ncreate\tacct-"
            "1\tcarol@example.com\n");
}

TEST_F(aws_cli, list_users_pages_with_next_token_and_an_empty_invite_is_valid) {
  tk::emulator_process emu({"--accounts", "acct-1", "--seed", "1"});
  for (int from = 0; from < 120; from += 50) {
    std::vector<std::string> args = {"invite-users", "--account-id", "acct-1", "--user-email-list"};
    for (int i = from; i < std::min(from + 50, 120); ++i)
      args.push_back("user" + std::to_string(i) + "@example.com");
    ASSERT_EQ(cli(emu, args).status, 0);
  }
  // The model allows an empty UserEmailList: it invites nobody.
  auto empty = cli(emu, {"invite-users", "--account-id", "acct-1", "--cli-input-json",
                         R"({"AccountId": "acct-1", "UserEmailList": []})"});
  ASSERT_EQ(empty.status, 0) << empty.err;
  EXPECT_TRUE(json::parse(empty.out).at("Invites").as_array().empty());

  // A first page of 70 items (pages of 50), then the rest from its NextToken.
  auto first =
      cli(emu, {"list-users", "--account-id", "acct-1", "--page-size", "50", "--max-items", "70"});
  ASSERT_EQ(first.status, 0) << first.err;
  auto page = json::parse(first.out).as_object();
  std::set<std::string> emails;
  for (const auto& u : page.at("Users").as_array())
    emails.insert(std::string(u.at("PrimaryEmail").as_string()));
  EXPECT_EQ(emails.size(), 70u);
  ASSERT_TRUE(page.contains("NextToken")) << first.out;
  auto rest = cli(emu, {"list-users", "--account-id", "acct-1", "--page-size", "50",
                        "--starting-token", std::string(page.at("NextToken").as_string())});
  ASSERT_EQ(rest.status, 0) << rest.err;
  auto more = json::parse(rest.out).as_object();
  for (const auto& u : more.at("Users").as_array())
    emails.insert(std::string(u.at("PrimaryEmail").as_string()));
  EXPECT_EQ(emails.size(), 120u);
  EXPECT_FALSE(more.contains("NextToken"));
  EXPECT_EQ(emu.stop(), 0);
}

TEST_F(aws_cli, batch_suspend_user_suspends_known_ids_and_names_the_unknown_ones) {
  tk::emulator_process emu({"--accounts", "acct-1", "--seed", "1"});
  ASSERT_EQ(cli(emu, {"invite-users", "--account-id", "acct-1", "--user-email-list",
                      "stay@example.com", "leave1@example.com", "leave2@example.com"})
                .status,
            0);
  auto listed = cli(emu, {"list-users", "--account-id", "acct-1"});
  ASSERT_EQ(listed.status, 0) << listed.err;
  std::map<std::string, std::string> id_of;
  const auto users = json::parse(listed.out);
  for (const auto& u : users.at("Users").as_array())
    id_of[std::string(u.at("PrimaryEmail").as_string())] = std::string(u.at("UserId").as_string());
  ASSERT_EQ(id_of.size(), 3u);

  const std::string unknown = "00000000-0000-4000-8000-000000000000";
  auto r = cli(emu, {"batch-suspend-user", "--account-id", "acct-1", "--user-id-list",
                     id_of["leave1@example.com"], id_of["leave2@example.com"], unknown});
  ASSERT_EQ(r.status, 0) << r.err;
  auto errors = json::parse(r.out).at("UserErrors").as_array();
  ASSERT_EQ(errors.size(), 1u) << r.out;
  EXPECT_EQ(errors[0].at("UserId").as_string(), unknown);
  EXPECT_EQ(errors[0].at("ErrorCode").as_string(), "NotFound");

  listed = cli(emu, {"list-users", "--account-id", "acct-1"});
  ASSERT_EQ(listed.status, 0) << listed.err;
  const auto after = json::parse(listed.out);
  for (const auto& u : after.at("Users").as_array()) {
    const std::string email(u.at("PrimaryEmail").as_string());
    EXPECT_EQ(u.at("UserRegistrationStatus").as_string(),
              email == "stay@example.com" ? "Unregistered" : "Suspended")
        << email;
  }
  expect_error(cli(emu, {"batch-suspend-user", "--account-id", "nope", "--user-id-list", unknown}),
               "NotFoundException");
  EXPECT_EQ(emu.stop(), 0);
}

TEST_F(aws_cli, get_account_list_accounts_and_the_team_only_invite) {
  tk::emulator_process emu(
      {"--accounts", "team-1,dir-1:EnterpriseDirectory,lwa-1:EnterpriseLWA:Suspended:Old LWA"});
  auto r = cli(emu, {"get-account", "--account-id", "lwa-1"});
  ASSERT_EQ(r.status, 0) << r.err;
  auto a = json::parse(r.out).at("Account").as_object();
  EXPECT_EQ(a.at("AccountType").as_string(), "EnterpriseLWA");
  EXPECT_EQ(a.at("AccountStatus").as_string(), "Suspended");
  EXPECT_EQ(a.at("Name").as_string(), "Old LWA");
  expect_error(cli(emu, {"get-account", "--account-id", "nope"}), "NotFoundException");

  // --page-size 1: the CLI follows NextToken page by page (one GET per account) and joins them.
  const auto before = emu.stat("status.200");
  r = cli(emu, {"list-accounts", "--page-size", "1"});
  ASSERT_EQ(r.status, 0) << r.err;
  auto all = json::parse(r.out).at("Accounts").as_array();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[1].at("AccountId").as_string(), "dir-1");
  EXPECT_EQ(emu.stat("status.200") - before, 3u);
  r = cli(emu, {"list-accounts", "--max-items", "2"});
  ASSERT_EQ(r.status, 0) << r.err;
  auto two = json::parse(r.out).as_object();
  EXPECT_EQ(two.at("Accounts").as_array().size(), 2u);
  EXPECT_TRUE(two.contains("NextToken"));
  r = cli(emu, {"list-accounts", "--name", "Old"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(json::parse(r.out).at("Accounts").as_array().size(), 1u);

  // The 403 carries the `:http://internal.amazon.com/...` suffix; botocore still names the shape.
  expect_error(
      cli(emu, {"invite-users", "--account-id", "dir-1", "--user-email-list", "a@example.com"}),
      "ForbiddenException", "not a Team Chime Account");
  expect_error(
      cli(emu, {"invite-users", "--account-id", "lwa-1", "--user-email-list", "a@example.com"}),
      "ForbiddenException", "suspended");
  EXPECT_EQ(emu.stat("invites_applied"), 0u);
}

TEST_F(aws_cli, throttling_and_service_faults_arrive_as_modelled_exceptions) {
  tk::emulator_process throttled({"--rate", "0.01", "--burst", "1", "--retry-after", "1"});
  ASSERT_EQ(cli(throttled, {"list-users", "--account-id", "a"}).status, 0);
  expect_error(cli(throttled, {"list-users", "--account-id", "a"}), "ThrottledClientException");
  tk::emulator_process unavailable({"--p503", "1", "--seed", "1"});
  expect_error(
      cli(unavailable, {"invite-users", "--account-id", "a", "--user-email-list", "a@example.com"}),
      "ServiceUnavailableException");
  EXPECT_EQ(unavailable.stat("invites_applied"), 0u);
}

class boto3_peer : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have_boto3()) GTEST_SKIP() << "/usr/bin/python3 with boto3/botocore is not installed";
  }
  json::array calls(tk::emulator_process& emu, const std::string& calls_json) {
    tk::child_process::options o;
    o.stdin_data = calls_json;
    o.env_set = {{"HOME", home_.path().string()},
                 {"AWS_CONFIG_FILE", (home_ / "none").string()},
                 {"AWS_SHARED_CREDENTIALS_FILE", (home_ / "none").string()}};
    auto script = (tk::source_dir() / "tests/emulator/boto3_client.py").string();
    auto r =
        tk::run({python, script, emu.url(), emu.ca_path().string()}, o, std::chrono::seconds(120));
    EXPECT_EQ(r.status, 0) << r.err;
    return json::parse(r.out).as_array();
  }
  tk::temp_dir home_;
};

void expect_exception(const json::value& v, const std::string& cls, int status) {
  EXPECT_FALSE(v.at("ok").as_bool()) << json::serialize(v);
  EXPECT_EQ(v.at("exception").as_string(), cls) << json::serialize(v);
  EXPECT_EQ(v.at("code").as_string(), cls);
  EXPECT_EQ(v.at("status").as_int64(), status);
  EXPECT_FALSE(v.at("request_id").as_string().empty());
  EXPECT_FALSE(v.at("message").as_string().empty());
}

TEST_F(boto3_peer, success_shapes_and_every_modelled_exception) {
  tk::emulator_process emu({"--accounts", "acct-1", "--seed", "1"});
  auto res = calls(emu, R"([
    {"op": "invite_users", "params": {"AccountId": "acct-1", "UserEmailList": ["a@example.com", "b@example.com"], "UserType": "SharedDevice"}},
    {"op": "create_user", "params": {"AccountId": "acct-1", "Username": "c", "Email": "c@example.com"}},
    {"op": "list_users", "params": {"AccountId": "acct-1", "MaxResults": 2}},
    {"op": "invite_users", "params": {"AccountId": "acct-1", "UserEmailList": ["nope"]}},
    {"op": "create_user", "params": {"AccountId": "acct-1", "Email": "a@example.com"}},
    {"op": "invite_users", "params": {"AccountId": "acct-x", "UserEmailList": ["a@example.com"]}},
    {"op": "invite_users", "params": {"AccountId": "acct-1", "UserEmailList": ["a@example.com"]}, "secret": "wrong"},
    {"op": "invite_users", "params": {"AccountId": "acct-1", "UserEmailList": ["a@example.com"]}, "unsigned": true}
  ])");
  ASSERT_EQ(res.size(), 8u);
  ASSERT_TRUE(res[0].at("ok").as_bool()) << json::serialize(res[0]);
  auto inv = res[0].at("response").at("Invites").as_array();
  ASSERT_EQ(inv.size(), 2u);
  EXPECT_EQ(inv[0].at("EmailStatus").as_string(), "Sent");
  ASSERT_TRUE(res[1].at("ok").as_bool()) << json::serialize(res[1]);
  auto user = res[1].at("response").at("User").as_object();
  EXPECT_EQ(user.at("AccountId").as_string(), "acct-1");
  // botocore parsed the ISO 8601 timestamp into a datetime (printed by str()).
  EXPECT_NE(std::string(user.at("InvitedOn").as_string()).find("+00:00"), std::string::npos);
  ASSERT_TRUE(res[2].at("ok").as_bool());
  EXPECT_EQ(res[2].at("response").at("Users").as_array().size(), 2u);
  EXPECT_FALSE(res[2].at("response").at("NextToken").as_string().empty());
  expect_exception(res[3], "BadRequestException", 400);
  EXPECT_EQ(res[3].at("modeled_code").as_string(), "BadRequest");
  expect_exception(res[4], "ConflictException", 409);
  expect_exception(res[5], "NotFoundException", 404);
  expect_exception(res[6], "UnauthorizedClientException", 401);
  expect_exception(res[7], "ForbiddenException", 403);
}

TEST_F(boto3_peer, list_users_parses_pending_users_without_primary_email) {
  // PrimaryEmail is optional in the model: botocore parses the --pending-without-email shape.
  tk::emulator_process emu({"--accounts", "acct-1", "--pending-without-email"});
  auto res = calls(emu, R"([
    {"op": "invite_users", "params": {"AccountId": "acct-1", "UserEmailList": ["p@example.com"]}},
    {"op": "list_users", "params": {"AccountId": "acct-1", "UserEmail": "p@example.com"}},
    {"op": "list_users", "params": {"AccountId": "acct-1"}}
  ])");
  ASSERT_EQ(res.size(), 3u);
  ASSERT_TRUE(res[0].at("ok").as_bool()) << json::serialize(res[0]);
  for (std::size_t i : {1u, 2u}) {
    ASSERT_TRUE(res[i].at("ok").as_bool()) << json::serialize(res[i]);
    auto users = res[i].at("response").at("Users").as_array();
    ASSERT_EQ(users.size(), 1u) << json::serialize(res[i]);
    EXPECT_EQ(users[0].as_object().count("PrimaryEmail"), 0u);
    EXPECT_EQ(users[0].at("UserInvitationStatus").as_string(), "Pending");
  }
}

TEST_F(boto3_peer, a_captive_portal_page_never_yields_users) {
  // botocore does not insist on JSON: a 200 HTML page may come back as a "success" holding only
  // the page as a message. Either way there must be no user list in it.
  tk::emulator_process emu({"--list-users-fault", "html"});
  auto res = calls(emu, R"([{"op": "list_users", "params": {"AccountId": "a"}}])");
  ASSERT_EQ(res.size(), 1u);
  if (res[0].at("ok").as_bool()) {
    EXPECT_EQ(res[0].at("response").as_object().count("Users"), 0u) << json::serialize(res[0]);
  }
}

TEST_F(boto3_peer, throttled_client_exception) {
  tk::emulator_process emu({"--rate", "0.01", "--burst", "2"});
  auto res = calls(emu, R"([
    {"op": "list_users", "params": {"AccountId": "a"}},
    {"op": "list_users", "params": {"AccountId": "a"}},
    {"op": "list_users", "params": {"AccountId": "a"}}
  ])");
  ASSERT_EQ(res.size(), 3u);
  EXPECT_TRUE(res[1].at("ok").as_bool());
  expect_exception(res[2], "ThrottledClientException", 429);
  EXPECT_EQ(emu.stat("throttled"), 1u);
}

}  // namespace
}  // namespace onboard::emulator::test
