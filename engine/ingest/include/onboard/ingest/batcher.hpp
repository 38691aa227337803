// onboard/ingest/batcher.hpp: groups accepted addresses into request batches.
//
// InviteUsers takes <= 50 addresses for one account and one UserType, so addresses are grouped by
// (account_id, user_type); a group is emitted as a batch the moment it holds 50, and at the end of
// input the partial groups are flushed in the order the groups were first seen. CreateUser takes
// one address, so with operation::create every address is its own batch. Batch ids are 1, 2, 3...
// in emission order: the same input and options always give the same batches with the same ids.
//
//   // given: void send(const onboard::batch&)
//   onboard::batcher b(onboard::operation::invite);
//   onboard::batch out;
//   if (b.add("a@x.com", 0, 1, "", "acct", onboard::user_type::unspecified)) b.take(out);
//   ...
//   while (b.flush(out)) send(out);
//
// Batches handed back to take()/flush() are recycled: their strings keep their capacity, so a
// steady stream allocates nothing.
#pragma once

#include <onboard/core/batch.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace onboard {

// batcher: see the header comment.
class batcher {
 public:
  // batcher: `limit` is forced to 1 for operation::create.
  explicit batcher(operation op, std::size_t limit = max_invite_batch);

  // group_id: one (account, user type) group, valid for the batcher's life. A caller that sends
  // most addresses to one group looks it up once instead of once per address.
  using group_id = std::size_t;

  // group_of: the group of (account_id, type), made on first use (groups flush in first-use order).
  group_id group_of(std::string_view account_id, user_type type);

  // add: appends an address; true when this completed a batch, which take() then returns.
  bool add(group_id g, std::string_view email, std::uint32_t source, std::uint64_t line,
           std::string_view username);
  bool add(std::string_view email, std::uint32_t source, std::uint64_t line,
           std::string_view username, std::string_view account_id, user_type type) {
    return add(group_of(account_id, type), email, source, line, username);
  }

  // take: moves the completed batch into `out` (recycling out's storage); false if none.
  bool take(batch& out);

  // flush: at end of input, the next partial group as a batch; false when none is left.
  bool flush(batch& out);

  std::uint64_t batches() const noexcept { return next_id_ - 1; }

 private:
  struct group {
    std::string account_id;
    user_type type = user_type::unspecified;
    std::vector<planned_address> items;  // items[0, n) are live; the rest are spare capacity
    std::size_t n = 0;
  };
  void emit(group& g);

  std::size_t limit_;
  std::vector<group> groups_;                           // in first-seen order
  std::unordered_map<std::string, std::size_t> index_;  // type byte + account id -> group
  std::size_t last_ = static_cast<std::size_t>(-1);
  std::size_t flush_pos_ = 0;
  batch ready_;
  bool has_ready_ = false;
  std::uint64_t next_id_ = 1;
  std::string key_scratch_;
};

}  // namespace onboard
