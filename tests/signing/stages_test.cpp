// stages_test.cpp: the individual SigV4 rules and the raw request-file parser.
#include <onboard/signing/raw_request.hpp>
#include <onboard/signing/sigv4.hpp>

#include <gtest/gtest.h>

namespace {

namespace sg = onboard::signing;

sg::signing_params params_at(std::string_view amz) {
  sg::signing_params p;
  p.region = "us-east-1";
  p.service = "chime";
  p.time = *sg::parse_amz_date(amz);
  return p;
}

std::string canonical_of(std::string_view method, std::string_view target,
                         std::vector<sg::header_view> hs, bool normalize = true,
                         bool double_encode = true) {
  auto p = params_at("20150830T123600Z");
  p.normalize_path = normalize;
  p.double_encode_path = double_encode;
  return sg::canonical_request(sg::request_view{method, target, hs, ""}, p, "HASH");
}

TEST(sigv4_stages, amz_date_round_trips) {
  auto t = sg::parse_amz_date("20240229T235959Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(sg::amz_date(*t), "20240229T235959Z");
  EXPECT_FALSE(sg::parse_amz_date("20230229T000000Z"));  // not a leap year
  EXPECT_FALSE(sg::parse_amz_date("20150830T123600"));
  EXPECT_FALSE(sg::parse_amz_date("2015-08-30T12:36:00Z"));
  EXPECT_FALSE(sg::parse_amz_date("20150830T253600Z"));
}

TEST(sigv4_stages, uri_encoding_is_aws_style) {
  EXPECT_EQ(sg::uri_encode("a b/c~d-e_f.g", true), "a%20b/c~d-e_f.g");
  EXPECT_EQ(sg::uri_encode("a b/c", false), "a%20b%2Fc");
  EXPECT_EQ(sg::uri_encode("\xe1\x88\xb4+*", false), "%E1%88%B4%2B%2A");
}

TEST(sigv4_stages, query_is_reencoded_and_sorted) {
  std::vector<sg::header_view> hs{{"Host", "h"}};
  auto c = canonical_of("GET", "/?b=2&a=z&a=y&flag&%7e=%41&sp=a+b&x=%2f", hs);
  // a param without '=' gets an empty value; %7e and %41 decode to unreserved chars; '+' is
  // literal (encoded %2B); sorted by key then value.
  EXPECT_NE(c.find("\na=y&a=z&b=2&flag=&sp=a%2Bb&x=%2F&~=A\n"), std::string::npos) << c;
}

TEST(sigv4_stages, path_normalisation_and_double_encoding) {
  std::vector<sg::header_view> hs{{"Host", "h"}};
  auto line2 = [&](std::string_view target, bool normalize, bool dbl) {
    auto c = canonical_of("GET", target, hs, normalize, dbl);
    auto a = c.find('\n') + 1;
    return c.substr(a, c.find('\n', a) - a);
  };
  EXPECT_EQ(line2("//a/./b/../c//", true, true), "/a/c/");
  EXPECT_EQ(line2("/a/..", true, true), "/");
  EXPECT_EQ(line2("", true, true), "/");
  EXPECT_EQ(line2("/accounts/acct%201%2Fx/users?operation=add", true, true),
            "/accounts/acct%25201%252Fx/users");
  EXPECT_EQ(line2("/accounts/acct%201%2Fx/users", false, false), "/accounts/acct%201%2Fx/users");
  EXPECT_EQ(line2("//a/./b", false, true), "//a/./b");
}

TEST(sigv4_stages, headers_trimmed_folded_sorted_and_joined) {
  std::vector<sg::header_view> hs{
      {"Host", "h"}, {"X-B", "  two   words\there  "}, {"x-a", "first"}, {"X-A", " second "}};
  auto c = canonical_of("POST", "/", hs);
  EXPECT_NE(c.find("host:h\nx-a:first,second\nx-b:two words here\n\nhost;x-a;x-b\nHASH"),
            std::string::npos)
      << c;
  EXPECT_EQ(sg::signed_header_names(sg::request_view{"GET", "/", hs, ""}), "host;x-a;x-b");
}

TEST(sigv4_stages, empty_and_non_empty_payload_hashes) {
  EXPECT_EQ(sg::sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sg::sha256_hex("Param1=value1"),
            "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e");
}

TEST(sigv4_stages, signing_key_matches_aws_documentation) {
  // The derived-key example from the AWS SigV4 documentation.
  auto k = sg::derive_signing_key(sg::secret_string("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
                                  "20150830", "us-east-1", "iam");
  std::string hex;
  for (auto b : k.bytes()) {
    static const char* d = "0123456789abcdef";
    hex += d[b >> 4];
    hex += d[b & 15];
  }
  EXPECT_EQ(hex, "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
}

TEST(sigv4_stages, session_token_and_content_sha256_are_added_and_signed) {
  sg::credentials c;
  c.access_key_id = "AKID";
  c.secret_access_key = sg::secret_string("secret");
  c.session_token = sg::secret_string("TOKEN");
  auto p = params_at("20150830T123600Z");
  p.add_content_sha256 = true;
  std::vector<sg::header_view> hs{{"Host", "h"}, {"Authorization", "stale"}, {"X-Amz-Date", "x"}};
  auto a = sg::sign_request(sg::request_view{"POST", "/", hs, "{}"}, c, p);
  ASSERT_EQ(a.added_headers.size(), 4u);
  EXPECT_EQ(a.added_headers[0].name, "X-Amz-Date");
  EXPECT_EQ(a.added_headers[1].name, "X-Amz-Security-Token");
  EXPECT_EQ(a.added_headers[2].name, "x-amz-content-sha256");
  EXPECT_EQ(a.added_headers[3].name, "Authorization");
  EXPECT_NE(a.authorization.find("SignedHeaders=host;x-amz-content-sha256;x-amz-date;"
                                 "x-amz-security-token,"),
            std::string::npos)
      << a.authorization;
  EXPECT_EQ(a.canonical_request.find("stale"), std::string::npos);
  EXPECT_NE(a.canonical_request.find("x-amz-security-token:TOKEN\n"), std::string::npos);
}

TEST(sigv4_stages, signer_matches_sign_request) {
  sg::credentials c;
  c.access_key_id = "AKID";
  c.secret_access_key = sg::secret_string("secret");
  sg::signer s{c, "us-east-1", "chime"};
  std::vector<sg::header_view> hs{{"Host", "chime.us-east-1.amazonaws.com"},
                                  {"Content-Type", "application/json"}};
  sg::request_view req{"POST", "/accounts/a/users?operation=add", hs, R"({"UserEmailList":[]})"};
  for (const char* when : {"20150830T123600Z", "20150830T235959Z", "20150831T000001Z"}) {
    auto p = params_at(when);
    auto out = s.sign(req, p.time);
    auto want = sg::sign_request(req, c, p);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].value, when);
    EXPECT_EQ(out.back().value, want.authorization) << when;
  }
}

TEST(raw_request, parses_lines_folding_and_body) {
  auto r = sg::parse_raw_request(
      "POST /a b/?x=1 HTTP/1.1\r\nHost: h\r\nMy-Header:one\r\n  two\r\n\tthree\r\n\r\n{\"k\":1}\n");
  ASSERT_TRUE(r) << r.error;
  EXPECT_EQ(r->method, "POST");
  EXPECT_EQ(r->target, "/a b/?x=1");
  EXPECT_EQ(r->version, "HTTP/1.1");
  ASSERT_EQ(r->headers.size(), 2u);
  EXPECT_EQ(r->headers[0].value, "h");
  EXPECT_EQ(r->headers[1].value, "one two three");
  EXPECT_EQ(r->body, "{\"k\":1}\n");
}

TEST(raw_request, reports_what_is_wrong_with_the_line) {
  auto empty = sg::parse_raw_request("");
  EXPECT_FALSE(empty);
  EXPECT_NE(empty.error.find("empty"), std::string::npos);
  auto bad_line = sg::parse_raw_request("GET\n");
  EXPECT_NE(bad_line.error.find("line 1"), std::string::npos) << bad_line.error;
  auto no_version = sg::parse_raw_request("GET / FOO\n");
  EXPECT_NE(no_version.error.find("HTTP version"), std::string::npos) << no_version.error;
  auto no_colon = sg::parse_raw_request("GET / HTTP/1.1\nHost h\n");
  EXPECT_NE(no_colon.error.find("line 2"), std::string::npos) << no_colon.error;
  auto early_cont = sg::parse_raw_request("GET / HTTP/1.1\n  x\n");
  EXPECT_NE(early_cont.error.find("continuation"), std::string::npos) << early_cont.error;
  auto bad_name = sg::parse_raw_request("GET / HTTP/1.1\nBad Name: x\n");
  EXPECT_NE(bad_name.error.find("bad header name"), std::string::npos) << bad_name.error;
}

}  // namespace
