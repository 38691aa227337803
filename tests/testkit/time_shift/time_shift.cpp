// time_shift: an LD_PRELOAD library that moves the wall clock of the process it is loaded into by
// ONBOARD_TIME_SHIFT_SECONDS (signed), so that a test can run the engine with a clock minutes fast
// or slow against an emulator whose clock is right. time(), gettimeofday() and
// clock_gettime(CLOCK_REALTIME*) are shifted (std::chrono::system_clock, OpenSSL and spdlog read
// these); the monotonic clocks are left alone, so timers and timeouts behave.
#include <dlfcn.h>
#include <sys/time.h>
#include <time.h>

#include <cstdlib>

namespace {

using clock_gettime_fn = int (*)(clockid_t, struct timespec*);

long shift_seconds() {
  static const long shift = [] {
    const char* v = std::getenv("ONBOARD_TIME_SHIFT_SECONDS");
    return v ? std::strtol(v, nullptr, 10) : 0L;
  }();
  return shift;
}

clock_gettime_fn real_clock_gettime() {
  static const auto fn = reinterpret_cast<clock_gettime_fn>(dlsym(RTLD_NEXT, "clock_gettime"));
  return fn;
}

bool is_realtime(clockid_t id) {
  return id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE || id == CLOCK_TAI;
}

}  // namespace

extern "C" {

int clock_gettime(clockid_t id, struct timespec* ts) {
  const int rc = real_clock_gettime()(id, ts);
  if (rc == 0 && is_realtime(id)) ts->tv_sec += shift_seconds();
  return rc;
}

int gettimeofday(struct timeval* tv, void* /*tz: obsolete, never filled by glibc either*/) {
  struct timespec ts {};
  const int rc = clock_gettime(CLOCK_REALTIME, &ts);
  tv->tv_sec = ts.tv_sec;
  tv->tv_usec = static_cast<suseconds_t>(ts.tv_nsec / 1000);
  return rc;
}

time_t time(time_t* out) {
  struct timespec ts {};
  clock_gettime(CLOCK_REALTIME, &ts);
  if (out) *out = ts.tv_sec;
  return ts.tv_sec;
}

}  // extern "C"
