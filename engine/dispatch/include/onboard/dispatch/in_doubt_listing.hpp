// onboard/dispatch/in_doubt_listing.hpp: what one listing of an account's users proves about the
// addresses an earlier run left in doubt, and when listing is worth its requests.
//
// A resume asks ListUsers about every address an earlier run left in doubt before sending it
// again: one request an address, 5,000 for 100 batches, 500 s at a ListUsers limit of 10/s.
// Listing the whole account costs one request per 200 users instead. This is the pure part of
// that listing (the dispatcher fetches the pages): it keeps the listed users that are in-doubt
// addresses, says whether one more page is worth fetching, and then what the listing proves of
// each address: found (settled without a query), absent (sent), or ask (one query decides).
//
//   in_doubt_listing l(in_doubt_keys, /*case_sensitive_local=*/false);
//   std::string next;
//   while (l.wants_page()) {
//     auto page = chime::decode_user_page(get(chime::user_page_target(acct, 200, next)));
//     next = page.value->next_token;
//     l.add(*page.value, request_id);
//   }
//   auto v = l.verdict_of("ann@example.com");   // found (v.user) / absent / ask
#pragma once

#include <onboard/chime/user_page.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

namespace onboard {

class in_doubt_listing {
 public:
  // in_doubt_keys: the address_key of every address left in doubt, under `case_sensitive_local`.
  in_doubt_listing(const std::unordered_set<std::string>& in_doubt_keys, bool case_sensitive_local);

  // wants_page: one more page is worth its request: the listing is not over and the pages spent
  // are fewer than the in-doubt addresses it has not found, each of which would otherwise cost
  // one query. The rule bounds the cost without knowing the account's size (N addresses in
  // doubt, P pages in the account). A listing that ends within the rule took P <= N requests.
  // One the rule stops at page k has k >= R, the addresses still unresolved, which one query
  // each then settles: k + R <= 2k requests, where k <= N (one page earlier k - 1 was below R,
  // itself at most N) and k < P. Either way at most twice the cheaper of asking about each
  // address and listing the account; a listing that cannot prove absence (see conclusive) adds
  // its pages to the queries, at most N more.
  bool wants_page() const { return !complete_ && !abandoned_ && pages_ < unresolved(); }

  // add: the next page (in NextToken order) and the request id of its answer. A page without a
  // NextToken ends the listing.
  void add(const chime::user_page& page, std::string_view request_id);
  // abandon: a page could not be had (a stop, a refusal): the listing stays incomplete, so what
  // it did not find is asked about one by one. `failing`: ListUsers failed every attempt (`why`,
  // its last answer), so asking one by one now would only fail the same way.
  void abandon(bool failing = false, std::string why = {}) {
    abandoned_ = true;
    if (failing) failing_ = std::move(why);
  }
  // failing: why the listing ended with ListUsers failing every attempt; empty otherwise.
  const std::string& failing() const { return failing_; }

  enum class verdict { found, absent, ask };
  struct answer {
    verdict what = verdict::ask;
    const chime::listed_user* user = nullptr;  // found: as the listing showed it
    std::string_view request_id;               // found: the answer that listed it
  };
  // verdict_of: what the listing proves of `email` (a normalised address). `found` needs its
  // PrimaryEmail listed under the run's rule for the same address. `absent` needs proof that the
  // service has no such user: a complete listing, every user in it with a PrimaryEmail (a pending
  // invitee may show none), no listed address that the service might take for this one under
  // another case rule, and an ASCII address (the service may fold other letters' case in ways
  // this side cannot know). Anything short of that is `ask`: never risk a second invitation.
  answer verdict_of(std::string_view email) const;

  // conclusive: the listing can prove absence (complete, every page held a Users array, and
  // every listed user has an ASCII PrimaryEmail); why_not says otherwise in a few words.
  bool conclusive() const;
  std::string why_not() const;

  // complete: the last page has been added; abandoned: a page could not be had.
  bool complete() const { return complete_; }
  bool abandoned() const { return abandoned_; }
  std::size_t pages() const { return pages_; }
  std::size_t users() const { return users_; }
  std::size_t found() const { return found_.size(); }
  std::size_t unresolved() const { return in_doubt_ - found_.size(); }

 private:
  struct listed {
    chime::listed_user user;
    std::string request_id;
  };
  const std::unordered_set<std::string>& keys_;
  bool case_sensitive_local_;
  std::size_t in_doubt_;
  // folded_keys_: with case-sensitive local parts, the in-doubt keys with every ASCII letter
  // lowered, and close_calls_ the listed addresses equal to one of them only that way.
  std::unordered_set<std::string> folded_keys_;
  std::unordered_set<std::string> close_calls_;
  std::unordered_map<std::string, listed> found_;  // by address_key
  std::size_t pages_ = 0;
  std::size_t users_ = 0;
  std::size_t without_email_ = 0;    // listed users without a PrimaryEmail
  std::size_t non_ascii_email_ = 0;  // listed users whose PrimaryEmail is not ASCII
  std::size_t without_users_ = 0;    // pages whose answer held no Users array
  bool complete_ = false;
  bool abandoned_ = false;
  std::string failing_;
};

}  // namespace onboard
