#include "onboard/io/endpoint.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

namespace onboard::io {
namespace {

TEST(Endpoint, DefaultPortIsOmittedFromHostHeader) {
  const auto ep = parse_endpoint("https://chime.us-east-1.amazonaws.com");
  EXPECT_EQ(ep.scheme, "https");
  EXPECT_EQ(ep.host, "chime.us-east-1.amazonaws.com");
  EXPECT_EQ(ep.port, 443);
  EXPECT_EQ(ep.host_header, "chime.us-east-1.amazonaws.com");
  EXPECT_EQ(ep.base_path, "");
  EXPECT_FALSE(ep.ip_literal);
  EXPECT_EQ(ep.target("/accounts/1/users"), "/accounts/1/users");
}

TEST(Endpoint, ExplicitDefaultPortIsOmittedLikeBotocore) {
  EXPECT_EQ(parse_endpoint("https://example.com:443").host_header, "example.com");
}

TEST(Endpoint, NonDefaultPortIsInHostHeader) {
  const auto ep = parse_endpoint("https://localhost:8443");
  EXPECT_EQ(ep.port, 8443);
  EXPECT_EQ(ep.host_header, "localhost:8443");
  EXPECT_EQ(ep.url(), "https://localhost:8443");
}

TEST(Endpoint, HostIsLowercased) {
  const auto ep = parse_endpoint("HTTPS://Chime.Example.COM:9000/");
  EXPECT_EQ(ep.host, "chime.example.com");
  EXPECT_EQ(ep.host_header, "chime.example.com:9000");
}

TEST(Endpoint, Ipv4Literal) {
  const auto ep = parse_endpoint("https://127.0.0.1:4443");
  EXPECT_TRUE(ep.ip_literal);
  EXPECT_EQ(ep.host, "127.0.0.1");
  EXPECT_EQ(ep.host_header, "127.0.0.1:4443");
}

TEST(Endpoint, Ipv6LiteralKeepsBracketsInHostHeader) {
  const auto ep = parse_endpoint("https://[::1]:8443/base");
  EXPECT_TRUE(ep.ip_literal);
  EXPECT_EQ(ep.host, "::1");
  EXPECT_EQ(ep.port, 8443);
  EXPECT_EQ(ep.host_header, "[::1]:8443");
  EXPECT_EQ(ep.url(), "https://[::1]:8443/base");
  EXPECT_EQ(parse_endpoint("https://[::1]").host_header, "[::1]");
  EXPECT_EQ(parse_endpoint("https://[2001:DB8::0001]").host, "2001:db8::1");
}

TEST(Endpoint, BasePathIsJoinedWithoutDoubleSlash) {
  const auto ep = parse_endpoint("https://example.com/prefix/v1/");
  EXPECT_EQ(ep.base_path, "/prefix/v1");
  EXPECT_EQ(ep.target("/accounts"), "/prefix/v1/accounts");
  EXPECT_EQ(ep.target("accounts"), "/prefix/v1/accounts");
}

TEST(Endpoint, HttpRefusedUnlessAllowed) {
  const auto r = try_parse_endpoint("http://localhost:8080");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error.find("http://"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("TLS"), std::string::npos) << r.error;

  const auto allowed = parse_endpoint("http://localhost", {.allow_http = true});
  EXPECT_EQ(allowed.port, 80);
  EXPECT_EQ(allowed.host_header, "localhost");
  EXPECT_EQ(parse_endpoint("http://localhost:443", {.allow_http = true}).host_header,
            "localhost:443");
}

struct bad_case {
  const char* url;
  const char* expected_fragment;
};

class EndpointBad : public ::testing::TestWithParam<bad_case> {};

TEST_P(EndpointBad, RefusedWithClearMessage) {
  const auto& c = GetParam();
  const auto r = try_parse_endpoint(c.url);
  ASSERT_FALSE(r) << c.url;
  EXPECT_NE(r.error.find(c.url), std::string::npos) << r.error;
  EXPECT_NE(r.error.find(c.expected_fragment), std::string::npos) << r.error;
  EXPECT_THROW(parse_endpoint(c.url), std::invalid_argument);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, EndpointBad,
    ::testing::Values(
        bad_case{"chime.example.com", "expected https://"},
        bad_case{"ftp://example.com", "unsupported scheme"}, bad_case{"https://", "missing host"},
        bad_case{"https://:8443", "missing host"}, bad_case{"https://example.com:0", "1..65535"},
        bad_case{"https://example.com:65536", "1..65535"},
        bad_case{"https://example.com:12ab", "1..65535"},
        bad_case{"https://example.com:", "1..65535"}, bad_case{"https://[::1", "missing ']'"},
        bad_case{"https://[not-an-ip]:443", "not a valid IPv6"},
        bad_case{"https://[::1]x", "after the IPv6"}, bad_case{"https://::1:443", "brackets"},
        bad_case{"https://user@example.com", "user information"},
        bad_case{"https://example.com/?a=b", "query or fragment"},
        bad_case{"https://exa mple.com", "not a valid host"},
        bad_case{"https://a..b", "not a valid host"}));

}  // namespace
}  // namespace onboard::io
