#include "core/storage/record_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"

namespace semrec {
namespace {

void PutU32(uint32_t v, char* out) { std::memcpy(out, &v, 4); }
uint32_t GetU32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

}  // namespace

uint32_t Crc32(std::string_view data, uint32_t crc) {
  // zlib's crc32 takes a uInt length: feed large inputs in pieces.
  while (!data.empty()) {
    const size_t n = std::min<size_t>(data.size(), 1u << 30);
    crc = static_cast<uint32_t>(
        ::crc32(crc, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(n)));
    data.remove_prefix(n);
  }
  return crc;
}

void AppendFramedRecord(std::string_view prefix, std::string_view payload, std::string* out) {
  char header[kRecordHeaderBytes];
  PutU32(static_cast<uint32_t>(prefix.size() + payload.size()), header);
  PutU32(Crc32(payload, Crc32(prefix)), header + 4);
  out->append(header, sizeof(header));
  out->append(prefix.data(), prefix.size());
  out->append(payload.data(), payload.size());
}

absl::StatusOr<std::unique_ptr<RecordWriter>> RecordWriter::Create(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return ErrnoError("cannot create", path);
  std::setvbuf(f, nullptr, _IOFBF, 1 << 20);
  return std::unique_ptr<RecordWriter>(new RecordWriter(path, f));
}

RecordWriter::~RecordWriter() {
  if (file_) std::fclose(file_);
}

absl::Status RecordWriter::Append(std::string_view payload) {
  if (!file_) return absl::FailedPreconditionError(absl::StrCat(path_, " is closed"));
  if (payload.size() > kMaxRecordBytes) {
    return absl::InvalidArgumentError(absl::StrCat("record of ", payload.size(),
                                                   " bytes exceeds the limit of ", kMaxRecordBytes));
  }
  frame_.clear();
  AppendFramedRecord(payload, &frame_);
  if (std::fwrite(frame_.data(), 1, frame_.size(), file_) != frame_.size()) {
    return ErrnoError("cannot write", path_);
  }
  crc_ = Crc32(frame_, crc_);
  bytes_ += frame_.size();
  ++records_;
  return absl::OkStatus();
}

absl::Status RecordWriter::Close(bool sync) {
  if (!file_) return absl::OkStatus();
  std::FILE* f = file_;
  file_ = nullptr;
  if (std::fflush(f) != 0) {
    std::fclose(f);
    return ErrnoError("cannot write", path_);
  }
  if (sync && ::fdatasync(fileno(f)) != 0) {
    std::fclose(f);
    return ErrnoError("cannot fsync", path_);
  }
  if (std::fclose(f) != 0) return ErrnoError("cannot close", path_);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<RecordReader>> RecordReader::Open(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return ErrnoError("cannot open", path);
  std::setvbuf(f, nullptr, _IOFBF, 1 << 20);
  return std::unique_ptr<RecordReader>(new RecordReader(path, f));
}

RecordReader::~RecordReader() {
  if (file_) std::fclose(file_);
}

RecordReader::Result RecordReader::Next(std::string* payload) {
  char header[kRecordHeaderBytes];
  const size_t got = std::fread(header, 1, sizeof(header), file_);
  if (got == 0 && std::feof(file_)) return Result::kEnd;
  if (got != sizeof(header)) return Result::kTorn;
  const uint32_t length = GetU32(header);
  const uint32_t crc = GetU32(header + 4);
  if (length > kMaxRecordBytes) return Result::kTorn;
  payload->resize(length);
  if (length > 0 && std::fread(payload->data(), 1, length, file_) != length) return Result::kTorn;
  if (Crc32(*payload) != crc) return Result::kTorn;
  good_offset_ += sizeof(header) + length;
  return Result::kRecord;
}

absl::Status ErrnoError(const std::string& what, const std::string& path) {
  const int err = errno;
  std::string message = absl::StrCat(what, " ", path, ": ", std::strerror(err));
  if (err == ENOSPC || err == EDQUOT) return absl::ResourceExhaustedError(message);
  if (err == ENOENT) return absl::NotFoundError(message);
  if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(message);
  return absl::InternalError(message);
}

absl::Status SyncPath(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot open", path);
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return ErrnoError("cannot fsync", path);
  return absl::OkStatus();
}

std::string NumberedName(std::string_view prefix, uint64_t n, std::string_view suffix) {
  char digits[24];
  std::snprintf(digits, sizeof(digits), "%020" PRIu64, n);
  return absl::StrCat(std::string(prefix), digits, std::string(suffix));
}

std::vector<std::pair<uint64_t, std::string>> ListNumbered(const std::string& dir,
                                                           std::string_view prefix,
                                                           std::string_view suffix) {
  std::vector<std::pair<uint64_t, std::string>> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    const std::string_view name = e->d_name;
    if (name.size() != prefix.size() + 20 + suffix.size() || name.substr(0, prefix.size()) != prefix ||
        name.substr(name.size() - suffix.size()) != suffix) {
      continue;
    }
    const std::string digits(name.substr(prefix.size(), 20));
    if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      continue;
    }
    out.emplace_back(std::strtoull(digits.c_str(), nullptr, 10), dir + "/" + std::string(name));
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

absl::Status FileChecksum(const std::string& path, uint32_t* crc, uint64_t* size) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot open", path);
  std::vector<char> buffer(1 << 20);
  uint32_t c = 0;
  uint64_t total = 0;
  while (true) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      absl::Status s = ErrnoError("cannot read", path);
      ::close(fd);
      return s;
    }
    if (n == 0) break;
    c = Crc32(std::string_view(buffer.data(), static_cast<size_t>(n)), c);
    total += static_cast<uint64_t>(n);
  }
  ::close(fd);
  *crc = c;
  *size = total;
  return absl::OkStatus();
}

absl::Status MakeDirectories(const std::string& dir) {
  if (dir.empty()) return absl::InvalidArgumentError("empty directory name");
  for (size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos != dir.size() && dir[pos] != '/') continue;
    const std::string prefix = dir.substr(0, pos);
    if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
      return ErrnoError("cannot create directory", prefix);
    }
  }
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(dir, " is not a directory"));
  }
  return absl::OkStatus();
}

absl::Status RemoveTree(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return ErrnoError("cannot stat", path);
  }
  if (S_ISDIR(st.st_mode)) {
    DIR* d = ::opendir(path.c_str());
    if (!d) return ErrnoError("cannot open directory", path);
    std::vector<std::string> children;
    while (dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name != "." && name != "..") children.push_back(path + "/" + name);
    }
    ::closedir(d);
    for (const auto& child : children) {
      if (absl::Status s = RemoveTree(child); !s.ok()) return s;
    }
    if (::rmdir(path.c_str()) != 0) return ErrnoError("cannot remove directory", path);
    return absl::OkStatus();
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoError("cannot remove", path);
  return absl::OkStatus();
}

}  // namespace semrec
