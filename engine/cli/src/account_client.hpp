// account_client.hpp: what the commands that work on an account's users (export-users, suspend)
// share: the connection flags, one HTTPS connection with the run's credentials, region, endpoint
// and proxy, and ListUsers of the whole account page by page (max-results 200, NextToken).
//
//   auto flags = add_connection_flags(p);
//   ... p.parse(args) ...
//   account_client c;
//   if (int rc = c.open(flags, "export-users"); rc != exit_ok) return rc;
//   auto r = c.run(async_list_users(c.transport(), c.signer(), "acct-1", on_page));
#pragma once

#include <onboard/chime/user_page.hpp>
#include <onboard/cli/cli_args.hpp>
#include <onboard/dispatch/https_transport.hpp>
#include <onboard/signing/sigv4.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace onboard {

// connection_flags: --profile, --region, --endpoint-url, --ca-bundle, --no-verify-ssl.
struct connection_flags {
  cli::option *profile, *region, *endpoint, *ca_bundle, *no_verify;
};
connection_flags add_connection_flags(cli::parser& p);

class account_client {
 public:
  // open: resolves the settings, credentials and TLS; exit_ok, or the exit code after printing
  // why not (prefixed with `command`).
  int open(const connection_flags& f, const std::string& command);

  onboard::transport& transport() { return *transport_; }
  const signing::signer& signer() const { return *signer_; }

  // run: runs `task` on this client's connection to the end; rethrows what it threw.
  template <class T>
  T run(boost::asio::awaitable<T> task) {
    T out{};
    std::exception_ptr failure;
    boost::asio::co_spawn(ioc_, std::move(task), [&](std::exception_ptr e, T r) {
      failure = e;
      out = std::move(r);
    });
    ioc_.run();
    ioc_.restart();
    if (failure) std::rethrow_exception(failure);
    return out;
  }

 private:
  boost::asio::io_context ioc_;
  std::optional<boost::asio::ssl::context> tls_;
  std::unique_ptr<https_transport> transport_;
  std::unique_ptr<signing::signer> signer_;
};

// call_result: how a command's calls ended: exit_ok, or the exit code and why.
struct call_result {
  std::uint64_t users = 0, pages = 0;
  int exit = 0;
  std::string problem;
};

// answer_problem: the call_result of an answer that is not `expected` (a transport failure, a
// refusal naming the IAM `action` on a 403, a service that kept failing); exit stays 0 when it is.
call_result answer_problem(const exchange_result& r, unsigned expected, const std::string& what,
                           const std::string& action);

// async_list_users: every user of `account`, one page at a time to `on_page`.
boost::asio::awaitable<call_result> async_list_users(
    onboard::transport& t, const signing::signer& signer, const std::string& account,
    const std::function<void(const chime::user_page&)>& on_page);

}  // namespace onboard
