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

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

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

// A set of numbers that stand for the strings of a list (`names[i]` for number i), found by
// the string: each string is stored once, in the list, instead of again as a key. The list must
// outlive the set, and only grow while the set is in use (numbers stay valid).
//
//   std::vector<std::string> names;
//   IndexedStringSet ids(0, IndexedStringHash{&names}, IndexedStringEq{&names});
//   names.push_back("a"); ids.insert(0);
//   auto it = ids.find(std::string_view("a"));   // *it == 0
struct IndexedStringHash {
  using is_transparent = void;
  const std::vector<std::string>* names;
  size_t operator()(std::string_view name) const { return StringViewHash{}(name); }
  size_t operator()(uint32_t i) const { return StringViewHash{}((*names)[i]); }
};
struct IndexedStringEq {
  using is_transparent = void;
  const std::vector<std::string>* names;
  bool operator()(uint32_t a, uint32_t b) const { return (*names)[a] == (*names)[b]; }
  bool operator()(std::string_view a, uint32_t b) const { return a == (*names)[b]; }
  bool operator()(uint32_t a, std::string_view b) const { return (*names)[a] == b; }
};
using IndexedStringSet = absl::flat_hash_set<uint32_t, IndexedStringHash, IndexedStringEq>;

}  // namespace semrec

#endif  // SEMREC_CORE_COMMON_STRING_MAP_H_
