#include "client/png_chart.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace semrec {
namespace {

// The 5x7 font: 7 rows of 5 columns per glyph, '#' = ink.
// clang-format off
const std::map<char, const char*>& Glyphs() {
  static const auto* const kGlyphs = new std::map<char, const char*>{
      {' ', "....." "....." "....." "....." "....." "....." "....."},
      {'A', ".###." "#...#" "#...#" "#####" "#...#" "#...#" "#...#"},
      {'B', "####." "#...#" "#...#" "####." "#...#" "#...#" "####."},
      {'C', ".###." "#...#" "#...." "#...." "#...." "#...#" ".###."},
      {'D', "###.." "#..#." "#...#" "#...#" "#...#" "#..#." "###.."},
      {'E', "#####" "#...." "#...." "####." "#...." "#...." "#####"},
      {'F', "#####" "#...." "#...." "####." "#...." "#...." "#...."},
      {'G', ".###." "#...#" "#...." "#.###" "#...#" "#...#" ".####"},
      {'H', "#...#" "#...#" "#...#" "#####" "#...#" "#...#" "#...#"},
      {'I', ".###." "..#.." "..#.." "..#.." "..#.." "..#.." ".###."},
      {'J', "..###" "...#." "...#." "...#." "...#." "#..#." ".##.."},
      {'K', "#...#" "#..#." "#.#.." "##..." "#.#.." "#..#." "#...#"},
      {'L', "#...." "#...." "#...." "#...." "#...." "#...." "#####"},
      {'M', "#...#" "##.##" "#.#.#" "#.#.#" "#...#" "#...#" "#...#"},
      {'N', "#...#" "#...#" "##..#" "#.#.#" "#..##" "#...#" "#...#"},
      {'O', ".###." "#...#" "#...#" "#...#" "#...#" "#...#" ".###."},
      {'P', "####." "#...#" "#...#" "####." "#...." "#...." "#...."},
      {'Q', ".###." "#...#" "#...#" "#...#" "#.#.#" "#..#." ".##.#"},
      {'R', "####." "#...#" "#...#" "####." "#.#.." "#..#." "#...#"},
      {'S', ".####" "#...." "#...." ".###." "....#" "....#" "####."},
      {'T', "#####" "..#.." "..#.." "..#.." "..#.." "..#.." "..#.."},
      {'U', "#...#" "#...#" "#...#" "#...#" "#...#" "#...#" ".###."},
      {'V', "#...#" "#...#" "#...#" "#...#" "#...#" ".#.#." "..#.."},
      {'W', "#...#" "#...#" "#...#" "#.#.#" "#.#.#" "#.#.#" ".#.#."},
      {'X', "#...#" "#...#" ".#.#." "..#.." ".#.#." "#...#" "#...#"},
      {'Y', "#...#" "#...#" ".#.#." "..#.." "..#.." "..#.." "..#.."},
      {'Z', "#####" "....#" "...#." "..#.." ".#..." "#...." "#####"},
      {'0', ".###." "#...#" "#..##" "#.#.#" "##..#" "#...#" ".###."},
      {'1', "..#.." ".##.." "..#.." "..#.." "..#.." "..#.." ".###."},
      {'2', ".###." "#...#" "....#" "...#." "..#.." ".#..." "#####"},
      {'3', "#####" "...#." "..#.." "...#." "....#" "#...#" ".###."},
      {'4', "...#." "..##." ".#.#." "#..#." "#####" "...#." "...#."},
      {'5', "#####" "#...." "####." "....#" "....#" "#...#" ".###."},
      {'6', "..##." ".#..." "#...." "####." "#...#" "#...#" ".###."},
      {'7', "#####" "....#" "...#." "..#.." ".#..." ".#..." ".#..."},
      {'8', ".###." "#...#" "#...#" ".###." "#...#" "#...#" ".###."},
      {'9', ".###." "#...#" "#...#" ".####" "....#" "...#." ".##.."},
      {'.', "....." "....." "....." "....." "....." ".##.." ".##.."},
      {',', "....." "....." "....." "....." ".##.." "..#.." ".#..."},
      {'%', "##..." "##..#" "...#." "..#.." ".#..." "#..##" "...##"},
      {'@', ".###." "#...#" "#.###" "#.#.#" "#.###" "#...." ".###."},
      {'-', "....." "....." "....." "#####" "....." "....." "....."},
      {':', "....." ".##.." ".##.." "....." ".##.." ".##.." "....."},
      {'(', "...#." "..#.." ".#..." ".#..." ".#..." "..#.." "...#."},
      {')', ".#..." "..#.." "...#." "...#." "...#." "..#.." ".#..."},
      {'/', "....." "....#" "...#." "..#.." ".#..." "#...." "....."},
      {'=', "....." "....." "#####" "....." "#####" "....." "....."},
      {'_', "....." "....." "....." "....." "....." "....." "#####"},
      {'+', "....." "..#.." "..#.." "#####" "..#.." "..#.." "....."},
      {'?', ".###." "#...#" "....#" "...#." "..#.." "....." "..#.."},
      {'!', "..#.." "..#.." "..#.." "..#.." "..#.." "....." "..#.."},
      {'\'', "..#.." "..#.." ".#..." "....." "....." "....." "....."},
  };
  return *kGlyphs;
}
// clang-format on

const char* GlyphFor(char c) {
  const auto& glyphs = Glyphs();
  auto it = glyphs.find(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return it != glyphs.end() ? it->second : glyphs.at('?');
}

void AppendBigEndian32(uint32_t v, std::string* out) {
  out->push_back(static_cast<char>(v >> 24));
  out->push_back(static_cast<char>(v >> 16));
  out->push_back(static_cast<char>(v >> 8));
  out->push_back(static_cast<char>(v));
}

// Length, type, data, CRC of type and data.
void AppendChunk(const char type[4], const std::string& data, std::string* out) {
  AppendBigEndian32(static_cast<uint32_t>(data.size()), out);
  const size_t type_at = out->size();
  out->append(type, 4);
  out->append(data);
  const uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(out->data() + type_at),
                          static_cast<uInt>(4 + data.size()));
  AppendBigEndian32(static_cast<uint32_t>(crc), out);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Image

Image::Image(int width, int height, Rgb background)
    : width_(std::max(width, 1)), height_(std::max(height, 1)) {
  pixels_.resize(static_cast<size_t>(width_) * height_ * 3);
  for (size_t i = 0; i < pixels_.size(); i += 3) {
    pixels_[i] = background.r;
    pixels_[i + 1] = background.g;
    pixels_[i + 2] = background.b;
  }
}

Rgb Image::At(int x, int y) const {
  if (x < 0 || y < 0 || x >= width_ || y >= height_) return {};
  const size_t i = (static_cast<size_t>(y) * width_ + x) * 3;
  return {pixels_[i], pixels_[i + 1], pixels_[i + 2]};
}

void Image::SetPixel(int x, int y, Rgb color) {
  if (x < 0 || y < 0 || x >= width_ || y >= height_) return;
  const size_t i = (static_cast<size_t>(y) * width_ + x) * 3;
  pixels_[i] = color.r;
  pixels_[i + 1] = color.g;
  pixels_[i + 2] = color.b;
}

void Image::FillRect(int x, int y, int w, int h, Rgb color) {
  const int x0 = std::max(x, 0), x1 = std::min(x + w, width_);
  const int y0 = std::max(y, 0), y1 = std::min(y + h, height_);
  for (int yy = y0; yy < y1; ++yy) {
    for (int xx = x0; xx < x1; ++xx) SetPixel(xx, yy, color);
  }
}

int Image::TextWidth(const std::string& text, int scale) {
  if (text.empty()) return 0;
  return (static_cast<int>(text.size()) * kGlyphAdvance - (kGlyphAdvance - kGlyphWidth)) * scale;
}

void Image::DrawText(int x, int y, const std::string& text, Rgb color, int scale) {
  for (size_t n = 0; n < text.size(); ++n) {
    const char* glyph = GlyphFor(text[n]);
    const int left = x + static_cast<int>(n) * kGlyphAdvance * scale;
    for (int row = 0; row < kGlyphHeight; ++row) {
      for (int col = 0; col < kGlyphWidth; ++col) {
        if (glyph[row * kGlyphWidth + col] != '#') continue;
        FillRect(left + col * scale, y + row * scale, scale, scale, color);
      }
    }
  }
}

void Image::DrawTextUp(int x, int y, const std::string& text, Rgb color, int scale) {
  // Turned a quarter left: glyph column c goes up from the bottom, glyph row r goes right.
  const int bottom = y + TextWidth(text, scale);
  for (size_t n = 0; n < text.size(); ++n) {
    const char* glyph = GlyphFor(text[n]);
    const int start = bottom - static_cast<int>(n) * kGlyphAdvance * scale;
    for (int row = 0; row < kGlyphHeight; ++row) {
      for (int col = 0; col < kGlyphWidth; ++col) {
        if (glyph[row * kGlyphWidth + col] != '#') continue;
        FillRect(x + row * scale, start - (col + 1) * scale, scale, scale, color);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// PNG

std::string EncodePng(const Image& image) {
  const int w = image.width(), h = image.height();
  // Scanlines, each led by its filter type (0: none).
  std::string raw;
  raw.reserve(static_cast<size_t>(h) * (1 + 3 * w));
  const auto& pixels = image.pixels();
  for (int y = 0; y < h; ++y) {
    raw.push_back('\0');
    raw.append(reinterpret_cast<const char*>(pixels.data()) + static_cast<size_t>(y) * w * 3,
               static_cast<size_t>(w) * 3);
  }
  uLongf compressed_size = compressBound(static_cast<uLong>(raw.size()));
  std::string compressed(compressed_size, '\0');
  // Z_OK is the only outcome with a buffer of compressBound bytes.
  compress2(reinterpret_cast<Bytef*>(compressed.data()), &compressed_size,
            reinterpret_cast<const Bytef*>(raw.data()), static_cast<uLong>(raw.size()),
            Z_BEST_COMPRESSION);
  compressed.resize(compressed_size);

  std::string png("\x89PNG\r\n\x1a\n", 8);
  std::string ihdr;
  AppendBigEndian32(static_cast<uint32_t>(w), &ihdr);
  AppendBigEndian32(static_cast<uint32_t>(h), &ihdr);
  ihdr.push_back(8);  // bit depth
  ihdr.push_back(2);  // colour type: RGB
  ihdr.push_back(0);  // compression: deflate
  ihdr.push_back(0);  // filter method
  ihdr.push_back(0);  // no interlace
  AppendChunk("IHDR", ihdr, &png);
  AppendChunk("IDAT", compressed, &png);
  AppendChunk("IEND", "", &png);
  return png;
}

absl::Status WritePng(const Image& image, const std::string& path) {
  const std::string png = EncodePng(image);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(png.data(), static_cast<std::streamsize>(png.size()));
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// Bar chart

namespace {

constexpr Rgb kWhite{255, 255, 255};
constexpr Rgb kInk{40, 40, 40};
constexpr Rgb kGrid{225, 225, 225};
constexpr Rgb kAxis{90, 90, 90};

// A round tick step giving about five ticks up to `max`.
double TickStep(double max) {
  const double raw = max / 5;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    if (m * magnitude >= raw) return m * magnitude;
  }
  return 10 * magnitude;
}

// Enough decimals to tell ticks `step` apart.
int Decimals(double step) {
  int decimals = 0;
  while (decimals < 6 && std::fabs(step * std::pow(10.0, decimals) -
                                   std::round(step * std::pow(10.0, decimals))) > 1e-9) {
    ++decimals;
  }
  return decimals;
}

std::string FormatValue(double v, bool percent, int decimals) {
  return percent ? absl::StrFormat("%.*f%%", decimals, v * 100)
                 : absl::StrFormat("%.*f", decimals, v);
}

void DrawPanel(const BarPanel& panel, int top, int width, int height, Image* image) {
  constexpr int kScale = 2;
  const int text_h = Image::TextHeight(kScale);
  const int left = 120, right = width - 30;
  const int plot_top = top + 50, plot_bottom = top + height - 64;

  image->DrawText(left, top + 12, panel.title, kInk, kScale);
  // Legend, right-aligned on the title's line.
  int legend_x = right;
  for (auto it = panel.series.rbegin(); it != panel.series.rend(); ++it) {
    legend_x -= Image::TextWidth(it->name, kScale);
    image->DrawText(legend_x, top + 12, it->name, kInk, kScale);
    legend_x -= text_h + 6;
    image->FillRect(legend_x, top + 12, text_h, text_h, it->color);
    legend_x -= 24;
  }

  double max_value = 0;
  for (const BarSeries& s : panel.series) {
    for (double v : s.values) max_value = std::max(max_value, v);
  }
  if (max_value <= 0) max_value = panel.percent ? 1.0 : 0.1;
  const double step = TickStep(max_value * 1.12);
  const double axis_max = step * std::ceil(max_value * 1.12 / step);
  const int decimals = Decimals(panel.percent ? step * 100 : step);
  auto y_of = [&](double v) {
    const double clamped = std::clamp(v, 0.0, axis_max);
    return plot_bottom -
           static_cast<int>(std::lround(clamped / axis_max * (plot_bottom - plot_top)));
  };

  // Grid, ticks and their labels.
  for (int t = 0; t * step <= axis_max + step * 1e-6; ++t) {
    const int y = y_of(t * step);
    image->FillRect(left, y, right - left, 1, kGrid);
    image->FillRect(left - 6, y, 6, 1, kAxis);
    const std::string label = FormatValue(t * step, panel.percent, decimals);
    image->DrawText(left - 10 - Image::TextWidth(label, kScale), y - text_h / 2, label, kInk,
                    kScale);
  }
  image->DrawTextUp(14, (plot_top + plot_bottom) / 2 - Image::TextWidth(panel.y_label, kScale) / 2,
                    panel.y_label, kInk, kScale);

  // Bars, grouped by category, each labelled with its value.
  const int groups = std::max<int>(1, static_cast<int>(panel.categories.size()));
  const int series = std::max<int>(1, static_cast<int>(panel.series.size()));
  const double group_width = static_cast<double>(right - left) / groups;
  const int bar_width = std::max(1, static_cast<int>(group_width * 0.72 / series));
  for (int g = 0; g < static_cast<int>(panel.categories.size()); ++g) {
    const int group_left = left + static_cast<int>(g * group_width);
    const int bars_left = group_left + static_cast<int>((group_width - bar_width * series) / 2);
    for (int s = 0; s < static_cast<int>(panel.series.size()); ++s) {
      const BarSeries& bar = panel.series[s];
      if (g >= static_cast<int>(bar.values.size())) continue;
      const double v = std::max(0.0, bar.values[g]);
      const int x = bars_left + s * bar_width;
      const int y = y_of(v);
      image->FillRect(x + 1, y, bar_width - 2, plot_bottom - y, bar.color);
      const std::string label = FormatValue(v, panel.percent, panel.percent ? 1 : 3);
      const int label_scale = Image::TextWidth(label, 2) <= bar_width ? 2 : 1;
      image->DrawText(x + (bar_width - Image::TextWidth(label, label_scale)) / 2,
                      y - Image::TextHeight(label_scale) - 4, label, kInk, label_scale);
    }
    const std::string& name = panel.categories[g];
    image->DrawText(
        group_left + static_cast<int>(group_width / 2) - Image::TextWidth(name, kScale) / 2,
        plot_bottom + 10, name, kInk, kScale);
  }
  // Axes on top of the grid.
  image->FillRect(left, plot_top, 1, plot_bottom - plot_top + 1, kAxis);
  image->FillRect(left, plot_bottom, right - left, 1, kAxis);
  image->DrawText((left + right) / 2 - Image::TextWidth(panel.x_label, kScale) / 2,
                  plot_bottom + 16 + text_h, panel.x_label, kAxis, kScale);
}

}  // namespace

Image DrawBarChart(const std::string& title, const std::vector<BarPanel>& panels, int width,
                   int panel_height) {
  constexpr int kHeader = 60;
  Image image(width, kHeader + panel_height * static_cast<int>(panels.size()), kWhite);
  image.DrawText(width / 2 - Image::TextWidth(title, 3) / 2, 18, title, kInk, 3);
  for (size_t p = 0; p < panels.size(); ++p) {
    DrawPanel(panels[p], kHeader + static_cast<int>(p) * panel_height, width, panel_height, &image);
  }
  return image;
}

}  // namespace semrec
