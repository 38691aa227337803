// chime_invites.cpp: decode_invites, the one decoder on the engine's hot path (one call per
// InviteUsers response, ~6 KB for 50 invites). It runs Boost.JSON's SAX parser with a handler
// that keeps only the four members the engine reads, instead of building a document and copying
// out of it: building the document was a third of the engine's CPU per request.
//
// It accepts and refuses exactly what the document-based decoders beside it would: not JSON, not
// an object, no `Invites` array (the last `Invites` member counts, as in a parsed object), an
// element that is not an object. A member that is not a string reads as empty.
//
// Decoding into a caller's vector reuses its invites' strings: a sender decodes response after
// response into the same vector, so after the first one no invite allocates.
#include <onboard/chime/chime_api.hpp>

#include <boost/json/basic_parser_impl.hpp>

namespace onboard::chime {

namespace {

namespace json = boost::json;
using boost::system::error_code;

class invites_handler {
 public:
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);

  explicit invites_handler(std::vector<invite>& out) : invites_(out) {}

  // error: why the body is not an InviteUsers response; empty when it is one (then the invites
  // are the vector's first count() elements).
  std::string_view error() const {
    if (!top_is_object_) return "response is not a JSON object";
    if (!invites_is_array_) return "response has no Invites array";
    if (element_not_object_) return "an element of Invites is not an object";
    return {};
  }
  std::size_t count() const { return used_; }

  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }

  bool on_object_begin(error_code&) {
    if (depth_ == 0) top_is_object_ = true;
    const bool opens_invite = in_invites() && depth_ == invites_depth;
    value_target();
    if (opens_invite) next_invite();
    ++depth_;
    return true;
  }
  bool on_object_end(std::size_t, error_code&) {
    --depth_;
    return true;
  }
  bool on_array_begin(error_code&) {
    const bool opens_invites = depth_ == 1 && invites_key_;
    if (in_invites() && depth_ == invites_depth) element_not_object_ = true;
    value_target();
    if (opens_invites) {
      invites_is_array_ = true;
      invites_open_ = true;
    }
    ++depth_;
    return true;
  }
  bool on_array_end(std::size_t, error_code&) {
    --depth_;
    if (depth_ == 1) invites_open_ = false;
    return true;
  }

  bool on_key_part(json::string_view s, std::size_t, error_code&) {
    part_.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t, error_code&) {
    std::string_view key = whole(s);
    if (depth_ == 1) {
      invites_key_ = key == "Invites";
    } else if (in_invites() && depth_ == invites_depth + 1) {
      field_ = key == "InviteId"       ? &invite::invite_id
               : key == "Status"       ? &invite::status
               : key == "EmailAddress" ? &invite::email_address
               : key == "EmailStatus"  ? &invite::email_status
                                       : nullptr;
    }
    part_.clear();
    return true;
  }

  bool on_string_part(json::string_view s, std::size_t, error_code&) {
    part_.append(s.data(), s.size());
    return true;
  }
  bool on_string(json::string_view s, std::size_t, error_code&) {
    if (in_invites() && depth_ == invites_depth) element_not_object_ = true;
    if (std::string* target = value_target()) target->assign(whole(s));
    part_.clear();
    return true;
  }

  bool on_number_part(json::string_view, error_code&) { return true; }
  bool on_int64(std::int64_t, json::string_view, error_code&) { return scalar(); }
  bool on_uint64(std::uint64_t, json::string_view, error_code&) { return scalar(); }
  bool on_double(double, json::string_view, error_code&) { return scalar(); }
  bool on_bool(bool, error_code&) { return scalar(); }
  bool on_null(error_code&) { return scalar(); }
  bool on_comment_part(json::string_view, error_code&) { return true; }
  bool on_comment(json::string_view, error_code&) { return true; }

 private:
  static constexpr int invites_depth = 2;  // top object = 1, Invites array = 2

  bool in_invites() const { return invites_open_; }

  // whole: the complete key or string, joining the parts the parser delivered before it.
  std::string_view whole(json::string_view last) {
    if (part_.empty()) return {last.data(), last.size()};
    part_.append(last.data(), last.size());
    return part_;
  }

  // value_target: bookkeeping for a value about to be read (before its depth is entered). A new
  // `Invites` member replaces an earlier one, as it would in a parsed object. Returns the invite
  // member this value belongs to, cleared (it stays empty unless the value is a string).
  std::string* value_target() {
    if (depth_ == 1 && invites_key_) {
      invites_key_ = false;
      invites_is_array_ = false;
      element_not_object_ = false;
      used_ = 0;
    }
    if (!in_invites() || depth_ != invites_depth + 1 || !field_) return nullptr;
    std::string* target = &(invites_[used_ - 1].*field_);
    target->clear();
    field_ = nullptr;
    return target;
  }

  // next_invite: the next element, reused (members cleared, capacity kept) when the vector has it.
  void next_invite() {
    if (used_ == invites_.size()) {
      invites_.emplace_back();
    } else {
      invite& i = invites_[used_];
      i.invite_id.clear();
      i.status.clear();
      i.email_address.clear();
      i.email_status.clear();
    }
    ++used_;
  }

  bool scalar() {
    if (in_invites() && depth_ == invites_depth) element_not_object_ = true;
    value_target();
    return true;
  }

  int depth_ = 0;
  bool top_is_object_ = false;
  bool invites_key_ = false;       // the last key at depth 1 was "Invites"
  bool invites_is_array_ = false;  // the (last) Invites member is an array
  bool invites_open_ = false;      // inside that array
  bool element_not_object_ = false;
  std::string invite::*field_ = nullptr;  // member the next string at invite depth fills
  std::string part_;
  std::vector<invite>& invites_;
  std::size_t used_ = 0;
};

}  // namespace

bool decode_invites(std::string_view body, std::vector<invite>& out, std::string& error) {
  json::basic_parser<invites_handler> parser{json::parse_options{}, out};
  error_code ec;
  std::size_t used = parser.write_some(false, body.data(), body.size(), ec);
  if (!ec && used < body.size()) ec = json::error::extra_data;
  if (ec) {
    error = "response is not JSON: " + ec.message();
    out.clear();
    return false;
  }
  if (std::string_view why = parser.handler().error(); !why.empty()) {
    error.assign(why);
    out.clear();
    return false;
  }
  out.resize(parser.handler().count());
  return true;
}

decoded<std::vector<invite>> decode_invites(std::string_view body) {
  decoded<std::vector<invite>> r;
  std::vector<invite> v;
  if (decode_invites(body, v, r.error)) r.value = std::move(v);
  return r;
}

}  // namespace onboard::chime
