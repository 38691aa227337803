// user_store.cpp: see user_store.hpp.
#include "user_store.hpp"

#include "swar.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <random>
#include <stdexcept>

namespace onboard::emulator::detail {

// ---------------------------------------------------------------------------------------------
// ids

namespace {

std::uint64_t splitmix(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

thread_local std::uint64_t id_state = [] {
  std::random_device rd;
  return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
}();

// hex_pairs: the two lower-case hex digits of every byte, so formatting goes a byte at a time.
constexpr auto hex_pairs = [] {
  std::array<char, 512> t{};
  constexpr char digits[] = "0123456789abcdef";
  for (int b = 0; b < 256; ++b) {
    t[2 * b] = digits[b >> 4];
    t[2 * b + 1] = digits[b & 0xF];
  }
  return t;
}();

// put_hex: the low `bytes` bytes of `v` as 2 * bytes hex digits, most significant first.
char* put_hex(char* p, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i, v >>= 8)
    std::memcpy(p + 2 * i, &hex_pairs[2 * (v & 0xFF)], 2);
  return p + 2 * bytes;
}

}  // namespace

uuid_bits draw_uuid() {
  uuid_bits id;
  id.hi = splitmix(id_state);
  id.lo = splitmix(id_state);
  return id;
}

void format_uuid(uuid_bits id, char (&out)[uuid_text_size]) {
  char* p = put_hex(out, id.hi >> 32, 4);
  *p++ = '-';
  p = put_hex(p, (id.hi >> 16) & 0xFFFF, 2);
  *p++ = '-';
  p = put_hex(p, 0x4000 | (id.hi & 0x0FFF), 2);  // version 4, variant 1: looks like what AWS sends
  *p++ = '-';
  p = put_hex(p, 0x8000 | ((id.lo >> 48) & 0x3FFF), 2);
  *p++ = '-';
  put_hex(p, id.lo & 0xFFFFFFFFFFFFull, 6);
}

void append_uuid(std::string& out, uuid_bits id) {
  char text[uuid_text_size];
  format_uuid(id, text);
  out.append(text, uuid_text_size);
}

// ---------------------------------------------------------------------------------------------
// users

std::string_view user_type_name(user_type t) {
  return t == user_type::shared_device ? "SharedDevice" : "PrivateUser";
}

std::string_view display_name_for(std::string_view email) {
  return email.substr(0, email.find('@'));
}

user_view view_of(const new_user& u) {
  user_view v;
  v.id = u.id;
  v.email = u.email;
  v.display_name = u.username.empty() ? display_name_for(u.email) : u.username;
  v.type = u.type;
  v.created = u.created;
  v.invited_on = u.at;
  if (u.created) v.registered_on = u.at;
  return v;
}

namespace {

// hash_folded: a hash of the address as if lower-cased, a word at a time. The final mix makes the
// upper half (the slot tag and position) depend on every byte.
std::uint64_t hash_folded(std::string_view s) {
  constexpr std::uint64_t k = 0x9E3779B97F4A7C15ull;
  std::uint64_t h = s.size() * k;
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8)
    h = (std::rotl(h, 23) ^ swar::fold_ascii(swar::load(s.data() + i, 8))) * k;
  if (i < s.size())
    h = (std::rotl(h, 23) ^ swar::fold_ascii(swar::load(s.data() + i, s.size() - i))) * k;
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDull;
  h ^= h >> 33;
  h *= 0xC4CEB9FE1A85EC53ull;
  return h ^ (h >> 33);
}

bool equal_folded(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  std::size_t i = 0;
  for (; i + 8 <= a.size(); i += 8)
    if (swar::fold_ascii(swar::load(a.data() + i, 8)) !=
        swar::fold_ascii(swar::load(b.data() + i, 8)))
      return false;
  return i == a.size() || swar::fold_ascii(swar::load(a.data() + i, a.size() - i)) ==
                              swar::fold_ascii(swar::load(b.data() + i, a.size() - i));
}

}  // namespace

std::size_t user_store::probe(std::string_view email, std::uint32_t tag) const {
  const std::size_t mask = index_.size() - 1;
  for (std::size_t pos = tag & mask;; pos = (pos + 1) & mask) {
    const slot& s = index_[pos];
    if (s.user == 0) return pos;
    if (s.tag == tag) {
      const record& r = at(s.user - 1);
      if (equal_folded({r.email, r.email_size}, email)) return pos;
    }
  }
}

user_store::address_key user_store::key_of(std::string_view email) {
  return {static_cast<std::uint32_t>(hash_folded(email) >> 32)};
}

void user_store::prefetch(address_key key) const {
  if (!index_.empty()) __builtin_prefetch(&index_[key.tag & (index_.size() - 1)]);
}

std::size_t user_store::find(std::string_view email) const {
  if (index_.empty()) return npos;
  const slot& s = index_[probe(email, key_of(email).tag)];
  return s.user == 0 ? npos : s.user - 1;
}

void user_store::grow_index() {
  std::vector<slot> old = std::move(index_);
  index_.assign(old.empty() ? 64 : old.size() * 2, slot{});
  const std::size_t mask = index_.size() - 1;
  for (const slot& s : old) {
    if (s.user == 0) continue;
    std::size_t pos = s.tag & mask;
    while (index_[pos].user != 0) pos = (pos + 1) & mask;
    index_[pos] = s;
  }
}

const char* user_store::keep(std::string_view text) {
  if (text.size() > pool_left_) {
    const std::size_t size = std::max(pool_chunk_size, text.size());
    pool_.push_back(std::make_unique_for_overwrite<char[]>(size));
    pool_free_ = pool_.back().get();
    pool_left_ = size;
  }
  char* kept = pool_free_;
  if (!text.empty()) std::memcpy(kept, text.data(), text.size());
  pool_free_ += text.size();
  pool_left_ -= text.size();
  return kept;
}

std::pair<std::size_t, bool> user_store::insert(const new_user& u, address_key key) {
  if (size_ >= UINT32_MAX - 1 || u.email.size() > UINT32_MAX || u.username.size() > UINT32_MAX)
    throw std::length_error("user_store: too many users or too long a text");
  if ((size_ + 1) * 2 > index_.size()) grow_index();
  slot& s = index_[probe(u.email, key.tag)];
  if (s.user != 0) return {s.user - 1, false};

  if (size_ == records_.size() * records_per_chunk)
    records_.push_back(std::make_unique<record[]>(records_per_chunk));
  record& r = at(size_);
  r.id = u.id;
  r.email = keep(u.email);
  r.email_size = static_cast<std::uint32_t>(u.email.size());
  if (u.username.empty()) {
    r.name = r.email;  // the derived display name is a prefix of the address
    r.name_size = static_cast<std::uint32_t>(display_name_for(u.email).size());
  } else {
    r.name = keep(u.username);
    r.name_size = static_cast<std::uint32_t>(u.username.size());
  }
  r.type = u.type;
  r.created = u.created;
  r.invited_on = u.at;
  r.registered_on = u.created ? u.at : signing::clock::time_point{};
  ++size_;
  s = slot{key.tag, static_cast<std::uint32_t>(size_)};
  return {size_ - 1, true};
}

user_view user_store::view(std::size_t i) const {
  const record& r = at(i);
  user_view v;
  v.id = r.id;
  v.email = {r.email, r.email_size};
  v.display_name = {r.name, r.name_size};
  v.type = r.type;
  v.created = r.created;
  v.suspended = r.suspended;
  v.invited_on = r.invited_on;
  v.registered_on = r.registered_on;
  return v;
}

void user_store::reinvited(std::size_t i, signing::clock::time_point when) {
  record& r = at(i);
  if (!r.created) r.invited_on = when;
}

}  // namespace onboard::emulator::detail
