#include "core/storage/snapshot_dir.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/common/status_macros.h"
#include "core/storage/byte_codec.h"
#include "core/storage/record_file.h"

namespace semrec {
namespace {

constexpr char kPrefix[] = "snapshot-";
constexpr char kTmpPrefix[] = ".tmp-snapshot-";
constexpr char kManifest[] = "MANIFEST";
constexpr uint64_t kFormatVersion = 1;

absl::StatusOr<SnapshotInfo> ReadManifest(const std::string& dir) {
  ASSIGN_OR_RETURN(auto reader, RecordReader::Open(dir + "/" + kManifest));
  std::string payload;
  if (reader->Next(&payload) != RecordReader::Result::kRecord) {
    return absl::DataLossError(absl::StrCat(dir, ": the manifest is unreadable"));
  }
  SnapshotInfo info;
  info.path = dir;
  BufferReader header(payload);
  uint64_t version = 0, count = 0;
  if (!header.GetVarint(&version) || version != kFormatVersion || !header.GetFixed64(&info.lsn) ||
      !header.GetI64(&info.created_unix_us) || !header.GetVarint(&count)) {
    return absl::DataLossError(absl::StrCat(dir, ": unknown snapshot format version ", version));
  }
  for (uint64_t i = 0; i < count; ++i) {
    if (reader->Next(&payload) != RecordReader::Result::kRecord) {
      return absl::DataLossError(absl::StrCat(dir, ": the manifest is truncated"));
    }
    BufferReader in(payload);
    SnapshotFile f;
    uint64_t crc;
    if (!in.GetString(&f.name) || !in.GetFixed64(&f.size) || !in.GetVarint(&crc)) {
      return absl::DataLossError(absl::StrCat(dir, ": a manifest entry is malformed"));
    }
    f.crc = static_cast<uint32_t>(crc);
    info.files.push_back(std::move(f));
  }
  return info;
}

}  // namespace

const SnapshotFile* SnapshotInfo::Find(std::string_view name) const {
  for (const auto& f : files) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

absl::Status SnapshotInfo::Verify(std::string_view name) const {
  const SnapshotFile* f = Find(name);
  if (!f) return absl::DataLossError(absl::StrCat(path, " has no file '", std::string(name), "'"));
  uint32_t crc = 0;
  uint64_t size = 0;
  if (absl::Status s = FileChecksum(PathOf(name), &crc, &size); !s.ok()) {
    return absl::DataLossError(s.message());
  }
  if (size != f->size || crc != f->crc) {
    return absl::DataLossError(absl::StrCat(PathOf(name), " is corrupt: ", size, " bytes with crc32 ",
                                            crc, ", the manifest says ", f->size,
                                            " bytes with crc32 ", f->crc));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<SnapshotBuilder>> SnapshotBuilder::Begin(const std::string& root,
                                                                        uint64_t lsn) {
  RETURN_IF_ERROR(MakeDirectories(root));
  const std::string tmp = root + "/" + NumberedName(kTmpPrefix, lsn);
  RETURN_IF_ERROR(RemoveTree(tmp));
  RETURN_IF_ERROR(MakeDirectories(tmp));
  return std::unique_ptr<SnapshotBuilder>(new SnapshotBuilder(root, tmp, lsn));
}

SnapshotBuilder::~SnapshotBuilder() {
  if (!committed_) (void)RemoveTree(tmp_);
}

absl::Status SnapshotBuilder::AddFile(std::string_view name) {
  const std::string path = PathOf(name);
  RETURN_IF_ERROR(SyncPath(path));
  SnapshotFile f;
  f.name = std::string(name);
  RETURN_IF_ERROR(FileChecksum(path, &f.crc, &f.size));
  files_.push_back(std::move(f));
  return absl::OkStatus();
}

absl::Status SnapshotBuilder::LinkFrom(const SnapshotInfo& previous, std::string_view name) {
  const SnapshotFile* f = previous.Find(name);
  if (!f) {
    return absl::NotFoundError(absl::StrCat(previous.path, " has no file '", std::string(name), "'"));
  }
  if (::link(previous.PathOf(name).c_str(), PathOf(name).c_str()) != 0) {
    return ErrnoError("cannot link", previous.PathOf(name));
  }
  files_.push_back(*f);
  return absl::OkStatus();
}

absl::StatusOr<SnapshotInfo> SnapshotBuilder::Commit() {
  SnapshotInfo info;
  info.lsn = lsn_;
  info.created_unix_us = absl::ToUnixMicros(absl::Now());
  info.files = files_;
  {
    ASSIGN_OR_RETURN(auto manifest, RecordWriter::Create(PathOf(kManifest)));
    BufferWriter header;
    header.PutVarint(kFormatVersion);
    header.PutFixed64(lsn_);
    header.PutI64(info.created_unix_us);
    header.PutVarint(files_.size());
    RETURN_IF_ERROR(manifest->Append(header.data()));
    for (const auto& f : files_) {
      BufferWriter entry;
      entry.PutString(f.name);
      entry.PutFixed64(f.size);
      entry.PutVarint(f.crc);
      RETURN_IF_ERROR(manifest->Append(entry.data()));
    }
    RETURN_IF_ERROR(manifest->Close(/*sync=*/true));
  }
  RETURN_IF_ERROR(SyncPath(tmp_));
  info.path = root_ + "/" + NumberedName(kPrefix, lsn_);
  RETURN_IF_ERROR(RemoveTree(info.path));  // a snapshot at the same LSN: replace it
  if (::rename(tmp_.c_str(), info.path.c_str()) != 0) {
    return ErrnoError("cannot publish snapshot", info.path);
  }
  committed_ = true;
  RETURN_IF_ERROR(SyncPath(root_));
  return info;
}

absl::StatusOr<std::optional<SnapshotInfo>> FindLatestSnapshot(const std::string& root) {
  for (const auto& [lsn, path] : ListNumbered(root, kTmpPrefix)) {
    RETURN_IF_ERROR(RemoveTree(path));
  }
  auto published = ListNumbered(root, kPrefix);
  absl::Status last_error;
  for (auto it = published.rbegin(); it != published.rend(); ++it) {
    auto info = ReadManifest(it->second);
    if (info.ok()) {
      if (info->lsn != it->first) {
        last_error = absl::DataLossError(absl::StrCat(it->second, ": manifest LSN ", info->lsn,
                                                      " differs from the directory name"));
        continue;
      }
      return std::optional<SnapshotInfo>(*std::move(info));
    }
    last_error = info.status();
  }
  if (!last_error.ok()) return last_error;  // snapshots exist but none is readable
  return std::optional<SnapshotInfo>();
}

absl::Status RemoveSnapshotsExcept(const std::string& root, uint64_t keep_lsn) {
  bool removed = false;
  for (const auto& [lsn, path] : ListNumbered(root, kPrefix)) {
    if (lsn == keep_lsn) continue;
    RETURN_IF_ERROR(RemoveTree(path));
    removed = true;
  }
  return removed ? SyncPath(root) : absl::OkStatus();
}

}  // namespace semrec
