#include "server/convert.h"

#include "absl/strings/str_cat.h"

namespace semrec {
namespace {

// Timestamp range accepted (as google.protobuf.Timestamp documents): years 0001..9999.
constexpr int64_t kMinSeconds = -62135596800LL;
constexpr int64_t kMaxSeconds = 253402300799LL;

v1::Reason ReasonToProto(Reason r) {
  switch (r) {
    case Reason::kUserInterest: return v1::REASON_USER_INTEREST;
    case Reason::kQuery: return v1::REASON_QUERY;
    case Reason::kContext: return v1::REASON_CONTEXT;
    case Reason::kPopular: return v1::REASON_POPULAR;
    case Reason::kSimilarItem: return v1::REASON_SIMILAR_ITEM;
    case Reason::kCollaborative: return v1::REASON_COLLABORATIVE;
    case Reason::kNone: break;
  }
  return v1::REASON_UNSPECIFIED;
}

}  // namespace

ItemFilter FilterFromProto(const v1::Filter& f) {
  ItemFilter out;
  out.include_categories.assign(f.include_categories().begin(), f.include_categories().end());
  out.exclude_categories.assign(f.exclude_categories().begin(), f.exclude_categories().end());
  out.exclude_item_ids.assign(f.exclude_item_ids().begin(), f.exclude_item_ids().end());
  out.include_seen = f.include_seen();
  return out;
}

Item ItemFromProto(const v1::Item& p) {
  Item item;
  item.id = p.id();
  item.text = p.text();
  item.categories.assign(p.categories().begin(), p.categories().end());
  for (const auto& [k, v] : p.attributes()) item.attributes.emplace(k, v);
  return item;
}

void ItemToProto(const Item& item, v1::Item* out) {
  out->set_id(item.id);
  out->set_text(item.text);
  for (const auto& c : item.categories) out->add_categories(c);
  for (const auto& [k, v] : item.attributes) (*out->mutable_attributes())[k] = v;
}

v1::EventType EventTypeToProto(EventType type) { return static_cast<v1::EventType>(type); }

void TimestampToProto(int64_t micros, google::protobuf::Timestamp* out) {
  int64_t seconds = micros / 1000000;
  int64_t rem = micros % 1000000;
  if (rem < 0) {
    rem += 1000000;
    --seconds;
  }
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>(rem * 1000));
}

absl::StatusOr<std::vector<Event>> EventsFromProto(
    const google::protobuf::RepeatedPtrField<v1::Event>& events, int64_t now_us) {
  std::vector<Event> out;
  out.reserve(events.size());
  for (int i = 0; i < events.size(); ++i) {
    const v1::Event& p = events[i];
    if (p.type() == v1::EVENT_TYPE_UNSPECIFIED || !v1::EventType_IsValid(p.type())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "events[", i, "].type is ",
          p.type() == v1::EVENT_TYPE_UNSPECIFIED ? "unset" : absl::StrCat("unknown (", p.type(), ")"),
          "; use one of VIEW, CLICK, LIKE, ADD_TO_CART, PURCHASE, RATING, DISLIKE, SKIP, SEARCH"));
    }
    Event e;
    e.item_id = p.item_id();
    e.type = static_cast<EventType>(p.type());
    e.value = p.value();
    e.event_id = p.event_id();
    e.text = p.text();
    if (p.has_timestamp()) {
      const auto& ts = p.timestamp();
      if (ts.seconds() < kMinSeconds || ts.seconds() > kMaxSeconds || ts.nanos() < 0 ||
          ts.nanos() > 999999999) {
        return absl::InvalidArgumentError(
            absl::StrCat("events[", i, "].timestamp is not a valid time"));
      }
      e.timestamp_us = ts.seconds() * 1000000 + ts.nanos() / 1000;
    } else {
      e.timestamp_us = now_us;
    }
    out.push_back(std::move(e));
  }
  return out;
}

void ScoredItemToProto(const Recommendation& rec, bool include_items, v1::ScoredItem* out) {
  out->set_item_id(rec.item_id);
  out->set_score(rec.score);
  if (!rec.explanation.empty()) out->set_explanation(rec.explanation);
  out->set_reason(ReasonToProto(rec.reason));
  if (!rec.source_item_id.empty()) out->set_source_item_id(rec.source_item_id);
  if (include_items && rec.item) ItemToProto(*rec.item, out->mutable_item());
}

void RecommendationsToProto(const std::vector<Recommendation>& recs, bool include_items,
                            v1::RecommendResponse* out) {
  out->mutable_items()->Reserve(static_cast<int>(recs.size()));
  for (const auto& r : recs) ScoredItemToProto(r, include_items, out->add_items());
}

}  // namespace semrec
