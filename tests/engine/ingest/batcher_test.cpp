// Tests for onboard::batcher: grouping by (account, user type), the 50 limit, flush order,
// deterministic ids, CreateUser singles, and storage reuse.
#include <onboard/ingest/batcher.hpp>

#include <gtest/gtest.h>

namespace {

using onboard::batch;
using onboard::batcher;
using onboard::operation;
using onboard::user_type;

TEST(Batcher, FullGroupsAreEmittedAtFiftyThenPartialsInFirstSeenOrder) {
  batcher b(operation::invite);
  std::vector<batch> out;
  batch x;
  for (int i = 0; i < 130; ++i) {
    // Three groups: acct-a/unspecified (every other), acct-b/private, acct-a/shared.
    std::string acct = (i % 2 == 0 || i % 3 == 0) ? "acct-a" : "acct-b";
    user_type t = i % 2 == 0
                      ? user_type::unspecified
                      : (acct == "acct-b" ? user_type::private_user : user_type::shared_device);
    if (b.add("u" + std::to_string(i) + "@x.com", 0, static_cast<std::uint64_t>(i + 1), "", acct,
              t)) {
      ASSERT_TRUE(b.take(x));
      out.push_back(x);
    }
  }
  EXPECT_EQ(out.size(), 1u);  // the 65 even addresses reach 50 once
  while (b.flush(x)) out.push_back(x);
  ASSERT_EQ(out.size(), 4u);
  for (std::size_t i = 0; i < out.size(); ++i) EXPECT_EQ(out[i].id, i + 1);
  EXPECT_EQ(out[0].items.size(), 50u);
  EXPECT_EQ(out[0].account_id, "acct-a");
  EXPECT_EQ(out[0].items.front().email, "u0@x.com");
  EXPECT_EQ(out[0].items.back().email, "u98@x.com");
  EXPECT_EQ(out[0].items.back().line, 99u);
  // Partials: first-seen order of the groups: acct-a/unspecified (i=0), acct-b (i=1), acct-a/shared
  // (i=3).
  EXPECT_EQ(out[1].account_id, "acct-a");
  EXPECT_EQ(out[1].type, user_type::unspecified);
  EXPECT_EQ(out[1].items.size(), 15u);
  EXPECT_EQ(out[2].account_id, "acct-b");
  EXPECT_EQ(out[2].type, user_type::private_user);
  EXPECT_EQ(out[3].type, user_type::shared_device);
  EXPECT_EQ(out[2].items.size() + out[3].items.size(), 65u);
  EXPECT_EQ(b.batches(), 4u);
}

TEST(Batcher, CreateMakesSingleItemBatchesWithUsernames) {
  batcher b(operation::create);
  batch x;
  ASSERT_TRUE(b.add("a@x.com", 1, 7, "alice", "acct", user_type::private_user));
  ASSERT_TRUE(b.take(x));
  EXPECT_EQ(x.id, 1u);
  ASSERT_EQ(x.items.size(), 1u);
  EXPECT_EQ(x.items[0].username, "alice");
  EXPECT_EQ(x.items[0].source, 1u);
  EXPECT_EQ(x.items[0].line, 7u);
  ASSERT_TRUE(b.add("b@x.com", 1, 8, "", "acct", user_type::private_user));
  ASSERT_TRUE(b.take(x));
  EXPECT_EQ(x.id, 2u);
  EXPECT_EQ(x.items.at(0).email, "b@x.com");
  EXPECT_EQ(x.items[0].username, "");
  EXPECT_FALSE(b.flush(x));
}

TEST(Batcher, ReusedBatchesCarryNoStaleItemsAndAddBeforeTakeIsAnError) {
  batcher b(operation::invite, 3);
  batch x;
  std::vector<std::string> seen;
  for (int i = 0; i < 10; ++i)
    if (b.add("u" + std::to_string(i) + "@x.com", 0, 1, "", "", user_type::unspecified)) {
      ASSERT_TRUE(b.take(x));
      ASSERT_EQ(x.items.size(), 3u);
      for (auto& a : x.items) seen.push_back(a.email);
    }
  ASSERT_TRUE(b.flush(x));
  ASSERT_EQ(x.items.size(), 1u);
  seen.push_back(x.items[0].email);
  ASSERT_EQ(seen.size(), 10u);
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(seen[static_cast<std::size_t>(i)], "u" + std::to_string(i) + "@x.com");
  batcher c(operation::invite, 1);
  ASSERT_TRUE(c.add("a@x.com", 0, 1, "", "", user_type::unspecified));
  EXPECT_THROW(c.add("b@x.com", 0, 2, "", "", user_type::unspecified), std::logic_error);
}

TEST(Batcher, GroupIdsAreStableAndAddingByIdIsAddingByName) {
  batcher b(operation::invite, 2);
  const batcher::group_id a = b.group_of("acct-a", user_type::unspecified);
  const batcher::group_id s = b.group_of("acct-a", user_type::shared_device);
  EXPECT_NE(a, s);
  EXPECT_EQ(b.group_of("acct-b", user_type::unspecified),
            b.group_of("acct-b", user_type::unspecified));
  EXPECT_EQ(b.group_of("acct-a", user_type::unspecified), a);
  batch x;
  ASSERT_FALSE(b.add(a, "a1@x.com", 0, 1, ""));
  ASSERT_TRUE(b.add("a2@x.com", 0, 2, "", "acct-a", user_type::unspecified));
  ASSERT_TRUE(b.take(x));
  EXPECT_EQ(x.account_id, "acct-a");
  EXPECT_EQ(x.type, user_type::unspecified);
  ASSERT_EQ(x.items.size(), 2u);
  EXPECT_EQ(x.items[1].email, "a2@x.com");
  // Groups flush in the order they were first looked up, even before their first address.
  ASSERT_FALSE(b.add(s, "s1@x.com", 0, 3, ""));
  ASSERT_FALSE(b.add("b1@x.com", 0, 4, "", "acct-b", user_type::unspecified));
  ASSERT_TRUE(b.flush(x));
  EXPECT_EQ(x.type, user_type::shared_device);
  ASSERT_TRUE(b.flush(x));
  EXPECT_EQ(x.account_id, "acct-b");
  EXPECT_FALSE(b.flush(x));
  EXPECT_THROW(b.add(batcher::group_id{99}, "z@x.com", 0, 5, ""), std::out_of_range);
}

TEST(Batcher, RecycledItemsLoseTheUsernamesOfEarlierBatches) {
  batcher b(operation::invite, 2);
  batch x;
  int batches = 0;
  for (int i = 0; i < 16; ++i) {
    const std::string user = i < 8 ? "user" + std::to_string(i) : "";
    if (!b.add("u" + std::to_string(i) + "@x.com", 0, 1, user, "acct", user_type::unspecified))
      continue;
    ASSERT_TRUE(b.take(x));
    ++batches;
    for (const auto& a : x.items) EXPECT_EQ(a.username.empty(), i >= 8) << a.email;
  }
  EXPECT_EQ(batches, 8);
}

}  // namespace
