#include "core/index/hnsw_index.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "core/storage/byte_codec.h"
#include "core/storage/record_file.h"
#include "core/storage/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace semrec {
namespace {

std::vector<float> RandomUnit(std::mt19937& rng, int dim) {
  std::normal_distribution<float> n;
  std::vector<float> v(dim);
  float norm = 0;
  for (auto& x : v) {
    x = n(rng);
    norm += x * x;
  }
  for (auto& x : v) x /= std::sqrt(norm);
  return v;
}

float Dot(const std::vector<float>& a, const std::vector<float>& b) {
  float s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

std::unique_ptr<HnswIndex> MakeIndex(
    int dim, size_t capacity = 16,
    HnswIndex::Quantization quantization = HnswIndex::Quantization::kNone) {
  HnswIndex::Options o;
  o.dimension = dim;
  o.initial_capacity = capacity;
  o.quantization = quantization;
  auto index = HnswIndex::Create(o);
  EXPECT_TRUE(index.ok()) << index.status();
  return std::move(index).value();
}

TEST(HnswIndexTest, FindsExactNeighboursAndGrowsPastInitialCapacity) {
  constexpr int kDim = 32, kN = 2000;
  std::mt19937 rng(7);
  auto index = MakeIndex(kDim, 16);  // must grow ~7 times
  std::vector<std::vector<float>> vecs;
  for (int i = 0; i < kN; ++i) {
    vecs.push_back(RandomUnit(rng, kDim));
    ASSERT_TRUE(index->Upsert(absl::StrCat("item-", i), vecs.back()).ok());
  }
  EXPECT_EQ(index->size(), static_cast<size_t>(kN));
  int agree = 0, total = 0;
  for (int q = 0; q < 50; ++q) {
    auto query = RandomUnit(rng, kDim);
    std::vector<std::pair<float, int>> exact;
    for (int i = 0; i < kN; ++i) exact.push_back({Dot(query, vecs[i]), i});
    std::partial_sort(exact.begin(), exact.begin() + 10, exact.end(), std::greater<>());
    auto hits = index->Search(query, 10);
    ASSERT_TRUE(hits.ok());
    ASSERT_EQ(hits->size(), 10u);
    for (int j = 0; j < 10; ++j) {
      for (const auto& h : *hits) {
        if (h.id == absl::StrCat("item-", exact[j].second)) ++agree;
      }
      ++total;
    }
    EXPECT_NEAR((*hits)[0].score, Dot(query, *index->GetVector((*hits)[0].id)), 1e-5);
    for (size_t j = 1; j < hits->size(); ++j) EXPECT_GE((*hits)[j - 1].score, (*hits)[j].score);
  }
  EXPECT_GE(static_cast<double>(agree) / total, 0.95);  // recall@10
}

TEST(HnswIndexTest, UpsertReplacesRemoveHidesAndReAddWorks) {
  auto index = MakeIndex(3);
  ASSERT_TRUE(index->Upsert("a", {1, 0, 0}).ok());
  ASSERT_TRUE(index->Upsert("b", {0, 1, 0}).ok());
  auto hits = index->Search({1, 0, 0}, 1);
  ASSERT_TRUE(hits.ok());
  EXPECT_EQ((*hits)[0].id, "a");
  // Moving "a" away makes "b" the nearest to the old position's neighbour.
  ASSERT_TRUE(index->Upsert("a", {0, 0, 1}).ok());
  EXPECT_EQ(index->size(), 2u);
  EXPECT_THAT(*index->GetVector("a"), ::testing::ElementsAre(0, 0, 1));
  hits = index->Search({0, 0.9f, 0.1f}, 2);
  EXPECT_EQ((*hits)[0].id, "b");

  ASSERT_TRUE(index->Remove("b").ok());
  EXPECT_FALSE(index->Contains("b"));
  EXPECT_EQ(index->Remove("b").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(index->GetVector("b").status().code(), absl::StatusCode::kNotFound);
  hits = index->Search({0, 1, 0}, 5);
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_EQ((*hits)[0].id, "a");

  ASSERT_TRUE(index->Upsert("b", {0, 1, 0}).ok());
  hits = index->Search({0, 1, 0}, 1);
  EXPECT_EQ((*hits)[0].id, "b");
  EXPECT_EQ(index->removed_slots(), 1u);

  auto many = index->GetVectors({"b", "missing", "a"});
  ASSERT_EQ(many.size(), 3u);
  EXPECT_THAT(many[0], ::testing::ElementsAre(0, 1, 0));
  EXPECT_TRUE(many[1].empty());
  EXPECT_THAT(many[2], ::testing::ElementsAre(0, 0, 1));
}

TEST(HnswIndexTest, FilterReturnsKAcceptedEvenWhenRare) {
  constexpr int kDim = 16;
  std::mt19937 rng(3);
  auto index = MakeIndex(kDim);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(index->Upsert(absl::StrCat(i), RandomUnit(rng, kDim)).ok());
  // Only ids ending in "7" and below 300 pass: 30 items out of 1000.
  auto accept = [](std::string_view id) { return id.back() == '7' && std::stoi(std::string(id)) < 300; };
  auto hits = index->Search(RandomUnit(rng, kDim), 10, accept);
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ(hits->size(), 10u);
  for (const auto& h : *hits) EXPECT_TRUE(accept(h.id)) << h.id;
  hits = index->Search(RandomUnit(rng, kDim), 100, accept);
  EXPECT_EQ(hits->size(), 30u);
}

TEST(HnswIndexTest, BadInputIsRejected) {
  auto index = MakeIndex(4);
  EXPECT_EQ(index->Upsert("x", {1, 2}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(index->Upsert("", {1, 0, 0, 0}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(index->Search({1, 0}, 3).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(index->Search({1, 0, 0, 0}, 0).status().code(), absl::StatusCode::kInvalidArgument);
  auto empty = index->Search({1, 0, 0, 0}, 3);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  HnswIndex::Options bad;
  EXPECT_EQ(HnswIndex::Create(bad).status().code(), absl::StatusCode::kInvalidArgument);
}

// Searches while another thread inserts (with growth) and removes: must neither crash nor return
// removed items (hnswlib alone is not safe here, issue #562).
TEST(HnswIndexTest, ConcurrentSearchesAndWrites) {
  constexpr int kDim = 16;
  auto index = MakeIndex(kDim, 16);
  std::thread writer([&] {
    std::mt19937 rng(11);
    for (int i = 0; i < 3000; ++i) {
      ASSERT_TRUE(index->Upsert(absl::StrCat("w", i), RandomUnit(rng, kDim)).ok());
      if (i % 3 == 0) ASSERT_TRUE(index->Remove(absl::StrCat("w", i)).ok());
    }
  });
  std::thread reader([&] {
    std::mt19937 rng(12);
    for (int i = 0; i < 2000; ++i) {
      auto hits = index->Search(RandomUnit(rng, kDim), 10);
      ASSERT_TRUE(hits.ok());
      for (const auto& h : *hits) EXPECT_FALSE(h.id.empty());
    }
  });
  writer.join();
  reader.join();
  EXPECT_EQ(index->size(), 2000u);
}

// Inserts are linked into the graph beside the searches (only their publication and growth take
// the write lock): searches, filtered searches, SearchAmong and GetVector run from two threads
// while one thread inserts single items and batches (from a capacity of 16, so the index grows
// under them), updates and removes. No reader may see an item before its insert started (an
// unpublished label would name no id: ASan, in CI, reports the read), nor a score that is not its
// vector's inner product with the query.
void InsertsBesideSearches(HnswIndex::Quantization quantization) {
  constexpr int kDim = 32;
  constexpr int kItems = 3000;
  HnswIndex::Options o;
  o.dimension = kDim;
  o.initial_capacity = 16;
  o.quantization = quantization;
  o.insert_threads = 2;
  auto made = HnswIndex::Create(o);
  ASSERT_TRUE(made.ok()) << made.status();
  std::unique_ptr<HnswIndex> index = std::move(made).value();
  std::vector<std::vector<float>> vectors;
  std::mt19937 rng(21);
  for (int i = 0; i < kItems; ++i) vectors.push_back(RandomUnit(rng, kDim));
  auto number = [](const std::string& id) { return std::stoi(id.substr(1)); };
  ASSERT_TRUE(index->Upsert("n0", vectors[0]).ok());
  std::atomic<int> started{1};  // items n0 .. n(started-1) were inserted or are being inserted
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    int i = 1;
    while (i < kItems) {
      if (i % 100 == 0) {  // a batch of 40 new items
        std::vector<ItemVector> batch;
        std::vector<std::string> ids;
        for (int j = i; j < i + 40; ++j) ids.push_back(absl::StrCat("n", j));
        for (int j = 0; j < 40; ++j) batch.push_back(ItemVector{ids[j], vectors[i + j]});
        started.store(i + 40);
        ASSERT_TRUE(index->UpsertBatch(batch).ok());
        i += 40;
      } else {
        started.store(i + 1);
        ASSERT_TRUE(index->Upsert(absl::StrCat("n", i), vectors[i]).ok());
        ++i;
      }
      if (i % 7 == 0) ASSERT_TRUE(index->Remove(absl::StrCat("n", i - 5)).ok());
      if (i % 11 == 0) {  // re-inserting the same vector: an update in place
        ASSERT_TRUE(index->Upsert(absl::StrCat("n", i - 3), vectors[i - 3]).ok());
      }
    }
    stop = true;
  });
  auto reader = [&](int seed) {
    std::mt19937 r(seed);
    int searches = 0;
    while (!stop || searches < 50) {
      const std::vector<float> q = RandomUnit(r, kDim);
      const bool filtered = searches % 3 == 0;
      auto hits = filtered ? index->Search(q, 10, [&](std::string_view id) {
        return std::stoi(std::string(id.substr(1))) % 2 == 0;
      })
                           : index->Search(q, 10);
      const int started_now = started.load();
      ASSERT_TRUE(hits.ok()) << hits.status();
      for (const IndexHit& h : *hits) {
        ASSERT_FALSE(h.id.empty());
        const int n = number(h.id);
        ASSERT_LT(n, started_now) << h.id << " was served before its insert started";
        if (filtered) ASSERT_EQ(n % 2, 0);
        ASSERT_NEAR(h.score, Dot(q, vectors[n]), 0.02) << h.id;
      }
      const int probe = static_cast<int>(r() % started_now);
      auto v = index->GetVector(absl::StrCat("n", probe));
      if (v.ok()) {
        ASSERT_GT(Dot(*v, vectors[probe]), 0.999f) << "n" << probe;
      }
      std::vector<std::string> among;
      for (int j = 0; j < 20; ++j) among.push_back(absl::StrCat("n", r() % started_now));
      auto exact = index->SearchAmong(q, 5, among);
      ASSERT_TRUE(exact.ok());
      for (const IndexHit& h : *exact) ASSERT_NEAR(h.score, Dot(q, vectors[number(h.id)]), 1e-4);
      ++searches;
    }
  };
  std::thread reader1(reader, 1), reader2(reader, 2);
  writer.join();
  reader1.join();
  reader2.join();
  // Every item still there is found by its own vector.
  int missing = 0;
  for (int i = 0; i < kItems; ++i) {
    const std::string id = absl::StrCat("n", i);
    if (!index->Contains(id)) continue;
    auto hits = index->Search(vectors[i], 1);
    ASSERT_TRUE(hits.ok());
    if (hits->empty() || (*hits)[0].id != id) ++missing;
  }
  EXPECT_LE(missing, kItems / 100);
}

TEST(HnswIndexTest, InsertsRunBesideSearches) { InsertsBesideSearches(HnswIndex::Quantization::kNone); }

TEST(HnswIndexTest, Int8InsertsRunBesideSearches) {
  InsertsBesideSearches(HnswIndex::Quantization::kInt8);
}

TEST(HnswIndexTest, SaveAndLoadKeepItemsRemovalsAndResults) {
  ScopedTempDir temp;
  const std::string& dir = temp.path();
  ASSERT_FALSE(dir.empty());
  std::mt19937 rng(3);
  constexpr int kDim = 16;
  auto index = MakeIndex(kDim);
  std::vector<std::vector<float>> vecs;
  for (int i = 0; i < 200; ++i) {
    vecs.push_back(RandomUnit(rng, kDim));
    ASSERT_TRUE(index->Upsert(absl::StrCat("item-", i), vecs.back()).ok());
  }
  ASSERT_TRUE(index->Remove("item-7").ok());
  ASSERT_TRUE(index->Upsert("item-8", vecs[9]).ok());  // replaced vector
  auto files = index->SaveTo(dir);
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(files->size(), 2u);

  auto loaded = MakeIndex(kDim);
  ASSERT_TRUE(loaded->LoadFrom(dir).ok());
  EXPECT_EQ(loaded->size(), 199u);
  EXPECT_EQ(loaded->removed_slots(), 1u);
  EXPECT_FALSE(loaded->Contains("item-7"));
  EXPECT_EQ(*loaded->GetVector("item-8"), vecs[9]);
  for (int q = 0; q < 20; ++q) {
    auto query = RandomUnit(rng, kDim);
    auto a = index->Search(query, 10);
    auto b = loaded->Search(query, 10);
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_EQ(a->size(), b->size());
    for (size_t i = 0; i < a->size(); ++i) EXPECT_EQ((*a)[i].id, (*b)[i].id);
  }
  // It keeps working as a live index: inserts past the loaded capacity, removals.
  for (int i = 200; i < 300; ++i) ASSERT_TRUE(loaded->Upsert(absl::StrCat("item-", i), RandomUnit(rng, kDim)).ok());
  ASSERT_TRUE(loaded->Remove("item-0").ok());
  EXPECT_EQ(loaded->size(), 298u);

  // A different dimension is refused with a message naming both.
  auto other = MakeIndex(8);
  absl::Status s = other->LoadFrom(dir);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("16-dimensional"));
  // An ids file naming one id twice is DATA_LOSS.
  {
    auto ids = RecordWriter::Create(dir + "/hnsw.ids");
    ASSERT_TRUE(ids.ok());
    BufferWriter header, chunk;
    for (uint64_t v : {1, kDim, 200, 1}) header.PutVarint(v);
    for (int i = 0; i < 200; ++i)
      chunk.PutString(i == 7 ? "" : i == 9 ? "item-8" : absl::StrCat("item-", i));
    ASSERT_TRUE((*ids)->Append(header.data()).ok());
    ASSERT_TRUE((*ids)->Append(chunk.data()).ok());
    ASSERT_TRUE((*ids)->Close(false).ok());
    absl::Status dup = MakeIndex(kDim)->LoadFrom(dir);
    EXPECT_EQ(dup.code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(std::string(dup.message()), ::testing::HasSubstr("'item-8' appears twice"));
  }
  // A link past the last element (the first neighbour of element 0, after the 96-byte header)
  // is DATA_LOSS, not a wild read in a later search.
  ASSERT_TRUE(index->SaveTo(dir).ok());
  {
    std::FILE* graph = std::fopen((dir + "/hnsw.graph").c_str(), "r+b");
    ASSERT_NE(graph, nullptr);
    const uint32_t wild = 0xFFFFFF;
    ASSERT_EQ(std::fseek(graph, 96 + 4, SEEK_SET), 0);
    ASSERT_EQ(std::fwrite(&wild, sizeof(wild), 1, graph), 1u);
    std::fclose(graph);
    absl::Status s = MakeIndex(kDim)->LoadFrom(dir);
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("past the last element"));
  }
  // A truncated graph is DATA_LOSS, not a crash.
  ASSERT_EQ(::truncate((dir + "/hnsw.graph").c_str(), 1000), 0);
  EXPECT_EQ(MakeIndex(kDim)->LoadFrom(dir).code(), absl::StatusCode::kDataLoss);
}

// Recall@10 of `index` against brute force over `vecs` (ids "item-<i>"), on `queries` random
// queries, with only items whose number passes `keep`.
double Recall(const HnswIndex& index, const std::vector<std::vector<float>>& vecs,
              std::mt19937& rng, int queries, bool (*keep)(int) = nullptr) {
  const int dim = index.dimension();
  int agree = 0, total = 0;
  for (int q = 0; q < queries; ++q) {
    auto query = RandomUnit(rng, dim);
    std::vector<std::pair<float, int>> exact;
    for (size_t i = 0; i < vecs.size(); ++i) {
      if (!keep || keep(static_cast<int>(i)))
        exact.push_back({Dot(query, vecs[i]), static_cast<int>(i)});
    }
    std::partial_sort(exact.begin(), exact.begin() + 10, exact.end(), std::greater<>());
    ItemIndex::Accept accept;
    if (keep)
      accept = [keep](std::string_view id) { return keep(std::stoi(std::string(id.substr(5)))); };
    auto hits = index.Search(query, 10, accept);
    EXPECT_TRUE(hits.ok());
    EXPECT_EQ(hits->size(), 10u);
    for (int j = 0; j < 10; ++j) {
      for (const auto& h : *hits) agree += h.id == absl::StrCat("item-", exact[j].second);
      ++total;
    }
    for (const auto& h : *hits) {
      // Scores are exact fp32 inner products, best first.
      EXPECT_NEAR(h.score, Dot(query, *index.GetVector(h.id)), 1e-5);
      if (keep) EXPECT_TRUE(accept(h.id)) << h.id;
    }
    for (size_t j = 1; j < hits->size(); ++j) EXPECT_GE((*hits)[j - 1].score, (*hits)[j].score);
  }
  return static_cast<double>(agree) / total;
}

TEST(HnswIndexTest, Int8FindsExactNeighboursWithExactScoresAndVectors) {
  constexpr int kDim = 96, kN = 3000;
  std::mt19937 rng(21);
  auto index = MakeIndex(kDim, 16, HnswIndex::Quantization::kInt8);
  EXPECT_EQ(index->quantization(), HnswIndex::Quantization::kInt8);
  EXPECT_THAT(index->kernel_name(), ::testing::StartsWith("int8-"));
  std::vector<std::vector<float>> vecs;
  for (int i = 0; i < kN; ++i) {
    vecs.push_back(RandomUnit(rng, kDim));
    ASSERT_TRUE(index->Upsert(absl::StrCat("item-", i), vecs.back()).ok());
  }
  EXPECT_EQ(*index->GetVector("item-17"), vecs[17]);  // the fp32 vector, not its int8 codes
  index->SetSearchEf(200);  // random 96-d vectors are hard: fp32 needs this for 0.95 as well
  EXPECT_GE(Recall(*index, vecs, rng, 50), 0.95);
  // A filter keeping 5% is applied inside the graph walk.
  EXPECT_GE(Recall(*index, vecs, rng, 20, [](int i) { return i % 20 == 3; }), 0.95);
  // Replacing a vector replaces both forms.
  ASSERT_TRUE(index->Upsert("item-5", vecs[6]).ok());
  EXPECT_EQ(*index->GetVector("item-5"), vecs[6]);
  auto hits = index->Search(vecs[6], 2);
  ASSERT_TRUE(hits.ok());
  EXPECT_THAT((std::vector<std::string>{(*hits)[0].id, (*hits)[1].id}),
              ::testing::UnorderedElementsAre("item-5", "item-6"));
}

TEST(HnswIndexTest, FilteredSearchKeepsRecallAtOnePercent) {
  constexpr int kDim = 32, kN = 5000;
  std::mt19937 rng(22);
  auto index = MakeIndex(kDim, 16);
  std::vector<std::vector<float>> vecs;
  for (int i = 0; i < kN; ++i) {
    vecs.push_back(RandomUnit(rng, kDim));
    ASSERT_TRUE(index->Upsert(absl::StrCat("item-", i), vecs.back()).ok());
  }
  EXPECT_GE(Recall(*index, vecs, rng, 20, [](int i) { return i % 100 == 42; }), 0.95);
  // Removed items are never returned, filtered or not.
  for (int i = 0; i < kN; i += 2) ASSERT_TRUE(index->Remove(absl::StrCat("item-", i)).ok());
  auto hits = index->Search(RandomUnit(rng, kDim), 50);
  ASSERT_TRUE(hits.ok());
  EXPECT_EQ(hits->size(), 50u);
  for (const auto& h : *hits) EXPECT_EQ(std::stoi(h.id.substr(5)) % 2, 1) << h.id;
}

TEST(HnswIndexTest, SearchAmongIsExactOverTheCandidates) {
  for (auto quantization : {HnswIndex::Quantization::kNone, HnswIndex::Quantization::kInt8}) {
    constexpr int kDim = 48;
    std::mt19937 rng(25);
    auto index = MakeIndex(kDim, 16, quantization);
    std::vector<std::vector<float>> vecs;
    for (int i = 0; i < 1000; ++i) {
      vecs.push_back(RandomUnit(rng, kDim));
      ASSERT_TRUE(index->Upsert(absl::StrCat("item-", i), vecs.back()).ok());
    }
    ASSERT_TRUE(index->Remove("item-30").ok());
    std::vector<std::string> candidates = {"missing", "item-30"};
    for (int i = 0; i < 1000; i += 10) candidates.push_back(absl::StrCat("item-", i));
    const auto query = RandomUnit(rng, kDim);
    std::vector<std::pair<float, std::string>> exact;
    for (int i = 0; i < 1000; i += 10) {
      if (i != 30) exact.push_back({Dot(query, vecs[i]), absl::StrCat("item-", i)});
    }
    std::sort(exact.begin(), exact.end(), std::greater<>());
    auto hits = index->SearchAmong(query, 5, candidates);
    ASSERT_TRUE(hits.ok()) << hits.status();
    ASSERT_EQ(hits->size(), 5u);
    for (int j = 0; j < 5; ++j) {
      EXPECT_EQ((*hits)[j].id, exact[j].second);
      EXPECT_NEAR((*hits)[j].score, exact[j].first, 1e-5);
    }
    // Fewer candidates than k: all of them. The interface's default gives the same answer.
    auto few = index->SearchAmong(query, 10, {"item-1", "item-2"});
    ASSERT_TRUE(few.ok());
    EXPECT_EQ(few->size(), 2u);
    auto by_default = index->ItemIndex::SearchAmong(query, 5, candidates);
    ASSERT_TRUE(by_default.ok());
    for (int j = 0; j < 5; ++j) EXPECT_EQ((*by_default)[j].id, (*hits)[j].id);
    EXPECT_EQ(index->SearchAmong(query, 0, candidates).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
}

TEST(HnswIndexTest, UpsertBatchInsertsInParallelAndLaterDuplicatesWin) {
  for (auto quantization : {HnswIndex::Quantization::kNone, HnswIndex::Quantization::kInt8}) {
    constexpr int kDim = 24, kN = 3000;
    HnswIndex::Options o;
    o.dimension = kDim;
    o.initial_capacity = 16;  // grows inside the batch
    o.insert_threads = 2;
    o.quantization = quantization;
    auto index = std::move(HnswIndex::Create(o)).value();
    std::mt19937 rng(23);
    std::vector<std::vector<float>> vecs;
    std::vector<std::string> ids;
    for (int i = 0; i < kN; ++i) {
      vecs.push_back(RandomUnit(rng, kDim));
      ids.push_back(absl::StrCat("item-", i));
    }
    ASSERT_TRUE(index->Upsert("item-0", vecs[1]).ok());  // exists before: updated by the batch
    std::vector<ItemVector> batch;
    for (int i = 0; i < kN; ++i) batch.push_back({ids[i], vecs[i]});
    const auto other = RandomUnit(rng, kDim);
    batch.push_back({ids[10], other});  // later duplicate: wins over vecs[10]
    ASSERT_TRUE(index->UpsertBatch(batch).ok());
    EXPECT_EQ(index->size(), static_cast<size_t>(kN));
    EXPECT_EQ(*index->GetVector("item-0"), vecs[0]);
    EXPECT_EQ(*index->GetVector("item-10"), other);
    vecs[10] = other;
    EXPECT_GE(Recall(*index, vecs, rng, 30), 0.95);

    // A bad item anywhere: INVALID_ARGUMENT naming it, and nothing written.
    std::vector<float> short_vec(kDim - 1, 0.1f);
    const auto fresh = RandomUnit(rng, kDim);
    std::vector<ItemVector> bad = {{"new-1", fresh}, {"new-2", short_vec}};
    absl::Status s = index->UpsertBatch(bad);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("new-2"));
    EXPECT_FALSE(index->Contains("new-1"));
    EXPECT_EQ(index->size(), static_cast<size_t>(kN));
  }
}

TEST(HnswIndexTest, Int8SaveAndLoadKeepVectorsAndResults) {
  ScopedTempDir temp;
  const std::string& dir = temp.path();
  ASSERT_FALSE(dir.empty());
  std::mt19937 rng(24);
  constexpr int kDim = 40;
  auto index = MakeIndex(kDim, 16, HnswIndex::Quantization::kInt8);
  std::vector<std::vector<float>> vecs;
  for (int i = 0; i < 500; ++i) {
    vecs.push_back(RandomUnit(rng, kDim));
    ASSERT_TRUE(index->Upsert(absl::StrCat("item-", i), vecs.back()).ok());
  }
  ASSERT_TRUE(index->Remove("item-7").ok());
  ASSERT_TRUE(index->Upsert("item-8", vecs[9]).ok());
  auto files = index->SaveTo(dir);
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_THAT(*files, ::testing::ElementsAre("hnsw.graph", "hnsw.ids", "hnsw.vectors"));

  auto loaded = MakeIndex(kDim, 16, HnswIndex::Quantization::kInt8);
  ASSERT_TRUE(loaded->LoadFrom(dir).ok());
  EXPECT_EQ(loaded->size(), 499u);
  EXPECT_FALSE(loaded->Contains("item-7"));
  EXPECT_EQ(*loaded->GetVector("item-8"), vecs[9]);
  EXPECT_EQ(*loaded->GetVector("item-499"), vecs[499]);
  for (int q = 0; q < 20; ++q) {
    auto query = RandomUnit(rng, kDim);
    auto a = index->Search(query, 10);
    auto b = loaded->Search(query, 10);
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_EQ(a->size(), b->size());
    for (size_t i = 0; i < a->size(); ++i) {
      EXPECT_EQ((*a)[i].id, (*b)[i].id);
      EXPECT_EQ((*a)[i].score, (*b)[i].score);
    }
  }
  // Still a live index after loading: it grows past the loaded capacity.
  for (int i = 500; i < 600; ++i) {
    ASSERT_TRUE(loaded->Upsert(absl::StrCat("item-", i), RandomUnit(rng, kDim)).ok());
  }
  EXPECT_EQ(loaded->size(), 599u);

  // The quantization must match, both ways, with a message naming both.
  absl::Status s = MakeIndex(kDim)->LoadFrom(dir);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("int8"));
  ScopedTempDir fp32_dir;
  ASSERT_TRUE(MakeIndex(kDim)->SaveTo(fp32_dir.path()).ok());
  EXPECT_EQ(MakeIndex(kDim, 16, HnswIndex::Quantization::kInt8)->LoadFrom(fp32_dir.path()).code(),
            absl::StatusCode::kFailedPrecondition);
  // A truncated vectors file is DATA_LOSS, not a crash.
  ASSERT_EQ(::truncate((dir + "/hnsw.vectors").c_str(), 5000), 0);
  EXPECT_EQ(MakeIndex(kDim, 16, HnswIndex::Quantization::kInt8)->LoadFrom(dir).code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace semrec
