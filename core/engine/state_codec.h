// The engine's durable record formats: items, the write-ahead log records of catalog writes,
// feedback and user deletions, and a snapshot's users (whose profiles keep their own encodings:
// core/user/profile_codec.h, core/user/compact_profile.h). Decoders check every length and enum,
// so a corrupt record is reported (false), never trusted.
//
//   BufferWriter w; PutWalFeedback("u1", events, w);
//   WalRecord record; if (!GetWalRecord(payload, &record)) return absl::DataLossError(...);
//
// Thread-compatible: plain functions over caller-owned values.
#ifndef SEMREC_CORE_ENGINE_STATE_CODEC_H_
#define SEMREC_CORE_ENGINE_STATE_CODEC_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/types/span.h"
#include "core/catalog/item_catalog.h"
#include "core/storage/byte_codec.h"
#include "core/user/compact_profile.h"
#include "core/user/profile_codec.h"
#include "core/user/user_model.h"
#include "core/user/user_store.h"

namespace semrec {

void PutItem(const Item& item, BufferWriter& out);
bool GetItem(BufferReader& in, Item* item);

enum class WalRecordType : uint8_t {
  kUpsertItems = 1,
  kDeleteItems = 2,
  kFeedback = 3,
  kDeleteUser = 4,
  // Replication feed only: what one Feedback taught the collaborative model and popularity,
  // without the user (the feed keeps no personal data).
  kSignals = 5,
};

// kSignals: an item the user consumed before (newest first), and an applied event.
struct SignalPast {
  std::string item_id;
  float weight = 0;
  int64_t timestamp_us = 0;
};
struct SignalEvent {
  std::string item_id;
  EventType type = EventType::kView;
  float value = 0;
  int64_t timestamp_us = 0;
};

// One decoded log record; which fields are set depends on `type`.
struct WalRecord {
  WalRecordType type = WalRecordType::kUpsertItems;
  // kUpsertItems: the items, and per item its new vector (empty: the item's text did not change
  // and it keeps the vector it has).
  std::vector<Item> items;
  std::vector<std::vector<float>> vectors;
  // kDeleteItems.
  std::vector<std::string> ids;
  // kFeedback and kDeleteUser.
  std::string user_id;
  // kFeedback: the resolved events in the order they were applied. Only the embeddings of search
  // texts are logged (item vectors come from the catalog on replay); search texts themselves are
  // not stored.
  std::vector<ResolvedEvent> events;
  // kSignals: the user's recent consumption before the events, and the applied events in order.
  std::vector<SignalPast> history;
  std::vector<SignalEvent> signals;
};

void PutWalUpsert(absl::Span<const Item> items, absl::Span<const std::vector<float>> vectors,
                  BufferWriter& out);
void PutWalDeleteItems(absl::Span<const std::string> ids, BufferWriter& out);
void PutWalFeedback(std::string_view user_id, absl::Span<const ResolvedEvent> events,
                    BufferWriter& out);
void PutWalDeleteUser(std::string_view user_id, BufferWriter& out);
void PutWalSignals(absl::Span<const SignalPast> history, absl::Span<const SignalEvent> signals,
                   BufferWriter& out);
bool GetWalRecord(std::string_view payload, WalRecord* record);

// One user of a snapshot's users file, with the profile in the form the store holds it: an fp32
// profile (profile_codec.h) or a compact one's own bytes (compact_profile.h), tagged, so that a
// compact profile is neither decoded to be written nor encoded again to be restored.
//   string user_id, u8 encoding, then 1: the fp32 profile, 2: string compact bytes
// Snapshot format 1 wrote `tagged` = false records: the id and an fp32 profile. A record that
// GetSnapshotUser accepts holds a profile that loads (compact bytes are checked, not decoded).
void PutSnapshotUser(std::string_view user_id, const UserProfile& profile, BufferWriter& out);
void PutSnapshotUser(std::string_view user_id, const CompactProfile& profile, BufferWriter& out);
bool GetSnapshotUser(std::string_view payload, bool tagged, std::string* user_id,
                     StoredProfile* profile);

}  // namespace semrec

#endif  // SEMREC_CORE_ENGINE_STATE_CODEC_H_
