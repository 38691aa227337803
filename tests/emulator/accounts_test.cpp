// accounts_test.cpp: the emulator in-process: accounts with a type and a status (GetAccount,
// ListAccounts and its pagination, InviteUsers refused where the account cannot take it), the
// x-amzn-ErrorType suffix, and the InviteUsers answers the engine must classify (re-invites of
// members, EmailStatus Failed).
#include "client.hpp"

#include <onboard/emulator/server.hpp>

#include <gtest/gtest.h>

#include <set>

namespace onboard::emulator::test {
namespace {

std::unique_ptr<server> started(server_options o) {
  o.listen_port = 0;
  auto s = std::make_unique<server>(std::move(o));
  s->start();
  return s;
}

server_options three_accounts() {
  server_options o;
  o.accounts = {"team-1",
                {"dir-1", account_type::enterprise_directory},
                {"lwa-1", account_type::enterprise_lwa, account_status::suspended, "Old LWA"}};
  return o;
}

TEST(emulator_accounts, get_account_shows_type_status_and_name_as_the_model_describes) {
  auto srv = started(three_accounts());
  test_client c(srv->port(), srv->ca_pem());
  auto r = c.call("GET", "/accounts/lwa-1");
  ASSERT_EQ(r.status, 200u) << r.body;
  auto a = r.json().at("Account").as_object();
  EXPECT_EQ(a.at("AccountId").as_string(), "lwa-1");
  EXPECT_EQ(a.at("Name").as_string(), "Old LWA");
  EXPECT_EQ(a.at("AccountType").as_string(), "EnterpriseLWA");
  EXPECT_EQ(a.at("AccountStatus").as_string(), "Suspended");
  EXPECT_EQ(a.at("AwsAccountId").as_string(), "111122223333");
  auto team = c.call("GET", "/accounts/team-1").json().at("Account").as_object();
  EXPECT_EQ(team.at("AccountType").as_string(), "Team");
  EXPECT_EQ(team.at("AccountStatus").as_string(), "Active");
  EXPECT_EQ(team.at("Name").as_string(), "Account team-1");
  auto missing = c.call("GET", "/accounts/nope");
  EXPECT_EQ(missing.status, 404u);
  EXPECT_EQ(missing.error_type(), "NotFoundException");
}

TEST(emulator_accounts, list_accounts_pages_in_order_and_filters_by_name_and_user) {
  auto srv = started(three_accounts());
  test_client c(srv->port(), srv->ca_pem());
  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    auto r =
        c.call("GET", "/accounts?max-results=2" + (token.empty() ? "" : "&next-token=" + token));
    ASSERT_EQ(r.status, 200u) << r.body;
    ++pages;
    const auto page = r.json();
    for (const auto& a : page.at("Accounts").as_array())
      seen.emplace_back(a.at("AccountId").as_string());
    auto* t = page.as_object().if_contains("NextToken");
    token = t ? std::string(t->as_string()) : "";
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(pages, 2);
  EXPECT_EQ(seen, (std::vector<std::string>{"team-1", "dir-1", "lwa-1"}));
  auto all = c.call("GET", "/accounts").json();
  EXPECT_EQ(all.at("Accounts").as_array().size(), 3u);
  EXPECT_EQ(all.as_object().count("NextToken"), 0u);

  auto named = c.call("GET", "/accounts?name=Old").json().at("Accounts").as_array();
  ASSERT_EQ(named.size(), 1u);
  EXPECT_EQ(named[0].at("AccountId").as_string(), "lwa-1");
  ASSERT_EQ(
      c.call("POST", "/accounts/team-1/users?operation=add", invite_body({"u@example.com"})).status,
      201u);
  const auto holding = c.call("GET", "/accounts?user-email=U%40example.com").json();
  ASSERT_EQ(holding.at("Accounts").as_array().size(), 1u);
  EXPECT_EQ(holding.at("Accounts").as_array()[0].at("AccountId").as_string(), "team-1");
  EXPECT_EQ(c.call("GET", "/accounts?max-results=0").status, 400u);
  EXPECT_EQ(c.call("GET", "/accounts?next-token=bogus").status, 400u);
}

TEST(emulator_accounts, any_account_mode_lists_the_accounts_named_so_far_as_team) {
  auto srv = started({});
  test_client c(srv->port(), srv->ca_pem());
  EXPECT_EQ(c.call("GET", "/accounts").json().at("Accounts").as_array().size(), 0u);
  EXPECT_EQ(c.call("GET", "/accounts/x-1").json().at("Account").at("AccountType").as_string(),
            "Team");
  EXPECT_EQ(c.call("GET", "/accounts").json().at("Accounts").as_array().size(), 1u);
}

TEST(emulator_accounts, invite_users_on_a_non_team_or_suspended_account_is_refused_unapplied) {
  auto srv = started(three_accounts());
  test_client c(srv->port(), srv->ca_pem());
  auto r = c.call("POST", "/accounts/dir-1/users?operation=add", invite_body({"a@example.com"}));
  EXPECT_EQ(r.status, 403u);
  EXPECT_EQ(r.error_type(), "ForbiddenException");
  EXPECT_EQ(r.header("x-amzn-errortype"),
            "ForbiddenException:http://internal.amazon.com/coral/com.amazonaws.chime/");
  EXPECT_EQ(r.json().at("Code").as_string(), "Forbidden");
  EXPECT_NE(r.message().find("not a Team Chime Account[AWS Account ID: 111122223333][Chime "
                             "Account ID: dir-1]"),
            std::string::npos)
      << r.message();
  auto s = c.call("POST", "/accounts/lwa-1/users?operation=add", invite_body({"a@example.com"}));
  EXPECT_EQ(s.status, 403u);
  EXPECT_NE(s.message().find("suspended"), std::string::npos) << s.message();
  // CreateUser is what a directory-backed account takes.
  EXPECT_EQ(c.call("POST", "/accounts/dir-1/users?operation=create", R"({"Email":"d@example.com"})")
                .status,
            201u);
  auto st = srv->stats();
  EXPECT_EQ(st.invites_applied, 0u);
  EXPECT_EQ(st.wrong_account_refusals, 2u);
}

TEST(emulator_accounts, batch_suspend_user_is_held_to_the_model) {
  auto srv = started(three_accounts());
  test_client c(srv->port(), srv->ca_pem());
  const std::string target = "/accounts/team-1/users?operation=suspend";
  auto empty = c.call("POST", target, R"({"UserIdList":[]})");
  ASSERT_EQ(empty.status, 200u) << empty.body;
  EXPECT_TRUE(empty.json().at("UserErrors").as_array().empty());
  EXPECT_EQ(c.call("POST", target, "{}").status, 400u);  // UserIdList is required
  std::string many = R"({"UserIdList":[)";
  for (int i = 0; i < 51; ++i) many += (i ? ",\"" : "\"") + std::to_string(i) + "\"";
  auto over = c.call("POST", target, many + "]}");
  EXPECT_EQ(over.status, 400u);
  EXPECT_NE(over.message().find("less than or equal to 50"), std::string::npos) << over.message();
  // Team or EnterpriseLWA only.
  EXPECT_EQ(
      c.call("POST", "/accounts/dir-1/users?operation=suspend", R"({"UserIdList":["x"]})").status,
      400u);
}

TEST(emulator_accounts, wrong_type_refusal_400_and_create_on_team_refusal) {
  auto o = three_accounts();
  o.wrong_type = wrong_type_refusal::bad_request_400;
  o.refuse_create_on_team = true;
  auto srv = started(std::move(o));
  test_client c(srv->port(), srv->ca_pem());
  auto r = c.call("POST", "/accounts/dir-1/users?operation=add", invite_body({"a@example.com"}));
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(r.error_type(), "BadRequestException");
  EXPECT_EQ(r.message(), "Service received a bad request");
  auto cr =
      c.call("POST", "/accounts/team-1/users?operation=create", R"({"Email":"t@example.com"})");
  EXPECT_EQ(cr.status, 400u);
  EXPECT_EQ(srv->stats().creates_applied, 0u);
}

// statuses: (Status, EmailStatus) of each invite of an InviteUsers answer.
std::vector<std::pair<std::string, std::string>> statuses(const http_reply& r) {
  std::vector<std::pair<std::string, std::string>> v;
  const auto body = r.json();
  for (const auto& i : body.at("Invites").as_array())
    v.emplace_back(i.at("Status").as_string(), i.at("EmailStatus").as_string());
  return v;
}

TEST(emulator_accounts, reinvite_modes_answer_members_without_an_email) {
  using sv = std::vector<std::pair<std::string, std::string>>;
  const std::string path = "/accounts/a/users?operation=add";
  for (auto [mode, status] : {std::pair{reinvite_mode::accepted, "Accepted"},
                              std::pair{reinvite_mode::not_sent, "Pending"}}) {
    server_options o;
    o.reinvite = mode;
    auto srv = started(std::move(o));
    test_client c(srv->port(), srv->ca_pem());
    ASSERT_EQ(c.call("POST", path, invite_body({"m@example.com"})).status, 201u);
    auto r = c.call("POST", path, invite_body({"M@example.com", "new@example.com"}));
    ASSERT_EQ(r.status, 201u);
    EXPECT_EQ(statuses(r), (sv{{status, "NotSent"}, {"Pending", "Sent"}})) << status;
    auto s = srv->stats();
    EXPECT_EQ(s.invites_applied, 2u);
    EXPECT_EQ(s.duplicates_applied, 0u);
    EXPECT_EQ(s.reinvites_not_sent, 1u);
  }
  auto srv = started({});  // email-again, as before
  test_client c(srv->port(), srv->ca_pem());
  ASSERT_EQ(c.call("POST", path, invite_body({"m@example.com"})).status, 201u);
  EXPECT_EQ(statuses(c.call("POST", path, invite_body({"m@example.com"}))),
            (sv{{"Pending", "Sent"}}));
  EXPECT_EQ(srv->stats().duplicates_applied, 1u);
}

TEST(emulator_accounts, email_failed_by_probability_adds_the_invitee_without_an_email) {
  server_options o;
  o.p_email_failed = 1.0;
  o.seed = 3;
  auto srv = started(std::move(o));
  test_client c(srv->port(), srv->ca_pem());
  auto r = c.call("POST", "/accounts/a/users?operation=add",
                  invite_body({"x@example.com", "y@example.com"}));
  ASSERT_EQ(r.status, 201u);
  using sv = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(statuses(r), (sv{{"Pending", "Failed"}, {"Pending", "Failed"}}));
  EXPECT_EQ(srv->stats().emails_failed, 2u);
  EXPECT_EQ(srv->stats().invites_applied, 2u);

  server_options half;
  half.p_email_failed = 0.5;
  half.seed = 11;
  auto srv2 = started(std::move(half));
  test_client c2(srv2->port(), srv2->ca_pem());
  std::vector<std::string> batch;
  for (int i = 0; i < 50; ++i) batch.push_back("p" + std::to_string(i) + "@example.com");
  std::size_t failed = 0;
  for (int k = 0; k < 4; ++k) {
    for (auto& a : batch) a = "r" + std::to_string(k) + a;
    for (const auto& [st, es] :
         statuses(c2.call("POST", "/accounts/a/users?operation=add", invite_body(batch))))
      failed += es == "Failed" ? 1 : 0;
  }
  EXPECT_GT(failed, 60u);  // 200 draws at 1/2: far outside [60, 140] is a broken draw
  EXPECT_LT(failed, 140u);
  EXPECT_EQ(srv2->stats().emails_failed, failed);
}

}  // namespace
}  // namespace onboard::emulator::test
