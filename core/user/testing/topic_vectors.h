// Test data for the user model: unit vectors around random topic centres (cosine about 0.5
// within a topic, about 0 across), so a user's events form tastes as real ones do, and the
// cosine that compares a decoded vector with the original.
//
//   TopicVectors topics(/*topics=*/3);
//   std::vector<float> v = topics.Next(/*topic=*/1);   // 384-d, unit
//   EXPECT_GE(Cosine(a, b), 0.9999);
//
// Thread-compatible: one TopicVectors per thread.
#ifndef SEMREC_CORE_USER_TESTING_TOPIC_VECTORS_H_
#define SEMREC_CORE_USER_TESTING_TOPIC_VECTORS_H_

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace semrec {

inline double Norm(const std::vector<float>& v) {
  double n = 0;
  for (float x : v) n += double(x) * x;
  return std::sqrt(n);
}

inline double Cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double dot = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) dot += double(a[i]) * b[i];
  return dot / (Norm(a) * Norm(b));
}

class TopicVectors {
 public:
  explicit TopicVectors(int topics, uint32_t seed = 1, int dim = 384) : rng_(seed), dim_(dim) {
    for (int t = 0; t < topics; ++t) centres_.push_back(Random());
  }
  int topics() const { return static_cast<int>(centres_.size()); }
  // The topic's centre plus as much random noise again, normalized.
  std::vector<float> Next(int topic) {
    std::vector<float> v = Random();
    for (int j = 0; j < dim_; ++j) v[j] += centres_[topic][j];
    return Normalized(std::move(v));
  }

 private:
  std::vector<float> Random() {
    std::normal_distribution<float> normal;
    std::vector<float> v(dim_);
    for (float& x : v) x = normal(rng_);
    return Normalized(std::move(v));
  }
  static std::vector<float> Normalized(std::vector<float> v) {
    const double n = Norm(v);
    for (float& x : v) x = static_cast<float>(x / n);
    return v;
  }
  std::mt19937 rng_;
  int dim_;
  std::vector<std::vector<float>> centres_;
};

}  // namespace semrec

#endif  // SEMREC_CORE_USER_TESTING_TOPIC_VECTORS_H_
