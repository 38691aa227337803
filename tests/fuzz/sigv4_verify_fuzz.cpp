// fuzz_sigv4_verify: the SigV4 verifier. The input is a raw HTTP/1.1 request (the suite's
// request.txt layout, parsed with signing::parse_raw_request); its Authorization header, or failing
// that its first line, also goes to parse_authorization. verify() runs at a fixed time against
// fixed credentials, first on the request as given, then (first byte odd) on the request after
// signing it properly, which must verify. Messages must never contain the secret.
#include "fuzz_common.hpp"

#include <onboard/signing/raw_request.hpp>
#include <onboard/signing/sigv4.hpp>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

namespace sg = onboard::signing;

namespace {
void check(bool ok) {
  if (!ok) std::abort();
}

constexpr std::string_view kSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
constexpr std::string_view kToken = "FUZZSESSIONTOKEN0123456789";

sg::credentials creds(bool with_token) {
  sg::credentials c;
  c.access_key_id = "AKIDEXAMPLE";
  c.secret_access_key = sg::secret_string(std::string(kSecret));
  if (with_token) c.session_token = sg::secret_string(std::string(kToken));
  return c;
}

const sg::verifier& the_verifier(bool with_token) {
  static const sg::verifier plain({creds(false)}, "us-east-1", "chime");
  static const sg::verifier token({creds(true)}, "us-east-1", "chime");
  return with_token ? token : plain;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t ctl = data[0];
  auto text = onboard::fuzz::as_view(data + 1, size - 1);
  const bool with_token = ctl & 0x02;
  // 2015-08-30T12:36:00Z, the AWS suite's date.
  const auto now = sg::clock::time_point(std::chrono::seconds(1440938160));

  {
    auto rest = text;
    auto first = onboard::fuzz::take_line(rest);
    std::string why;
    auto p = sg::parse_authorization(first, &why);
    check(p.has_value() || !why.empty());
  }

  auto parsed = sg::parse_raw_request(text);
  if (!parsed) return 0;
  sg::raw_request req = *parsed;
  for (const auto& h : req.headers) {
    if (iequals(h.name, "authorization")) {
      std::string why;
      (void)sg::parse_authorization(h.value, &why);
    }
  }
  {
    auto views = req.header_views();
    auto r = the_verifier(with_token).verify(req.view(views), now);
    // (The message may quote what the request itself carries; it must not add the stored secrets.)
    check(text.find(kSecret) != std::string_view::npos ||
          r.message.find(kSecret) == std::string::npos);
    check(text.find(kToken) != std::string_view::npos ||
          r.message.find(kToken) == std::string::npos);
  }

  if (!(ctl & 0x01)) return 0;
  // Sign it properly: drop what the signer adds, require a Host header, then it must verify.
  std::erase_if(req.headers, [](const sg::header& h) {
    return iequals(h.name, "authorization") || iequals(h.name, "x-amz-date") ||
           iequals(h.name, "x-amz-security-token") || iequals(h.name, "date") ||
           iequals(h.name, "x-amz-content-sha256");
  });
  bool has_host = false;
  for (const auto& h : req.headers) has_host = has_host || iequals(h.name, "host");
  if (!has_host) req.headers.push_back({"Host", "example.amazonaws.com"});
  sg::signing_params p{.region = "us-east-1", .service = "chime", .time = now};
  auto views = req.header_views();
  auto a = sg::sign_request(req.view(views), creds(with_token), p);
  for (auto& h : a.added_headers) req.headers.push_back(h);
  auto views2 = req.header_views();
  auto r = the_verifier(with_token).verify(req.view(views2), now);
  if (!r) {
    std::fprintf(stderr, "properly signed request refused: %s (%s)\n",
                 std::string(sg::verify_error_name(r.error)).c_str(), r.message.c_str());
    std::abort();
  }
  return 0;
}
