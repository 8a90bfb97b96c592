#include "core/tokenizer/sentencepiece_tokenizer.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "core/common/testing/test_paths.h"
#include "core/tokenizer/sentencepiece_includes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace semrec {
namespace {

namespace fs = std::filesystem;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::Not;

const char* const kChineseSentences[] = {
    "推荐系统根据用户的兴趣推荐商品。",         "这本科幻小说讲述了一艘飞船在星际间漂流的故事。",
    "我喜欢在周末阅读历史书籍和侦探小说。",     "这家餐厅的意大利面非常好吃，价格也很合理。",
    "用户喜欢的电影大多是太空歌剧和冒险故事。", "新的搜索功能可以更快地找到相似的商品。",
    "这款耳机音质很好，适合在通勤路上听音乐。", "推荐结果应该多样化，不要总是推荐同一类商品。",
    "她买了一本关于烹饪的书，学会了做中国菜。", "系统会记住用户看过的商品，避免重复推荐。",
    "这部纪录片介绍了海洋生物和环境保护。",     "周末的天气很好，我们去公园骑自行车。",
};

// Texts every encoding test runs on: English, Chinese, mixed, odd whitespace and punctuation.
const char* const kTexts[] = {
    "A generation ship drifts between dying stars.",
    "推荐系统根据用户的兴趣推荐商品。",
    "space opera 太空歌剧 and mystery novels",
    "  leading and   inner    spaces, trailing too   ",
    "Tabs\tand\nnewlines\r\nmix",
    "Ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３ and café",
    "",
};

std::vector<int32_t> SpmIds(const sentencepiece::SentencePieceProcessor& processor,
                            std::string_view text) {
  std::vector<int> ids;
  EXPECT_TRUE(processor.Encode(text, &ids).ok());
  return std::vector<int32_t>(ids.begin(), ids.end());
}

// Two models trained once on the example catalog plus some Chinese: one in the fairseq layout of
// XLM-R's (<unk>=0 <s>=1 </s>=2, no <pad>), one in T5's (<pad>=0 </s>=1 <unk>=2, no <s>).
class SentencePieceTokenizerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::path(::testing::TempDir()) /
                        ("sentencepiece_test_" + std::to_string(::getpid())));
    fs::create_directories(*dir_);
    setup_error_ = new std::string(TrainModels());
  }
  static void TearDownTestSuite() {
    std::error_code ignored;
    fs::remove_all(*dir_, ignored);
    delete dir_;
    delete setup_error_;
  }

  // Trains both models; the error, or "" on success. Fails no assertion here (GoogleTest would
  // report every test as skipped): SetUp() fails each test instead.
  static std::string TrainModels() {
    const fs::path catalog = fs::path(TestSourceDir()) / "examples" / "catalog.jsonl";
    std::ifstream in(catalog);
    if (!in) return "cannot read " + catalog.string();
    const fs::path corpus = *dir_ / "corpus.txt";
    std::ofstream out(corpus);
    int lines = 0;
    for (std::string line; std::getline(in, line);) {
      const nlohmann::json item = nlohmann::json::parse(line, nullptr, false);
      if (!item.is_object() || !item.contains("text")) continue;
      out << item["text"].get<std::string>() << "\n";
      ++lines;
    }
    for (int repeat = 0; repeat < 4; ++repeat) {
      for (const char* sentence : kChineseSentences) out << sentence << "\n";
    }
    out.close();
    if (lines < 100) return "too few catalog texts in " + catalog.string();
    const std::string common = "--input=" + corpus.string() +
                               " --vocab_size=500 --character_coverage=1.0"
                               " --hard_vocab_limit=false --num_threads=1 --minloglevel=2";
    const std::pair<std::string, std::string> models[] = {
        {"xlmr", ""}, {"t5", " --pad_id=0 --eos_id=1 --unk_id=2 --bos_id=-1"}};
    for (const auto& [name, layout] : models) {
      const auto status = sentencepiece::SentencePieceTrainer::Train(
          common + " --model_prefix=" + (*dir_ / name).string() + layout);
      if (!status.ok()) return "training " + name + ": " + status.ToString();
    }
    return "";
  }

  void SetUp() override {
    ASSERT_EQ(*setup_error_, "");
    ASSERT_TRUE(xlmr_spm_.Load(XlmrModel()).ok());
    ASSERT_TRUE(t5_spm_.Load(T5Model()).ok());
  }

  static std::string XlmrModel() { return (*dir_ / "xlmr.model").string(); }
  static std::string T5Model() { return (*dir_ / "t5.model").string(); }

  static std::unique_ptr<SentencePieceTokenizer> Make(SentencePieceOptions options) {
    absl::StatusOr<std::unique_ptr<SentencePieceTokenizer>> tokenizer =
        SentencePieceTokenizer::Create(options);
    EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
    return tokenizer.ok() ? *std::move(tokenizer) : nullptr;
  }
  static std::unique_ptr<SentencePieceTokenizer> Xlmr(int max_length = 512) {
    return Make({.model_file = XlmrModel(),
                 .flavor = SentencePieceFlavor::kXlmr,
                 .max_length = max_length});
  }
  static std::unique_ptr<SentencePieceTokenizer> T5(int max_length = 512) {
    return Make({.model_file = T5Model(),
                 .flavor = SentencePieceFlavor::kT5,
                 .max_length = max_length,
                 .extra_ids = 100});
  }

  static inline fs::path* dir_ = nullptr;
  static inline std::string* setup_error_ = nullptr;
  sentencepiece::SentencePieceProcessor xlmr_spm_, t5_spm_;
};

TEST_F(SentencePieceTokenizerTest, XlmrWrapsAndOffsetsSpmIdsByOne) {
  auto tokenizer = Xlmr();
  ASSERT_NE(tokenizer, nullptr);
  for (const char* text : kTexts) {
    std::vector<int32_t> expected = {0};
    for (int32_t id : SpmIds(xlmr_spm_, text)) expected.push_back(id == 0 ? 3 : id + 1);
    expected.push_back(2);
    EXPECT_EQ(tokenizer->Encode(text), expected) << text;
  }
  EXPECT_THAT(tokenizer->Encode(""), ElementsAre(0, 2));
}

TEST_F(SentencePieceTokenizerTest, XlmrMapsUnknownToThree) {
  auto tokenizer = Xlmr();
  ASSERT_NE(tokenizer, nullptr);
  const std::string text = "parrot 🦜 emoji";  // Not in the training text.
  ASSERT_THAT(SpmIds(xlmr_spm_, text), Contains(xlmr_spm_.unk_id()));
  const std::vector<int32_t> ids = tokenizer->Encode(text);
  EXPECT_THAT(ids, Contains(3));
  EXPECT_THAT(std::vector<int32_t>(ids.begin() + 1, ids.end() - 1), Not(Contains(1)));
  EXPECT_EQ(tokenizer->IdsToTokens({3})[0], "<unk>");
}

TEST_F(SentencePieceTokenizerTest, XlmrReportsHuggingFaceVocab) {
  auto tokenizer = Xlmr();
  ASSERT_NE(tokenizer, nullptr);
  const int pieces = xlmr_spm_.GetPieceSize();
  EXPECT_EQ(tokenizer->vocab_size(), pieces + 2);  // + <pad> and <mask>, as HF's vocab_size.
  EXPECT_EQ(tokenizer->pad_id(), 1);
  EXPECT_EQ(tokenizer->max_length(), 512);
  EXPECT_THAT(tokenizer->IdsToTokens({0, 1, 2, 3, 4, pieces, pieces + 1, pieces + 2, -1}),
              ElementsAre("<s>", "<pad>", "</s>", "<unk>", xlmr_spm_.IdToPiece(3),
                          xlmr_spm_.IdToPiece(pieces - 1), "<mask>", "<unk>", "<unk>"));
}

TEST_F(SentencePieceTokenizerTest, XlmrMatchesSpecialTokensInText) {
  auto tokenizer = Xlmr();
  ASSERT_NE(tokenizer, nullptr);
  const int32_t mask = xlmr_spm_.GetPieceSize() + 1;
  std::vector<int32_t> expected = {0};
  for (int32_t id : SpmIds(xlmr_spm_, "space")) expected.push_back(id + 1);
  expected.push_back(2);
  for (int32_t id : SpmIds(xlmr_spm_, " opera")) expected.push_back(id + 1);
  expected.insert(expected.end(), {mask, 1, 2});
  EXPECT_EQ(tokenizer->Encode("space</s> opera<mask><pad>"), expected);
}

TEST_F(SentencePieceTokenizerTest, T5AppendsEosWithoutBos) {
  auto tokenizer = T5();
  ASSERT_NE(tokenizer, nullptr);
  ASSERT_EQ(t5_spm_.eos_id(), 1);
  for (const char* text : kTexts) {
    std::vector<int32_t> expected = SpmIds(t5_spm_, text);
    expected.push_back(1);
    EXPECT_EQ(tokenizer->Encode(text), expected) << text;
  }
  EXPECT_EQ(tokenizer->pad_id(), 0);
  const int pieces = t5_spm_.GetPieceSize();
  EXPECT_EQ(tokenizer->vocab_size(), pieces + 100);
  EXPECT_THAT(tokenizer->IdsToTokens({0, 1, 2, pieces + 99, pieces, pieces + 100}),
              ElementsAre("<pad>", "</s>", "<unk>", "<extra_id_0>", "<extra_id_99>", "<unk>"));
  EXPECT_THAT(tokenizer->Encode("<extra_id_0></s>"), ElementsAre(pieces + 99, 1, 1));
}

TEST_F(SentencePieceTokenizerTest, PlainKeepsSpmIdsAndAddsBosEosOnRequest) {
  auto bare = Make({.model_file = XlmrModel(), .flavor = SentencePieceFlavor::kPlain});
  auto wrapped = Make({.model_file = XlmrModel(),
                       .flavor = SentencePieceFlavor::kPlain,
                       .add_bos = true,
                       .add_eos = true});
  ASSERT_NE(bare, nullptr);
  ASSERT_NE(wrapped, nullptr);
  for (const char* text : kTexts) {
    const std::vector<int32_t> spm = SpmIds(xlmr_spm_, text);
    EXPECT_EQ(bare->Encode(text), spm) << text;
    std::vector<int32_t> expected = {1};
    expected.insert(expected.end(), spm.begin(), spm.end());
    expected.push_back(2);
    EXPECT_EQ(wrapped->Encode(text), expected) << text;
  }
  // SentencePiece itself does not match control symbols in the text.
  EXPECT_EQ(bare->Encode("</s>"), SpmIds(xlmr_spm_, "</s>"));
  EXPECT_EQ(bare->vocab_size(), xlmr_spm_.GetPieceSize());
  EXPECT_EQ(bare->pad_id(), 0);  // No <pad> in the model: its <unk>.
}

TEST_F(SentencePieceTokenizerTest, TruncationKeepsTheEndToken) {
  const std::string text = "A slow-burning space opera about duty, mutiny and arriving.";
  const std::vector<int32_t> spm = SpmIds(xlmr_spm_, text);
  ASSERT_GT(spm.size(), 6u);
  auto xlmr = Xlmr(/*max_length=*/5);
  ASSERT_NE(xlmr, nullptr);
  EXPECT_THAT(xlmr->Encode(text), ElementsAre(0, spm[0] + 1, spm[1] + 1, spm[2] + 1, 2));
  EXPECT_THAT(xlmr->Encode("a<mask><mask><mask><mask><mask>").back(), 2);
  EXPECT_EQ(xlmr->Encode("a<mask><mask><mask><mask><mask>").size(), 5u);

  const std::vector<int32_t> t5_spm = SpmIds(t5_spm_, text);
  auto t5 = T5(/*max_length=*/3);
  ASSERT_NE(t5, nullptr);
  EXPECT_THAT(t5->Encode(text), ElementsAre(t5_spm[0], t5_spm[1], 1));

  auto plain =
      Make({.model_file = XlmrModel(), .flavor = SentencePieceFlavor::kPlain, .max_length = 3});
  ASSERT_NE(plain, nullptr);
  EXPECT_THAT(plain->Encode(text), ElementsAre(spm[0], spm[1], spm[2]));
}

TEST_F(SentencePieceTokenizerTest, ChineseTextGetsRealPieces) {
  auto tokenizer = Xlmr();
  ASSERT_NE(tokenizer, nullptr);
  const std::string text = "推荐系统根据用户的兴趣推荐商品";
  const std::vector<int32_t> ids = tokenizer->Encode(text);
  ASSERT_GT(ids.size(), 2u);
  EXPECT_THAT(ids, Not(Contains(3)));
  const std::vector<std::string> tokens = tokenizer->IdsToTokens(ids);
  std::string joined;
  for (size_t i = 1; i + 1 < tokens.size(); ++i) joined += tokens[i];
  EXPECT_EQ(joined, "\u2581" + text);
}

TEST_F(SentencePieceTokenizerTest, IdsToTokensRoundTripsPieces) {
  auto xlmr = Xlmr();
  auto t5 = T5();
  ASSERT_NE(xlmr, nullptr);
  ASSERT_NE(t5, nullptr);
  // SentencePiece's pieces, but "<unk>" for unknown ones (whose piece is the text they cover), as
  // HF's convert_ids_to_tokens gives.
  auto pieces = [](const sentencepiece::SentencePieceProcessor& spm, const char* text) {
    std::vector<std::string> pieces = spm.EncodeAsPieces(text);
    const std::vector<int32_t> ids = SpmIds(spm, text);
    for (size_t i = 0; i < ids.size(); ++i) {
      if (spm.IsUnknown(ids[i])) pieces[i] = "<unk>";
    }
    return pieces;
  };
  for (const char* text : kTexts) {
    std::vector<std::string> expected = {"<s>"};
    for (const std::string& piece : pieces(xlmr_spm_, text)) expected.push_back(piece);
    expected.push_back("</s>");
    EXPECT_EQ(xlmr->IdsToTokens(xlmr->Encode(text)), expected) << text;

    expected = pieces(t5_spm_, text);
    expected.push_back("</s>");
    EXPECT_EQ(t5->IdsToTokens(t5->Encode(text)), expected) << text;
  }
}

TEST_F(SentencePieceTokenizerTest, OddInputNeverFails) {
  auto tokenizer = Xlmr(/*max_length=*/64);
  ASSERT_NE(tokenizer, nullptr);
  const std::string inputs[] = {std::string("\xff\xfe\x80 bad utf8 \xc3", 15),
                                std::string("nul\0byte", 8),
                                "<",
                                "<s",
                                "</s",
                                "<mask",
                                std::string(100000, 'x'),
                                "   "};
  for (const std::string& text : inputs) {
    const std::vector<int32_t> ids = tokenizer->Encode(text);
    ASSERT_GE(ids.size(), 2u);
    EXPECT_LE(ids.size(), 64u);
    EXPECT_EQ(ids.front(), 0);
    EXPECT_EQ(ids.back(), 2);
    for (int32_t id : ids) EXPECT_LT(id, tokenizer->vocab_size());
  }
  EXPECT_THAT(tokenizer->Encode("   "), ElementsAre(0, 2));
}

TEST_F(SentencePieceTokenizerTest, ConcurrentEncodesAgree) {
  auto tokenizer = Xlmr();
  ASSERT_NE(tokenizer, nullptr);
  std::vector<std::vector<int32_t>> expected;
  for (const char* text : kTexts) expected.push_back(tokenizer->Encode(text));
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 200; ++round) {
        for (size_t i = 0; i < std::size(kTexts); ++i) {
          if (tokenizer->Encode(kTexts[i]) != expected[i]) ++mismatches[t];
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_THAT(mismatches, ElementsAre(0, 0, 0, 0));
}

TEST_F(SentencePieceTokenizerTest, CreateRejectsBadOptions) {
  auto code = [](const SentencePieceOptions& options) {
    return SentencePieceTokenizer::Create(options).status().code();
  };
  EXPECT_EQ(code({.model_file = (*dir_ / "missing.model").string()}), absl::StatusCode::kNotFound);
  EXPECT_EQ(code({.model_file = dir_->string()}), absl::StatusCode::kNotFound);  // A directory.
  EXPECT_EQ(code({}), absl::StatusCode::kNotFound);
  const fs::path corrupt = *dir_ / "corrupt.model";
  std::ofstream(corrupt) << "this is not a SentencePiece model";
  const absl::Status status =
      SentencePieceTokenizer::Create({.model_file = corrupt.string()}).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("corrupt.model"));

  const std::string xlmr = XlmrModel(), t5 = T5Model();
  using F = SentencePieceFlavor;
  EXPECT_EQ(code({.model_file = xlmr, .max_length = 1}), absl::StatusCode::kInvalidArgument);
  // The T5 layout is not XLM-R's fairseq one.
  EXPECT_EQ(code({.model_file = t5, .flavor = F::kXlmr}), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({.model_file = xlmr, .flavor = F::kXlmr, .add_bos = true}),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({.model_file = xlmr, .flavor = F::kT5, .add_eos = true}),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({.model_file = xlmr, .flavor = F::kPlain, .extra_ids = 100}),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code({.model_file = t5, .flavor = F::kT5, .extra_ids = -1}),
            absl::StatusCode::kInvalidArgument);
  // The T5 model has no <s>.
  EXPECT_EQ(code({.model_file = t5, .flavor = F::kPlain, .add_bos = true}),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(SentencePieceTokenizerTest, OptionsFromHfFolder) {
  const fs::path xlmr_dir = *dir_ / "hf_xlmr", t5_dir = *dir_ / "hf_t5";
  fs::create_directories(xlmr_dir);
  fs::create_directories(t5_dir);
  fs::copy_file(XlmrModel(), xlmr_dir / "sentencepiece.bpe.model",
                fs::copy_options::overwrite_existing);
  fs::copy_file(T5Model(), t5_dir / "spiece.model", fs::copy_options::overwrite_existing);
  auto write_config = [](const fs::path& dir, const std::string& json) {
    std::ofstream(dir / "tokenizer_config.json") << json;
  };

  // bge-m3's: a long limit and the XLM-R special tokens (the mask one as an AddedToken).
  write_config(xlmr_dir, R"({"tokenizer_class": "XLMRobertaTokenizer", "model_max_length": 8192,
      "bos_token": "<s>", "pad_token": "<pad>", "mask_token": {"content": "<mask>", "lstrip": true},
      "added_tokens_decoder": {"0": {"content": "<s>"}, "250001": {"content": "<mask>"}}})");
  absl::StatusOr<SentencePieceOptions> options =
      SentencePieceOptionsFromHfFolder(xlmr_dir.string(), SentencePieceFlavor::kXlmr);
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->model_file, (xlmr_dir / "sentencepiece.bpe.model").string());
  EXPECT_EQ(options->flavor, SentencePieceFlavor::kXlmr);
  EXPECT_EQ(options->max_length, 8192);
  EXPECT_EQ(options->extra_ids, 0);
  auto tokenizer = Make(*options);
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_EQ(tokenizer->Encode("space opera"), Xlmr()->Encode("space opera"));

  write_config(xlmr_dir, R"({"model_max_length": 1000000000000000019884624838656})");
  options = SentencePieceOptionsFromHfFolder(xlmr_dir.string(), SentencePieceFlavor::kXlmr);
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->max_length, 512);  // HF's "no limit".

  write_config(xlmr_dir, R"({"additional_special_tokens": ["<custom>"]})");
  options = SentencePieceOptionsFromHfFolder(xlmr_dir.string(), SentencePieceFlavor::kXlmr);
  EXPECT_EQ(options.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(options.status().message(), HasSubstr("<custom>"));
  write_config(xlmr_dir, "{}");
  std::ofstream(xlmr_dir / "added_tokens.json") << R"({"<mask>": 250001, "<new>": 250002})";
  options = SentencePieceOptionsFromHfFolder(xlmr_dir.string(), SentencePieceFlavor::kXlmr);
  EXPECT_EQ(options.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(options.status().message(), HasSubstr("<new>"));
  fs::remove(xlmr_dir / "added_tokens.json");
  write_config(xlmr_dir, R"({"unk_token": "[UNK]"})");
  EXPECT_EQ(SentencePieceOptionsFromHfFolder(xlmr_dir.string(), SentencePieceFlavor::kXlmr)
                .status()
                .code(),
            absl::StatusCode::kUnimplemented);
  write_config(xlmr_dir, "[1, 2]");
  EXPECT_EQ(SentencePieceOptionsFromHfFolder(xlmr_dir.string(), SentencePieceFlavor::kXlmr)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);

  // T5: 100 sentinels unless extra_ids says otherwise; they may be listed as special tokens.
  options = SentencePieceOptionsFromHfFolder(t5_dir.string(), SentencePieceFlavor::kT5);
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->model_file, (t5_dir / "spiece.model").string());
  EXPECT_EQ(options->extra_ids, 100);
  EXPECT_EQ(options->max_length, 512);
  write_config(t5_dir, R"({"tokenizer_class": "T5Tokenizer", "extra_ids": 2, "eos_token": "</s>",
      "additional_special_tokens": ["<extra_id_0>", "<extra_id_1>"], "model_max_length": 256})");
  options = SentencePieceOptionsFromHfFolder(t5_dir.string(), SentencePieceFlavor::kT5);
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->extra_ids, 2);
  EXPECT_EQ(options->max_length, 256);
  write_config(t5_dir, R"({"extra_ids": 2, "additional_special_tokens": ["<extra_id_2>"]})");
  EXPECT_EQ(
      SentencePieceOptionsFromHfFolder(t5_dir.string(), SentencePieceFlavor::kT5).status().code(),
      absl::StatusCode::kUnimplemented);

  EXPECT_EQ(
      SentencePieceOptionsFromHfFolder(t5_dir.string(), SentencePieceFlavor::kXlmr).status().code(),
      absl::StatusCode::kNotFound);  // No sentencepiece.bpe.model there.
  EXPECT_EQ(SentencePieceOptionsFromHfFolder(t5_dir.string(), SentencePieceFlavor::kPlain)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SentencePieceFlavorTest, ParsesNames) {
  EXPECT_EQ(SentencePieceFlavorFromName("xlmr"), SentencePieceFlavor::kXlmr);
  EXPECT_EQ(SentencePieceFlavorFromName("t5"), SentencePieceFlavor::kT5);
  EXPECT_EQ(SentencePieceFlavorFromName("plain"), SentencePieceFlavor::kPlain);
  EXPECT_EQ(SentencePieceFlavorFromName("XLMR"), std::nullopt);
  EXPECT_EQ(SentencePieceFlavorFromName(""), std::nullopt);
}

}  // namespace
}  // namespace semrec
