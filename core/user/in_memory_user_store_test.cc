#include "core/user/in_memory_user_store.h"

#include <thread>

#include "gtest/gtest.h"

namespace semrec {
namespace {

ResolvedEvent Like(std::string item, std::string event_id = "") {
  ResolvedEvent r;
  r.event.item_id = std::move(item);
  r.event.type = EventType::kLike;
  r.event.event_id = std::move(event_id);
  r.vector = {1, 0};
  return r;
}

TEST(InMemoryUserStoreTest, AppliesDeduplicatesAndDeletes) {
  InMemoryUserStore store{UserModelOptions{}};
  EXPECT_EQ(*store.Get("u"), nullptr);
  std::vector<ResolvedEvent> batch = {Like("a", "e1"), Like("b", "e1"), Like("c")};
  auto applied = store.ApplyEvents("u", batch);
  ASSERT_TRUE(applied.ok());
  EXPECT_EQ(*applied, (std::vector<bool>{true, false, true}));  // e1 repeated inside the batch
  auto again = store.ApplyEvents("u", std::vector<ResolvedEvent>{Like("a", "e1")});
  EXPECT_EQ(*again, (std::vector<bool>{false}));
  auto p = *store.Get("u");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->event_count, 2);
  EXPECT_EQ(store.size(), 1u);
  EXPECT_TRUE(*store.Delete("u"));
  EXPECT_FALSE(*store.Delete("u"));
  EXPECT_EQ(*store.Get("u"), nullptr);
  EXPECT_EQ(store.size(), 0u);
  // The snapshot taken before the delete is still readable.
  EXPECT_EQ(p->event_count, 2);
}

TEST(InMemoryUserStoreTest, ConcurrentWritersToOneUserLoseNothing) {
  InMemoryUserStore store{UserModelOptions{}};
  constexpr int kThreads = 4, kEach = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        std::vector<ResolvedEvent> one = {Like("i" + std::to_string(t * kEach + i))};
        ASSERT_TRUE(store.ApplyEvents("shared", one).ok());
        ASSERT_TRUE(store.Get("shared").ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  auto p = *store.Get("shared");
  EXPECT_EQ(p->event_count, kThreads * kEach);
  EXPECT_EQ(p->seen.size(), static_cast<size_t>(kThreads * kEach));
}

}  // namespace
}  // namespace semrec
