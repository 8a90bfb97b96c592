// Test helper: every profile of a UserStore as ForEachProfile gives it, as comparable strings.
// The hot (fp32) profiles in the store's order, each through the snapshot codec with its seen ids
// sorted (PutProfile writes them in set order); then the compact ones as their own bytes, sorted
// (a hash map's order). Two stores holding the same profiles in the same tiers dump equal.
//
//   EXPECT_EQ(DumpProfiles(restored), DumpProfiles(original));
//
// Thread-compatible: reads the store through ForEachProfile only.
#ifndef SEMREC_CORE_USER_TESTING_DUMP_PROFILES_H_
#define SEMREC_CORE_USER_TESTING_DUMP_PROFILES_H_

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/user/profile_codec.h"
#include "core/user/user_store.h"
#include "gtest/gtest.h"

namespace semrec {

inline std::vector<std::string> DumpProfiles(const UserStore& users) {
  std::vector<std::string> out, compact;
  EXPECT_TRUE(users
                  .ForEachProfile([&](const std::string& id, StoredProfile stored) {
                    if (stored.is_compact()) {
                      compact.push_back(id + " compact " + std::string(stored.compact().bytes()));
                      return;
                    }
                    auto loaded = stored.Load();
                    ASSERT_TRUE(loaded.ok());
                    const UserProfile& p = **loaded;
                    UserProfile canonical = p;
                    canonical.seen.clear();
                    BufferWriter w;
                    PutProfile(canonical, w);
                    std::vector<std::string> seen(p.seen.begin(), p.seen.end());
                    std::sort(seen.begin(), seen.end());
                    out.push_back(absl::StrCat(id, " fp32 ", w.data(), absl::StrJoin(seen, ",")));
                  })
                  .ok());
  std::sort(compact.begin(), compact.end());
  out.insert(out.end(), compact.begin(), compact.end());
  return out;
}

}  // namespace semrec

#endif  // SEMREC_CORE_USER_TESTING_DUMP_PROFILES_H_
