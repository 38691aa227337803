// onboard/cli/service_get.hpp: one signed GET to the service, as the commands that only read
// (the pre-flight, export-users) make it: retried on 429, 5xx and network failures with a growing
// pause, its clock corrected from the service's Date and credentials refused as expired refreshed
// (each once, the call signed again), as the run's dispatcher does.
//
//   auto r = co_await async_service_get(t, signer, chime::account_target("acct-1"), 3);
#pragma once

#include <onboard/dispatch/transport.hpp>
#include <onboard/signing/sigv4.hpp>

#include <boost/asio/awaitable.hpp>

#include <string>

namespace onboard {

// async_service_get: GET `path` through `t`, at most `tries` times; the last answer.
boost::asio::awaitable<exchange_result> async_service_get(transport& t,
                                                          const signing::signer& signer,
                                                          const std::string& path, int tries);

// async_service_call: the same for any method and body; only for calls that may be repeated
// (reads, and writes the service applies idempotently such as BatchSuspendUser).
boost::asio::awaitable<exchange_result> async_service_call(transport& t,
                                                           const signing::signer& signer,
                                                           const std::string& method,
                                                           const std::string& path,
                                                           const std::string& body, int tries);

}  // namespace onboard
