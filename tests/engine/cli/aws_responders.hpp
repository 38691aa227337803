// aws_responders.hpp: the credential services on a credential_responder, each following its
// documented wire format, so that chime-onboard and Debian's boto3 can both be pointed at them:
//   sts_service: STS's Query API (POST form Action=AssumeRole | AssumeRoleWithWebIdentity,
//     Version=2011-06-15; XML answers). AssumeRole must be signed (SigV4, service sts,
//     us-east-1) by the caller's keys or by keys this service issued (a role of a role): the
//     project's own verifier checks it, as STS would. AssumeRoleWithWebIdentity must carry the
//     token the test expects now.
//   sso_portal: GetRoleCredentials (GET /federation/credentials?account_id=&role_name= with
//     x-amz-sso_bearer_token; JSON roleCredentials, expiration in epoch milliseconds).
// Issued key ids are ASIA<PREFIX><N>, N counting from 1, so a test sees each refresh.
#pragma once

#include "credential_responder.hpp"

#include <onboard/signing/sigv4.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace onboard::testkit {

// url_decode: application/x-www-form-urlencoded ('+' is a space).
inline std::string url_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size()) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// form_fields: `a=1&b=2` (a body or a query) as a map.
inline std::map<std::string, std::string> form_fields(std::string_view s) {
  std::map<std::string, std::string> out;
  while (!s.empty()) {
    auto amp = s.find('&');
    auto pair = s.substr(0, amp);
    auto eq = pair.find('=');
    out[url_decode(pair.substr(0, eq))] =
        eq == std::string_view::npos ? "" : url_decode(pair.substr(eq + 1));
    s = amp == std::string_view::npos ? std::string_view{} : s.substr(amp + 1);
  }
  return out;
}

class sts_service {
 public:
  // sts_service: AssumeRole is accepted when signed by `caller` (or by keys issued here);
  // AssumeRoleWithWebIdentity when its token is web_token(). Credentials live `lifetime`.
  // With `numbered` false every call for a role gets the same key id (ASIA<PREFIX>X), so that two
  // clients asking in turn can be compared.
  explicit sts_service(signing::credentials caller,
                       std::chrono::seconds lifetime = std::chrono::hours(1), bool numbered = true)
      : lifetime_(lifetime), numbered_(numbered) {
    accepted_.push_back(std::move(caller));
  }

  // set_expiry: the n-th set issued for a role (n from 1) expires at expiry(n) instead of
  // `lifetime` after it is issued, so that a test can tell another service (the emulator) the
  // same sets in advance.
  void set_expiry(std::function<signing::clock::time_point(int n)> expiry) {
    std::lock_guard lk(mu_);
    expiry_ = std::move(expiry);
  }

  void set_web_token(std::string t) {
    std::lock_guard lk(mu_);
    web_token_ = std::move(t);
  }
  // calls: the forms received, in order, with "_verdict" = the signature check's result name
  // ("ok", "signature_mismatch", ...; "unsigned" for web identity).
  std::vector<std::map<std::string, std::string>> calls() const {
    std::lock_guard lk(mu_);
    return calls_;
  }

  credential_responder::handler handler() {
    return [this](const credential_responder::request& r) { return answer(r); };
  }

 private:
  credential_responder::answer error(unsigned status, const std::string& code,
                                     const std::string& message) {
    return {status,
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error>"
            "<Type>Sender</Type><Code>" +
                code + "</Code><Message>" + message +
                "</Message></Error><RequestId>r-1</RequestId></ErrorResponse>",
            {{"Content-Type", "text/xml"}}};
  }

  credential_responder::answer answer(const credential_responder::request& r) {
    std::lock_guard lk(mu_);
    auto form = form_fields(r.body);
    const std::string action = form["Action"];
    if (r.method != "POST" || form["Version"] != "2011-06-15")
      return error(400, "InvalidAction", "not an STS Query API call");
    if (action == "AssumeRole") {
      std::vector<signing::header_view> views;
      for (const auto& [k, v] : r.headers) views.push_back({k, v});
      signing::verifier v(accepted_, "us-east-1", "sts");
      auto verdict = v.verify({r.method, r.target, views, r.body}, signing::clock::now());
      form["_verdict"] = std::string(signing::verify_error_name(verdict.error));
      form["_signed_by"] = verdict.access_key_id;
      calls_.push_back(form);
      if (!verdict) return error(403, "SignatureDoesNotMatch", verdict.message);
    } else if (action == "AssumeRoleWithWebIdentity") {
      form["_verdict"] = "unsigned";
      calls_.push_back(form);
      if (form["WebIdentityToken"] != web_token_)
        return error(400, "InvalidIdentityToken", "the token is not the expected one");
    } else {
      return error(400, "InvalidAction", "unknown action " + action);
    }
    const std::string role = form["RoleArn"].substr(form["RoleArn"].rfind('/') + 1);
    std::string prefix;
    for (char c : role)
      if (std::isalnum(static_cast<unsigned char>(c)))
        prefix.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    signing::credentials issued;
    const int n = ++issued_[prefix];
    issued.access_key_id = "ASIA" + prefix + (numbered_ ? std::to_string(n) : std::string("X"));
    issued.secret_access_key = signing::secret_string("secret/" + issued.access_key_id);
    issued.session_token = signing::secret_string("token-" + issued.access_key_id);
    accepted_.push_back(issued);
    const std::string creds =
        "<Credentials><AccessKeyId>" + issued.access_key_id + "</AccessKeyId><SecretAccessKey>" +
        issued.secret_access_key.reveal() + "</SecretAccessKey><SessionToken>" +
        issued.session_token.reveal() + "</SessionToken><Expiration>" +
        signing::format_iso8601(expiry_ ? expiry_(n) : signing::clock::now() + lifetime_) +
        "</Expiration></Credentials>";
    const std::string user = "<AssumedRoleUser><AssumedRoleId>AROA" + prefix + ":" +
                             form["RoleSessionName"] + "</AssumedRoleId><Arn>" + form["RoleArn"] +
                             "</Arn></AssumedRoleUser>";
    const std::string extra =
        action == "AssumeRole"
            ? ""
            : "<SubjectFromWebIdentityToken>subject</SubjectFromWebIdentityToken>"
              "<Audience>sts.amazonaws.com</Audience><Provider>oidc.example.com</Provider>";
    return {200,
            "<" + action + "Response xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><" +
                action + "Result>" + creds + user + extra + "</" + action +
                "Result><ResponseMetadata><RequestId>r-2</RequestId></ResponseMetadata></" +
                action + "Response>",
            {{"Content-Type", "text/xml"}}};
  }

  std::chrono::seconds lifetime_;
  bool numbered_;
  std::function<signing::clock::time_point(int n)> expiry_;
  mutable std::mutex mu_;
  std::vector<signing::credentials> accepted_;
  std::map<std::string, int> issued_;
  std::string web_token_;
  std::vector<std::map<std::string, std::string>> calls_;
};

// sso_portal: answers GetRoleCredentials for `token` with ASIASSO1, 2, ... (`fixed_key`, when
// given, every time).
inline credential_responder::handler sso_portal(
    std::string token, std::atomic<int>& served,
    std::chrono::seconds lifetime = std::chrono::hours(1), std::string fixed_key = "") {
  return [token, &served, lifetime, fixed_key](const credential_responder::request& r) {
    credential_responder::answer a;
    const auto q = r.target.find('?');
    if (r.method != "GET" || r.target.substr(0, q) != "/federation/credentials") {
      a.status = 404;
      return a;
    }
    auto t = r.headers.find("x-amz-sso_bearer_token");
    if (t == r.headers.end() || t->second != token) {
      a.status = 401;
      a.headers["x-amzn-ErrorType"] = "UnauthorizedException";
      a.body = R"({"message":"Session token not found or invalid"})";
      return a;
    }
    auto query = form_fields(q == std::string::npos ? "" : r.target.substr(q + 1));
    if (query["account_id"].empty() || query["role_name"].empty()) {
      a.status = 400;
      return a;
    }
    const auto expires = std::chrono::duration_cast<std::chrono::milliseconds>(
        (signing::clock::now() + lifetime).time_since_epoch());
    const std::string key = "ASIASSO" + std::to_string(++served);
    a.body = R"({"roleCredentials": {"accessKeyId": ")" + (fixed_key.empty() ? key : fixed_key) +
             R"(", "secretAccessKey": "ssoSecret/)" + query["role_name"] +
             R"(", "sessionToken": "ssoToken", "expiration": )" + std::to_string(expires.count()) +
             "}}";
    return a;
  };
}

}  // namespace onboard::testkit
