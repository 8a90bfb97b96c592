// FakeEncoder: a deterministic bag-of-words Encoder for tests and benchmarks that must not depend
// on libtorch: every lower-cased word maps to a fixed pseudo-random vector; a text is the
// normalized sum of its words' vectors, so texts sharing words are close.
//
//   auto encoder = std::make_unique<FakeEncoder>(/*dimension=*/64);
//   auto vecs = encoder->Encode({"space opera"}, TextKind::kQuery);
//
// Thread-safe: immutable but for a mutex-guarded call log.
#ifndef SEMREC_CORE_ENCODER_TESTING_FAKE_ENCODER_H_
#define SEMREC_CORE_ENCODER_TESTING_FAKE_ENCODER_H_

#include <atomic>
#include <cctype>
#include <chrono>
#include <mutex>
#include <thread>
#include <utility>
#include <cmath>
#include <functional>
#include <random>

#include "core/encoder/encoder.h"

namespace semrec {

class FakeTokenizer final : public Tokenizer {
 public:
  std::vector<int32_t> Encode(std::string_view text) const override {
    std::vector<int32_t> ids = {1};
    for (const std::string& w : Words(text)) ids.push_back(static_cast<int32_t>(3 + std::hash<std::string>()(w) % 1000));
    ids.push_back(2);  // [SEP]
    return ids;
  }
  std::vector<std::string> IdsToTokens(const std::vector<int32_t>& ids) const override {
    std::vector<std::string> out;
    for (int32_t id : ids) out.push_back(id == 1 ? "[CLS]" : id == 2 ? "[SEP]" : "#" + std::to_string(id));
    return out;
  }
  int32_t pad_id() const override { return 0; }
  int max_length() const override { return 512; }
  int vocab_size() const override { return 1003; }

  static std::vector<std::string> Words(std::string_view text) {
    std::vector<std::string> words;
    std::string cur;
    for (char c : text) {
      if (std::isalnum(static_cast<unsigned char>(c))) {
        cur.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
      } else if (!cur.empty()) {
        words.push_back(std::move(cur));
        cur.clear();
      }
    }
    if (!cur.empty()) words.push_back(std::move(cur));
    return words;
  }
};

class FakeEncoder final : public Encoder {
 public:
  explicit FakeEncoder(int dimension) : dimension_(dimension) {}

  absl::StatusOr<std::vector<std::vector<float>>> Encode(absl::Span<const std::string> texts,
                                                         TextKind kind) override {
    calls_.fetch_add(1);
    {
      std::lock_guard<std::mutex> lock(log_mu_);
      call_log_.emplace_back(kind, texts.size());
    }
    if (delay_.count() > 0) std::this_thread::sleep_for(delay_);
    std::vector<std::vector<float>> out;
    for (const std::string& text : texts) out.push_back(Embed(text));
    return out;
  }
  std::vector<int32_t> Tokenize(std::string_view text, TextKind) const override {
    return tokenizer_.Encode(text);
  }
  const Tokenizer& tokenizer() const override { return tokenizer_; }
  int dimension() const override { return dimension_; }
  const std::string& name() const override { return name_; }

  int calls() const { return calls_.load(); }
  // Every Encode call so far: its kind and number of texts.
  std::vector<std::pair<TextKind, size_t>> call_log() const {
    std::lock_guard<std::mutex> lock(log_mu_);
    return call_log_;
  }
  // Makes each Encode call take at least `delay` (to exercise batching). Set before use.
  void set_delay(std::chrono::microseconds delay) { delay_ = delay; }

  std::vector<float> Embed(std::string_view text) const {
    std::vector<float> v(dimension_, 0.0f);
    for (const std::string& w : FakeTokenizer::Words(text)) {
      std::mt19937 rng(static_cast<uint32_t>(std::hash<std::string>()(w)));
      std::normal_distribution<float> n;
      for (float& x : v) x += n(rng);
    }
    double norm = 0;
    for (float x : v) norm += x * x;
    if (norm == 0) {
      v[0] = 1;
      return v;
    }
    for (float& x : v) x = static_cast<float>(x / std::sqrt(norm));
    return v;
  }

 private:
  const int dimension_;
  const std::string name_ = "fake-bag-of-words";
  FakeTokenizer tokenizer_;
  std::atomic<int> calls_{0};
  std::chrono::microseconds delay_{0};
  mutable std::mutex log_mu_;
  std::vector<std::pair<TextKind, size_t>> call_log_;
};

}  // namespace semrec

#endif  // SEMREC_CORE_ENCODER_TESTING_FAKE_ENCODER_H_
