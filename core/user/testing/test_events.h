// Test data for the user model: an Event in one call.
//
//   ApplyEvent(options, Ev("item-1", EventType::kLike, /*ts=*/1000), vector, profile);
//
// Thread-safe: a pure function.
#ifndef SEMREC_CORE_USER_TESTING_TEST_EVENTS_H_
#define SEMREC_CORE_USER_TESTING_TEST_EVENTS_H_

#include <cstdint>
#include <string>
#include <utility>

#include "core/user/user_model.h"

namespace semrec {

inline Event Ev(std::string item, EventType type, int64_t ts, float value = 0,
                std::string id = "") {
  Event e;
  e.item_id = std::move(item);
  e.type = type;
  e.timestamp_us = ts;
  e.value = value;
  e.event_id = std::move(id);
  return e;
}

}  // namespace semrec

#endif  // SEMREC_CORE_USER_TESTING_TEST_EVENTS_H_
