// chime_decode_bench.cpp: decoding one InviteUsers response of 50 invites (the emulator's bytes:
// what the engine decodes once per request), as the dispatcher does it (into a vector reused from
// response to response) and into a fresh vector.
//
//   build/release/bench/bench_chime_decode --benchmark_min_time=0.5
#include <onboard/chime/chime_api.hpp>

#include <benchmark/benchmark.h>

#include <string>
#include <vector>

namespace {

using namespace onboard::chime;

std::string service_response() {
  std::string body = "{\"Invites\":[";
  for (int i = 0; i < 50; ++i) {
    const bool failed = i % 10 == 3;
    body += std::string(i ? "," : "") + "{\"InviteId\":\"6513270e-269e-4d37-a2a7-4de452e6b4" +
            std::to_string(10 + i) + "\",\"Status\":\"" + (failed ? "Failed" : "Pending") +
            "\",\"EmailAddress\":\"u" + std::to_string(1000000 + i) +
            ".00@example.com\",\"EmailStatus\":\"" + (failed ? "Failed" : "Sent") + "\"}";
  }
  return body + "]}";
}

void bm_decode_reused_vector(benchmark::State& state) {
  const std::string body = service_response();
  std::vector<invite> out;
  std::string error;
  for (auto _ : state) {
    bool ok = decode_invites(body, out, error);
    benchmark::DoNotOptimize(ok);
    if (!ok || out.size() != 50) state.SkipWithError(error.c_str());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}

void bm_decode_fresh_vector(benchmark::State& state) {
  const std::string body = service_response();
  for (auto _ : state) {
    auto r = decode_invites(body);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}

}  // namespace

BENCHMARK(bm_decode_reused_vector);
BENCHMARK(bm_decode_fresh_vector);
BENCHMARK_MAIN();
