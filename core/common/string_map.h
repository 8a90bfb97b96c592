// Hash containers keyed by std::string that accept std::string_view lookups without a copy.
// (Debian's Abseil is built with its own absl::string_view, so its default heterogeneous lookup
// does not take std::string_view.)
//
//   StringMap<int> counts;
//   counts["a"] = 1;
//   counts.find(std::string_view("a"));
//
// Thread-compatible: plain containers.
#ifndef SEMREC_CORE_COMMON_STRING_MAP_H_
#define SEMREC_CORE_COMMON_STRING_MAP_H_

#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"

namespace semrec {

struct StringViewHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const {
    return absl::Hash<absl::string_view>{}(absl::string_view(s.data(), s.size()));
  }
};

struct StringViewEq {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const { return a == b; }
};

template <typename V>
using StringMap = absl::flat_hash_map<std::string, V, StringViewHash, StringViewEq>;
using StringSet = absl::flat_hash_set<std::string, StringViewHash, StringViewEq>;
using StringViewSet = absl::flat_hash_set<std::string_view, StringViewHash, StringViewEq>;

}  // namespace semrec

#endif  // SEMREC_CORE_COMMON_STRING_MAP_H_
