#include <onboard/cli/banner.hpp>

#include <onboard/cli/confirm.hpp>

#include <algorithm>
#include <ostream>

namespace onboard {

namespace {

std::string with_source(const std::string& value, const std::string& source) {
  return source.empty() ? value : value + " (" + source + ")";
}

}  // namespace

void print_banner(const run_banner& b, std::ostream& out) {
  out << b.operation << ": account " << b.account_id
      << (b.account_about.empty() ? "" : " (" + b.account_about + ")") << "\n"
      << "  endpoint  " << with_source(b.endpoint, b.endpoint_source) << ", region "
      << with_source(b.region, b.region_source) << "\n";
  if (!b.identity.empty()) out << "  identity  " << b.identity << "\n";
  out << "  addresses ";
  if (b.pending) {
    const std::uint64_t n = b.limit ? std::min(*b.pending, b.limit) : *b.pending;
    out << group_thousands(n) << " to email";
    if (b.limit && b.limit < *b.pending)
      out << " (pilot: --limit " << group_thousands(b.limit) << " of "
          << group_thousands(*b.pending) << ")";
    out << "; " << group_thousands(b.rejected) << " rejected, " << group_thousands(b.duplicates)
        << " duplicates, " << group_thousands(b.already_done) << " already done\n";
    if (!b.where.empty())
      out << "  wave      --where " << b.where << ": " << group_thousands(b.outside_where)
          << " other row" << (b.outside_where == 1 ? "" : "s")
          << " left for another wave (not rejected, not sent)\n";
  } else {
    out << "counted as they are read (the input is a stream)"
        << (b.limit ? "; at most " + group_thousands(b.limit) + " (--limit)" : "") << "\n";
    if (!b.where.empty()) out << "  wave      --where " << b.where << "\n";
  }
  if (!b.window.empty()) out << "  window    " << b.window << "\n";
  out << "  journal   " << b.journal << "\n";
  std::string files;
  auto add = [&](const char* what, const std::string& path) {
    if (path.empty()) return;
    files += (files.empty() ? "" : ", ") + std::string(what) + " " + path;
  };
  add("report", b.report);
  add("rejects", b.rejects);
  add("duplicates", b.duplicates_file);
  if (!files.empty()) out << "  files     " << files << "\n";
  out << std::flush;
}

}  // namespace onboard
