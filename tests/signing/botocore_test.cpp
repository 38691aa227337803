// botocore_test.cpp: our signer against botocore's SigV4Auth (Debian python3-botocore) on a few
// hundred generated requests, batched through one Python process (botocore_sign.py).
#include <onboard/signing/sigv4.hpp>
#include <onboard/testkit/testkit.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <sstream>

namespace {

namespace sg = onboard::signing;
namespace json = boost::json;

// generated: one request with everything needed to sign it on both sides.
struct generated {
  std::string method, host, target, body, region, service, access_key, secret, token;
  std::vector<sg::header> headers;
  sg::clock::time_point when;
};

class generator {
 public:
  explicit generator(unsigned seed) : rng_(seed) {}

  generated next() {
    generated g;
    g.method = pick({"GET", "POST", "PUT", "DELETE", "PATCH"});
    g.host = pick({"chime.us-east-1.amazonaws.com", "127.0.0.1:18443", "localhost"});
    g.target = path() + query();
    g.headers.push_back({pick({"Host", "host", "HOST"}), g.host});
    int extra = below(6);
    for (int i = 0; i < extra; ++i)
      g.headers.push_back({pick({"Content-Type", "X-Custom", "x-custom", "X-Amz-Meta-Foo", "Accept",
                                 "My-Header", "amz-sdk-request", "Content-Length"}),
                           header_value()});
    int body_kind = below(3);
    if (body_kind == 1) {
      int n = below(300);
      for (int i = 0; i < n; ++i) g.body.push_back(static_cast<char>(below(256)));
    } else if (body_kind == 2) {
      g.body = R"({"UserEmailList": ["user)" + std::to_string(below(1000)) +
               R"(@example.com"], "UserType": "PrivateUser"})";
    }
    g.region = pick({"us-east-1", "eu-west-2", "ap-southeast-1"});
    g.service = pick({"chime", "service", "execute-api"});
    g.access_key = "AKID" + std::to_string(below(100000));
    g.secret = "secret/" + std::to_string(below(1 << 30)) + "+KEY";
    if (below(4) == 0) g.token = "FwoGZXIvYXdzE" + std::to_string(below(1 << 30)) + "//+==";
    g.when = sg::clock::time_point{} + std::chrono::seconds(946684800LL + below(946684800));
    return g;
  }

 private:
  int below(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  template <std::size_t N>
  std::string pick(const char* const (&options)[N]) {
    return options[below(N)];
  }
  std::string atoms(int max, bool allow_dots) {
    static const char* const pool[] = {
        "a", "Z", "7", "-", "_", ".", "~", " ", "\xc3\xa9", "\xe1\x88\xb4",
        "!", "$", "'", "(", ")", "*", ",", ";", "=",        ":",
        "@", "+", "&", "%", "/", "?", "#", "\""};
    std::string s;
    int n = below(max + 1);
    for (int i = 0; i < n; ++i) {
      std::string a = pool[below(std::size(pool))];
      if (!allow_dots && a == "/") continue;
      s += a;
    }
    return s;
  }
  std::string path() {
    std::string p;
    int segments = 1 + below(4);
    for (int i = 0; i < segments; ++i) {
      int kind = below(8);
      std::string seg = kind == 0 ? "." : kind == 1 ? ".." : kind == 2 ? "" : atoms(6, false);
      p += "/" + sg::uri_encode(seg, false);
    }
    if (below(3) == 0) p += "/";
    return p;
  }
  std::string query() {
    int n = below(5);
    if (n == 0) return "";
    std::string q = "?";
    std::string last_key;
    for (int i = 0; i < n; ++i) {
      if (i) q += "&";
      std::string key = (i > 0 && below(4) == 0) ? last_key : atoms(5, true);
      if (key.empty()) key = "k";
      last_key = key;
      q += sg::uri_encode(key, false);
      if (below(5) == 0) continue;  // a parameter without '='
      q += "=" + sg::uri_encode(atoms(5, true), false);
    }
    return q;
  }
  std::string header_value() {
    std::string v;
    if (below(2)) v += std::string(below(3), ' ');
    int n = below(20);
    for (int i = 0; i < n; ++i) {
      int k = below(10);
      if (k == 0)
        v += std::string(1 + below(3), ' ');
      else if (k == 1)
        v += '\t';
      else
        v += static_cast<char>(0x21 + below(0x7e - 0x21 + 1));
    }
    if (below(2)) v += std::string(below(3), ' ');
    return v;
  }

  std::mt19937 rng_;
};

std::string hex(std::string_view bytes) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += d[c >> 4];
    out += d[c & 15];
  }
  return out;
}

TEST(botocore_cross_check, authorization_headers_match_botocore) {
  const std::string python = "/usr/bin/python3";
  const std::string script = ONBOARD_SOURCE_DIR "/tests/signing/botocore_sign.py";
  if (!std::filesystem::exists(python)) GTEST_SKIP() << python << " is not installed";

  constexpr int count = 250;
  generator gen(20240315);
  std::vector<generated> requests;
  std::ostringstream jobs;
  for (int i = 0; i < count; ++i) {
    generated g = gen.next();
    json::array hs;
    for (const auto& h : g.headers)
      hs.push_back(json::array{json::string(h.name), json::string(h.value)});
    json::object job{{"method", g.method},
                     {"url", "https://" + g.host + g.target},
                     {"headers", hs},
                     {"body_hex", hex(g.body)},
                     {"time", sg::amz_date(g.when)},
                     {"region", g.region},
                     {"service", g.service},
                     {"access_key", g.access_key},
                     {"secret_key", g.secret},
                     {"token", g.token}};
    jobs << json::serialize(job) << "\n";
    requests.push_back(std::move(g));
  }

  // Through a file, not stdin: both pipes would fill and deadlock with a batch this size.
  onboard::testkit::temp_dir dir;
  onboard::testkit::write_file(dir / "jobs.jsonl", jobs.str());
  auto res = onboard::testkit::run({python, script, (dir / "jobs.jsonl").string()}, {},
                                   std::chrono::seconds(120));
  if (res.status == 3) GTEST_SKIP() << "botocore is not importable: " << res.err;
  ASSERT_EQ(res.status, 0) << res.err;

  std::istringstream lines(res.out);
  std::string line;
  int compared = 0;
  for (auto& g : requests) {
    ASSERT_TRUE(std::getline(lines, line)) << "botocore answered only " << compared << " requests";
    auto answer = json::parse(line).as_object();
    sg::credentials creds;
    creds.access_key_id = g.access_key;
    creds.secret_access_key = sg::secret_string(g.secret);
    creds.session_token = sg::secret_string(g.token);
    std::vector<sg::header_view> views;
    for (const auto& h : g.headers) views.push_back({h.name, h.value});
    sg::request_view req{g.method, g.target, views, g.body};

    sg::signer s{creds, g.region, g.service};
    auto added = s.sign(req, g.when);
    std::string ours = added.back().value;
    if (ours != std::string_view(answer.at("authorization").as_string())) {
      sg::signing_params p;
      p.region = g.region;
      p.service = g.service;
      p.time = g.when;
      ADD_FAILURE() << "request " << compared << " " << g.method << " " << g.target
                    << "\nours:     " << ours
                    << "\nbotocore: " << answer.at("authorization").as_string()
                    << "\nour canonical:\n"
                    << sg::sign_request(req, creds, p).canonical_request
                    << "\nbotocore canonical:\n"
                    << answer.at("canonical").as_string();
    }
    ++compared;
  }
  EXPECT_EQ(compared, count);
}

}  // namespace
