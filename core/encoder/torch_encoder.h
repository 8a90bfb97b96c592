// TorchEncoder: the Encoder for a TorchScript model folder (manifest.json + model.pt + vocab),
// run with libtorch on the CPU or a CUDA device. The only class that sees torch headers (pimpl).
//
//   TorchEncoder::Options opts{.model_dir = "data/models/demo"};
//   ASSIGN_OR_RETURN(std::unique_ptr<TorchEncoder> enc, TorchEncoder::Create(opts));
//   ASSIGN_OR_RETURN(auto vecs, enc->Encode(texts, TextKind::kDocument));
//
// Thread-safe: concurrent Encode calls run concurrent forward passes.
#ifndef SEMREC_CORE_ENCODER_TORCH_ENCODER_H_
#define SEMREC_CORE_ENCODER_TORCH_ENCODER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/encoder/encoder.h"
#include "core/encoder/manifest.h"

namespace semrec {

class TorchEncoder final : public Encoder {
 public:
  struct Options {
    std::string model_dir;         // folder holding manifest.json; required
    std::string device = "auto";   // auto | cpu | cuda | cuda:N; start-up only
    // libtorch intra-op threads per forward pass; 0 = number of cores. Process-wide, set once.
    // 1 suits serving: concurrent requests already run passes in parallel, and idle OpenMP
    // workers spin and steal the cores from the gRPC threads (measured with load_tests/:
    // 963 req/s at 2 threads, 3,626 req/s at 1 on 2 cores).
    int intra_op_threads = 1;
    int max_batch_size = 64;       // texts per forward pass; larger inputs are split
    // Weights and activations on CUDA: fp32 | fp16 | bf16 (outputs are always returned as
    // fp32). CPU runs fp32 only. Start-up only.
    std::string precision = "fp32";
  };

  static absl::StatusOr<std::unique_ptr<TorchEncoder>> Create(const Options& options);
  ~TorchEncoder() override;

  absl::StatusOr<std::vector<std::vector<float>>> Encode(absl::Span<const std::string> texts,
                                                         TextKind kind) override;
  std::vector<int32_t> Tokenize(std::string_view text, TextKind kind) const override;
  const Tokenizer& tokenizer() const override;
  int dimension() const override;
  const std::string& name() const override;

  const EncoderManifest& manifest() const;
  // "cpu" or "cuda:N": where the model runs.
  std::string device() const;

 private:
  struct Impl;
  explicit TorchEncoder(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace semrec

#endif  // SEMREC_CORE_ENCODER_TORCH_ENCODER_H_
