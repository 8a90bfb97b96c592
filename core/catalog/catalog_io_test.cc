#include "core/catalog/catalog_io.h"

#include <cstdio>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace semrec {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string WriteFile(const std::string& name, const std::string& contents) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path, std::ios::binary) << contents;
  return path;
}

TEST(CatalogReaderTest, ReadsItemsAndEmbeddingsInBatches) {
  const std::string path = WriteFile(
      "catalog.jsonl",
      "{\"id\":\"a\",\"text\":\"first\",\"categories\":[\"x\"],\"attributes\":{\"p\":3,\"t\":\"s\"}}\n"
      "\n"
      "{\"id\":7,\"text\":\"second\",\"embedding\":[0.5,-1,2e-3]}\n"
      "{\"id\":\"c\",\"text\":\"third\",\"embedding\":null}");  // no final newline
  auto reader = CatalogReader::Open(path);
  ASSERT_TRUE(reader.ok()) << reader.status();
  auto first = reader->Next(2);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->size(), 2u);
  EXPECT_EQ((*first)[0].item.id, "a");
  EXPECT_THAT((*first)[0].item.categories, ElementsAre("x"));
  EXPECT_EQ((*first)[0].item.attributes.at("p"), "3");
  EXPECT_TRUE((*first)[0].embedding.empty());
  EXPECT_EQ((*first)[1].item.id, "7");
  EXPECT_THAT((*first)[1].embedding, ElementsAre(0.5f, -1.0f, 2e-3f));
  auto rest = reader->Next(10);
  ASSERT_TRUE(rest.ok()) << rest.status();
  ASSERT_EQ(rest->size(), 1u);
  EXPECT_EQ((*rest)[0].item.id, "c");
  EXPECT_TRUE((*rest)[0].embedding.empty());
  auto end = reader->Next(10);
  ASSERT_TRUE(end.ok());
  EXPECT_TRUE(end->empty());
  EXPECT_EQ(CountRecordLines(path).value_or(-1), 3);
  auto items = ReadItemsJsonl(path);
  ASSERT_TRUE(items.ok());
  EXPECT_EQ(items->size(), 3u);
}

TEST(CatalogReaderTest, NamesTheLineOfABadEmbedding) {
  for (const char* bad : {"\"embedding\":\"0.1\"", "\"embedding\":[]", "\"embedding\":[1,\"x\"]",
                          "\"embedding\":[1e300]"}) {
    const std::string path = WriteFile(
        "bad.jsonl", std::string("{\"id\":\"a\",\"text\":\"t\"}\n{\"id\":\"b\",\"text\":\"t\",") +
                         bad + "}\n");
    auto reader = CatalogReader::Open(path);
    ASSERT_TRUE(reader.ok());
    auto records = reader->Next(10);
    ASSERT_FALSE(records.ok()) << bad;
    EXPECT_EQ(records.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(records.status().message(), HasSubstr("bad.jsonl:2: \"embedding\"")) << bad;
  }
}

TEST(CatalogReaderTest, MissingFileIsNotFound) {
  EXPECT_EQ(CatalogReader::Open("/nonexistent/catalog.jsonl").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(CountRecordLines("/nonexistent/catalog.jsonl").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(ReadItemsJsonl("/nonexistent/catalog.jsonl").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace semrec
