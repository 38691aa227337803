// onboard/core/batch.hpp: the hand-off between reading and sending. Ingest fills batches, the
// dispatcher sends them; neither stage knows the other, both know this.
#pragma once

#include <onboard/core/outcome.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace onboard {

// max_invite_batch: InviteUsers' limit on EmailList.
inline constexpr std::size_t max_invite_batch = 50;

// planned_address: one address as it will be sent, with where it came from.
struct planned_address {
  std::string email;         // normalised (domain lowercased/punycode, local part as given)
  std::uint32_t source = 0;  // input index
  std::uint64_t line = 0;    // line in that input
  std::string username;      // CSV username column (CreateUser), may be empty
};

// batch: one request's worth of addresses (<= 50 for InviteUsers, 1 for CreateUser).
struct batch {
  std::uint64_t id = 0;  // 1, 2, 3... in emission order
  std::string account_id;
  user_type type = user_type::unspecified;
  std::vector<planned_address> items;
};

}  // namespace onboard
