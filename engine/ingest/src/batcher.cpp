// batcher.cpp: per-(account, user type) groups whose item vectors circulate between the groups,
// the ready slot and the caller, so the strings' buffers are reused.
#include <onboard/ingest/batcher.hpp>

#include <stdexcept>

namespace onboard {

batcher::batcher(operation op, std::size_t limit)
    : limit_(op == operation::create ? 1 : (limit == 0 ? 1 : limit)) {}

batcher::group_id batcher::group_of(std::string_view account_id, user_type type) {
  if (last_ < groups_.size()) {
    const group& g = groups_[last_];
    if (g.type == type && g.account_id == account_id) return last_;
  }
  key_scratch_.assign(1, static_cast<char>(type));
  key_scratch_.append(account_id);
  auto it = index_.find(key_scratch_);
  if (it == index_.end()) {
    it = index_.emplace(key_scratch_, groups_.size()).first;
    group& g = groups_.emplace_back();
    g.account_id.assign(account_id);
    g.type = type;
  }
  last_ = it->second;
  return last_;
}

void batcher::emit(group& g) {
  g.items.resize(g.n);
  ready_.items.swap(g.items);
  ready_.id = next_id_++;
  ready_.account_id = g.account_id;
  ready_.type = g.type;
  g.n = 0;
  has_ready_ = true;
}

bool batcher::add(group_id id, std::string_view email, std::uint32_t source, std::uint64_t line,
                  std::string_view username) {
  // A completed batch not yet taken would be overwritten by the next one.
  if (has_ready_) throw std::logic_error("batcher::add: take() the completed batch first");
  group& g = groups_.at(id);
  if (g.n < g.items.size()) {
    planned_address& a = g.items[g.n];
    a.email.assign(email);
    a.source = source;
    a.line = line;
    if (!username.empty() || !a.username.empty()) a.username.assign(username);
  } else {
    g.items.push_back(planned_address{std::string(email), source, line, std::string(username)});
  }
  if (++g.n < limit_) return false;
  emit(g);
  return true;
}

bool batcher::take(batch& out) {
  if (!has_ready_) return false;
  has_ready_ = false;
  out.id = ready_.id;
  out.account_id.swap(ready_.account_id);
  out.type = ready_.type;
  out.items.swap(ready_.items);  // ready_ keeps out's old vector for the next group to fill
  return true;
}

bool batcher::flush(batch& out) {
  if (take(out)) return true;
  while (flush_pos_ < groups_.size()) {
    group& g = groups_[flush_pos_++];
    if (g.n == 0) continue;
    emit(g);
    return take(out);
  }
  return false;
}

}  // namespace onboard
