// `chime-onboard export-users`: every user of an account, through ListUsers page by page
// (max-results 200, NextToken: ceil(U/200) requests for U users), to CSV or JSON Lines. The file
// holds addresses, so it is created 0600 and written whole or not at all (renamed into place).
#include "account_client.hpp"

#include <onboard/cli/commands.hpp>
#include <onboard/cli/exit_codes.hpp>
#include <onboard/core/text.hpp>
#include <onboard/io/durable_file.hpp>

#include <iostream>

namespace onboard {

namespace {

constexpr std::string_view columns[] = {
    "UserId",      "PrimaryEmail",         "UserType",
    "LicenseType", "UserInvitationStatus", "UserRegistrationStatus",
    "InvitedOn"};

void write_user(std::string& out, const chime::listed_user& u, bool csv) {
  const std::string_view cells[] = {u.user_id,      u.primary_email,     u.user_type,
                                    u.license_type, u.invitation_status, u.registration_status,
                                    u.invited_on};
  for (std::size_t i = 0; i < std::size(cells); ++i) {
    if (csv) {
      if (i) out.push_back(',');
      csv_cell(out, cells[i]);
    } else {
      out += i ? ",\"" : "{\"";
      out += columns[i];
      out += "\":";
      json_string(out, cells[i]);
    }
  }
  out += csv ? "\n" : "}\n";
}

}  // namespace

int cmd_export_users(const args_t& args) {
  cli::parser p{"export-users",
                "Write every user of an account (ListUsers, 200 a page) as CSV or JSON Lines: "
                "UserId, PrimaryEmail, UserType, LicenseType, UserInvitationStatus, "
                "UserRegistrationStatus, InvitedOn. Reads only.",
                "chime-onboard export-users --account-id 12a3456b-7c89-012d-3456-78901e23fg45 "
                "--out members.csv"};
  auto& account = p.add_value("account-id", "ID", "the Chime account (required)");
  auto& output = p.add_value("output", "FORMAT", "csv or jsonl", "csv");
  auto& out =
      p.add_value("out", "FILE", "write here (created 0600, replaced whole); - is stdout", "-");
  const connection_flags conn = add_connection_flags(p);
  p.add_epilog(exit_codes_help);
  if (auto rc = p.parse(args)) return *rc;
  if (account.value().empty()) return p.usage_error("--account-id is required");
  if (output.value() != "csv" && output.value() != "jsonl")
    return p.usage_error("--output must be csv or jsonl, not '" + output.value() + "'");
  const bool csv = output.value() == "csv";

  auto fail = [](int code, const std::string& why) {
    std::cerr << "chime-onboard export-users: " << why << "\n";
    return code;
  };
  account_client client;
  if (int rc = client.open(conn, "export-users"); rc != exit_ok) return rc;

  std::optional<io::atomic_file> file;
  try {
    if (out.value() != "-") file.emplace(out.value());
  } catch (const std::exception& e) {
    return fail(exit_usage, "--out " + out.value() + ": " + e.what());
  }
  auto sink = [&](std::string_view b) {
    if (file)
      file->append(b);
    else
      std::cout.write(b.data(), static_cast<std::streamsize>(b.size()));
  };
  if (csv) {
    std::string head;
    for (auto c : columns) head += std::string(head.empty() ? "" : ",") + std::string(c);
    sink(head + "\n");
  }

  std::string buf;
  auto on_page = [&](const chime::user_page& page) {
    buf.clear();
    for (const auto& u : page.users) write_user(buf, u, csv);
    sink(buf);
  };
  call_result res;
  try {
    res =
        client.run(async_list_users(client.transport(), client.signer(), account.value(), on_page));
    if (res.exit != exit_ok) return fail(res.exit, res.problem + "; nothing was written");
    if (file) file->commit();
    std::cout.flush();
  } catch (const std::exception& e) {
    return fail(exit_internal, e.what());
  }
  std::cerr << "exported " << res.users << " user" << (res.users == 1 ? "" : "s") << " of account "
            << account.value() << " in " << res.pages << " ListUsers request"
            << (res.pages == 1 ? "" : "s") << (file ? " to " + out.value() : std::string()) << "\n";
  return exit_ok;
}

}  // namespace onboard
