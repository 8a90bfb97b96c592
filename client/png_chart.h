// Bar charts as PNG files without a plotting library: an RGB raster with rectangles, lines and
// text in a built-in 5x7 bitmap font (capitals, digits and a little punctuation; lower case is
// drawn in capitals), a PNG encoder (zlib), and a grouped bar chart with one or more panels.
//
//   BarPanel panel{.title = "HR@10", .categories = {"A", "B"}, .series = {{"HR", kBlue, {.1,
//   .2}}}}; Image chart = DrawBarChart("Evaluation", {panel}); RETURN_IF_ERROR(WritePng(chart,
//   "eval.png"));
//
// Thread-compatible: callers serialize writes to one Image.
#ifndef SEMREC_CLIENT_PNG_CHART_H_
#define SEMREC_CLIENT_PNG_CHART_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace semrec {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Rgb& o) const { return r == o.r && g == o.g && b == o.b; }
};

class Image {
 public:
  // Glyph cell of the built-in font at scale 1, spacing included.
  static constexpr int kGlyphWidth = 5, kGlyphHeight = 7, kGlyphAdvance = 6;

  Image(int width, int height, Rgb background);

  int width() const { return width_; }
  int height() const { return height_; }
  Rgb At(int x, int y) const;
  // Rows top to bottom, 3 bytes (R, G, B) per pixel.
  const std::vector<uint8_t>& pixels() const { return pixels_; }

  // Drawing clips to the image.
  void SetPixel(int x, int y, Rgb color);
  void FillRect(int x, int y, int w, int h, Rgb color);
  // Top-left corner at (x, y), each font pixel drawn as scale x scale.
  void DrawText(int x, int y, const std::string& text, Rgb color, int scale = 1);
  // Reads bottom to top: the text's start is at (x, y + width), its top faces left.
  void DrawTextUp(int x, int y, const std::string& text, Rgb color, int scale = 1);
  static int TextWidth(const std::string& text, int scale = 1);
  static int TextHeight(int scale = 1) { return kGlyphHeight * scale; }

 private:
  int width_, height_;
  std::vector<uint8_t> pixels_;
};

// 8-bit RGB PNG (filter 0 on every row, zlib-compressed IDAT).
std::string EncodePng(const Image& image);
// INTERNAL when the file cannot be written.
absl::Status WritePng(const Image& image, const std::string& path);

struct BarSeries {
  std::string name;  // legend entry
  Rgb color;
  std::vector<double> values;  // one per category; negative values are drawn as 0
};

struct BarPanel {
  std::string title;
  std::string x_label;
  std::string y_label;
  std::vector<std::string> categories;  // x axis groups
  std::vector<BarSeries> series;        // bars side by side within each group
  bool percent = false;                 // axis and bar labels as 12.5% instead of 0.125
};

// Panels stacked under `title`, each with a y axis from 0, ticks, labelled bars and a legend.
Image DrawBarChart(const std::string& title, const std::vector<BarPanel>& panels, int width = 960,
                   int panel_height = 330);

}  // namespace semrec

#endif  // SEMREC_CLIENT_PNG_CHART_H_
