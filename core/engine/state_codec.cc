#include "core/engine/state_codec.h"

namespace semrec {
namespace {

// The encoding byte of a snapshot user record.
constexpr uint8_t kFp32Profile = 1;
constexpr uint8_t kCompactProfile = 2;

void PutStrings(absl::Span<const std::string> strings, BufferWriter& out) {
  out.PutVarint(strings.size());
  for (const auto& s : strings) out.PutString(s);
}

template <typename Container>
bool GetStrings(BufferReader& in, Container* out) {
  uint64_t n;
  if (!in.GetCount(&n)) return false;
  for (uint64_t i = 0; i < n; ++i) {
    std::string s;
    if (!in.GetString(&s)) return false;
    out->insert(out->end(), std::move(s));
  }
  return true;
}

}  // namespace

void PutItem(const Item& item, BufferWriter& out) {
  out.PutString(item.id);
  out.PutString(item.text);
  PutStrings(item.categories, out);
  out.PutVarint(item.attributes.size());
  for (const auto& [k, v] : item.attributes) {
    out.PutString(k);
    out.PutString(v);
  }
}

bool GetItem(BufferReader& in, Item* item) {
  *item = Item();
  if (!in.GetString(&item->id) || item->id.empty() || !in.GetString(&item->text) ||
      !GetStrings(in, &item->categories)) {
    return false;
  }
  uint64_t n;
  if (!in.GetCount(&n, 2)) return false;
  for (uint64_t i = 0; i < n; ++i) {
    std::string k, v;
    if (!in.GetString(&k) || !in.GetString(&v)) return false;
    item->attributes.emplace(std::move(k), std::move(v));
  }
  return true;
}

void PutWalUpsert(absl::Span<const Item> items, absl::Span<const std::vector<float>> vectors,
                  BufferWriter& out) {
  out.PutU8(static_cast<uint8_t>(WalRecordType::kUpsertItems));
  out.PutVarint(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    PutItem(items[i], out);
    out.PutFloats(i < vectors.size() ? absl::Span<const float>(vectors[i])
                                     : absl::Span<const float>());
  }
}

void PutWalDeleteItems(absl::Span<const std::string> ids, BufferWriter& out) {
  out.PutU8(static_cast<uint8_t>(WalRecordType::kDeleteItems));
  PutStrings(ids, out);
}

void PutWalFeedback(std::string_view user_id, absl::Span<const ResolvedEvent> events,
                    BufferWriter& out) {
  out.PutU8(static_cast<uint8_t>(WalRecordType::kFeedback));
  out.PutString(user_id);
  out.PutVarint(events.size());
  for (const ResolvedEvent& r : events) {
    const Event& e = r.event;
    out.PutString(e.item_id);
    out.PutU8(static_cast<uint8_t>(e.type));
    out.PutFloat(e.value);
    out.PutI64(e.timestamp_us);
    out.PutString(e.event_id);
    // Only a search text's embedding: an item's vector is the catalog's at replay.
    const bool search_vector = e.type == EventType::kSearch && !e.text.empty();
    out.PutFloats(search_vector ? absl::Span<const float>(r.vector) : absl::Span<const float>());
  }
}

void PutWalDeleteUser(std::string_view user_id, BufferWriter& out) {
  out.PutU8(static_cast<uint8_t>(WalRecordType::kDeleteUser));
  out.PutString(user_id);
}

void PutWalSignals(absl::Span<const SignalPast> history, absl::Span<const SignalEvent> signals,
                   BufferWriter& out) {
  out.PutU8(static_cast<uint8_t>(WalRecordType::kSignals));
  out.PutVarint(history.size());
  for (const SignalPast& h : history) {
    out.PutString(h.item_id);
    out.PutFloat(h.weight);
    out.PutI64(h.timestamp_us);
  }
  out.PutVarint(signals.size());
  for (const SignalEvent& e : signals) {
    out.PutString(e.item_id);
    out.PutU8(static_cast<uint8_t>(e.type));
    out.PutFloat(e.value);
    out.PutI64(e.timestamp_us);
  }
}

bool GetWalRecord(std::string_view payload, WalRecord* record) {
  *record = WalRecord();
  BufferReader in(payload);
  uint8_t type;
  if (!in.GetU8(&type)) return false;
  uint64_t n;
  switch (static_cast<WalRecordType>(type)) {
    case WalRecordType::kUpsertItems:
      if (!in.GetCount(&n, 4)) return false;
      for (uint64_t i = 0; i < n; ++i) {
        Item item;
        std::vector<float> vector;
        if (!GetItem(in, &item) || !in.GetFloats(&vector)) return false;
        record->items.push_back(std::move(item));
        record->vectors.push_back(std::move(vector));
      }
      break;
    case WalRecordType::kDeleteItems:
      if (!GetStrings(in, &record->ids)) return false;
      break;
    case WalRecordType::kFeedback:
      if (!in.GetString(&record->user_id) || record->user_id.empty() || !in.GetCount(&n, 14)) {
        return false;
      }
      for (uint64_t i = 0; i < n; ++i) {
        ResolvedEvent r;
        Event& e = r.event;
        if (!in.GetString(&e.item_id) || !GetEventType(in, &e.type) || !in.GetFloat(&e.value) ||
            !in.GetI64(&e.timestamp_us) || !in.GetString(&e.event_id) ||
            !in.GetFloats(&r.vector)) {
          return false;
        }
        record->events.push_back(std::move(r));
      }
      break;
    case WalRecordType::kDeleteUser:
      if (!in.GetString(&record->user_id) || record->user_id.empty()) return false;
      break;
    case WalRecordType::kSignals:
      if (!in.GetCount(&n, 13)) return false;
      for (uint64_t i = 0; i < n; ++i) {
        SignalPast h;
        if (!in.GetString(&h.item_id) || !in.GetFloat(&h.weight) || !in.GetI64(&h.timestamp_us)) {
          return false;
        }
        record->history.push_back(std::move(h));
      }
      if (!in.GetCount(&n, 14)) return false;
      for (uint64_t i = 0; i < n; ++i) {
        SignalEvent e;
        if (!in.GetString(&e.item_id) || !GetEventType(in, &e.type) || !in.GetFloat(&e.value) ||
            !in.GetI64(&e.timestamp_us)) {
          return false;
        }
        record->signals.push_back(std::move(e));
      }
      break;
    default:
      return false;
  }
  record->type = static_cast<WalRecordType>(type);
  return in.done();
}

void PutSnapshotUser(std::string_view user_id, const UserProfile& profile, BufferWriter& out) {
  out.PutString(user_id);
  out.PutU8(kFp32Profile);
  PutProfile(profile, out);
}

void PutSnapshotUser(std::string_view user_id, const CompactProfile& profile, BufferWriter& out) {
  out.PutString(user_id);
  out.PutU8(kCompactProfile);
  out.PutString(profile.bytes());
}

bool GetSnapshotUser(std::string_view payload, bool tagged, std::string* user_id,
                     StoredProfile* profile) {
  BufferReader in(payload);
  uint8_t encoding = kFp32Profile;
  if (!in.GetString(user_id) || user_id->empty() || (tagged && !in.GetU8(&encoding))) return false;
  if (encoding == kCompactProfile) {
    // The bytes run to the end of the record: checked in place, copied once.
    uint64_t n;
    if (!in.GetVarint(&n) || n != in.remaining()) return false;
    absl::StatusOr<CompactProfile> compact =
        CompactProfile::FromBytes(payload.substr(payload.size() - n));
    if (!compact.ok()) return false;
    *profile = StoredProfile(*std::move(compact));
    return true;
  }
  if (encoding != kFp32Profile) return false;
  auto fp32 = std::make_shared<UserProfile>();
  if (!GetProfile(in, fp32.get()) || !in.done()) return false;
  *profile = StoredProfile(std::shared_ptr<const UserProfile>(std::move(fp32)));
  return true;
}

}  // namespace semrec
