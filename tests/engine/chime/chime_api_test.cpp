// Request bodies and response decoding for the Chime REST shapes (onboard/chime/chime_api.hpp).
#include <onboard/chime/chime_api.hpp>
#include <testkit/invites_reference.hpp>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace onboard::chime {
namespace {

void expect_same_invites(const std::vector<invite>& got, const std::vector<invite>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].invite_id, want[i].invite_id);
    EXPECT_EQ(got[i].status, want[i].status);
    EXPECT_EQ(got[i].email_address, want[i].email_address);
    EXPECT_EQ(got[i].email_status, want[i].email_status);
  }
}

// expect_same_as_reference: decode_invites and the document-based reference decoder agree, both
// decoding into a fresh vector and into `reused` (which holds whatever the caller's previous
// bodies left in it, as a sender's scratch does).
void expect_same_as_reference(std::string_view body, std::vector<invite>& reused) {
  SCOPED_TRACE(std::string(body));
  auto fast = decode_invites(body);
  auto ref = testkit::reference_decode_invites(body);
  ASSERT_EQ(fast.error, ref.error);
  ASSERT_EQ(fast.value.has_value(), ref.value.has_value());
  std::string error;
  const bool ok = decode_invites(body, reused, error);
  ASSERT_EQ(ok, ref.value.has_value());
  if (!fast) {
    EXPECT_EQ(error, ref.error);
    EXPECT_TRUE(reused.empty());
    return;
  }
  expect_same_invites(*fast.value, *ref.value);
  expect_same_invites(reused, *ref.value);
}

void expect_same_as_reference(std::string_view body) {
  std::vector<invite> fresh;
  expect_same_as_reference(body, fresh);
}

TEST(chime_api, invite_users_body_is_the_model_shape) {
  std::vector<std::string> emails{"a@example.com", "quote\"back\\slash@example.com"};
  auto body = invite_users_body(emails, user_type::shared_device);
  EXPECT_EQ(body, R"({"UserEmailList":["a@example.com","quote\"back\\slash@example.com"],)"
                  R"("UserType":"SharedDevice"})");
  std::vector<std::string_view> views(emails.begin(), emails.end());
  EXPECT_EQ(invite_users_body(views, user_type::shared_device), body);
  EXPECT_EQ(invite_users_body(std::vector<std::string>{"x@y.z"}, user_type::unspecified),
            R"({"UserEmailList":["x@y.z"]})");
  // Whatever the bytes, the body is JSON that reads back as the addresses sent.
  auto v = boost::json::parse(body);
  EXPECT_EQ(v.at("UserEmailList").at(1).as_string(), emails[1]);
}

TEST(chime_api, decode_invites_reads_a_service_response) {
  auto r = decode_invites(R"({"Invites":[
      {"InviteId":"id-1","Status":"Pending","EmailAddress":"a@example.com","EmailStatus":"Sent"},
      {"EmailStatus":"Failed","Status":"Failed","EmailAddress":"B@Example.com","InviteId":"id-2",
       "Extra":{"nested":["ignored",1,{"InviteId":"not-this"}]}}]})");
  ASSERT_TRUE(r) << r.error;
  ASSERT_EQ(r.value->size(), 2u);
  EXPECT_EQ((*r.value)[0].invite_id, "id-1");
  EXPECT_EQ((*r.value)[0].email_status, "Sent");
  EXPECT_EQ((*r.value)[1].invite_id, "id-2");
  EXPECT_EQ((*r.value)[1].email_address, "B@Example.com");
  EXPECT_EQ((*r.value)[1].status, "Failed");
}

TEST(chime_api, decode_invites_agrees_with_the_document_decoder_on_edge_cases) {
  for (std::string_view body : {
           R"({"Invites":[]})",
           R"({"Invites":[{}]})",
           R"({"Invites":[{"InviteId":7,"Status":null,"EmailAddress":true,"EmailStatus":["x"]}]})",
           R"({"Invites":[{"InviteId":"a","InviteId":"b"}]})",  // duplicate member
           R"({"Invites":[{"InviteId":"a","InviteId":{}}]})",   // last one is not a string
           R"({"Invites":[{"InviteId":"a"}],"Invites":[{"InviteId":"b"}]})",
           R"({"Invites":[{"InviteId":"a"}],"Invites":{}})",  // last Invites is no array
           R"({"Invites":{},"Invites":[{"InviteId":"b"}]})",
           R"({"Invites":[1],"Invites":[{"InviteId":"b"}]})",
           R"({"Invites":[{"InviteId":"b"}],"Invites":[[]]})",
           R"({"Other":{"Invites":[{"InviteId":"deep"}]},"Invites":[{"Status":"S"}]})",
           R"({"Invites":[{"EmailAddress":"esc\u0041\"\\\/\n@x.com"}]})",
           R"({"Invites":[{"EmailAddress":"caf\u00e9@x.com","Status":"\ud83d\ude00"}]})",
           R"({"invites":[]})",
           R"({"Invites":"no"})",
           R"({"Invites":[{"InviteId":"a"},"x"]})",
           R"({"Invites":[{"InviteId":"a"},null]})",
           R"([{"Invites":[]}])",
           R"("Invites")",
           R"({"Invites":[]} trailing)",
           R"({"Invites":[)",
           R"({"Invites":[{"InviteId":"a"]})",
           "",
           "   ",
           R"({"Invites":[]}  )",
       })
    expect_same_as_reference(body);
}

TEST(chime_api, decoding_into_a_used_vector_leaves_nothing_of_the_previous_response) {
  std::vector<invite> v;
  std::string error;
  ASSERT_TRUE(decode_invites(R"({"Invites":[
      {"InviteId":"id-1","Status":"Failed","EmailAddress":"a@example.com","EmailStatus":"Failed"},
      {"InviteId":"id-2","Status":"Pending","EmailAddress":"b@example.com","EmailStatus":"Sent"},
      {"InviteId":"id-3","Status":"Pending","EmailAddress":"c@example.com","EmailStatus":"Sent"}]})",
                             v, error));
  ASSERT_EQ(v.size(), 3u);
  // Fewer invites, members missing or not strings: what the first response said must not show.
  ASSERT_TRUE(decode_invites(R"({"Invites":[{"EmailAddress":"d@example.com","Status":7},
      {"InviteId":"id-5"}]})",
                             v, error));
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].invite_id, "");
  EXPECT_EQ(v[0].status, "");
  EXPECT_EQ(v[0].email_address, "d@example.com");
  EXPECT_EQ(v[0].email_status, "");
  EXPECT_EQ(v[1].invite_id, "id-5");
  EXPECT_EQ(v[1].email_address, "");
  // A body that is not a response empties the vector and says why.
  EXPECT_FALSE(decode_invites(R"({"Invites":{}})", v, error));
  EXPECT_TRUE(v.empty());
  EXPECT_EQ(error, "response has no Invites array");
  EXPECT_FALSE(decode_invites("{\"Invites\":[", v, error));
  EXPECT_TRUE(v.empty());
  EXPECT_NE(error.find("not JSON"), std::string::npos) << error;
}

TEST(chime_api, decode_invites_agrees_with_the_document_decoder_on_generated_responses) {
  // Random shapes built from the pieces a response (or a broken one) is made of, so that nesting,
  // duplicates, wrong types and escapes meet in combinations nobody wrote by hand.
  std::mt19937 rng(20261122);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  const std::vector<std::string> keys{"\"InviteId\"",      "\"Status\"",  "\"EmailAddress\"",
                                      "\"EmailStatus\"",   "\"Invites\"", "\"Other\"",
                                      "\"Invite\\u0049d\""};
  const std::vector<std::string> scalars{"\"v\"",  "\"a\\\"b\"", "\"\\u00e9\"", "1",
                                         "-2.5e3", "true",       "null",        "\"\""};
  std::function<std::string(int)> value = [&](int depth) -> std::string {
    int k = depth > 3 ? 0 : pick(4);
    if (k == 0) return scalars[static_cast<std::size_t>(pick(static_cast<int>(scalars.size())))];
    std::string s;
    int n = pick(4);
    if (k == 1) {
      s = "[";
      for (int i = 0; i < n; ++i) s += (i ? "," : "") + value(depth + 1);
      return s + "]";
    }
    s = "{";
    for (int i = 0; i < n; ++i)
      s += (i ? "," : "") + keys[static_cast<std::size_t>(pick(static_cast<int>(keys.size())))] +
           ":" + value(depth + 1);
    return s + "}";
  };
  std::vector<invite> reused;  // one vector for all bodies, as a sender decodes its responses
  for (int i = 0; i < 3000; ++i) {
    std::string body = "{\"Invites\":[";
    int n = pick(4);
    for (int j = 0; j < n; ++j) body += (j ? "," : "") + value(2);
    body += "]";
    if (pick(3) == 0) body += ",\"Invites\":" + value(1);
    body += "}";
    expect_same_as_reference(body, reused);
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace onboard::chime
