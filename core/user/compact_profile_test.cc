#include "core/user/compact_profile.h"

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "core/user/testing/test_events.h"
#include "core/user/testing/topic_vectors.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace semrec {
namespace {

constexpr int kDim = 384;
constexpr int64_t kHourUs = 3600LL * 1000000;

UserProfile RoundTrip(const UserProfile& p, size_t* bytes = nullptr) {
  CompactProfile compact = CompactProfile::Encode(p);
  if (bytes) *bytes = compact.bytes().size();
  UserProfile out;
  EXPECT_TRUE(compact.Decode(&out).ok());
  return out;
}

// Everything but the vectors is exact; vectors keep their direction and norm.
void ExpectSameProfile(const UserProfile& want, const UserProfile& got) {
  EXPECT_EQ(got.positive_mass, want.positive_mass);
  EXPECT_EQ(got.last_event_us, want.last_event_us);
  EXPECT_EQ(got.event_count, want.event_count);
  ASSERT_EQ(got.recent.size(), want.recent.size());
  for (size_t i = 0; i < want.recent.size(); ++i) {
    EXPECT_EQ(got.recent[i].item_id, want.recent[i].item_id);
    EXPECT_EQ(got.recent[i].type, want.recent[i].type);
    EXPECT_EQ(got.recent[i].value, want.recent[i].value);
    EXPECT_EQ(got.recent[i].timestamp_us, want.recent[i].timestamp_us);
  }
  EXPECT_EQ(got.seen, want.seen);
  EXPECT_EQ(got.event_ids, want.event_ids);
  EXPECT_EQ(got.event_id_set, want.event_id_set);
  auto expect_close = [](const std::vector<float>& w, const std::vector<float>& g) {
    ASSERT_EQ(g.size(), w.size());
    if (w.empty()) return;
    if (Norm(w) == 0) {
      EXPECT_EQ(Norm(g), 0);
      return;
    }
    EXPECT_GE(Cosine(w, g), 0.9999);
    EXPECT_NEAR(Norm(g) / Norm(w), 1.0, 0.01);
  };
  expect_close(want.interest, got.interest);
  ASSERT_EQ(got.interests.size(), want.interests.size());
  for (size_t i = 0; i < want.interests.size(); ++i) {
    EXPECT_EQ(got.interests[i].mass, want.interests[i].mass);
    expect_close(want.interests[i].vector, got.interests[i].vector);
  }
}

// A user with three tastes and every kind of field: ratings, a search, a late event, event ids,
// and seen items that dropped out of the recent list.
UserProfile RichProfile(UserModelOptions o = {}) {
  o.max_recent = 4;
  TopicVectors topics(3);
  UserProfile p;
  int64_t t = 1'700'000'000'000'000;
  for (int i = 0; i < 9; ++i, t += kHourUs) {
    ApplyEvent(o, Ev("item-" + std::to_string(i), EventType::kClick, t, 0, "e" + std::to_string(i)),
               topics.Next(i % 3), p);
  }
  ApplyEvent(o, Ev("rated", EventType::kRating, t, 4.5f), topics.Next(0), p);
  ApplyEvent(o, Ev("", EventType::kSearch, t + kHourUs, 0, "s1"), topics.Next(1), p);
  ApplyEvent(o, Ev("late", EventType::kLike, t - 100 * kHourUs), topics.Next(2), p);
  return p;
}

TEST(CompactProfileTest, RoundTripKeepsFieldsExactAndVectorsClose) {
  const UserProfile p = RichProfile();
  ASSERT_EQ(p.interests.size(), 3u);
  ASSERT_GT(p.seen.size(), p.recent.size());  // some seen ids are no longer recent
  size_t bytes = 0;
  const UserProfile got = RoundTrip(p, &bytes);
  ExpectSameProfile(p, got);
  EXPECT_GE(Cosine(p.InterestDirection(), got.InterestDirection()), 0.9999);
  // Three int8 clusters and the short fields; the interest is their sum, left out.
  EXPECT_LT(bytes, 3 * (kDim + 4 + 8) + 200);
}

TEST(CompactProfileTest, InterestThatIsTheClusterSumIsRebuilt) {
  UserModelOptions o;
  TopicVectors topics(3);
  UserProfile p;
  for (int i = 0; i < 3; ++i) {
    ApplyEvent(o, Ev("i" + std::to_string(i), EventType::kClick, i), topics.Next(i), p);
  }
  size_t omitted = 0;
  const UserProfile got = RoundTrip(p, &omitted);
  ExpectSameProfile(p, got);

  // The same user after a dislike that arrived before any taste existed: the interest holds
  // it, the clusters do not, so the interest is stored.
  UserProfile disliked;
  ApplyEvent(o, Ev("bad", EventType::kDislike, 0), topics.Next(0), disliked);
  for (int i = 0; i < 3; ++i) {
    ApplyEvent(o, Ev("i" + std::to_string(i), EventType::kClick, i), topics.Next(i), disliked);
  }
  size_t stored = 0;
  const UserProfile got_disliked = RoundTrip(disliked, &stored);
  ExpectSameProfile(disliked, got_disliked);
  EXPECT_GE(stored, omitted + kDim);
}

TEST(CompactProfileTest, InterestIsStoredWhenATasteWasReplaced) {
  UserModelOptions o;
  o.max_interests = 1;
  o.half_life_seconds = 3600;
  TopicVectors topics(2);
  UserProfile p;
  ApplyEvent(o, Ev("a", EventType::kLike, 0), topics.Next(0), p);
  // Two half-lives later the first taste has faded below a new like's weight: replaced.
  ApplyEvent(o, Ev("b", EventType::kLike, 2 * kHourUs), topics.Next(1), p);
  ASSERT_EQ(p.interests.size(), 1u);
  ASSERT_LT(Cosine(p.interest, p.interests[0].vector), 0.99);
  const UserProfile got = RoundTrip(p);
  ExpectSameProfile(p, got);
  EXPECT_GE(Cosine(p.interest, got.interest), 0.9999);
}

TEST(CompactProfileTest, EmptyProfileAndProfileWithoutVectors) {
  const UserProfile empty;
  size_t bytes = 0;
  const UserProfile got = RoundTrip(empty, &bytes);
  ExpectSameProfile(empty, got);
  EXPECT_LE(bytes, 24u);

  UserProfile history;  // events on items without vectors: history only
  ApplyEvent(UserModelOptions(), Ev("x", EventType::kView, 5, 0, "id"), {}, history);
  ApplyEvent(UserModelOptions(), Ev("y", EventType::kSkip, -7), {}, history);
  ASSERT_TRUE(history.interest.empty());
  ExpectSameProfile(history, RoundTrip(history));
}

TEST(CompactProfileTest, ZeroAndVanishinglySmallVectors) {
  UserProfile p;
  p.interest.assign(8, 0.0f);
  p.interests.push_back({std::vector<float>(8, 0.0f), 0.5});
  ExpectSameProfile(p, RoundTrip(p));
  // Decayed for a hundred and thirty half-lives: the scale is subnormal.
  UserProfile faded;
  faded.interest = {1e-38f, -2e-38f, 0.0f, 5e-39f};
  const UserProfile got = RoundTrip(faded);
  ASSERT_EQ(got.interest.size(), 4u);
  EXPECT_EQ(got.interest[2], 0.0f);
  EXPECT_GE(Cosine(faded.interest, got.interest), 0.999);
}

TEST(CompactProfileTest, RejectsTruncatedAndCorruptBytes) {
  BufferWriter out;
  EncodeCompactProfile(RichProfile(), out);
  const std::string bytes = out.data();
  UserProfile p;
  ASSERT_TRUE(DecodeCompactProfile(bytes, &p));
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(DecodeCompactProfile(std::string_view(bytes.data(), n), &p)) << n;
  }
  EXPECT_FALSE(DecodeCompactProfile(bytes + '\0', &p));  // trailing bytes
  std::string bad_flags = bytes;
  bad_flags[0] = static_cast<char>(0x40);
  EXPECT_FALSE(DecodeCompactProfile(bad_flags, &p));
  EXPECT_FALSE(CompactProfile().Decode(&p).ok());
}

// The check a snapshot's compact bytes get instead of decoding accepts exactly what decoding
// does, over every truncation and every single-bit change; FromBytes copies only what it accepts.
TEST(CompactProfileTest, CheckingAgreesWithDecoding) {
  BufferWriter out;
  EncodeCompactProfile(RichProfile(), out);
  const std::string bytes = out.data();
  UserProfile p;
  int accepted = 0, refused = 0;
  auto agree = [&](std::string_view damaged) {
    const bool decodes = DecodeCompactProfile(damaged, &p);
    ASSERT_EQ(IsCompactProfile(damaged), decodes);
    absl::StatusOr<CompactProfile> copy = CompactProfile::FromBytes(damaged);
    ASSERT_EQ(copy.ok(), decodes);
    if (!decodes) {
      EXPECT_EQ(copy.status().code(), absl::StatusCode::kDataLoss);
      ++refused;
      return;
    }
    ++accepted;
    EXPECT_EQ(copy->bytes(), damaged);
    EXPECT_TRUE(copy->Decode(&p).ok());
  };
  for (size_t n = 0; n <= bytes.size(); ++n) agree(std::string_view(bytes).substr(0, n));
  agree(bytes + '\0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string damaged = bytes;
      damaged[i] = static_cast<char>(damaged[i] ^ (1 << bit));
      agree(damaged);
    }
  }
  EXPECT_GT(accepted, 0);  // vector codes and times are free-form
  EXPECT_GT(refused, 0);
}

TEST(CompactProfileTest, CopiesShareOneTightBlock) {
  const CompactProfile a = CompactProfile::Encode(RichProfile());
  CompactProfile b = a;
  EXPECT_EQ(a.bytes().data(), b.bytes().data());
  EXPECT_LE(a.allocated_bytes(), a.bytes().size() + 8);
  const CompactProfile c = std::move(b);
  EXPECT_EQ(c.bytes().data(), a.bytes().data());
}

// The error a user's direction takes from one encoding, over many random 3-taste users: the
// figure README quotes.
TEST(CompactProfileTest, DirectionErrorOfOneEncoding) {
  UserModelOptions o;
  TopicVectors topics(50, 7);
  std::mt19937 rng(3);
  double worst = 1, sum = 0;
  constexpr int kUsers = 300;
  for (int u = 0; u < kUsers; ++u) {
    UserProfile p;
    for (int i = 0; i < 3; ++i) {
      ApplyEvent(o, Ev("i", EventType::kClick, i), topics.Next(rng() % 50), p);
    }
    const double cos = Cosine(p.InterestDirection(), RoundTrip(p).InterestDirection());
    worst = std::min(worst, cos);
    sum += cos;
  }
  std::printf("direction cosine after one encoding: mean %.6f, worst %.6f\n", sum / kUsers, worst);
  EXPECT_GE(worst, 0.9999);
}

}  // namespace
}  // namespace semrec
