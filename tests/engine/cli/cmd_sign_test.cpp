// `chime-onboard sign` masks the session token in what it prints, whatever the token looks like.
#include "cli_env.hpp"

#include <gtest/gtest.h>

namespace {

using namespace onboard::testkit;
using namespace onboard::testkit::cli_test;
using namespace std::chrono_literals;

// A token that occurs inside the mask itself ("<session token not shown>") once made
// the masking loop find it again in its own replacement, forever.
TEST(cmd_sign, a_token_found_in_the_mask_is_masked_once_and_the_command_ends) {
  temp_dir dir;
  write_file(dir / "request.txt", "GET /accounts HTTP/1.1\r\nHost: example.com\r\n\r\n");
  auto r = run({cli(), "sign", "--request", (dir / "request.txt").string(), "--region", "us-east-1",
                "--time", "20150830T123600Z", "--access-key", "AKIDEXAMPLE", "--secret-key", "s",
                "--session-token", "not shown"},
               clean_env(dir.path()), 10s);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "X-Amz-Security-Token:<session token not shown>\n")) << r.out;
}

}  // namespace
