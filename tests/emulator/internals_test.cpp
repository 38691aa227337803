// internals_test.cpp: the emulator's fast paths against plain references: the eight-bytes-at-once
// scans (swar.hpp) against byte-by-byte tests, the user store against the rule it replaced (a map
// keyed by the ASCII-lower-cased address, in insertion order), and the hand-written response head
// against what Beast's serializer writes for the same http::response.
// The headers are the emulator's private ones (emulator/src), reached through
// onboard_emulator_internal.
#include "response_head.hpp"
#include "swar.hpp"
#include "user_store.hpp"

#include <boost/beast/http.hpp>

#include <gtest/gtest.h>

#include <cstring>
#include <initializer_list>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace onboard::emulator::detail {
namespace {

namespace http = boost::beast::http;

// ---------------------------------------------------------------------------------------------
// swar

std::uint64_t word_of(const unsigned char (&bytes)[8]) {
  std::uint64_t w;
  std::memcpy(&w, bytes, 8);
  return w;
}

// check_word: every swar test on the word holding `bytes`, against the byte-by-byte answer.
void check_word(const unsigned char (&bytes)[8]) {
  const auto w = word_of(bytes);
  auto any = [&](auto pred) {
    for (unsigned char b : bytes)
      if (pred(b)) return true;
    return false;
  };
  for (unsigned n : {1u, 0x0Eu, 0x20u, 0x80u})
    ASSERT_EQ(swar::has_byte_below(w, static_cast<unsigned char>(n)),
              any([&](unsigned char b) { return b < n; }))
        << std::hex << w << " below " << n;
  ASSERT_EQ(swar::has_zero(w), any([](unsigned char b) { return b == 0; })) << std::hex << w;
  ASSERT_EQ(swar::has_high_byte(w), any([](unsigned char b) { return b >= 0x80; }))
      << std::hex << w;
  for (unsigned char c : std::initializer_list<unsigned char>{'\t', '\\', '"', '@', 0xC2})
    ASSERT_EQ(swar::has_byte(w, c), any([&](unsigned char b) { return b == c; })) << std::hex << w;
  unsigned char folded[8];
  for (int i = 0; i < 8; ++i)
    folded[i] =
        bytes[i] >= 'A' && bytes[i] <= 'Z' ? static_cast<unsigned char>(bytes[i] + 32) : bytes[i];
  ASSERT_EQ(swar::fold_ascii(w), word_of(folded)) << std::hex << w;
}

TEST(swar, every_byte_value_in_every_position_matches_the_byte_by_byte_answer) {
  for (unsigned char filler : std::initializer_list<unsigned char>{'a', 'Z', '\0', 0xFF, 0x80}) {
    for (int pos = 0; pos < 8; ++pos) {
      for (int v = 0; v < 256; ++v) {
        unsigned char bytes[8];
        std::memset(bytes, filler, 8);
        bytes[pos] = static_cast<unsigned char>(v);
        check_word(bytes);
      }
    }
  }
}

TEST(swar, random_words_match_the_byte_by_byte_answer) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 200000; ++i) {
    unsigned char bytes[8];
    const auto r = rng();
    std::memcpy(bytes, &r, 8);
    // Bias half the bytes towards the interesting ranges (controls, letters, the boundaries).
    for (auto& b : bytes)
      if (rng() & 1)
        b = static_cast<unsigned char>(
            "\x00\x0d\x0e\x1f\x20\x40\x41\x5a\x5b\x7f\x80\xc2\\\"\t"[rng() % 15]);
    check_word(bytes);
  }
}

// ---------------------------------------------------------------------------------------------
// user_store

std::string ascii_lower(std::string s) {
  for (auto& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

new_user invited(std::string_view email) {
  new_user u;
  u.id = draw_uuid();
  u.email = email;
  u.at = signing::clock::time_point(std::chrono::seconds(1000));
  return u;
}

TEST(user_store, finds_addresses_ignoring_ascii_case_only) {
  user_store s;
  auto [i, added] = s.insert(invited("Bob.Smith@Example.COM"));
  EXPECT_TRUE(added);
  EXPECT_EQ(s.find("bob.smith@example.com"), i);
  EXPECT_EQ(s.find("BOB.SMITH@EXAMPLE.COM"), i);
  EXPECT_EQ(s.find("bob.smith@example.co"), user_store::npos);
  EXPECT_EQ(s.find("bob.smith@example.comm"), user_store::npos);
  // Only ASCII letters fold, as the lower-cased map key did: É and é are different addresses.
  s.insert(invited("\xC3\x89ric@example.com"));
  EXPECT_EQ(s.find("\xC3\xA9ric@example.com"), user_store::npos);
  EXPECT_EQ(s.find("\xC3\x89RIC@EXAMPLE.COM"), 1u);
  // '@' + 32 is '`' and '[' - 32 is ';': only letters may fold.
  s.insert(invited("a@b.cd"));
  EXPECT_EQ(s.find("a`b.cd"), user_store::npos);
  EXPECT_EQ(s.find("A@B.CD"), 2u);
}

TEST(user_store, a_known_address_is_not_added_again_and_keeps_its_record) {
  user_store s;
  auto first = s.insert(invited("a@example.com"));
  auto again = s.insert(invited("A@EXAMPLE.COM"));
  EXPECT_EQ(again.first, first.first);
  EXPECT_FALSE(again.second);
  EXPECT_EQ(s.size(), 1u);
  EXPECT_EQ(s.view(0).email, "a@example.com");
}

TEST(user_store, views_show_what_was_stored) {
  user_store s;
  auto inv = invited("jane.doe@example.com");
  auto i = s.insert(inv).first;
  new_user dev;
  dev.id = draw_uuid();
  dev.email = "dev@example.com";
  dev.username = "Front desk";
  dev.type = user_type::shared_device;
  dev.created = true;
  dev.at = signing::clock::time_point(std::chrono::seconds(2000));
  auto d = s.insert(dev).first;

  auto v = s.view(i);
  EXPECT_EQ(v.display_name, "jane.doe");
  EXPECT_EQ(v.type, user_type::private_user);
  EXPECT_FALSE(v.created);
  EXPECT_EQ(v.id.hi, inv.id.hi);
  EXPECT_EQ(v.id.lo, inv.id.lo);
  auto w = s.view(d);
  EXPECT_EQ(w.display_name, "Front desk");
  EXPECT_EQ(w.type, user_type::shared_device);
  EXPECT_TRUE(w.created);
  EXPECT_EQ(w.registered_on, dev.at);
  EXPECT_EQ(s.type(d), user_type::shared_device);

  // Re-inviting refreshes InvitedOn, except for a user CreateUser registered.
  auto later = signing::clock::time_point(std::chrono::seconds(3000));
  s.reinvited(i, later);
  s.reinvited(d, later);
  EXPECT_EQ(s.view(i).invited_on, later);
  EXPECT_EQ(s.view(d).invited_on, dev.at);

  EXPECT_EQ(view_of(dev).display_name, "Front desk");
  EXPECT_EQ(view_of(invited("x@y.zz")).display_name, "x");
  EXPECT_EQ(display_name_for("@a@b.cc"), "");
}

TEST(user_store, agrees_with_a_lower_cased_map_over_many_addresses) {
  // Lengths around the 8-byte word boundaries, shared suffixes, and case variants: the store
  // must keep insertion order and find exactly what a map keyed by the lower-cased address finds.
  user_store s;
  std::map<std::string, std::size_t> reference;
  std::vector<std::string> inserted;
  std::mt19937 rng(7);
  const std::string letters = "abcXYZ.0_";
  for (int n = 0; n < 60000; ++n) {
    std::string local;
    const int len = 1 + static_cast<int>(rng() % 20);
    for (int k = 0; k < len; ++k) local += letters[rng() % letters.size()];
    std::string email = local + (rng() % 2 ? "@Example.com" : "@example.ORG");
    auto [i, added] = s.insert(invited(email));
    auto [it, ref_added] = reference.emplace(ascii_lower(email), inserted.size());
    ASSERT_EQ(added, ref_added) << email;
    ASSERT_EQ(i, it->second) << email;
    if (added) inserted.push_back(email);
  }
  ASSERT_EQ(s.size(), inserted.size());
  for (std::size_t i = 0; i < inserted.size(); ++i) {
    ASSERT_EQ(s.view(i).email, inserted[i]);
    std::string upper = inserted[i];
    for (auto& c : upper)
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
    ASSERT_EQ(s.find(upper), i) << upper;
    ASSERT_EQ(s.find(inserted[i] + "x"), user_store::npos);
  }
}

TEST(user_store, uuids_are_version_4_text_and_differ) {
  char a[uuid_text_size], b[uuid_text_size];
  format_uuid(draw_uuid(), a);
  format_uuid(draw_uuid(), b);
  std::string ta(a, uuid_text_size), tb(b, uuid_text_size);
  EXPECT_NE(ta, tb);
  for (const auto& t : {ta, tb}) {
    ASSERT_EQ(t.size(), 36u);
    EXPECT_EQ(t[8], '-');
    EXPECT_EQ(t[13], '-');
    EXPECT_EQ(t[14], '4');
    EXPECT_EQ(t[18], '-');
    EXPECT_NE(std::string("89ab").find(t[19]), std::string::npos) << t;
    EXPECT_EQ(t[23], '-');
    EXPECT_EQ(t.find_first_not_of("0123456789abcdef-"), std::string::npos) << t;
  }
  uuid_bits fixed{0x0123456789ABCDEFull, 0xFEDCBA9876543210ull};
  std::string out;
  append_uuid(out, fixed);
  EXPECT_EQ(out, "01234567-89ab-4def-bedc-ba9876543210");
}

// ---------------------------------------------------------------------------------------------
// response_head

// beast_bytes: the response as server.cpp built it with Beast before the head was hand-written.
std::string beast_bytes(const response_head& h, const std::string& body) {
  http::response<http::string_body> res{static_cast<http::status>(h.status), h.version};
  if (!h.request_id.empty()) res.set("x-amzn-RequestId", h.request_id);
  res.set(http::field::date, h.date);
  res.set(http::field::content_type, h.content_type);
  if (!h.location.empty()) res.set(http::field::location, h.location);
  if (!h.error_type.empty()) res.set("x-amzn-ErrorType", h.error_type);
  if (h.retry_after) res.set(http::field::retry_after, std::to_string(*h.retry_after));
  res.keep_alive(h.keep_alive);
  res.body() = body;
  res.prepare_payload();
  std::ostringstream os;
  os << res;
  return os.str();
}

TEST(response_head, is_what_beast_writes_for_every_status_version_and_header_combination) {
  const unsigned statuses[] = {200, 201, 400, 401, 403, 404, 409, 413, 429, 431, 500, 503};
  const std::string bodies[] = {"", "{}", std::string(9000, 'x')};
  int checked = 0;
  for (unsigned status : statuses)
    for (unsigned version : {10u, 11u})
      for (bool keep_alive : {true, false})
        for (std::string_view error_type :
             {std::string_view{}, std::string_view{"ThrottledClientException"}})
          for (std::optional<int> retry_after :
               {std::optional<int>{}, std::optional<int>{0}, std::optional<int>{86400}})
            for (const auto& body : bodies) {
              response_head h;
              h.status = status;
              h.version = version;
              h.keep_alive = keep_alive;
              h.request_id = "01234567-89ab-4def-bedc-ba9876543210";
              h.date = "Tue, 02 Jan 2024 03:04:05 GMT";
              h.error_type = error_type;
              h.retry_after = retry_after;
              h.content_length = body.size();
              std::string ours;
              append_response_head(ours, h);
              ASSERT_EQ(ours + body, beast_bytes(h, body))
                  << status << " " << version << " " << keep_alive << " " << error_type;
              ++checked;
            }
  EXPECT_EQ(checked, 12 * 2 * 2 * 2 * 3 * 3);
}

TEST(response_head, proxy_answers_without_request_id_with_html_and_location_match_beast) {
  // The answer modes' captive portal (200) and redirect (302), and a default head for contrast.
  using sv = std::string_view;
  const sv request_ids[] = {sv{}, sv{"01234567-89ab-4def-bedc-ba9876543210"}};
  const sv content_types[] = {sv{"text/html"}, sv{"application/json"}};
  const sv locations[] = {sv{}, sv{"https://portal.proxy.invalid/login"}};
  int checked = 0;
  for (unsigned status : {200u, 302u, 500u})
    for (unsigned version : {10u, 11u})
      for (bool keep_alive : {true, false})
        for (sv request_id : request_ids)
          for (sv content_type : content_types)
            for (sv location : locations) {
              response_head h;
              h.status = status;
              h.version = version;
              h.keep_alive = keep_alive;
              h.request_id = request_id;
              h.date = "Tue, 02 Jan 2024 03:04:05 GMT";
              h.content_type = content_type;
              h.location = location;
              const std::string body = "<html></html>";
              h.content_length = body.size();
              std::string ours;
              append_response_head(ours, h);
              ASSERT_EQ(ours + body, beast_bytes(h, body))
                  << status << " " << request_id << " " << content_type << " " << location;
              if (request_id.empty()) {
                EXPECT_EQ(ours.find("x-amzn-RequestId"), std::string::npos);
              }
              ++checked;
            }
  EXPECT_EQ(checked, 3 * 2 * 2 * 2 * 2 * 2);
}

}  // namespace
}  // namespace onboard::emulator::detail
