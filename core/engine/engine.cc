#include "core/engine/engine.h"

#include <algorithm>
#include <deque>
#include <limits>
#include <cmath>
#include <numeric>

#include "core/common/string_map.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/common/deadline.h"
#include "core/common/logger.h"
#include "spdlog/spdlog.h"
#include "core/common/status_macros.h"
#include "core/engine/state_codec.h"
#include "core/storage/byte_codec.h"

namespace semrec {
namespace {

std::shared_ptr<spdlog::logger> Logger() {
  static const std::shared_ptr<spdlog::logger> logger = ModuleLogger("engine");
  return logger;
}


float Dot(absl::Span<const float> a, absl::Span<const float> b) {
  float s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// Scales `v` to unit length; returns false (and leaves it) when it is (nearly) zero.
bool Normalize(std::vector<float>& v) {
  double n = 0;
  for (float x : v) n += static_cast<double>(x) * x;
  if (n < 1e-24) return false;
  const float inv = static_cast<float>(1.0 / std::sqrt(n));
  for (float& x : v) x *= inv;
  return true;
}

void AddScaled(std::vector<float>& acc, absl::Span<const float> v, float w) {
  if (acc.empty()) acc.assign(v.size(), 0.0f);
  for (size_t i = 0; i < v.size(); ++i) acc[i] += w * v[i];
}

std::string Quote(std::string_view s, size_t max = 60) {
  if (s.size() <= max) return absl::StrCat("'", std::string(s), "'");
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return absl::StrCat("'", std::string(s.substr(0, n)), "...'");
}

const char* Verb(EventType type) {
  switch (type) {
    case EventType::kView: return "viewed";
    case EventType::kClick: return "clicked";
    case EventType::kLike: return "liked";
    case EventType::kAddToCart: return "added to your cart";
    case EventType::kPurchase: return "bought";
    case EventType::kRating: return "rated highly";
    case EventType::kSearch: return "searched for";
    case EventType::kDislike:
    case EventType::kSkip: return "saw";
  }
  return "interacted with";
}

// Popularity counts interactions; negative ones do not make an item popular.
double PopularityWeight(EventType type) {
  return (type == EventType::kDislike || type == EventType::kSkip) ? 0.0 : 1.0;
}

}  // namespace

namespace {
// INVALID_ARGUMENT "<what> is longer than <limit> bytes" when `value` is.
absl::Status CheckLength(const std::string& value, size_t limit, const std::string& what) {
  if (value.size() <= limit) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(what, " is longer than ", limit, " bytes"));
}

// The ids of `hits`, viewed (for one catalog lookup of them all).
std::vector<std::string_view> HitIds(const std::vector<IndexHit>& hits) {
  std::vector<std::string_view> ids;
  ids.reserve(hits.size());
  for (const IndexHit& h : hits) ids.push_back(h.id);
  return ids;
}
}  // namespace

float ConsumptionWeight(EventType type, float value, float rating_scale) {
  switch (type) {
    case EventType::kLike:
    case EventType::kAddToCart:
    case EventType::kPurchase:
      return 1.0f;
    case EventType::kRating:
      return 0.5f + 0.5f * std::clamp(value / rating_scale, 0.0f, 1.0f);
    case EventType::kView:
    case EventType::kClick:
    case EventType::kSearch:
      return 0.5f;
    case EventType::kDislike:
    case EventType::kSkip:
      return 0.0f;
  }
  return 0.0f;
}

std::vector<Engine::CollabSeed> Engine::RecentConsumption(const UserProfile& profile) const {
  std::vector<CollabSeed> seeds;
  StringViewSet seen;
  const double half_life_us = options_.collab.pair_half_life_seconds * 1e6;
  for (const RecentEvent& e : profile.recent) {
    if (static_cast<int>(seeds.size()) >= options_.history_items) break;
    if (e.item_id.empty() || !seen.insert(e.item_id).second) continue;
    const float w = ConsumptionWeight(e.type, e.value, options_.user.rating_scale);
    if (w <= 0) continue;
    const double age = static_cast<double>(std::max<int64_t>(0, profile.last_event_us - e.timestamp_us));
    seeds.push_back({e.item_id, static_cast<float>(w * std::exp2(-age / half_life_us))});
  }
  return seeds;
}

bool Engine::PassesCategories(const ItemFilter& filter, std::string_view id) const {
  if (filter.include_categories.empty() && filter.exclude_categories.empty()) return true;
  auto item = catalog_.Get(id);
  if (!item) return false;
  for (const auto& c : filter.exclude_categories) {
    if (item->HasCategory(c)) return false;
  }
  if (filter.include_categories.empty()) return true;
  for (const auto& c : filter.include_categories) {
    if (item->HasCategory(c)) return true;
  }
  return false;
}

void Engine::Explain(const RecommendRequest& req, const std::vector<TargetPart>& parts,
                     const std::vector<std::pair<std::string, std::vector<float>>>& context,
                     const std::vector<std::pair<const RecentEvent*, std::vector<float>>>& liked,
                     const std::vector<float>& vec, float semantic, float collab,
                     const std::string& collab_source, float popularity,
                     Recommendation& r) const {
  const bool hybrid = req.strategy == Strategy::kHybrid;
  const float semantic_weight =
      req.query.empty() ? options_.semantic_weight : options_.query_semantic_weight;
  const float semantic_part = (hybrid ? semantic_weight : 1.0f) * semantic;
  const float collab_part = (hybrid ? options_.collab_weight : 1.0f) * collab;
  const float popular_part = hybrid ? options_.popularity_weight * popularity : 0.0f;
  const bool by_collab = !collab_source.empty() && collab_part >= semantic_part &&
                         collab_part >= popular_part && collab_part > 0;
  if (by_collab || parts.empty() || vec.empty()) {
    if (!collab_source.empty() && collab > 0) {
      r.reason = Reason::kCollaborative;
      r.source_item_id = collab_source;
      auto src = catalog_.Get(collab_source);
      r.explanation = absl::StrCat("people who liked ", Quote(src ? src->DisplayName() : collab_source),
                                   " also liked this");
    } else {
      r.reason = Reason::kPopular;
      r.explanation = "popular now";
    }
    return;
  }
  if (popular_part > semantic_part && popular_part > collab_part) {
    r.reason = Reason::kPopular;
    r.explanation = "popular now";
    return;
  }
  const TargetPart* top = &parts.front();
  float top_contribution = -std::numeric_limits<float>::infinity();
  for (const auto& p : parts) {
    const float contribution = p.weight * Dot(p.vector, vec);
    if (contribution > top_contribution) {
      top_contribution = contribution;
      top = &p;
    }
  }
  r.reason = top->reason;
  if (top->reason == Reason::kQuery) {
    r.explanation = absl::StrCat("matches your search ", Quote(req.query));
  } else if (top->reason == Reason::kContext) {
    const std::pair<std::string, std::vector<float>>* best = &context.front();
    for (const auto& ctx : context) {
      if (Dot(ctx.second, vec) > Dot(best->second, vec)) best = &ctx;
    }
    r.source_item_id = best->first;
    auto src = catalog_.Get(best->first);
    r.explanation = absl::StrCat("similar to ", Quote(src ? src->DisplayName() : best->first));
  } else {
    const std::pair<const RecentEvent*, std::vector<float>>* best = nullptr;
    for (const auto& l : liked) {
      if (!best || Dot(l.second, vec) > Dot(best->second, vec)) best = &l;
    }
    if (best) {
      r.source_item_id = best->first->item_id;
      auto src = catalog_.Get(r.source_item_id);
      r.explanation = absl::StrCat("because you ", Verb(best->first->type), " ",
                                   Quote(src ? src->DisplayName() : r.source_item_id));
    } else {
      r.explanation = "close to your interests";
    }
  }
}


absl::Status EngineOptions::Validate() const {
  RETURN_IF_ERROR(user.Validate());
  if (index_write_nice < 0 || index_write_nice > 19) {
    return absl::InvalidArgumentError(
        absl::StrCat("index_write_nice must be 0 to 19 (got ", index_write_nice, ")"));
  }
  RETURN_IF_ERROR(collab.Validate());
  for (float w : {semantic_weight, query_semantic_weight, collab_weight, popularity_weight}) {
    if (!(w >= 0) || !std::isfinite(w)) {
      return absl::InvalidArgumentError("fusion weights must be finite and >= 0");
    }
  }
  if (history_items < 1 || candidates_per_source < 1 || popular_candidates < 0) {
    return absl::InvalidArgumentError("history_items and candidate counts must be positive");
  }
  if (!(popularity_half_life_seconds > 0)) {
    return absl::InvalidArgumentError("popularity half-life must be positive");
  }
  for (float w : {user_weight, query_weight, context_weight}) {
    if (!(w >= 0) || !std::isfinite(w)) {
      return absl::InvalidArgumentError("user/query/context weights must be finite and >= 0");
    }
  }
  if (max_k < 1) return absl::InvalidArgumentError("max_k must be at least 1");
  if (max_events_per_request < 1 || max_items_per_upsert < 1 || max_texts_per_embed < 1) {
    return absl::InvalidArgumentError("per-request limits must be at least 1");
  }
  return absl::OkStatus();
}

Engine::Engine(const EngineOptions& options, std::unique_ptr<Encoder> encoder,
               std::unique_ptr<ItemIndex> index, std::unique_ptr<UserStore> users)
    : options_(options),
      encoder_(std::move(encoder)),
      index_(std::move(index)),
      index_writer_(options.index_write_nice),
      users_(std::move(users)),
      popularity_(options.popularity_half_life_seconds),
      collab_(options.collab),
      started_(std::chrono::steady_clock::now()) {}

absl::StatusOr<std::unique_ptr<Engine>> Engine::Create(const EngineOptions& options,
                                                       std::unique_ptr<Encoder> encoder,
                                                       std::unique_ptr<ItemIndex> index,
                                                       std::unique_ptr<UserStore> users) {
  RETURN_IF_ERROR(options.Validate());
  if (!encoder || !index || !users) {
    return absl::InvalidArgumentError("engine needs an encoder, an index and a user store");
  }
  if (encoder->dimension() != index->dimension()) {
    return absl::InvalidArgumentError(absl::StrCat("encoder dimension ", encoder->dimension(),
                                                   " differs from index dimension ",
                                                   index->dimension()));
  }
  auto engine = std::unique_ptr<Engine>(
      new Engine(options, std::move(encoder), std::move(index), std::move(users)));
  if (options.index_write_nice > 0 && engine->index_writer_.nice() == 0) {
    Logger()->warn("cannot lower the index writer thread's priority; index writes run at the "
                   "server's priority");
  }
  return engine;
}

absl::Status Engine::ValidateId(const std::string& id, const char* field) const {
  if (id.empty()) return absl::InvalidArgumentError(absl::StrCat(field, " is empty"));
  if (id.size() > options_.max_id_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(field, " is ", id.size(),
                                                   " bytes long; the limit is ",
                                                   options_.max_id_bytes));
  }
  return absl::OkStatus();
}

absl::Status Engine::ValidateK(int k) const {
  if (k < 1 || k > options_.max_k) {
    return absl::InvalidArgumentError(
        absl::StrCat("k must be between 1 and ", options_.max_k, " (got ", k, ")"));
  }
  return absl::OkStatus();
}

absl::Status Engine::ValidateFilter(const ItemFilter& f) const {
  for (const auto* list : {&f.include_categories, &f.exclude_categories, &f.exclude_item_ids}) {
    if (list->size() > options_.max_list_size) {
      return absl::InvalidArgumentError(absl::StrCat("filter lists may hold at most ",
                                                     options_.max_list_size, " entries"));
    }
  }
  return absl::OkStatus();
}

std::vector<Recommendation> Engine::PopularItems(int k, const ItemIndex::Accept& accept) const {
  std::vector<Recommendation> out;
  StringSet taken;
  std::vector<std::pair<std::string, double>> top = popularity_.Top(k, accept);
  std::vector<std::string_view> top_ids;
  top_ids.reserve(top.size());
  for (const auto& [id, score] : top) top_ids.push_back(id);
  std::vector<std::shared_ptr<const Item>> items = catalog_.GetMany(top_ids);
  for (size_t i = 0; i < top.size(); ++i) {
    if (!items[i]) continue;  // removed since it was ranked
    auto& [id, score] = top[i];
    taken.insert(id);
    out.push_back(Recommendation{std::move(id), static_cast<float>(score), "", Reason::kPopular,
                                 "", std::move(items[i])});
  }
  // Cold start with too little history: fill with catalog items in a stable order.
  if (static_cast<int>(out.size()) < k) {
    // Hold the listing: a range-for over `*SortedIds()` would let the temporary shared_ptr die
    // before the loop, and a concurrent catalog write free the ids being walked.
    const std::shared_ptr<const std::vector<std::string>> ids = catalog_.SortedIds();
    for (const std::string& id : *ids) {
      if (static_cast<int>(out.size()) >= k) break;
      if (taken.contains(id) || !accept(id)) continue;
      if (auto item = catalog_.Get(id)) {
        out.push_back(Recommendation{id, 0.0f, "", Reason::kPopular, "", item});
      }
    }
  }
  return out;
}

absl::StatusOr<std::vector<Recommendation>> Engine::Recommend(const RecommendRequest& req,
                                                              RecommendInfo* info) const {
  RETURN_IF_ERROR(ValidateK(req.k));
  RETURN_IF_ERROR(ValidateFilter(req.filter));
  if (!req.user_id.empty()) RETURN_IF_ERROR(ValidateId(req.user_id, "user_id"));
  if (req.query.size() > options_.max_text_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("query is ", req.query.size(),
                                                   " bytes long; the limit is ",
                                                   options_.max_text_bytes));
  }
  if (req.context_item_ids.size() > options_.max_list_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("at most ", options_.max_list_size, " context_item_ids are allowed"));
  }
  if (!(req.diversity >= 0 && req.diversity <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat("diversity must be between 0 and 1 (got ",
                                                   req.diversity, ")"));
  }
  if (!(req.novelty >= 0 && req.novelty <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("novelty must be between 0 and 1 (got ", req.novelty, ")"));
  }
  const Strategy strategy = req.strategy;
  const bool use_content = strategy == Strategy::kHybrid || strategy == Strategy::kContent;
  const bool use_collab = strategy == Strategy::kHybrid || strategy == Strategy::kCollaborative;

  std::shared_ptr<const UserProfile> profile;
  if (!req.user_id.empty()) {
    StageTimer t(*this, kStore);
    absl::StatusOr<std::shared_ptr<const UserProfile>> got = users_->Get(req.user_id);
    if (got.ok()) {
      profile = *std::move(got);
    } else if (got.status().code() == absl::StatusCode::kUnavailable) {
      // Degraded rather than failed: the query, the context and trending items still answer.
      if (metrics::Counter* c = degraded_responses_.load(std::memory_order_acquire)) c->Increment();
      if (info) {
        info->degraded = absl::StrCat("the user store is unavailable, so the user's profile was "
                                      "left out (", got.status().message(), ")");
      }
      static std::atomic<int64_t> last_warning_us{0};
      const int64_t now = absl::ToUnixMicros(absl::Now());
      int64_t last = last_warning_us.load(std::memory_order_relaxed);
      if (now - last >= 10'000'000 &&
          last_warning_us.compare_exchange_strong(last, now, std::memory_order_relaxed)) {
        Logger()->warn("Recommend degraded: {} (logged at most every 10s; see "
                       "semrec_degraded_responses_total)",
                       std::string(got.status().message()));
      }
    } else {
      return got.status();
    }
  }

  // Semantic target: the parts present, each a unit vector, in a normalized weighted sum.
  std::vector<TargetPart> parts;
  std::vector<std::pair<std::string, std::vector<float>>> context;
  for (const std::string& id : req.context_item_ids) {
    auto v = index_->GetVector(id);
    if (v.ok()) context.emplace_back(id, std::move(v).value());  // unknown context ids are ignored
  }
  std::vector<std::vector<float>> user_dirs;  // one per taste of a multi-interest user
  if (use_content) {
    if (profile && options_.user_weight > 0) user_dirs = profile->InterestDirections();
    if (!user_dirs.empty()) {
      parts.push_back({Reason::kUserInterest, options_.user_weight, user_dirs.front()});
    }
    if (!req.query.empty() && options_.query_weight > 0) {
      StageTimer t(*this, kEncode);
      ASSIGN_OR_RETURN(auto q, encoder_->Encode({req.query}, TextKind::kQuery));
      parts.push_back({Reason::kQuery, options_.query_weight, std::move(q[0])});
    }
    if (!context.empty() && options_.context_weight > 0) {
      std::vector<float> mean;
      for (const auto& [id, v] : context) AddScaled(mean, v, 1.0f);
      if (Normalize(mean)) parts.push_back({Reason::kContext, options_.context_weight, mean});
    }
  }
  // One target per taste: each of the user's interest directions blended with the query and the
  // context. An item's semantic score is its best cosine over the targets, so every taste gets
  // its nearest items in the pool.
  std::vector<std::vector<float>> targets;
  if (!parts.empty()) {
    const size_t tastes = std::max<size_t>(1, user_dirs.size());
    for (size_t t = 0; t < tastes; ++t) {
      std::vector<float> target;
      for (const auto& p : parts) {
        const bool user_part = p.reason == Reason::kUserInterest;
        AddScaled(target, user_part && t < user_dirs.size() ? user_dirs[t] : p.vector, p.weight);
      }
      if (!Normalize(target)) target = parts.front().vector;
      targets.push_back(std::move(target));
    }
  }

  // Collaborative seeds: the user's recent consumption (recency-weighted) and the context items.
  std::vector<CollabSeed> seeds;
  if (use_collab) {
    if (profile) seeds = RecentConsumption(*profile);
    for (const auto& [id, v] : context) seeds.push_back({id, 1.0f});
  }

  StringViewSet excluded;
  for (const auto& id : req.filter.exclude_item_ids) excluded.insert(id);
  for (const auto& id : req.context_item_ids) excluded.insert(id);
  const bool exclude_seen = profile && !req.filter.include_seen;
  auto accept = [&](std::string_view id) {
    if (excluded.contains(id)) return false;
    if (exclude_seen && profile->seen.contains(id)) return false;
    return PassesCategories(req.filter, id);
  };

  if (strategy == Strategy::kPopular || (parts.empty() && seeds.empty())) {
    std::vector<Recommendation> out = PopularItems(req.k, accept);
    if (req.explain) {
      for (auto& r : out) r.explanation = r.score > 0 ? "popular now" : "new in the catalog";
    }
    return out;
  }

  // Candidates from every source, then one score for all of them.
  struct Candidate {
    std::string id;
    float semantic = 0;
    bool has_semantic = false;
    float collab = 0;
    std::string collab_source;
    float collab_source_share = 0;
    float popularity = 0;
    float score = 0;
    std::vector<float> vec;
  };
  std::vector<Candidate> cands;
  StringMap<size_t> position;
  auto candidate = [&](const std::string& id) -> Candidate& {
    auto [it, inserted] = position.try_emplace(id, cands.size());
    if (inserted) cands.push_back(Candidate{id});
    return cands[it->second];
  };
  const bool rerank = req.diversity > 0 || req.novelty > 0;
  const bool content_only = strategy == Strategy::kContent;
  if (!parts.empty()) {
    // CONTENT without reranking needs exactly k; fusion needs a wider pool.
    const int fetch = content_only && !rerank
                          ? req.k
                          : std::min(std::max(options_.max_k, req.k),
                                     std::max(req.k * 4 + 20, options_.candidates_per_source));
    const int per_target =
        std::max(req.k, fetch / static_cast<int>(targets.size()));
    RETURN_IF_ERROR(CheckDeadline("ann"));
    for (const auto& target : targets) {
      StageTimer t(*this, kAnn);
      ASSIGN_OR_RETURN(std::vector<IndexHit> hits, index_->Search(target, per_target, accept));
      for (auto& h : hits) {
        Candidate& c = candidate(h.id);
        c.semantic = c.has_semantic ? std::max(c.semantic, h.score) : h.score;
        c.has_semantic = true;
      }
    }
  }
  RETURN_IF_ERROR(CheckDeadline("rank"));
  StageTimer rank_timer(*this, kRank);  // collaborative candidates, fusion, reranking
  float seed_mass = 0;
  if (!seeds.empty()) {
    for (const CollabSeed& s : seeds) seed_mass += s.weight;
    const int per_seed = std::max(20, options_.candidates_per_source / static_cast<int>(seeds.size()));
    for (const CollabSeed& s : seeds) {
      for (auto& [id, sim] : collab_.Neighbors(s.item_id, per_seed)) {
        if (!accept(id)) continue;
        Candidate& c = candidate(id);
        const float contribution = s.weight * sim;
        c.collab += contribution;
        if (contribution > c.collab_source_share) {
          c.collab_source_share = contribution;
          c.collab_source = s.item_id;
        }
      }
    }
    for (auto& c : cands) c.collab /= seed_mass;
  }
  if (strategy == Strategy::kHybrid) {
    for (auto& [id, score] : popularity_.Top(options_.popular_candidates, accept)) candidate(id);
  }

  const float semantic_weight =
      req.query.empty() ? options_.semantic_weight : options_.query_semantic_weight;
  const double max_pop = popularity_.MaxScore();
  const double pop_denominator = max_pop > 0 ? std::log1p(max_pop) : 1.0;
  // Popularity and the vectors still missing, each fetched under one lock for the whole pool.
  const bool need_vectors = req.diversity > 0 || req.explain || !parts.empty();
  std::vector<std::string_view> ids;
  std::vector<std::string> vector_ids;
  std::vector<size_t> vector_rows;
  ids.reserve(cands.size());
  for (size_t i = 0; i < cands.size(); ++i) {
    ids.push_back(cands[i].id);
    if (need_vectors && (!cands[i].has_semantic || req.diversity > 0 || req.explain)) {
      vector_ids.push_back(cands[i].id);
      vector_rows.push_back(i);
    }
  }
  const std::vector<double> pops = popularity_.Scores(ids);
  std::vector<std::vector<float>> vectors = index_->GetVectors(vector_ids);
  for (size_t j = 0; j < vector_rows.size(); ++j) cands[vector_rows[j]].vec = std::move(vectors[j]);
  for (size_t i = 0; i < cands.size(); ++i) {
    Candidate& c = cands[i];
    c.popularity = static_cast<float>(std::log1p(pops[i]) / pop_denominator);
    if (need_vectors && (!c.has_semantic || req.diversity > 0 || req.explain)) {
      if (c.vec.empty()) {
        c.score = -std::numeric_limits<float>::infinity();  // removed meanwhile
        continue;
      }
      if (!c.has_semantic && !targets.empty()) {
        c.semantic = -std::numeric_limits<float>::infinity();
        for (const auto& target : targets) c.semantic = std::max(c.semantic, Dot(target, c.vec));
        c.has_semantic = true;
      }
    }
    switch (strategy) {
      case Strategy::kContent:
        c.score = c.semantic;
        break;
      case Strategy::kCollaborative:
        c.score = c.collab;
        break;
      default:
        c.score = semantic_weight * c.semantic + options_.collab_weight * c.collab +
                  options_.popularity_weight * c.popularity;
    }
    // Novelty trades popularity for the long tail: an item keeps 1 - novelty * p^2 of its score
    // (p: log popularity / log max, 0..1), so the head loses most and the tail almost nothing;
    // scale-free, whatever the strategy.
    const float damp = req.novelty * c.popularity * c.popularity;  // mostly hits the head
    c.score = c.score >= 0 ? c.score * (1 - damp) : c.score * (1 + damp);
  }
  cands.erase(std::remove_if(cands.begin(), cands.end(),
                             [&](const Candidate& c) {
                               return !std::isfinite(c.score) ||
                                      (strategy == Strategy::kCollaborative && c.collab <= 0);
                             }),
              cands.end());
  std::stable_sort(cands.begin(), cands.end(),
                   [](const Candidate& a, const Candidate& b) { return a.score > b.score; });

  std::vector<Candidate> chosen;
  if (req.diversity > 0) {
    // Maximal marginal relevance: relevance against similarity to what is already chosen.
    const float lambda = 1.0f - req.diversity;
    std::vector<float> max_sim(cands.size(), -1.0f);
    std::vector<bool> used(cands.size(), false);
    while (static_cast<int>(chosen.size()) < req.k) {
      int best = -1;
      float best_score = -std::numeric_limits<float>::infinity();
      for (size_t i = 0; i < cands.size(); ++i) {
        if (used[i]) continue;
        const float redundancy = chosen.empty() ? 0.0f : max_sim[i];
        const float s = lambda * cands[i].score - (1 - lambda) * redundancy;
        if (s > best_score) {
          best_score = s;
          best = static_cast<int>(i);
        }
      }
      if (best < 0) break;
      used[best] = true;
      for (size_t i = 0; i < cands.size(); ++i) {
        if (!used[i]) max_sim[i] = std::max(max_sim[i], Dot(cands[i].vec, cands[best].vec));
      }
      chosen.push_back(std::move(cands[best]));
    }
  } else {
    if (static_cast<int>(cands.size()) > req.k) cands.resize(req.k);
    chosen = std::move(cands);
  }

  // Recent positive items, for "because you liked X".
  std::vector<std::pair<const RecentEvent*, std::vector<float>>> liked;
  if (req.explain && profile) {
    for (const RecentEvent& e : profile->recent) {
      if (e.item_id.empty() || EventWeight(options_.user, Event{e.item_id, e.type, e.value}) <= 0) {
        continue;
      }
      if (auto v = index_->GetVector(e.item_id); v.ok()) liked.emplace_back(&e, std::move(v).value());
      if (liked.size() >= 20) break;
    }
  }

  std::vector<Recommendation> out;
  out.reserve(req.k);
  StringSet taken;
  std::vector<std::string_view> chosen_ids;
  chosen_ids.reserve(chosen.size());
  for (const Candidate& c : chosen) chosen_ids.push_back(c.id);
  std::vector<std::shared_ptr<const Item>> chosen_items = catalog_.GetMany(chosen_ids);
  for (size_t i = 0; i < chosen.size(); ++i) {
    Candidate& c = chosen[i];
    Recommendation r;
    r.item = std::move(chosen_items[i]);
    if (!r.item) continue;  // deleted concurrently
    r.item_id = c.id;
    r.score = c.score;
    if (req.explain) Explain(req, parts, context, liked, c.vec, c.semantic, c.collab,
                             c.collab_source, c.popularity, r);
    out.push_back(std::move(r));
  }
  for (const auto& r : out) taken.insert(r.item_id);
  // Too few (a COLLABORATIVE user with little history, a narrow filter): fill with popular items.
  if (static_cast<int>(out.size()) < req.k) {
    auto more = PopularItems(req.k, [&](std::string_view id) { return !taken.contains(id) && accept(id); });
    for (auto& r : more) {
      if (static_cast<int>(out.size()) >= req.k) break;
      r.score = 0;
      if (req.explain) r.explanation = "popular now";
      out.push_back(std::move(r));
    }
  }
  return out;
}

absl::StatusOr<std::vector<EventResult>> Engine::Feedback(const std::string& user_id,
                                                          std::vector<Event> events) {
  RETURN_IF_ERROR(ValidateId(user_id, "user_id"));
  if (events.empty()) return absl::InvalidArgumentError("events is empty");
  if (events.size() > options_.max_events_per_request) {
    return absl::InvalidArgumentError(absl::StrCat(events.size(), " events in one request; the limit is ",
                                                   options_.max_events_per_request));
  }
  for (size_t i = 0; i < events.size(); ++i) {
    const Event& e = events[i];
    const std::string where = absl::StrCat("events[", i, "] (", EventTypeName(e.type), ")");
    if (e.item_id.empty() && e.type != EventType::kSearch) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": item_id is empty"));
    }
    RETURN_IF_ERROR(CheckLength(e.item_id, options_.max_id_bytes, where + ": item_id"));
    if (e.type == EventType::kSearch && e.text.empty() && e.item_id.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": a SEARCH event needs text"));
    }
    RETURN_IF_ERROR(CheckLength(e.text, options_.max_text_bytes, where + ": text"));
    RETURN_IF_ERROR(CheckLength(e.event_id, options_.max_id_bytes, where + ": event_id"));
    if (e.type == EventType::kRating &&
        !(e.value >= 0 && e.value <= options_.user.rating_scale)) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": value must be a rating between 0 and ",
                                                     options_.user.rating_scale, " (got ", e.value, ")"));
    }
  }

  // Resolve vectors before touching the user: item vectors from the index, search texts through
  // the encoder (one batch).
  std::vector<EventResult> results(events.size());
  std::vector<size_t> search_rows;
  std::vector<std::string> search_texts;
  for (size_t i = 0; i < events.size(); ++i) {
    if (events[i].type == EventType::kSearch && !events[i].text.empty()) {
      search_rows.push_back(i);
      search_texts.push_back(events[i].text);
    }
  }
  std::vector<std::vector<float>> search_vecs;
  if (!search_texts.empty()) {
    StageTimer t(*this, kEncode);
    ASSIGN_OR_RETURN(search_vecs, encoder_->Encode(search_texts, TextKind::kQuery));
  }
  std::vector<ResolvedEvent> resolved;
  std::vector<size_t> resolved_index;  // position in `events`
  resolved.reserve(events.size());
  size_t next_search = 0;
  for (size_t i = 0; i < events.size(); ++i) {
    ResolvedEvent r;
    if (next_search < search_rows.size() && search_rows[next_search] == i) {
      r.vector = std::move(search_vecs[next_search++]);
    }
    if (!events[i].item_id.empty()) {
      auto v = index_->GetVector(events[i].item_id);
      if (!v.ok()) {
        results[i].outcome = EventOutcome::kItemNotFound;
        results[i].message = absl::StrCat("item '", events[i].item_id, "' is not in the catalog");
        continue;
      }
      if (r.vector.empty()) r.vector = std::move(v).value();
    }
    r.event = std::move(events[i]);
    resolved.push_back(std::move(r));
    resolved_index.push_back(i);
  }
  // Apply in event-time order (stable for equal times).
  std::vector<size_t> order(resolved.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return resolved[a].event.timestamp_us < resolved[b].event.timestamp_us;
  });
  std::vector<ResolvedEvent> sorted;
  sorted.reserve(resolved.size());
  for (size_t o : order) sorted.push_back(std::move(resolved[o]));
  if (sorted.empty()) return results;

  // Past this point the events are applied even if the caller gives up: the last chance to stop.
  RETURN_IF_ERROR(CheckDeadline("store"));
  std::vector<bool> applied;
  if (feed_) {
    // The profile update and the signals it teaches go to Redis in one transaction; every
    // replica (this one included) learns the signals from the feed.
    auto publish = [&](const UserProfile* before, const std::vector<bool>& ok) {
      std::vector<SignalEvent> signals;
      for (size_t j = 0; j < sorted.size(); ++j) {
        const Event& e = sorted[j].event;
        if (ok[j] && !e.item_id.empty()) signals.push_back({e.item_id, e.type, e.value, e.timestamp_us});
      }
      if (signals.empty()) return std::string();
      BufferWriter record;
      PutWalSignals(HistoryOf(before), signals, record);
      return record.Release();
    };
    StageTimer t(*this, kStore);
    ASSIGN_OR_RETURN(applied, users_->ApplyEvents(user_id, sorted, publish));
  } else {
    absl::ReaderMutexLock gate(&state_mu_);
    if (wal_) {
      BufferWriter record;
      PutWalFeedback(user_id, sorted, record);
      RETURN_IF_ERROR(Log(record.data()));
    }
    ASSIGN_OR_RETURN(applied, ApplyFeedback(user_id, sorted));
  }
  for (size_t j = 0; j < sorted.size(); ++j) {
    if (applied[j]) continue;
    EventResult& res = results[resolved_index[order[j]]];
    res.outcome = EventOutcome::kDuplicate;
    res.message = absl::StrCat("event_id '", sorted[j].event.event_id, "' was already applied");
  }
  return results;
}

absl::StatusOr<std::vector<bool>> Engine::ApplyFeedback(const std::string& user_id,
                                                        const std::vector<ResolvedEvent>& sorted,
                                                        bool to_user_store) {
  // The user's consumption before these events: new events pair with it in the co-occurrence
  // model. Read by the store in the same update (a compact profile is decoded once, not twice).
  std::vector<RecentEvent> before;
  std::vector<bool> applied(sorted.size(), true);
  if (to_user_store) {
    StageTimer t(*this, kStore);
    ASSIGN_OR_RETURN(applied, users_->ApplyEvents(user_id, sorted, {}, &before));
  }
  std::vector<SignalEvent> signals;
  int64_t count = 0;
  for (size_t j = 0; j < sorted.size(); ++j) {
    if (!applied[j]) continue;
    ++count;
    const Event& e = sorted[j].event;
    if (!e.item_id.empty()) signals.push_back({e.item_id, e.type, e.value, e.timestamp_us});
  }
  Learn(HistoryOf(before), signals);
  events_applied_.fetch_add(count - static_cast<int64_t>(signals.size()), std::memory_order_relaxed);
  return applied;
}

std::vector<SignalPast> Engine::HistoryOf(const UserProfile* before) const {
  if (!before) return {};
  return HistoryOf(before->recent);
}

std::vector<SignalPast> Engine::HistoryOf(const std::vector<RecentEvent>& recent) const {
  std::vector<SignalPast> history;  // newest first
  for (const RecentEvent& e : recent) {
    if (static_cast<int>(history.size()) >= options_.history_items) break;
    const float w = ConsumptionWeight(e.type, e.value, options_.user.rating_scale);
    if (!e.item_id.empty() && w > 0) history.push_back({e.item_id, w, e.timestamp_us});
  }
  return history;
}

void Engine::Learn(std::vector<SignalPast> history, absl::Span<const SignalEvent> events) {
  std::deque<SignalPast> recent(std::make_move_iterator(history.begin()),
                                std::make_move_iterator(history.end()));
  for (const SignalEvent& e : events) {
    popularity_.Record(e.item_id, PopularityWeight(e.type), e.timestamp_us);
    const float w = ConsumptionWeight(e.type, e.value, options_.user.rating_scale);
    if (w <= 0) continue;
    std::vector<PastItem> previous;
    previous.reserve(recent.size());
    for (const auto& h : recent) previous.push_back({h.item_id, h.weight, h.timestamp_us});
    collab_.Record(e.item_id, w, e.timestamp_us, previous);
    recent.push_front({e.item_id, w, e.timestamp_us});
    if (static_cast<int>(recent.size()) > options_.history_items) recent.pop_back();
  }
  events_applied_.fetch_add(static_cast<int64_t>(events.size()), std::memory_order_relaxed);
}

absl::StatusOr<std::vector<Recommendation>> Engine::SimilarItems(
    const SimilarItemsRequest& req) const {
  RETURN_IF_ERROR(ValidateId(req.item_id, "item_id"));
  RETURN_IF_ERROR(ValidateK(req.k));
  RETURN_IF_ERROR(ValidateFilter(req.filter));
  auto vec = index_->GetVector(req.item_id);
  if (!vec.ok()) {
    return absl::NotFoundError(absl::StrCat("item '", req.item_id, "' is not in the catalog"));
  }
  StringViewSet excluded(req.filter.exclude_item_ids.begin(),
                                                 req.filter.exclude_item_ids.end());
  excluded.insert(req.item_id);
  auto accept = [&](std::string_view id) {
    return !excluded.contains(id) && PassesCategories(req.filter, id);
  };
  RETURN_IF_ERROR(CheckDeadline("ann"));
  ASSIGN_OR_RETURN(auto hits, index_->Search(*vec, req.k, accept));
  auto source = catalog_.Get(req.item_id);
  std::vector<std::shared_ptr<const Item>> items = catalog_.GetMany(HitIds(hits));
  std::vector<Recommendation> out;
  for (size_t i = 0; i < hits.size(); ++i) {
    IndexHit& h = hits[i];
    Recommendation r;
    r.item = std::move(items[i]);
    if (!r.item) continue;
    r.item_id = std::move(h.id);
    r.score = h.score;
    if (req.explain) {
      r.reason = Reason::kSimilarItem;
      r.source_item_id = req.item_id;
      r.explanation =
          absl::StrCat("similar to ", Quote(source ? source->DisplayName() : req.item_id));
    }
    out.push_back(std::move(r));
  }
  return out;
}

absl::StatusOr<std::vector<EmbedResult>> Engine::Embed(const std::vector<std::string>& texts,
                                                       TextKind kind, bool return_tokens) const {
  if (texts.empty()) return absl::InvalidArgumentError("texts is empty");
  if (texts.size() > options_.max_texts_per_embed) {
    return absl::InvalidArgumentError(absl::StrCat(texts.size(), " texts in one request; the limit is ",
                                                   options_.max_texts_per_embed));
  }
  for (size_t i = 0; i < texts.size(); ++i) {
    RETURN_IF_ERROR(
        CheckLength(texts[i], options_.max_text_bytes, absl::StrCat("texts[", i, "]")));
  }
  ASSIGN_OR_RETURN(auto vecs, encoder_->Encode(texts, kind));
  std::vector<EmbedResult> out(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    out[i].values = std::move(vecs[i]);
    if (return_tokens) {
      out[i].token_ids = encoder_->Tokenize(texts[i], kind);
      out[i].tokens = encoder_->tokenizer().IdsToTokens(out[i].token_ids);
    }
  }
  return out;
}

absl::StatusOr<UserSummary> Engine::GetUser(const std::string& user_id, int nearest_k) const {
  RETURN_IF_ERROR(ValidateId(user_id, "user_id"));
  if (nearest_k < 0 || nearest_k > 100) {
    return absl::InvalidArgumentError(
        absl::StrCat("nearest_k must be between 0 and 100 (got ", nearest_k, ")"));
  }
  ASSIGN_OR_RETURN(auto profile, users_->Get(user_id));
  if (!profile) return absl::NotFoundError(absl::StrCat("user '", user_id, "' has no events"));
  UserSummary summary;
  summary.profile = profile;
  double norm = 0;
  for (float x : profile->interest) norm += static_cast<double>(x) * x;
  summary.interest_norm = static_cast<float>(std::sqrt(norm));
  std::vector<float> dir = profile->InterestDirection();
  if (!dir.empty() && nearest_k > 0) {
    ASSIGN_OR_RETURN(auto hits, index_->Search(dir, nearest_k));
    std::vector<std::shared_ptr<const Item>> items = catalog_.GetMany(HitIds(hits));
    for (size_t i = 0; i < hits.size(); ++i) {
      IndexHit& h = hits[i];
      Recommendation r;
      r.item = std::move(items[i]);
      if (!r.item) continue;
      r.item_id = std::move(h.id);
      r.score = h.score;
      r.reason = Reason::kUserInterest;
      summary.nearest_items.push_back(std::move(r));
    }
  }
  return summary;
}

absl::StatusOr<DeleteUserResult> Engine::DeleteUser(const std::string& user_id) {
  RETURN_IF_ERROR(ValidateId(user_id, "user_id"));
  DeleteUserResult result;
  {
    absl::ReaderMutexLock gate(&state_mu_);
    ASSIGN_OR_RETURN(auto profile, users_->Get(user_id));
    if (!profile) {
      result.message = "the user was unknown; nothing is stored about them";
      return result;
    }
    if (wal_) {
      // The tombstone keeps a replay of older records from bringing the user back.
      BufferWriter record;
      PutWalDeleteUser(user_id, record);
      RETURN_IF_ERROR(Log(record.data()));
    }
    ASSIGN_OR_RETURN(result.deleted, users_->Delete(user_id));
  }
  const char* store = users_->StoresProfilesInProcess() ? "memory" : "the shared user store";
  if (!wal_ && !users_->StoresProfilesInProcess()) {
    // The profile was the only place: the replication feed and its snapshots hold no user data.
    result.erased_from_storage = result.deleted;
    result.message = absl::StrCat("erased from ", store,
                                  " (the replication feed and snapshots hold no user data)");
    return result;
  }
  if (!wal_) {
    result.message = absl::StrCat("erased from ", store,
                                  " (no data directory: nothing about the user was on disk)");
    return result;
  }
  // Compaction: a snapshot taken now no longer holds the user, and writing it deletes the older
  // snapshot and the log segments that held the user's events.
  absl::StatusOr<SnapshotReport> snapshot = Snapshot();
  if (snapshot.ok()) {
    result.erased_from_storage = true;
    result.message = absl::StrCat("erased from ", store,
                                  ", and from disk: a new snapshot without the user replaced the "
                                  "older snapshot and the log segments holding their events");
  } else {
    result.message = absl::StrCat("erased from ", store, "; erasing from disk failed (",
                                  snapshot.status().message(),
                                  ") and completes with the next successful snapshot");
  }
  return result;
}

absl::StatusOr<UpsertResult> Engine::UpsertItems(std::vector<Item> items,
                                                 std::vector<std::vector<float>> embeddings) {
  if (items.empty()) return absl::InvalidArgumentError("items is empty");
  if (items.size() > options_.max_items_per_upsert) {
    return absl::InvalidArgumentError(absl::StrCat(items.size(), " items in one request; the limit is ",
                                                   options_.max_items_per_upsert));
  }
  if (!embeddings.empty() && embeddings.size() != items.size()) {
    return absl::InvalidArgumentError(absl::StrCat(embeddings.size(), " embeddings for ",
                                                   items.size(), " items"));
  }
  embeddings.resize(items.size());
  for (size_t i = 0; i < embeddings.size(); ++i) {
    std::vector<float>& e = embeddings[i];
    if (e.empty()) continue;
    if (static_cast<int>(e.size()) != encoder_->dimension()) {
      return absl::InvalidArgumentError(absl::StrCat("items[", i, "].embedding has ", e.size(),
                                                     " values; the model's dimension is ",
                                                     encoder_->dimension()));
    }
    double norm = 0;
    for (float x : e) norm += static_cast<double>(x) * x;
    if (!std::isfinite(norm) || norm <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("items[", i, "].embedding must be finite and not all zero"));
    }
    // Divide in double: 1/|e| overflows a float for vectors of subnormal values.
    const double length = std::sqrt(norm);
    for (float& x : e) x = static_cast<float>(x / length);
  }
  StringViewSet ids;
  for (size_t i = 0; i < items.size(); ++i) {
    const Item& it = items[i];
    const std::string where = absl::StrCat("items[", i, "]");
    RETURN_IF_ERROR(ValidateId(it.id, absl::StrCat(where, ".id").c_str()));
    if (!ids.insert(it.id).second) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": id '", it.id, "' appears twice"));
    }
    if (it.text.empty()) return absl::InvalidArgumentError(absl::StrCat(where, ".text is empty"));
    RETURN_IF_ERROR(CheckLength(it.text, options_.max_text_bytes, where + ".text"));
    if (it.categories.size() > options_.max_categories_per_item) {
      return absl::InvalidArgumentError(absl::StrCat(where, " has more than ",
                                                     options_.max_categories_per_item, " categories"));
    }
    for (const auto& c : it.categories) {
      if (c.empty() || c.size() > options_.max_id_bytes) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": categories must be 1..",
                                                       options_.max_id_bytes, " bytes"));
      }
    }
    if (it.attributes.size() > options_.max_attributes_per_item) {
      return absl::InvalidArgumentError(absl::StrCat(where, " has more than ",
                                                     options_.max_attributes_per_item, " attributes"));
    }
  }
  // Embed only new items and those whose text changed; items identical to what is stored are
  // neither logged nor applied again (a catalog file reloaded at every start-up costs nothing).
  UpsertResult result;
  std::vector<Item> writes;
  std::vector<std::vector<float>> vectors;  // per write; empty: keeps its vector
  std::vector<size_t> to_embed;             // positions in `writes`
  std::vector<std::string> texts;
  for (size_t i = 0; i < items.size(); ++i) {
    Item& item = items[i];
    auto existing = catalog_.Get(item.id);
    const bool indexed = existing && index_->Contains(item.id);
    if (!embeddings[i].empty()) {
      if (indexed && *existing == item) {
        auto current = index_->GetVector(item.id);
        if (current.ok() && *current == embeddings[i]) {
          ++result.unchanged;
          continue;
        }
      }
      vectors.push_back(std::move(embeddings[i]));  // given: nothing to embed
      writes.push_back(std::move(item));
      continue;
    }
    if (indexed && *existing == item) {
      ++result.unchanged;
      continue;
    }
    vectors.emplace_back();
    if (!indexed || existing->text != item.text) {
      to_embed.push_back(writes.size());
      texts.push_back(item.text);
    }
    writes.push_back(std::move(item));
  }
  if (!texts.empty()) {
    StageTimer t(*this, kEncode);
    ASSIGN_OR_RETURN(auto vecs, encoder_->Encode(texts, TextKind::kDocument));
    for (size_t j = 0; j < to_embed.size(); ++j) vectors[to_embed[j]] = std::move(vecs[j]);
  }
  if (writes.empty()) return result;
  RETURN_IF_ERROR(CheckDeadline("index_write"));
  StageTimer write_timer(*this, kIndexWrite);
  if (feed_) {
    // Every replica applies the record, so it carries every vector: an item whose text did not
    // change keeps the vector it has here.
    for (size_t i = 0; i < writes.size(); ++i) {
      if (!vectors[i].empty()) continue;
      auto v = index_->GetVector(writes[i].id);
      if (!v.ok()) {
        return absl::AbortedError(absl::StrCat("item '", writes[i].id,
                                               "' was deleted while this upsert ran; retry it"));
      }
      vectors[i] = std::move(v).value();
    }
    BufferWriter record;
    PutWalUpsert(writes, vectors, record);
    ASSIGN_OR_RETURN(FeedOutcome outcome, ReplicateWrite(record.data()));
    RETURN_IF_ERROR(outcome.status);
    result.created += outcome.upsert.created;
    result.updated += outcome.upsert.updated;
    result.unchanged += outcome.upsert.unchanged;
    return result;
  }
  absl::MutexLock lock(&catalog_write_mu_);
  absl::ReaderMutexLock gate(&state_mu_);
  for (size_t i = 0; i < writes.size(); ++i) {
    if (vectors[i].empty() && !index_->Contains(writes[i].id)) {
      return absl::AbortedError(absl::StrCat("item '", writes[i].id,
                                             "' was deleted while this upsert ran; retry it"));
    }
  }
  if (wal_) {
    BufferWriter record;
    PutWalUpsert(writes, vectors, record);
    RETURN_IF_ERROR(Log(record.data()));
  }
  // Holds the locks above while the worker thread applies the write.
  RETURN_IF_ERROR(index_writer_.Run([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return ApplyUpsert(std::move(writes), vectors, &result);
  }));
  return result;
}

absl::Status Engine::ApplyUpsert(std::vector<Item> items,
                                 const std::vector<std::vector<float>>& vectors,
                                 UpsertResult* result) {
  catalog_version_.fetch_add(1, std::memory_order_relaxed);
  // New items go into the index together: UpsertBatch links them beside the searches, on the
  // index's insert threads (one HNSW insert is ~2 ms of CPU at 1M items, so one thread caps a
  // server at ~500 new items/s whatever its cores). Changed vectors of existing items, and a
  // second occurrence of an id in this write, follow one by one, each under the index's writer
  // lock only for itself; catalog entries follow in the write's order, so the last one wins.
  std::vector<ItemVector> fresh;
  std::vector<char> in_batch(items.size(), 0);
  StringViewSet fresh_ids;
  for (size_t i = 0; i < items.size(); ++i) {
    if (!vectors[i].empty() && !index_->Contains(items[i].id) &&
        fresh_ids.insert(items[i].id).second) {
      fresh.push_back(ItemVector{items[i].id, vectors[i]});
      in_batch[i] = 1;
    }
  }
  if (!fresh.empty()) {
    if (absl::Status s = index_->UpsertBatch(fresh); !s.ok()) {
      // Partly applied (out of memory): the catalog gets the items the index published, so the
      // two agree, and the rest of the write is not applied (the log replays it whole).
      for (size_t i = 0; i < items.size(); ++i) {
        if (in_batch[i] && index_->Contains(items[i].id)) {
          if (!catalog_.Put(std::move(items[i]))) ++result->created;
        }
      }
      return s;
    }
  }
  for (size_t i = 0; i < items.size(); ++i) {
    const bool embedded = !vectors[i].empty();
    if (embedded && !in_batch[i]) {
      RETURN_IF_ERROR(index_->Upsert(items[i].id, vectors[i]));
    } else if (!embedded && !index_->Contains(items[i].id)) {
      return absl::DataLossError(absl::StrCat("item '", items[i].id, "' has no vector"));
    }
    std::shared_ptr<const Item> previous = catalog_.Put(std::move(items[i]));
    if (!previous) {
      ++result->created;
    } else if (embedded) {
      ++result->updated;
    } else {
      ++result->unchanged;  // same text, new categories or attributes
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<DeleteItemsResult> Engine::DeleteItems(const std::vector<std::string>& ids) {
  if (ids.empty()) return absl::InvalidArgumentError("ids is empty");
  if (ids.size() > options_.max_list_size) {
    return absl::InvalidArgumentError(
        absl::StrCat(ids.size(), " ids in one request; the limit is ", options_.max_list_size));
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    RETURN_IF_ERROR(ValidateId(ids[i], absl::StrCat("ids[", i, "]").c_str()));
  }
  if (feed_) {
    BufferWriter record;
    PutWalDeleteItems(ids, record);
    ASSIGN_OR_RETURN(FeedOutcome outcome, ReplicateWrite(record.data()));
    return outcome.deleted;
  }
  absl::MutexLock lock(&catalog_write_mu_);
  absl::ReaderMutexLock gate(&state_mu_);
  if (wal_) {
    BufferWriter record;
    PutWalDeleteItems(ids, record);
    RETURN_IF_ERROR(Log(record.data()));
  }
  return ApplyDeleteItems(ids);
}

DeleteItemsResult Engine::ApplyDeleteItems(const std::vector<std::string>& ids) {
  catalog_version_.fetch_add(1, std::memory_order_relaxed);
  DeleteItemsResult result;
  for (const auto& id : ids) {
    const bool in_catalog = catalog_.Remove(id);
    const bool in_index = index_->Remove(id).ok();
    popularity_.Forget(id);
    collab_.Forget(id);
    if (in_catalog || in_index) {
      ++result.deleted;
    } else {
      result.not_found.push_back(id);
    }
  }
  return result;
}

absl::StatusOr<ItemInfo> Engine::GetItem(const std::string& id) const {
  RETURN_IF_ERROR(ValidateId(id, "id"));
  auto item = catalog_.Get(id);
  if (!item) return absl::NotFoundError(absl::StrCat("item '", id, "' is not in the catalog"));
  return ItemInfo{item, popularity_.Score(id)};
}

void Engine::ExportStageMetrics(metrics::Registry& registry) {
  auto family = registry.Register<metrics::Histogram>(
      "semrec_stage_duration_seconds",
      "Time spent per stage: store (user profile reads and writes), encode (text embedding), "
      "ann (HNSW search), rank (collaborative candidates, fusion, reranking), index_write, log "
      "(write-ahead log append, including its fsync).");
  if (!family.ok()) return;
  const char* names[kStageCount] = {"store", "encode", "ann", "rank", "index_write", "log"};
  for (int i = 0; i < kStageCount; ++i) {
    stage_latency_[i] = &(*family)->Add({{"stage", names[i]}}, metrics::DefaultLatencyBuckets());
  }
  auto degraded = registry.Register<metrics::Counter>(
      "semrec_degraded_responses_total",
      "Recommend answers given without the user's profile because the user store was "
      "unavailable.");
  if (degraded.ok()) {
    degraded_responses_.store(&(*degraded)->Add({{"reason", "user_store_unavailable"}}),
                              std::memory_order_release);
  }
}

EngineStats Engine::Stats() const {
  EngineStats s;
  s.items = catalog_.size();
  s.users = users_->size();
  s.compact_users = users_->compact_size();
  s.events_applied = events_applied_.load(std::memory_order_relaxed);
  s.dimension = encoder_->dimension();
  s.model = encoder_->name();
  s.encoder = encoder_->stats();
  s.uptime_seconds = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::steady_clock::now() - started_)
                         .count();
  return s;
}

}  // namespace semrec
