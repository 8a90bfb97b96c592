// libFuzzer target: arbitrary bytes through semrec's request handling. The first byte picks one
// of nine RPCs, the rest is parsed as that RPC's request protobuf and handed to the gRPC service
// handler itself (server/services.cc: proto -> core conversion, the Engine, core -> proto), with
// no network in between. The Engine is the real one over FakeEncoder, HnswIndex and
// InMemoryUserStore, seeded with a small catalog and three users: built fresh for every input that
// writes, so that a crash reproduces from its input alone, and shared by the inputs that only read.
//
//   cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 -DSEMREC_FUZZ=ON
//   cmake --build build-fuzz --target request_fuzzer
//   mkdir -p /tmp/found && build-fuzz/tests/fuzz/request_fuzzer /tmp/found tests/fuzz/corpus
//
// Besides ASan and UBSan findings, every answer is checked against what the API promises (status
// codes and messages, k, filters, counts, unit vectors, catalog and index agreeing); a broken
// promise aborts with the line that checks it.
#include <grpcpp/server_context.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/encoder/testing/fake_encoder.h"
#include "core/engine/engine.h"
#include "core/index/hnsw_index.h"
#include "core/user/in_memory_user_store.h"
#include "semrec/v1/semrec.pb.h"
#include "server/admission.h"
#include "server/convert.h"
#include "server/services.h"
#include "server/status_util.h"

namespace semrec {
namespace {

constexpr int kDim = 16;
constexpr int kDefaultK = 10;
constexpr int64_t kSeedTimeUs = 1'700'000'000'000'000;

[[noreturn]] void Broken(const char* condition, const std::string& details, int line) {
  std::fprintf(stderr, "request_fuzzer.cc:%d: broken promise: %s (%s)\n", line, condition,
               details.c_str());
  std::abort();
}
#define PROMISE(condition, ...)                                                \
  do {                                                                         \
    if (!(condition)) Broken(#condition, absl::StrCat(__VA_ARGS__), __LINE__); \
  } while (0)

enum Rpc {
  kRecommend,
  kFeedback,
  kSimilarItems,
  kUpsertItems,
  kDeleteItems,
  kGetItem,
  kGetUser,
  kDeleteUser,
  kEmbed,
  kRpcCount
};

bool Writes(Rpc rpc) {
  return rpc == kFeedback || rpc == kUpsertItems || rpc == kDeleteItems || rpc == kDeleteUser;
}

const std::vector<Item>& SeedCatalog() {
  static const auto* items = new std::vector<Item>{
      {"book-1", "space opera about a fleet", {"books", "scifi"}, {{"title", "The Long Orbit"}}},
      {"book-2", "a detective story in rainy london", {"books", "crime"}, {}},
      {"movie-1", "space battle movie with a fleet", {"movies", "scifi"}, {}},
      {"movie-2", "romantic comedy in paris", {"movies"}, {}},
      {"recipe-1", "italian pasta with tomato", {"recipes"}, {{"title", "Pasta"}}},
      {"recipe-2", "french onion soup", {"recipes"}, {}},
      {"gear-1", "hiking boots for mountain trails", {"gear"}, {}},
      {"gear-2", "tent for camping in the mountains", {"gear"}, {}},
  };
  return *items;
}

Event SeedEvent(std::string item, EventType type, int minute, std::string text = "") {
  Event e;
  e.item_id = std::move(item);
  e.type = type;
  e.value = type == EventType::kRating ? 4.5f : 0.0f;
  e.timestamp_us = kSeedTimeUs + minute * 60'000'000LL;
  e.event_id = absl::StrCat("seed-", minute);
  e.text = std::move(text);
  return e;
}

bool ValidId(const std::string& id) { return !id.empty() && id.size() <= 256; }

// One engine and the services in front of it, as ServerApp assembles them (no API token), plus
// what the catalog should hold.
class Fixture {
 public:
  Fixture() : admission_(64) {
    HnswIndex::Options io;
    io.dimension = kDim;
    io.m = 8;
    io.ef_construction = 32;
    io.initial_capacity = 8;
    EngineOptions options;
    auto engine = Engine::Create(options, std::make_unique<FakeEncoder>(kDim),
                                 std::move(HnswIndex::Create(io)).value(),
                                 std::make_unique<InMemoryUserStore>(options.user));
    engine_ = std::move(engine).value();
    PROMISE(engine_->UpsertItems(SeedCatalog()).ok(), "seed catalog");
    for (const Item& item : SeedCatalog()) catalog_[item.id] = item;
    Seed("u-1",
         {SeedEvent("book-1", EventType::kLike, 1), SeedEvent("movie-1", EventType::kRating, 2),
          SeedEvent("recipe-1", EventType::kView, 3)});
    Seed("u-2", {SeedEvent("gear-1", EventType::kDislike, 4),
                 SeedEvent("", EventType::kSearch, 5, "italian pasta")});
    Seed("u-3",
         {SeedEvent("gear-2", EventType::kPurchase, 6), SeedEvent("movie-2", EventType::kClick, 7),
          SeedEvent("recipe-2", EventType::kLike, 8)});
    recommender_ = std::make_unique<RecommenderService>(*engine_, ApiToken(), admission_);
    catalog_service_ = std::make_unique<CatalogService>(*engine_, ApiToken(), admission_);
  }

  void Run(Rpc rpc, const uint8_t* data, size_t size);

 private:
  void Seed(const std::string& user, std::vector<Event> events) {
    PROMISE(engine_->Feedback(user, std::move(events)).ok(), "seed user ", user);
  }
  std::shared_ptr<const UserProfile> Profile(const std::string& user_id) const {
    if (!ValidId(user_id)) return nullptr;
    auto profile = engine_->GetUser(user_id, 0);
    return profile.ok() ? profile->profile : nullptr;
  }
  bool PassesCategories(const v1::Filter& filter, const Item& item) const;
  // An answer's items: known, unique, at most `k`, as `accepted` allows, with the catalog entry
  // when asked for.
  void CheckItems(const google::protobuf::RepeatedPtrField<v1::ScoredItem>& items, int k,
                  bool include_items, const std::function<bool(const Item&)>& accepted) const;
  void CheckCatalogAndIndexAgree() const;

  void Recommend(const v1::RecommendRequest& req);
  void Feedback(const v1::FeedbackRequest& req);
  void SimilarItems(const v1::SimilarItemsRequest& req);
  void UpsertItems(const v1::UpsertItemsRequest& req);
  void DeleteItems(const v1::DeleteItemsRequest& req);
  void GetItem(const v1::GetItemRequest& req);
  void GetUser(const v1::GetUserRequest& req);
  void DeleteUser(const v1::DeleteUserRequest& req);
  void Embed(const v1::EmbedRequest& req);

  AdmissionControl admission_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<RecommenderService> recommender_;
  std::unique_ptr<CatalogService> catalog_service_;
  std::map<std::string, Item> catalog_;  // what the catalog should hold
  // One for the process: a ServerContext holds a gRPC library reference, and the last one going
  // away shuts gRPC down (threads and all) only for the next input to start it again.
  static grpc::ServerContext ctx_;
};

grpc::ServerContext Fixture::ctx_;

// Errors are codes a client can act on, with a bounded message that says what was wrong.
void CheckStatus(const grpc::Status& s) {
  if (s.ok()) return;
  const auto code = s.error_code();
  PROMISE(code == grpc::StatusCode::INVALID_ARGUMENT || code == grpc::StatusCode::NOT_FOUND,
          "code ", code, ": ", s.error_message());
  PROMISE(!s.error_message().empty(), "code ", code);
  PROMISE(s.error_message().size() <= kMaxStatusMessageBytes + 3, s.error_message().size());
}

bool Fixture::PassesCategories(const v1::Filter& filter, const Item& item) const {
  for (const auto& c : filter.exclude_categories()) {
    if (item.HasCategory(c)) return false;
  }
  if (filter.include_categories().empty()) return true;
  for (const auto& c : filter.include_categories()) {
    if (item.HasCategory(c)) return true;
  }
  return false;
}

void Fixture::CheckItems(const google::protobuf::RepeatedPtrField<v1::ScoredItem>& items, int k,
                         bool include_items,
                         const std::function<bool(const Item&)>& accepted) const {
  size_t acceptable = 0;
  for (const auto& [id, item] : catalog_) acceptable += accepted(item) ? 1 : 0;
  // Fewer than k only when fewer items qualify.
  PROMISE(static_cast<size_t>(items.size()) == std::min<size_t>(k, acceptable), items.size(),
          " items for k=", k, " with ", acceptable, " qualifying");
  std::set<std::string> seen;
  for (const v1::ScoredItem& s : items) {
    PROMISE(seen.insert(s.item_id()).second, "repeated ", s.item_id());
    auto it = catalog_.find(s.item_id());
    PROMISE(it != catalog_.end(), "unknown item ", s.item_id());
    PROMISE(accepted(it->second), s.item_id(), " does not pass the request's filters");
    PROMISE(std::isfinite(s.score()), s.item_id());
    PROMISE(s.has_item() == include_items, s.item_id());
    if (include_items)
      PROMISE(s.item().id() == s.item_id() && s.item().text() == it->second.text, s.item_id());
  }
}

void Fixture::Recommend(const v1::RecommendRequest& req) {
  const auto profile = Profile(req.user_id());
  v1::RecommendResponse resp;
  const grpc::Status s = recommender_->Recommend(&ctx_, &req, &resp);
  CheckStatus(s);
  const int k = req.has_k() ? req.k() : kDefaultK;
  const bool valid = k >= 1 && k <= 1000 && (req.user_id().empty() || ValidId(req.user_id())) &&
                     req.query().size() <= 16 * 1024 && req.context_item_ids_size() <= 1000 &&
                     req.filter().include_categories_size() <= 1000 &&
                     req.filter().exclude_categories_size() <= 1000 &&
                     req.filter().exclude_item_ids_size() <= 1000 && req.diversity() >= 0 &&
                     req.diversity() <= 1 && req.novelty() >= 0 && req.novelty() <= 1 &&
                     v1::Strategy_IsValid(req.strategy());
  PROMISE(s.ok() == valid, valid ? "valid: " : "invalid: ", s.error_message());
  if (!s.ok()) return;
  std::set<std::string> excluded(req.filter().exclude_item_ids().begin(),
                                 req.filter().exclude_item_ids().end());
  excluded.insert(req.context_item_ids().begin(), req.context_item_ids().end());
  const bool exclude_seen = profile && !req.filter().include_seen();
  CheckItems(resp.items(), k, req.include_items(), [&](const Item& item) {
    return !excluded.count(item.id) && !(exclude_seen && profile->seen.contains(item.id)) &&
           PassesCategories(req.filter(), item);
  });
  if (req.explain()) {
    for (const auto& item : resp.items()) PROMISE(!item.explanation().empty(), item.item_id());
  }
}

void Fixture::Feedback(const v1::FeedbackRequest& req) {
  const auto before = Profile(req.user_id());
  const int64_t events_before = engine_->Stats().events_applied;
  v1::FeedbackResponse resp;
  const grpc::Status s = recommender_->Feedback(&ctx_, &req, &resp);
  CheckStatus(s);
  const auto after = Profile(req.user_id());
  const int64_t count_before = before ? before->event_count : 0;
  const int64_t count_after = after ? after->event_count : 0;
  if (!s.ok()) {
    PROMISE(count_after == count_before, "a rejected request changed the user");
    PROMISE(engine_->Stats().events_applied == events_before, "a rejected request was applied");
    return;
  }
  PROMISE(resp.results_size() == req.events_size(), resp.results_size());
  std::map<std::string, int> ids_in_request;
  for (const auto& e : req.events()) ++ids_in_request[e.event_id()];
  int applied = 0;
  for (int i = 0; i < resp.results_size(); ++i) {
    const v1::EventResult& r = resp.results(i);
    const v1::Event& e = req.events(i);
    PROMISE(r.index() == i && r.event_id() == e.event_id(), i);
    switch (r.outcome()) {
      case v1::APPLIED:
        ++applied;
        break;
      case v1::ITEM_NOT_FOUND:
        PROMISE(!e.item_id().empty() && !catalog_.count(e.item_id()), e.item_id());
        break;
      case v1::DUPLICATE:
        PROMISE(!e.event_id().empty() && ((before && before->HasEventId(e.event_id())) ||
                                          ids_in_request[e.event_id()] > 1),
                e.event_id());
        break;
      default:
        PROMISE(false, "outcome ", r.outcome());
    }
    if (r.outcome() != v1::ITEM_NOT_FOUND && !e.item_id().empty()) {
      PROMISE(catalog_.count(e.item_id()), "applied an event for unknown item ", e.item_id());
    }
  }
  PROMISE(resp.applied() == applied, resp.applied(), " vs ", applied);
  PROMISE(count_after == count_before + applied, count_after, " vs ", count_before, "+", applied);
  PROMISE(engine_->Stats().events_applied == events_before + applied, "events_applied");
}

void Fixture::SimilarItems(const v1::SimilarItemsRequest& req) {
  v1::RecommendResponse resp;
  const grpc::Status s = recommender_->SimilarItems(&ctx_, &req, &resp);
  CheckStatus(s);
  const int k = req.has_k() ? req.k() : kDefaultK;
  const bool valid = ValidId(req.item_id()) && k >= 1 && k <= 1000 &&
                     req.filter().include_categories_size() <= 1000 &&
                     req.filter().exclude_categories_size() <= 1000 &&
                     req.filter().exclude_item_ids_size() <= 1000;
  if (valid && !catalog_.count(req.item_id())) {
    PROMISE(s.error_code() == grpc::StatusCode::NOT_FOUND, s.error_message());
    return;
  }
  PROMISE(s.ok() == valid, valid ? "valid: " : "invalid: ", s.error_message());
  if (!s.ok()) return;
  std::set<std::string> excluded(req.filter().exclude_item_ids().begin(),
                                 req.filter().exclude_item_ids().end());
  excluded.insert(req.item_id());
  CheckItems(resp.items(), k, req.include_items(), [&](const Item& item) {
    return !excluded.count(item.id) && PassesCategories(req.filter(), item);
  });
}

void Fixture::UpsertItems(const v1::UpsertItemsRequest& req) {
  v1::UpsertItemsResponse resp;
  const grpc::Status s = catalog_service_->UpsertItems(&ctx_, &req, &resp);
  CheckStatus(s);
  bool valid = req.items_size() >= 1 && req.items_size() <= 1000;
  std::set<std::string> ids;
  for (const v1::Item& p : req.items()) {
    valid = valid && ValidId(p.id()) && ids.insert(p.id()).second && !p.text().empty() &&
            p.text().size() <= 16 * 1024 && p.categories_size() <= 64 && p.attributes_size() <= 64;
    for (const auto& c : p.categories()) valid = valid && ValidId(c);
    if (p.embedding_size() > 0) {  // precomputed: the model's dimension, finite, not all zero
      double norm = 0;
      for (float x : p.embedding()) norm += static_cast<double>(x) * x;
      valid = valid && p.embedding_size() == kDim && std::isfinite(norm) && norm > 0;
    }
  }
  PROMISE(s.ok() == valid, valid ? "valid: " : "invalid: ", s.error_message());
  if (!s.ok()) return;  // nothing changed: checked against catalog_ after every input
  int created = 0;
  for (const v1::Item& p : req.items()) {
    created += catalog_.count(p.id()) ? 0 : 1;
    catalog_[p.id()] = ItemFromProto(p);
  }
  PROMISE(resp.created() == created, resp.created(), " vs ", created);
  PROMISE(resp.created() + resp.updated() + resp.unchanged() == req.items_size(), "counts");
}

void Fixture::DeleteItems(const v1::DeleteItemsRequest& req) {
  v1::DeleteItemsResponse resp;
  const grpc::Status s = catalog_service_->DeleteItems(&ctx_, &req, &resp);
  CheckStatus(s);
  bool valid = req.ids_size() >= 1 && req.ids_size() <= 1000;
  for (const std::string& id : req.ids()) valid = valid && ValidId(id);
  PROMISE(s.ok() == valid, valid ? "valid: " : "invalid: ", s.error_message());
  if (!s.ok()) return;
  int deleted = 0;
  for (const std::string& id : req.ids()) deleted += catalog_.erase(id) ? 1 : 0;
  PROMISE(resp.deleted() == deleted, resp.deleted(), " vs ", deleted);
  PROMISE(resp.deleted() + resp.not_found_size() == req.ids_size(), "counts");
}

void Fixture::GetItem(const v1::GetItemRequest& req) {
  v1::GetItemResponse resp;
  const grpc::Status s = catalog_service_->GetItem(&ctx_, &req, &resp);
  CheckStatus(s);
  auto it = catalog_.find(req.id());
  PROMISE(s.ok() == (it != catalog_.end()), s.error_message());
  if (!s.ok()) return;
  PROMISE(resp.item().id() == req.id() && resp.item().text() == it->second.text, req.id());
  PROMISE(std::isfinite(resp.popularity()) && resp.popularity() >= 0, resp.popularity());
}

void Fixture::GetUser(const v1::GetUserRequest& req) {
  const auto profile = Profile(req.user_id());
  v1::GetUserResponse resp;
  const grpc::Status s = recommender_->GetUser(&ctx_, &req, &resp);
  CheckStatus(s);
  const bool valid = ValidId(req.user_id()) && req.nearest_k() >= 0 && req.nearest_k() <= 100;
  PROMISE(s.ok() == (valid && profile != nullptr), s.error_message());
  if (!s.ok()) return;
  const int nearest_k = req.nearest_k() == 0 ? 5 : req.nearest_k();
  PROMISE(resp.user_id() == req.user_id() && resp.event_count() == profile->event_count, "user");
  PROMISE(resp.interest_nearest_items_size() <= nearest_k, resp.interest_nearest_items_size());
  PROMISE(std::isfinite(resp.interest_norm()) && resp.interest_norm() >= 0, resp.interest_norm());
}

void Fixture::DeleteUser(const v1::DeleteUserRequest& req) {
  const bool known = Profile(req.user_id()) != nullptr;
  const size_t users_before = engine_->Stats().users;
  v1::DeleteUserResponse resp;
  const grpc::Status s = recommender_->DeleteUser(&ctx_, &req, &resp);
  CheckStatus(s);
  PROMISE(s.ok() == ValidId(req.user_id()), s.error_message());
  if (!s.ok()) return;
  PROMISE(resp.deleted() == known, resp.message());
  PROMISE(Profile(req.user_id()) == nullptr, "still there");
  PROMISE(engine_->Stats().users == users_before - (known ? 1 : 0), "user count");
}

void Fixture::Embed(const v1::EmbedRequest& req) {
  v1::EmbedResponse resp;
  const grpc::Status s = recommender_->Embed(&ctx_, &req, &resp);
  CheckStatus(s);
  bool valid = req.texts_size() >= 1 && req.texts_size() <= 256 && v1::TextKind_IsValid(req.kind());
  for (const auto& t : req.texts()) valid = valid && t.size() <= 16 * 1024;
  PROMISE(s.ok() == valid, valid ? "valid: " : "invalid: ", s.error_message());
  if (!s.ok()) return;
  PROMISE(resp.embeddings_size() == req.texts_size() && resp.dimension() == kDim, "shape");
  for (const v1::Embedding& e : resp.embeddings()) {
    PROMISE(e.values_size() == kDim, e.values_size());
    double norm = 0;
    for (float x : e.values()) norm += static_cast<double>(x) * x;
    PROMISE(std::abs(std::sqrt(norm) - 1) < 1e-3, "norm ", std::sqrt(norm));
    PROMISE(e.token_ids_size() == e.tokens_size(), "tokens");
    PROMISE(req.return_tokens() == (e.token_ids_size() > 0), "return_tokens");
  }
}

// Whatever the request did: the catalog holds exactly what it should, every item in it is in the
// index, and a user asking for everything gets all of it.
void Fixture::CheckCatalogAndIndexAgree() const {
  PROMISE(engine_->Stats().items == catalog_.size(), engine_->Stats().items, " vs ",
          catalog_.size());
  for (const auto& [id, item] : catalog_) {
    auto info = engine_->GetItem(id);
    PROMISE(info.ok() && info->item->text == item.text, "catalog entry of ", id);
    PROMISE(engine_->SimilarItems({id, 1}).ok(), id, " is not in the index");
  }
  RecommendRequest all;
  all.user_id = "u-1";
  all.k = 1000;
  all.filter.include_seen = true;
  auto recs = engine_->Recommend(all);
  PROMISE(recs.ok() && recs->size() == catalog_.size(), "Recommend(k=1000) after the request");
  for (const Recommendation& r : *recs) PROMISE(catalog_.count(r.item_id), "served ", r.item_id);
}

void Fixture::Run(Rpc rpc, const uint8_t* data, size_t size) {
  // A request that does not parse never reaches a handler (gRPC answers INVALID_ARGUMENT).
  auto parse = [&](google::protobuf::Message& m) {
    return m.ParseFromArray(data, static_cast<int>(size));
  };
  switch (rpc) {
#define SEMREC_FUZZ_RPC(name) \
  case k##name: {             \
    v1::name##Request req;    \
    if (!parse(req)) return;  \
    name(req);                \
    break;                    \
  }
    SEMREC_FUZZ_RPC(Recommend)
    SEMREC_FUZZ_RPC(Feedback)
    SEMREC_FUZZ_RPC(SimilarItems)
    SEMREC_FUZZ_RPC(UpsertItems)
    SEMREC_FUZZ_RPC(DeleteItems)
    SEMREC_FUZZ_RPC(GetItem)
    SEMREC_FUZZ_RPC(GetUser)
    SEMREC_FUZZ_RPC(DeleteUser)
    SEMREC_FUZZ_RPC(Embed)
#undef SEMREC_FUZZ_RPC
    case kRpcCount:
      return;
  }
  if (Writes(rpc)) CheckCatalogAndIndexAgree();
}

}  // namespace
}  // namespace semrec

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);  // parse errors are expected here, by the thousand
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const auto rpc = static_cast<semrec::Rpc>(data[0] % semrec::kRpcCount);
  if (semrec::Writes(rpc)) {
    semrec::Fixture fresh;  // so that a crash reproduces from its input alone
    fresh.Run(rpc, data + 1, size - 1);
  } else {
    // Reads leave the engine as it was; building one costs more than most requests (hnswlib
    // allocates 64Ki mutexes per index).
    static semrec::Fixture* const shared = new semrec::Fixture();
    shared->Run(rpc, data + 1, size - 1);
  }
  return 0;
}
