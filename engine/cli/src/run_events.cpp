#include <onboard/cli/run_events.hpp>

#include <onboard/cli/json_text.hpp>

#include <boost/json.hpp>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>

namespace onboard {

namespace {

std::atomic<event_stream*> current{nullptr};

}  // namespace

std::string utc_now() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

namespace {

boost::json::value path_or_null(const std::string& p) {
  return p.empty() ? boost::json::value(nullptr) : boost::json::value(p);
}

// lines_to_events: std::cerr's buffer while events are on: each whole line a message event.
// Lines are gathered per thread, so that two threads writing at once never mix theirs.
class lines_to_events : public std::streambuf {
 public:
  explicit lines_to_events(event_stream& ev) : ev_(ev) {}
  // What this thread left without a newline is a line too.
  ~lines_to_events() override { end_line(); }

 protected:
  int overflow(int c) override {
    if (c != traits_type::eof()) put(static_cast<char>(c));
    return traits_type::not_eof(c);
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    for (std::streamsize i = 0; i < n; ++i) put(s[i]);
    return n;
  }
  // sync: nothing: std::cerr flushes after every <<, mid-line.
  int sync() override { return 0; }

 private:
  static std::string& pending() {
    thread_local std::string line;
    return line;
  }
  void put(char c) {
    if (c == '\n')
      end_line();
    else if (c != '\r')
      pending() += c;
  }
  void end_line() {
    std::string& line = pending();
    if (std::any_of(line.begin(), line.end(), [](char c) { return c != ' ' && c != '\t'; }))
      ev_.emit(message_event(line));
    line.clear();
  }
  event_stream& ev_;
};

// log_events_sink: the logger's records as events, where its stderr sink wrote them.
class log_events_sink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit log_events_sink(event_stream& ev) : ev_(ev) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    const std::string_view text(msg.payload.data(), msg.payload.size());
    switch (msg.level) {
      case spdlog::level::warn: ev_.emit(log_event("warning", text)); return;
      case spdlog::level::err:
      case spdlog::level::critical: ev_.emit(log_event("error", text)); return;
      default: {
        auto o = log_event("log", text);
        const auto name = spdlog::level::to_string_view(msg.level);
        o["level"] = std::string_view(name.data(), name.size());
        ev_.emit(std::move(o));
      }
    }
  }
  void flush_() override {}

 private:
  event_stream& ev_;
};

bool is_stderr_sink(const spdlog::sink_ptr& s) {
  return std::dynamic_pointer_cast<spdlog::sinks::stderr_sink_mt>(s) != nullptr;
}

}  // namespace

void event_stream::emit(boost::json::object o) {
  if (!o.contains("time")) {
    boost::json::object t;
    t["event"] = o.contains("event") ? o["event"] : boost::json::value("message");
    t["time"] = utc_now();
    for (auto& [k, v] : o)
      if (k != "event") t[k] = std::move(v);
    o = std::move(t);
  }
  emit_line(json_text(o));
}

void event_stream::emit_line(std::string_view json_object) {
  std::lock_guard lk(mu_);
  out_ << json_object << '\n' << std::flush;
}

event_stream* active_events() { return current.load(); }

boost::json::object started_event(const run_banner& b, const std::vector<event_account>& accounts) {
  boost::json::object o;
  o["event"] = "started";
  o["operation"] = b.operation;
  boost::json::array a;
  for (const auto& acc : accounts)
    a.push_back(boost::json::object{{"account_id", acc.account_id},
                                    {"about", acc.about},
                                    {"journal", path_or_null(acc.journal)}});
  o["accounts"] = std::move(a);
  o["endpoint"] = b.endpoint;
  o["endpoint_source"] = b.endpoint_source;
  o["region"] = b.region;
  o["region_source"] = b.region_source;
  o["identity"] = b.identity;
  // total: the addresses this run will email (--limit applied); null for a stream, counted as
  // it is read (the progress events' "read" then says how far it is).
  if (b.pending)
    o["total"] = b.limit ? std::min(*b.pending, b.limit) : *b.pending;
  else
    o["total"] = nullptr;
  o["limit"] = b.limit;
  o["rejected"] = b.rejected;
  o["duplicates"] = b.duplicates;
  o["already_done"] = b.already_done;
  o["journal"] = accounts.empty() ? boost::json::value(nullptr) : path_or_null(accounts[0].journal);
  o["report"] = path_or_null(b.report);
  o["rejects"] = path_or_null(b.rejects);
  o["duplicates_file"] = path_or_null(b.duplicates_file);
  return o;
}

boost::json::object log_event(std::string_view level, std::string_view text) {
  return {{"event", level}, {"message", text}};
}

boost::json::object message_event(std::string_view text) {
  return {{"event", "message"}, {"message", text}};
}

boost::json::object interrupted_event(std::string_view reason, std::string_view resume) {
  return {{"event", "interrupted"}, {"reason", reason}, {"resume", resume}};
}

boost::json::object summary_event(std::string_view summary_json, int exit_code) {
  boost::json::object o{{"event", "summary"}, {"exit_code", exit_code}};
  boost::system::error_code ec;
  auto v =
      summary_json.empty() ? boost::json::value(nullptr) : boost::json::parse(summary_json, ec);
  o["summary"] = ec ? boost::json::value(summary_json) : std::move(v);
  return o;
}

struct json_event_scope::state {
  std::ostream raw{std::cerr.rdbuf()};
  event_stream events{raw};
  std::streambuf* cerr_buf = std::cerr.rdbuf();
  std::unique_ptr<lines_to_events> lines;
  std::shared_ptr<spdlog::logger> logger = spdlog::default_logger();
  std::vector<spdlog::sink_ptr> replaced;  // the logger's stderr sinks, put back at the end
};

json_event_scope::json_event_scope(bool on) {
  if (!on) return;
  state_ = std::make_unique<state>();
  state_->lines = std::make_unique<lines_to_events>(state_->events);
  std::cerr.flush();
  std::cerr.rdbuf(state_->lines.get());
  auto events_sink = std::make_shared<log_events_sink>(state_->events);
  for (auto& s : state_->logger->sinks())
    if (is_stderr_sink(s)) {
      state_->replaced.push_back(s);
      s = events_sink;
    }
  current.store(&state_->events);
}

int json_event_scope::finish(int exit_code) {
  if (state_) {
    std::cerr.flush();
    state_->events.emit(summary_event(state_->events.kept_summary(), exit_code));
  }
  return exit_code;
}

json_event_scope::~json_event_scope() {
  if (!state_) return;
  std::cerr.flush();
  current.store(nullptr);
  auto& sinks = state_->logger->sinks();
  std::size_t k = 0;
  for (auto& s : sinks)
    if (std::dynamic_pointer_cast<log_events_sink>(s) && k < state_->replaced.size())
      s = state_->replaced[k++];
  std::cerr.rdbuf(state_->cerr_buf);
}

}  // namespace onboard
