#include "core/user/profile_codec.h"

#include <string>
#include <utility>

namespace semrec {

bool GetEventType(BufferReader& in, EventType* type) {
  uint8_t t;
  if (!in.GetU8(&t) || t < 1 || t >= kEventTypeCount) return false;
  *type = static_cast<EventType>(t);
  return true;
}

void PutProfile(const UserProfile& p, BufferWriter& out) {
  out.PutFloats(p.interest);
  out.PutDouble(p.positive_mass);
  out.PutI64(p.last_event_us);
  out.PutI64(p.event_count);
  out.PutVarint(p.recent.size());
  for (const RecentEvent& e : p.recent) {
    out.PutString(e.item_id);
    out.PutU8(static_cast<uint8_t>(e.type));
    out.PutFloat(e.value);
    out.PutI64(e.timestamp_us);
  }
  out.PutVarint(p.seen.size());
  for (const auto& id : p.seen) out.PutString(id);
  out.PutVarint(p.event_ids.size());
  for (const auto& id : p.event_ids) out.PutString(id);
  out.PutVarint(p.interests.size());
  for (const InterestCluster& c : p.interests) {
    out.PutFloats(c.vector);
    out.PutDouble(c.mass);
  }
}

bool GetProfile(BufferReader& in, UserProfile* p) {
  *p = UserProfile();
  uint64_t n;
  if (!in.GetFloats(&p->interest) || !in.GetDouble(&p->positive_mass) ||
      !in.GetI64(&p->last_event_us) || !in.GetI64(&p->event_count) || !in.GetCount(&n, 14)) {
    return false;
  }
  for (uint64_t i = 0; i < n; ++i) {
    RecentEvent e;
    if (!in.GetString(&e.item_id) || !GetEventType(in, &e.type) || !in.GetFloat(&e.value) ||
        !in.GetI64(&e.timestamp_us)) {
      return false;
    }
    p->recent.push_back(std::move(e));
  }
  if (!in.GetCount(&n)) return false;
  for (uint64_t i = 0; i < n; ++i) {
    std::string id;
    if (!in.GetString(&id)) return false;
    p->seen.insert(std::move(id));
  }
  if (!in.GetCount(&n)) return false;
  for (uint64_t i = 0; i < n; ++i) {
    std::string id;
    if (!in.GetString(&id)) return false;
    p->event_id_set.insert(id);
    p->event_ids.push_back(std::move(id));
  }
  if (!in.GetCount(&n, 9)) return false;
  for (uint64_t i = 0; i < n; ++i) {
    InterestCluster c;
    if (!in.GetFloats(&c.vector) || !in.GetDouble(&c.mass)) return false;
    p->interests.push_back(std::move(c));
  }
  return true;
}

}  // namespace semrec
