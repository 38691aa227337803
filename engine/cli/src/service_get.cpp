#include <onboard/cli/service_get.hpp>

#include <onboard/dispatch/clock_skew.hpp>
#include <onboard/dispatch/request_log.hpp>
#include <onboard/dispatch/retry_policy.hpp>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <spdlog/spdlog.h>

#include <chrono>

namespace onboard {

namespace net = boost::asio;

namespace {

bool worth_retrying(const exchange_result& r) {
  if (!r.ok())
    return !r.failure->certificate_refused() &&
           r.failure->kind != io::transport_error_kind::proxy_refused;
  return r.response.status == 429 || r.response.status >= 500;
}

// async_signed: one request, and --debug's line for it; `last_try`: no retry follows whatever
// the answer (the line gives a retry reason only when one does).
net::awaitable<exchange_result> async_signed(transport& t, const signing::signer& signer,
                                             const std::string& method, const std::string& path,
                                             const std::string& body, int attempt, bool last_try,
                                             signing::credentials_ptr* used = nullptr) {
  const auto sent_at = std::chrono::steady_clock::now();
  auto r = co_await t.async_exchange(signed_request(t, signer, method, path, body, used));
  if (spdlog::should_log(spdlog::level::debug)) {
    std::string why;
    if (!last_try && worth_retrying(r))
      why = r.ok() ? "HTTP " + std::to_string(r.response.status) : r.failure->message;
    log_request({method, path, r, std::chrono::steady_clock::now() - sent_at,
                 static_cast<unsigned>(attempt), why});
  }
  co_return r;
}

}  // namespace

net::awaitable<exchange_result> async_service_get(transport& t, const signing::signer& signer,
                                                  const std::string& path, int tries) {
  co_return co_await async_service_call(t, signer, "GET", path, {}, tries);
}

net::awaitable<exchange_result> async_service_call(transport& t, const signing::signer& signer,
                                                   const std::string& method,
                                                   const std::string& path, const std::string& body,
                                                   int tries) {
  exchange_result r;
  for (int i = 0; i < tries; ++i) {
    if (i > 0) {
      net::steady_timer pause(co_await net::this_coro::executor,
                              std::chrono::milliseconds(200 << i));
      co_await pause.async_wait(net::use_awaitable);
    }
    signing::credentials_ptr used;
    const bool last = i + 1 == tries;
    r = co_await async_signed(t, signer, method, path, body, i + 1, last, &used);
    // As the run's dispatcher does: a clock our signature's date betrays is corrected from the
    // service's Date, and credentials refused as expired are refreshed, each once, and the call
    // signed again: neither a skewed clock nor a token expiring now fails the call.
    if (r.ok()) {
      const auto mend =
          engine::signature_mend_for(r.response, signing::clock::now(), signer.clock_offset());
      if (mend.clock_offset) {
        signer.set_clock_offset(*mend.clock_offset);
        r = co_await async_signed(t, signer, method, path, body, i + 1, last);
      } else if (mend.refresh_credentials &&
                 signer.credentials_source().refresh_after_refusal(used)) {
        r = co_await async_signed(t, signer, method, path, body, i + 1, last);
      }
    }
    if (!worth_retrying(r)) break;
  }
  co_return r;
}

}  // namespace onboard
