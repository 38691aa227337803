// journal_replay.hpp: internals shared by journal_replay.cpp and the writer (journal.cpp): the
// read-only mapping of a journal and the builder that turns its records into a replay_state.
//
//   auto map = std::make_shared<const mapped_journal>(path);
//   replay_state s = replay_builder::replay(path, map);
#pragma once

#include <onboard/journal/journal.hpp>

#include "journal_format.hpp"

#include <filesystem>
#include <memory>
#include <span>
#include <unordered_map>
#include <string_view>
#include <vector>

namespace onboard {

// mapped_journal: the whole file mapped read-only (empty files map nothing). Appending to the file
// later leaves the mapped prefix valid; the journal never shrinks a file below a replayed prefix.
class mapped_journal {
 public:
  // mapped_journal: `populate` reads the whole file in at once (else pages come in as touched).
  explicit mapped_journal(const std::filesystem::path& path,
                          bool populate = true);  // throws journal_error
  mapped_journal(const mapped_journal&) = delete;
  mapped_journal& operator=(const mapped_journal&) = delete;
  ~mapped_journal();
  std::string_view bytes() const { return {data_, size_}; }
  // drop: lets go of the memory of the whole pages in [from, to) (read back if touched again).
  void drop(std::size_t from, std::size_t to) const;

 private:
  const char* data_ = nullptr;
  std::size_t size_ = 0;
};

// replay_builder: fills a replay_state from its mapping, record by record.
class replay_builder {
 public:
  // replay: the state of a mapped journal; throws journal_error for a missing or damaged header.
  static replay_state replay(const std::filesystem::path& path,
                             std::shared_ptr<const mapped_journal> map,
                             std::size_t drop_behind = 0);
  // empty: the state of a journal that has only its header (a new journal).
  static replay_state empty(const std::filesystem::path& path, const journal_header& header);

 private:
  struct intent_info {
    std::uint64_t batch_id;
    std::uint32_t attempt;
    std::int64_t unix_ms;
  };

  explicit replay_builder(replay_state& s);
  void run();
  std::uint32_t find_or_insert(std::string_view email, std::uint64_t hash);
  // lookup_all: find_or_insert for every address of one record; indexes into `out`.
  void lookup_all(std::span<const std::string_view> emails, std::vector<std::uint32_t>& out);
  void grow();
  bool apply(std::string_view payload, std::uint64_t payload_off);
  bool read_address_list(jf::reader& r, intent_info& info);
  void touch(std::int64_t ms);
  void finish();

  replay_state& s_;
  std::string_view file_;
  std::size_t drop_behind_ = 0;  // replay_options::drop_behind
  bool fold_all_ = true;
  std::uint64_t mask_ = 0;
  bool apply_compact(std::string_view payload, std::uint64_t payload_off);

  std::vector<intent_info> intents_;
  // live_intent: the latest intent of a batch in this session whose addresses do not all have an
  // outcome yet: what compact outcome records name addresses by (their place in it).
  struct live_intent {
    std::uint32_t crc = 0;           // the intent frame's checksum, which a compact record cites
    std::vector<std::uint32_t> idx;  // entry of each address, in the intent's order
    std::vector<bool> settled;       // which of them an outcome record has named
    std::uint32_t remaining = 0;     // how many have not
  };
  std::unordered_map<std::uint64_t, live_intent> live_;
  // error_: why the record that stopped replay cannot be used, when more is known than "it does
  // not parse".
  std::string error_;
  // Scratch space reused record to record.
  std::vector<std::string_view> emails_;
  std::vector<std::uint8_t> kinds_;
  std::vector<std::uint32_t> idx_;
  std::vector<std::uint64_t> hashes_;
};

}  // namespace onboard
