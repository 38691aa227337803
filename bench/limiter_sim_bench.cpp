// bench_limiter_sim: prints the engine's adaptive limiter against a port of botocore's adaptive
// mode in the simulated fleet of tests/engine/dispatch/limiter_sim.hpp (service token bucket rate
// L, burst L; C = max(32, 1.2 L) senders; latency U(0.25, 0.55) s; 120 s; seeds 1-3), steady and
// with the limit halving at 60 s. Not a timing benchmark: the numbers are the point.
//
//   bench_limiter_sim            # the comparison table
//   bench_limiter_sim --csv      # the same as CSV
#include "../tests/engine/dispatch/limiter_sim.hpp"

#include <cstdio>
#include <cstring>
#include <string>

namespace sim = onboard::engine::sim;

namespace {

struct row_stats {
  double util_lo = 1e9, util_hi = 0, s429_lo = 1e9, s429_hi = 0, s429b_lo = 1e9, s429b_hi = 0,
         ramp_lo = 1e9, ramp_hi = 0, h_lo = 1e9, h_hi = 0, h429_lo = 1e9, h429_hi = 0;
  void add(const sim::result& r, const sim::result& h) {
    auto mm = [](double& lo, double& hi, double v) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    };
    mm(util_lo, util_hi, r.utilisation_2nd_half);
    mm(s429_lo, s429_hi, 100 * r.share_429_all);
    mm(s429b_lo, s429b_hi, 100 * r.share_429_2nd_half);
    mm(ramp_lo, ramp_hi, r.ramp_time);
    mm(h_lo, h_hi, h.util_after_halving_rest);
    mm(h429_lo, h429_hi, 100 * h.share_429_after_halving);
  }
};

// print_realistic: issue 25's service shapes in the simulation (seeds 1-3): far away (400 ms
// +-25 %), a limit that moves 20 -> 10 -> 40 req/s, three accounts sharing 30 req/s, and a
// small burst (10 requests at 40 req/s), with the share of the limit's integral each reached;
// and three accounts each held to a limit of its own, with the accounts of a run sharing one
// limiter (the default) and with a limiter each.
void print_realistic() {
  struct row {
    const char* name;
    sim::scenario sc;
    onboard::engine::limiter_set_config set{};
  };
  const onboard::engine::limiter_set_config apart{.share_limits =
                                                      false};  // a limiter per account, as before
  const row rows[] = {
      {"far away, 40/s, 60 s", {.limit = 40, .duration = 60, .latency_lo = 0.3, .latency_hi = 0.5}},
      {"moving 20>10>40, near",
       {.limit = 20,
        .duration = 60,
        .latency_lo = 0.001,
        .latency_hi = 0.004,
        .schedule = {{20, 10}, {40, 40}}}},
      {"moving 20>10>40, far",
       {.limit = 20,
        .duration = 60,
        .latency_lo = 0.3,
        .latency_hi = 0.5,
        .schedule = {{20, 10}, {40, 40}}}},
      {"3 accounts share 30/s, near",
       {.limit = 30, .duration = 60, .latency_lo = 0.001, .latency_hi = 0.004, .partitions = 3}},
      {"3 accounts share 30/s, far",
       {.limit = 30, .duration = 60, .latency_lo = 0.3, .latency_hi = 0.5, .partitions = 3}},
      {"  the same, a limiter each",
       {.limit = 30, .duration = 60, .latency_lo = 0.3, .latency_hi = 0.5, .partitions = 3},
       apart},
      {"3 own limits 2/20/8, near",
       {.duration = 60,
        .senders = 36,
        .latency_lo = 0.001,
        .latency_hi = 0.004,
        .partitions = 3,
        .own_limits = {2, 20, 8}}},
      {"  the same, a limiter each",
       {.duration = 60,
        .senders = 36,
        .latency_lo = 0.001,
        .latency_hi = 0.004,
        .partitions = 3,
        .own_limits = {2, 20, 8}},
       apart},
      {"40/s, burst 10, near, 15 s",
       {.limit = 40,
        .duration = 15,
        .latency_lo = 0.001,
        .latency_hi = 0.004,
        .burst_seconds = 0.25}},
  };
  std::printf("\n%-30s %-16s %-14s %-16s\n", "scenario (onboard adaptive)", "share of limit",
              "429% all", "smallest share");
  for (const auto& r : rows) {
    double u_lo = 1e9, u_hi = 0, t_lo = 1e9, t_hi = 0, share = 1;
    for (std::uint64_t seed = 1; seed <= 3; ++seed) {
      sim::scenario sc = r.sc;
      sc.seed = seed;
      auto res = sim::run_proposed(sc, {}, r.set);
      u_lo = std::min(u_lo, res.utilisation_of_integral);
      u_hi = std::max(u_hi, res.utilisation_of_integral);
      t_lo = std::min(t_lo, 100 * res.share_429_all);
      t_hi = std::max(t_hi, 100 * res.share_429_all);
      for (auto a : res.accepted_by_partition)
        share = std::min(share, static_cast<double>(a) / static_cast<double>(res.accepted));
    }
    std::printf("%-30s %.3f-%-10.3f %.1f-%-10.1f %s\n", r.name, u_lo, u_hi, t_lo, t_hi,
                r.sc.partitions > 1 && r.sc.own_limits.empty()
                    ? std::to_string(share).substr(0, 5).c_str()
                    : "-");
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool csv = argc > 1 && std::strcmp(argv[1], "--csv") == 0;
  if (csv)
    std::printf(
        "L,algorithm,util_lo,util_hi,429_all_lo,429_all_hi,429_2nd_lo,429_2nd_hi,ramp_lo,ramp_hi,"
        "halved_util_lo,halved_util_hi,halved_429_lo,halved_429_hi\n");
  else
    std::printf("%-5s %-18s %-13s %-15s %-15s %-13s %-13s %-13s\n", "L", "algorithm",
                "util 2nd half", "429% all", "429% 2nd half", "ramp to 90%", "util halved*",
                "429% halved");
  for (double l : {5.0, 50.0, 500.0}) {
    for (int algo = 0; algo < 2; ++algo) {
      row_stats s;
      for (std::uint64_t seed = 1; seed <= 3; ++seed) {
        sim::scenario sc{.limit = l, .seed = seed};
        sim::scenario sh = sc;
        sh.halve_at = 60.0;
        if (algo == 0)
          s.add(sim::run_proposed(sc, {}), sim::run_proposed(sh, {}));
        else
          s.add(sim::run_botocore(sc), sim::run_botocore(sh));
      }
      const char* name = algo == 0 ? "onboard adaptive" : "botocore adaptive";
      if (csv) {
        std::printf("%g,%s,%.3f,%.3f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.3f,%.3f,%.2f,%.2f\n", l, name,
                    s.util_lo, s.util_hi, s.s429_lo, s.s429_hi, s.s429b_lo, s.s429b_hi, s.ramp_lo,
                    s.ramp_hi, s.h_lo, s.h_hi, s.h429_lo, s.h429_hi);
      } else {
        auto rng = [](double lo, double hi, const char* fmt) {
          char a[64];
          char b[32];
          std::snprintf(a, sizeof a, fmt, lo);
          std::snprintf(b, sizeof b, fmt, hi);
          return std::string(a) + "-" + b;
        };
        std::printf(
            "%-5g %-18s %-13s %-15s %-15s %-13s %-13s %-13s\n", l, name,
            rng(s.util_lo, s.util_hi, "%.2f").c_str(), rng(s.s429_lo, s.s429_hi, "%.1f").c_str(),
            rng(s.s429b_lo, s.s429b_hi, "%.1f").c_str(), rng(s.ramp_lo, s.ramp_hi, "%.1fs").c_str(),
            rng(s.h_lo, s.h_hi, "%.2f").c_str(), rng(s.h429_lo, s.h429_hi, "%.1f").c_str());
      }
    }
  }
  if (!csv)
    std::printf(
        "* limit halves at 60 s: utilisation of the new limit over (70, 120] s, 429 share of "
        "requests "
        "sent after 60 s. Ranges over seeds 1-3.\n");
  if (!csv) print_realistic();
  return 0;
}
