// Data shared by the engine and gRPC benchmarks: unit vectors clustered around topic centres (so
// users who like items of one topic have one taste), and environment-variable settings.
//
//   std::vector<float> v = TopicVectors(/*n=*/20000, /*topics=*/200, /*dim=*/384);  // n x dim
//   int n = EnvInt("SEMREC_BENCH_N", 20000);
//
// Thread-compatible: plain functions.
#ifndef SEMREC_BENCHMARKS_SYNTHETIC_VECTORS_H_
#define SEMREC_BENCHMARKS_SYNTHETIC_VECTORS_H_

#include <cmath>
#include <cstdlib>
#include <random>
#include <vector>

namespace semrec::bench {

// The variable's integer value, or `fallback` when it is unset or empty.
inline int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

inline void NormalizeInPlace(float* v, int dim) {
  double norm = 0;
  for (int j = 0; j < dim; ++j) norm += double(v[j]) * v[j];
  for (int j = 0; j < dim; ++j) v[j] = static_cast<float>(v[j] / std::sqrt(norm));
}

// Item i belongs to topic i % topics: its topic's centre plus as much random noise again
// (cosine about 0.5 within a topic), normalized. Seeded: the same arguments give the same data.
inline std::vector<float> TopicVectors(int n, int topics, int dim) {
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 1.0f / std::sqrt(float(dim)));
  std::vector<float> centres(size_t(topics) * dim), items(size_t(n) * dim);
  for (float& x : centres) x = normal(rng);
  for (int t = 0; t < topics; ++t) NormalizeInPlace(&centres[size_t(t) * dim], dim);
  for (int i = 0; i < n; ++i) {
    float* v = &items[size_t(i) * dim];
    const float* c = &centres[size_t(i % topics) * dim];
    for (int j = 0; j < dim; ++j) v[j] = c[j] + normal(rng);
    NormalizeInPlace(v, dim);
  }
  return items;
}

}  // namespace semrec::bench

#endif  // SEMREC_BENCHMARKS_SYNTHETIC_VECTORS_H_
