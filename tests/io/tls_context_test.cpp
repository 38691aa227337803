#include "onboard/io/tls_context.hpp"

#include "https_test_server.hpp"

#include <onboard/testkit/testkit.hpp>

#include <gtest/gtest.h>

namespace onboard::io {
namespace {

TEST(TlsContext, SystemStoreVerifiesByDefault) {
  auto ctx = make_client_tls_context({});
  EXPECT_TRUE(verifies_peer(ctx));
  EXPECT_EQ(SSL_CTX_get_min_proto_version(ctx.native_handle()), TLS1_2_VERSION);
}

TEST(TlsContext, NoVerifyOnlyWhenAsked) {
  auto ctx = make_client_tls_context({.ca_bundle = {}, .verify = false});
  EXPECT_FALSE(verifies_peer(ctx));
}

TEST(TlsContext, MissingBundleNamesTheFile) {
  testkit::temp_dir dir;
  const auto path = (dir / "nope.pem").string();
  try {
    make_client_tls_context({.ca_bundle = path});
    FAIL() << "expected tls_config_error";
  } catch (const tls_config_error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("No such file"), std::string::npos) << e.what();
  }
}

TEST(TlsContext, BundleWithoutCertificatesIsRefused) {
  testkit::temp_dir dir;
  const auto path = dir / "junk.pem";
  testkit::write_file(path, "this is not PEM\n");
  try {
    make_client_tls_context({.ca_bundle = path.string()});
    FAIL() << "expected tls_config_error";
  } catch (const tls_config_error& e) {
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
  }
}

TEST(TlsContext, GeneratedBundleLoads) {
  testkit::temp_dir dir;
  const auto id = test::make_test_identity({"localhost"}, {"127.0.0.1"});
  testkit::write_file(dir / "ca.pem", id.cert_pem);
  EXPECT_NO_THROW(make_client_tls_context({.ca_bundle = (dir / "ca.pem").string()}));
}

TEST(TlsContext, SessionCacheStartsEmpty) {
  tls_session_cache cache;
  EXPECT_TRUE(cache.empty());
}

}  // namespace
}  // namespace onboard::io
