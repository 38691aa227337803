// cmd_sign.cpp: `chime-onboard sign`, a debugging aid: signs a raw HTTP/1.1 request file with
// SigV4 and prints any stage, so a signature the service refuses can be compared stage by stage
// with botocore's debug log or the AWS test suite's golden files.
#include <onboard/cli/cli_args.hpp>
#include <onboard/cli/commands.hpp>
#include <onboard/cli/credential_chain.hpp>
#include <onboard/cli/exit_codes.hpp>
#include <onboard/signing/credentials.hpp>
#include <onboard/signing/raw_request.hpp>
#include <onboard/signing/sigv4.hpp>

#include <fstream>
#include <iostream>
#include <sstream>

namespace onboard {

int cmd_sign(const args_t& args) {
  namespace sg = signing;
  cli::parser p{"sign",
                "Sign a raw HTTP/1.1 request file (request line, headers, blank line, body) with "
                "AWS SigV4 and print one stage of the signature.",
                "chime-onboard sign --request request.txt --region us-east-1 --service chime "
                "--time 20150830T123600Z --print canonical-request"};
  auto& request = p.add_value("request", "FILE", "the raw request to sign (- for stdin)");
  auto& region = p.add_value("region", "R", "signing region, e.g. us-east-1");
  auto& service = p.add_value("service", "S", "signing service name", "chime");
  auto& when = p.add_value("time", "YYYYMMDDTHHMMSSZ", "signing time (UTC), e.g. 20150830T123600Z");
  auto& access_key = p.add_value("access-key", "K", "access key id (else the credential chain)");
  auto& secret_key = p.add_value("secret-key", "S", "secret access key (with --access-key)");
  auto& session_token = p.add_value("session-token", "T", "session token to add and sign");
  auto& unnormalized = p.add_flag("unnormalized-path",
                                  "do not remove dot segments or '//' "
                                  "(S3-style)");
  auto& sign_body = p.add_flag("sign-body", "add and sign x-amz-content-sha256");
  auto& profile = p.add_value("profile", "P", "AWS profile for the credential chain");
  auto& print = p.add_value("print", "WHAT",
                            "canonical-request | string-to-sign | signature | signed-request",
                            "signed-request");
  p.add_epilog(
      "Credentials: --access-key/--secret-key, else AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY,\n"
      "else the profile in ~/.aws/credentials or ~/.aws/config (as the AWS CLI).\n"
      "A session token is signed with but shown as <session token not shown>.\n\n");
  p.add_epilog(exit_codes_help);
  if (auto rc = p.parse(args)) return *rc;

  if (!request) return p.usage_error("--request FILE is required");
  if (!region) return p.usage_error("--region is required");
  if (!when) return p.usage_error("--time is required (e.g. 20150830T123600Z)");
  auto t = sg::parse_amz_date(when.value());
  if (!t) return p.usage_error("--time '" + when.value() + "' is not YYYYMMDDTHHMMSSZ");
  const std::string& what = print.value();
  if (what != "canonical-request" && what != "string-to-sign" && what != "signature" &&
      what != "signed-request")
    return p.usage_error("--print '" + what +
                         "' is not canonical-request, string-to-sign, signature or "
                         "signed-request");
  if (secret_key && !access_key) return p.usage_error("--secret-key needs --access-key");
  if (access_key && !secret_key) return p.usage_error("--access-key needs --secret-key");

  std::string text;
  const std::string& file = request.value();
  if (file == "-") {
    std::ostringstream ss;
    ss << std::cin.rdbuf();
    text = ss.str();
  } else {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      std::cerr << "chime-onboard sign: cannot read " << file << "\n";
      return exit_usage;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  auto parsed = sg::parse_raw_request(text);
  if (!parsed) {
    std::cerr << "chime-onboard sign: " << file << ": " << parsed.error << "\n";
    return exit_usage;
  }

  sg::resolve_options opts;
  opts.profile = profile.value();
  opts.access_key_id = access_key.value();
  opts.secret_access_key = secret_key.value();
  auto creds = resolve_run_credentials(opts, sg::process_environment());
  if (!creds) {
    std::cerr << "chime-onboard sign: " << creds.error << "\n";
    return exit_config;
  }
  sg::credentials c = *creds;
  if (session_token) c.session_token = sg::secret_string(session_token.value());

  sg::signing_params sp;
  sp.region = region.value();
  sp.service = service.value();
  sp.time = *t;
  sp.normalize_path = !unnormalized;
  sp.add_content_sha256 = static_cast<bool>(sign_body);
  auto views = parsed->header_views();
  auto a = sg::sign_request(parsed->view(views), c, sp);

  std::string out;
  if (what == "canonical-request")
    out = a.canonical_request + "\n";
  else if (what == "string-to-sign")
    out = a.string_to_sign + "\n";
  else if (what == "signature")
    out = a.signature + "\n";
  else
    out = sg::format_raw_request(*parsed, a.added_headers);
  // The session token is a secret like the key: signed with, never printed (a terminal's
  // scroll-back and a pasted bug report are where leaked tokens are found).
  // The search goes on after each mask, which may itself contain a short token.
  if (const std::string& token = c.session_token.reveal(); !token.empty()) {
    constexpr std::string_view mask = "<session token not shown>";
    for (auto at = out.find(token); at != std::string::npos; at = out.find(token, at + mask.size()))
      out.replace(at, token.size(), mask);
  }
  std::cout << out;
  return exit_ok;
}

}  // namespace onboard
