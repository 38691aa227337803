// onboard/chime/suspend.hpp: BatchSuspendUser, encoded and decoded as the service model says:
// POST /accounts/{accountId}/users?operation=suspend with {"UserIdList": [...]} (at most 50),
// answered 200 {"UserErrors": [{"UserId", "ErrorCode", "ErrorMessage"}]} for the ids it refused.
#pragma once

#include <onboard/chime/chime_api.hpp>

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace onboard::chime {

// suspend_batch_max: the model's UserIdList maximum.
inline constexpr std::size_t suspend_batch_max = 50;

std::string suspend_target(std::string_view account_id);
std::string suspend_body(std::span<const std::string> user_ids);

// user_error: one refused id of a BatchSuspendUser answer.
struct user_error {
  std::string user_id, code, message;
};

// decode_user_errors: parses a BatchSuspendUser 200 body (no UserErrors member: none refused).
decoded<std::vector<user_error>> decode_user_errors(std::string_view body);

}  // namespace onboard::chime
