// sign_bench.cpp: SigV4 signing and verification of a typical 50-address InviteUsers request, with
// the derived key cached (the steady state of a run and of the emulator).
#include <onboard/signing/sigv4.hpp>

#include <benchmark/benchmark.h>

#include <string>
#include <vector>

namespace {

namespace sg = onboard::signing;

sg::credentials bench_credentials() {
  sg::credentials c;
  c.access_key_id = "AKIDEXAMPLE";
  c.secret_access_key = sg::secret_string("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
  return c;
}

// invite_body: the JSON the CLI sends for 50 addresses.
std::string invite_body() {
  std::string body = "{\"UserEmailList\": [";
  for (int i = 0; i < 50; ++i) {
    if (i) body += ", ";
    body += "\"user" + std::to_string(1000 + i) + ".surname@example-company.com\"";
  }
  body += "], \"UserType\": \"PrivateUser\"}";
  return body;
}

const std::string target = "/accounts/12a3456b-7c89-012d-3456-78901e23fg45/users?operation=add";

void bm_sign_invite_users(benchmark::State& state) {
  sg::signer s{bench_credentials(), "us-east-1", "chime"};
  std::string body = invite_body();
  std::string length = std::to_string(body.size());
  std::vector<sg::header_view> hs{{"Host", "chime.us-east-1.amazonaws.com"},
                                  {"Content-Type", "application/json"},
                                  {"Content-Length", length}};
  sg::request_view req{"POST", target, hs, body};
  auto now = *sg::parse_amz_date("20240315T101500Z");
  benchmark::DoNotOptimize(s.sign(req, now));  // warms the key cache
  for (auto _ : state) {
    auto added = s.sign(req, now);
    benchmark::DoNotOptimize(added.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}
BENCHMARK(bm_sign_invite_users);

void bm_verify_invite_users(benchmark::State& state) {
  auto creds = bench_credentials();
  sg::signer s{creds, "us-east-1", "chime"};
  sg::verifier v({creds}, "us-east-1", "chime");
  std::string body = invite_body();
  std::string length = std::to_string(body.size());
  std::vector<sg::header> owned{{"Host", "chime.us-east-1.amazonaws.com"},
                                {"Content-Type", "application/json"},
                                {"Content-Length", length},
                                {"User-Agent", "aws-cli/2.9.19"}};
  auto now = *sg::parse_amz_date("20240315T101500Z");
  std::vector<sg::header_view> hs;
  for (const auto& h : owned) hs.push_back({h.name, h.value});
  for (auto& h : s.sign(sg::request_view{"POST", target, hs, body}, now)) owned.push_back(h);
  hs.clear();
  for (const auto& h : owned) hs.push_back({h.name, h.value});
  sg::request_view req{"POST", target, hs, body};
  if (!v.verify(req, now)) state.SkipWithError("the signed request does not verify");
  for (auto _ : state) {
    auto r = v.verify(req, now);
    benchmark::DoNotOptimize(r.error);
  }
}
BENCHMARK(bm_verify_invite_users);

}  // namespace

BENCHMARK_MAIN();
