// onboard/chime/user_page.hpp: a ListUsers answer: a page of the whole account's listing
// (max-results up to 200, NextToken; export-users, --skip-existing, the in-doubt listing) or what
// the query for one address (user-email) found.
//
//   std::string next;
//   do {
//     auto page = chime::decode_user_page(get(chime::user_page_target("acct-1", 200, next)));
//     ...; next = page.value->next_token;
//   } while (!next.empty());
#pragma once

#include <onboard/chime/chime_api.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace onboard::chime {

// listed_user: the members of a Chime `User` an export shows; absent members are empty.
struct listed_user {
  std::string user_id;
  std::string primary_email;  // absent for a pending invitee on some accounts
  std::string user_type;
  std::string license_type;
  std::string invitation_status;
  std::string registration_status;
  std::string invited_on;  // as the service wrote it (ISO 8601)
};

// user_page: one ListUsers answer; `next_token` empty on the last page.
struct user_page {
  std::vector<listed_user> users;
  std::string next_token;
  // has_users: the answer held a `Users` array. Without one it lists nobody, which is no proof
  // that the account has nobody (an in-doubt check does not take it as one).
  bool has_users = false;
};

// user_page_max: the model's MaxResults maximum for ListUsers.
inline constexpr int user_page_max = 200;

// user_page_target: ListUsers of every user, `max_results` a page, from `next_token` (empty: the
// first page).
std::string user_page_target(std::string_view account_id, int max_results,
                             std::string_view next_token);

// decode_user_page: parses a ListUsers 200 body. Every element of Users counts: one without
// PrimaryEmail (a pending invitee, whose details may not show until they accept) is still a user
// the query found. An element that is not an object, or a NextToken that is not a string, is an
// error, never skipped: an answer we cannot read must not be taken for "no user".
decoded<user_page> decode_user_page(std::string_view body);

}  // namespace onboard::chime
