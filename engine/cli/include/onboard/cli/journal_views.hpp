// onboard/cli/journal_views.hpp: what `status` and `report` make of a replayed journal. The
// journal library reads and writes records; how they are shown to a person is the CLI's.
#pragma once

#include <onboard/cli/report_writer.hpp>
#include <onboard/journal/journal.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace onboard {

// status_text / status_json: what `chime-onboard status` prints for a replayed journal
// (`now_unix_ms` makes "3m ago" testable).
std::string status_text(const replay_state& s, std::int64_t now_unix_ms);
std::string status_json(const replay_state& s);
// report_source: where a run read an address, for a report's source and line columns.
struct report_source {
  std::string_view input;
  std::uint64_t line = 0;
};
// source_lookup: where this run read `email`, nullopt when it did not (an earlier run did).
using source_lookup = std::function<std::optional<report_source>(std::string_view email)>;

// write_report: one row per address, in first-mention order: its latest outcome, or "in_doubt"
// when it only has an intent. failed_only: rows whose latest outcome is failed. `source_of` fills
// the source columns of a writer that has them (else they stay empty). Returns the rows.
std::uint64_t write_report(const replay_state& s, report_writer& w, bool failed_only,
                           const source_lookup& source_of = {});

}  // namespace onboard
