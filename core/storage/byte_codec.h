// Byte codec: a growable buffer writer and a bounds-checked reader for the little-endian binary
// payloads semrec stores in its write-ahead log and snapshots. Readers never read past the end:
// every Get returns false on truncated or malformed input instead.
//
//   BufferWriter w; w.PutString("u1"); w.PutFloats(vec);
//   BufferReader r(w.data()); std::string id; std::vector<float> v;
//   if (!r.GetString(&id) || !r.GetFloats(&v)) return absl::DataLossError("bad record");
//
// Thread-compatible: one writer or reader per thread.
#ifndef SEMREC_CORE_STORAGE_BYTE_CODEC_H_
#define SEMREC_CORE_STORAGE_BYTE_CODEC_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "absl/types/span.h"

namespace semrec {

class BufferWriter {
 public:
  void PutU8(uint8_t v) { data_.push_back(static_cast<char>(v)); }
  void PutBool(bool v) { PutU8(v ? 1 : 0); }
  void PutVarint(uint64_t v) {
    while (v >= 0x80) {
      data_.push_back(static_cast<char>(v | 0x80));
      v >>= 7;
    }
    data_.push_back(static_cast<char>(v));
  }
  void PutFixed64(uint64_t v) { PutRaw(&v, sizeof(v)); }
  void PutI64(int64_t v) { PutFixed64(static_cast<uint64_t>(v)); }
  void PutFloat(float v) { PutRaw(&v, sizeof(v)); }
  void PutDouble(double v) { PutRaw(&v, sizeof(v)); }
  void PutString(std::string_view s) {
    PutVarint(s.size());
    data_.append(s.data(), s.size());
  }
  void PutFloats(absl::Span<const float> v) {
    PutVarint(v.size());
    PutRaw(v.data(), v.size() * sizeof(float));
  }

  const std::string& data() const { return data_; }
  std::string Release() { return std::move(data_); }
  void Clear() { data_.clear(); }

 private:
  void PutRaw(const void* p, size_t n) { data_.append(static_cast<const char*>(p), n); }
  std::string data_;
};

class BufferReader {
 public:
  explicit BufferReader(std::string_view data) : data_(data) {}

  bool GetU8(uint8_t* v) { return GetRaw(v, 1); }
  bool GetBool(bool* v) {
    uint8_t b;
    if (!GetU8(&b) || b > 1) return false;
    *v = b == 1;
    return true;
  }
  bool GetVarint(uint64_t* v) {
    uint64_t result = 0;
    for (int shift = 0; shift <= 63; shift += 7) {
      if (pos_ >= data_.size()) return false;
      const uint8_t b = static_cast<uint8_t>(data_[pos_++]);
      result |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) {
        *v = result;
        return true;
      }
    }
    return false;
  }
  bool GetFixed64(uint64_t* v) { return GetRaw(v, sizeof(*v)); }
  bool GetI64(int64_t* v) {
    uint64_t u;
    if (!GetFixed64(&u)) return false;
    *v = static_cast<int64_t>(u);
    return true;
  }
  bool GetFloat(float* v) { return GetRaw(v, sizeof(*v)); }
  bool GetDouble(double* v) { return GetRaw(v, sizeof(*v)); }
  bool GetString(std::string* s) {
    uint64_t n;
    if (!GetVarint(&n) || n > remaining()) return false;
    s->assign(data_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  bool GetFloats(std::vector<float>* v) {
    uint64_t n;
    if (!GetVarint(&n) || n > remaining() / sizeof(float)) return false;
    v->resize(n);
    return GetRaw(v->data(), n * sizeof(float));
  }
  // Reads a count that announces at least `min_bytes_each` bytes per element, so a corrupt count
  // cannot make the caller reserve more than the record holds.
  bool GetCount(uint64_t* n, size_t min_bytes_each = 1) {
    return GetVarint(n) && *n <= remaining() / (min_bytes_each == 0 ? 1 : min_bytes_each);
  }

  size_t remaining() const { return data_.size() - pos_; }
  bool done() const { return pos_ == data_.size(); }

 private:
  bool GetRaw(void* p, size_t n) {
    if (n > remaining()) return false;
    if (n > 0) std::memcpy(p, data_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  std::string_view data_;
  size_t pos_ = 0;
};

}  // namespace semrec

#endif  // SEMREC_CORE_STORAGE_BYTE_CODEC_H_
