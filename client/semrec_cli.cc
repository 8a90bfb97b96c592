// semrec: the command-line client of a semrec server. Bulk imports of items and events with a
// progress bar, one command per RPC for operators, and `eval`, which scores the server's
// recommendations on a dataset replayed through the API (client/eval.h). Human-readable output by
// default, one JSON object per response with --json. Exit status: 0 ok, 1 the call failed, 2
// usage error.
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "client/cli_support.h"
#include "client/eval.h"
#include "client/semrec_client.h"
#include "core/catalog/catalog_io.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "Server address host:port");
ABSL_FLAG(bool, json, false, "Print responses as JSON (one object per line)");
ABSL_FLAG(absl::Duration, deadline, absl::Seconds(5), "Deadline of each call, retries included");
ABSL_FLAG(int, batch, 0, "import: items per UpsertItems (256) or events per Feedback (500)");
ABSL_FLAG(double, rate, 0,
          "import items: at most this many items/s (0: as fast as the server takes them), so "
          "that a live server keeps its latency");
ABSL_FLAG(int, parallel, 4,
          "import events, eval: calls in flight; users are split among them, each user's "
          "events stay in file order (1 = strictly sequential)");
ABSL_FLAG(std::string, user, "", "recommend: user id");
ABSL_FLAG(std::string, query, "", "recommend: query text");
ABSL_FLAG(std::vector<std::string>, context, {}, "recommend: context item ids, comma-separated");
ABSL_FLAG(int, k, 10, "Number of items (recommend, similar, eval; user: nearest items)");
ABSL_FLAG(bool, explain, false, "recommend, similar: explain each item");
ABSL_FLAG(double, diversity, 0, "recommend, eval: 0..1, MMR diversity");
ABSL_FLAG(double, novelty, 0, "recommend, eval: 0..1, preference for less popular items");
ABSL_FLAG(std::vector<std::string>, include_categories, {},
          "recommend, similar: keep only items in one of these categories");
ABSL_FLAG(std::vector<std::string>, exclude_categories, {},
          "recommend, similar: drop items in any of these categories");
ABSL_FLAG(bool, include_seen, false, "recommend: keep items the user already interacted with");
ABSL_FLAG(double, value, 0, "feedback: event value (the rating for RATING)");
ABSL_FLAG(std::string, text, "", "feedback: event text (the query for SEARCH)");
ABSL_FLAG(std::string, event_id, "", "feedback: idempotency key (makes the call retryable)");
ABSL_FLAG(bool, tokens, false, "embed: print the tokens fed to the model");
ABSL_FLAG(std::string, items, "", "eval: the catalog, one item per line (JSONL)");
ABSL_FLAG(std::string, events, "", "eval: the events, one per line (JSONL), sorted by ts");
ABSL_FLAG(std::vector<std::string>, strategies,
          std::vector<std::string>({"HYBRID", "CONTENT", "COLLABORATIVE", "POPULAR"}),
          "eval: Recommend strategies to compare");
ABSL_FLAG(std::string, json_out, "", "eval: write every figure and the parameters here (JSON)");
ABSL_FLAG(std::string, chart, "", "eval: draw the comparison here (PNG)");
ABSL_FLAG(bool, skip_import, false, "eval: the items are on the server already");

namespace semrec {
namespace {

constexpr char kUsage[] =
    R"(usage: semrec [--target=host:port] [--json] [--deadline=5s] <command> [args] [flags]

commands:
  import items FILE.jsonl [--batch=256] [--rate=ITEMS_PER_SECOND]
      upsert a catalog: one {"id","text","categories","attributes"} object per line, with an
      optional "embedding": [floats] computed offline (the server then skips its encoder)
  import events FILE.jsonl [--batch=500] [--parallel=4]
      replay events: one {"user_id","item_id","type","value","ts"[,"event_id","text"]} per line
      (ts in seconds); consecutive events of one user go in one Feedback call
  recommend [--user=U] [--query=Q] [--context=id1,id2] [--k=10] [--explain] [--diversity=0]
            [--novelty=0] [--include-categories=a,b] [--exclude-categories=a,b] [--include-seen]
  similar ITEM_ID [--k=10] [--explain]
  feedback USER ITEM TYPE [--value=V] [--text=T] [--event-id=E]
      TYPE: VIEW, CLICK, LIKE, ADD_TO_CART, PURCHASE, RATING, DISLIKE, SKIP, SEARCH
  user USER [--k=10]
  delete-user USER
  get-item ID
  delete-items ID...
  stats
  embed TEXT... [--tokens]
  eval --items=ITEMS.jsonl --events=EVENTS.jsonl [--k=10] [--novelty=0] [--diversity=0]
       [--strategies=HYBRID,CONTENT,COLLABORATIVE,POPULAR] [--json-out=eval.json]
       [--chart=eval.png] [--skip-import] [--parallel=4]
      leave-last-out evaluation over the API: upserts the items, replays all but each user's
      last event through Feedback, then scores Recommend (k, seen items excluded) per strategy:
      HR@k, NDCG@k, catalog coverage, long-tail share, latency
  tokenize TEXT...
      the token strings and ids the model is fed for each TEXT

exit status: 0 ok, 1 the call failed ("error: CODE: message" on stderr), 2 usage error
)";

// ---------------------------------------------------------------------------------------------
// Outcomes and output.

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

int UsageError(const std::string& why) {
  std::fprintf(stderr, "error: %s\n\n%s", why.c_str(), kUsage);
  return kExitUsage;
}

int Failed(const absl::Status& status) {
  std::fprintf(stderr, "error: %s: %s\n", absl::StatusCodeToString(status.code()).c_str(),
               std::string(status.message()).c_str());
  return kExitFailed;
}

void PrintJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;  // user_id, as in the import files
  options.always_print_primitive_fields = true;
  std::string out;
  // Cannot fail for a message without Any fields.
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  std::printf("%s\n", out.c_str());
}

void PrintJson(const nlohmann::json& j) { std::printf("%s\n", j.dump().c_str()); }

std::string Utf8Truncate(const std::string& s, size_t max_width) {
  if (Utf8Width(s) <= max_width) return s;
  size_t width = 0, i = 0;
  for (; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80 && ++width > max_width - 3) break;
  }
  return s.substr(0, i) + "...";
}

// What a person calls the item: its title, else the first sentence of its text.
std::string DisplayName(const v1::Item& proto) {
  Item item;
  item.text = proto.text();
  item.attributes.insert(proto.attributes().begin(), proto.attributes().end());
  return item.DisplayName();
}

void PrintScoredItems(const google::protobuf::RepeatedPtrField<v1::ScoredItem>& items,
                      bool explain) {
  if (items.empty()) {
    std::printf("(no items)\n");
    return;
  }
  // Responses carry catalog entries only when asked to (GetUser never does).
  const bool titles = items[0].has_item();
  std::vector<std::string> header = {"#", "item", "score"};
  if (titles) header.push_back("title");
  if (explain) header.push_back("why");
  std::vector<std::vector<std::string>> rows;
  int rank = 0;
  for (const v1::ScoredItem& s : items) {
    std::vector<std::string> row = {absl::StrCat(++rank), s.item_id(),
                                    absl::StrFormat("%.4f", s.score())};
    if (titles) row.push_back(Utf8Truncate(DisplayName(s.item()), 48));
    if (explain) row.push_back(s.explanation());
    rows.push_back(std::move(row));
  }
  PrintTable(header, rows);
}

std::string FormatTimestamp(const google::protobuf::Timestamp& ts) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC",
                          absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos()),
                          absl::UTCTimeZone());
}

// ---------------------------------------------------------------------------------------------
// Commands. Each takes the positional arguments after its name and returns the exit status.

struct Command {
  const SemrecClient& client;
  std::vector<std::string> args;
  bool json = absl::GetFlag(FLAGS_json);
};

int BatchSize(int default_size) {
  const int batch = absl::GetFlag(FLAGS_batch);
  return batch == 0 ? default_size : batch;
}

int ImportItems(const Command& cmd) {
  if (cmd.args.size() != 1) return UsageError("import items takes one FILE.jsonl");
  const int batch = BatchSize(256);
  if (batch < 1 || batch > 1000) return UsageError("--batch must be in 1..1000");
  const double max_rate = absl::GetFlag(FLAGS_rate);
  if (!(max_rate >= 0)) return UsageError("--rate cannot be negative");
  absl::StatusOr<UpsertSummary> s = UpsertItemsFromFile(cmd.client, cmd.args[0], batch, max_rate);
  if (!s.ok()) return Failed(s.status());
  const double rate = s->seconds > 0 ? s->items / s->seconds : 0;
  if (cmd.json) {
    PrintJson(nlohmann::json{{"items", s->items},
                             {"created", s->created},
                             {"updated", s->updated},
                             {"unchanged", s->unchanged},
                             {"seconds", s->seconds},
                             {"items_per_second", rate}});
  } else {
    std::printf(
        "imported %lld items in %.2f s (%.0f items/s): %lld created, %lld updated, %lld "
        "unchanged\n",
        static_cast<long long>(s->items), s->seconds, rate, static_cast<long long>(s->created),
        static_cast<long long>(s->updated), static_cast<long long>(s->unchanged));
  }
  return kExitOk;
}

int ImportEvents(const Command& cmd) {
  if (cmd.args.size() != 1) return UsageError("import events takes one FILE.jsonl");
  const int batch = BatchSize(500);
  if (batch < 1 || batch > 1000) return UsageError("--batch must be in 1..1000");
  const int parallel = absl::GetFlag(FLAGS_parallel);
  if (parallel < 1 || parallel > 64) return UsageError("--parallel must be in 1..64");
  absl::StatusOr<std::vector<UserEvent>> events = ReadEventsJsonl(cmd.args[0]);
  if (!events.ok()) return Failed(events.status());
  const ReplaySummary r =
      ReplayEvents(cmd.client, std::move(*events), {.batch = batch, .parallel = parallel});
  const double rate = r.seconds > 0 ? r.sent() / r.seconds : 0;
  if (cmd.json) {
    PrintJson(nlohmann::json{{"events", r.events},
                             {"calls", r.calls},
                             {"applied", r.applied},
                             {"item_not_found", r.item_not_found},
                             {"duplicates", r.duplicates},
                             {"errors", r.errors},
                             {"seconds", r.seconds},
                             {"events_per_second", rate}});
  } else {
    std::printf(
        "replayed %lld of %lld events in %lld calls, %.2f s (%.0f events/s): %lld applied, "
        "%lld item not found, %lld duplicates, %lld errors\n",
        static_cast<long long>(r.sent()), static_cast<long long>(r.events),
        static_cast<long long>(r.calls), r.seconds, rate, static_cast<long long>(r.applied),
        static_cast<long long>(r.item_not_found), static_cast<long long>(r.duplicates),
        static_cast<long long>(r.errors));
  }
  if (r.first_error.ok()) return kExitOk;
  return Failed(absl::Status(
      r.first_error.code(),
      absl::StrCat(r.first_error.message(),
                   r.failed_calls > 1
                       ? absl::StrCat(" (and ", r.failed_calls - 1, " more failed calls)")
                       : "",
                   r.stopped ? "; import stopped" : "")));
}

int Import(const Command& cmd) {
  if (cmd.args.empty()) return UsageError("import needs 'items' or 'events'");
  Command sub{cmd.client, {cmd.args.begin() + 1, cmd.args.end()}, cmd.json};
  if (cmd.args[0] == "items") return ImportItems(sub);
  if (cmd.args[0] == "events") return ImportEvents(sub);
  return UsageError(absl::StrCat("import ", cmd.args[0], ": expected 'items' or 'events'"));
}

void SetFilter(v1::Filter* filter) {
  for (const std::string& c : absl::GetFlag(FLAGS_include_categories)) {
    filter->add_include_categories(c);
  }
  for (const std::string& c : absl::GetFlag(FLAGS_exclude_categories)) {
    filter->add_exclude_categories(c);
  }
}

// Recommend and SimilarItems answers: the ranked table, or the JSON with --json.
int PrintRecommendations(const Command& cmd, const absl::StatusOr<v1::RecommendResponse>& response,
                         bool explain) {
  if (!response.ok()) return Failed(response.status());
  if (cmd.json) {
    PrintJson(*response);
  } else {
    PrintScoredItems(response->items(), explain);
  }
  return kExitOk;
}

int Recommend(const Command& cmd) {
  if (!cmd.args.empty()) return UsageError("recommend takes flags only");
  v1::RecommendRequest request;
  request.set_user_id(absl::GetFlag(FLAGS_user));
  request.set_query(absl::GetFlag(FLAGS_query));
  for (const std::string& id : absl::GetFlag(FLAGS_context)) request.add_context_item_ids(id);
  request.set_k(absl::GetFlag(FLAGS_k));
  SetFilter(request.mutable_filter());
  request.mutable_filter()->set_include_seen(absl::GetFlag(FLAGS_include_seen));
  request.set_diversity(static_cast<float>(absl::GetFlag(FLAGS_diversity)));
  request.set_novelty(static_cast<float>(absl::GetFlag(FLAGS_novelty)));
  request.set_explain(absl::GetFlag(FLAGS_explain));
  request.set_include_items(true);
  return PrintRecommendations(cmd, cmd.client.Recommend(request), request.explain());
}

int Similar(const Command& cmd) {
  if (cmd.args.size() != 1) return UsageError("similar takes one ITEM_ID");
  v1::SimilarItemsRequest request;
  request.set_item_id(cmd.args[0]);
  request.set_k(absl::GetFlag(FLAGS_k));
  SetFilter(request.mutable_filter());
  request.set_explain(absl::GetFlag(FLAGS_explain));
  request.set_include_items(true);
  return PrintRecommendations(cmd, cmd.client.SimilarItems(request), request.explain());
}

int Feedback(const Command& cmd) {
  if (cmd.args.size() != 3) return UsageError("feedback takes USER ITEM TYPE");
  absl::StatusOr<v1::EventType> type = ParseEventType(cmd.args[2]);
  if (!type.ok()) return UsageError(std::string(type.status().message()));
  v1::FeedbackRequest request;
  request.set_user_id(cmd.args[0]);
  v1::Event* event = request.add_events();
  event->set_item_id(cmd.args[1]);
  event->set_type(*type);
  event->set_value(static_cast<float>(absl::GetFlag(FLAGS_value)));
  event->set_text(absl::GetFlag(FLAGS_text));
  event->set_event_id(absl::GetFlag(FLAGS_event_id));
  absl::StatusOr<v1::FeedbackResponse> response = cmd.client.Feedback(request);
  if (!response.ok()) return Failed(response.status());
  const v1::EventResult& result = response->results(0);
  if (cmd.json) PrintJson(*response);
  // The call worked but nothing happened: tell scripts.
  if (result.outcome() == v1::ITEM_NOT_FOUND) {
    return Failed(absl::NotFoundError(
        absl::StrCat(result.message().empty() ? "item not found" : result.message(),
                     "; the event was not applied")));
  }
  if (!cmd.json) {
    std::printf("%s%s%s\n", v1::EventOutcome_Name(result.outcome()).c_str(),
                result.message().empty() ? "" : ": ", result.message().c_str());
  }
  return kExitOk;
}

int User(const Command& cmd) {
  if (cmd.args.size() != 1) return UsageError("user takes one USER");
  v1::GetUserRequest request;
  request.set_user_id(cmd.args[0]);
  request.set_nearest_k(absl::GetFlag(FLAGS_k));
  absl::StatusOr<v1::GetUserResponse> response = cmd.client.GetUser(request);
  if (!response.ok()) return Failed(response.status());
  if (cmd.json) {
    PrintJson(*response);
    return kExitOk;
  }
  const v1::GetUserResponse& u = *response;
  std::printf("user %s: %lld events, %lld items seen, last event %s, interest norm %.3f\n",
              u.user_id().c_str(), static_cast<long long>(u.event_count()),
              static_cast<long long>(u.seen_count()), FormatTimestamp(u.last_event_time()).c_str(),
              u.interest_norm());
  std::printf("\nrecent events (newest first):\n");
  std::vector<std::vector<std::string>> rows;
  for (const v1::UserEvent& e : u.recent_events()) {
    rows.push_back({FormatTimestamp(e.timestamp()), v1::EventType_Name(e.type()),
                    absl::StrFormat("%g", e.value()), e.item_id()});
  }
  PrintTable({"time", "type", "value", "item"}, rows);
  std::printf("\nitems nearest the interest vector:\n");
  PrintScoredItems(u.interest_nearest_items(), /*explain=*/false);
  return kExitOk;
}

int DeleteUser(const Command& cmd) {
  if (cmd.args.size() != 1) return UsageError("delete-user takes one USER");
  v1::DeleteUserRequest request;
  request.set_user_id(cmd.args[0]);
  absl::StatusOr<v1::DeleteUserResponse> response = cmd.client.DeleteUser(request);
  if (!response.ok()) return Failed(response.status());
  if (cmd.json) {
    PrintJson(*response);
  } else {
    std::printf("%s\n", response->message().c_str());
  }
  return kExitOk;
}

int GetItem(const Command& cmd) {
  if (cmd.args.size() != 1) return UsageError("get-item takes one ID");
  v1::GetItemRequest request;
  request.set_id(cmd.args[0]);
  absl::StatusOr<v1::GetItemResponse> response = cmd.client.GetItem(request);
  if (!response.ok()) return Failed(response.status());
  if (cmd.json) {
    PrintJson(*response);
    return kExitOk;
  }
  const v1::Item& item = response->item();
  // Sorted, unlike the proto map.
  const std::map<std::string, std::string> attributes(item.attributes().begin(),
                                                      item.attributes().end());
  std::printf("id:          %s\n", item.id().c_str());
  std::printf("text:        %s\n", item.text().c_str());
  std::printf("categories:  %s\n", absl::StrJoin(item.categories(), ", ").c_str());
  std::printf("attributes:  %s\n",
              absl::StrJoin(attributes, ", ", absl::PairFormatter("=")).c_str());
  std::printf("popularity:  %.4f\n", response->popularity());
  return kExitOk;
}

int DeleteItems(const Command& cmd) {
  if (cmd.args.empty()) return UsageError("delete-items takes at least one ID");
  v1::DeleteItemsRequest request;
  for (const std::string& id : cmd.args) request.add_ids(id);
  absl::StatusOr<v1::DeleteItemsResponse> response = cmd.client.DeleteItems(request);
  if (!response.ok()) return Failed(response.status());
  if (cmd.json) {
    PrintJson(*response);
  } else {
    std::printf("deleted %d item(s)%s%s\n", response->deleted(),
                response->not_found().empty() ? "" : "; not found: ",
                absl::StrJoin(response->not_found(), ", ").c_str());
  }
  return kExitOk;
}

int Stats(const Command& cmd) {
  if (!cmd.args.empty()) return UsageError("stats takes no arguments");
  absl::StatusOr<v1::StatsResponse> response = cmd.client.Stats();
  if (!response.ok()) return Failed(response.status());
  if (cmd.json) {
    PrintJson(*response);
    return kExitOk;
  }
  const v1::StatsResponse& s = *response;
  std::printf("items:           %lld\n", static_cast<long long>(s.items()));
  std::printf("users:           %lld\n", static_cast<long long>(s.users()));
  std::printf("events applied:  %lld\n", static_cast<long long>(s.events_applied()));
  std::printf("model:           %s (dimension %d)\n", s.model().c_str(), s.dimension());
  std::printf("version:         %s\n", s.version().c_str());
  std::printf("uptime:          %s\n",
              FormatSeconds(static_cast<double>(s.uptime_seconds())).c_str());
  return kExitOk;
}

int Embed(const Command& cmd) {
  if (cmd.args.empty()) return UsageError("embed takes at least one TEXT");
  v1::EmbedRequest request;
  for (const std::string& text : cmd.args) request.add_texts(text);
  request.set_return_tokens(absl::GetFlag(FLAGS_tokens));
  absl::StatusOr<v1::EmbedResponse> response = cmd.client.Embed(request);
  if (!response.ok()) return Failed(response.status());
  if (cmd.json) {
    PrintJson(*response);
    return kExitOk;
  }
  std::printf("model %s, dimension %d\n", response->model().c_str(), response->dimension());
  for (int i = 0; i < response->embeddings_size(); ++i) {
    const v1::Embedding& e = response->embeddings(i);
    std::vector<std::string> head;
    for (int j = 0; j < std::min(8, e.values_size()); ++j) {
      head.push_back(absl::StrFormat("%+.4f", e.values(j)));
    }
    std::printf("%s\n  [%s%s]\n", request.texts(i).c_str(), absl::StrJoin(head, ", ").c_str(),
                e.values_size() > 8 ? ", ..." : "");
    if (request.return_tokens()) {
      std::printf("  tokens: %s\n", absl::StrJoin(e.tokens(), " ").c_str());
    }
  }
  return kExitOk;
}

// Tokens and ids exactly as the server's model sees them (query prefix included).
int Tokenize(const Command& cmd) {
  if (cmd.args.empty()) return UsageError("tokenize takes at least one TEXT");
  v1::EmbedRequest request;
  for (const std::string& text : cmd.args) request.add_texts(text);
  request.set_return_tokens(true);
  absl::StatusOr<v1::EmbedResponse> response = cmd.client.Embed(request);
  if (!response.ok()) return Failed(response.status());
  if (cmd.json) {
    for (const v1::Embedding& e : response->embeddings()) {
      v1::Embedding tokens_only;
      *tokens_only.mutable_token_ids() = e.token_ids();
      *tokens_only.mutable_tokens() = e.tokens();
      PrintJson(tokens_only);
    }
    return kExitOk;
  }
  for (int i = 0; i < response->embeddings_size(); ++i) {
    const v1::Embedding& e = response->embeddings(i);
    std::printf("%s\n  %d tokens: %s\n  ids: %s\n", request.texts(i).c_str(), e.tokens_size(),
                absl::StrJoin(e.tokens(), " ").c_str(), absl::StrJoin(e.token_ids(), " ").c_str());
  }
  return kExitOk;
}

int Eval(const Command& cmd) {
  if (!cmd.args.empty()) return UsageError("eval takes flags only");
  EvalOptions options;
  options.items_file = absl::GetFlag(FLAGS_items);
  options.events_file = absl::GetFlag(FLAGS_events);
  if (options.items_file.empty() || options.events_file.empty()) {
    return UsageError("eval needs --items=FILE.jsonl and --events=FILE.jsonl");
  }
  options.k = absl::GetFlag(FLAGS_k);
  if (options.k < 1 || options.k > 1000) return UsageError("--k must be in 1..1000");
  options.parallel = absl::GetFlag(FLAGS_parallel);
  if (options.parallel < 1 || options.parallel > 64) {
    return UsageError("--parallel must be in 1..64");
  }
  options.strategies.clear();
  for (const std::string& name : absl::GetFlag(FLAGS_strategies)) {
    v1::Strategy strategy;
    if (!v1::Strategy_Parse(absl::AsciiStrToUpper(name), &strategy) ||
        strategy == v1::STRATEGY_UNSPECIFIED) {
      return UsageError(absl::StrCat("unknown strategy '", name,
                                     "'; valid: HYBRID, CONTENT, COLLABORATIVE, POPULAR"));
    }
    options.strategies.push_back(strategy);
  }
  if (options.strategies.empty()) return UsageError("--strategies is empty");
  options.novelty = static_cast<float>(absl::GetFlag(FLAGS_novelty));
  options.diversity = static_cast<float>(absl::GetFlag(FLAGS_diversity));
  options.skip_import = absl::GetFlag(FLAGS_skip_import);
  options.target = cmd.client.options().target;

  absl::StatusOr<EvalReport> report = RunEval(cmd.client, options);
  if (!report.ok()) return Failed(report.status());
  if (cmd.json) {
    PrintJson(EvalReportToJson(*report));
  } else {
    PrintEvalTable(*report);
  }
  if (const std::string path = absl::GetFlag(FLAGS_json_out); !path.empty()) {
    std::ofstream out(path, std::ios::trunc);
    out << EvalReportToJson(*report).dump(2) << "\n";
    out.close();
    if (!out) return Failed(absl::InternalError(absl::StrCat("cannot write ", path)));
  }
  if (const std::string path = absl::GetFlag(FLAGS_chart); !path.empty()) {
    if (absl::Status written = WriteEvalChart(*report, path); !written.ok()) {
      return Failed(written);
    }
  }
  // Figures are printed and written either way; a strategy the server refused still fails the run.
  for (const StrategyResult& s : report->strategies) {
    if (!s.error.ok()) return Failed(s.error);
  }
  return kExitOk;
}

// ---------------------------------------------------------------------------------------------
// Command line.

// Flag names are C identifiers, but people type --include-categories: rewrites every flag to
// --name=value with underscores, and checks its name and value first, so that a mistake is a
// usage error (exit 2) instead of absl's exit(1). Stops at "--".
bool NormalizeFlags(int argc, char** argv, std::vector<std::string>* out, std::string* error) {
  bool positional_only = false;
  for (int i = 0; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i == 0 || positional_only || arg.size() < 2 || arg[0] != '-') {
      out->push_back(arg);
      continue;
    }
    if (arg == "--") {
      positional_only = true;
      out->push_back(arg);
      continue;
    }
    const size_t start = arg[1] == '-' ? 2 : 1;
    const size_t eq = arg.find('=');
    std::string name = arg.substr(start, eq == std::string::npos ? eq : eq - start);
    std::replace(name.begin(), name.end(), '-', '_');
    std::optional<std::string> value;
    if (eq != std::string::npos) value = arg.substr(eq + 1);

    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr && absl::StartsWith(name, "no") && !value.has_value()) {
      flag = absl::FindCommandLineFlag(name.substr(2));
      if (flag != nullptr && flag->IsOfType<bool>()) {
        name = name.substr(2);
        value = "false";
      } else {
        flag = nullptr;
      }
    }
    if (flag == nullptr) {
      *error = absl::StrCat("unknown flag ", arg);
      return false;
    }
    if (!value.has_value()) {
      if (flag->IsOfType<bool>()) {
        value = "true";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        *error = absl::StrCat("flag --", name, " needs a value");
        return false;
      }
    }
    std::string why;
    if (!flag->ParseFrom(*value, &why)) {
      *error = absl::StrCat("bad value for --", name, ": ", why);
      return false;
    }
    out->push_back(absl::StrCat("--", name, "=", *value));
  }
  return true;
}

int Run(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") break;
    if (arg == "--help" || arg == "-h" || arg == "-help") {
      std::printf("%s", kUsage);
      return kExitOk;
    }
  }
  std::vector<std::string> normalized;
  std::string error;
  if (!NormalizeFlags(argc, argv, &normalized, &error)) return UsageError(error);
  std::vector<char*> normalized_argv;
  for (std::string& arg : normalized) normalized_argv.push_back(arg.data());
  std::vector<char*> positional =
      absl::ParseCommandLine(static_cast<int>(normalized_argv.size()), normalized_argv.data());
  if (positional.size() < 2) return UsageError("no command");
  const std::string command = positional[1];
  if (command == "help") {
    std::printf("%s", kUsage);
    return kExitOk;
  }

  using Handler = int (*)(const Command&);
  static const auto* const kCommands = new std::map<std::string, Handler>{
      {"import", Import},    {"recommend", Recommend},
      {"similar", Similar},  {"feedback", Feedback},
      {"user", User},        {"delete-user", DeleteUser},
      {"get-item", GetItem}, {"delete-items", DeleteItems},
      {"stats", Stats},      {"embed", Embed},
      {"eval", Eval},        {"tokenize", Tokenize},
  };
  auto handler = kCommands->find(command);
  if (handler == kCommands->end())
    return UsageError(absl::StrCat("unknown command '", command, "'"));

  ClientOptions options;
  options.target = absl::GetFlag(FLAGS_target);
  options.deadline = absl::GetFlag(FLAGS_deadline);
  absl::StatusOr<std::unique_ptr<SemrecClient>> client = SemrecClient::Create(options);
  if (!client.ok()) return UsageError(std::string(client.status().message()));
  const Command cmd{**client, {positional.begin() + 2, positional.end()}};
  return handler->second(cmd);
}

}  // namespace
}  // namespace semrec

int main(int argc, char** argv) { return semrec::Run(argc, argv); }
