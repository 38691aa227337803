// verifier_test.cpp: the emulator's verifier accepts what the signer makes and refuses each kind of
// tampering or misconfiguration with its own verify_error.
#include <onboard/signing/sigv4.hpp>

#include <gtest/gtest.h>

#include <functional>
#include <set>

namespace {

namespace sg = onboard::signing;
using sg::verify_error;
using namespace std::chrono_literals;

const std::string secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const std::string token = "SESSIONTOKENVALUE/abc==";

sg::credentials make_creds(bool with_token) {
  sg::credentials c;
  c.access_key_id = "AKIDEXAMPLE";
  c.secret_access_key = sg::secret_string(secret);
  if (with_token) c.session_token = sg::secret_string(token);
  return c;
}

// wire_request: an owned request as the emulator would see it after signing.
struct wire_request {
  std::string method = "POST";
  std::string target = "/accounts/acct%201/users?operation=add";
  std::vector<sg::header> headers{{"Host", "chime.us-east-1.amazonaws.com"},
                                  {"Content-Type", "application/json"},
                                  {"X-Trace", "not-signed-later"}};
  std::string body = R"({"UserEmailList": ["alice@example.com"], "UserType": "PrivateUser"})";
  std::vector<sg::header_view> views;

  sg::request_view view() {
    views.clear();
    for (const auto& h : headers) views.push_back({h.name, h.value});
    return {method, target, views, body};
  }
  sg::header* find(std::string_view name) {
    for (auto& h : headers)
      if (h.name == name) return &h;
    return nullptr;
  }
};

const sg::clock::time_point t0 = *sg::parse_amz_date("20240315T101500Z");

wire_request signed_request(const sg::credentials& creds) {
  wire_request w;
  sg::signer s{creds, "us-east-1", "chime"};
  for (auto& h : s.sign(w.view(), t0)) w.headers.push_back(std::move(h));
  return w;
}

sg::verify_result verify(wire_request& w, bool with_token = false, sg::clock::time_point now = t0) {
  sg::verifier v({make_creds(with_token)}, "us-east-1", "chime");
  return v.verify(w.view(), now);
}

TEST(verifier, accepts_what_the_signer_makes) {
  for (bool with_token : {false, true}) {
    auto w = signed_request(make_creds(with_token));
    auto r = verify(w, with_token);
    EXPECT_TRUE(r) << sg::verify_error_name(r.error) << ": " << r.message;
    EXPECT_EQ(r.access_key_id, "AKIDEXAMPLE");
    // An unsigned header added afterwards does not matter: only SignedHeaders are re-derived.
    w.headers.push_back({"User-Agent", "added-by-proxy"});
    EXPECT_TRUE(verify(w, with_token));
  }
}

TEST(verifier, accepts_within_skew_and_caches_across_calls) {
  auto w = signed_request(make_creds(false));
  sg::verifier v({make_creds(false)}, "us-east-1", "chime");
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(v.verify(w.view(), t0 + 299s));
    EXPECT_TRUE(v.verify(w.view(), t0 - 299s));
  }
}

struct refusal_case {
  const char* what;
  verify_error expected;
  std::function<void(wire_request&)> tamper;
  sg::clock::time_point now = t0;
  bool verifier_has_token = false;
};

std::string with_replaced(std::string s, std::string_view from, std::string_view to) {
  auto at = s.find(from);
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

void replace_in_authorization(wire_request& w, std::string_view from, std::string_view to) {
  auto* a = w.find("Authorization");
  a->value = with_replaced(a->value, from, to);
}

TEST(verifier, refuses_each_problem_with_its_own_error) {
  std::vector<refusal_case> cases = {
      {"tampered body", verify_error::signature_mismatch, [](wire_request& w) { w.body[3] = 'X'; }},
      {"tampered signed header", verify_error::signature_mismatch,
       [](wire_request& w) { w.find("Content-Type")->value = "text/plain"; }},
      {"tampered path", verify_error::signature_mismatch,
       [](wire_request& w) { w.target = "/accounts/acct%202/users?operation=add"; }},
      {"tampered query", verify_error::signature_mismatch,
       [](wire_request& w) { w.target = "/accounts/acct%201/users?operation=create"; }},
      {"wrong key", verify_error::signature_mismatch,
       [](wire_request& w) {
         sg::credentials c = make_creds(false);
         c.secret_access_key = sg::secret_string("another-secret");
         w = signed_request(c);
       }},
      {"unknown key id", verify_error::unknown_access_key,
       [](wire_request& w) { replace_in_authorization(w, "AKIDEXAMPLE", "AKIDOTHER"); }},
      {"scope date", verify_error::scope_date_mismatch,
       [](wire_request& w) { replace_in_authorization(w, "/20240315/", "/20240314/"); }},
      {"scope region", verify_error::wrong_region,
       [](wire_request& w) { replace_in_authorization(w, "/us-east-1/", "/eu-west-1/"); }},
      {"scope service", verify_error::wrong_service,
       [](wire_request& w) { replace_in_authorization(w, "/chime/", "/s3/"); }},
      {"scope terminator", verify_error::bad_scope_terminator,
       [](wire_request& w) { replace_in_authorization(w, "aws4_request", "aws4_reqest"); }},
      {"too late", verify_error::request_expired, [](wire_request&) {}, t0 + 301s},
      {"too early", verify_error::request_expired, [](wire_request&) {}, t0 - 301s},
      {"host not signed", verify_error::host_not_signed,
       [](wire_request& w) {
         replace_in_authorization(w, "SignedHeaders=content-type;host;",
                                  "SignedHeaders=content-type;");
       }},
      {"signed header missing", verify_error::signed_header_missing,
       [](wire_request& w) {
         std::erase_if(w.headers, [](const sg::header& h) { return h.name == "Content-Type"; });
       }},
      {"no authorization", verify_error::missing_authorization,
       [](wire_request& w) {
         std::erase_if(w.headers, [](const sg::header& h) { return h.name == "Authorization"; });
       }},
      {"other algorithm", verify_error::unsupported_algorithm,
       [](wire_request& w) {
         replace_in_authorization(w, "AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256");
       }},
      {"malformed authorization", verify_error::malformed_authorization,
       [](wire_request& w) { replace_in_authorization(w, "Signature=", "Sig="); }},
      {"no date", verify_error::missing_date,
       [](wire_request& w) {
         std::erase_if(w.headers, [](const sg::header& h) { return h.name == "X-Amz-Date"; });
       }},
      {"malformed date", verify_error::malformed_date,
       [](wire_request& w) { w.find("X-Amz-Date")->value = "2024-03-15T10:15:00Z"; }},
      {"session token needed", verify_error::missing_security_token, [](wire_request&) {}, t0,
       true},
  };
  for (auto& c : cases) {
    auto w = signed_request(make_creds(false));
    c.tamper(w);
    auto r = verify(w, c.verifier_has_token, c.now);
    EXPECT_EQ(r.error, c.expected)
        << c.what << ": got " << sg::verify_error_name(r.error) << " (" << r.message << ")";
    EXPECT_FALSE(r.message.empty()) << c.what;
    EXPECT_EQ(r.message.find(secret), std::string::npos) << c.what;
    EXPECT_EQ(r.message.find(token), std::string::npos) << c.what;
  }
}

// Clients recognise a clock problem by the real front end's wording (and its 403
// InvalidSignatureException): the emulator must say it the same way, in both directions.
TEST(verifier, words_a_signing_time_outside_the_window_as_aws_does) {
  auto w = signed_request(make_creds(false));
  EXPECT_EQ(verify(w, false, t0 + 301s).message,
            "Signature expired: 20240315T101500Z is now earlier than 20240315T101501Z "
            "(20240315T102001Z - 5 min.)");
  EXPECT_EQ(verify(w, false, t0 - 301s).message,
            "Signature not yet current: 20240315T101500Z is still later than 20240315T101459Z "
            "(20240315T100959Z + 5 min.)");
}

TEST(verifier, refuses_a_wrong_session_token) {
  auto creds = make_creds(true);
  auto w = signed_request(creds);
  w.find("X-Amz-Security-Token")->value = "other-token";
  auto r = verify(w, true);
  EXPECT_EQ(r.error, verify_error::missing_security_token) << r.message;
  EXPECT_EQ(r.message.find(token), std::string::npos);
}

TEST(verifier, accepts_date_header_instead_of_x_amz_date) {
  // A client that signs with `Date` (botocore does when the request already has one).
  auto creds = make_creds(false);
  wire_request w;
  w.headers.push_back({"Date", "Fri, 15 Mar 2024 10:15:00 GMT"});
  sg::signing_params p;
  p.region = "us-east-1";
  p.service = "chime";
  p.time = t0;
  auto views = w.view();
  std::string payload = sg::sha256_hex(w.body);
  std::string canonical = sg::canonical_request(views, p, payload);
  std::string sts = sg::string_to_sign(canonical, p);
  auto key = sg::derive_signing_key(creds.secret_access_key, "20240315", "us-east-1", "chime");
  w.headers.push_back(
      {"Authorization", sg::authorization_header("AKIDEXAMPLE", p, sg::signed_header_names(views),
                                                 sg::signature_hex(key, sts))});
  auto r = verify(w);
  EXPECT_TRUE(r) << sg::verify_error_name(r.error) << ": " << r.message;
}

TEST(verifier, parse_authorization_reports_why) {
  std::string why;
  EXPECT_FALSE(
      sg::parse_authorization("AWS4-HMAC-SHA256 Credential=A/20150830/r/s/aws4_request", &why));
  EXPECT_NE(why.find("SignedHeaders"), std::string::npos) << why;
  auto pa = sg::parse_authorization(
      "AWS4-HMAC-SHA256 Credential=AK/20150830/us-east-1/chime/aws4_request, "
      "SignedHeaders=host;x-amz-date, Signature=" +
          std::string(64, 'a'),
      &why);
  ASSERT_TRUE(pa) << why;
  EXPECT_EQ(pa->access_key_id, "AK");
  EXPECT_EQ(pa->region, "us-east-1");
  EXPECT_EQ(pa->signed_headers, (std::vector<std::string>{"host", "x-amz-date"}));
}

TEST(verifier, error_names_are_distinct) {
  std::set<std::string_view> names;
  for (int e = 0; e <= static_cast<int>(verify_error::signature_mismatch); ++e)
    names.insert(sg::verify_error_name(static_cast<verify_error>(e)));
  EXPECT_EQ(names.size(), static_cast<std::size_t>(verify_error::signature_mismatch) + 1);
}

}  // namespace
