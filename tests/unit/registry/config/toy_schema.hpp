// A small schema for the config engine's tests: a [shop] with [[item]] entries, each with
// [[item.part]] entries, covering every kind of option.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "registry/config/schema.hpp"

namespace signpost::config::testing {

struct Part {
  std::string id;
  double weight = 0;
};

struct Item {
  std::string name;
  std::int64_t price = 0;
  StringMap labels;
  std::vector<Part> parts;
};

struct Shop {
  std::string name;
  std::int64_t opens = 0;
  double tax = 0;
  double delay = 0;
  StringList tags;
  std::int64_t stock = 0;
  bool sundays = true;  // so that the default false is seen to be stored
  std::vector<Item> items;
};

struct ToyTarget {
  Shop* shop = nullptr;
  Item* item = nullptr;
  Part* part = nullptr;
};

/// [shop], [[item]] and [[item.part]]; `reload_column` as given.
inline Schema toy_schema(bool reload_column = true) {
  return Schema(
      {{.name = "shop"}, {.name = "item", .array = true}, {.name = "item.part", .array = true}},
      {
          {.section = "shop", .key = "name", .kind = Kind::string, .required = true,
           .help = "The shop's name.",
           .set = [](ToyTarget& t, const Value& v) {
             if (std::get<std::string>(v) == "closed") throw Invalid("'closed' is no name");
             t.shop->name = std::get<std::string>(v);
           }},
          {.section = "shop", .key = "opens", .fallback = std::int64_t{9}, .min = 0, .max = 23,
           .reloadable = true, .help = "Hour it opens.",
           .set = [](ToyTarget& t, const Value& v) { t.shop->opens = std::get<std::int64_t>(v); }},
          {.section = "shop", .key = "tax", .kind = Kind::real, .fallback = 0.2, .real_min = 0,
           .real_max = 1, .help = "Tax rate.",
           .set = [](ToyTarget& t, const Value& v) { t.shop->tax = std::get<double>(v); }},
          {.section = "shop", .key = "delay", .kind = Kind::seconds, .fallback = 1.5,
           .real_min = 0.1, .real_max = 60, .help = "Greeting delay.",
           .set = [](ToyTarget& t, const Value& v) { t.shop->delay = std::get<double>(v); }},
          {.section = "shop", .key = "tags", .kind = Kind::string_list, .fallback = StringList{},
           .help = "Tags.",
           .set = [](ToyTarget& t, const Value& v) { t.shop->tags = std::get<StringList>(v); }},
          {.section = "shop", .key = "stock", .fallback = std::int64_t{0}, .min = 0, .max = kMaxInt,
           .help = "Stock.",
           .set = [](ToyTarget& t, const Value& v) { t.shop->stock = std::get<std::int64_t>(v); }},
          {.section = "shop", .key = "sundays", .kind = Kind::boolean, .fallback = false,
           .help = "Opens on Sundays.",
           .set = [](ToyTarget& t, const Value& v) { t.shop->sundays = std::get<bool>(v); }},
          {.section = "item", .key = "name", .kind = Kind::string, .required = true,
           .help = "Item name.",
           .set = [](ToyTarget& t, const Value& v) { t.item->name = std::get<std::string>(v); }},
          {.section = "item", .key = "price", .min = 1, .max = 1000, .shown_default = "none",
           .help = "Price.",
           .set = [](ToyTarget& t, const Value& v) { t.item->price = std::get<std::int64_t>(v); }},
          {.section = "item", .key = "labels", .kind = Kind::string_map, .fallback = StringMap{},
           .allowed = "any strings", .help = "Labels.",
           .set = [](ToyTarget& t, const Value& v) { t.item->labels = std::get<StringMap>(v); }},
          {.section = "item.part", .key = "id", .kind = Kind::string, .required = true,
           .help = "Part id.",
           .set = [](ToyTarget& t, const Value& v) { t.part->id = std::get<std::string>(v); }},
          {.section = "item.part", .key = "weight", .kind = Kind::real, .fallback = 1.0,
           .real_min = 0, .real_max = 100, .help = "Weight.",
           .set = [](ToyTarget& t, const Value& v) { t.part->weight = std::get<double>(v); }},
      },
      reload_column);
}

}  // namespace signpost::config::testing
