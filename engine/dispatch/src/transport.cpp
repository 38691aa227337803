#include <onboard/dispatch/transport.hpp>

#include <onboard/core/text.hpp>
#include <onboard/core/version.hpp>
#include <onboard/signing/sigv4.hpp>

namespace onboard {

std::string_view incoming_response::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return {};
}

outgoing_request signed_request(const transport& t, const signing::signer& signer,
                                std::string_view method, std::string_view path, std::string body,
                                signing::credentials_ptr* used) {
  outgoing_request req;
  req.method = std::string(method);
  req.target = t.target(path);
  req.body = std::move(body);
  req.headers.emplace_back("Host", t.host_header());
  if (method == "POST") req.headers.emplace_back("Content-Type", "application/json");
  std::vector<signing::header_view> views;
  for (const auto& [k, v] : req.headers) views.push_back({k, v});
  auto added = signer.sign({req.method, req.target, views, req.body}, signing::clock::now(), used);
  for (auto& h : added) req.headers.emplace_back(std::move(h.name), std::move(h.value));
  req.headers.emplace_back("User-Agent", std::string(user_agent));
  return req;
}

}  // namespace onboard
