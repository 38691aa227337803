// onboard/core/log.hpp: how an address appears in a log line. Addresses are PII: with redaction
// on (`--redact`), every stage logs a short stable hash instead, so a support ticket can still
// correlate lines. Stages log through spdlog; only this switch is shared.
#pragma once

#include <string>
#include <string_view>

namespace onboard {

// set_log_redaction: turns redaction on or off for the whole process (any thread).
void set_log_redaction(bool on);

// log_email: the address itself, or "email#<8 hex>" when redaction is on.
std::string log_email(std::string_view email);

}  // namespace onboard
