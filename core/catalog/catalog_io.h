// Reading catalogs from JSON Lines files: one {"id","text","categories","attributes"} object per
// line, the format of examples/catalog.jsonl and of `semrec import`. A line may also carry
// "embedding": [floats], a vector computed offline that the server stores instead of embedding
// the text (tools/synthetic_catalog.py --embedding-dim writes such files).
//
//   ASSIGN_OR_RETURN(std::vector<Item> items, ReadItemsJsonl("examples/catalog.jsonl"));
//   ASSIGN_OR_RETURN(CatalogReader reader, CatalogReader::Open(path));  // large files, in batches
//   ASSIGN_OR_RETURN(std::vector<CatalogRecord> batch, reader.Next(1000));  // empty at the end
//
// Thread-compatible: a CatalogReader is used by one thread at a time; ReadItemsJsonl is pure.
#ifndef SEMREC_CORE_CATALOG_CATALOG_IO_H_
#define SEMREC_CORE_CATALOG_CATALOG_IO_H_

#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/catalog/item_catalog.h"

namespace semrec {

// One line of a catalog file.
struct CatalogRecord {
  Item item;
  std::vector<float> embedding;  // empty: the server embeds item.text
};

// Streams a catalog file, so that a million-line file with embeddings (gigabytes of text) is
// never held in memory at once.
class CatalogReader {
 public:
  // NOT_FOUND for a missing file.
  static absl::StatusOr<CatalogReader> Open(const std::string& path);

  // The next `max` records (fewer at the end of the file, none after it). INVALID_ARGUMENT
  // naming the file and line for a malformed line; blank lines are skipped; attribute values that
  // are not strings are kept as their JSON text.
  absl::StatusOr<std::vector<CatalogRecord>> Next(size_t max);

 private:
  CatalogReader(std::string path, std::unique_ptr<std::ifstream> in)
      : path_(std::move(path)), in_(std::move(in)) {}

  std::string path_;
  std::unique_ptr<std::ifstream> in_;
  int64_t line_no_ = 0;
};

// The whole file's items; embeddings, if any, are dropped (callers that use them read records).
absl::StatusOr<std::vector<Item>> ReadItemsJsonl(const std::string& path);

// The number of lines that are not blank (what CatalogReader reads: a fast scan for progress
// bars); NOT_FOUND for a missing file.
absl::StatusOr<int64_t> CountRecordLines(const std::string& path);

}  // namespace semrec

#endif  // SEMREC_CORE_CATALOG_CATALOG_IO_H_
