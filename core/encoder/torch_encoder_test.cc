#include "core/encoder/torch_encoder.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/common/testing/test_paths.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace semrec {
namespace {

std::string TestEncoderDir() { return TestDataDir() + "/encoder"; }

float Dot(const std::vector<float>& a, const std::vector<float>& b) {
  float s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

class TorchEncoderTest : public ::testing::Test {
 protected:
  // A failed ASSERT in SetUpTestSuite would make GoogleTest report the tests as skipped; keep
  // the status and fail each test in SetUp instead.
  static void SetUpTestSuite() {
    TorchEncoder::Options options;
    options.model_dir = TestEncoderDir();
    options.max_batch_size = 4;
    auto enc = TorchEncoder::Create(options);
    if (enc.ok()) {
      encoder_ = enc->release();
    } else {
      *setup_status_ = enc.status();
    }
  }
  static void TearDownTestSuite() { delete encoder_; }
  void SetUp() override { ASSERT_NE(encoder_, nullptr) << *setup_status_; }

  static TorchEncoder* encoder_;
  static absl::Status* setup_status_;
};
TorchEncoder* TorchEncoderTest::encoder_ = nullptr;
absl::Status* TorchEncoderTest::setup_status_ = new absl::Status();

TEST_F(TorchEncoderTest, ReturnsUnitVectorsOfManifestDimension) {
  auto vecs = encoder_->Encode({"a space opera about a lost fleet", "fresh basil pesto"},
                               TextKind::kDocument);
  ASSERT_TRUE(vecs.ok()) << vecs.status();
  ASSERT_EQ(vecs->size(), 2u);
  for (const auto& v : *vecs) {
    ASSERT_EQ(static_cast<int>(v.size()), encoder_->dimension());
    EXPECT_NEAR(Dot(v, v), 1.0f, 1e-4);
  }
}

// Padding must not leak into the pooled vector: a text encoded alone, in a batch next to much
// longer texts, and split across forward passes (max_batch_size 4) gives the same embedding.
TEST_F(TorchEncoderTest, EmbeddingDoesNotDependOnBatchOrPadding) {
  const std::string text = "hiking boots";
  auto alone = encoder_->Encode({text}, TextKind::kDocument);
  ASSERT_TRUE(alone.ok());
  std::vector<std::string> batch = {
      "a very long description of a mountain tent with many words to force padding of others",
      text, "x", "another rather long text about cooking italian pasta with tomatoes and garlic",
      "short", text};
  auto batched = encoder_->Encode(batch, TextKind::kDocument);
  ASSERT_TRUE(batched.ok());
  ASSERT_EQ(batched->size(), batch.size());
  EXPECT_NEAR(Dot((*alone)[0], (*batched)[1]), 1.0f, 1e-4);
  EXPECT_NEAR(Dot((*alone)[0], (*batched)[5]), 1.0f, 1e-4);
}

TEST_F(TorchEncoderTest, IsDeterministicAndSharesWordsMeansCloser) {
  auto v = encoder_->Encode({"italian pasta recipe with tomato sauce",
                             "tomato sauce pasta, an italian classic", "noise cancelling headphones"},
                            TextKind::kDocument);
  ASSERT_TRUE(v.ok());
  auto again = encoder_->Encode({"italian pasta recipe with tomato sauce"}, TextKind::kDocument);
  ASSERT_TRUE(again.ok());
  EXPECT_NEAR(Dot((*v)[0], (*again)[0]), 1.0f, 1e-5);
  EXPECT_GT(Dot((*v)[0], (*v)[1]), Dot((*v)[0], (*v)[2]));
}

TEST_F(TorchEncoderTest, TokenizeAddsSpecialTokensAndTruncates) {
  const Tokenizer& tok = encoder_->tokenizer();
  auto ids = encoder_->Tokenize("pasta", TextKind::kQuery);
  ASSERT_GE(ids.size(), 3u);
  std::vector<std::string> tokens = tok.IdsToTokens(ids);
  EXPECT_EQ(tokens.front(), "[CLS]");
  EXPECT_EQ(tokens.back(), "[SEP]");
  std::string long_text;
  for (int i = 0; i < 2000; ++i) long_text += "word ";
  EXPECT_EQ(static_cast<int>(encoder_->Tokenize(long_text, TextKind::kQuery).size()),
            tok.max_length());
  auto v = encoder_->Encode({long_text, ""}, TextKind::kQuery);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_NEAR(Dot((*v)[1], (*v)[1]), 1.0f, 1e-4);
}

TEST(TorchEncoderCreateTest, MissingFolderIsNotFound) {
  TorchEncoder::Options options;
  options.model_dir = "/nonexistent/semrec-model";
  auto enc = TorchEncoder::Create(options);
  EXPECT_EQ(enc.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(enc.status().message(), ::testing::HasSubstr("manifest"));
}

TEST(TorchEncoderCreateTest, BadDeviceAndCorruptModelAreClearErrors) {
  namespace fs = std::filesystem;
  TorchEncoder::Options options;
  options.model_dir = TestEncoderDir();
  options.device = "tpu";
  EXPECT_EQ(TorchEncoder::Create(options).status().code(), absl::StatusCode::kInvalidArgument);
  options.device = "cpu";
  options.precision = "fp16";  // CUDA only
  auto fp16 = TorchEncoder::Create(options);
  EXPECT_EQ(fp16.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(fp16.status().message(), ::testing::HasSubstr("needs a CUDA device"));
  options.precision = "fp32";

  // A copy of the model folder whose model.pt is garbage.
  fs::path dir = fs::temp_directory_path() / "semrec_corrupt_model";
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const char* f : {"manifest.json", "vocab.txt"}) {
    fs::copy_file(fs::path(TestEncoderDir()) / f, dir / f);
  }
  std::ofstream(dir / "model.pt") << "not a torchscript archive";
  options.device = "cpu";
  options.model_dir = dir.string();
  auto enc = TorchEncoder::Create(options);
  EXPECT_EQ(enc.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(enc.status().message(), ::testing::HasSubstr("cannot load TorchScript model"));
}

}  // namespace
}  // namespace semrec
