#include "core/catalog/catalog_io.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"

namespace semrec {

absl::StatusOr<CatalogReader> CatalogReader::Open(const std::string& path) {
  auto in = std::make_unique<std::ifstream>(path, std::ios::binary);
  if (!*in) return absl::NotFoundError(absl::StrCat("cannot open catalog file ", path));
  return CatalogReader(path, std::move(in));
}

absl::StatusOr<std::vector<CatalogRecord>> CatalogReader::Next(size_t max) {
  std::vector<CatalogRecord> records;
  std::string line;
  while (records.size() < max && std::getline(*in_, line)) {
    ++line_no_;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto bad = [&](const std::string& why) {
      return absl::InvalidArgumentError(absl::StrCat(path_, ":", line_no_, ": ", why));
    };
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
    CatalogRecord record;
    Item& item = record.item;
    auto id = j.find("id");
    if (id == j.end() || !(id->is_string() || id->is_number_integer())) {
      return bad("\"id\" must be a string");
    }
    item.id = id->is_string() ? id->get<std::string>() : id->dump();
    auto text = j.find("text");
    if (text == j.end() || !text->is_string()) return bad("\"text\" must be a string");
    item.text = text->get<std::string>();
    if (auto c = j.find("categories"); c != j.end()) {
      if (!c->is_array()) return bad("\"categories\" must be an array of strings");
      for (const auto& v : *c) {
        if (!v.is_string()) return bad("\"categories\" must be an array of strings");
        item.categories.push_back(v.get<std::string>());
      }
    }
    if (auto a = j.find("attributes"); a != j.end()) {
      if (!a->is_object()) return bad("\"attributes\" must be an object");
      for (const auto& [k, v] : a->items()) {
        item.attributes[k] = v.is_string() ? v.get<std::string>() : v.dump();
      }
    }
    if (auto e = j.find("embedding"); e != j.end() && !e->is_null()) {
      if (!e->is_array() || e->empty()) return bad("\"embedding\" must be an array of numbers");
      record.embedding.reserve(e->size());
      for (const auto& v : *e) {
        if (!v.is_number()) return bad("\"embedding\" must be an array of numbers");
        const double x = v.get<double>();
        if (!std::isfinite(x) || std::abs(x) > std::numeric_limits<float>::max()) {
          return bad("\"embedding\" values must be finite floats");
        }
        record.embedding.push_back(static_cast<float>(x));
      }
    }
    records.push_back(std::move(record));
  }
  if (in_->bad()) return absl::DataLossError(absl::StrCat("reading ", path_, " failed"));
  return records;
}

absl::StatusOr<std::vector<Item>> ReadItemsJsonl(const std::string& path) {
  auto reader = CatalogReader::Open(path);
  if (!reader.ok()) return reader.status();
  std::vector<Item> items;
  while (true) {
    auto batch = reader->Next(4096);
    if (!batch.ok()) return batch.status();
    if (batch->empty()) return items;
    for (CatalogRecord& r : *batch) items.push_back(std::move(r.item));
  }
}

absl::StatusOr<int64_t> CountRecordLines(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  int64_t lines = 0;
  bool content = false;  // the current line has something besides blanks
  std::vector<char> buffer(1 << 20);
  size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), f)) > 0) {
    for (size_t i = 0; i < n; ++i) {
      const char c = buffer[i];
      if (c == '\n') {
        lines += content ? 1 : 0;
        content = false;
      } else if (c != ' ' && c != '\t' && c != '\r') {
        content = true;
      }
    }
  }
  std::fclose(f);
  return lines + (content ? 1 : 0);
}

}  // namespace semrec
