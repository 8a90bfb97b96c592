// Offline evaluation of a running semrec server, the way `semrec eval` runs it: replay a dataset
// through the public API (UpsertItems, Feedback), hold out each user's last event, ask Recommend
// for every user under each strategy and score the lists (HR@k, NDCG@k, catalog coverage,
// long-tail share, latency). The pure pieces (split, popularity head, metrics) are exposed for
// tests and for anyone who scores lists obtained another way.
//
//   EvalOptions options;  options.items_file = "items.jsonl";  options.events_file =
//   "events.jsonl"; ASSIGN_OR_RETURN(EvalReport report, RunEval(client, options));
//   PrintEvalTable(report);
//
// Thread-safe: functions only; RunEval makes concurrent calls on the (thread-safe) client.
#ifndef SEMREC_CLIENT_EVAL_H_
#define SEMREC_CLIENT_EVAL_H_

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "absl/status/statusor.h"
#include "client/cli_support.h"
#include "client/semrec_client.h"

namespace semrec {

// ---------------------------------------------------------------------------------------------
// Leave-last-out split.

struct HeldOutCase {
  std::string user_id;
  std::string item_id;
};

struct LeaveLastOutSplit {
  // Everything but the held-out events, stably sorted by time (the file's order among equal
  // timestamps), so that each user's events keep their order.
  std::vector<UserEvent> train;
  // One per user with at least two events with an item, in order of first appearance.
  std::vector<HeldOutCase> test;
  int64_t users = 0;
  // Users with a single event with an item: no test case, their event is still replayed.
  int64_t single_event_users = 0;
};

// For every user, holds out the last event by time that names an item (ties: the last in file
// order). Events without an item (a SEARCH) always stay in training.
LeaveLastOutSplit SplitLeaveLastOut(std::vector<UserEvent> events);

// ---------------------------------------------------------------------------------------------
// Metrics.

// The ceil(fraction * catalog size) most popular catalog items, popularity being the number of
// events per item; ties go to the smaller id (byte order).
std::unordered_set<std::string> MostPopularItems(const std::vector<std::string>& catalog_ids,
                                                 const std::vector<UserEvent>& events,
                                                 double fraction);

struct RankingMetrics {
  int64_t test_cases = 0;
  int64_t hits = 0;
  double hit_rate = 0;  // HR@k: share of cases whose held-out item is in the list
  double ndcg = 0;      // NDCG@k: mean over cases of 1/log2(rank + 2) for a hit at rank (0-based)
  int64_t distinct_items = 0;   // distinct recommended items that are in the catalog
  double coverage = 0;          // distinct_items / catalog size
  int64_t slots = 0;            // recommended items over all lists
  double long_tail_share = 0;   // share of slots taken by items outside the popularity head
  int64_t outside_catalog = 0;  // slots taken by ids not in the catalog file
  int64_t empty_lists = 0;
};

// `lists[i]` is the ranked list recommended for `cases[i]`; a missing list counts as empty.
RankingMetrics ScoreLists(const std::vector<HeldOutCase>& cases,
                          const std::vector<std::vector<std::string>>& lists,
                          const std::unordered_set<std::string>& catalog,
                          const std::unordered_set<std::string>& popular_head);

// The q-quantile (0..1, nearest rank) of `values`; 0 when empty.
double Percentile(std::vector<double> values, double q);

// ---------------------------------------------------------------------------------------------
// The whole run against a server.

struct EvalOptions {
  std::string items_file;
  std::string events_file;
  int k = 10;
  std::vector<v1::Strategy> strategies = {v1::HYBRID, v1::CONTENT, v1::COLLABORATIVE, v1::POPULAR};
  float novelty = 0;
  float diversity = 0;
  bool skip_import = false;
  int parallel = 4;       // Feedback and Recommend calls in flight
  int item_batch = 256;   // items per UpsertItems
  int event_batch = 500;  // events per Feedback
  std::string target;     // recorded in the report only
};

struct StrategyResult {
  v1::Strategy strategy = v1::HYBRID;
  RankingMetrics metrics;
  double latency_p50_ms = 0;
  double latency_p99_ms = 0;
  double latency_mean_ms = 0;
  double seconds = 0;
  // The first failed Recommend (the strategy's remaining calls were skipped); OK when none.
  absl::Status error;
  int64_t failed_calls = 0;
};

struct EvalReport {
  EvalOptions options;
  int64_t catalog_items = 0;
  int64_t events = 0;
  int64_t users = 0;
  int64_t single_event_users = 0;
  int64_t test_cases = 0;
  int64_t train_events = 0;
  int64_t held_out_outside_catalog = 0;
  int64_t popular_head_size = 0;
  int64_t server_items = 0;  // Stats().items after the import
  std::optional<UpsertSummary> import;
  ReplaySummary replay;
  std::vector<StrategyResult> strategies;
  double total_seconds = 0;
  std::string started_at;  // RFC 3339, UTC
};

// Runs the protocol above. Fails (with the gRPC error) when a file cannot be read, the server
// cannot be reached, the import fails, or the replay stops; a strategy whose Recommend calls
// fail is reported with its error and the others still run.
absl::StatusOr<EvalReport> RunEval(const SemrecClient& client, const EvalOptions& options);

// All figures and the run's parameters.
nlohmann::json EvalReportToJson(const EvalReport& report);

// One row per strategy on stdout: HR@k, NDCG@k, coverage, long-tail share, p50 ms.
void PrintEvalTable(const EvalReport& report);

// A PNG: HR@k and NDCG@k side by side per strategy, long-tail share in a second panel.
absl::Status WriteEvalChart(const EvalReport& report, const std::string& path);

}  // namespace semrec

#endif  // SEMREC_CLIENT_EVAL_H_
