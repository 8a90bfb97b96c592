// The binary encoding of a UserProfile, shared by the engine's snapshots and the Redis user store.
// The decoder checks every length and enum, so a corrupt record is reported (false), never trusted.
//
//   BufferWriter w; PutProfile(profile, w);
//   BufferReader r(w.data()); UserProfile p; if (!GetProfile(r, &p)) return DataLossError(...);
//
// Thread-compatible: plain functions over caller-owned values.
#ifndef SEMREC_CORE_USER_PROFILE_CODEC_H_
#define SEMREC_CORE_USER_PROFILE_CODEC_H_

#include "core/storage/byte_codec.h"
#include "core/user/user_model.h"

namespace semrec {

void PutProfile(const UserProfile& profile, BufferWriter& out);
bool GetProfile(BufferReader& in, UserProfile* profile);

// An EventType as one byte; false for a value that names no type.
bool GetEventType(BufferReader& in, EventType* type);

}  // namespace semrec

#endif  // SEMREC_CORE_USER_PROFILE_CODEC_H_
