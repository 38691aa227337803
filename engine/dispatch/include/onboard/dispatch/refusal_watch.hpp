// onboard/dispatch/refusal_watch.hpp: two reasons to stop a run because of its refusals, before
// they cost the corpus.
//
// A systemic refusal: the service refused the run's first requests all alike (one error code, one
// message) and accepted none. That is the run being refused (an account of the wrong type, a
// policy, a permission answered with a 400), not its addresses: bisecting would spend about two
// requests per address to mark the whole corpus failed. Stopping leaves every address pending for
// a resume once the cause is fixed.
//
// A failure limit (--max-failures N|P%, as GNU parallel's --halt fail=N|P%): the person running
// the tool bounds how many addresses may fail before the run stops.
//
//   refusal_watch w;
//   if (w.on_refusal("BadRequestException", "Service received a bad request")) stop();
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace onboard::engine {

// failure_limit: when --max-failures stops a run. Both zero: never.
struct failure_limit {
  std::uint64_t count = 0;  // stop once this many addresses have failed
  double percent = 0;       // stop once this share of the settled addresses has failed

  // failure_limit::sample: a percentage is judged only once this many addresses are settled (one
  // full batch), so that the first failure of a run is not 100%.
  static constexpr std::uint64_t sample = 50;

  bool any() const { return count > 0 || percent > 0; }
  // reached: whether `failed` of `settled` addresses passes the limit.
  bool reached(std::uint64_t failed, std::uint64_t settled) const;
};

// parse_failure_limit: "N" (a count, N >= 1) or "P%" (0 < P <= 100); nullopt after setting
// `error` to what is wrong with `text`.
std::optional<failure_limit> parse_failure_limit(std::string_view text, std::string& error);

// refusal_watch: recognises a systemic refusal (thread-safe: every sender reports to one watch).
class refusal_watch {
 public:
  // refusal_watch::systemic_after: alike refusals, with no success before them, that make a run's
  // refusal systemic. Well above the number of connections: a corpus with bad addresses has its
  // first wave of batches refused only by chance, and their halves then succeed.
  static constexpr unsigned systemic_after = 10;

  // on_refusal: a request refused as a whole (a 400 to bisect, or one address's refusal). True
  // once the run's first systemic_after refusals were all alike and nothing succeeded before.
  bool on_refusal(std::string_view code, std::string_view message);
  // on_success: the service accepted a request: whatever it refuses later is about addresses.
  void on_success();

 private:
  std::mutex mu_;
  std::string code_, message_;
  unsigned alike_ = 0;
  // cleared_: a success or a different refusal came first: never systemic. Atomic so that the
  // successes, every request of a healthy run, cost no lock.
  std::atomic<bool> cleared_{false};
};

}  // namespace onboard::engine
