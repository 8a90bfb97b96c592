// Snapshot directories: <root>/snapshot-<lsn>/ holds the files of one consistent snapshot of the
// state after write-ahead log record <lsn>, plus a MANIFEST listing each file's size and crc32.
// A snapshot is built in a temporary directory, fsync'ed, and published by one atomic rename, so
// a crash leaves either the old or the new snapshot, never half of one.
//
//   ASSIGN_OR_RETURN(auto builder, SnapshotBuilder::Begin(root, lsn));
//   write builder->PathOf("users"); RETURN_IF_ERROR(builder->AddFile("users"));
//   ASSIGN_OR_RETURN(SnapshotInfo published, builder->Commit());
//   ASSIGN_OR_RETURN(std::optional<SnapshotInfo> latest, FindLatestSnapshot(root));
//
// Thread-compatible: one builder per snapshot; callers serialize snapshots of one root.
#ifndef SEMREC_CORE_STORAGE_SNAPSHOT_DIR_H_
#define SEMREC_CORE_STORAGE_SNAPSHOT_DIR_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace semrec {

struct SnapshotFile {
  std::string name;
  uint64_t size = 0;
  uint32_t crc = 0;
};

struct SnapshotInfo {
  uint64_t lsn = 0;          // the state after this write-ahead log record
  std::string path;          // the snapshot's directory
  int64_t created_unix_us = 0;
  std::vector<SnapshotFile> files;

  const SnapshotFile* Find(std::string_view name) const;
  std::string PathOf(std::string_view name) const { return path + "/" + std::string(name); }
  // DATA_LOSS when the file is missing or its size or crc32 differ from the manifest.
  absl::Status Verify(std::string_view name) const;
};

class SnapshotBuilder {
 public:
  static absl::StatusOr<std::unique_ptr<SnapshotBuilder>> Begin(const std::string& root,
                                                                uint64_t lsn);
  ~SnapshotBuilder();  // removes the temporary directory unless committed

  // Where to write file `name` (inside the temporary directory).
  std::string PathOf(std::string_view name) const { return tmp_ + "/" + std::string(name); }
  const std::string& dir() const { return tmp_; }
  // Records a file written at PathOf(name): fsyncs it and checksums it.
  absl::Status AddFile(std::string_view name);
  // Hard-links an unchanged file from a published snapshot instead of writing it again.
  absl::Status LinkFrom(const SnapshotInfo& previous, std::string_view name);
  // Writes the manifest, syncs, and renames the directory into place.
  absl::StatusOr<SnapshotInfo> Commit();

 private:
  SnapshotBuilder(std::string root, std::string tmp, uint64_t lsn)
      : root_(std::move(root)), tmp_(std::move(tmp)), lsn_(lsn) {}
  const std::string root_;
  const std::string tmp_;
  const uint64_t lsn_;
  std::vector<SnapshotFile> files_;
  bool committed_ = false;
};

// The published snapshot with the highest LSN whose manifest reads back intact; nullopt when
// there is none. Leftover temporary directories from an interrupted snapshot are removed.
absl::StatusOr<std::optional<SnapshotInfo>> FindLatestSnapshot(const std::string& root);
// Removes every published snapshot other than `keep_lsn`'s.
absl::Status RemoveSnapshotsExcept(const std::string& root, uint64_t keep_lsn);

}  // namespace semrec

#endif  // SEMREC_CORE_STORAGE_SNAPSHOT_DIR_H_
