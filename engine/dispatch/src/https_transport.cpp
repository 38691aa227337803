#include <onboard/dispatch/https_transport.hpp>

namespace onboard {

https_transport::https_transport(io::https_connection::executor_type ex, const io::endpoint& ep,
                                 io::ssl::context& ctx, io::connection_options opts)
    : conn_(std::move(ex), ep, ctx, opts) {}

boost::asio::awaitable<exchange_result> https_transport::async_exchange(outgoing_request req) {
  io::http_request r;
  r.method = req.method == "GET" ? io::http::verb::get : io::http::verb::post;
  r.target = std::move(req.target);
  r.headers = std::move(req.headers);
  r.body = std::move(req.body);
  auto res = co_await conn_.async_request(std::move(r));
  exchange_result out;
  if (res.ok()) {
    auto& resp = res.response();
    out.response.status = resp.status;
    out.response.headers = std::move(resp.headers);
    out.response.body = std::move(resp.body);
  } else {
    out.failure = res.error();
  }
  co_return out;
}

}  // namespace onboard
