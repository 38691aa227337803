// ingest_flags.cpp: declaring and reading the shared input flags.
#include "ingest_flags.hpp"

#include <deque>

namespace onboard {

ingest_flags* add_ingest_options(cli::parser& p, operation op) {
  static std::deque<ingest_flags> all;  // stable addresses; a handful per process at most
  ingest_flags& f = all.emplace_back();
  f.op = op;
  p.group("input");
  f.input = &p.add_list("input", "FILE",
                        "corpus: a list (one address a line), CSV with an email column, or either "
                        "gzipped; - reads stdin");
  f.account_id = &p.add_value("account-id", "ID",
                              "Chime account id (a CSV account_id column overrides it per row)");
  f.user_type = &p.add_value("user-type", "TYPE",
                             "PrivateUser or SharedDevice (a CSV user_type column overrides it)");
  f.email_column = &p.add_value("email-column", "NAME", "CSV column holding the address", "email");
  f.delimiter = &p.add_value("delimiter", "SEP",
                             "CSV field separator: , ; | or tab (many HR exports use ;)", ",");
  f.where = &p.add_list("where", "COLUMN=VALUE",
                        "one wave of a CSV: only rows whose COLUMN holds VALUE (case and "
                        "surrounding blanks ignored; repeatable: every one must match); the others "
                        "are left for another wave on the same journal");
  f.case_sensitive_local = &p.add_flag(
      "case-sensitive-local", "treat John@x.com and john@x.com as different people when deduping");
  f.rejects =
      &p.add_value("rejects", "FILE", "write rejected lines as CSV (source,line,raw_value,reason)");
  f.duplicates = &p.add_value(
      "duplicates", "FILE", "write duplicates as CSV (source,line,email,first_source,first_line)");
  return &f;
}

std::optional<std::pair<std::string, std::string>> parse_where(std::string_view text) {
  const auto eq = text.find('=');
  if (eq == std::string_view::npos) return std::nullopt;
  auto trim = [](std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
  };
  const std::string_view column = trim(text.substr(0, eq));
  if (column.empty()) return std::nullopt;
  return std::pair{std::string(column), std::string(trim(text.substr(eq + 1)))};
}

std::optional<ingest_options> ingest_options_from_flags(const cli::parser& p,
                                                        const ingest_flags& f) {
  ingest_options o;
  o.inputs = f.input->values;
  if (o.inputs.empty()) {
    p.usage_error("no input: give --input FILE (repeatable; - for stdin)");
    return std::nullopt;
  }
  for (const auto& in : o.inputs) {
    if (in.empty()) {
      p.usage_error("option '--input': empty file name");
      return std::nullopt;
    }
  }
  o.account_id = f.account_id->value();
  auto t = parse_user_type_lenient(f.user_type->value());
  if (!t) {
    p.usage_error("option '--user-type': '" + f.user_type->value() +
                  "' is not PrivateUser or SharedDevice");
    return std::nullopt;
  }
  o.type = *t;
  o.email_column = f.email_column->value();
  if (o.email_column.empty()) {
    p.usage_error("option '--email-column': empty column name");
    return std::nullopt;
  }
  const std::string& sep = f.delimiter->value();
  if (sep == "tab" || sep == "\\t" || sep == "\t")
    o.delimiter = '\t';
  else if (sep == "," || sep == ";" || sep == "|")
    o.delimiter = sep[0];
  else {
    p.usage_error("option " + p.named(*f.delimiter) + ": '" + sep +
                  "' is not a separator this reader takes (, ; | or tab)");
    return std::nullopt;
  }
  for (const auto& w : f.where->values) {
    auto pair = parse_where(w);
    if (!pair) {
      p.usage_error("option " + p.named(*f.where) + ": '" + w +
                    "' is not COLUMN=VALUE (a CSV header's column, then the value to keep)");
      return std::nullopt;
    }
    o.where.push_back(std::move(*pair));
  }
  o.case_sensitive_local = f.case_sensitive_local->given();
  o.rejects_path = f.rejects->value();
  o.duplicates_path = f.duplicates->value();
  o.op = f.op;
  return o;
}

}  // namespace onboard
