// fuzz_emulator_service: the emulator's request handling without sockets. The input holds up to
// three HTTP/1.1 requests as on the wire; each is parsed with Beast's request_parser under the
// server's default header/body limits (as server.cpp does), optionally signed with the accepted
// credentials (so the fuzzer gets past SigV4 into routing, accounts, throttling, validation and the
// user store), and handed to service::prepare/execute at a fixed time with a seeded RNG. One fresh
// service per input, so a crash reproduces from its input alone. Replies must be well-formed.
#include "fuzz_common.hpp"

#include "service.hpp"

#include <onboard/signing/sigv4.hpp>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/parse.hpp>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

namespace http = boost::beast::http;
namespace sg = onboard::signing;
namespace emu = onboard::emulator;
namespace det = onboard::emulator::detail;

namespace {
bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

void check_reply(const det::reply& r) {
  if (r.drop) return;
  bool ok = r.status >= 200 && r.status < 600;
  if (r.status >= 400) ok = ok && !r.error_type.empty();
  if (!r.body.empty()) {
    boost::system::error_code ec;
    (void)boost::json::parse(r.body, ec);
    ok = ok && !ec;  // every answer is JSON
  }
  if (!ok) {
    std::fprintf(stderr, "bad reply: status %u, error_type '%.*s', body: %s\n", r.status,
                 static_cast<int>(r.error_type.size()), r.error_type.data(), r.body.c_str());
    std::abort();
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::uint8_t ctl = data[0];
  auto wire = onboard::fuzz::as_view(data + 1, size - 1);

  emu::server_options o;
  o.seed = 7;
  if (ctl & 0x02) o.accounts = {"acct-1", "acct 2/%"};
  if (ctl & 0x04) {
    o.rate = 1;
    o.burst = 2;
    o.retry_after_seconds = 1;
  }
  if (ctl & 0x08) o.p_failed_invite = 0.5;
  if (ctl & 0x10) o.refuse_domains = {"refused.example"};
  if (ctl & 0x20) o.session_token = "FUZZSESSIONTOKEN";
  const bool sign = ctl & 0x01;

  det::service svc(o);
  det::rng_t rng(ctl);
  const auto now = sg::clock::time_point(std::chrono::seconds(1700000000));
  sg::credentials creds;
  creds.access_key_id = o.access_key;
  creds.secret_access_key = sg::secret_string(o.secret_key);
  if (!o.session_token.empty()) creds.session_token = sg::secret_string(o.session_token);

  boost::beast::flat_buffer buffer;
  {
    auto mb = buffer.prepare(wire.size());
    std::copy_n(wire.data(), wire.size(), static_cast<char*>(mb.data()));
    buffer.commit(wire.size());
  }
  for (int i = 0; i < 3 && buffer.size() > 0; ++i) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(o.max_header_bytes));
    parser.body_limit(o.max_body_bytes);
    parser.eager(true);
    boost::beast::error_code ec;
    auto used = parser.put(buffer.data(), ec);
    buffer.consume(used);
    if (!ec && !parser.is_done()) parser.put_eof(ec);
    if (ec || !parser.is_done()) break;

    auto& req = parser.get();
    std::vector<sg::header> owned;
    for (const auto& f : req)
      owned.push_back({std::string(f.name_string()), std::string(f.value())});
    if (sign) {
      std::erase_if(owned, [](const sg::header& h) {
        return iequals(h.name, "authorization") || iequals(h.name, "x-amz-date") ||
               iequals(h.name, "x-amz-security-token");
      });
      if (std::none_of(owned.begin(), owned.end(), [](auto& h) { return iequals(h.name, "host"); }))
        owned.push_back({"Host", "127.0.0.1"});
      std::vector<sg::header_view> v;
      for (auto& h : owned) v.push_back({h.name, h.value});
      sg::signing_params p{.region = "us-east-1", .service = "chime", .time = now};
      auto a = sg::sign_request({req.method_string(), req.target(), v, req.body()}, creds, p);
      for (auto& h : a.added_headers) owned.push_back(h);
    }
    std::vector<sg::header_view> headers;
    for (auto& h : owned) headers.push_back({h.name, h.value});
    det::request view{req.method_string(), req.target(), headers, req.body()};

    det::call c = svc.prepare(view, now);
    det::reply r;
    if (c.done) {
      r = std::move(c.result);
    } else {
      (void)svc.draw_latency(rng);
      r = svc.execute(c, view, rng);
    }
    check_reply(r);
  }
  (void)svc.stats().snapshot();
  return 0;
}
