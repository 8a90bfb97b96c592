// Writes request_fuzzer's seed corpus: a few small valid requests per RPC, each file the RPC's
// selector byte (request_fuzzer.cc's Rpc order) followed by the serialized request. Their ids
// name request_fuzzer's seeded items and users, so the seeds reach past validation.
//
//   build-fuzz/tests/fuzz/request_fuzzer_seeds tests/fuzz/corpus
//
// Thread-compatible (a one-shot tool).
#include <cstdio>
#include <fstream>
#include <string>

#include "semrec/v1/semrec.pb.h"

namespace {

const std::string kRpcs[] = {"recommend",    "feedback",     "similar_items",
                             "upsert_items", "delete_items", "get_item",
                             "get_user",     "delete_user",  "embed"};

bool Write(const std::string& dir, int rpc, const std::string& name,
           const google::protobuf::Message& request) {
  const std::string path = dir + "/" + kRpcs[rpc] + "-" + name;
  std::ofstream out(path, std::ios::binary);
  out << static_cast<char>(rpc) << request.SerializeAsString();
  if (!out) std::fprintf(stderr, "cannot write %s\n", path.c_str());
  return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  namespace v1 = semrec::v1;
  bool ok = true;

  v1::RecommendRequest rec;
  rec.set_user_id("u-1");
  rec.set_k(3);
  rec.set_explain(true);
  ok &= Write(dir, 0, "user", rec);
  rec.Clear();
  rec.set_query("space fleet");
  rec.add_context_item_ids("recipe-1");
  rec.set_k(5);
  rec.mutable_filter()->add_include_categories("movies");
  rec.mutable_filter()->add_exclude_item_ids("book-1");
  rec.set_diversity(0.5f);
  rec.set_novelty(0.3f);
  rec.set_include_items(true);
  rec.set_strategy(v1::CONTENT);
  ok &= Write(dir, 0, "query", rec);

  v1::FeedbackRequest fb;
  fb.set_user_id("u-2");
  v1::Event* e = fb.add_events();
  e->set_item_id("gear-2");
  e->set_type(v1::LIKE);
  e->set_event_id("e-1");
  e = fb.add_events();
  e->set_item_id("movie-1");
  e->set_type(v1::RATING);
  e->set_value(4);
  e->mutable_timestamp()->set_seconds(1700000000);
  e = fb.add_events();
  e->set_type(v1::SEARCH);
  e->set_text("mountain tent");
  ok &= Write(dir, 1, "events", fb);

  // Longer: libFuzzer grows inputs from the longest seed's length.
  fb.Clear();
  fb.set_user_id("u-1");
  const v1::EventType types[] = {v1::VIEW,   v1::CLICK,   v1::LIKE, v1::ADD_TO_CART, v1::PURCHASE,
                                 v1::RATING, v1::DISLIKE, v1::SKIP, v1::SEARCH};
  for (int i = 0; i < 18; ++i) {
    e = fb.add_events();
    e->set_type(types[i % 9]);
    e->set_item_id(i % 7 == 6 ? "gone-1"
                              : (i % 2 ? "movie-" : "gear-") + std::to_string(1 + i % 2));
    if (i % 3 == 0) e->set_event_id("e-" + std::to_string(i % 5));  // repeats
    if (types[i % 9] == v1::RATING) e->set_value(i % 6);
    if (types[i % 9] == v1::SEARCH) e->set_text("space opera");
    e->mutable_timestamp()->set_seconds(1700000000 - 60 * i);
  }
  ok &= Write(dir, 1, "many", fb);

  v1::SimilarItemsRequest sim;
  sim.set_item_id("book-1");
  sim.set_k(4);
  sim.mutable_filter()->add_exclude_categories("recipes");
  sim.set_explain(true);
  ok &= Write(dir, 2, "book", sim);

  v1::UpsertItemsRequest up;
  v1::Item* item = up.add_items();
  item->set_id("lamp-1");
  item->set_text("brass reading lamp shaped like a lighthouse");
  item->add_categories("home");
  (*item->mutable_attributes())["title"] = "Tidewater Lamp";
  item = up.add_items();
  item->set_id("book-2");
  item->set_text("a detective story in foggy london");
  ok &= Write(dir, 3, "new_and_changed", up);

  up.Clear();
  for (int i = 0; i < 12; ++i) {
    item = up.add_items();
    // Every fourth an existing book (book-3 is new): creates, updates and unchanged texts.
    item->set_id(i % 4 == 0 ? "book-" + std::to_string(1 + i / 4) : "new-" + std::to_string(i));
    item->set_text("a space opera in " + std::to_string(i) + " parts");
    item->add_categories(i % 2 ? "books" : "movies");
    (*item->mutable_attributes())["price"] = std::to_string(10 + i);
  }
  ok &= Write(dir, 3, "batch", up);

  up.Clear();
  for (int i = 0; i < 3; ++i) {  // precomputed embeddings (the fuzzer's model has 16 dimensions)
    item = up.add_items();
    item->set_id("vec-" + std::to_string(i));
    item->set_text("an item embedded offline, number " + std::to_string(i));
    for (int d = 0; d < 16; ++d) item->add_embedding(d == i ? 1.0f : 0.25f * (d % 3));
  }
  ok &= Write(dir, 3, "embeddings", up);

  v1::DeleteItemsRequest del;
  del.add_ids("gear-1");
  del.add_ids("nothing-here");
  ok &= Write(dir, 4, "known_and_unknown", del);

  v1::GetItemRequest get;
  get.set_id("recipe-2");
  ok &= Write(dir, 5, "recipe", get);

  v1::GetUserRequest user;
  user.set_user_id("u-3");
  user.set_nearest_k(3);
  ok &= Write(dir, 6, "u3", user);

  v1::DeleteUserRequest forget;
  forget.set_user_id("u-1");
  ok &= Write(dir, 7, "u1", forget);

  v1::EmbedRequest embed;
  embed.add_texts("Hello, world!");
  embed.add_texts("space opera");
  embed.set_return_tokens(true);
  embed.set_kind(v1::DOCUMENT);
  ok &= Write(dir, 8, "texts", embed);
  return ok ? 0 : 1;
}
