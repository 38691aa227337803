// Tests for `chime-onboard plan` as a real process: stdin input, JSON output keys, exit codes,
// and error messages naming the file.
#include <onboard/testkit/testkit.hpp>

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace {

namespace tk = onboard::testkit;

TEST(IngestPlanCli, JsonFromStdinAndAFile) {
  tk::temp_dir d;
  tk::write_file(d / "u.csv", "email,user_type\na@x.com,PrivateUser\nb@x.com,Boss\n");
  tk::child_process::options opts;
  std::string in;
  for (int i = 0; i < 120; ++i) in += "s" + std::to_string(i) + "@Example.com\n";
  in += "S0@example.COM\nnot-an-address\n";
  opts.stdin_data = in;
  auto r = tk::run({tk::cli(), "plan", "--input", "-", "--input", (d / "u.csv").string(),
                    "--output", "json", "--rate", "2", "--rejects", (d / "rej.csv").string()},
                   opts);
  EXPECT_EQ(r.status, 3) << r.err;  // some lines rejected
  auto v = boost::json::parse(r.out).as_object();
  EXPECT_EQ(v.at("lines").as_int64(), 124);
  EXPECT_EQ(v.at("accepted").as_int64(), 121);
  EXPECT_EQ(v.at("duplicates").as_int64(), 1);
  EXPECT_EQ(v.at("rejected").at("no_at").as_int64(), 1);
  EXPECT_EQ(v.at("rejected").at("bad_user_type").as_int64(), 1);
  EXPECT_EQ(v.at("batches").as_int64(), 4);  // 50 + 50 + 20 (unspecified) + 1 (PrivateUser)
  EXPECT_EQ(v.at("requests").as_int64(), 4);
  EXPECT_DOUBLE_EQ(v.at("estimated_seconds").to_number<double>(), 2.0);
  // Numbers as people write them, not Boost.JSON's exponent form (2E0).
  EXPECT_NE(r.out.find("\"rate\":2.0,\"estimated_seconds\":2.0,"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find('E'), std::string::npos) << r.out;
  EXPECT_NE(tk::read_file(d / "rej.csv").find("<stdin>,122,not-an-address,no_at"),
            std::string::npos);
}

TEST(IngestPlanCli, TextOutputCreateAndErrors) {
  tk::temp_dir d;
  tk::write_file(d / "a.txt", "a@x.com\nb@x.com\n");
  auto r = tk::run({tk::cli(), "plan", "--input", (d / "a.txt").string(), "--operation", "create"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("requests"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("estimated duration"), std::string::npos) << r.out;

  auto missing = tk::run({tk::cli(), "plan", "--input", (d / "nope.txt").string()});
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.err.find("nope.txt"), std::string::npos) << missing.err;

  tk::write_file(d / "u.csv", "name\nx\n");
  auto nocol = tk::run({tk::cli(), "plan", "--input", (d / "u.csv").string()});
  EXPECT_EQ(nocol.status, 2);
  EXPECT_NE(nocol.err.find("'email'"), std::string::npos) << nocol.err;

  EXPECT_EQ(tk::run({tk::cli(), "plan"}).status, 2);
  EXPECT_EQ(tk::run({tk::cli(), "plan", "--input", "x", "--user-type", "Admin"}).status, 2);
  EXPECT_EQ(tk::run({tk::cli(), "plan", "--help"}).status, 0);
}

}  // namespace
