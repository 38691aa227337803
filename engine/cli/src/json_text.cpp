// json_text.cpp: compact JSON text with doubles written by std::to_chars (shortest round trip).
#include <onboard/cli/json_text.hpp>

#include <boost/json/serialize.hpp>

#include <charconv>
#include <cmath>

namespace onboard {

namespace {

void append_double(std::string& out, double d) {
  if (!std::isfinite(d)) {
    out += "null";
    return;
  }
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, d);
  const std::string_view text(buf, static_cast<std::size_t>(r.ptr - buf));
  out += text;
  // Whole numbers: keep them floating point for whoever parses the output.
  if (text.find_first_of(".eE") == std::string_view::npos) out += ".0";
}

// append_joined: `open`, each element of `r` written by `write`, commas between, `close`.
template <class Range, class Write>
void append_joined(std::string& out, char open, char close, const Range& r, Write write) {
  out += open;
  bool first = true;
  for (const auto& e : r) {
    if (!first) out += ',';
    first = false;
    write(e);
  }
  out += close;
}

void append(std::string& out, const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::double_: return append_double(out, v.get_double());
    case boost::json::kind::object:
      return append_joined(out, '{', '}', v.get_object(), [&](const auto& kv) {
        out += boost::json::serialize(boost::json::string_view(kv.key()));
        out += ':';
        append(out, kv.value());
      });
    case boost::json::kind::array:
      return append_joined(out, '[', ']', v.get_array(), [&](const auto& e) { append(out, e); });
    default: out += boost::json::serialize(v);  // strings (escaped), integers, bools, null
  }
}

}  // namespace

std::string json_text(const boost::json::value& v) {
  std::string out;
  append(out, v);
  return out;
}

}  // namespace onboard
