// onboard/dispatch/fatal.hpp: why a run had to stop, in the dispatcher's words. Which exit code
// that is for the process is the CLI's one decision (cli/exit_codes.hpp: exit_code_of).
#pragma once

#include <string>

namespace onboard {

// fatal_kind: why the whole run had to stop.
enum class fatal_kind {
  credentials,          // the service refused our credentials or permissions (401/403)
  tls,                  // the server's certificate was refused
  proxy,                // the HTTPS proxy refused to open a tunnel (407, 403, 502, ...)
  account_not_found,    // the account id is unknown to the service (404)
  service_unavailable,  // retryable failures outlasted the retry budget (5xx, throttling, network)
  not_the_service,      // something else answered in the service's place (a 3xx, a proxy's or a
                        // captive portal's page): a proxy, portal or wrong endpoint is in the way
  systemic_refusal,     // the service refused the run's first requests all alike, accepting none
  failure_limit,        // more addresses failed than --max-failures allows
  in_doubt,  // the run went on to the end, but addresses that may have been applied could not be
             // checked with ListUsers: not sent again, they stay in doubt for the next run
};

// fatal_stop: the kind, and a message for the person running the tool.
struct fatal_stop {
  fatal_kind kind = fatal_kind::service_unavailable;
  std::string message;
};

}  // namespace onboard
