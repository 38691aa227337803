// ingest_flags.hpp: the input flags (`--input`, `--account-id`, `--rejects`, ...) that `plan`,
// `invite` and `create-users` share, and the ingest options they describe. Beside the commands,
// as rclone keeps operationsflags beside operations: the ingest library never sees the parser.
#pragma once

#include <onboard/cli/cli_args.hpp>
#include <onboard/ingest/ingest.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace onboard {

// ingest_flags: the declared input options (owned by the parser), to read back after parse().
struct ingest_flags {
  operation op = operation::invite;
  cli::option* input = nullptr;                 // --input FILE (repeatable, - for stdin)
  cli::option* account_id = nullptr;            // --account-id ID
  cli::option* user_type = nullptr;             // --user-type PrivateUser|SharedDevice
  cli::option* email_column = nullptr;          // --email-column NAME
  cli::option* delimiter = nullptr;             // --delimiter , ; | tab
  cli::option* case_sensitive_local = nullptr;  // --case-sensitive-local
  cli::option* rejects = nullptr;               // --rejects FILE
  cli::option* duplicates = nullptr;            // --duplicates FILE
  cli::option* where = nullptr;                 // --where COLUMN=VALUE (repeatable)
};

// parse_where: "COLUMN=VALUE" as (column, value), each trimmed of blanks; the value may be empty
// (rows where the column is blank). nullopt without '=' or without a column.
std::optional<std::pair<std::string, std::string>> parse_where(std::string_view text);

// add_ingest_options: declares the input flags on `p` for operation `op`. The returned object
// lives as long as the process (one command line per process), like the parser's options.
ingest_flags* add_ingest_options(cli::parser& p, operation op = operation::invite);

// ingest_options_from_flags: the options the flags describe. Prints a usage error naming the flag
// and returns nullopt when a value is bad or no --input was given.
std::optional<ingest_options> ingest_options_from_flags(const cli::parser& p,
                                                        const ingest_flags& f);

}  // namespace onboard
