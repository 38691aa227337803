#include <onboard/io/durable_file.hpp>

#include <cerrno>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>
#include <utility>

namespace onboard::io {

namespace {

// buffer_capacity: big enough that a group commit is one write(2), small enough to stay in cache.
constexpr std::size_t buffer_capacity = 256 * 1024;

[[noreturn]] void throw_errno(int err, std::string_view what, const fs::path& path) {
  throw std::system_error(err, std::generic_category(), std::string(what) + " " + path.string());
}

fs::path parent_or_dot(const fs::path& p) {
  auto parent = p.parent_path();
  return parent.empty() ? fs::path(".") : parent;
}

}  // namespace

void sync_directory(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw_errno(errno, "open directory", dir);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  // Some file systems (and tmpfs in old kernels) refuse fsync on directories: nothing to make
  // durable.
  if (rc != 0 && err != EINVAL && err != EROFS) throw_errno(err, "fsync directory", dir);
}

durable_file durable_file::open(const fs::path& path) {
  durable_file f;
  f.path_ = path;
  // O_EXCL first so we know whether this call created the file (then its directory needs an fsync).
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    f.created_ = true;
  } else if (errno == EEXIST) {
    fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  }
  if (fd < 0) throw_errno(errno, "open", path);
  f.fd_ = fd;
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw_errno(errno, "stat", path);
  if (!S_ISREG(st.st_mode)) throw_errno(EINVAL, "not a regular file:", path);
  f.size_on_open_ = static_cast<std::uint64_t>(st.st_size);
  if (f.created_) sync_directory(parent_or_dot(path));
  f.buffer_.reserve(buffer_capacity);
  return f;
}

durable_file::durable_file(durable_file&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)), created_(o.created_), size_on_open_(o.size_on_open_),
      path_(std::move(o.path_)), buffer_(std::move(o.buffer_)) {}

durable_file& durable_file::operator=(durable_file&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(o.fd_, -1);
    created_ = o.created_;
    size_on_open_ = o.size_on_open_;
    path_ = std::move(o.path_);
    buffer_ = std::move(o.buffer_);
  }
  return *this;
}

durable_file::~durable_file() {
  if (fd_ >= 0) ::close(fd_);
}

void durable_file::append(std::string_view bytes) {
  if (buffer_.size() + bytes.size() <= buffer_capacity) {
    buffer_.append(bytes);
    return;
  }
  flush();
  if (bytes.size() >= buffer_capacity / 2) {
    write_all(bytes);
  } else {
    buffer_.append(bytes);
  }
}

void durable_file::write_all(std::string_view bytes) {
  if (fd_ < 0) throw_errno(EBADF, "write", path_);
  while (!bytes.empty()) {
    ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno(errno, "write", path_);
    }
    // write(2) returning 0 for a non-empty regular-file write means no progress is possible.
    if (n == 0) throw_errno(EIO, "write", path_);
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

void durable_file::flush() {
  if (buffer_.empty()) return;
  // On failure the buffer is kept whole: a caller may retry, and partially written bytes are a
  // torn tail that the journal's framing detects.
  write_all(buffer_);
  buffer_.clear();
}

void durable_file::sync() {
  if (fd_ < 0) throw_errno(EBADF, "fdatasync", path_);
  while (::fdatasync(fd_) != 0) {
    if (errno == EINTR) continue;
    throw_errno(errno, "fdatasync", path_);
  }
}

void durable_file::truncate(std::uint64_t size) {
  flush();
  while (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
    if (errno == EINTR) continue;
    throw_errno(errno, "truncate", path_);
  }
}

bool durable_file::try_lock_exclusive() {
  while (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) return false;
    throw_errno(errno, "lock", path_);
  }
  return true;
}

void durable_file::close() {
  if (fd_ < 0) return;
  flush();
  int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0 && errno != EINTR) throw_errno(errno, "close", path_);
}

atomic_file::atomic_file(fs::path path) : path_(std::move(path)) {
  tmp_ = path_;
  tmp_ += ".tmp-" + std::to_string(::getpid());
  // A stale temporary from a crashed run with a recycled pid would be appended to: start clean.
  ::unlink(tmp_.c_str());
  file_ = durable_file::open(tmp_);
}

atomic_file::~atomic_file() {
  if (!committed_) {
    file_ = durable_file{};
    ::unlink(tmp_.c_str());
  }
}

void atomic_file::commit() {
  file_.flush();
  file_.sync();
  file_.close();
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) throw_errno(errno, "rename into", path_);
  committed_ = true;
  sync_directory(parent_or_dot(path_));
}

void write_file_atomically(const fs::path& path, std::string_view content) {
  atomic_file f(path);
  f.append(content);
  f.commit();
}

}  // namespace onboard::io
