// onboard/dispatch/run_stats.hpp: the live counters of a run, shared by the senders (which bump
// them), the progress display and the summary (which read them). Relaxed atomics: each counter is
// independent and readers only need a recent value.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace onboard {

struct run_stats {
  using counter = std::atomic<std::uint64_t>;

  // Addresses.
  counter total{0};  // addresses this run will handle (grows while ingest reads)
  counter done{0};   // addresses with a terminal outcome this run
  counter invited{0};
  counter created{0};
  counter exists{0};
  counter failed{0};
  counter not_sent{0};       // Invite Status Pending, EmailStatus NotSent: pending, not emailed
  counter verified{0};       // in-doubt addresses confirmed by ListUsers (not re-sent)
  counter left_in_doubt{0};  // in-doubt addresses ListUsers could not check: not re-sent, no
                             // outcome; the next run checks them again

  // Requests.
  counter requests{0};  // HTTP exchanges attempted (including ListUsers)
  counter in_flight{0};
  counter throttled{0};    // 429 responses
  counter unavailable{0};  // 5xx responses
  counter retries{0};      // exchanges that were a retry of an earlier one
  counter in_doubt{0};     // exchanges whose outcome was unknown (drops, timeouts, 500)
  counter bisections{0};   // 400 responses on a batch that was split
  counter transport_errors{0};

  // failure_codes: failed addresses by error code (for the summary).
  void add_failure(const std::string& code) {
    std::lock_guard lk(mu_);
    ++failures_by_code_[code];
  }
  std::map<std::string, std::uint64_t> failures_by_code() const {
    std::lock_guard lk(mu_);
    return failures_by_code_;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::uint64_t> failures_by_code_;
};

inline std::uint64_t load(const run_stats::counter& c) { return c.load(std::memory_order_relaxed); }
inline void bump(run_stats::counter& c, std::uint64_t n = 1) {
  c.fetch_add(n, std::memory_order_relaxed);
}

}  // namespace onboard
