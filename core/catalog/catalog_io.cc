#include "core/catalog/catalog_io.h"

#include <fstream>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"

namespace semrec {

absl::StatusOr<std::vector<Item>> ReadItemsJsonl(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open catalog file ", path));
  std::vector<Item> items;
  std::string line;
  for (int line_no = 1; std::getline(in, line); ++line_no) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto bad = [&](const std::string& why) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", line_no, ": ", why));
    };
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
    Item item;
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
    items.push_back(std::move(item));
  }
  return items;
}

}  // namespace semrec
