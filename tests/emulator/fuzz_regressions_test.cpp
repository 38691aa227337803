// fuzz_regressions_test.cpp: inputs found by tests/fuzz/ (fuzz_emulator_service), replayed through
// the real in-process server so they stay fixed. Each input is also in tests/fuzz/corpus/.
#include "client.hpp"

#include <onboard/emulator/server.hpp>

#include <gtest/gtest.h>

namespace onboard::emulator::test {
namespace {

class fuzz_regressions : public ::testing::Test {
 protected:
  void SetUp() override {
    server_options o;
    o.listen_port = 0;
    srv_ = std::make_unique<server>(std::move(o));
    srv_->start();
  }
  test_client client() { return test_client(srv_->port(), srv_->ca_pem()); }
  std::unique_ptr<server> srv_;
};

// corpus/emulator_service/regress-non-utf8-target: the 404 for an unknown route echoes the
// request target; a non-UTF-8 byte in it made the error body invalid JSON (botocore then cannot
// read the error code). Invalid bytes are now U+FFFD; valid UTF-8 is kept as it is.
TEST_F(fuzz_regressions, error_body_stays_json_when_the_target_is_not_utf8) {
  auto c = client();
  auto r = c.call("POST", "/acco\xbbunts/acct-1/users?operation=add",
                  invite_body({"alice@example.com"}, "PrivateUser"));
  EXPECT_EQ(r.status, 404u) << r.body;
  EXPECT_EQ(r.error_type(), "UnknownOperationException");
  boost::system::error_code ec;
  auto v = json::parse(r.body, ec);
  ASSERT_FALSE(ec) << "not JSON: " << r.body;
  EXPECT_NE(r.message().find("/acco\xEF\xBF\xBDunts/acct-1/users"), std::string::npos) << r.body;

  auto r2 = c.call("GET", "/acc\xC3\xA9/x");
  EXPECT_EQ(r2.status, 404u);
  ASSERT_FALSE((json::parse(r2.body, ec), ec)) << r2.body;
  EXPECT_NE(r2.message().find("/acc\xC3\xA9/x"), std::string::npos) << r2.body;
}

}  // namespace
}  // namespace onboard::emulator::test
