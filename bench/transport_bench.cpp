// transport_bench.cpp: the floor of the engine's own HTTPS stack. Replays pre-signed requests
// (the file bench/emulator_wrk.sh writes for wrk) through io::https_connection — Asio coroutines,
// Asio's OpenSSL stream, Beast's serializer and parser, one persistent connection per coroutine —
// and nothing else: no ingest, signing, journal, decoding or reports. Run next to wrk against the
// same emulator, it says how much of the gap between the engine and wrk is the stack itself.
//
//   bench_transport --url https://127.0.0.1:PORT --ca-bundle ca.pem --requests FILE
//                   [--connections 32] [--threads 1] [--seconds 5]
//
// FILE: requests separated by lines holding only "%%"; a request is "METHOD TARGET", "Name: value"
// header lines, an empty line, then the body. Requests are sent in turn (request i by the i-th
// send), so with enough of them every one carries new addresses, as the engine's do. Prints
// requests/s and this process's CPU per request; exits 1 if any response is not a 201.
#include <onboard/io/endpoint.hpp>
#include <onboard/io/https_connection.hpp>
#include <onboard/io/tls_context.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/http/verb.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <sys/resource.h>
#include <thread>
#include <vector>

namespace {

namespace net = boost::asio;
namespace http = boost::beast::http;
using namespace onboard;

[[noreturn]] void usage(const std::string& why) {
  std::cerr << "bench_transport: " << why
            << "\nusage: bench_transport --url URL --ca-bundle PEM --requests FILE "
               "[--connections N] [--threads N] [--seconds S]\n";
  std::exit(2);
}

// parse_request: one request of the file (see the header comment).
io::http_request parse_request(std::string_view text, std::size_t index) {
  auto fail = [&](const std::string& why) {
    usage("request " + std::to_string(index + 1) + " of the file: " + why);
  };
  std::size_t blank = text.find("\n\n");
  if (blank == std::string_view::npos) fail("no empty line between the headers and the body");
  std::istringstream head{std::string(text.substr(0, blank))};
  std::string line;
  std::getline(head, line);
  std::size_t sp = line.find(' ');
  if (sp == std::string::npos) fail("first line is not \"METHOD TARGET\"");
  io::http_request r;
  r.method = http::string_to_verb(line.substr(0, sp));
  if (r.method == http::verb::unknown) fail("unknown method in \"" + line + "\"");
  r.target = line.substr(sp + 1);
  while (std::getline(head, line)) {
    std::size_t colon = line.find(": ");
    if (colon == std::string::npos) fail("header line without \": \": " + line);
    r.headers.emplace_back(line.substr(0, colon), line.substr(colon + 2));
  }
  r.body = std::string(text.substr(blank + 2));
  return r;
}

std::vector<io::http_request> read_requests(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) usage("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  std::vector<io::http_request> out;
  constexpr std::string_view sep = "\n%%\n";
  for (std::size_t at = 0;;) {
    std::size_t next = text.find(sep, at);
    out.push_back(parse_request(std::string_view(text).substr(at, next - at), out.size()));
    if (next == std::string::npos) break;
    at = next + sep.size();
  }
  return out;
}

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  std::string url, ca, file;
  int connections = 32, threads = 1;
  double seconds = 5;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    if (a == "--url")
      url = value();
    else if (a == "--ca-bundle")
      ca = value();
    else if (a == "--requests")
      file = value();
    else if (a == "--connections")
      connections = std::atoi(value().c_str());
    else if (a == "--threads")
      threads = std::atoi(value().c_str());
    else if (a == "--seconds")
      seconds = std::atof(value().c_str());
    else
      usage("unknown argument " + a);
  }
  if (url.empty() || ca.empty() || file.empty())
    usage("--url, --ca-bundle and --requests are required");
  if (connections < 1 || threads < 1 || seconds <= 0)
    usage("bad --connections, --threads or --seconds");

  auto ep = io::try_parse_endpoint(url);
  if (!ep) usage("--url: " + ep.error);
  const std::vector<io::http_request> requests = read_requests(file);
  net::ssl::context tls = io::make_client_tls_context({.ca_bundle = ca});

  net::io_context ioc;
  std::vector<std::unique_ptr<io::https_connection>> conns;
  std::atomic<std::uint64_t> next{0}, done{0}, not_201{0}, failed{0};
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::duration<double>(seconds);
  const double cpu0 = cpu_seconds();
  for (int c = 0; c < connections; ++c) {
    // The executor the engine gives each connection (run.cpp).
    conns.push_back(std::make_unique<io::https_connection>(io::connection_executor(ioc, threads),
                                                           *ep.value, tls));
    io::https_connection& conn = *conns.back();
    net::co_spawn(
        conn.get_executor(),
        [&]() -> net::awaitable<void> {
          while (std::chrono::steady_clock::now() < deadline) {
            // A copy, as the engine builds each request anew; async_request consumes it.
            io::http_request req = requests[next.fetch_add(1) % requests.size()];
            auto r = co_await conn.async_request(std::move(req));
            if (!r.ok()) {
              if (failed.fetch_add(1) == 0)
                std::cerr << "bench_transport: " << r.error().message << "\n";
              continue;
            }
            if (r.response().status != 201 && not_201.fetch_add(1) == 0)
              std::cerr << "bench_transport: HTTP " << r.response().status << ": "
                        << r.response().body << "\n";
            done.fetch_add(1);
          }
          co_await conn.async_shutdown();
        },
        net::detached);
  }
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back([&] { ioc.run(); });
  ioc.run();
  for (auto& t : pool) t.join();
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double cpu = cpu_seconds() - cpu0;
  const auto n = done.load();
  std::printf(
      "bench_transport: %llu requests in %.2f s over %d connections, %d thread(s): %.0f req/s; "
      "client CPU %.3f ms/request (%llu distinct requests, %llu not 201, %llu failed)\n",
      static_cast<unsigned long long>(n), wall, connections, threads, n / wall,
      n ? 1000 * cpu / static_cast<double>(n) : 0.0,
      static_cast<unsigned long long>(requests.size()),
      static_cast<unsigned long long>(not_201.load()),
      static_cast<unsigned long long>(failed.load()));
  return not_201.load() || failed.load() || n == 0 ? 1 : 0;
}
