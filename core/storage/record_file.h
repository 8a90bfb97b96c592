// Checksummed record files: each record is framed as [u32 length][u32 crc32(payload)][payload]
// (little-endian), so a reader detects a torn or corrupt tail and knows the offset of the last
// intact record. Also the small POSIX helpers durable storage needs (fsync of files and
// directories, whole-file checksums).
//
//   ASSIGN_OR_RETURN(auto out, RecordWriter::Create(path));
//   RETURN_IF_ERROR(out->Append(payload)); RETURN_IF_ERROR(out->Close(/*sync=*/true));
//   ASSIGN_OR_RETURN(auto in, RecordReader::Open(path));
//   while (in->Next(&payload) == RecordReader::Result::kRecord) { ... }
//
// Thread-compatible: one writer or reader per file, used by one thread at a time.
#ifndef SEMREC_CORE_STORAGE_RECORD_FILE_H_
#define SEMREC_CORE_STORAGE_RECORD_FILE_H_

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace semrec {

inline constexpr size_t kRecordHeaderBytes = 8;
// Larger lengths are treated as corruption (the biggest real record, a 1000-item upsert with
// texts and vectors, is a few tens of MB).
inline constexpr uint32_t kMaxRecordBytes = 256u << 20;

uint32_t Crc32(std::string_view data, uint32_t crc = 0);
// Appends one framed record whose payload is `prefix` followed by `payload` to `out` (the two
// parts are not concatenated first).
void AppendFramedRecord(std::string_view prefix, std::string_view payload, std::string* out);
inline void AppendFramedRecord(std::string_view payload, std::string* out) {
  AppendFramedRecord({}, payload, out);
}

// Writes framed records to a new file (truncating any existing one), buffered.
class RecordWriter {
 public:
  static absl::StatusOr<std::unique_ptr<RecordWriter>> Create(const std::string& path);
  ~RecordWriter();

  absl::Status Append(std::string_view payload);
  // Flushes, optionally fsyncs, and closes. Must be called for the data to be complete.
  absl::Status Close(bool sync);

  uint64_t bytes() const { return bytes_; }
  uint32_t crc() const { return crc_; }  // crc32 of every byte written so far
  uint64_t records() const { return records_; }

 private:
  RecordWriter(std::string path, std::FILE* file) : path_(std::move(path)), file_(file) {}
  std::string path_;
  std::FILE* file_;
  std::string frame_;
  uint64_t bytes_ = 0;
  uint64_t records_ = 0;
  uint32_t crc_ = 0;
};

class RecordReader {
 public:
  enum class Result {
    kRecord,  // *payload holds the next record
    kEnd,     // clean end of file
    kTorn,    // truncated or corrupt frame at good_offset(); nothing after it is trusted
  };
  static absl::StatusOr<std::unique_ptr<RecordReader>> Open(const std::string& path);
  ~RecordReader();

  Result Next(std::string* payload);
  // Bytes of intact records read so far (where a torn tail starts).
  uint64_t good_offset() const { return good_offset_; }
  const std::string& path() const { return path_; }

 private:
  RecordReader(std::string path, std::FILE* file) : path_(std::move(path)), file_(file) {}
  std::string path_;
  std::FILE* file_;
  uint64_t good_offset_ = 0;
};

// A failed POSIX call as a status: "<what> <path>: <strerror(errno)>", with the code errno implies
// (RESOURCE_EXHAUSTED for a full disk, NOT_FOUND, PERMISSION_DENIED, else INTERNAL).
absl::Status ErrnoError(const std::string& what, const std::string& path);
// fsync of a file, or of a directory so that a create / rename / unlink inside it is durable.
absl::Status SyncPath(const std::string& path);
// "<prefix><n as 20 digits><suffix>": names that sort in numeric order.
std::string NumberedName(std::string_view prefix, uint64_t n, std::string_view suffix = "");
// Entries of `dir` named NumberedName(prefix, n, suffix), as (n, full path), ascending by n.
// Empty when the directory cannot be read.
std::vector<std::pair<uint64_t, std::string>> ListNumbered(const std::string& dir,
                                                           std::string_view prefix,
                                                           std::string_view suffix = "");
// crc32 and size of a whole file.
absl::Status FileChecksum(const std::string& path, uint32_t* crc, uint64_t* size);
// mkdir -p.
absl::Status MakeDirectories(const std::string& dir);
// rm -rf; OK when absent.
absl::Status RemoveTree(const std::string& path);

}  // namespace semrec

#endif  // SEMREC_CORE_STORAGE_RECORD_FILE_H_
