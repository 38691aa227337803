// service_http.hpp (internal): one request to an AWS service that hands out credentials (STS,
// the SSO portal), synchronously, before or between the run's own requests. https:// goes
// through io's TLS connection (the run's CA bundle, certificate checks and HTTPS_PROXY tunnel);
// http:// (a local responder, as the AWS CLI allows for any endpoint URL) through
// metadata_http.
#pragma once

#include "metadata_http.hpp"

#include <onboard/signing/credentials.hpp>

#include <chrono>
#include <string>
#include <string_view>

namespace onboard::detail {

// service_client: how to reach the services: the CA bundle (empty: the system's), whether to
// verify certificates, the environment (for the proxy variables) and a bound on each request.
struct service_client {
  std::string ca_bundle;
  bool verify_ssl = true;
  signing::environment env;
  std::chrono::milliseconds timeout{30'000};
};

// service_host_header: the Host value `url` is sent (and must be signed) with; empty when the URL
// is neither http:// nor https://HOST[:PORT][/PATH].
std::string service_host_header(std::string_view url);

// service_request: `method` `url` (its path and query as the target) with `headers` (which must
// include Host when the request is signed) and `body`.
http_reply service_request(std::string_view method, std::string_view url, http_headers headers,
                           std::string body, const service_client& client);

}  // namespace onboard::detail
