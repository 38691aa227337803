// onboard/cli/banner.hpp: the few lines a sending command prints on stderr before its first
// email and before the confirmation: what it is about to do, to which account, through which
// endpoint, as whom, how many addresses, and where its records go. A wrong account or endpoint
// is caught here, before anything is written or sent. `--quiet` leaves it out.
//
//   onboard::run_banner b;
//   b.operation = "invite"; b.account_id = "acct-1"; b.to_email = 1000; ...
//   onboard::print_banner(b, std::cerr);
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>

namespace onboard {

struct run_banner {
  std::string operation;  // "invite", "create-users"
  std::string account_id;
  std::string account_about;  // what the pre-flight found: "\"Acme\", Team, Active" ("": unknown)
  std::string endpoint, endpoint_source;  // source: "--endpoint-url", "AWS_ENDPOINT_URL", ...
  std::string region, region_source;
  std::string identity;  // where the credentials came from (never the keys)
  // Counted before anything is written (nullopt: a stream input, counted as it is sent).
  std::optional<std::uint64_t> pending;  // addresses not yet done
  std::uint64_t limit = 0;               // --limit (0: none)
  std::uint64_t rejected = 0, duplicates = 0, already_done = 0;
  std::string where;                // --where, "dept=Sales and site=Paris" ("": every row)
  std::uint64_t outside_where = 0;  // rows it leaves for another wave (counted with `pending`)
  std::string journal, report, rejects, duplicates_file;  // empty: none
  std::string window;  // when the run stops by itself (window_text), "" when it does not
};

void print_banner(const run_banner& b, std::ostream& out);

}  // namespace onboard
