// onboard/dispatch/request_log.hpp: `--debug`'s line per request, one for every request the run
// sends (the dispatcher's exchanges and the CLI's own calls: pre-flight, ListUsers):
//
//   request POST /accounts/acct-1/users?operation=add 201 id=7c1e... 12.4 ms attempt 1
//   request POST /accounts/acct-1/users?operation=add 429 id=9a02... 3.1 ms attempt 2 retry:
//   throttled (HTTP 429 ThrottlingException)
//
// Built only from the method, the target and the answer's status and request id: never a header
// (Authorization, X-Amz-Security-Token), a signature or a body. A query value that holds an
// address (ListUsers' user-email) is logged as log_email() shows addresses (hashed under
// --redact), and a query value that could carry a credential (a presigned URL's X-Amz-*) never.
//
//   if (spdlog::should_log(spdlog::level::debug))   // costs nothing when debug is off
//     log_request({"GET", target, r, elapsed, attempt, reason});
#pragma once

#include <onboard/dispatch/transport.hpp>

#include <chrono>
#include <string>
#include <string_view>

namespace onboard {

struct request_log_entry {
  std::string_view method;
  std::string_view target;
  const exchange_result& result;
  std::chrono::steady_clock::duration latency;
  unsigned attempt = 1;
  std::string_view retry_reason;  // why this answer is sent again ("": it is not)
};

// loggable_target: `target` with every address in its query shown as log_email() shows it, and
// any X-Amz-Signature, X-Amz-Credential or X-Amz-Security-Token value replaced by "****".
std::string loggable_target(std::string_view target);

// request_log_line: the line (without the log's time and level).
std::string request_log_line(const request_log_entry& e);

// log_request: request_log_line at debug level.
void log_request(const request_log_entry& e);

}  // namespace onboard
