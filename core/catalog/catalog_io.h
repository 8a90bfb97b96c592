// Reading catalogs from JSON Lines files: one {"id","text","categories","attributes"} object per
// line, the format of examples/catalog.jsonl and of `semrec import`.
//
//   ASSIGN_OR_RETURN(std::vector<Item> items, ReadItemsJsonl("examples/catalog.jsonl"));
//
// Thread-safe: pure function.
#ifndef SEMREC_CORE_CATALOG_CATALOG_IO_H_
#define SEMREC_CORE_CATALOG_CATALOG_IO_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/catalog/item_catalog.h"

namespace semrec {

// NOT_FOUND for a missing file; INVALID_ARGUMENT naming the line for a malformed one. Blank lines
// are skipped. Attribute values that are not strings are kept as their JSON text.
absl::StatusOr<std::vector<Item>> ReadItemsJsonl(const std::string& path);

}  // namespace semrec

#endif  // SEMREC_CORE_CATALOG_CATALOG_IO_H_
