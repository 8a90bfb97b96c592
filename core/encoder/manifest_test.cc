#include "core/encoder/manifest.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "core/common/testing/test_paths.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace semrec {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

fs::path BertBaseUncasedDir() {
  return fs::path(TestSharedDir()) / "tokenizers" / "bert-base-uncased";
}

// Debian's `sentencepiece` package's trainer, or "" when it is not installed.
std::string SpmTrainPath() {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    std::error_code error;
    const fs::path candidate = fs::path(dir) / "spm_train";
    if (!dir.empty() && fs::is_regular_file(candidate, error)) return candidate.string();
  }
  return "";
}

// A fresh directory for one test, removed with it.
class ManifestTest : public ::testing::Test {
 protected:
  ManifestTest()
      : dir_(fs::path(::testing::TempDir()) /
             ("manifest_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++))) {
    fs::create_directories(dir_);
  }
  ~ManifestTest() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  void Write(const std::string& name, const std::string& contents) const {
    fs::create_directories((dir_ / name).parent_path());
    std::ofstream(dir_ / name, std::ios::binary) << contents;
  }

  // A manifest as tools/make_test_encoder.py writes it, with `tokenizer` and `max_length`.
  void WriteManifest(const json& tokenizer, int max_length = 128) const {
    const json manifest = {{"format", "semrec.encoder.v1"},
                           {"name", "test"},
                           {"model_file", "model.pt"},
                           {"dimension", 8},
                           {"max_length", max_length},
                           {"output", "token_embeddings"},
                           {"pooling", "mean"},
                           {"normalize", true},
                           {"query_prefix", ""},
                           {"document_prefix", ""},
                           {"tokenizer", tokenizer}};
    Write("manifest.json", manifest.dump(2));
  }

  // A small WordPiece vocab: [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4 hello=5 ,=6 world=7 !=8.
  void WriteVocab(const std::string& name = "vocab.txt") const {
    Write(name, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\n,\nworld\n!\n");
  }

  // Trains a tiny SentencePiece model at dir_/<name>.model with the spm_train binary; false (and
  // the test should skip) when it is not installed.
  bool TrainSpm(const std::string& name, const std::string& layout_flags = "") const {
    const std::string spm_train = SpmTrainPath();
    if (spm_train.empty()) return false;
    std::string corpus;
    for (int i = 0; i < 30; ++i) {
      corpus += "hello world, a space opera about a fleet and a mystery novel number " +
                std::to_string(i) + "\n推荐系统很好用\n";
    }
    Write("corpus.txt", corpus);
    const std::string command =
        spm_train + " --input=" + (dir_ / "corpus.txt").string() +
        " --model_prefix=" + (dir_ / name).string() +
        " --vocab_size=60 --hard_vocab_limit=false --character_coverage=1.0 --minloglevel=2 " +
        layout_flags + " > " + (dir_ / "spm_train.log").string() + " 2>&1";
    EXPECT_EQ(std::system(command.c_str()), 0) << command;
    return fs::exists(dir_ / (name + ".model"));
  }

  absl::StatusOr<EncoderManifest> Load() const { return EncoderManifest::Load(dir_.string()); }

  static inline int counter_ = 0;
  fs::path dir_;
};

#define SKIP_WITHOUT_SPM_TRAIN()                                                  \
  if (SpmTrainPath().empty()) {                                                   \
    GTEST_SKIP() << "spm_train not found on PATH (Debian package sentencepiece)"; \
  }

TEST_F(ManifestTest, WordPieceManifestOfMakeTestEncoderLoadsUnchanged) {
  WriteVocab();
  WriteManifest({{"kind", "wordpiece"},
                 {"vocab_file", "vocab.txt"},
                 {"lowercase", true},
                 {"tokenize_chinese_chars", true},
                 {"unk_token", "[UNK]"},
                 {"cls_token", "[CLS]"},
                 {"sep_token", "[SEP]"},
                 {"pad_token", "[PAD]"}},
                /*max_length=*/64);
  absl::StatusOr<EncoderManifest> manifest = Load();
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  EXPECT_EQ(manifest->tokenizer_kind, EncoderManifest::TokenizerKind::kWordPiece);
  EXPECT_EQ(manifest->wordpiece.vocab_file, (dir_ / "vocab.txt").string());
  EXPECT_EQ(manifest->wordpiece.max_length, 64);
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = manifest->CreateTokenizer();
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_NE(dynamic_cast<WordPieceTokenizer*>(tokenizer->get()), nullptr);
  EXPECT_THAT((*tokenizer)->Encode("Hello, World!"), ElementsAre(2, 5, 6, 7, 8, 3));
  EXPECT_EQ((*tokenizer)->max_length(), 64);

  // No kind at all is still WordPiece.
  WriteManifest({{"vocab_file", "vocab.txt"}});
  manifest = Load();
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  EXPECT_EQ(manifest->tokenizer_kind, EncoderManifest::TokenizerKind::kWordPiece);
}

TEST_F(ManifestTest, SentencePieceManifestCreatesEachFlavor) {
  SKIP_WITHOUT_SPM_TRAIN();
  ASSERT_TRUE(TrainSpm("xlmr"));
  ASSERT_TRUE(TrainSpm("t5", "--pad_id=0 --eos_id=1 --unk_id=2 --bos_id=-1"));

  WriteManifest({{"kind", "sentencepiece"}, {"model_file", "xlmr.model"}, {"flavor", "xlmr"}},
                /*max_length=*/6);
  absl::StatusOr<EncoderManifest> manifest = Load();
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  EXPECT_EQ(manifest->tokenizer_kind, EncoderManifest::TokenizerKind::kSentencePiece);
  EXPECT_EQ(manifest->sentencepiece.model_file, (dir_ / "xlmr.model").string());
  EXPECT_EQ(manifest->sentencepiece.flavor, SentencePieceFlavor::kXlmr);
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = manifest->CreateTokenizer();
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_NE(dynamic_cast<SentencePieceTokenizer*>(tokenizer->get()), nullptr);
  std::vector<int32_t> ids = (*tokenizer)->Encode("hello world, a space opera about a fleet");
  EXPECT_EQ(ids.size(), 6u);
  EXPECT_EQ(ids.front(), 0);
  EXPECT_EQ(ids.back(), 2);
  EXPECT_EQ((*tokenizer)->pad_id(), 1);

  WriteManifest({{"kind", "sentencepiece"}, {"model_file", "t5.model"}, {"flavor", "t5"}});
  manifest = Load();
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  EXPECT_EQ(manifest->sentencepiece.extra_ids, 100);  // T5Tokenizer's default.
  tokenizer = manifest->CreateTokenizer();
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  ids = (*tokenizer)->Encode("hello world");
  EXPECT_EQ(ids.back(), 1);
  EXPECT_NE(ids.front(), 1);
  EXPECT_EQ((*tokenizer)->pad_id(), 0);

  WriteManifest({{"kind", "sentencepiece"},
                 {"model_file", "xlmr.model"},
                 {"flavor", "plain"},
                 {"add_bos", true},
                 {"add_eos", true}});
  manifest = Load();
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  tokenizer = manifest->CreateTokenizer();
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  ids = (*tokenizer)->Encode("hello world");
  EXPECT_EQ(ids.front(), 1);
  EXPECT_EQ(ids.back(), 2);

  // A missing model file is found out by CreateTokenizer().
  WriteManifest({{"kind", "sentencepiece"}, {"model_file", "gone.model"}, {"flavor", "t5"}});
  manifest = Load();
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  EXPECT_EQ(manifest->CreateTokenizer().status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ManifestTest, HfFolderWithBertTokenizerMatchesGolden) {
  std::vector<int32_t> expected_ids = {2, 5, 6, 7, 8, 3};
  std::string text = "Hello, World!";
  if (fs::exists(BertBaseUncasedDir() / "vocab.txt")) {
    for (const char* name : {"vocab.txt", "tokenizer_config.json", "special_tokens_map.json"}) {
      if (fs::exists(BertBaseUncasedDir() / name)) {
        fs::copy_file(BertBaseUncasedDir() / name, dir_ / name);
      }
    }
    std::ifstream golden(BertBaseUncasedDir() / "golden.jsonl");
    std::string line;
    ASSERT_TRUE(std::getline(golden, line));
    const json first = json::parse(line);
    text = first["text"].get<std::string>();
    expected_ids = first["ids"].get<std::vector<int32_t>>();
  } else {  // Without the shared data: a tiny vocab with the same config keys.
    WriteVocab();
    Write("tokenizer_config.json",
          R"({"tokenizer_class": "BertTokenizerFast", "do_lower_case": true,
              "model_max_length": 256})");
  }
  WriteManifest({{"hf_folder", "."}}, /*max_length=*/64);
  absl::StatusOr<EncoderManifest> manifest = Load();
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  EXPECT_EQ(manifest->tokenizer_kind, EncoderManifest::TokenizerKind::kWordPiece);
  EXPECT_EQ(manifest->wordpiece.max_length, 64);  // The manifest's 64 caps HF's 256.
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = manifest->CreateTokenizer();
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_EQ((*tokenizer)->Encode(text), expected_ids) << text;
  EXPECT_EQ((*tokenizer)->max_length(), 64);

  // A manifest allowing more than the tokenizer's model_max_length keeps the tokenizer's.
  WriteManifest({{"kind", "hf"}, {"hf_folder", "."}}, /*max_length=*/1024);
  manifest = Load();
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  EXPECT_EQ(manifest->wordpiece.max_length, 256);
}

TEST_F(ManifestTest, HfFolderPicksTheTokenizerByClassOrFiles) {
  SKIP_WITHOUT_SPM_TRAIN();
  ASSERT_TRUE(TrainSpm("xlmr"));
  ASSERT_TRUE(TrainSpm("t5", "--pad_id=0 --eos_id=1 --unk_id=2 --bos_id=-1"));
  fs::create_directories(dir_ / "e5");
  fs::create_directories(dir_ / "st5");
  fs::copy_file(dir_ / "xlmr.model", dir_ / "e5" / "sentencepiece.bpe.model");
  fs::copy_file(dir_ / "t5.model", dir_ / "st5" / "spiece.model");

  // multilingual-e5: XLMRobertaTokenizer(Fast) with sentencepiece.bpe.model.
  Write("e5/tokenizer_config.json",
        R"({"tokenizer_class": "XLMRobertaTokenizerFast", "model_max_length": 512})");
  WriteManifest({{"hf_folder", "e5"}}, /*max_length=*/128);
  absl::StatusOr<EncoderManifest> manifest = Load();
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  EXPECT_EQ(manifest->tokenizer_kind, EncoderManifest::TokenizerKind::kSentencePiece);
  EXPECT_EQ(manifest->sentencepiece.flavor, SentencePieceFlavor::kXlmr);
  EXPECT_EQ(manifest->sentencepiece.model_file, (dir_ / "e5" / "sentencepiece.bpe.model").string());
  EXPECT_EQ(manifest->sentencepiece.max_length, 128);
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = manifest->CreateTokenizer();
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_EQ((*tokenizer)->Encode("hello").front(), 0);
  EXPECT_EQ((*tokenizer)->max_length(), 128);

  // sentence-t5: T5Tokenizer with spiece.model.
  Write("st5/tokenizer_config.json", R"({"tokenizer_class": "T5Tokenizer", "extra_ids": 100})");
  WriteManifest({{"kind", "hf"}, {"hf_folder", "st5"}});
  manifest = Load();
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  EXPECT_EQ(manifest->sentencepiece.flavor, SentencePieceFlavor::kT5);
  tokenizer = manifest->CreateTokenizer();
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_EQ((*tokenizer)->Encode("hello").back(), 1);

  // Without tokenizer_config.json the files tell.
  fs::remove(dir_ / "st5" / "tokenizer_config.json");
  manifest = Load();
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  EXPECT_EQ(manifest->sentencepiece.flavor, SentencePieceFlavor::kT5);

  // The class says XLM-R but its model file is missing.
  Write("st5/tokenizer_config.json", R"({"tokenizer_class": "XLMRobertaTokenizer"})");
  manifest = Load();
  EXPECT_EQ(manifest.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(manifest.status().message(), HasSubstr("sentencepiece.bpe.model"));
}

TEST_F(ManifestTest, BadTokenizerFieldsAreNamed) {
  WriteVocab();
  Write("gpt2/tokenizer_config.json", R"({"tokenizer_class": "GPT2Tokenizer"})");
  const std::pair<json, std::string> cases[] = {
      {{{"kind", "bpe"}}, "tokenizer.kind"},
      {{{"kind", "sentencepiece"}, {"flavor", "xlmr"}}, "tokenizer.model_file"},
      {{{"kind", "sentencepiece"}, {"model_file", 7}, {"flavor", "t5"}}, "tokenizer.model_file"},
      {{{"kind", "sentencepiece"}, {"model_file", "m.model"}}, "tokenizer.flavor"},
      {{{"kind", "sentencepiece"}, {"model_file", "m.model"}, {"flavor", "gpt"}},
       "tokenizer.flavor"},
      {{{"kind", "sentencepiece"},
        {"model_file", "m.model"},
        {"flavor", "xlmr"},
        {"add_bos", true}},
       "tokenizer.add_bos"},
      {{{"kind", "sentencepiece"}, {"model_file", "m.model"}, {"flavor", "plain"}, {"add_eos", 1}},
       "tokenizer.add_eos"},
      {{{"kind", "sentencepiece"},
        {"model_file", "m.model"},
        {"flavor", "plain"},
        {"extra_ids", 5}},
       "tokenizer.extra_ids"},
      {{{"kind", "sentencepiece"}, {"model_file", "m.model"}, {"flavor", "t5"}, {"extra_ids", -1}},
       "tokenizer.extra_ids"},
      {{{"kind", "wordpiece"}, {"hf_folder", "."}}, "tokenizer.hf_folder"},
      {{{"hf_folder", "missing"}}, "tokenizer.hf_folder"},
      {{{"hf_folder", 3}}, "tokenizer.hf_folder"},
      {{{"hf_folder", "gpt2"}}, "GPT2Tokenizer"},
  };
  for (const auto& [tokenizer, field] : cases) {
    WriteManifest(tokenizer);
    absl::StatusOr<EncoderManifest> manifest = Load();
    EXPECT_EQ(manifest.status().code(), absl::StatusCode::kInvalidArgument) << tokenizer.dump();
    EXPECT_THAT(manifest.status().message(), HasSubstr(field)) << tokenizer.dump();
  }
  Write("manifest.json", R"({"format": "semrec.encoder.v1", "dimension": 8, "max_length": 8})");
  EXPECT_THAT(Load().status().message(), HasSubstr("\"tokenizer\""));
}

}  // namespace
}  // namespace semrec
