// user_page_test.cpp: ListUsers answers: pages of a listing, and one address's query.
#include <onboard/chime/user_page.hpp>

#include <gtest/gtest.h>

namespace {

using namespace onboard::chime;

TEST(user_page, target_pages_from_an_encoded_token) {
  EXPECT_EQ(user_page_target("acct-1", 200, ""), "/accounts/acct-1/users?max-results=200");
  EXPECT_EQ(user_page_target("acct-1", 200, "a+b/c="),
            "/accounts/acct-1/users?max-results=200&next-token=a%2Bb%2Fc%3D");
}

TEST(user_page, decodes_every_column_and_the_next_token) {
  auto p = decode_user_page(
      R"({"Users":[{"UserId":"u-1","PrimaryEmail":"a@x.com","UserType":"PrivateUser",)"
      R"("LicenseType":"Pro","UserInvitationStatus":"Pending","UserRegistrationStatus":)"
      R"("Unregistered","InvitedOn":"2026-12-07T16:00:00Z"},{"UserId":"u-2"}],"NextToken":"t"})");
  ASSERT_TRUE(p) << p.error;
  ASSERT_EQ(p.value->users.size(), 2u);
  const auto& u = p.value->users[0];
  EXPECT_EQ(u.user_id, "u-1");
  EXPECT_EQ(u.primary_email, "a@x.com");
  EXPECT_EQ(u.license_type, "Pro");
  EXPECT_EQ(u.invitation_status, "Pending");
  EXPECT_EQ(u.registration_status, "Unregistered");
  EXPECT_EQ(u.invited_on, "2026-12-07T16:00:00Z");
  EXPECT_TRUE(p.value->users[1].primary_email.empty());  // a pending invitee may show none
  EXPECT_EQ(p.value->next_token, "t");
  auto last = decode_user_page(R"({"Users":[],"NextToken":null})");
  ASSERT_TRUE(last);
  EXPECT_TRUE(last.value->next_token.empty());
  EXPECT_TRUE(last.value->has_users);
}

TEST(user_page, an_answer_without_users_lists_nobody_and_says_so) {
  // An in-doubt check must not take "no Users member" for "the account has nobody".
  auto p = decode_user_page(R"({"Invites":[]})");
  ASSERT_TRUE(p) << p.error;
  EXPECT_TRUE(p.value->users.empty());
  EXPECT_FALSE(p.value->has_users);
}

TEST(user_page, a_query_counts_every_user_it_returned) {
  // A pending invitee may come back without PrimaryEmail: still a user the filter found.
  auto p = decode_user_page(R"({"Users":[{"UserId":"u-1","UserInvitationStatus":"Pending",)"
                            R"("UserRegistrationStatus":"Unregistered"}]})");
  ASSERT_TRUE(p) << p.error;
  ASSERT_EQ(p.value->users.size(), 1u);
  EXPECT_EQ(p.value->users[0].user_id, "u-1");
  EXPECT_EQ(p.value->users[0].primary_email, "");
  EXPECT_EQ(p.value->users[0].invitation_status, "Pending");
  EXPECT_EQ(p.value->users[0].registration_status, "Unregistered");
}

TEST(user_page, what_is_not_a_page_is_an_error_never_no_user) {
  for (std::string_view body :
       {"<html>", "<html></html>", "[]", R"({"Users":[)", R"({"Users":{}})", R"({"Users":[1]})",
        R"({"Users":[{"UserId":"u"},"x"]})", R"({"Users":[],"NextToken":5})"}) {
    auto p = decode_user_page(body);
    EXPECT_FALSE(p) << body;
    EXPECT_FALSE(p.error.empty()) << body;
  }
}

}  // namespace
