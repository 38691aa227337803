#include <onboard/dispatch/in_doubt_listing.hpp>

#include <onboard/core/text.hpp>

#include <algorithm>

namespace onboard {

namespace {

bool is_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

}  // namespace

in_doubt_listing::in_doubt_listing(const std::unordered_set<std::string>& in_doubt_keys,
                                   bool case_sensitive_local)
    : keys_(in_doubt_keys), case_sensitive_local_(case_sensitive_local),
      in_doubt_(in_doubt_keys.size()) {
  if (case_sensitive_local_)
    for (const auto& k : keys_) folded_keys_.insert(ascii_lower(k));
}

void in_doubt_listing::add(const chime::user_page& page, std::string_view request_id) {
  ++pages_;
  if (!page.has_users) ++without_users_;
  users_ += page.users.size();
  for (const auto& u : page.users) {
    if (u.primary_email.empty()) {
      ++without_email_;
      continue;
    }
    if (!is_ascii(u.primary_email)) ++non_ascii_email_;
    std::string key = address_key(u.primary_email, case_sensitive_local_);
    if (keys_.count(key)) {
      found_.try_emplace(std::move(key), listed{u, std::string(request_id)});
    } else if (case_sensitive_local_) {
      std::string folded = ascii_lower(key);
      if (folded_keys_.count(folded)) close_calls_.insert(std::move(folded));
    }
  }
  if (page.next_token.empty()) complete_ = true;
}

in_doubt_listing::answer in_doubt_listing::verdict_of(std::string_view email) const {
  const std::string key = address_key(email, case_sensitive_local_);
  if (auto it = found_.find(key); it != found_.end())
    return {verdict::found, &it->second.user, it->second.request_id};
  if (!conclusive() || !is_ascii(email)) return {};
  if (case_sensitive_local_ && close_calls_.count(ascii_lower(key))) return {};
  return {verdict::absent, nullptr, {}};
}

bool in_doubt_listing::conclusive() const {
  return complete_ && without_email_ == 0 && non_ascii_email_ == 0 && without_users_ == 0;
}

std::string in_doubt_listing::why_not() const {
  if (!complete_)
    return abandoned_ ? "ListUsers did not answer every page" : "listing stopped at its cost bound";
  if (without_users_) return std::to_string(without_users_) + " page(s) without a Users array";
  if (without_email_)
    return std::to_string(without_email_) + " listed user(s) without a PrimaryEmail";
  if (non_ascii_email_) return std::to_string(non_ascii_email_) + " listed non-ASCII address(es)";
  return {};
}

}  // namespace onboard
