// onboard/core/outcome.hpp: the vocabulary shared by ingest, dispatch, the journal and reports:
// what operation a run performs, for which user type, and what became of each address.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace onboard {

// operation: InviteUsers (batches of <= 50) or CreateUser (one address a call).
enum class operation : std::uint8_t { invite, create };

// user_type: the Chime `UserType` enum; `unspecified` sends no UserType member.
enum class user_type : std::uint8_t { unspecified, private_user, shared_device };

std::string_view to_string(operation op);  // "invite" | "create"
std::string_view to_string(user_type t);   // "" | "PrivateUser" | "SharedDevice"
std::optional<user_type> parse_user_type(std::string_view s);  // accepts "" and the two enum values

// outcome_kind: the terminal result for one address. Every outcome is final on resume; only
// `failed` and `not_sent` are sent again, and only by a run given --retry-failed. The values are
// the journal's (a u8 on disk): append, never renumber.
enum class outcome_kind : std::uint8_t {
  invited,   // InviteUsers returned an Invite with Status Pending and EmailStatus Sent
  created,   // CreateUser returned a User
  exists,    // already in the account: 409 on CreateUser, an Invite with Status Accepted (no
             // email sent), or found by ListUsers when verifying
  failed,    // the service refused it: Invite Status Failed or EmailStatus Failed, a 400
             // isolated by bisection, retries exhausted
  not_sent,  // an Invite with Status Pending and EmailStatus NotSent: the user is pending but no
             // email went out
};

// outcome_kind_count: how many outcome kinds there are; a journal byte at or above it is not one.
inline constexpr std::uint8_t outcome_kind_count = 5;

// retried_by_retry_failed: whether a run given --retry-failed sends an address with this earlier
// outcome again (and `report --failed-only` lists it).
constexpr bool retried_by_retry_failed(outcome_kind k) {
  return k == outcome_kind::failed || k == outcome_kind::not_sent;
}

std::string_view to_string(outcome_kind k);  // "invited" | "created" | "exists" | "failed" |
                                             // "not_sent"
std::optional<outcome_kind> parse_outcome_kind(std::string_view s);

// address_outcome: everything the report says about one address.
struct address_outcome {
  std::string email;  // normalised address as sent
  outcome_kind kind = outcome_kind::failed;
  std::string id;              // InviteId or UserId
  std::string status;          // Invite Status (Pending|Accepted|Failed) or UserInvitationStatus
  std::string email_status;    // Invite EmailStatus (NotSent|Sent|Failed)
  std::string error_code;      // e.g. BadRequestException, retries_exhausted
  std::string message;         // the service's message, verbatim
  std::string request_id;      // x-amzn-RequestId of the response that decided it
  std::uint32_t attempts = 0;  // HTTP attempts that carried this address
};

}  // namespace onboard
