#include "client/png_chart.h"

#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace semrec {
namespace {

uint32_t BigEndian32(const std::string& s, size_t at) {
  return (static_cast<uint32_t>(static_cast<uint8_t>(s[at])) << 24) |
         (static_cast<uint32_t>(static_cast<uint8_t>(s[at + 1])) << 16) |
         (static_cast<uint32_t>(static_cast<uint8_t>(s[at + 2])) << 8) |
         static_cast<uint32_t>(static_cast<uint8_t>(s[at + 3]));
}

// What a PNG reader needs from our files: IHDR fields and the inflated scanlines.
struct DecodedPng {
  bool ok = false;
  std::string error;
  uint32_t width = 0, height = 0;
  int bit_depth = 0, colour_type = 0;
  std::vector<std::string> chunk_types;
  std::string raw;  // inflated IDAT: per row a filter byte and 3 bytes per pixel
};

DecodedPng Decode(const std::string& png) {
  DecodedPng d;
  if (png.compare(0, 8, std::string("\x89PNG\r\n\x1a\n", 8)) != 0) {
    d.error = "bad signature";
    return d;
  }
  std::string idat;
  for (size_t at = 8; at + 12 <= png.size();) {
    const uint32_t length = BigEndian32(png, at);
    if (at + 12 + length > png.size()) {
      d.error = "truncated chunk";
      return d;
    }
    const std::string type = png.substr(at + 4, 4);
    const std::string data = png.substr(at + 8, length);
    const uint32_t crc = BigEndian32(png, at + 8 + length);
    const uLong expected =
        crc32(0L, reinterpret_cast<const Bytef*>(png.data() + at + 4), 4 + length);
    if (crc != expected) {
      d.error = absl::StrCat("bad CRC in ", type);
      return d;
    }
    d.chunk_types.push_back(type);
    if (type == "IHDR") {
      d.width = BigEndian32(data, 0);
      d.height = BigEndian32(data, 4);
      d.bit_depth = static_cast<uint8_t>(data[8]);
      d.colour_type = static_cast<uint8_t>(data[9]);
    } else if (type == "IDAT") {
      idat += data;
    }
    at += 12 + length;
  }
  uLongf raw_size = static_cast<uLongf>(d.height) * (1 + 3 * d.width);
  d.raw.assign(raw_size + 1, '\0');  // one spare byte: a longer stream would not fit exactly
  uLongf out_size = d.raw.size();
  if (uncompress(reinterpret_cast<Bytef*>(d.raw.data()), &out_size,
                 reinterpret_cast<const Bytef*>(idat.data()), idat.size()) != Z_OK) {
    d.error = "IDAT does not inflate";
    return d;
  }
  d.raw.resize(out_size);
  d.ok = true;
  return d;
}

std::string ReadBinary(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST(PngTest, EncodesSignatureHeaderAndPixelsThatDecodeBack) {
  Image image(7, 3, {10, 20, 30});
  image.SetPixel(0, 0, {255, 0, 0});
  image.SetPixel(6, 2, {0, 0, 255});
  const DecodedPng png = Decode(EncodePng(image));
  ASSERT_TRUE(png.ok) << png.error;
  EXPECT_EQ(png.width, 7u);
  EXPECT_EQ(png.height, 3u);
  EXPECT_EQ(png.bit_depth, 8);
  EXPECT_EQ(png.colour_type, 2);  // RGB
  EXPECT_THAT(png.chunk_types, ::testing::ElementsAre("IHDR", "IDAT", "IEND"));
  ASSERT_EQ(png.raw.size(), 3u * (1 + 3 * 7));
  // Row 0: filter 0, then the red pixel, then the background.
  EXPECT_EQ(png.raw[0], '\0');
  EXPECT_EQ(static_cast<uint8_t>(png.raw[1]), 255);
  EXPECT_EQ(static_cast<uint8_t>(png.raw[4]), 10);
  // Last pixel of the last row: blue.
  EXPECT_EQ(static_cast<uint8_t>(png.raw[png.raw.size() - 1]), 255);
  EXPECT_EQ(static_cast<uint8_t>(png.raw[png.raw.size() - 3]), 0);
}

TEST(PngTest, TextIsDrawnInsideItsMeasuredBox) {
  const Rgb white{255, 255, 255}, ink{0, 0, 0};
  Image image(200, 40, white);
  const std::string text = "HR@10 0.5%";
  image.DrawText(10, 5, text, ink, 2);
  int inked = 0, outside = 0;
  for (int y = 0; y < image.height(); ++y) {
    for (int x = 0; x < image.width(); ++x) {
      if (!(image.At(x, y) == ink)) continue;
      ++inked;
      const bool inside =
          x >= 10 && x < 10 + Image::TextWidth(text, 2) && y >= 5 && y < 5 + Image::TextHeight(2);
      if (!inside) ++outside;
    }
  }
  EXPECT_GT(inked, 100);
  EXPECT_EQ(outside, 0);
  // Lower case is drawn as capitals.
  Image upper(40, 10, white), lower(40, 10, white);
  upper.DrawText(0, 0, "NDCG", ink);
  lower.DrawText(0, 0, "ndcg", ink);
  EXPECT_EQ(upper.pixels(), lower.pixels());
}

TEST(PngChartTest, BarChartFileHasTheBarsAndDecodes) {
  const Rgb blue{31, 119, 180}, green{44, 160, 44};
  BarPanel accuracy{
      .title = "HR@10 AND NDCG@10",
      .x_label = "STRATEGY",
      .y_label = "SCORE",
      .categories = {"HYBRID", "POPULAR"},
      .series = {{"HR@10", blue, {0.09, 0.05}}, {"NDCG@10", {255, 127, 14}, {0.04, 0.03}}}};
  BarPanel tail{.title = "LONG-TAIL SHARE",
                .x_label = "STRATEGY",
                .y_label = "SHARE",
                .categories = {"HYBRID", "POPULAR"},
                .series = {{"LONG TAIL", green, {0.25, 0.0}}},
                .percent = true};
  const Image chart = DrawBarChart("SEMREC EVAL", {accuracy, tail}, 800, 300);
  const std::string path = absl::StrCat(::testing::TempDir(), "/png_chart_test_", getpid(), ".png");
  ASSERT_TRUE(WritePng(chart, path).ok());
  const DecodedPng png = Decode(ReadBinary(path));
  ASSERT_TRUE(png.ok) << png.error;
  EXPECT_EQ(png.width, 800u);
  EXPECT_EQ(png.height, static_cast<uint32_t>(chart.height()));
  EXPECT_EQ(png.raw.size(), static_cast<size_t>(png.height) * (1 + 3 * 800));

  std::map<std::string, int> colours;
  for (int y = 0; y < chart.height(); ++y) {
    for (int x = 0; x < chart.width(); ++x) {
      const Rgb c = chart.At(x, y);
      if (c == blue) ++colours["blue"];
      if (c == green) ++colours["green"];
    }
  }
  EXPECT_GT(colours["blue"], 1000);   // two HR bars and the legend square
  EXPECT_GT(colours["green"], 1000);  // one long-tail bar and the legend square

  EXPECT_FALSE(WritePng(chart, "/nonexistent-dir/chart.png").ok());
}

}  // namespace
}  // namespace semrec
