#include "health/hash_keyed_table.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <unordered_map>
#include <vector>

namespace signpost::health {
namespace {

TEST(HashKeyedTable, FindsWhatWasAssignedAndNothingElse) {
  HashKeyedTable<int> table;
  EXPECT_EQ(table.find(7), nullptr);
  EXPECT_FALSE(table.erase(7));
  table.assign(7, 70);
  table.assign(9, 90);
  ASSERT_NE(table.find(7), nullptr);
  EXPECT_EQ(*table.find(7), 70);
  EXPECT_EQ(*table.find(9), 90);
  EXPECT_EQ(table.find(8), nullptr);
  table.assign(7, 71);  // overwrites
  EXPECT_EQ(*table.find(7), 71);
  EXPECT_EQ(table.size(), 2u);
  EXPECT_TRUE(table.erase(7));
  EXPECT_FALSE(table.erase(7));
  EXPECT_EQ(table.find(7), nullptr);
  EXPECT_EQ(*table.find(9), 90);
  EXPECT_EQ(table.size(), 1u);
}

TEST(HashKeyedTable, NonzeroKeyNeverGivesTheFreeMark) {
  EXPECT_NE(nonzero_key(0), 0u);
  EXPECT_EQ(nonzero_key(12345), 12345u);
}

// Keys that share their low bits make long probe runs that wrap around the end of the
// array, which is where backward-shift deletion goes wrong if it does; every step is
// checked against std::unordered_map.
TEST(HashKeyedTable, AgreesWithUnorderedMapThroughCollidingInsertsAndErases) {
  for (const std::uint64_t low_bits_mask : {0xFULL, 0xFFFFULL, ~0ULL}) {
    HashKeyedTable<std::uint64_t> table;
    std::unordered_map<std::uint64_t, std::uint64_t> reference;
    std::mt19937_64 random(static_cast<std::uint64_t>(low_bits_mask));
    std::vector<std::uint64_t> keys;
    for (int step = 0; step < 20000; ++step) {
      const auto choice = random() % 10;
      if (choice < 5 || keys.empty()) {
        // A new key, or one ending like the array's last slots, so runs wrap.
        std::uint64_t key = random() & low_bits_mask;
        if (step % 3 == 0) key = (random() << 16) | (0xFFFFULL & ~(random() % 4));
        key = nonzero_key(key);
        const std::uint64_t value = random();
        table.assign(key, value);
        if (reference.insert_or_assign(key, value).second) keys.push_back(key);
      } else {
        const std::size_t at = random() % keys.size();
        const std::uint64_t key = keys[at];
        EXPECT_EQ(table.erase(key), reference.erase(key) == 1);
        keys[at] = keys.back();
        keys.pop_back();
      }
      ASSERT_EQ(table.size(), reference.size());
      if (step % 97 == 0) {
        for (const auto& [key, value] : reference) {
          const std::uint64_t* found = table.find(key);
          ASSERT_NE(found, nullptr) << "key " << key << " at step " << step;
          ASSERT_EQ(*found, value);
        }
        const std::uint64_t absent = nonzero_key(random() & low_bits_mask);
        EXPECT_EQ(table.find(absent) != nullptr, reference.count(absent) == 1);
      }
    }
  }
}

}  // namespace
}  // namespace signpost::health
