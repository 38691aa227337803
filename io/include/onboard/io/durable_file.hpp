// onboard/io/durable_file.hpp: files whose bytes must survive a crash: an append-only file with an
// explicit flush (write(2)) / sync (fdatasync) split, and an atomic "write then rename" file for
// reports. Both create files 0600 (they hold email addresses) and fsync the parent directory when a
// file comes into existence, so the name survives power loss as well as the bytes.
//
//   // given: std::string_view record_bytes
//   auto f = onboard::io::durable_file::open("run.journal");   // O_APPEND|O_CLOEXEC, 0600
//   f.append(record_bytes);      // user-space buffer
//   f.flush();                   // write(2) everything buffered (EINTR / short writes handled)
//   f.sync();                    // fdatasync: the bytes are on stable storage
//
//   onboard::io::atomic_file out("report.csv");   // writes report.csv.tmp-<pid> (0600)
//   out.append("email,outcome\n");
//   out.commit();                // flush, fsync, rename over report.csv, fsync the folder
//
// Errors are std::system_error whose what() names the file, e.g.
//   "write run.journal: No space left on device".
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace onboard::io {

namespace fs = std::filesystem;

// durable_file: an append-only file descriptor with a user-space buffer. Not thread-safe: the
// journal serialises access to it.
class durable_file {
 public:
  // open: opens `path` for appending, creating it (mode 0600) when missing; after creating it the
  // parent directory is fsync'ed so the new name is durable. Throws std::system_error.
  static durable_file open(const fs::path& path);

  durable_file() = default;
  durable_file(durable_file&& o) noexcept;
  durable_file& operator=(durable_file&& o) noexcept;
  durable_file(const durable_file&) = delete;
  durable_file& operator=(const durable_file&) = delete;
  ~durable_file();  // closes without flushing: unflushed bytes are lost, like a crash

  // append: buffers `bytes`; large appends bypass the buffer (after flushing it) to avoid a copy.
  void append(std::string_view bytes);
  // flush: write(2)s the buffer, retrying EINTR and short writes.
  void flush();
  // sync: fdatasync(2) of what was flushed (flush first if you want the buffer included).
  void sync();
  // truncate: flushes, then cuts the file to `size` bytes (used to drop a torn tail before
  // appending after it). O_APPEND makes later writes land at the new end.
  void truncate(std::uint64_t size);
  // try_lock_exclusive: flock(LOCK_EX|LOCK_NB); false when another open file description holds it.
  bool try_lock_exclusive();
  // close: flush, then close; throws on a failed flush or close (close can report EIO/ENOSPC on
  // NFS).
  void close();

  bool is_open() const { return fd_ >= 0; }
  bool created() const { return created_; }  // open() made the file
  const fs::path& path() const { return path_; }
  std::uint64_t size_on_open() const { return size_on_open_; }
  std::size_t buffered() const { return buffer_.size(); }

 private:
  void write_all(std::string_view bytes);
  int fd_ = -1;
  bool created_ = false;
  std::uint64_t size_on_open_ = 0;
  fs::path path_;
  std::string buffer_;
};

// atomic_file: builds a file under a temporary name next to `path` and renames it into place on
// commit(), so readers never see half a report. Without commit() the temporary is removed.
class atomic_file {
 public:
  explicit atomic_file(fs::path path);
  atomic_file(const atomic_file&) = delete;
  atomic_file& operator=(const atomic_file&) = delete;
  ~atomic_file();

  void append(std::string_view bytes) { file_.append(bytes); }
  // commit: flush, fsync, rename over the final name, fsync the directory. Throws on failure.
  void commit();
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
  fs::path tmp_;
  durable_file file_;
  bool committed_ = false;
};

// write_file_atomically: atomic_file in one call, for small files.
void write_file_atomically(const fs::path& path, std::string_view content);

// sync_directory: fsync(2) of a directory, so entries created or renamed in it are durable.
void sync_directory(const fs::path& dir);

}  // namespace onboard::io
