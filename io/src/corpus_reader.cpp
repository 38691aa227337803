// corpus_reader.cpp: framing (lines, CSV records), gzip inflation (zlib), the other formats HR
// and identity systems export (xz, zstd, bzip2, zip: libarchive) and encoding checks for the
// corpus. The hot loop is memchr over a 4 MiB buffer; nothing is allocated per record.
#include <onboard/io/corpus_reader.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <exception>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>
#include <zlib.h>

#include <archive.h>
#include <archive_entry.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace onboard::io {

namespace {

constexpr std::size_t gz_input_size = 1024 * 1024;
constexpr std::size_t raw_prefix =
    300;  // bytes of a too-long record kept (reports show 256 + "...")

bool ends_with_ci(std::string_view s, std::string_view suffix) {
  if (s.size() < suffix.size()) return false;
  for (std::size_t i = 0; i < suffix.size(); ++i) {
    char c = s[s.size() - suffix.size() + i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != suffix[i]) return false;
  }
  return true;
}

bool is_blank_only(const char* p, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (p[i] != ' ' && p[i] != '\t') return false;
  return true;
}

// field_span: one CSV field inside the buffer; `escaped` means it holds "" pairs to collapse.
struct field_span {
  const char* b;
  const char* e;
  bool escaped;
};

enum class csv_parse { ok, need_more, bad };

// parse_csv_record: parses the RFC 4180 record starting at p. On ok, *next is just past its
// newline (or e at end of input) and *lines the physical lines it spans. need_more means the
// buffer ends inside the record and more input exists (or may exist).
csv_parse parse_csv_record(const char* p, const char* e, bool at_eof, char delim,
                           std::vector<field_span>& fields, const char** next, std::uint64_t* lines,
                           const char** why) {
  fields.clear();
  *lines = 1;
  const char* q = p;
  for (;;) {
    if (q < e && *q == '"') {
      const char* c = q + 1;
      bool esc = false;
      for (;;) {
        auto* dq = static_cast<const char*>(std::memchr(c, '"', static_cast<std::size_t>(e - c)));
        if (!dq) {
          if (at_eof) {
            *why = "unterminated quoted field";
            return csv_parse::bad;
          }
          return csv_parse::need_more;
        }
        if (dq + 1 == e && !at_eof) return csv_parse::need_more;  // "" split by the buffer end?
        if (dq + 1 < e && dq[1] == '"') {
          esc = true;
          c = dq + 2;
          continue;
        }
        c = dq;
        break;
      }
      *lines += static_cast<std::uint64_t>(std::count(q + 1, c, '\n'));
      fields.push_back({q + 1, c, esc});
      const char* a = c + 1;
      if (a == e) {
        *next = e;
        return csv_parse::ok;
      }
      if (*a == delim) {
        q = a + 1;
        continue;
      }
      if (*a == '\n') {
        *next = a + 1;
        return csv_parse::ok;
      }
      if (*a == '\r') {
        if (a + 1 == e) {
          if (!at_eof) return csv_parse::need_more;
          *next = e;
          return csv_parse::ok;
        }
        if (a[1] == '\n') {
          *next = a + 2;
          return csv_parse::ok;
        }
      }
      *why = "text after a closing quote";
      return csv_parse::bad;
    }
    const char* c = q;
    while (c < e && *c != delim && *c != '\n' && *c != '"') ++c;
    if (c == e) {
      if (!at_eof) return csv_parse::need_more;
      const char* fe = (c > q && c[-1] == '\r') ? c - 1 : c;
      fields.push_back({q, fe, false});
      *next = e;
      return csv_parse::ok;
    }
    if (*c == '"') {
      *why = "quote inside an unquoted field";
      return csv_parse::bad;
    }
    if (*c == delim) {
      fields.push_back({q, c, false});
      q = c + 1;
      continue;
    }
    const char* fe = (c > q && c[-1] == '\r') ? c - 1 : c;
    fields.push_back({q, fe, false});
    *next = c + 1;
    return csv_parse::ok;
  }
}

// strip_neutraliser: a CSV cell written as '= '+ '- or '@ loses its leading quote. Our reports
// (and rejects files) put a ' before a cell starting with = + - @ so a spreadsheet shows it as
// text instead of running it as a formula; `report --failed-only` is meant to be fed back as
// --input, so reading such a cell must undo that, or `-dash@example.com` would come back as the
// different (and valid: ' is atext) address `'-dash@example.com`. An address never legitimately
// starts with '= '+ '- or '@, so nothing real is changed. CSV only: a plain list is not a report.
std::string_view strip_neutraliser(std::string_view cell) {
  if (cell.size() >= 2 && cell[0] == '\'' &&
      (cell[1] == '=' || cell[1] == '+' || cell[1] == '-' || cell[1] == '@'))
    cell.remove_prefix(1);
  return cell;
}

std::string_view trim_blanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// same_text_ci: ASCII case-insensitive equality (--where values; io has no engine helpers).
bool same_text_ci(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    unsigned char x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
    if (x >= 'A' && x <= 'Z') x = static_cast<unsigned char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<unsigned char>(y + 32);
    if (x != y) return false;
  }
  return true;
}

}  // namespace

namespace {

std::uint64_t load64(const unsigned char* p) {
  std::uint64_t w;
  std::memcpy(&w, p, 8);
  return w;
}

// all_ascii: whether no byte of p[0, n) has its high bit set. The last block overlaps the one
// before instead of being finished byte by byte; nothing outside p[0, n) is read.
bool all_ascii(const unsigned char* p, std::size_t n) {
  constexpr std::uint64_t high = 0x8080808080808080ull;
#if defined(__SSE2__)
  if (n >= 16) {
    __m128i acc = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + n - 16));
    for (std::size_t i = 0; i + 16 <= n; i += 16)
      acc = _mm_or_si128(acc, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i)));
    return _mm_movemask_epi8(acc) == 0;
  }
#endif
  if (n >= 8) {
    std::uint64_t acc = load64(p + n - 8);
    for (std::size_t i = 0; i + 8 <= n; i += 8) acc |= load64(p + i);
    return (acc & high) == 0;
  }
  unsigned char acc = 0;
  for (std::size_t i = 0; i < n; ++i) acc |= p[i];
  return acc < 0x80;
}

}  // namespace

bool valid_utf8(std::string_view s) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const unsigned char* e = p + s.size();
  if (all_ascii(p, s.size())) return true;  // nearly every line of a real list
  while (p < e) {
    // ASCII fast path: eight bytes at a time while no high bit is set.
    while (e - p >= 8) {
      std::uint64_t w;
      std::memcpy(&w, p, 8);
      if (w & 0x8080808080808080ull) break;
      p += 8;
    }
    if (p >= e) break;
    unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    std::size_t n;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 3;
      if (c == 0xE0)
        lo = 0xA0;  // overlong
      else if (c == 0xED)
        hi = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 4;
      if (c == 0xF0)
        lo = 0x90;  // overlong
      else if (c == 0xF4)
        hi = 0x8F;  // > U+10FFFF
    } else {
      return false;
    }
    if (static_cast<std::size_t>(e - p) < n) return false;
    if (p[1] < lo || p[1] > hi) return false;
    for (std::size_t i = 2; i < n; ++i)
      if ((p[i] & 0xC0) != 0x80) return false;
    p += n;
  }
  return true;
}

std::string normalise_header_name(std::string_view name) {
  std::string out;
  for (char c : name) {
    if (c == ' ' || c == '\t' || c == '_' || c == '-' || c == '\r' || c == '\n') continue;
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    out.push_back(c);
  }
  return out;
}

bool regular_file_input(const std::string& input) {
  struct stat st {};
  return input != "-" && ::stat(input.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

struct input_info {
  std::string path;
  std::string name;
  corpus_format fmt = corpus_format::plain;
  bool regular = false;  // a named regular file (stat at construction)
};

struct corpus_reader::impl {
  corpus_options opt;
  std::vector<input_info> inputs;
  std::uint64_t file_bytes = 0;
  std::size_t regular_files = 0;
  std::uint64_t skipped = 0;

  // cancel(): `cancelled` is checked before every read; `cancel_fd` (an eventfd, when some input
  // is a stream) wakes a read waiting on a stream.
  std::atomic<bool> cancelled{false};
  int cancel_fd = -1;

  // The current input.
  std::size_t cur = 0;
  bool active = false;
  int fd = -1;
  bool own_fd = false;
  bool stream = false;    // not a regular file: wait for data in poll(), where cancel() reaches
  bool raw_eof = false;   // no more bytes from the fd
  bool data_eof = false;  // no more decoded bytes for this input
  bool gz = false;
  bool zs_init = false;
  z_stream zs{};
  std::unique_ptr<char[]> zin;
  std::unique_ptr<char[]> buf;
  std::size_t cap = 0, pos = 0, end = 0;
  std::uint64_t line_no = 0;
  corpus_format fmt = corpus_format::plain;
  int col_email = -1, col_type = -1, col_user = -1, col_acct = -1;
  std::vector<int> col_where;  // corpus_options::where's columns, in its order
  std::uint64_t filtered = 0;  // rows outside corpus_options::where
  std::string where_scratch;

  std::vector<field_span> fields;
  std::string scratch[5];  // field_value's unescaped cells: email, type, user, account, where
  std::string detail;
  std::string long_prefix;

  ~impl() {
    close_source();
    if (cancel_fd >= 0) ::close(cancel_fd);
  }

  const std::string& name() const { return inputs[cur].name; }

  [[noreturn]] void fail(const std::string& what) const {
    throw corpus_error(name() + ": " + what);
  }

  // archived_format: the name of a format libarchive reads for us (xz, zstd, bzip2, zip) when
  // the input starts like one, else nullptr. Looks only at the bytes the first read brought (no
  // waiting on an interactive stdin for more). 7-Zip is named to be refused: it needs seeking.
  const char* archived_format() const {
    struct format {
      std::string_view magic;
      const char* name;
    };
    static constexpr format formats[] = {
        {"BZh", "bzip2"},
        {"\xFD"
         "7zXZ",
         "xz"},
        {"\x28\xB5\x2F\xFD", "zstd"},
        {"PK\x03\x04", "zip"},
        {"7z\xBC\xAF\x27\x1C", "7-Zip"},
    };
    const std::string_view head(buf.get(), end);
    for (const format& f : formats) {
      if (head.substr(0, f.magic.size()) != f.magic) continue;
      // "BZh" is also how a text line can start: bzip2 follows it with the block size digit and
      // a block magic.
      if (std::string_view(f.name) == "bzip2" &&
          (head.size() < 10 || head[3] < '1' || head[3] > '9' ||
           head.substr(4, 6) != "\x31\x41\x59\x26\x53\x59"))
        continue;
      return f.name;
    }
    return nullptr;
  }

  // The libarchive path: the bytes already sniffed are handed over first, then the fd is read
  // through read_raw (so a stream still waits in poll(), where cancel() reaches it). Exceptions
  // cannot cross libarchive's C frames: the callback parks one and fill() rethrows it.
  archive* ar = nullptr;
  const char* ar_format = nullptr;
  std::unique_ptr<char[]> ar_in;
  std::size_t ar_preloaded = 0;
  std::exception_ptr ar_error;

  static la_ssize_t archive_read_cb(archive*, void* self, const void** out) {
    auto* s = static_cast<impl*>(self);
    *out = s->ar_in.get();
    if (s->ar_preloaded) return static_cast<la_ssize_t>(std::exchange(s->ar_preloaded, 0));
    try {
      return static_cast<la_ssize_t>(s->read_raw(s->ar_in.get(), gz_input_size));
    } catch (...) {
      s->ar_error = std::current_exception();
      return -1;
    }
  }

  [[noreturn]] void fail_archive(const std::string& doing) {
    if (ar_error) std::rethrow_exception(std::exchange(ar_error, nullptr));
    const char* why = ar ? archive_error_string(ar) : nullptr;
    fail(doing + " " + ar_format + " data" + (why ? std::string(" (") + why + ")" : ""));
  }

  void open_archive(const char* format) {
    ar_format = format;
    if (std::string_view(format) == "7-Zip")
      fail(
          "looks 7-Zip-compressed, which cannot be read as a stream: extract it first "
          "(7z x -so " +
          inputs[cur].path + " | chime-onboard ... --input -)");
    if (!ar_in) ar_in = std::make_unique<char[]>(std::max(gz_input_size, cap));
    std::memcpy(ar_in.get(), buf.get(), end);
    ar_preloaded = end;
    end = 0;
    ar = archive_read_new();
    if (!ar) fail("cannot initialise libarchive");
    archive_read_support_filter_all(ar);
    archive_read_support_format_zip(ar);
    archive_read_support_format_raw(ar);  // a lone compressed stream (xz, zstd, bzip2)
    if (archive_read_open(ar, this, nullptr, &impl::archive_read_cb, nullptr) != ARCHIVE_OK)
      fail_archive("unreadable");
    archive_entry* entry = nullptr;
    for (;;) {
      int h = archive_read_next_header(ar, &entry);
      if (h == ARCHIVE_EOF) fail(std::string("the ") + format + " archive holds no file");
      if (h != ARCHIVE_OK && h != ARCHIVE_WARN) fail_archive("corrupt");
      if (archive_entry_filetype(entry) == AE_IFREG) break;
    }
    if (const char* n = archive_entry_pathname(entry); n && std::string_view(format) == "zip")
      ar_entry_name = n;
  }
  std::string ar_entry_name;  // the file inside a zip, for CSV detection by name

  // archive_more: the next decoded bytes; at the end of the file, a zip must hold no other.
  bool archive_more() {
    la_ssize_t r = archive_read_data(ar, buf.get() + end, cap - end);
    if (r < 0) fail_archive("corrupt or truncated");
    if (r > 0) {
      end += static_cast<std::size_t>(r);
      return true;
    }
    archive_entry* entry = nullptr;
    for (int h; (h = archive_read_next_header(ar, &entry)) != ARCHIVE_EOF;) {
      if (h != ARCHIVE_OK && h != ARCHIVE_WARN) fail_archive("corrupt");
      if (archive_entry_filetype(entry) == AE_IFREG)
        fail("the zip archive holds more than one file (" + ar_entry_name + ", " +
             archive_entry_pathname(entry) + "): extract them and give each as an --input");
    }
    raw_eof = data_eof = true;
    return false;
  }

  void close_source() {
    if (zs_init) inflateEnd(&zs);
    zs_init = false;
    if (ar) archive_read_free(ar);
    ar = nullptr;
    ar_error = nullptr;
    ar_entry_name.clear();
    if (own_fd && fd >= 0) ::close(fd);
    fd = -1;
    own_fd = false;
    active = false;
  }

  // read_raw: read() into [dst, dst+n), retrying on EINTR; 0 at end of input. A stream is
  // waited on in poll() beside the cancel eventfd, so that a writer that never writes (a FIFO
  // nobody opened, a terminal) cannot hold the reader past cancel().
  std::size_t read_raw(char* dst, std::size_t n) {
    for (;;) {
      if (cancelled.load(std::memory_order_relaxed)) fail("reading stopped");
      if (stream) wait_readable();
      ssize_t r = ::read(fd, dst, n);
      if (r >= 0) return static_cast<std::size_t>(r);
      // EAGAIN: a stdin some other process made non-blocking; poll() waits for it.
      if (errno == EINTR || (stream && (errno == EAGAIN || errno == EWOULDBLOCK))) continue;
      fail(std::string("read failed: ") + std::strerror(errno));
    }
  }

  // wait_readable: returns once a read on the stream will not block (data, end of input or an
  // error for read() to report); throws when cancel() comes first.
  void wait_readable() {
    pollfd fds[2] = {{fd, POLLIN, 0}, {cancel_fd, POLLIN, 0}};
    const nfds_t n = cancel_fd >= 0 ? 2 : 1;
    for (;;) {
      int r = ::poll(fds, n, -1);
      if (r < 0 && errno != EINTR) fail(std::string("poll failed: ") + std::strerror(errno));
      if (cancelled.load(std::memory_order_relaxed)) fail("reading stopped");
      if (r > 0 && fds[0].revents != 0) return;
    }
  }

  // fill: compacts the buffer and appends decoded bytes; false (and data_eof) at end of input.
  bool fill() {
    if (data_eof) return false;
    if (pos > 0) {
      std::memmove(buf.get(), buf.get() + pos, end - pos);
      end -= pos;
      pos = 0;
    }
    if (end == cap) return true;  // caller guarantees a line always fits; defensive
    if (ar) return archive_more();
    if (!gz) {
      std::size_t r = read_raw(buf.get() + end, cap - end);
      if (r == 0) {
        raw_eof = data_eof = true;
        return false;
      }
      end += r;
      return true;
    }
    return inflate_more();
  }

  bool inflate_more() {
    for (;;) {
      if (zs.avail_in == 0 && !raw_eof) {
        std::size_t r = read_raw(zin.get(), gz_input_size);
        if (r == 0) raw_eof = true;
        zs.next_in = reinterpret_cast<Bytef*>(zin.get());
        zs.avail_in = static_cast<uInt>(r);
      }
      if (zs.avail_in == 0 && raw_eof) {
        if (!zs_stream_ended) fail("truncated gzip data");
        data_eof = true;
        return false;
      }
      if (zs_stream_ended) {
        // Another gzip member follows (gzip allows concatenation).
        if (inflateReset(&zs) != Z_OK) fail("corrupt gzip data");
        zs_stream_ended = false;
      }
      zs.next_out = reinterpret_cast<Bytef*>(buf.get() + end);
      zs.avail_out = static_cast<uInt>(cap - end);
      int rc = ::inflate(&zs, Z_NO_FLUSH);
      std::size_t produced = (cap - end) - zs.avail_out;
      end += produced;
      if (rc == Z_STREAM_END) {
        zs_stream_ended = true;
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        fail(std::string("corrupt gzip data (") + (zs.msg ? zs.msg : "inflate failed") + ")");
      }
      if (produced > 0) return true;
    }
  }
  bool zs_stream_ended = false;

  void open_source(std::size_t i) {
    cur = i;
    const input_info& in = inputs[i];
    struct stat st {};
    if (in.path == "-") {
      fd = opt.stdin_fd;
      own_fd = false;
    } else {
      // A FIFO is opened without waiting for its writer to open it: that wait happens in
      // read_raw's poll(), where cancel() can end it.
      struct stat named {};
      const bool fifo = ::stat(in.path.c_str(), &named) == 0 && S_ISFIFO(named.st_mode);
      fd = ::open(in.path.c_str(), O_RDONLY | O_CLOEXEC | (fifo ? O_NONBLOCK : 0));
      if (fd < 0) fail(std::string("cannot open: ") + std::strerror(errno));
      own_fd = true;
      if (fifo) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
      if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close_source();
        throw corpus_error(in.name + ": is a directory");
      }
#ifdef POSIX_FADV_SEQUENTIAL
      ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    }
    stream = ::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode);
    active = true;
    raw_eof = data_eof = gz = zs_stream_ended = false;
    pos = end = 0;
    line_no = 0;
    col_email = col_type = col_user = col_acct = -1;
    if (!buf) {
      cap = std::max<std::size_t>(opt.buffer_size, opt.max_line * 2 + 16);
      buf = std::make_unique<char[]>(cap);
    }
    // Sniff the gzip magic from the first raw bytes.
    while (end < 2) {
      std::size_t r = read_raw(buf.get() + end, cap - end);
      if (r == 0) {
        raw_eof = true;
        break;
      }
      end += r;
    }
    if (end >= 2 && static_cast<unsigned char>(buf[0]) == 0x1f &&
        static_cast<unsigned char>(buf[1]) == 0x8b) {
      gz = true;
      if (!zin) zin = std::make_unique<char[]>(std::max(gz_input_size, cap));
      std::memcpy(zin.get(), buf.get(), end);
      zs = z_stream{};
      if (inflateInit2(&zs, 15 + 16) != Z_OK) fail("cannot initialise zlib");
      zs_init = true;
      zs.next_in = reinterpret_cast<Bytef*>(zin.get());
      zs.avail_in = static_cast<uInt>(end);
      end = 0;
    } else if (const char* format = archived_format()) {
      open_archive(format);
    } else if (raw_eof) {
      data_eof = true;
    }
    while (end - pos < 3 && fill()) {
    }
    if (end - pos >= 3 && std::memcmp(buf.get() + pos, "\xEF\xBB\xBF", 3) == 0) pos += 3;

    bool csv_by_name = false;
    for (std::string_view name : {std::string_view(in.path), std::string_view(ar_entry_name)})
      for (std::string_view ext : {".csv", ".csv.gz", ".csv.xz", ".csv.zst", ".csv.bz2"})
        csv_by_name = csv_by_name || ends_with_ci(name, ext);
    fmt = corpus_format::plain;
    // Find the first non-blank line and try it as a CSV header.
    for (;;) {
      const char* p = buf.get() + pos;
      std::size_t avail = end - pos;
      auto* nl = static_cast<const char*>(std::memchr(p, '\n', avail));
      if (!nl && !data_eof && avail < opt.max_line) {
        fill();
        continue;
      }
      std::size_t len = nl ? static_cast<std::size_t>(nl - p) : avail;
      if (nl && is_blank_only(p, len - (len && p[len - 1] == '\r'))) {
        // Leading blank lines: consume them here so line numbers stay right.
        pos += len + 1;
        ++line_no;
        ++skipped;
        continue;
      }
      if (!nl && avail == 0) break;  // empty input
      try_header(csv_by_name);
      break;
    }
    if (csv_by_name && fmt != corpus_format::csv) {
      fail("no column '" + opt.email_column + "' in the CSV header" + header_list());
    }
    if (!opt.where.empty() && fmt != corpus_format::csv)
      fail("--where " + opt.where.front().first + "=" + opt.where.front().second +
           " needs a CSV input with a header row naming its columns; this one reads as a plain "
           "list of addresses");
    inputs[i].fmt = fmt;
  }

  std::string header_columns_;
  std::string header_list() const {
    if (header_columns_.empty()) return " (the file is empty)";
    std::string hint;
    // One column holding another common separator: the file is delimited otherwise.
    if (header_columns_.find(", ") == std::string::npos) {
      for (char d : {';', '\t', '|'}) {
        if (d != opt.delimiter && header_columns_.find(d) != std::string::npos) {
          hint = std::string("; its fields look separated by ") +
                 (d == '\t' ? "tabs" : std::string("'") + d + "'") + ": give --delimiter " +
                 (d == '\t' ? "tab" : std::string("'") + d + "'");
          break;
        }
      }
    }
    return " (columns: " + header_columns_ + ")" + hint;
  }

  // try_header: parses the record at pos as a CSV header; on success consumes it and sets fmt.
  void try_header(bool csv_by_name) {
    header_columns_.clear();
    for (;;) {
      const char* p = buf.get() + pos;
      const char* e = buf.get() + end;
      const char* next = nullptr;
      std::uint64_t lines = 0;
      const char* why = nullptr;
      csv_parse r = parse_csv_record(p, e, data_eof, opt.delimiter, fields, &next, &lines, &why);
      if (r == csv_parse::need_more && end - pos < opt.max_line && fill()) continue;
      if (r != csv_parse::ok) {
        if (csv_by_name) fail("line " + std::to_string(line_no + 1) + ": unreadable CSV header");
        return;
      }
      std::string want = normalise_header_name(opt.email_column);
      int email = -1, type = -1, user = -1, acct = -1;
      for (std::size_t k = 0; k < fields.size(); ++k) {
        std::string_view raw(fields[k].b, static_cast<std::size_t>(fields[k].e - fields[k].b));
        std::string n = normalise_header_name(raw);
        if (!header_columns_.empty()) header_columns_ += ", ";
        header_columns_ += std::string(trim_blanks(raw)).substr(0, 64);
        int idx = static_cast<int>(k);
        if (n == want && email < 0)
          email = idx;
        else if (n == "usertype" && type < 0)
          type = idx;
        else if (n == "username" && user < 0)
          user = idx;
        else if (n == "accountid" && acct < 0)
          acct = idx;
      }
      if (email < 0) return;
      col_where.clear();
      for (const auto& [column, value] : opt.where) {
        const std::string name = normalise_header_name(column);
        int found = -1;
        for (std::size_t k = 0; k < fields.size() && found < 0; ++k)
          if (normalise_header_name(
                  {fields[k].b, static_cast<std::size_t>(fields[k].e - fields[k].b)}) == name)
            found = static_cast<int>(k);
        if (found < 0)
          fail("--where " + column + "=" + value + ": no column '" + column +
               "' in the CSV header" + header_list());
        col_where.push_back(found);
      }
      fmt = corpus_format::csv;
      col_email = email;
      col_type = type;
      col_user = user;
      col_acct = acct;
      line_no += lines;
      pos = static_cast<std::size_t>(next - buf.get());
      return;
    }
  }

  void set_detail(std::uint64_t line, const char* what) {
    detail = name();
    detail += ':';
    detail += std::to_string(line);
    detail += ": ";
    detail += what;
  }

  // skip_long: the record at pos has no newline within max_line bytes: keep its first bytes for
  // the report and discard the rest at read() speed.
  bool skip_long(corpus_record& out) {
    long_prefix.assign(buf.get() + pos, std::min(raw_prefix, end - pos));
    std::uint64_t line = ++line_no;
    pos = end;
    for (;;) {
      if (!fill()) break;
      auto* nl = static_cast<const char*>(std::memchr(buf.get() + pos, '\n', end - pos));
      if (nl) {
        pos = static_cast<std::size_t>(nl - buf.get()) + 1;
        break;
      }
      pos = end;
    }
    out = corpus_record{};
    out.line = line;
    out.problem = line_problem::too_long;
    out.raw = long_prefix;
    set_detail(line, ("record longer than " + std::to_string(opt.max_line) + " bytes").c_str());
    out.detail = detail;
    return true;
  }

  void reject(corpus_record& out, std::uint64_t line, line_problem pb, std::string_view raw,
              const char* what) {
    out = corpus_record{};
    out.line = line;
    out.problem = pb;
    out.raw = raw.substr(0, std::max(raw_prefix, std::size_t(4096)));
    set_detail(line, what);
    out.detail = detail;
  }

  // next_plain: one line of a plain list.
  bool next_plain(corpus_record& out) {
    for (;;) {
      const char* p = buf.get() + pos;
      std::size_t avail = end - pos;
      auto* nl = static_cast<const char*>(std::memchr(p, '\n', avail));
      std::size_t len;
      if (nl) {
        len = static_cast<std::size_t>(nl - p);
        pos += len + 1;
      } else {
        if (!data_eof) {
          if (avail >= opt.max_line) return skip_long(out);
          fill();
          continue;
        }
        if (avail == 0) return false;
        len = avail;
        pos = end;
      }
      std::uint64_t line = ++line_no;
      if (len && p[len - 1] == '\r') --len;
      if (len > opt.max_line) {
        reject(out, line, line_problem::too_long, std::string_view(p, raw_prefix),
               ("record longer than " + std::to_string(opt.max_line) + " bytes").c_str());
        return true;
      }
      // Blank and comment lines: the first byte usually settles it.
      std::size_t k = 0;
      while (k < len && (p[k] == ' ' || p[k] == '\t')) ++k;
      if (k == len || p[k] == '#') {
        ++skipped;
        continue;
      }
      std::string_view text(p, len);
      if (!valid_utf8(text)) {
        reject(out, line, line_problem::bad_utf8, text, "invalid UTF-8");
        return true;
      }
      out.line = line;
      out.email = text;
      out.raw = text;
      // One by one: a chained assignment copies through memory, and the 16-byte reload of
      // two 8-byte stores cannot be store-forwarded (a stall on every line).
      out.user_type = {};
      out.username = {};
      out.account_id = {};
      out.problem = line_problem::none;
      out.detail = {};
      return true;
    }
  }

  std::string_view field_value(int col, int slot) {
    if (col < 0 || static_cast<std::size_t>(col) >= fields.size()) return {};
    const field_span& f = fields[static_cast<std::size_t>(col)];
    if (!f.escaped) return {f.b, static_cast<std::size_t>(f.e - f.b)};
    std::string& s = scratch[slot];
    s.clear();
    for (const char* c = f.b; c < f.e; ++c) {
      s.push_back(*c);
      if (*c == '"' && c + 1 < f.e && c[1] == '"') ++c;
    }
    return s;
  }

  // in_wave: whether the parsed row matches every corpus_options::where pair. A row too short to
  // have the column holds "" there.
  bool in_wave() {
    for (std::size_t i = 0; i < col_where.size(); ++i) {
      std::string_view cell = field_value(col_where[i], 4);
      if (!same_text_ci(trim_blanks(cell), trim_blanks(opt.where[i].second))) return false;
    }
    return true;
  }

  // next_csv: one CSV record (possibly several physical lines).
  bool next_csv(corpus_record& out) {
    for (;;) {
      const char* p = buf.get() + pos;
      std::size_t avail = end - pos;
      auto* nl = static_cast<const char*>(std::memchr(p, '\n', avail));
      if (!nl && !data_eof) {
        if (avail >= opt.max_line) return skip_long(out);
        fill();
        continue;
      }
      if (!nl && avail == 0) return false;
      std::size_t line_len = nl ? static_cast<std::size_t>(nl - p) : avail;
      std::size_t content = line_len - (line_len && p[line_len - 1] == '\r');
      if (is_blank_only(p, content)) {
        pos += nl ? line_len + 1 : line_len;
        ++line_no;
        ++skipped;
        continue;
      }
      const char* next = nullptr;
      std::uint64_t lines = 1;
      const char* why = nullptr;
      csv_parse r;
      if (!std::memchr(p, '"', line_len)) {
        // Fast path: no quotes on this line, so the record is the line.
        fields.clear();
        const char* q = p;
        const char* le = p + content;
        for (;;) {
          auto* c = static_cast<const char*>(
              std::memchr(q, opt.delimiter, static_cast<std::size_t>(le - q)));
          if (!c) {
            fields.push_back({q, le, false});
            break;
          }
          fields.push_back({q, c, false});
          q = c + 1;
        }
        next = nl ? nl + 1 : p + avail;
        r = csv_parse::ok;
      } else {
        r = parse_csv_record(p, buf.get() + end, data_eof, opt.delimiter, fields, &next, &lines,
                             &why);
        if (r == csv_parse::need_more) {
          if (avail < opt.max_line && !data_eof) {
            fill();
            continue;
          }
          r = csv_parse::bad;
          why = "quoted field still open after the record size limit";
        }
      }
      std::uint64_t line = line_no + 1;
      if (r == csv_parse::bad) {
        // Recovery: reject only the line where the record started and resume on the next one.
        pos += nl ? line_len + 1 : line_len;
        ++line_no;
        reject(out, line, line_problem::bad_csv, std::string_view(p, content), why);
        return true;
      }
      std::size_t rec_len = static_cast<std::size_t>(next - p);
      pos += rec_len;
      line_no += lines;
      if (!col_where.empty() && !in_wave()) {
        ++filtered;
        continue;
      }
      std::string_view text(p, rec_len);
      while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
      if (rec_len > opt.max_line) {
        reject(out, line, line_problem::too_long, text.substr(0, raw_prefix),
               ("record longer than " + std::to_string(opt.max_line) + " bytes").c_str());
        return true;
      }
      if (!valid_utf8(text)) {
        reject(out, line, line_problem::bad_utf8, text, "invalid UTF-8");
        return true;
      }
      if (static_cast<std::size_t>(col_email) >= fields.size()) {
        reject(out, line, line_problem::bad_csv, text,
               ("row has " + std::to_string(fields.size()) + " fields; the email column is field " +
                std::to_string(col_email + 1))
                   .c_str());
        return true;
      }
      out.line = line;
      out.raw = text;
      out.email = strip_neutraliser(field_value(col_email, 0));
      out.user_type = strip_neutraliser(field_value(col_type, 1));
      out.username = strip_neutraliser(field_value(col_user, 2));
      out.account_id = strip_neutraliser(field_value(col_acct, 3));
      out.problem = line_problem::none;
      out.detail = {};
      return true;
    }
  }
};

corpus_reader::corpus_reader(std::vector<std::string> inputs, corpus_options options)
    : impl_(std::make_unique<impl>()) {
  impl_->opt = std::move(options);
  if (impl_->opt.max_line < 16) impl_->opt.max_line = 16;
  for (auto& path : inputs) {
    input_info in;
    in.name = path == "-" ? "<stdin>" : path;
    if (path != "-") {
      struct stat st {};
      if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
        impl_->file_bytes += static_cast<std::uint64_t>(st.st_size);
        ++impl_->regular_files;
        in.regular = true;
      }
    }
    in.path = std::move(path);
    impl_->inputs.push_back(std::move(in));
  }
  if (impl_->regular_files < impl_->inputs.size())
    impl_->cancel_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);  // -1: cancel between reads only
  if (impl_->opt.preflight) {
    // Fail before the first record rather than halfway through a run.
    for (std::size_t i = 0; i < impl_->inputs.size(); ++i) {
      const input_info& in = impl_->inputs[i];
      if (in.path == "-") continue;
      struct stat st {};
      if (in.regular || ::stat(in.path.c_str(), &st) != 0) {
        impl_->open_source(i);  // a missing input fails here, naming the reason
        impl_->close_source();
        continue;
      }
      // A stream (FIFO, /dev/fd/N, /dev/stdin, a device) is read once, like "-": opening it
      // here and reading its first bytes would consume them.
      if (S_ISDIR(st.st_mode)) throw corpus_error(in.name + ": is a directory");
      if (::access(in.path.c_str(), R_OK) != 0)
        throw corpus_error(in.name + ": cannot open: " + std::strerror(errno));
    }
    impl_->skipped = 0;
  }
  impl_->cur = 0;
}

corpus_reader::~corpus_reader() = default;

bool corpus_reader::next(corpus_record& out) {
  impl& s = *impl_;
  for (;;) {
    if (!s.active) {
      if (s.cur >= s.inputs.size()) return false;
      s.open_source(s.cur);
    }
    bool got = s.fmt == corpus_format::csv ? s.next_csv(out) : s.next_plain(out);
    if (got) {
      out.source = static_cast<std::uint32_t>(s.cur);
      return true;
    }
    s.close_source();
    ++s.cur;
  }
}

const std::string& corpus_reader::input_name(std::uint32_t source) const {
  return impl_->inputs.at(source).name;
}

std::size_t corpus_reader::input_count() const { return impl_->inputs.size(); }

corpus_format corpus_reader::format(std::uint32_t source) const {
  return impl_->inputs.at(source).fmt;
}

std::uint64_t corpus_reader::skipped_lines() const { return impl_->skipped; }

std::uint64_t corpus_reader::filtered_lines() const { return impl_->filtered; }

std::uint64_t corpus_reader::regular_file_bytes() const { return impl_->file_bytes; }

bool corpus_reader::all_regular_files() const {
  return impl_->regular_files == impl_->inputs.size();
}

void corpus_reader::cancel() noexcept {
  impl_->cancelled.store(true, std::memory_order_relaxed);
  if (impl_->cancel_fd >= 0) {
    const std::uint64_t one = 1;
    [[maybe_unused]] ssize_t w = ::write(impl_->cancel_fd, &one, sizeof one);
  }
}

}  // namespace onboard::io
