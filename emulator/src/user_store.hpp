// user_store.hpp: one account's users, in insertion order (the ListUsers order), found by address
// ignoring ASCII case (the emulator's rule: Bob@x.com and bob@X.COM are the same person).
//
// Adding a user costs no allocation of its own, so an InviteUsers of 50 new addresses costs about
// what 50 re-invites cost: records and texts (addresses, display names) are appended to chunks
// that never move, and the address index is an open-addressing table of (hash tag, record
// number) that compares against the stored address instead of holding keys. Fixed-size chunks
// also mean growth never copies the store: a doubling vector of millions of users stalled the
// request that made it grow for a large fraction of a second.
//
//   user_store s;
//   auto [i, added] = s.insert({.id = draw_uuid(), .email = "Bob@x.com", .at = now});
//   s.find("bob@X.COM") == i;                 // user_store::npos when unknown
//   append_user_json(out, account, s.view(i));
#pragma once

#include <onboard/signing/sigv4.hpp>  // signing::clock

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace onboard::emulator::detail {

// uuid_bits: a random version-4 UUID kept as its 128 bits; text is made only for a response.
struct uuid_bits {
  std::uint64_t hi = 0;
  std::uint64_t lo = 0;
};

// draw_uuid: the next id from this thread's id generator. Ids never consume the fault RNG, so
// fault sequences do not depend on how many ids a response needed.
uuid_bits draw_uuid();

// uuid_text_size: length of the 8-4-4-4-12 text form.
inline constexpr std::size_t uuid_text_size = 36;

// format_uuid: writes the lower-case 8-4-4-4-12 form (version 4, variant 1) into `out`.
void format_uuid(uuid_bits id, char (&out)[uuid_text_size]);

// append_uuid: format_uuid appended to `out`.
void append_uuid(std::string& out, uuid_bits id);

enum class user_type : std::uint8_t { private_user, shared_device };

// user_type_name: the wire name, "PrivateUser" or "SharedDevice".
std::string_view user_type_name(user_type t);

// display_name_for: what Chime shows when no username is given, the address up to its first '@'.
std::string_view display_name_for(std::string_view email);

// new_user: what insert() records. An empty `username` means the display name is derived from
// the address (display_name_for), as for every invited user.
struct new_user {
  uuid_bits id;
  std::string_view email;
  std::string_view username;
  user_type type = user_type::private_user;
  bool created = false;  // CreateUser (registered at `at`) rather than InviteUsers (pending)
  signing::clock::time_point at;
};

// user_view: one user as a response shows it. The views stay valid until the store next grows.
struct user_view {
  uuid_bits id;
  std::string_view email;
  std::string_view display_name;
  user_type type = user_type::private_user;
  bool created = false;
  bool suspended = false;  // BatchSuspendUser
  signing::clock::time_point invited_on;
  signing::clock::time_point registered_on;
};

// view_of: the user `u` would become, without storing it.
user_view view_of(const new_user& u);

class user_store {
 public:
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  std::size_t size() const { return size_; }

  // find: the index of the user with this address ignoring ASCII case, or npos.
  std::size_t find(std::string_view email) const;

  // address_key: an address's hash, computed once for prefetch() and insert().
  struct address_key {
    std::uint32_t tag = 0;
  };
  static address_key key_of(std::string_view email);

  // prefetch: starts loading the index entry `key` lands on. With millions of users every lookup
  // is a cache (and TLB) miss; prefetching a request's addresses first overlaps those misses
  // instead of paying them one after another.
  void prefetch(address_key key) const;

  // insert: adds `u` unless its address is known; returns the index of the user with that
  // address and whether it was added (an existing user is left untouched). `key` is
  // key_of(u.email).
  std::pair<std::size_t, bool> insert(const new_user& u, address_key key);
  std::pair<std::size_t, bool> insert(const new_user& u) { return insert(u, key_of(u.email)); }

  user_view view(std::size_t i) const;
  user_type type(std::size_t i) const { return at(i).type; }

  // reinvited: a repeated InviteUsers refreshes InvitedOn, unless CreateUser registered the user.
  void reinvited(std::size_t i, signing::clock::time_point when);
  // suspend: BatchSuspendUser; the user stays listed, UserRegistrationStatus Suspended.
  void suspend(std::size_t i) { at(i).suspended = true; }

 private:
  // record: a user; its texts are in the pool.
  struct record {
    uuid_bits id;
    signing::clock::time_point invited_on;
    signing::clock::time_point registered_on;
    const char* email = nullptr;
    const char* name = nullptr;
    std::uint32_t email_size = 0;
    std::uint32_t name_size = 0;
    user_type type = user_type::private_user;
    bool created = false;
    bool suspended = false;
  };
  static constexpr std::size_t records_per_chunk = std::size_t{1} << 14;  // 1 MiB
  static constexpr std::size_t pool_chunk_size = std::size_t{1} << 20;
  // slot: one index entry; `user` is the record number + 1 (0 = empty), `tag` the upper half of
  // the address hash, which also places the entry (so growing needs no rehashing of texts).
  struct slot {
    std::uint32_t tag = 0;
    std::uint32_t user = 0;
  };

  const record& at(std::size_t i) const {
    return records_[i / records_per_chunk][i % records_per_chunk];
  }
  record& at(std::size_t i) { return records_[i / records_per_chunk][i % records_per_chunk]; }
  const char* keep(std::string_view text);  // a copy of `text` in the pool
  std::size_t probe(std::string_view email,
                    std::uint32_t tag) const;  // slot holding it, or an empty one
  void grow_index();

  std::vector<std::unique_ptr<record[]>> records_;
  std::size_t size_ = 0;
  std::vector<std::unique_ptr<char[]>> pool_;
  char* pool_free_ = nullptr;  // the unused end of the newest pool chunk
  std::size_t pool_left_ = 0;
  std::vector<slot> index_;  // size a power of two, at most half full
};

}  // namespace onboard::emulator::detail
