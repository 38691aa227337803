#include <onboard/core/log.hpp>

#include <atomic>
#include <cstdint>
#include <cstdio>

namespace onboard {

namespace {
std::atomic<bool> redact_emails{false};
}

void set_log_redaction(bool on) { redact_emails.store(on); }

std::string log_email(std::string_view email) {
  if (!redact_emails.load()) return std::string(email);
  // FNV-1a: not a secret, just a stable short tag for correlating log lines.
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : email) h = (h ^ c) * 1099511628211ull;
  char buf[24];
  std::snprintf(buf, sizeof buf, "email#%08x", static_cast<unsigned>(h >> 32));
  return buf;
}

}  // namespace onboard
