// endpoint_rules_test.cpp: botocore's endpoint rules for Chime, partition by partition.
#include <onboard/chime/endpoint_rules.hpp>

#include <gtest/gtest.h>

namespace {

using onboard::chime::default_endpoint;
using onboard::chime::partition_of;

TEST(endpoint_rules, the_aws_partition_signs_the_global_endpoint_with_us_east_1) {
  for (const char* region : {"us-east-1", "eu-west-1", "ap-southeast-2", "aws-global"}) {
    auto ep = default_endpoint(region);
    EXPECT_EQ(ep.url, "https://chime.us-east-1.amazonaws.com") << region;
    EXPECT_EQ(ep.signing_region, "us-east-1") << region;
  }
  // A region no partition knows falls to `aws`, as botocore's aws.partition does.
  EXPECT_EQ(partition_of("xx-nowhere"), "aws");
  EXPECT_EQ(default_endpoint("xx-nowhere").signing_region, "us-east-1");
}

TEST(endpoint_rules, other_partitions_are_regional_and_signed_with_the_region) {
  struct row {
    const char* region;
    const char* partition;
    const char* url;
  };
  for (const row& r :
       {row{"cn-north-1", "aws-cn", "https://chime.cn-north-1.amazonaws.com.cn"},
        row{"us-gov-west-1", "aws-us-gov", "https://chime.us-gov-west-1.amazonaws.com"},
        row{"us-iso-east-1", "aws-iso", "https://chime.us-iso-east-1.c2s.ic.gov"},
        row{"us-isob-east-1", "aws-iso-b", "https://chime.us-isob-east-1.sc2s.sgov.gov"}}) {
    EXPECT_EQ(partition_of(r.region), r.partition) << r.region;
    auto ep = default_endpoint(r.region);
    EXPECT_EQ(ep.url, r.url) << r.region;
    EXPECT_EQ(ep.signing_region, r.region) << r.region;
  }
}

}  // namespace
