#include "core/encoder/torch_encoder.h"

#include <torch/cuda.h>
#include <ATen/Parallel.h>
#include <torch/script.h>

#include <malloc.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <numeric>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/common/logger.h"
#include "core/common/status_macros.h"
#include "spdlog/spdlog.h"

namespace semrec {
namespace {

std::shared_ptr<spdlog::logger> Logger() {
  static const std::shared_ptr<spdlog::logger> logger = ModuleLogger("encoder");
  return logger;
}

// libtorch's thread pools are process-wide and can be sized only before first use.
void ConfigureTorchThreadsOnce(int intra_op_threads) {
  static std::once_flag once;
  std::call_once(once, [intra_op_threads] {
    int n = intra_op_threads > 0 ? intra_op_threads
                                 : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    try {
      at::set_num_threads(n);
      at::set_num_interop_threads(1);
      // The profiling executor re-specializes the graph for every new input shape, and dynamic
      // batching produces many shapes: run the plain (non-profiling) graph instead.
      torch::jit::setGraphExecutorOptimize(false);
      // CPU libtorch allocates activations with malloc: keep freed buffers (up to glibc's 32 MiB
      // mmap limit) in the heap instead of mapping and zeroing fresh pages for every pass
      // (measured: batch-32 forward passes 2.4x faster).
      mallopt(M_MMAP_THRESHOLD, 32 << 20);
      mallopt(M_TRIM_THRESHOLD, 512 << 20);
    } catch (const std::exception& e) {
      Logger()->warn("could not set libtorch thread counts: {}", e.what());
    }
  });
}

absl::StatusOr<torch::Device> ParseDevice(const std::string& spec) {
  if (spec == "cpu") return torch::Device(torch::kCPU);
  const bool cuda_available = torch::cuda::is_available();
  if (spec == "auto") {
    return cuda_available ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  }
  if (spec == "cuda" || absl::StartsWith(spec, "cuda:")) {
    int index = 0;
    if (spec.size() > 5 && !absl::SimpleAtoi(spec.substr(5), &index)) {
      return absl::InvalidArgumentError(absl::StrCat("bad device \"", spec, "\": want cuda:N"));
    }
    if (!cuda_available) {
      return absl::FailedPreconditionError(
          absl::StrCat("device \"", spec, "\" requested but CUDA is not available to libtorch"));
    }
    if (index < 0 || index >= static_cast<int>(torch::cuda::device_count())) {
      return absl::InvalidArgumentError(absl::StrCat("device \"", spec, "\": only ",
                                                     torch::cuda::device_count(), " CUDA devices"));
    }
    return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("bad device \"", spec, "\": want auto, cpu, cuda or cuda:N"));
}

}  // namespace

struct TorchEncoder::Impl {
  EncoderManifest manifest;
  std::unique_ptr<Tokenizer> tokenizer;
  torch::jit::Module module;
  torch::Device device{torch::kCPU};
  torch::ScalarType dtype = torch::kFloat32;
  int max_batch_size = 64;

  const std::string& Prefix(TextKind kind) const {
    return kind == TextKind::kQuery ? manifest.query_prefix : manifest.document_prefix;
  }

  std::vector<int32_t> Tokenize(std::string_view text, TextKind kind) const {
    const std::string& prefix = Prefix(kind);
    if (prefix.empty()) return tokenizer->Encode(text);
    std::string prefixed = prefix;
    prefixed.append(text);
    return tokenizer->Encode(prefixed);
  }

  // Runs one padded batch; `order` lists the rows of `ids` to run, results go to out[row].
  absl::Status RunBatch(const std::vector<std::vector<int32_t>>& ids,
                        absl::Span<const size_t> rows, std::vector<std::vector<float>>& out) {
    const int64_t batch = static_cast<int64_t>(rows.size());
    size_t max_len = 1;
    for (size_t r : rows) max_len = std::max(max_len, ids[r].size());
    const int64_t len = static_cast<int64_t>(max_len);
    // On CUDA the inputs are staged in pinned host memory so the copy can be asynchronous.
    const auto host = torch::dtype(torch::kInt64).pinned_memory(device.is_cuda());
    auto input_ids = torch::full({batch, len}, static_cast<int64_t>(tokenizer->pad_id()), host);
    auto mask = torch::zeros({batch, len}, host);
    auto ids_acc = input_ids.accessor<int64_t, 2>();
    auto mask_acc = mask.accessor<int64_t, 2>();
    for (int64_t b = 0; b < batch; ++b) {
      const auto& row = ids[rows[b]];
      for (size_t t = 0; t < row.size(); ++t) {
        ids_acc[b][t] = row[t];
        mask_acc[b][t] = 1;
      }
    }
    const int dim = manifest.dimension;
    try {
      c10::InferenceMode guard;
      auto dev_ids = input_ids.to(device, /*non_blocking=*/true);
      auto dev_mask = mask.to(device, /*non_blocking=*/true);
      torch::IValue result = module.forward({dev_ids, dev_mask});
      torch::Tensor hidden;
      if (result.isTensor()) {
        hidden = result.toTensor();
      } else if (result.isTuple() && !result.toTuple()->elements().empty() &&
                 result.toTuple()->elements()[0].isTensor()) {
        hidden = result.toTuple()->elements()[0].toTensor();
      } else {
        return absl::InternalError("encoder model returned neither a tensor nor a tuple of tensors");
      }
      hidden = hidden.to(torch::kFloat32);
      torch::Tensor pooled;
      if (manifest.output == EncoderManifest::Output::kTokenEmbeddings) {
        if (hidden.dim() != 3 || hidden.size(0) != batch || hidden.size(1) != len ||
            hidden.size(2) != dim) {
          return absl::InternalError(absl::StrCat(
              "encoder model output has shape ", c10::str(hidden.sizes()), ", manifest expects [",
              batch, ", ", len, ", ", dim, "] token embeddings"));
        }
        if (manifest.pooling == EncoderManifest::Pooling::kCls) {
          pooled = hidden.select(1, 0);
        } else {
          auto m = dev_mask.unsqueeze(-1).to(torch::kFloat32);
          pooled = (hidden * m).sum(1) / m.sum(1).clamp_min(1e-9);
        }
      } else {
        if (hidden.dim() != 2 || hidden.size(0) != batch || hidden.size(1) != dim) {
          return absl::InternalError(absl::StrCat("encoder model output has shape ",
                                                  c10::str(hidden.sizes()), ", manifest expects [",
                                                  batch, ", ", dim, "] sentence embeddings"));
        }
        pooled = hidden;
      }
      if (manifest.normalize) {
        pooled = pooled / pooled.norm(2, 1, true).clamp_min(1e-12);
      }
      pooled = pooled.to(torch::kCPU).contiguous();
      const float* data = pooled.data_ptr<float>();
      for (int64_t b = 0; b < batch; ++b) {
        out[rows[b]].assign(data + b * dim, data + (b + 1) * dim);
      }
    } catch (const c10::Error& e) {
      return absl::InternalError(absl::StrCat("encoder forward failed: ", e.what_without_backtrace()));
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("encoder forward failed: ", e.what()));
    }
    return absl::OkStatus();
  }
};

TorchEncoder::TorchEncoder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TorchEncoder::~TorchEncoder() = default;

absl::StatusOr<std::unique_ptr<TorchEncoder>> TorchEncoder::Create(const Options& options) {
  if (options.model_dir.empty()) return absl::InvalidArgumentError("encoder model_dir is empty");
  if (options.max_batch_size < 1) {
    return absl::InvalidArgumentError("encoder max_batch_size must be at least 1");
  }
  auto impl = std::make_unique<Impl>();
  impl->max_batch_size = options.max_batch_size;
  ASSIGN_OR_RETURN(impl->manifest, EncoderManifest::Load(options.model_dir));
  ASSIGN_OR_RETURN(impl->tokenizer, impl->manifest.CreateTokenizer());
  ConfigureTorchThreadsOnce(options.intra_op_threads);
  ASSIGN_OR_RETURN(impl->device, ParseDevice(options.device));
  if (options.precision == "fp16" || options.precision == "bf16") {
    if (!impl->device.is_cuda()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "precision ", options.precision, " needs a CUDA device; the CPU runs fp32"));
    }
    impl->dtype = options.precision == "fp16" ? torch::kHalf : torch::kBFloat16;
  } else if (options.precision != "fp32") {
    return absl::InvalidArgumentError(
        absl::StrCat("bad precision \"", options.precision, "\": want fp32, fp16 or bf16"));
  }
  try {
    impl->module = torch::jit::load(impl->manifest.model_path, impl->device);
    impl->module.eval();
    if (impl->dtype != torch::kFloat32) impl->module.to(impl->dtype);
  } catch (const c10::Error& e) {
    return absl::InvalidArgumentError(absl::StrCat("cannot load TorchScript model ",
                                                   impl->manifest.model_path, ": ",
                                                   e.what_without_backtrace()));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot load TorchScript model ", impl->manifest.model_path, ": ", e.what()));
  }
  auto encoder = std::unique_ptr<TorchEncoder>(new TorchEncoder(std::move(impl)));
  // Warm-up: the first forward pass pays for graph optimization; do it before serving, and
  // check that the model's output matches the manifest.
  // On CUDA, also warm up a few batch shapes so kernels and allocator caches are ready.
  std::vector<std::string> warm_texts = {"warm up"};
  const int rounds = encoder->impl_->device.is_cuda() ? 3 : 1;
  for (int round = 0; round < rounds; ++round) {
    auto warm = encoder->Encode(warm_texts, TextKind::kQuery);
    if (!warm.ok() && encoder->impl_->dtype != torch::kFloat32) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the model does not run after casting to ", options.precision, " (", warm.status().message(),
          "); export it in that precision instead (tools/export_hf_encoder.py --dtype) and load it "
          "with --precision=fp32, which runs a model as exported"));
    }
    if (!warm.ok()) return warm.status();
    warm_texts.resize(warm_texts.size() * 8, "a longer warm-up text with a few more words in it");
  }
  Logger()->info("encoder {} loaded on {} (dim {}, max_length {})", encoder->name(),
                 encoder->device(), encoder->dimension(), encoder->impl_->manifest.max_length);
  return encoder;
}

absl::StatusOr<std::vector<std::vector<float>>> TorchEncoder::Encode(
    absl::Span<const std::string> texts, TextKind kind) {
  std::vector<std::vector<float>> out(texts.size());
  if (texts.empty()) return out;
  std::vector<std::vector<int32_t>> ids(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) ids[i] = impl_->Tokenize(texts[i], kind);
  // Sort by length so that each forward pass pads as little as possible.
  std::vector<size_t> order(texts.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return ids[a].size() < ids[b].size(); });
  const size_t step = static_cast<size_t>(impl_->max_batch_size);
  for (size_t begin = 0; begin < order.size(); begin += step) {
    const size_t n = std::min(step, order.size() - begin);
    RETURN_IF_ERROR(impl_->RunBatch(ids, absl::MakeConstSpan(order).subspan(begin, n), out));
  }
  return out;
}

std::vector<int32_t> TorchEncoder::Tokenize(std::string_view text, TextKind kind) const {
  return impl_->Tokenize(text, kind);
}
const Tokenizer& TorchEncoder::tokenizer() const { return *impl_->tokenizer; }
int TorchEncoder::dimension() const { return impl_->manifest.dimension; }
const std::string& TorchEncoder::name() const { return impl_->manifest.name; }
const EncoderManifest& TorchEncoder::manifest() const { return impl_->manifest; }
std::string TorchEncoder::device() const { return impl_->device.str(); }

}  // namespace semrec
