// CoOccurrenceModel: item-to-item collaborative signal learned online from feedback ("people who
// liked X also liked Y"). Each positive event pairs the item with the same user's recent positive
// items, weighted by both events' weights and by how close in time they happened; scores are
// normalized by both items' interaction mass (cosine-like) so popular items do not dominate.
// Memory is bounded: each item keeps its strongest `max_neighbors` neighbours (at most twice as
// many between prunings).
//
//   CoOccurrenceModel model({});
//   model.Record("movie-2", 1.0, ts, {{"movie-1", 1.0, ts - 60'000'000}});
//   auto similar = model.Neighbors("movie-1", 10);   // [("movie-2", 0.9), ...]
//
// Thread-safe: items are sharded over mutexes; no lock is held while another is taken.
#ifndef SEMREC_CORE_COLLAB_CO_OCCURRENCE_H_
#define SEMREC_CORE_COLLAB_CO_OCCURRENCE_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "core/common/string_map.h"

namespace semrec {

struct CoOccurrenceOptions {
  int max_neighbors = 200;  // neighbours kept per item (memory bound); start-up only
  // A pair's weight halves for every this many seconds between the two events: items consumed
  // in the same session count most. Start-up only.
  double pair_half_life_seconds = 3600.0;
  // Score = pair weight / (sqrt(mass_a * mass_b) + shrinkage): a pair seen once among few events
  // stays small (1 / (1 + 5) = 0.17), one seen for most of both items' users nears 1.
  double shrinkage = 5.0;

  absl::Status Validate() const;
};

struct PastItem {
  std::string_view item_id;
  float weight = 1;
  int64_t timestamp_us = 0;
};

class CoOccurrenceModel {
 public:
  explicit CoOccurrenceModel(const CoOccurrenceOptions& options);

  // A user interacted with `item_id` (weight > 0) at `timestamp_us`; `previous` are that user's
  // earlier positive items (the item itself is skipped if present).
  void Record(std::string_view item_id, float weight, int64_t timestamp_us,
              absl::Span<const PastItem> previous);

  // Up to `n` neighbours of `item_id`, best first, scores in (0, 1].
  std::vector<std::pair<std::string, float>> Neighbors(std::string_view item_id, int n) const;

  // Drops the item and every pair with it (catalog deletion).
  void Forget(std::string_view item_id);

  size_t items() const;

  // The whole model, for snapshots (items are numbered: `names[i]` is item i). Import replaces
  // the model; INVALID_ARGUMENT when the state refers to items it does not name.
  struct State {
    struct Node {
      uint32_t item = 0;
      double mass = 0;
      bool forgotten = false;
      std::vector<std::pair<uint32_t, float>> neighbors;
    };
    std::vector<std::string> names;
    std::vector<Node> nodes;
  };
  State Export() const;
  absl::Status Import(State state);

 private:
  static constexpr size_t kShards = 64;
  // An item's state. Items are numbered densely (Intern), so each shard holds its items' nodes in
  // a vector (item i is nodes[i / kShards] of shard i % kShards), and a node's pairs are a vector
  // sorted by neighbour: 8 bytes a pair, where a hash map per item took about 17 and a hash map of
  // nodes per shard twice a node (memory_benchmark, 1M items: 167 bytes an item, 410 before).
  struct Node {
    double mass = 0;                             // sum of the item's event weights
    std::vector<std::pair<uint32_t, float>> co;  // (neighbour, accumulated pair weight)
    bool present = false;  // recorded or imported: Export writes it, Neighbors reads it
    bool forgotten = false;
  };
  struct Shard {
    mutable absl::Mutex mu;
    std::vector<Node> nodes ABSL_GUARDED_BY(mu);
  };

  uint32_t Intern(std::string_view id);
  bool Lookup(std::string_view id, uint32_t* out) const;
  std::string NameOf(uint32_t idx) const;
  Shard& ShardOf(uint32_t idx) const { return shards_[idx % kShards]; }
  // The item's node, nullptr when it has none.
  static const Node* Find(const Shard& shard, uint32_t idx) ABSL_SHARED_LOCKS_REQUIRED(shard.mu);
  static Node* Find(Shard& shard, uint32_t idx) ABSL_SHARED_LOCKS_REQUIRED(shard.mu);
  // The item's node, made present.
  static Node& Touch(Shard& shard, uint32_t idx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);
  // Numbers names_ in ids_; returns the first name that appears twice, else nullptr.
  const std::string* IndexNamesLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(names_mu_);
  void AddPair(uint32_t from, uint32_t to, float w);
  void AddMass(uint32_t idx, float w);
  double MassOf(uint32_t idx) const;

  const CoOccurrenceOptions options_;
  mutable std::array<Shard, kShards> shards_;
  mutable absl::Mutex names_mu_;
  std::vector<std::string> names_ ABSL_GUARDED_BY(names_mu_);
  // Item numbers by name, each name stored once, in names_ (a map keyed by std::string took 40
  // more bytes a slot).
  IndexedStringSet ids_ ABSL_GUARDED_BY(names_mu_){0, IndexedStringHash{&names_},
                                                   IndexedStringEq{&names_}};
};

}  // namespace semrec

#endif  // SEMREC_CORE_COLLAB_CO_OCCURRENCE_H_
