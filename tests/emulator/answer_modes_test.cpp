// answer_modes_test.cpp: the deterministic answer modes (server_options::list_users_fault,
// invite_fault, fail_domains, pending_without_email) over real TLS with signed requests: status,
// headers (request id, Location, content type), body shape, the ledger and the stats; that they
// come after auth and throttling; and the flags of the chime-emulator process.
#include "client.hpp"

#include <onboard/emulator/server.hpp>
#include <onboard/testkit/emulator.hpp>
#include <onboard/testkit/testkit.hpp>

#include <gtest/gtest.h>

#include <sstream>

namespace onboard::emulator::test {
namespace {

namespace tk = onboard::testkit;
const std::string invite_path = "/accounts/acct-1/users?operation=add";
const std::string create_path = "/accounts/acct-1/users?operation=create";
const std::string list_path = "/accounts/acct-1/users";

using fixture = server_fixture;

server_options list_fault(list_users_fault_mode m) {
  server_options o;
  o.list_users_fault = m;
  return o;
}

server_options invite_fault(invite_fault_mode m) {
  server_options o;
  o.invite_fault = m;
  return o;
}

// expect_modelled: a Chime error: request id, JSON, x-amzn-ErrorType and {"Code","Message"}.
void expect_modelled(const http_reply& r, unsigned status, const std::string& shape,
                     const std::string& code) {
  EXPECT_EQ(r.status, status) << r.body;
  EXPECT_EQ(r.header("x-amzn-requestid").size(), 36u);
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_EQ(r.error_type(), shape);
  EXPECT_EQ(r.header("location"), "");
  auto body = r.json();
  EXPECT_EQ(body.at("Code").as_string(), code);
  EXPECT_FALSE(body.at("Message").as_string().empty());
}

// expect_proxy_page: a captive portal's 200: HTML, no request id, no Chime error type.
void expect_proxy_page(const http_reply& r) {
  EXPECT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.headers.count("x-amzn-requestid"), 0u);
  EXPECT_EQ(r.headers.count("x-amzn-errortype"), 0u);
  EXPECT_EQ(r.header("content-type"), "text/html");
  EXPECT_EQ(r.header("location"), "");
  EXPECT_TRUE(r.body.starts_with("<!DOCTYPE html>")) << r.body;
  EXPECT_NE(r.body.find("</html>"), std::string::npos);
  EXPECT_THROW(r.json(), std::exception);  // not JSON: nothing a client may read users from
}

// expect_proxy_redirect: a proxy's 302: Location, HTML, no request id.
void expect_proxy_redirect(const http_reply& r) {
  EXPECT_EQ(r.status, 302u) << r.body;
  EXPECT_EQ(r.headers.count("x-amzn-requestid"), 0u);
  EXPECT_EQ(r.headers.count("x-amzn-errortype"), 0u);
  EXPECT_EQ(r.header("content-type"), "text/html");
  const auto location = r.header("location");
  EXPECT_TRUE(location.starts_with("https://")) << location;
  EXPECT_NE(r.body.find(location), std::string::npos) << r.body;
  EXPECT_THROW(r.json(), std::exception);
}

// users_with_email: the Users of a ListUsers filtered by `encoded` (the percent-encoded address).
json::array users_with_email(test_client& c, const std::string& encoded) {
  auto r = c.call("GET", list_path + "?user-email=" + encoded);
  EXPECT_EQ(r.status, 200u) << r.body;
  return r.json().at("Users").as_array();
}

// invite_then_list: invites two addresses (applied, as ListUsers faults leave InviteUsers alone),
// then lists the account; returns the ListUsers answer.
http_reply invite_then_list(test_client& c, const std::string& list_target = list_path) {
  auto inv = c.call("POST", invite_path, invite_body({"a@example.com", "b@example.com"}));
  EXPECT_EQ(inv.status, 201u) << inv.body;
  return c.call("GET", list_target);
}

TEST(answer_modes, list_users_fault_500_is_a_modelled_service_failure_every_time) {
  fixture f(list_fault(list_users_fault_mode::status_500));
  auto c = f.client();
  expect_modelled(invite_then_list(c), 500, "ServiceFailureException", "ServiceFailure");
  expect_modelled(c.call("GET", list_path + "?user-email=a%40example.com"), 500,
                  "ServiceFailureException", "ServiceFailure");
  EXPECT_EQ(f.stopped_ledger().size(), 2u);
  auto s = f.srv->stats();
  EXPECT_EQ(s.requests_by_status[500], 2u);
  EXPECT_EQ(s.requests_by_status[201], 1u);
  EXPECT_EQ(s.invites_applied, 2u);
}

TEST(answer_modes, list_users_fault_400_is_a_modelled_bad_request) {
  fixture f(list_fault(list_users_fault_mode::status_400));
  auto c = f.client();
  expect_modelled(invite_then_list(c), 400, "BadRequestException", "BadRequest");
  EXPECT_EQ(f.stopped_ledger().size(), 2u);
  EXPECT_EQ(f.srv->stats().requests_by_status[400], 1u);
}

TEST(answer_modes, list_users_fault_404_is_a_modelled_not_found) {
  fixture f(list_fault(list_users_fault_mode::status_404));
  auto c = f.client();
  expect_modelled(invite_then_list(c), 404, "NotFoundException", "NotFound");
  EXPECT_EQ(f.stopped_ledger().size(), 2u);
  EXPECT_EQ(f.srv->stats().requests_by_status[404], 1u);
}

TEST(answer_modes, list_users_fault_html_is_a_captive_portal_page_without_request_id) {
  fixture f(list_fault(list_users_fault_mode::html));
  auto c = f.client();
  expect_proxy_page(invite_then_list(c));
  // Also for a filtered query, and the connection stays usable.
  expect_proxy_page(c.call("GET", list_path + "?user-email=a%40example.com"));
  EXPECT_EQ(f.stopped_ledger(), (std::vector<std::string>{"invite\tacct-1\ta@example.com",
                                                          "invite\tacct-1\tb@example.com"}));
  auto s = f.srv->stats();
  EXPECT_EQ(s.requests_by_status[200], 2u);
  EXPECT_EQ(s.requests, 3u);
}

TEST(answer_modes, list_users_fault_302_is_a_proxy_redirect_with_location) {
  fixture f(list_fault(list_users_fault_mode::redirect_302));
  auto c = f.client();
  expect_proxy_redirect(invite_then_list(c));
  EXPECT_EQ(f.stopped_ledger().size(), 2u);
  auto s = f.srv->stats();
  EXPECT_EQ(s.requests_by_status[302], 1u);
  EXPECT_EQ(s.requests, 2u);
}

TEST(answer_modes, answer_modes_come_after_auth_account_and_throttling) {
  server_options o = list_fault(list_users_fault_mode::html);
  o.invite_fault = invite_fault_mode::redirect_302;
  o.accounts = {"acct-1"};
  o.rate = 0.01;  // one token, no refill within the test
  o.burst = 1;
  fixture f(o);
  auto c = f.client();
  auto unsigned_call =
      c.call("GET", list_path, "", with([](sign_options& so) { so.sign = false; }));
  expect_modelled(unsigned_call, 403, "ForbiddenException", "Forbidden");
  expect_modelled(c.call("GET", "/accounts/acct-9/users"), 404, "NotFoundException", "NotFound");
  expect_proxy_page(c.call("GET", list_path));  // takes the only token
  expect_modelled(c.call("POST", invite_path, invite_body({"a@example.com"})), 429,
                  "ThrottledClientException", "Throttled");
  EXPECT_TRUE(f.stopped_ledger().empty());
  auto s = f.srv->stats();
  EXPECT_EQ(s.requests_by_status[403], 1u);
  EXPECT_EQ(s.requests_by_status[404], 1u);
  EXPECT_EQ(s.requests_by_status[200], 1u);
  EXPECT_EQ(s.requests_by_status[429], 1u);
}

TEST(answer_modes, invite_fault_302_is_a_proxy_redirect_and_not_applied) {
  fixture f(invite_fault(invite_fault_mode::redirect_302));
  auto c = f.client();
  expect_proxy_redirect(
      c.call("POST", invite_path, invite_body({"a@example.com", "b@example.com"})));
  // The proxy answers before validation could: an invalid batch gets the same redirect.
  expect_proxy_redirect(c.call("POST", invite_path, invite_body({"not-an-address"})));
  // Other operations are not affected.
  EXPECT_EQ(c.call("POST", create_path, R"({"Email":"c@example.com"})").status, 201u);
  auto l = c.call("GET", list_path);
  ASSERT_EQ(l.status, 200u);
  EXPECT_EQ(l.json().at("Users").as_array().size(), 1u);
  EXPECT_EQ(f.stopped_ledger(), (std::vector<std::string>{"create\tacct-1\tc@example.com"}));
  auto s = f.srv->stats();
  EXPECT_EQ(s.invites_applied, 0u);
  EXPECT_EQ(s.requests_by_status[302], 2u);
}

TEST(answer_modes, invite_fault_html_is_a_captive_portal_page_and_not_applied) {
  fixture f(invite_fault(invite_fault_mode::html));
  auto c = f.client();
  expect_proxy_page(c.call("POST", invite_path, invite_body({"a@example.com", "b@example.com"})));
  auto l = c.call("GET", list_path + "?user-email=a%40example.com");
  ASSERT_EQ(l.status, 200u);
  EXPECT_TRUE(l.json().at("Users").as_array().empty());
  EXPECT_TRUE(f.stopped_ledger().empty());
  auto s = f.srv->stats();
  EXPECT_EQ(s.invites_applied, 0u);
  EXPECT_EQ(s.requests_by_status[200], 2u);
}

TEST(answer_modes, invite_fault_omit_last_applies_all_but_lists_all_but_the_last) {
  fixture f(invite_fault(invite_fault_mode::omit_last));
  auto c = f.client();
  const auto emails = numbered_emails(5, "o");
  auto r = c.call("POST", invite_path, invite_body(emails));
  ASSERT_EQ(r.status, 201u) << r.body;
  EXPECT_EQ(r.header("x-amzn-requestid").size(), 36u);
  EXPECT_EQ(r.header("content-type"), "application/json");
  const auto inv = r.json().at("Invites").as_array();
  ASSERT_EQ(inv.size(), 4u);
  for (std::size_t i = 0; i < inv.size(); ++i) {
    EXPECT_EQ(inv[i].at("EmailAddress").as_string(), emails[i]);
    EXPECT_EQ(inv[i].at("Status").as_string(), "Pending");
  }
  // A batch of one lists nothing at all, and is applied too.
  auto one = c.call("POST", invite_path, invite_body({"solo@example.com"}));
  ASSERT_EQ(one.status, 201u);
  EXPECT_TRUE(one.json().at("Invites").as_array().empty()) << one.body;
  // The unlisted addresses were applied: ListUsers knows them.
  for (const char* q : {"o4%40example.com", "solo%40example.com"}) {
    auto l = c.call("GET", list_path + "?user-email=" + q);
    ASSERT_EQ(l.status, 200u);
    EXPECT_EQ(l.json().at("Users").as_array().size(), 1u) << q;
  }
  auto lines = f.stopped_ledger();
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_EQ(lines[4], "invite\tacct-1\to4@example.com");
  EXPECT_EQ(lines[5], "invite\tacct-1\tsolo@example.com");
  auto s = f.srv->stats();
  EXPECT_EQ(s.invites_applied, 6u);
  EXPECT_EQ(s.requests_by_status[201], 2u);
}

TEST(answer_modes, fail_domain_gives_a_persistent_500_to_any_batch_naming_it) {
  server_options o;
  o.fail_domains = {"fail.example"};
  fixture f(o);
  auto c = f.client();
  auto batch = numbered_emails(8, "f");
  batch[5] = "Victim@FAIL.Example";  // domains match ignoring case
  // Every retry fails the same way, and nothing of the batch is applied.
  for (int attempt = 0; attempt < 3; ++attempt)
    expect_modelled(c.call("POST", invite_path, invite_body(batch)), 500, "ServiceFailureException",
                    "ServiceFailure");
  // Bisection: the half without it goes through, the half with it keeps failing.
  const std::vector<std::string> clean(batch.begin(), batch.begin() + 4);
  const std::vector<std::string> dirty(batch.begin() + 4, batch.end());
  EXPECT_EQ(c.call("POST", invite_path, invite_body(clean)).status, 201u);
  EXPECT_EQ(c.call("POST", invite_path, invite_body(dirty)).status, 500u);
  EXPECT_EQ(c.call("POST", invite_path, invite_body({batch[4], batch[6], batch[7]})).status, 201u);
  EXPECT_EQ(c.call("POST", invite_path, invite_body({batch[5]})).status, 500u);
  // A subdomain is not the domain; an address merely mentioning it is not in it either.
  EXPECT_EQ(
      c.call("POST", invite_path, invite_body({"x@sub.fail.example", "fail.example@ok.example"}))
          .status,
      201u);
  // CreateUser is not InviteUsers.
  EXPECT_EQ(c.call("POST", create_path, R"({"Email":"c@fail.example"})").status, 201u);
  auto lines = f.stopped_ledger();
  EXPECT_EQ(lines.size(), 4u + 3u + 2u + 1u);
  for (const auto& l : lines) EXPECT_EQ(l.find("ictim"), std::string::npos) << l;
  auto s = f.srv->stats();
  EXPECT_EQ(s.requests_by_status[500], 5u);
  EXPECT_EQ(s.invites_applied, 9u);
}

TEST(answer_modes, pending_without_email_hides_primary_email_but_the_filter_still_finds_the_user) {
  server_options o;
  o.pending_without_email = true;
  fixture f(o);
  auto c = f.client();
  ASSERT_EQ(c.call("POST", invite_path, invite_body({"Pending@Example.com"})).status, 201u);
  ASSERT_EQ(c.call("POST", create_path, R"({"Email":"made@example.com"})").status, 201u);
  auto r = c.call("GET", list_path + "?user-email=pending%40example.com");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.header("x-amzn-requestid").size(), 36u);
  auto users = r.json().at("Users").as_array();
  ASSERT_EQ(users.size(), 1u) << r.body;
  const auto& u = users[0].as_object();
  EXPECT_EQ(u.count("PrimaryEmail"), 0u) << r.body;
  EXPECT_EQ(u.at("UserInvitationStatus").as_string(), "Pending");
  EXPECT_EQ(u.at("AccountId").as_string(), "acct-1");
  EXPECT_EQ(u.at("UserId").as_string().size(), 36u);
  // A registered user still shows its address; an unknown address still finds nobody.
  auto made = users_with_email(c, "made%40example.com");
  ASSERT_EQ(made.size(), 1u);
  EXPECT_EQ(made[0].at("PrimaryEmail").as_string(), "made@example.com");
  EXPECT_TRUE(users_with_email(c, "nobody%40example.com").empty());
  // The unfiltered list hides it too.
  auto all = c.call("GET", list_path).json().at("Users").as_array();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].as_object().count("PrimaryEmail"), 0u);
  EXPECT_EQ(all[1].at("PrimaryEmail").as_string(), "made@example.com");
  // The InviteUsers answer is not ListUsers: it still names the address.
  auto again = c.call("POST", invite_path, invite_body({"pending@example.com"}));
  EXPECT_EQ(again.json().at("Invites").at(0).at("EmailAddress").as_string(), "pending@example.com");
  EXPECT_EQ(f.stopped_ledger().size(), 3u);
}

TEST(answer_modes, defaults_show_primary_email_for_pending_users) {
  fixture f(server_options{});
  auto c = f.client();
  ASSERT_EQ(c.call("POST", invite_path, invite_body({"p@example.com"})).status, 201u);
  auto users = users_with_email(c, "p%40example.com");
  ASSERT_EQ(users.size(), 1u);
  EXPECT_EQ(users[0].at("PrimaryEmail").as_string(), "p@example.com");
}

TEST(answer_modes_process, flags_reach_the_server_and_bad_values_name_the_flag) {
  tk::emulator_process emu(
      {"--accounts", "acct-1", "--list-users-fault", "302", "--invite-fault", "omit_last",
       "--fail-domain", "Fail.Example", "--pending-without-email"},
      tk::emulator_process::with_ledger());
  {
    test_client c(static_cast<std::uint16_t>(emu.port()), tk::read_file(emu.ca_path()));
    auto r = c.call("POST", invite_path, invite_body({"a@example.com", "b@example.com"}));
    ASSERT_EQ(r.status, 201u) << r.body;
    EXPECT_EQ(r.json().at("Invites").as_array().size(), 1u);
    EXPECT_EQ(c.call("POST", invite_path, invite_body({"x@fail.example"})).status, 500u);
    expect_proxy_redirect(c.call("GET", list_path));
  }
  EXPECT_EQ(emu.stat("status.302"), 1u);
  EXPECT_EQ(emu.stat("status.500"), 1u);
  EXPECT_EQ(emu.stop(), 0) << emu.process().stderr_text();
  EXPECT_EQ(ledger_lines(emu.ledger_path()).size(), 2u);

  // pending-without-email reaches the server (the other modes at their defaults).
  tk::emulator_process pending({"--pending-without-email", "--list-users-fault", "none"});
  {
    test_client c(static_cast<std::uint16_t>(pending.port()), tk::read_file(pending.ca_path()));
    ASSERT_EQ(c.call("POST", invite_path, invite_body({"p@example.com"})).status, 201u);
    auto users = users_with_email(c, "p%40example.com");
    ASSERT_EQ(users.size(), 1u);
    EXPECT_EQ(users[0].as_object().count("PrimaryEmail"), 0u);
  }
  EXPECT_EQ(pending.stop(), 0);

  for (const auto& [args, needle] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--list-users-fault", "418"},
            "--list-users-fault: expected one of none|500|html|400|404|302"},
           {{"--invite-fault", "omit_first"},
            "--invite-fault: expected one of none|302|html|omit_last"},
           {{"--invite-fault"}, "--invite-fault: missing value"},
           {{"--fail-domain"}, "--fail-domain: missing value"},
           {{"--pending-without-email=yes"}, "--pending-without-email: takes no value"}}) {
    std::vector<std::string> argv = {tk::emulator_binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = tk::run(argv);
    EXPECT_EQ(r.status, 2) << args[0];
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  }
  auto help = tk::run({tk::emulator_binary(), "--help"});
  EXPECT_EQ(help.status, 0);
  for (const char* flag : {"--list-users-fault MODE", "--invite-fault MODE", "--fail-domain DOMAIN",
                           "--pending-without-email"})
    EXPECT_NE(help.out.find(flag), std::string::npos) << flag;
}

}  // namespace
}  // namespace onboard::emulator::test
