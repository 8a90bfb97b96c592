#include "core/engine/engine.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/common/string_map.h"
#include "absl/strings/str_cat.h"
#include "core/common/status_macros.h"

namespace semrec {
namespace {

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

// One part of the Recommend target, kept for explanations.
struct TargetPart {
  Reason reason;
  float weight;
  std::vector<float> vector;
};

}  // namespace

absl::Status EngineOptions::Validate() const {
  RETURN_IF_ERROR(user.Validate());
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
      users_(std::move(users)),
      popularity_(options.popularity_half_life_seconds),
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
  return std::unique_ptr<Engine>(
      new Engine(options, std::move(encoder), std::move(index), std::move(users)));
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
  for (auto& [id, score] : popularity_.Top(k, accept)) {
    if (auto item = catalog_.Get(id)) {
      taken.insert(id);
      out.push_back(Recommendation{id, static_cast<float>(score), "", Reason::kPopular, "", item});
    }
  }
  // Cold start with too little history: fill with catalog items in a stable order.
  if (static_cast<int>(out.size()) < k) {
    for (const std::string& id : *catalog_.SortedIds()) {
      if (static_cast<int>(out.size()) >= k) break;
      if (taken.contains(id) || !accept(id)) continue;
      if (auto item = catalog_.Get(id)) {
        out.push_back(Recommendation{id, 0.0f, "", Reason::kPopular, "", item});
      }
    }
  }
  return out;
}

absl::StatusOr<std::vector<Recommendation>> Engine::Recommend(const RecommendRequest& req) const {
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

  std::shared_ptr<const UserProfile> profile;
  if (!req.user_id.empty()) {
    ASSIGN_OR_RETURN(profile, users_->Get(req.user_id));
  }

  // The parts of the target vector.
  std::vector<TargetPart> parts;
  if (profile) {
    std::vector<float> dir = profile->InterestDirection();
    if (!dir.empty() && options_.user_weight > 0) {
      parts.push_back({Reason::kUserInterest, options_.user_weight, std::move(dir)});
    }
  }
  if (!req.query.empty() && options_.query_weight > 0) {
    ASSIGN_OR_RETURN(auto q, encoder_->Encode({req.query}, TextKind::kQuery));
    parts.push_back({Reason::kQuery, options_.query_weight, std::move(q[0])});
  }
  std::vector<std::pair<std::string, std::vector<float>>> context;
  for (const std::string& id : req.context_item_ids) {
    auto v = index_->GetVector(id);
    if (v.ok()) context.emplace_back(id, std::move(v).value());  // unknown context ids are ignored
  }
  if (!context.empty() && options_.context_weight > 0) {
    std::vector<float> mean;
    for (const auto& [id, v] : context) AddScaled(mean, v, 1.0f);
    if (Normalize(mean)) parts.push_back({Reason::kContext, options_.context_weight, mean});
  }

  StringViewSet excluded;
  for (const auto& id : req.filter.exclude_item_ids) excluded.insert(id);
  for (const auto& id : req.context_item_ids) excluded.insert(id);
  const bool exclude_seen = profile && !req.filter.include_seen;
  auto accept = [&](std::string_view id) {
    if (excluded.contains(id)) return false;
    if (exclude_seen && profile->seen.contains(id)) return false;
    if (req.filter.include_categories.empty() && req.filter.exclude_categories.empty()) {
      return true;
    }
    auto item = catalog_.Get(id);
    if (!item) return false;
    for (const auto& c : req.filter.exclude_categories) {
      if (item->HasCategory(c)) return false;
    }
    if (req.filter.include_categories.empty()) return true;
    for (const auto& c : req.filter.include_categories) {
      if (item->HasCategory(c)) return true;
    }
    return false;
  };

  if (parts.empty()) {
    std::vector<Recommendation> out = PopularItems(req.k, accept);
    if (req.explain) {
      for (auto& r : out) r.explanation = r.score > 0 ? "popular now" : "new in the catalog";
    }
    return out;
  }

  std::vector<float> target;
  for (const auto& p : parts) AddScaled(target, p.vector, p.weight);
  if (!Normalize(target)) {
    // Opposite parts cancelled out exactly: follow the first one.
    target = parts.front().vector;
  }

  const bool rerank = req.diversity > 0 || req.novelty > 0;
  const int fetch = rerank ? std::min(options_.max_k, req.k * 4 + 20) : req.k;
  ASSIGN_OR_RETURN(std::vector<IndexHit> hits, index_->Search(target, fetch, accept));

  struct Candidate {
    IndexHit hit;
    float relevance;
    std::vector<float> vec;
  };
  std::vector<Candidate> cands;
  cands.reserve(hits.size());
  const bool need_vectors = req.diversity > 0 || req.explain;
  for (auto& h : hits) {
    Candidate c{std::move(h), 0, {}};
    c.relevance = c.hit.score;
    if (need_vectors) {
      auto v = index_->GetVector(c.hit.id);
      if (!v.ok()) continue;  // removed since the search
      c.vec = std::move(v).value();
    }
    cands.push_back(std::move(c));
  }
  if (req.novelty > 0) {
    // Trade popularity for the long tail: subtract the item's popularity on a log scale (0..1).
    const double max_pop = popularity_.MaxScore();
    if (max_pop > 0) {
      const double denom = std::log1p(max_pop);
      for (auto& c : cands) {
        c.relevance -= req.novelty * static_cast<float>(std::log1p(popularity_.Score(c.hit.id)) / denom);
      }
    }
    std::stable_sort(cands.begin(), cands.end(),
                     [](const Candidate& a, const Candidate& b) { return a.relevance > b.relevance; });
  }
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
        const float s = lambda * cands[i].relevance - (1 - lambda) * redundancy;
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
  out.reserve(chosen.size());
  for (auto& c : chosen) {
    Recommendation r;
    r.item_id = c.hit.id;
    r.score = c.relevance;
    r.item = catalog_.Get(r.item_id);
    if (!r.item) continue;  // deleted concurrently
    if (req.explain) {
      const TargetPart* top = &parts.front();
      float top_contribution = -std::numeric_limits<float>::infinity();
      for (const auto& p : parts) {
        const float contribution = p.weight * Dot(p.vector, c.vec);
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
          if (Dot(ctx.second, c.vec) > Dot(best->second, c.vec)) best = &ctx;
        }
        r.source_item_id = best->first;
        auto src = catalog_.Get(best->first);
        r.explanation = absl::StrCat("similar to ", Quote(src ? src->DisplayName() : best->first));
      } else {
        const std::pair<const RecentEvent*, std::vector<float>>* best = nullptr;
        for (const auto& l : liked) {
          if (!best || Dot(l.second, c.vec) > Dot(best->second, c.vec)) best = &l;
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
    out.push_back(std::move(r));
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
    if (e.item_id.size() > options_.max_id_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": item_id is longer than ",
                                                     options_.max_id_bytes, " bytes"));
    }
    if (e.type == EventType::kSearch && e.text.empty() && e.item_id.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": a SEARCH event needs text"));
    }
    if (e.text.size() > options_.max_text_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": text is longer than ",
                                                     options_.max_text_bytes, " bytes"));
    }
    if (e.event_id.size() > options_.max_id_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": event_id is longer than ",
                                                     options_.max_id_bytes, " bytes"));
    }
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

  ASSIGN_OR_RETURN(std::vector<bool> applied, users_->ApplyEvents(user_id, sorted));
  int64_t count = 0;
  for (size_t j = 0; j < sorted.size(); ++j) {
    EventResult& res = results[resolved_index[order[j]]];
    if (!applied[j]) {
      res.outcome = EventOutcome::kDuplicate;
      res.message = absl::StrCat("event_id '", sorted[j].event.event_id, "' was already applied");
      continue;
    }
    ++count;
    const Event& e = sorted[j].event;
    if (!e.item_id.empty()) popularity_.Record(e.item_id, PopularityWeight(e.type), e.timestamp_us);
  }
  events_applied_.fetch_add(count, std::memory_order_relaxed);
  return results;
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
    if (excluded.contains(id)) return false;
    if (req.filter.include_categories.empty() && req.filter.exclude_categories.empty()) return true;
    auto item = catalog_.Get(id);
    if (!item) return false;
    for (const auto& c : req.filter.exclude_categories) {
      if (item->HasCategory(c)) return false;
    }
    if (req.filter.include_categories.empty()) return true;
    for (const auto& c : req.filter.include_categories) {
      if (item->HasCategory(c)) return true;
    }
    return false;
  };
  ASSIGN_OR_RETURN(auto hits, index_->Search(*vec, req.k, accept));
  auto source = catalog_.Get(req.item_id);
  std::vector<Recommendation> out;
  for (auto& h : hits) {
    Recommendation r;
    r.item = catalog_.Get(h.id);
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
    if (texts[i].size() > options_.max_text_bytes) {
      return absl::InvalidArgumentError(absl::StrCat("texts[", i, "] is longer than ",
                                                     options_.max_text_bytes, " bytes"));
    }
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
    for (auto& h : hits) {
      Recommendation r;
      r.item = catalog_.Get(h.id);
      if (!r.item) continue;
      r.item_id = std::move(h.id);
      r.score = h.score;
      r.reason = Reason::kUserInterest;
      summary.nearest_items.push_back(std::move(r));
    }
  }
  return summary;
}

absl::StatusOr<bool> Engine::DeleteUser(const std::string& user_id) {
  RETURN_IF_ERROR(ValidateId(user_id, "user_id"));
  return users_->Delete(user_id);
}

absl::StatusOr<UpsertResult> Engine::UpsertItems(std::vector<Item> items) {
  if (items.empty()) return absl::InvalidArgumentError("items is empty");
  if (items.size() > options_.max_items_per_upsert) {
    return absl::InvalidArgumentError(absl::StrCat(items.size(), " items in one request; the limit is ",
                                                   options_.max_items_per_upsert));
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
    if (it.text.size() > options_.max_text_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(where, ".text is longer than ",
                                                     options_.max_text_bytes, " bytes"));
    }
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
  // Embed only new items and those whose text changed.
  std::vector<size_t> to_embed;
  std::vector<std::string> texts;
  for (size_t i = 0; i < items.size(); ++i) {
    auto existing = catalog_.Get(items[i].id);
    if (!existing || existing->text != items[i].text || !index_->Contains(items[i].id)) {
      to_embed.push_back(i);
      texts.push_back(items[i].text);
    }
  }
  std::vector<std::vector<float>> vecs;
  if (!texts.empty()) {
    ASSIGN_OR_RETURN(vecs, encoder_->Encode(texts, TextKind::kDocument));
  }
  UpsertResult result;
  absl::MutexLock lock(&catalog_write_mu_);
  size_t next = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    const bool embedded = next < to_embed.size() && to_embed[next] == i;
    if (embedded) RETURN_IF_ERROR(index_->Upsert(items[i].id, vecs[next++]));
    std::shared_ptr<const Item> previous = catalog_.Put(std::move(items[i]));
    if (!previous) {
      ++result.created;
    } else if (embedded) {
      ++result.updated;
    } else {
      ++result.unchanged;
    }
  }
  return result;
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
  DeleteItemsResult result;
  absl::MutexLock lock(&catalog_write_mu_);
  for (const auto& id : ids) {
    const bool in_catalog = catalog_.Remove(id);
    const bool in_index = index_->Remove(id).ok();
    popularity_.Forget(id);
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

EngineStats Engine::Stats() const {
  EngineStats s;
  s.items = catalog_.size();
  s.users = users_->size();
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
