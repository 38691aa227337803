// Tests for onboard::json_text: plain decimals for doubles, everything else as Boost writes it,
// and text that parses back to the same values.
#include <onboard/cli/json_text.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>

#include <limits>

namespace {

using onboard::json_text;

TEST(JsonText, DoublesArePlainDecimalsThatStayFloatingPoint) {
  EXPECT_EQ(json_text(10.0), "10.0");
  EXPECT_EQ(json_text(0.4), "0.4");
  EXPECT_EQ(json_text(2.5), "2.5");
  EXPECT_EQ(json_text(0.005126014), "0.005126014");
  EXPECT_EQ(json_text(-3.0), "-3.0");
  EXPECT_EQ(json_text(0.0), "0.0");
  EXPECT_EQ(json_text(1e-7), "1e-07");  // shorter than 0.0000001; still JSON
  EXPECT_EQ(json_text(std::numeric_limits<double>::infinity()), "null");
  EXPECT_EQ(json_text(std::numeric_limits<double>::quiet_NaN()), "null");
}

TEST(JsonText, EverythingElseIsWhatBoostWrites) {
  boost::json::value v = boost::json::parse(
      R"({"a":[1,-2,18446744073709551615,true,false,null,"x\"y\\z\n\u0001"],"b":{},"c":[],"d":{"e":"é"}})");
  EXPECT_EQ(json_text(v), boost::json::serialize(v));
}

TEST(JsonText, ParsesBackToTheSameValues) {
  boost::json::object o;
  o["operation"] = "invite";
  o["lines"] = 10000000u;
  o["rate"] = 10.0;
  o["estimated_seconds"] = 15804.0;
  o["read_seconds"] = 0.7930125;
  o["rejected"] = boost::json::object{{"bad_domain", 39933}, {"no_at", 10075}};
  o["values"] = boost::json::array{0.1, 1e300, -7.25, 123456789.0};
  const std::string text = json_text(o);
  EXPECT_EQ(text.find('E'), std::string::npos) << text;
  const boost::json::value back = boost::json::parse(text);
  EXPECT_EQ(back, boost::json::value(o)) << text;
  EXPECT_TRUE(back.at("rate").is_double());
}

}  // namespace
