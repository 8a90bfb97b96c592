#include "core/tokenizer/wordpiece_tokenizer.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/common/testing/test_paths.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace semrec {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using namespace std::string_literals;

// $SEMREC_SHARED_DIR, else the ../shared beside the source tree that CMake compiled in.
fs::path SharedDir() { return fs::path(TestSharedDir()); }

fs::path BertBaseUncasedDir() { return SharedDir() / "tokenizers" / "bert-base-uncased"; }

// A fresh directory under the test temp dir, removed with the fixture.
class TempDir {
 public:
  TempDir() {
    path_ = fs::path(::testing::TempDir()) /
            ("wordpiece_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  std::string Write(const std::string& name, const std::string& contents) const {
    const fs::path file = path_ / name;
    std::ofstream(file, std::ios::binary) << contents;
    return file.string();
  }
  std::string path() const { return path_.string(); }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

// ---------------------------------------------------------------------------------------------
// Parity with Hugging Face on bert-base-uncased.

class WordPieceBertBaseUncasedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(BertBaseUncasedDir() / "vocab.txt")) {
      GTEST_SKIP() << "no bert-base-uncased tokenizer in " << BertBaseUncasedDir()
                   << " (set SEMREC_SHARED_DIR to the shared data folder)";
    }
    absl::StatusOr<WordPieceOptions> options =
        WordPieceOptionsFromHfFolder(BertBaseUncasedDir().string());
    ASSERT_TRUE(options.ok()) << options.status();
    absl::StatusOr<std::unique_ptr<WordPieceTokenizer>> tokenizer =
        WordPieceTokenizer::Create(*options);
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
    tokenizer_ = *std::move(tokenizer);
  }

  std::unique_ptr<WordPieceTokenizer> tokenizer_;
};

TEST_F(WordPieceBertBaseUncasedTest, ReadsConfigFromHfFolder) {
  EXPECT_EQ(tokenizer_->vocab_size(), 30522);
  EXPECT_EQ(tokenizer_->pad_id(), 0);
  EXPECT_EQ(tokenizer_->max_length(), 256);  // tokenizer_config.json's model_max_length.
  EXPECT_EQ(tokenizer_->TokenToId("[CLS]"), 101);
  EXPECT_EQ(tokenizer_->TokenToId("[SEP]"), 102);
  EXPECT_EQ(tokenizer_->TokenToId("##ing"), 2075);
  EXPECT_EQ(tokenizer_->TokenToId("no-such-token"), std::nullopt);
}

TEST_F(WordPieceBertBaseUncasedTest, MatchesEveryGoldenLine) {
  const fs::path golden_path = BertBaseUncasedDir() / "golden.jsonl";
  std::ifstream golden(golden_path);
  ASSERT_TRUE(golden) << "cannot open " << golden_path;
  int lines = 0;
  for (std::string line; std::getline(golden, line);) {
    if (line.empty()) continue;
    ++lines;
    const nlohmann::json expected = nlohmann::json::parse(line);
    const std::string text = expected.at("text").get<std::string>();
    const auto expected_ids = expected.at("ids").get<std::vector<int32_t>>();
    const auto expected_tokens = expected.at("tokens").get<std::vector<std::string>>();

    const std::vector<int32_t> ids = tokenizer_->Encode(text);
    EXPECT_EQ(ids, expected_ids) << "golden line " << lines << ", text: " << text;
    EXPECT_EQ(tokenizer_->IdsToTokens(ids), expected_tokens)
        << "golden line " << lines << ", text: " << text;
    ASSERT_FALSE(ids.empty());
    EXPECT_EQ(ids.front(), 101);
    EXPECT_EQ(ids.back(), 102);
    EXPECT_LE(ids.size(), static_cast<size_t>(tokenizer_->max_length()));
  }
  EXPECT_GT(lines, 0) << golden_path << " is empty";
}

// Expected ids from the Rust `tokenizers` library (BertTokenizerFast) on these exact strings.
TEST_F(WordPieceBertBaseUncasedTest, MatchesHuggingFaceOnTrickyInputs) {
  const struct {
    std::string text;
    std::vector<int32_t> ids;
  } cases[] = {
      {"\u0130stanbul", {101, 9960, 102}},  // İ decomposes, loses its dot, lower-cases.
      {"\u039f\u0394\u039f\u03a3 \u03a3\u039f\u03a6\u039f\u03a3",  // No final-sigma rule.
       {101, 1169, 29722, 29730, 29733, 1173, 29730, 29736, 29730, 29733, 102}},
      {"Stra\u00dfe", {101, 2358, 27807, 102}},
      {"hello\u200bworld", {101, 7592, 11108, 102}},  // Zero-width space (Cf) is removed.
      {"a\u00a0b\u3000c\u2028d\u2029e\u0085f", {101, 1037, 1038, 1039, 1040, 1041, 2546, 102}},
      {"x[SEP]y[MASK]z", {101, 1060, 102, 1061, 103, 1062, 102}},
      {"[cls] [Sep] [MASK", {101, 1031, 18856, 2015, 1033, 1031, 19802, 1033, 1031, 7308, 102}},
      {"\ufeffbom text", {101, 8945, 2213, 3793, 102}},
      {"\ud55c\uad6d\uc5b4", {101, 1469, 30006, 30021, 29991, 30014, 30020, 29999, 30008, 102}},
      {"cafe\u0301 e\u0301\u0323", {101, 7668, 1041, 102}},
      {"$5.99 + 10% off!", {101, 1002, 1019, 1012, 5585, 1009, 2184, 1003, 2125, 999, 102}},
      {"\ufb01 ligature", {101, 1984, 8018, 11244, 102}},
      {"\0nul\abell\x1b"
       "escape\x7f"
       "del"s,
       {101, 16371, 20850, 22869, 19464, 9247, 102}},
      {"\u30c7\u30b8\u30bf\u30eb", {101, 1713, 30232, 30235, 30259, 102}},
      {"\U0001F469\u200d\U0001F469\u200d\U0001F467 family", {101, 100, 2155, 102}},
      {"U.S.A.", {101, 1057, 1012, 1055, 1012, 1037, 1012, 102}},
      {"\U00020000\U00020001", {101, 100, 100, 102}},  // CJK extension B: one word each.
      {"\U0002B820\U0002B821", {101, 100, 102}},       // Outside the Rust CJK ranges: one word.
      {"\u00fcber-cool na\u00efve", {101, 19169, 1011, 4658, 15743, 102}},
      {"\u00bd \u00b2", {101, 1092, 1082, 102}},
      {"\u3002\u3001\uff01", {101, 1636, 1635, 1986, 102}},
      {"\u00abquoted\u00bb \u201eGerman\u201c", {101, 1077, 9339, 1090, 1525, 2446, 1523, 102}},
      {"c++ & c#", {101, 1039, 1009, 1009, 1004, 1039, 1001, 102}},
      {"don\u2019t", {101, 2123, 1521, 1056, 102}},
      {"\t\n\r", {101, 102}},
      {"r\u00e9sum\u00e9\u00adsoft", {101, 13746, 6499, 6199, 102}},  // Soft hyphen is Cf.
      {std::string(101, 'a'), {101, 100, 102}},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(tokenizer_->Encode(c.text), c.ids) << "text: " << c.text;
  }
  // 100 characters is still one word for WordPiece: "aaa", 48 "##aa" and "##a".
  const std::vector<int32_t> hundred = tokenizer_->Encode(std::string(100, 'a'));
  ASSERT_EQ(hundred.size(), 52u);
  EXPECT_EQ(hundred[1], 13360);
  EXPECT_EQ(hundred[50], 2050);
}

// ---------------------------------------------------------------------------------------------
// Behaviour on a small hand-made vocab.

constexpr char kSmallVocab[] =
    "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n"         // 0-4
    "hello\nworld\n,\n!\n$\n"                      // 5-9
    "un\nuna\n##ffa\n##ble\n##aff\n##able\n"       // 10-15
    "cafe\nnaive\ncaf\n##é\n\u4e2d\n\u6587\n"      // 16-21
    "a\n##a\nb\nc\nd\ne\nf\n"                      // 22-28
    "Hello\nCaf\u00e9\n\u00e9\ni\n##\u0307\n.\n";  // 29-34

class WordPieceTokenizerTest : public ::testing::Test {
 protected:
  WordPieceOptions Options() const {
    WordPieceOptions options;
    options.vocab_file = vocab_file_;
    return options;
  }
  std::unique_ptr<WordPieceTokenizer> Make(const WordPieceOptions& options) const {
    absl::StatusOr<std::unique_ptr<WordPieceTokenizer>> tokenizer =
        WordPieceTokenizer::Create(options);
    EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
    return tokenizer.ok() ? *std::move(tokenizer) : nullptr;
  }
  std::unique_ptr<WordPieceTokenizer> Make() const { return Make(Options()); }

  TempDir dir_;
  std::string vocab_file_ = dir_.Write("vocab.txt", kSmallVocab);
};

TEST_F(WordPieceTokenizerTest, EmptyTextIsClsSep) {
  auto tokenizer = Make();
  EXPECT_THAT(tokenizer->Encode(""), ElementsAre(2, 3));
  EXPECT_THAT(tokenizer->Encode(" \t\n \u200b "), ElementsAre(2, 3));
  EXPECT_TRUE(tokenizer->Tokenize("").empty());
}

TEST_F(WordPieceTokenizerTest, ReportsVocabAndSpecialIds) {
  auto tokenizer = Make();
  EXPECT_EQ(tokenizer->vocab_size(), 35);
  EXPECT_EQ(tokenizer->pad_id(), 0);
  EXPECT_EQ(tokenizer->max_length(), 512);
  EXPECT_EQ(tokenizer->TokenToId("##able"), 15);
  EXPECT_EQ(tokenizer->TokenToId("able"), std::nullopt);
  EXPECT_THAT(tokenizer->IdsToTokens({2, 5, 3, -1, 35}),
              ElementsAre("[CLS]", "hello", "[SEP]", "[UNK]", "[UNK]"));
}

TEST_F(WordPieceTokenizerTest, GreedyLongestMatchFirst) {
  auto tokenizer = Make();
  // "una" beats "un", so the word is una ##ffa ##ble, never un ##aff ##able.
  EXPECT_THAT(tokenizer->Tokenize("unaffable"), ElementsAre("una", "##ffa", "##ble"));
  // A word whose remainder matches nothing is one [UNK], not a partial split.
  EXPECT_THAT(tokenizer->Tokenize("unx hello"), ElementsAre("[UNK]", "hello"));
  EXPECT_THAT(tokenizer->Tokenize("aaa"), ElementsAre("a", "##a", "##a"));
}

TEST_F(WordPieceTokenizerTest, LowercasesAndStripsAccentsByDefault) {
  auto tokenizer = Make();
  EXPECT_THAT(tokenizer->Tokenize("HELLO Caf\u00e9 NA\u00cfVE"),
              ElementsAre("hello", "cafe", "naive"));
  EXPECT_THAT(tokenizer->Tokenize("cafe\u0301"), ElementsAre("cafe"));  // Already decomposed.
}

TEST_F(WordPieceTokenizerTest, StripAccentsFalseKeepsAccents) {
  WordPieceOptions options = Options();
  options.strip_accents = false;
  auto tokenizer = Make(options);
  EXPECT_THAT(tokenizer->Tokenize("CAF\u00c9"), ElementsAre("caf", "##\u00e9"));
  // İ lower-cases to i + U+0307 (Rust's full case mapping).
  EXPECT_THAT(tokenizer->Tokenize("\u0130"), ElementsAre("i", "##\u0307"));
}

TEST_F(WordPieceTokenizerTest, CasedVocabKeepsCaseAndAccents) {
  WordPieceOptions options = Options();
  options.lowercase = false;  // strip_accents unset: follows lowercase, so accents stay.
  auto tokenizer = Make(options);
  EXPECT_THAT(tokenizer->Tokenize("Hello Caf\u00e9 hello"),
              ElementsAre("Hello", "Caf\u00e9", "hello"));
  options.strip_accents = true;
  tokenizer = Make(options);
  EXPECT_THAT(tokenizer->Tokenize("\u00e9"), ElementsAre("e"));
}

TEST_F(WordPieceTokenizerTest, SplitsCjkIdeographs) {
  auto tokenizer = Make();
  EXPECT_THAT(tokenizer->Tokenize("\u4e2d\u6587hello\u4e2d"),
              ElementsAre("\u4e2d", "\u6587", "hello", "\u4e2d"));
  WordPieceOptions options = Options();
  options.tokenize_chinese_chars = false;
  tokenizer = Make(options);
  EXPECT_THAT(tokenizer->Tokenize("\u4e2d\u6587 hello"), ElementsAre("[UNK]", "hello"));
}

TEST_F(WordPieceTokenizerTest, SplitsPunctuationAndAsciiSymbols) {
  auto tokenizer = Make();
  EXPECT_THAT(tokenizer->Tokenize("hello,world!"), ElementsAre("hello", ",", "world", "!"));
  EXPECT_THAT(tokenizer->Tokenize("a$b"), ElementsAre("a", "$", "b"));
  EXPECT_THAT(tokenizer->Tokenize("a\u2014b"), ElementsAre("a", "[UNK]", "b"));  // Em dash: Pd.
}

TEST_F(WordPieceTokenizerTest, RemovesControlAndZeroWidthChars) {
  auto tokenizer = Make();
  EXPECT_THAT(tokenizer->Tokenize("hel\0lo\x01 wor\u200bld\x7f\ufeff\ufffd"s),
              ElementsAre("hello", "world"));
  EXPECT_THAT(tokenizer->Tokenize("a\u00a0b\u3000c\u2028d\te\nf\r"),
              ElementsAre("a", "b", "c", "d", "e", "f"));
}

TEST_F(WordPieceTokenizerTest, CleanTextFalseKeepsControlCharsInWords) {
  WordPieceOptions options = Options();
  options.clean_text = false;
  auto tokenizer = Make(options);
  EXPECT_THAT(tokenizer->Tokenize("hel\x01lo world"), ElementsAre("[UNK]", "world"));
  EXPECT_THAT(tokenizer->Tokenize("hello\u00a0world"), ElementsAre("hello", "world"));
}

TEST_F(WordPieceTokenizerTest, EmojiIsUnknown) {
  auto tokenizer = Make();
  EXPECT_THAT(tokenizer->Tokenize("hello \U0001F600 world\U0001F680"),
              ElementsAre("hello", "[UNK]", "[UNK]"));
}

TEST_F(WordPieceTokenizerTest, LongWordIsUnknown) {
  auto tokenizer = Make();
  std::vector<std::string> hundred = tokenizer->Tokenize(std::string(100, 'a'));
  EXPECT_EQ(hundred.size(), 100u);
  EXPECT_THAT(tokenizer->Tokenize(std::string(101, 'a') + " b"), ElementsAre("[UNK]", "b"));
  WordPieceOptions options = Options();
  options.max_input_chars_per_word = 3;
  options.strip_accents = false;
  tokenizer = Make(options);
  // Characters, not bytes, are counted.
  EXPECT_THAT(tokenizer->Tokenize("aaa \u00e9\u00e9\u00e9 aaaa"),
              ElementsAre("a", "##a", "##a", "\u00e9", "##\u00e9", "##\u00e9", "[UNK]"));
}

TEST_F(WordPieceTokenizerTest, TruncatesToMaxLengthKeepingSepLast) {
  WordPieceOptions options = Options();
  options.max_length = 5;
  auto tokenizer = Make(options);
  EXPECT_THAT(tokenizer->Encode("a b c d e f"), ElementsAre(2, 22, 24, 25, 3));
  EXPECT_THAT(tokenizer->Encode("a b c"), ElementsAre(2, 22, 24, 25, 3));
  EXPECT_THAT(tokenizer->Encode("a b"), ElementsAre(2, 22, 24, 3));
  // Truncation cuts inside a word's pieces, as HF does.
  EXPECT_THAT(tokenizer->Encode("aaaaa"), ElementsAre(2, 22, 23, 23, 3));
  EXPECT_EQ(tokenizer->Tokenize("a b c d e f").size(), 6u);  // Tokenize never truncates.

  options.max_length = 2;
  tokenizer = Make(options);
  EXPECT_THAT(tokenizer->Encode("a b c"), ElementsAre(2, 3));
}

TEST_F(WordPieceTokenizerTest, LongTextStaysWithinMaxLength) {
  auto tokenizer = Make();
  std::string text;
  for (int i = 0; i < 100000; ++i) text += "hello, world! ";
  const std::vector<int32_t> ids = tokenizer->Encode(text);
  ASSERT_EQ(ids.size(), 512u);
  EXPECT_EQ(ids.front(), 2);
  EXPECT_EQ(ids[1], 5);
  EXPECT_EQ(ids.back(), 3);
}

TEST_F(WordPieceTokenizerTest, SpecialTokensInTextAreMatchedVerbatim) {
  auto tokenizer = Make();
  EXPECT_THAT(tokenizer->Encode("[CLS] hello [MASK]"), ElementsAre(2, 2, 5, 4, 3));
  EXPECT_THAT(tokenizer->Tokenize("hello[SEP]world[PAD]"),
              ElementsAre("hello", "[SEP]", "world", "[PAD]"));
  // Lower-casing happens after matching, so "[mask]" is ordinary text.
  EXPECT_THAT(tokenizer->Tokenize("[mask]"), ElementsAre("[UNK]", "[UNK]", "[UNK]"));
}

TEST_F(WordPieceTokenizerTest, ExtraSpecialTokensAreMatchedLongestFirst) {
  WordPieceOptions options = Options();
  options.extra_special_tokens = {"un", "una"};
  auto tokenizer = Make(options);
  EXPECT_THAT(tokenizer->Tokenize("xunay"), ElementsAre("[UNK]", "una", "[UNK]"));
  EXPECT_THAT(tokenizer->Tokenize("xunx"), ElementsAre("[UNK]", "un", "[UNK]"));
  // Matched before lower-casing: "UNA" is not the special token, but lower-cases to the word.
  EXPECT_THAT(tokenizer->Tokenize("UNAffable"), ElementsAre("una", "##ffa", "##ble"));
}

TEST_F(WordPieceTokenizerTest, InvalidUtf8DoesNotCrash) {
  auto tokenizer = Make();
  EXPECT_THAT(tokenizer->Tokenize("\xff\xfehello\xc3"), ElementsAre("hello"));
  EXPECT_THAT(tokenizer->Tokenize("a\xed\xa0\x80"
                                  "a"),
              ElementsAre("a", "##a"));  // An encoded surrogate is invalid too.
  EXPECT_THAT(tokenizer->Tokenize("\xc3!\xe2\x82 \xf0\x9f\x98"), ElementsAre("!"));

  std::mt19937 random(42);
  std::uniform_int_distribution<int> byte(0, 255), length(0, 64);
  for (int i = 0; i < 2000; ++i) {
    std::string text(length(random), '\0');
    for (char& c : text) c = static_cast<char>(byte(random));
    const std::vector<int32_t> ids = tokenizer->Encode(text);
    ASSERT_GE(ids.size(), 2u);
    EXPECT_EQ(ids.front(), 2);
    EXPECT_EQ(ids.back(), 3);
    for (int32_t id : ids) ASSERT_TRUE(id >= 0 && id < tokenizer->vocab_size());
  }
}

TEST_F(WordPieceTokenizerTest, ConcurrentEncodesAgree) {
  auto tokenizer = Make();
  const std::string text = "Hello, WORLD! unaffable Caf\u00e9 \u4e2d\u6587 [MASK]";
  const std::vector<int32_t> expected = tokenizer->Encode(text);
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) mismatches[t] += tokenizer->Encode(text) != expected;
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_THAT(mismatches, ElementsAre(0, 0, 0, 0));
}

TEST_F(WordPieceTokenizerTest, VocabLinesAreRightTrimmed) {
  const std::string crlf = dir_.Write("crlf.txt", "[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP] \r\nhi\r\n");
  WordPieceOptions options = Options();
  options.vocab_file = crlf;
  auto tokenizer = Make(options);
  EXPECT_EQ(tokenizer->vocab_size(), 5);
  EXPECT_THAT(tokenizer->Encode("hi"), ElementsAre(2, 4, 3));
}

TEST_F(WordPieceTokenizerTest, CreateRejectsBadOptions) {
  WordPieceOptions options = Options();
  options.vocab_file = dir_.path() + "/missing.txt";
  EXPECT_EQ(WordPieceTokenizer::Create(options).status().code(), absl::StatusCode::kNotFound);

  options.vocab_file = dir_.Write("empty.txt", "");
  EXPECT_EQ(WordPieceTokenizer::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);

  options.vocab_file = dir_.Write("no_unk.txt", "[PAD]\n[CLS]\n[SEP]\nhello\n");
  absl::Status status = WordPieceTokenizer::Create(options).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("[UNK]"));

  options = Options();
  options.max_length = 1;
  EXPECT_EQ(WordPieceTokenizer::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);

  options = Options();
  options.max_input_chars_per_word = 0;
  EXPECT_EQ(WordPieceTokenizer::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);

  options = Options();
  options.extra_special_tokens = {"<not-in-vocab>"};
  EXPECT_EQ(WordPieceTokenizer::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);

  options = Options();
  options.mask_token = "<absent-mask>";  // An absent mask token is allowed.
  EXPECT_TRUE(WordPieceTokenizer::Create(options).ok());
}

// ---------------------------------------------------------------------------------------------
// WordPieceOptionsFromHfFolder.

TEST(WordPieceOptionsFromHfFolderTest, ReadsTokenizerConfig) {
  TempDir dir;
  dir.Write("vocab.txt", "<pad>\n<unk>\n<s>\n</s>\n<mask>\n<extra>\n");
  dir.Write("tokenizer_config.json", R"({
    "do_lower_case": false, "strip_accents": true, "tokenize_chinese_chars": false,
    "model_max_length": 1000000000000000019884624838656, "max_length": 128,
    "unk_token": "<unk>", "cls_token": {"content": "<s>", "lstrip": false},
    "sep_token": "</s>", "pad_token": "<pad>", "mask_token": "<mask>",
    "added_tokens_decoder": {"5": {"content": "<extra>", "normalized": false, "special": true}}
  })");
  absl::StatusOr<WordPieceOptions> options = WordPieceOptionsFromHfFolder(dir.path());
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->vocab_file, dir.path() + "/vocab.txt");
  EXPECT_FALSE(options->lowercase);
  EXPECT_EQ(options->strip_accents, true);
  EXPECT_FALSE(options->tokenize_chinese_chars);
  EXPECT_EQ(options->max_length, 512);  // HF's "no limit" sentinel is clamped.
  EXPECT_EQ(options->cls_token, "<s>");
  EXPECT_EQ(options->mask_token, "<mask>");
  EXPECT_THAT(options->extra_special_tokens, ElementsAre("<extra>"));
  auto tokenizer = WordPieceTokenizer::Create(*options);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_THAT((*tokenizer)->Encode("<mask><extra>"), ElementsAre(2, 4, 5, 3));
}

TEST(WordPieceOptionsFromHfFolderTest, DefaultsWithoutConfig) {
  TempDir dir;
  dir.Write("vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n");
  absl::StatusOr<WordPieceOptions> options = WordPieceOptionsFromHfFolder(dir.path());
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_TRUE(options->lowercase);
  EXPECT_FALSE(options->strip_accents.has_value());
  EXPECT_EQ(options->max_length, 512);
  dir.Write("tokenizer_config.json", R"({"max_length": 64, "strip_accents": null})");
  options = WordPieceOptionsFromHfFolder(dir.path());
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->max_length, 64);
}

TEST(WordPieceOptionsFromHfFolderTest, ReportsErrors) {
  TempDir dir;
  EXPECT_EQ(WordPieceOptionsFromHfFolder(dir.path()).status().code(), absl::StatusCode::kNotFound);
  dir.Write("vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n");
  dir.Write("tokenizer_config.json", "{not json");
  EXPECT_EQ(WordPieceOptionsFromHfFolder(dir.path()).status().code(),
            absl::StatusCode::kInvalidArgument);
  dir.Write("tokenizer_config.json", R"({"do_lower_case": "yes"})");
  EXPECT_EQ(WordPieceOptionsFromHfFolder(dir.path()).status().code(),
            absl::StatusCode::kInvalidArgument);
  dir.Write("tokenizer_config.json",
            R"({"added_tokens_decoder": {"4": {"content": "xx", "normalized": true}}})");
  EXPECT_EQ(WordPieceOptionsFromHfFolder(dir.path()).status().code(),
            absl::StatusCode::kUnimplemented);
}

}  // namespace
}  // namespace semrec
