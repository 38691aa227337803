// onboard/chime/chime_api.hpp: the Amazon Chime REST shapes the engine speaks (InviteUsers,
// CreateUser, ListUsers, GetAccount), encoded and decoded exactly as the service model
// (botocore chime 2018-05-01) describes them.
//
//   // given: const std::vector<std::string>& emails, std::string_view resp_body
//   auto target = chime::users_target("acct-1", operation::invite);
//   // target == "/accounts/acct-1/users?operation=add"
//   auto body = chime::invite_users_body(emails, user_type::private_user);
//   auto r = chime::decode_invites(resp_body);  // the invites, or r.error says why not
#pragma once

#include <onboard/core/outcome.hpp>

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace onboard::chime {

// users_target: request-target for InviteUsers (`?operation=add`) or CreateUser
// (`?operation=create`). The account id is a URI label, so every byte outside RFC 3986's unreserved
// set is %-encoded.
std::string users_target(std::string_view account_id, operation op);

// list_users_target: ListUsers filtered to one address (how in-doubt batches are verified).
std::string list_users_target(std::string_view account_id, std::string_view email);

// account_target: GetAccount (`/accounts/{accountId}`).
std::string account_target(std::string_view account_id);

// list_users_probe_target: ListUsers with max-results=1, the cheapest call that proves the
// chime:ListUsers permission.
std::string list_users_probe_target(std::string_view account_id);

// invite_users_body: `{"UserEmailList":[...],"UserType":"..."}` (UserType omitted when
// unspecified).
std::string invite_users_body(std::span<const std::string_view> emails, user_type type);
std::string invite_users_body(std::span<const std::string> emails, user_type type);

// create_user_body: `{"Email":...,"Username":...,"UserType":...}`, empty members omitted.
std::string create_user_body(std::string_view email, std::string_view username, user_type type);

// invite: one element of InviteUsersResponse.Invites.
struct invite {
  std::string invite_id;
  std::string status;  // Pending | Accepted | Failed
  std::string email_address;
  std::string email_status;  // NotSent | Sent | Failed
};

// decoded<T>: a value or the reason the body could not be decoded (never a half-filled value).
template <class T>
struct decoded {
  std::optional<T> value;
  std::string error;
  explicit operator bool() const { return value.has_value(); }
};

// decode_invites: parses an InviteUsers 201 body.
decoded<std::vector<invite>> decode_invites(std::string_view body);
// decode_invites: the same into `out`, whose elements are reused (their strings keep their
// capacity), so a caller decoding one response after another stops allocating. On failure `out`
// is empty and `error` says why.
bool decode_invites(std::string_view body, std::vector<invite>& out, std::string& error);

// user: the members of a Chime `User` the engine uses.
struct user {
  std::string user_id;
  std::string primary_email;
  std::string invitation_status;  // UserInvitationStatus
  std::string registration_status;
};

// decode_created_user: parses a CreateUser 201 body.
decoded<user> decode_created_user(std::string_view body);

// account: the members of a Chime `Account` the pre-flight reads.
struct account {
  std::string account_id;
  std::string name;
  std::string account_type;    // Team | EnterpriseDirectory | EnterpriseLWA | EnterpriseOIDC
  std::string account_status;  // Active | Suspended (absent: empty)
};

// decode_account: parses a GetAccount 200 body (`{"Account":{...}}`); AccountId is required.
decoded<account> decode_account(std::string_view body);

// A ListUsers answer, of a page or of one address's query: decode_user_page (user_page.hpp).

// service_error: an error response as botocore reads it: the code is the `x-amzn-ErrorType` header
// (text from the first ':' dropped), else the body's `code`/`Code`/`__type` (namespace prefix
// dropped), else the HTTP status; the message is the body's `message`/`Message`.
struct service_error {
  std::string code;
  std::string message;
};
service_error decode_error(unsigned status, std::string_view error_type_header,
                           std::string_view body);

}  // namespace onboard::chime
