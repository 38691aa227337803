// in_doubt_listing: what a listing of the account proves about addresses left in doubt (found,
// absent, or ask one by one), and the rule that bounds its cost to twice the cheaper of listing
// and asking. Pure: pages are built here, nothing is sent.
#include <onboard/core/text.hpp>
#include <onboard/dispatch/in_doubt_listing.hpp>

#include <gtest/gtest.h>

#include <string>
#include <unordered_set>
#include <vector>

namespace onboard {
namespace {

using verdict = in_doubt_listing::verdict;

std::unordered_set<std::string> keys_of(const std::vector<std::string>& emails,
                                        bool case_sensitive = false) {
  std::unordered_set<std::string> k;
  for (const auto& e : emails) k.insert(address_key(e, case_sensitive));
  return k;
}

chime::listed_user user(std::string email, std::string status = "Pending") {
  chime::listed_user u;
  u.user_id = "id-" + email;
  u.primary_email = std::move(email);
  u.invitation_status = std::move(status);
  return u;
}

chime::user_page page(std::vector<chime::listed_user> users, std::string next = {}) {
  return {std::move(users), std::move(next), /*has_users=*/true};
}

TEST(in_doubt_listing, a_complete_listing_finds_listed_addresses_and_proves_the_others_absent) {
  auto keys = keys_of({"ann@example.com", "bob@example.com", "cy@example.com"});
  in_doubt_listing l(keys, false);
  ASSERT_TRUE(l.wants_page());
  l.add(page({user("ANN@Example.com", "Accepted"), user("zed@example.com")}, "t1"), "req-1");
  ASSERT_TRUE(l.wants_page());
  l.add(page({user("bob@example.com")}), "req-2");
  EXPECT_FALSE(l.wants_page()) << "no NextToken: the listing is over";
  EXPECT_TRUE(l.conclusive());
  EXPECT_EQ(l.pages(), 2u);
  EXPECT_EQ(l.users(), 3u);
  EXPECT_EQ(l.found(), 2u);
  EXPECT_EQ(l.unresolved(), 1u);

  auto ann = l.verdict_of("ann@example.com");
  ASSERT_EQ(ann.what, verdict::found);
  EXPECT_EQ(ann.user->invitation_status, "Accepted");
  EXPECT_EQ(ann.request_id, "req-1");
  EXPECT_EQ(l.verdict_of("bob@example.com").request_id, "req-2");
  EXPECT_EQ(l.verdict_of("cy@example.com").what, verdict::absent);
}

TEST(in_doubt_listing, a_user_without_primary_email_makes_absence_unprovable) {
  // A pending invitee may be listed without PrimaryEmail: it could be any unfound address.
  auto keys = keys_of({"ann@example.com", "bob@example.com"});
  in_doubt_listing l(keys, false);
  auto hidden = user("");
  l.add(page({user("ann@example.com"), hidden}), "req-1");
  EXPECT_FALSE(l.conclusive());
  EXPECT_NE(l.why_not().find("without a PrimaryEmail"), std::string::npos) << l.why_not();
  EXPECT_EQ(l.verdict_of("ann@example.com").what, verdict::found);
  EXPECT_EQ(l.verdict_of("bob@example.com").what, verdict::ask);
}

TEST(in_doubt_listing, an_incomplete_listing_finds_but_never_proves_absence) {
  auto keys = keys_of({"ann@example.com", "bob@example.com"});
  in_doubt_listing stopped(keys, false);
  stopped.add(page({user("ann@example.com")}, "more"), "req-1");
  stopped.abandon();
  EXPECT_FALSE(stopped.wants_page());
  EXPECT_EQ(stopped.verdict_of("ann@example.com").what, verdict::found);
  EXPECT_EQ(stopped.verdict_of("bob@example.com").what, verdict::ask);
  EXPECT_TRUE(stopped.failing().empty());

  in_doubt_listing failing(keys, false);
  failing.abandon(/*failing=*/true, "HTTP 500 ServiceFailureException: down");
  EXPECT_EQ(failing.failing(), "HTTP 500 ServiceFailureException: down");
  EXPECT_EQ(failing.verdict_of("bob@example.com").what, verdict::ask);
}

TEST(in_doubt_listing, pages_stop_once_they_reach_the_queries_still_needed) {
  // Three addresses in doubt, an account that never ends: three pages at most, and a page that
  // finds one lowers the count (each find saves a query).
  auto keys = keys_of({"a@example.com", "b@example.com", "c@example.com"});
  in_doubt_listing l(keys, false);
  std::size_t pages = 0;
  while (l.wants_page()) {
    l.add(page({user("other" + std::to_string(pages) + "@example.com")}, "more"), "r");
    ++pages;
  }
  EXPECT_EQ(pages, 3u);
  EXPECT_EQ(l.pages() + l.unresolved(), 6u) << "twice the 3 queries, never more";
  EXPECT_EQ(l.verdict_of("a@example.com").what, verdict::ask);

  in_doubt_listing finds(keys, false);
  finds.add(page({user("a@example.com"), user("b@example.com")}, "more"), "r");
  EXPECT_FALSE(finds.wants_page()) << "1 page spent, 1 address unresolved: a query is as cheap";
}

TEST(in_doubt_listing, with_case_sensitive_local_parts_another_case_is_neither_found_nor_absent) {
  // "Ann@" and "ann@" are two people under the run's rule, but the service may hold them as one:
  // the listed "ann@" neither settles "Ann@" nor proves it absent.
  auto keys = keys_of({"Ann@example.com", "Bob@example.com", "cy@example.com"}, true);
  in_doubt_listing l(keys, true);
  l.add(page({user("ann@example.com"), user("Bob@EXAMPLE.com")}), "req-1");
  ASSERT_TRUE(l.conclusive());
  EXPECT_EQ(l.verdict_of("Ann@example.com").what, verdict::ask);
  EXPECT_EQ(l.verdict_of("Bob@example.com").what, verdict::found);
  EXPECT_EQ(l.verdict_of("cy@example.com").what, verdict::absent);
}

TEST(in_doubt_listing, non_ascii_addresses_are_asked_about) {
  // The service may fold the case of other letters than ASCII: absence of "élise@" is unproven
  // by a listing holding "Élise@", and any listed non-ASCII address leaves the listing unable to
  // prove absence at all.
  auto keys = keys_of({"\xC3\xA9lise@example.fr", "bob@example.com"});
  in_doubt_listing ascii_only(keys, false);
  ascii_only.add(page({user("ann@example.com")}), "r");
  EXPECT_EQ(ascii_only.verdict_of("\xC3\xA9lise@example.fr").what, verdict::ask);
  EXPECT_EQ(ascii_only.verdict_of("bob@example.com").what, verdict::absent);

  in_doubt_listing with_non_ascii(keys, false);
  with_non_ascii.add(page({user("\xC3\x89lise@example.fr")}), "r");
  EXPECT_FALSE(with_non_ascii.conclusive());
  EXPECT_EQ(with_non_ascii.verdict_of("bob@example.com").what, verdict::ask);
}

}  // namespace
}  // namespace onboard
