// The copy-on-write sharded map: lookups after any sequence of sets and erases, and copies
// that share what they did not change.
#include "registry/sharded_map.hpp"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace signpost::registry {
namespace {

// Few shards, so that tables fill, grow and probe past each other: one group of four, and
// four groups of 32.
using SmallMap = ShardedMap<int, 4>;
using GroupedMap = ShardedMap<int, 128>;

std::string key_of(unsigned n) {
  // Short keys stay inside the string; every seventh is long enough to go to the heap.
  return n % 7 == 0 ? "a-long-key-beyond-the-short-string-" + std::to_string(n) : "k" + std::to_string(n);
}

template <typename Map>
void expect_same(const Map& map, const std::map<std::string, int>& reference, unsigned keys) {
  ASSERT_EQ(map.size(), reference.size());
  for (unsigned n = 0; n < keys; ++n) {
    const std::string key = key_of(n);
    const int* found = map.find(key);
    const auto it = reference.find(key);
    if (it == reference.end()) {
      EXPECT_EQ(found, nullptr) << key;
    } else {
      ASSERT_NE(found, nullptr) << key;
      EXPECT_EQ(*found, it->second) << key;
    }
  }
  std::size_t visited = 0;
  map.for_each([&](const std::string& key, int value) {
    ++visited;
    EXPECT_EQ(reference.at(key), value);
  });
  EXPECT_EQ(visited, reference.size());
}

template <typename Map>
void agrees_with_an_ordered_map() {
  constexpr unsigned kKeys = 600;
  Map map;
  std::map<std::string, int> reference;
  // Copies taken along the way keep what they saw while the map changes on.
  std::vector<std::pair<Map, std::map<std::string, int>>> copies;
  std::mt19937 random(7);
  for (int round = 0; round < 40; ++round) {
    typename Map::Owned owned;
    for (int op = 0; op < 200; ++op) {
      const std::string key = key_of(static_cast<unsigned>(random() % kKeys));
      if (random() % 3 == 0) {
        map.erase(key, owned);
        reference.erase(key);
      } else {
        const int value = static_cast<int>(random() % 1000);
        map.set(key, std::make_shared<const int>(value), owned);
        reference[key] = value;
      }
    }
    expect_same(map, reference, kKeys);
    if (round % 10 == 0) copies.emplace_back(map, reference);
  }
  for (const auto& [copy, seen] : copies) expect_same(copy, seen, kKeys);
  // Empty it completely, then fill it again: erased slots leave nothing behind.
  typename Map::Owned owned;
  for (unsigned n = 0; n < kKeys; ++n) map.erase(key_of(n), owned);
  reference.clear();
  expect_same(map, reference, kKeys);
  for (unsigned n = 0; n < kKeys; n += 2) {
    map.set(key_of(n), std::make_shared<const int>(static_cast<int>(n)), owned);
    reference[key_of(n)] = static_cast<int>(n);
  }
  expect_same(map, reference, kKeys);
}

TEST(ShardedMap, AgreesWithAnOrderedMapThroughSetsAndErases) { agrees_with_an_ordered_map<SmallMap>(); }

TEST(ShardedMap, AgreesWithAnOrderedMapInGroupsOfShards) { agrees_with_an_ordered_map<GroupedMap>(); }

TEST(ShardedMap, CopiesShareUntouchedShardsAndKeepTheirOwnData) {
  SmallMap first;
  SmallMap::Owned owned;
  for (unsigned n = 0; n < 100; ++n) {
    first.set(key_of(n), std::make_shared<const int>(static_cast<int>(n)), owned);
  }
  const int* shared_value = first.find(key_of(50));
  SmallMap second = first;
  SmallMap::Owned second_owned;
  second.set(key_of(1), std::make_shared<const int>(-1), second_owned);
  second.erase(key_of(2), second_owned);
  second.set("new", std::make_shared<const int>(-2), second_owned);
  // The original is unchanged ...
  ASSERT_NE(first.find(key_of(1)), nullptr);
  EXPECT_EQ(*first.find(key_of(1)), 1);
  ASSERT_NE(first.find(key_of(2)), nullptr);
  EXPECT_EQ(first.find("new"), nullptr);
  EXPECT_EQ(first.size(), 100u);
  // ... the copy has its edits, and still points at the very same values elsewhere.
  EXPECT_EQ(*second.find(key_of(1)), -1);
  EXPECT_EQ(second.find(key_of(2)), nullptr);
  EXPECT_EQ(*second.find("new"), -2);
  EXPECT_EQ(second.size(), 100u);
  EXPECT_EQ(second.find(key_of(50)), shared_value);
}

// Changes between a map and an edited copy, as (key, before, after) with -1 for absent.
template <typename Map>
std::map<std::string, std::pair<int, int>> changes(const Map& older, const Map& newer) {
  std::map<std::string, std::pair<int, int>> out;
  newer.for_each_change(older, [&](const std::string& key, const int* before, const int* after) {
    EXPECT_TRUE(out.emplace(key, std::pair{before ? *before : -1, after ? *after : -1}).second) << key;
  });
  return out;
}

TEST(ShardedMap, ChangesBetweenCopiesAreExactlyTheEditedKeys) {
  std::mt19937 random(11);
  GroupedMap map;
  GroupedMap::Owned owned;
  for (unsigned n = 0; n < 2000; n += 2) map.set(key_of(n), std::make_shared<const int>(1), owned);
  for (int round = 0; round < 30; ++round) {
    const GroupedMap older = map;
    GroupedMap::Owned edit;
    std::map<std::string, std::pair<int, int>> expected;
    for (int op = 0; op < 1 + round * 3; ++op) {
      const std::string key = key_of(static_cast<unsigned>(random() % 2000));
      const int* was = older.find(key);
      const int before = was ? *was : -1;
      int after = -1;
      if (random() % 3 == 0) {
        map.erase(key, edit);
      } else {
        after = static_cast<int>(random() % 5);
        map.set(key, std::make_shared<const int>(after), edit);
      }
      // A key set again is a change even to an equal value (another object); a key
      // erased that was absent, or erased after being added in this edit, is none.
      if (before == -1 && after == -1) {
        expected.erase(key);
      } else {
        expected[key] = {before, after};
      }
    }
    EXPECT_EQ(changes(older, map), expected) << "round " << round;
    EXPECT_TRUE(changes(map, map).empty());
  }
}

}  // namespace
}  // namespace signpost::registry
