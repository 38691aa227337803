// tls.hpp: the emulator's certificate: loaded from PEM files or generated at start.
//
//   auto id = load_or_generate_identity(opts.cert_file, opts.key_file);
//   ctx.use_certificate_chain(net::buffer(id.cert_pem)); ctx.use_private_key(...);
#pragma once

#include <string>

namespace onboard::emulator::detail {

// tls_identity: certificate chain and private key in PEM.
struct tls_identity {
  std::string cert_pem;
  std::string key_pem;
};

// generate_self_signed: an EC P-256 key and a self-signed certificate for 127.0.0.1/localhost
// that is also a CA (basicConstraints CA:TRUE, keyCertSign), so clients can use it directly as
// their CA bundle. Valid from one hour ago for 30 days. Throws std::runtime_error.
tls_identity generate_self_signed();

// load_or_generate_identity: both files read, or neither given and one generated.
tls_identity load_or_generate_identity(const std::string& cert_file, const std::string& key_file);

}  // namespace onboard::emulator::detail
