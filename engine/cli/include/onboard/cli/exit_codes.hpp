// onboard/cli/exit_codes.hpp: what `chime-onboard` returns, so scripts can act on it.
#pragma once

#include <onboard/dispatch/fatal.hpp>

namespace onboard {

// exit_code: documented in README and every command's --help. Values are stable.
enum exit_code : int {
  exit_ok = 0,                // everything done
  exit_internal = 1,          // unexpected internal error (a bug: please report)
  exit_usage = 2,             // bad command line or unreadable input option
  exit_rejected_inputs = 3,   // done; some input lines were rejected (see --rejects)
  exit_failed_addresses = 4,  // done; the service refused some addresses or sent them no email
  exit_interrupted =
      5,             // interrupted (signal, fatal I/O) or not confirmed; re-run the same command
  exit_config = 6,   // configuration or authentication failure (credentials, 401/403, TLS)
  exit_service = 7,  // the service refused the run (404 account, a systemic refusal), stayed
                     // unreachable, or --max-failures was passed; resumable
};

// exit_code_of: the one place a reason to stop becomes an exit code.
constexpr exit_code exit_code_of(fatal_kind k) {
  switch (k) {
    case fatal_kind::credentials:
    case fatal_kind::tls:
    case fatal_kind::proxy:
    case fatal_kind::not_the_service: return exit_config;
    case fatal_kind::account_not_found:
    case fatal_kind::service_unavailable:
    case fatal_kind::systemic_refusal:
    case fatal_kind::failure_limit:
    case fatal_kind::in_doubt: return exit_service;
  }
  return exit_internal;
}

inline constexpr const char* exit_codes_help =
    "exit codes:\n"
    "  0  everything done\n"
    "  1  internal error\n"
    "  2  usage error\n"
    "  3  done, some input lines rejected\n"
    "  4  done, some addresses failed at the service or were not emailed\n"
    "     (outcomes failed, not_sent: see the report; --retry-failed sends them\n"
    "     again); members already in the account (exists) are not an error\n"
    "  5  interrupted, not confirmed at the prompt (nothing sent), or ended\n"
    "     with addresses that have no outcome yet; re-run the same command to\n"
    "     resume\n"
    "  6  configuration or authentication failure, an account that is unknown,\n"
    "     not Active or of the wrong type (nothing written), or something other\n"
    "     than Amazon Chime answered (a proxy's redirect, a portal's page)\n"
    "  7  the service stayed unreachable\n"
    "     through all retries, addresses in doubt could not be checked with\n"
    "     ListUsers, or the service refused the run's first requests all alike\n"
    "     (a systemic refusal); nothing is marked failed, re-run the same command\n"
    "     to resume. Also: more addresses failed than --max-failures allows\n"
    "     (those stay failed; the rest resume)\n";

}  // namespace onboard
