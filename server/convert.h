// Conversions between semrec.v1 protos and core types. Checks what only the wire format can get
// wrong (enum values, timestamps); everything else is validated by the engine.
//
//   ASSIGN_OR_RETURN(std::vector<Event> events, EventsFromProto(request.events(), now_us));
//   ToProto(recommendations, /*include_items=*/true, response.mutable_items());
//
// Thread-safe: pure functions.
#ifndef SEMREC_SERVER_CONVERT_H_
#define SEMREC_SERVER_CONVERT_H_

#include <vector>

#include "absl/status/statusor.h"
#include "core/engine/engine.h"
#include "semrec/v1/semrec.pb.h"

namespace semrec {

ItemFilter FilterFromProto(const v1::Filter& filter);
Item ItemFromProto(const v1::Item& item);
void ItemToProto(const Item& item, v1::Item* out);
absl::StatusOr<std::vector<Event>> EventsFromProto(
    const google::protobuf::RepeatedPtrField<v1::Event>& events, int64_t now_us);
void RecommendationsToProto(const std::vector<Recommendation>& recs, bool include_items,
                            v1::RecommendResponse* out);
void ScoredItemToProto(const Recommendation& rec, bool include_items, v1::ScoredItem* out);
v1::EventType EventTypeToProto(EventType type);
void TimestampToProto(int64_t micros, google::protobuf::Timestamp* out);

}  // namespace semrec

#endif  // SEMREC_SERVER_CONVERT_H_
