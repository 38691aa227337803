// api_test.cpp: the emulator in-process: routes, every validation rule, auth mapping, the user
// store (CreateUser conflicts, ListUsers filters and pagination), error shapes and headers.
#include "client.hpp"

#include <onboard/emulator/server.hpp>

#include <gtest/gtest.h>

namespace onboard::emulator::test {
namespace {

class api : public ::testing::Test {
 protected:
  void start(server_options o = {}) {
    o.listen_port = 0;
    srv_ = std::make_unique<server>(std::move(o));
    srv_->start();
  }
  test_client client() { return test_client(srv_->port(), srv_->ca_pem()); }
  void SetUp() override { start(); }
  std::unique_ptr<server> srv_;
};

const std::string invite_path = "/accounts/acct-1/users?operation=add";
const std::string create_path = "/accounts/acct-1/users?operation=create";
const std::string list_path = "/accounts/acct-1/users";

TEST_F(api, invite_users_returns_201_with_one_invite_per_address) {
  auto c = client();
  auto r =
      c.call("POST", invite_path, invite_body({"a@example.com", "B@Example.org"}, "SharedDevice"));
  ASSERT_EQ(r.status, 201u) << r.body;
  EXPECT_FALSE(r.header("x-amzn-requestid").empty());
  EXPECT_EQ(r.header("content-type"), "application/json");
  auto inv = r.json().at("Invites").as_array();
  ASSERT_EQ(inv.size(), 2u);
  EXPECT_EQ(inv[0].at("EmailAddress").as_string(), "a@example.com");
  EXPECT_EQ(inv[0].at("Status").as_string(), "Pending");
  EXPECT_EQ(inv[0].at("EmailStatus").as_string(), "Sent");
  EXPECT_EQ(inv[0].at("InviteId").as_string().size(), 36u);
  EXPECT_NE(inv[0].at("InviteId"), inv[1].at("InviteId"));
  auto s = srv_->stats();
  EXPECT_EQ(s.invites_applied, 2u);
  EXPECT_EQ(s.requests_by_status[201], 1u);
}

TEST_F(api, keep_alive_serves_many_requests_on_one_connection) {
  auto c = client();
  for (int i = 0; i < 20; ++i) {
    auto r = c.call("POST", invite_path, invite_body({"k" + std::to_string(i) + "@example.com"}));
    ASSERT_EQ(r.status, 201u);
  }
  EXPECT_EQ(srv_->stats().connections_opened, 1u);
}

TEST_F(api, validation_rules_give_400_bad_request_naming_the_field) {
  auto c = client();
  struct bad_case {
    std::string body;
    std::string needle;
  };
  std::vector<bad_case> cases = {
      {"{not json", "Malformed JSON"},
      {"[1,2]", "JSON object"},
      {R"({})", "'userEmailList' failed to satisfy constraint: Member must not be null"},
      {R"({"UserEmailList": "a@b.c"})", "must be a list"},
      {R"({"UserEmailList": [42]})", "'userEmailList.1.member' must be a string"},
      {invite_body(numbered_emails(51)), "less than or equal to 50 (got 51)"},
      {invite_body({"ok@example.com", "not-an-email"}),
       "Value 'not-an-email' at 'userEmailList.2.member' failed to satisfy constraint: Member must "
       "satisfy regular expression pattern: .+@.+\\..+"},
      {invite_body({"a@b.c", "x@y"}), "'userEmailList.2.member'"},
      {invite_body({"@example.com"}), "'userEmailList.1.member'"},
      {invite_body({"a@example."}), "'userEmailList.1.member'"},
      {invite_body({"a@.com"}), "'userEmailList.1.member'"},
      {invite_body({"a\n@example.com"}), "userEmailList.1.member"},
      {invite_body({"a@example.com"}, "Admin"),
       "Value 'Admin' at 'userType' failed to satisfy constraint: Member must satisfy enum value "
       "set"},
  };
  for (const auto& bc : cases) {
    auto r = c.call("POST", invite_path, bc.body);
    EXPECT_EQ(r.status, 400u) << bc.body;
    EXPECT_EQ(r.error_type(), "BadRequestException") << bc.body;
    EXPECT_EQ(r.json().at("Code").as_string(), "BadRequest");
    EXPECT_NE(r.message().find(bc.needle), std::string::npos) << r.message();
    EXPECT_FALSE(r.header("x-amzn-requestid").empty());
  }
  // Two bad addresses: both reported, with their positions.
  auto r = c.call("POST", invite_path, invite_body({"x", "ok@example.com", "y"}));
  EXPECT_NE(r.message().find("2 validation errors detected"), std::string::npos) << r.message();
  EXPECT_NE(r.message().find("'userEmailList.3.member'"), std::string::npos);
  EXPECT_EQ(srv_->stats().invites_applied, 0u);
  // 50 is fine, odd but valid addresses too.
  EXPECT_EQ(c.call("POST", invite_path, invite_body(numbered_emails(50))).status, 201u);
  EXPECT_EQ(
      c.call("POST", invite_path, invite_body({"a@b@c.d", "\"q\"@x.y.z", "u+tag@ex.co"})).status,
      201u);
}

TEST_F(api, create_user_returns_the_user_and_409_on_existing_address) {
  auto c = client();
  auto r = c.call("POST", create_path,
                  R"({"Username":"alice","Email":"alice@example.com","UserType":"SharedDevice"})");
  ASSERT_EQ(r.status, 201u) << r.body;
  auto u = r.json().at("User").as_object();
  EXPECT_EQ(u.at("UserId").as_string().size(), 36u);
  EXPECT_EQ(u.at("AccountId").as_string(), "acct-1");
  EXPECT_EQ(u.at("PrimaryEmail").as_string(), "alice@example.com");
  EXPECT_EQ(u.at("DisplayName").as_string(), "alice");
  EXPECT_EQ(u.at("UserType").as_string(), "SharedDevice");
  EXPECT_EQ(u.at("LicenseType").as_string(), "Pro");
  EXPECT_TRUE(u.contains("UserRegistrationStatus"));
  EXPECT_TRUE(u.contains("UserInvitationStatus"));
  EXPECT_EQ(u.at("InvitedOn").as_string().back(), 'Z');

  auto again = c.call("POST", create_path, R"({"Email":"ALICE@example.com"})");
  EXPECT_EQ(again.status, 409u);
  EXPECT_EQ(again.error_type(), "ConflictException");
  EXPECT_EQ(again.json().at("Code").as_string(), "Conflict");

  // An invited address exists too.
  ASSERT_EQ(c.call("POST", invite_path, invite_body({"bob@example.com"})).status, 201u);
  EXPECT_EQ(c.call("POST", create_path, R"({"Email":"bob@example.com"})").status, 409u);

  EXPECT_EQ(c.call("POST", create_path, R"({"Email":"nope"})").status, 400u);
  EXPECT_EQ(c.call("POST", create_path, R"({"Email":"c@example.com","UserType":"x"})").status,
            400u);
  EXPECT_EQ(c.call("POST", create_path, "").status, 400u);  // Email needed to key the user
  EXPECT_EQ(srv_->stats().creates_applied, 1u);
}

TEST_F(api, list_users_shows_invited_and_created_users_paginated) {
  auto c = client();
  ASSERT_EQ(c.call("POST", invite_path, invite_body(numbered_emails(5))).status, 201u);
  ASSERT_EQ(c.call("POST", create_path, R"({"Email":"dev@example.com","UserType":"SharedDevice"})")
                .status,
            201u);

  auto all = c.call("GET", list_path);
  ASSERT_EQ(all.status, 200u) << all.body;
  auto users = all.json().at("Users").as_array();
  ASSERT_EQ(users.size(), 6u);
  EXPECT_EQ(users[0].at("UserInvitationStatus").as_string(), "Pending");
  EXPECT_EQ(users[0].at("PrimaryEmail").as_string(), "user0@example.com");
  EXPECT_FALSE(all.json().as_object().contains("NextToken"));

  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    std::string t = list_path + "?max-results=2" + (token.empty() ? "" : "&next-token=" + token);
    auto r = c.call("GET", t);
    ASSERT_EQ(r.status, 200u) << r.body;
    auto jv = r.json();
    for (const auto& u : jv.at("Users").as_array())
      seen.emplace_back(u.at("PrimaryEmail").as_string());
    token = jv.as_object().contains("NextToken") ? std::string(jv.at("NextToken").as_string()) : "";
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen.size(), 6u);

  auto one = c.call("GET", list_path + "?user-email=USER3%40example.com");
  ASSERT_EQ(one.status, 200u);
  ASSERT_EQ(one.json().at("Users").as_array().size(), 1u);
  EXPECT_EQ(one.json().at("Users").as_array()[0].at("PrimaryEmail").as_string(),
            "user3@example.com");
  EXPECT_EQ(c.call("GET", list_path + "?user-email=zz%40example.com")
                .json()
                .at("Users")
                .as_array()
                .size(),
            0u);

  auto devices = c.call("GET", list_path + "?user-type=SharedDevice");
  ASSERT_EQ(devices.json().at("Users").as_array().size(), 1u);

  for (const auto& q : {"?max-results=0", "?max-results=201", "?max-results=x", "?user-type=Bogus",
                        "?user-email=bad", "?next-token=garbage"}) {
    auto r = c.call("GET", list_path + q);
    EXPECT_EQ(r.status, 400u) << q;
    EXPECT_EQ(r.error_type(), "BadRequestException") << q;
  }
  // Another account has its own users.
  EXPECT_EQ(c.call("GET", "/accounts/other/users").json().at("Users").as_array().size(), 0u);
}

TEST_F(api, duplicates_are_applied_and_counted) {
  auto c = client();
  ASSERT_EQ(c.call("POST", invite_path, invite_body({"d@example.com"})).status, 201u);
  ASSERT_EQ(c.call("POST", invite_path, invite_body({"D@example.com", "e@example.com"})).status,
            201u);
  auto s = srv_->stats();
  EXPECT_EQ(s.invites_applied, 3u);
  EXPECT_EQ(s.duplicates_applied, 1u);
}

TEST_F(api, unknown_routes_are_404_unknown_operation) {
  auto c = client();
  for (auto [m, t] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/"},
           {"POST", "/accounts/acct-1/users?operation=delete"},
           {"POST", "/accounts/acct-1/users"},
           {"DELETE", "/accounts/acct-1/users"},
           {"GET", "/accounts//users"},
           {"GET", "/accounts/a/b/users"}}) {
    auto r = c.call(m, t, "{}");
    EXPECT_EQ(r.status, 404u) << m << " " << t;
    EXPECT_EQ(r.error_type(), "UnknownOperationException");
    EXPECT_FALSE(r.header("x-amzn-requestid").empty());
  }
}

TEST_F(api, stats_endpoint_serves_json_counters) {
  auto c = client();
  c.call("POST", invite_path, invite_body({"s@example.com"}));
  auto r = c.call("GET", "/_emulator/stats", "", with([](sign_options& o) { o.sign = false; }));
  ASSERT_EQ(r.status, 200u);
  auto jv = r.json();
  auto& j = jv.as_object();
  EXPECT_EQ(j.at("invites_applied").as_int64(), 1);
  EXPECT_EQ(j.at("requests_by_status").at("201").as_int64(), 1);
  for (auto k : {"requests", "creates_applied", "duplicates_applied", "throttled", "dropped",
                 "connections_opened", "auth_failures"})
    EXPECT_TRUE(j.contains(k)) << k;
}

TEST_F(api, account_id_is_percent_decoded_and_signed_double_encoded) {
  auto c = client();
  auto r =
      c.call("POST", "/accounts/acct%201%2Fx/users?operation=add", invite_body({"p@example.com"}));
  ASSERT_EQ(r.status, 201u) << r.body;
  auto l = c.call("GET", "/accounts/acct%201%2Fx/users");
  ASSERT_EQ(l.json().at("Users").as_array().size(), 1u);
  EXPECT_EQ(l.json().at("Users").as_array()[0].at("AccountId").as_string(), "acct 1/x");
  EXPECT_EQ(c.call("GET", "/accounts/%20%20/users").status, 400u);  // NonEmptyString `.*\S.*`
}

class api_accounts : public api {
 protected:
  void SetUp() override {
    server_options o;
    o.accounts = {"acct-1", "acct-2"};
    start(std::move(o));
  }
};

TEST_F(api_accounts, unknown_account_is_404_not_found) {
  auto c = client();
  auto r = c.call("POST", "/accounts/acct-9/users?operation=add", invite_body({"a@example.com"}));
  EXPECT_EQ(r.status, 404u);
  EXPECT_EQ(r.error_type(), "NotFoundException");
  EXPECT_EQ(r.json().at("Code").as_string(), "NotFound");
  EXPECT_NE(r.message().find("acct-9"), std::string::npos);
  EXPECT_EQ(
      c.call("POST", "/accounts/acct-2/users?operation=add", invite_body({"a@example.com"})).status,
      201u);
}

TEST_F(api, auth_failures_map_to_401_and_403) {
  auto c = client();
  const std::string body = invite_body({"a@example.com"});
  auto check = [&](const sign_options& so, unsigned status, const std::string& shape,
                   const char* what) {
    auto r = c.call("POST", invite_path, body, so);
    EXPECT_EQ(r.status, status) << what << ": " << r.body;
    EXPECT_EQ(r.error_type(), shape) << what;
    EXPECT_FALSE(r.header("x-amzn-requestid").empty()) << what;
  };
  check(with([](sign_options& o) { o.sign = false; }), 403, "ForbiddenException", "unsigned");
  check(with([](sign_options& o) { o.secret_key = "wrong"; }), 401, "UnauthorizedClientException",
        "wrong secret");
  check(with([](sign_options& o) { o.access_key = "AKIDOTHER"; }), 401,
        "UnauthorizedClientException", "unknown key");
  check(with([](sign_options& o) { o.at = signing::clock::now() - std::chrono::minutes(10); }), 403,
        "InvalidSignatureException", "expired");
  check(with([](sign_options& o) { o.at = signing::clock::now() + std::chrono::minutes(10); }), 403,
        "InvalidSignatureException", "not yet current");
  check(with([](sign_options& o) { o.region = "eu-west-1"; }), 401, "UnauthorizedClientException",
        "wrong region");
  check(with([](sign_options& o) { o.service = "s3"; }), 403, "ForbiddenException",
        "wrong service");
  check(with([](sign_options& o) { o.host = "evil.example.com"; }), 401,
        "UnauthorizedClientException", "host not what was signed");
  check(with([](sign_options& o) {
          o.sign = false;
          o.extra_headers = {{"Authorization", "AWS4-HMAC-SHA256 garbage"}};
        }),
        403, "ForbiddenException", "malformed");
  EXPECT_EQ(srv_->stats().auth_failures, 9u);
  EXPECT_EQ(srv_->stats().invites_applied, 0u);
  EXPECT_EQ(c.call("POST", invite_path, body).status, 201u);
}

class api_session_token : public api {
 protected:
  void SetUp() override {
    server_options o;
    o.session_token = "token-123";
    start(std::move(o));
  }
};

TEST_F(api_session_token, session_token_is_required_when_configured) {
  auto c = client();
  EXPECT_EQ(
      c.call("GET", list_path, "", with([](sign_options& o) { o.session_token = "token-123"; }))
          .status,
      200u);
  EXPECT_EQ(c.call("GET", list_path).status, 401u);
  EXPECT_EQ(
      c.call("GET", list_path, "", with([](sign_options& o) { o.session_token = "other"; })).status,
      401u);
}

TEST(server_lifecycle, generated_certificate_and_url) {
  server_options o;
  server srv(o);
  srv.start();
  EXPECT_GT(srv.port(), 0);
  EXPECT_EQ(srv.url(), "https://127.0.0.1:" + std::to_string(srv.port()));
  EXPECT_NE(srv.ca_pem().find("BEGIN CERTIFICATE"), std::string::npos);
  srv.stop();
  srv.stop();  // idempotent
}

TEST(server_lifecycle, bad_options_throw_with_a_message) {
  server_options o;
  o.cert_file = "/nonexistent.pem";
  o.key_file = "/nonexistent.key";
  EXPECT_THROW(server{o}, std::runtime_error);
  server_options busy;
  server first(busy);
  first.start();
  server_options same;
  same.listen_port = first.port();
  server second(same);
  EXPECT_THROW(second.start(), std::runtime_error);
}

}  // namespace
}  // namespace onboard::emulator::test
