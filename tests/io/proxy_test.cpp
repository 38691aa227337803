// proxy_test.cpp: which proxy the environment names for an endpoint, as curl and urllib read it.
#include <onboard/io/proxy.hpp>

#include <gtest/gtest.h>

#include <map>

namespace {

using namespace onboard::io;

env_lookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view n) -> std::optional<std::string> {
    auto it = vars.find(std::string(n));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

const endpoint chime = parse_endpoint("https://chime.us-east-1.amazonaws.com");
const endpoint local = parse_endpoint("https://127.0.0.1:8443");

TEST(proxy, none_without_https_proxy) {
  auto r = proxy_from_environment(chime, env_of({{"HTTP_PROXY", "http://p:1"}}));
  EXPECT_TRUE(r);
  EXPECT_FALSE(r.value);
}

TEST(proxy, parses_host_port_and_basic_credentials) {
  auto r = proxy_from_environment(
      chime, env_of({{"HTTPS_PROXY", "http://corp%5Cjane:p%40ss%20w@Proxy.Corp.Example:3128/"}}));
  ASSERT_TRUE(r) << r.error;
  ASSERT_TRUE(r.value);
  EXPECT_EQ(r.value->host, "proxy.corp.example");
  EXPECT_EQ(r.value->port, 3128);
  // base64("corp\jane:p@ss w")
  EXPECT_EQ(r.value->authorization, "Basic Y29ycFxqYW5lOnBAc3Mgdw==");
  EXPECT_EQ(r.value->display, "http://proxy.corp.example:3128");
  EXPECT_EQ(r.value->display.find("p@ss"), std::string::npos);
  // No scheme is read as http://, with port 80 when none is given; IPv6 in brackets.
  auto bare = parse_proxy_url("10.0.0.1:8080", "HTTPS_PROXY");
  ASSERT_TRUE(bare.value);
  EXPECT_EQ(bare.value->port, 8080);
  EXPECT_TRUE(bare.value->ip_literal);
  EXPECT_TRUE(bare.value->authorization.empty());
  EXPECT_EQ(parse_proxy_url("http://proxy", "x").value->port, 80);
  EXPECT_EQ(parse_proxy_url("http://[::1]:3128", "x").value->host, "::1");
}

TEST(proxy, lower_case_variables_win_as_in_urllib) {
  auto r = proxy_from_environment(
      chime, env_of({{"HTTPS_PROXY", "http://upper:1"}, {"https_proxy", "http://lower:2"}}));
  ASSERT_TRUE(r.value);
  EXPECT_EQ(r.value->host, "lower");
  r = proxy_from_environment(chime, env_of({{"https_proxy", "http://p:1"},
                                            {"NO_PROXY", "amazonaws.com"},
                                            {"no_proxy", "example.org"}}));
  EXPECT_TRUE(r.value) << "no_proxy (lower case) is the list read, and it does not match";
}

TEST(proxy, refuses_what_it_cannot_use_naming_the_variable) {
  auto r = proxy_from_environment(chime, env_of({{"https_proxy", "https://p:443"}}));
  EXPECT_FALSE(r);
  EXPECT_NE(r.error.find("https_proxy"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("https:// proxy"), std::string::npos) << r.error;
  for (const char* bad : {"socks5://p:1080", "http://p:99999", "http://", "http://u:%zz@p:1"}) {
    auto b = parse_proxy_url(bad, "HTTPS_PROXY");
    EXPECT_FALSE(b) << bad;
    EXPECT_NE(b.error.find("HTTPS_PROXY"), std::string::npos) << b.error;
  }
}

TEST(proxy, no_proxy_matches_hosts_domains_ports_and_star) {
  EXPECT_TRUE(bypasses_proxy("*", chime));
  EXPECT_TRUE(bypasses_proxy("amazonaws.com", chime));
  EXPECT_TRUE(bypasses_proxy(" .amazonaws.com ", chime));
  EXPECT_TRUE(bypasses_proxy("example.org, CHIME.us-east-1.amazonaws.com", chime));
  EXPECT_FALSE(bypasses_proxy("zonaws.com", chime)) << "a suffix, not a domain";
  EXPECT_FALSE(bypasses_proxy("example.org,,", chime));
  EXPECT_TRUE(bypasses_proxy("127.0.0.1", local));
  EXPECT_TRUE(bypasses_proxy("127.0.0.1:8443", local));
  EXPECT_FALSE(bypasses_proxy("127.0.0.1:443", local));
  EXPECT_FALSE(bypasses_proxy("127.0.0.2", local));
  const endpoint v6 = parse_endpoint("https://[::1]:8443");
  EXPECT_TRUE(bypasses_proxy("::1", v6));
  EXPECT_TRUE(bypasses_proxy("[::1]:8443", v6));
  EXPECT_FALSE(bypasses_proxy("[::1]:9", v6));
  auto r = proxy_from_environment(
      local, env_of({{"HTTPS_PROXY", "http://p:1"}, {"NO_PROXY", "localhost,127.0.0.1"}}));
  EXPECT_TRUE(r);
  EXPECT_FALSE(r.value);
}

}  // namespace
