#include <onboard/chime/endpoint_rules.hpp>

#include <array>
#include <regex>

namespace onboard::chime {

namespace {

// partition: botocore's partitions.json, reduced to what the Chime rules read.
struct partition {
  std::string_view id;
  std::string_view region_pattern;
  std::string_view dns_suffix;
  std::string_view global_region;  // the pseudo-region named after the partition
};

// In botocore's order: the first partition that knows the region wins, `aws` if none does.
constexpr std::array<partition, 5> partitions{{
    {"aws", R"(^(us|eu|ap|sa|ca|me|af)\-\w+\-\d+$)", "amazonaws.com", "aws-global"},
    {"aws-cn", R"(^cn\-\w+\-\d+$)", "amazonaws.com.cn", "aws-cn-global"},
    {"aws-us-gov", R"(^us\-gov\-\w+\-\d+$)", "amazonaws.com", "aws-us-gov-global"},
    {"aws-iso", R"(^us\-iso\-\w+\-\d+$)", "c2s.ic.gov", "aws-iso-global"},
    {"aws-iso-b", R"(^us\-isob\-\w+\-\d+$)", "sc2s.sgov.gov", "aws-iso-b-global"},
}};

const partition& find_partition(std::string_view region) {
  const std::string r(region);
  for (const auto& p : partitions) {
    if (region == p.global_region) return p;
    if (std::regex_search(r, std::regex(std::string(p.region_pattern)))) return p;
  }
  return partitions.front();
}

}  // namespace

std::string_view partition_of(std::string_view region) { return find_partition(region).id; }

rules_endpoint default_endpoint(std::string_view region) {
  const partition& p = find_partition(region);
  if (p.id == "aws") return {"https://chime.us-east-1.amazonaws.com", "us-east-1"};
  return {"https://chime." + std::string(region) + "." + std::string(p.dns_suffix),
          std::string(region)};
}

}  // namespace onboard::chime
