#include "client/eval.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <thread>
#include <unordered_map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/png_chart.h"
#include "core/catalog/catalog_io.h"

namespace semrec {

// ---------------------------------------------------------------------------------------------
// Split and metrics

LeaveLastOutSplit SplitLeaveLastOut(std::vector<UserEvent> events) {
  auto time_of = [](const UserEvent& e) {
    return std::make_pair(e.event.timestamp().seconds(), e.event.timestamp().nanos());
  };
  std::stable_sort(events.begin(), events.end(),
                   [&](const UserEvent& a, const UserEvent& b) { return time_of(a) < time_of(b); });

  // Per user: events with an item, and the position of the last one.
  struct PerUser {
    int64_t with_item = 0;
    size_t last = 0;
  };
  std::unordered_map<std::string, PerUser> per_user;
  std::vector<std::string> user_order;
  for (size_t i = 0; i < events.size(); ++i) {
    auto [it, inserted] = per_user.try_emplace(events[i].user_id);
    if (inserted) user_order.push_back(events[i].user_id);
    if (events[i].event.item_id().empty()) continue;
    ++it->second.with_item;
    it->second.last = i;
  }

  LeaveLastOutSplit split;
  split.users = static_cast<int64_t>(user_order.size());
  std::vector<bool> held_out(events.size(), false);
  for (const std::string& user : user_order) {
    const PerUser& u = per_user.at(user);
    if (u.with_item < 2) {
      ++split.single_event_users;
      continue;
    }
    held_out[u.last] = true;
    split.test.push_back({user, events[u.last].event.item_id()});
  }
  split.train.reserve(events.size() - split.test.size());
  for (size_t i = 0; i < events.size(); ++i) {
    if (!held_out[i]) split.train.push_back(std::move(events[i]));
  }
  return split;
}

std::unordered_set<std::string> MostPopularItems(const std::vector<std::string>& catalog_ids,
                                                 const std::vector<UserEvent>& events,
                                                 double fraction) {
  std::unordered_map<std::string, int64_t> count;
  for (const std::string& id : catalog_ids) count.emplace(id, 0);
  for (const UserEvent& e : events) {
    auto it = count.find(e.event.item_id());
    if (it != count.end()) ++it->second;
  }
  std::vector<std::pair<int64_t, std::string>> ranked;  // (-count, id): most popular first
  ranked.reserve(count.size());
  for (auto& [id, n] : count) ranked.emplace_back(-n, id);
  std::sort(ranked.begin(), ranked.end());
  const size_t head = std::min(
      ranked.size(),
      static_cast<size_t>(std::ceil(std::clamp(fraction, 0.0, 1.0) * ranked.size() - 1e-9)));
  std::unordered_set<std::string> popular;
  for (size_t i = 0; i < head; ++i) popular.insert(ranked[i].second);
  return popular;
}

RankingMetrics ScoreLists(const std::vector<HeldOutCase>& cases,
                          const std::vector<std::vector<std::string>>& lists,
                          const std::unordered_set<std::string>& catalog,
                          const std::unordered_set<std::string>& popular_head) {
  RankingMetrics m;
  m.test_cases = static_cast<int64_t>(cases.size());
  std::unordered_set<std::string> distinct;
  int64_t tail_slots = 0;
  double gain = 0;
  static const std::vector<std::string> kEmpty;
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::vector<std::string>& list = i < lists.size() ? lists[i] : kEmpty;
    if (list.empty()) ++m.empty_lists;
    auto hit = std::find(list.begin(), list.end(), cases[i].item_id);
    if (hit != list.end()) {
      ++m.hits;
      gain += 1.0 / std::log2(static_cast<double>(hit - list.begin()) + 2.0);
    }
    for (const std::string& id : list) {
      ++m.slots;
      if (catalog.count(id) == 0) {
        ++m.outside_catalog;
      } else {
        distinct.insert(id);
      }
      if (popular_head.count(id) == 0) ++tail_slots;
    }
  }
  m.distinct_items = static_cast<int64_t>(distinct.size());
  if (m.test_cases > 0) {
    m.hit_rate = static_cast<double>(m.hits) / m.test_cases;
    m.ndcg = gain / m.test_cases;
  }
  if (!catalog.empty()) m.coverage = static_cast<double>(m.distinct_items) / catalog.size();
  if (m.slots > 0) m.long_tail_share = static_cast<double>(tail_slots) / m.slots;
  return m;
}

double Percentile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double rank = std::ceil(std::clamp(q, 0.0, 1.0) * values.size());
  const size_t index = static_cast<size_t>(std::max(rank, 1.0)) - 1;
  return values[std::min(index, values.size() - 1)];
}

// ---------------------------------------------------------------------------------------------
// The run

namespace {

constexpr double kPopularHeadFraction = 0.2;

std::string StrategyName(v1::Strategy s) { return v1::Strategy_Name(s); }

void Note(const std::string& line) {
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

absl::Status WithContext(const absl::Status& status, const std::string& context) {
  return absl::Status(status.code(), absl::StrCat(context, ": ", status.message()));
}

// Recommend for every test case under one strategy, `parallel` calls in flight.
absl::StatusOr<StrategyResult> EvaluateStrategy(const SemrecClient& client,
                                                const EvalOptions& options, v1::Strategy strategy,
                                                const std::vector<HeldOutCase>& cases,
                                                const std::unordered_set<std::string>& catalog,
                                                const std::unordered_set<std::string>& head) {
  StrategyResult result;
  result.strategy = strategy;
  std::vector<std::vector<std::string>> lists(cases.size());
  std::vector<double> latency_ms(cases.size(), -1);
  Progress progress(absl::StrCat("users (", StrategyName(strategy), ")"),
                    static_cast<int64_t>(cases.size()));
  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  absl::Mutex mu;
  absl::Status first_error;  // guarded by mu
  int64_t failed = 0;        // guarded by mu
  bool fatal = false;        // guarded by mu
  auto work = [&] {
    for (size_t i = next.fetch_add(1); i < cases.size() && !stop.load(); i = next.fetch_add(1)) {
      v1::RecommendRequest request;
      request.set_user_id(cases[i].user_id);
      request.set_k(options.k);
      request.set_strategy(strategy);
      request.mutable_filter()->set_include_seen(false);
      request.set_novelty(options.novelty);
      request.set_diversity(options.diversity);
      const absl::Time start = absl::Now();
      absl::StatusOr<v1::RecommendResponse> response = client.Recommend(request);
      const double ms = absl::ToDoubleMilliseconds(absl::Now() - start);
      if (!response.ok()) {
        stop.store(true);
        absl::MutexLock lock(&mu);
        if (++failed == 1) {
          first_error = WithContext(response.status(),
                                    absl::StrCat("Recommend with strategy ", StrategyName(strategy),
                                                 " for user ", cases[i].user_id));
          // The server cannot be reached or keep up: stop the whole run. A strategy the server
          // rejects only fails that strategy.
          fatal = !IsRequestError(response.status().code()) &&
                  response.status().code() != absl::StatusCode::kUnimplemented;
        }
        continue;
      }
      latency_ms[i] = ms;
      lists[i].reserve(response->items_size());
      for (const v1::ScoredItem& item : response->items()) lists[i].push_back(item.item_id());
      progress.Add(1);
    }
  };
  std::vector<std::thread> workers;
  for (int w = 0; w < options.parallel; ++w) workers.emplace_back(work);
  for (auto& t : workers) t.join();
  progress.Finish();
  result.seconds = progress.seconds();

  absl::MutexLock lock(&mu);
  if (fatal) return first_error;
  result.error = first_error;
  result.failed_calls = failed;
  result.metrics = ScoreLists(cases, lists, catalog, head);
  std::vector<double> measured;
  for (double ms : latency_ms) {
    if (ms >= 0) measured.push_back(ms);
  }
  result.latency_p50_ms = Percentile(measured, 0.50);
  result.latency_p99_ms = Percentile(measured, 0.99);
  if (!measured.empty()) {
    result.latency_mean_ms =
        std::accumulate(measured.begin(), measured.end(), 0.0) / measured.size();
  }
  return result;
}

}  // namespace

absl::StatusOr<EvalReport> RunEval(const SemrecClient& client, const EvalOptions& options) {
  if (options.k < 1 || options.k > 1000) return absl::InvalidArgumentError("k must be in 1..1000");
  if (options.parallel < 1 || options.parallel > 64) {
    return absl::InvalidArgumentError("parallel must be in 1..64");
  }
  if (options.strategies.empty()) return absl::InvalidArgumentError("no strategy to evaluate");
  const absl::Time start = absl::Now();
  EvalReport report;
  report.options = options;
  report.started_at = absl::FormatTime(absl::RFC3339_sec, start, absl::UTCTimeZone());

  absl::StatusOr<std::vector<Item>> items = ReadItemsJsonl(options.items_file);
  if (!items.ok()) return items.status();
  absl::StatusOr<std::vector<UserEvent>> events = ReadEventsJsonl(options.events_file);
  if (!events.ok()) return events.status();
  absl::StatusOr<v1::StatsResponse> stats = client.Stats();
  if (!stats.ok()) {
    return WithContext(stats.status(), absl::StrCat("server ", client.options().target));
  }

  std::vector<std::string> catalog_ids;
  catalog_ids.reserve(items->size());
  for (const Item& item : *items) catalog_ids.push_back(item.id);
  const std::unordered_set<std::string> catalog(catalog_ids.begin(), catalog_ids.end());
  report.catalog_items = static_cast<int64_t>(catalog.size());
  report.events = static_cast<int64_t>(events->size());

  if (!options.skip_import) {
    Note(absl::StrFormat("upserting %d items from %s", items->size(), options.items_file));
    absl::StatusOr<UpsertSummary> imported =
        UpsertItemsInBatches(client, std::move(*items), options.item_batch);
    if (!imported.ok()) return WithContext(imported.status(), "UpsertItems");
    report.import = *imported;
  }

  LeaveLastOutSplit split = SplitLeaveLastOut(std::move(*events));
  report.users = split.users;
  report.single_event_users = split.single_event_users;
  report.test_cases = static_cast<int64_t>(split.test.size());
  report.train_events = static_cast<int64_t>(split.train.size());
  for (const HeldOutCase& c : split.test) {
    if (catalog.count(c.item_id) == 0) ++report.held_out_outside_catalog;
  }
  const std::unordered_set<std::string> head =
      MostPopularItems(catalog_ids, split.train, kPopularHeadFraction);
  report.popular_head_size = static_cast<int64_t>(head.size());

  Note(absl::StrFormat(
      "replaying %d of %d events (%d users; %d held out, %d users with a single event)",
      report.train_events, report.events, report.users, report.test_cases,
      report.single_event_users));
  report.replay = ReplayEvents(client, std::move(split.train),
                               {.batch = options.event_batch, .parallel = options.parallel});
  if (report.replay.stopped) return WithContext(report.replay.first_error, "Feedback");
  if (!report.replay.first_error.ok()) {
    Note(absl::StrCat("warning: ", report.replay.failed_calls,
                      " Feedback calls failed; the first: ", report.replay.first_error.ToString()));
  }
  if (report.replay.item_not_found > 0) {
    Note(absl::StrCat("warning: ", report.replay.item_not_found,
                      " events named items the server does not know"));
  }

  stats = client.Stats();
  if (!stats.ok()) return WithContext(stats.status(), "Stats");
  report.server_items = stats->items();
  if (report.server_items != report.catalog_items) {
    Note(absl::StrFormat(
        "note: the server holds %d items, the items file %d: recommended ids outside the file "
        "are counted as outside_catalog (start the server without a demo catalog to compare "
        "with published figures)",
        report.server_items, report.catalog_items));
  }

  for (v1::Strategy strategy : options.strategies) {
    absl::StatusOr<StrategyResult> result =
        EvaluateStrategy(client, options, strategy, split.test, catalog, head);
    if (!result.ok()) return result.status();
    if (!result->error.ok()) Note(absl::StrCat("warning: ", result->error.ToString()));
    report.strategies.push_back(*std::move(result));
  }
  report.total_seconds = absl::ToDoubleSeconds(absl::Now() - start);
  return report;
}

// ---------------------------------------------------------------------------------------------
// Output

nlohmann::json EvalReportToJson(const EvalReport& report) {
  const EvalOptions& o = report.options;
  nlohmann::json strategies = nlohmann::json::array();
  for (const StrategyResult& s : report.strategies) {
    const RankingMetrics& m = s.metrics;
    nlohmann::json j = {
        {"strategy", StrategyName(s.strategy)},
        {"hr", m.hit_rate},
        {"ndcg", m.ndcg},
        {"hits", m.hits},
        {"test_cases", m.test_cases},
        {"coverage", m.coverage},
        {"distinct_items", m.distinct_items},
        {"long_tail_share", m.long_tail_share},
        {"recommended_slots", m.slots},
        {"outside_catalog", m.outside_catalog},
        {"empty_lists", m.empty_lists},
        {"latency_ms",
         {{"p50", s.latency_p50_ms}, {"p99", s.latency_p99_ms}, {"mean", s.latency_mean_ms}}},
        {"seconds", s.seconds},
        {"failed_calls", s.failed_calls},
    };
    if (!s.error.ok()) j["error"] = s.error.ToString();
    strategies.push_back(std::move(j));
  }
  std::vector<std::string> strategy_names;
  for (v1::Strategy s : o.strategies) strategy_names.push_back(StrategyName(s));
  nlohmann::json j = {
      {"parameters",
       {{"target", o.target},
        {"items_file", o.items_file},
        {"events_file", o.events_file},
        {"k", o.k},
        {"strategies", strategy_names},
        {"novelty", o.novelty},
        {"diversity", o.diversity},
        {"include_seen", false},
        {"parallel", o.parallel},
        {"skip_import", o.skip_import},
        {"split", "leave-last-out"},
        {"long_tail_head_fraction", kPopularHeadFraction}}},
      {"dataset",
       {{"catalog_items", report.catalog_items},
        {"server_items", report.server_items},
        {"events", report.events},
        {"users", report.users},
        {"single_event_users", report.single_event_users},
        {"test_cases", report.test_cases},
        {"train_events", report.train_events},
        {"held_out_outside_catalog", report.held_out_outside_catalog},
        {"popular_head_items", report.popular_head_size}}},
      {"replay",
       {{"events", report.replay.events},
        {"calls", report.replay.calls},
        {"applied", report.replay.applied},
        {"item_not_found", report.replay.item_not_found},
        {"duplicates", report.replay.duplicates},
        {"errors", report.replay.errors},
        {"seconds", report.replay.seconds},
        {"events_per_second",
         report.replay.seconds > 0 ? report.replay.sent() / report.replay.seconds : 0.0}}},
      {"strategies", std::move(strategies)},
      {"started_at", report.started_at},
      {"total_seconds", report.total_seconds},
  };
  if (report.import.has_value()) {
    const UpsertSummary& u = *report.import;
    j["import"] = {
        {"items", u.items},     {"created", u.created},
        {"updated", u.updated}, {"unchanged", u.unchanged},
        {"seconds", u.seconds}, {"items_per_second", u.seconds > 0 ? u.items / u.seconds : 0.0}};
  } else {
    j["import"] = nullptr;
  }
  return j;
}

void PrintEvalTable(const EvalReport& report) {
  const int k = report.options.k;
  std::printf(
      "%lld users, %lld test cases (%lld users with a single event), %lld events replayed in "
      "%.1f s (%.0f events/s), catalog %lld items, k=%d\n\n",
      static_cast<long long>(report.users), static_cast<long long>(report.test_cases),
      static_cast<long long>(report.single_event_users),
      static_cast<long long>(report.replay.sent()), report.replay.seconds,
      report.replay.seconds > 0 ? report.replay.sent() / report.replay.seconds : 0.0,
      static_cast<long long>(report.catalog_items), k);
  std::vector<std::vector<std::string>> rows;
  for (const StrategyResult& s : report.strategies) {
    const RankingMetrics& m = s.metrics;
    std::vector<std::string> row = {StrategyName(s.strategy),
                                    absl::StrFormat("%.4f", m.hit_rate),
                                    absl::StrFormat("%.4f", m.ndcg),
                                    absl::StrFormat("%.1f%%", 100 * m.coverage),
                                    absl::StrFormat("%.1f%%", 100 * m.long_tail_share),
                                    absl::StrFormat("%.2f", s.latency_p50_ms),
                                    absl::StrFormat("%.2f", s.latency_p99_ms)};
    if (!s.error.ok()) row.push_back(absl::StrCat("failed: ", s.error.ToString()));
    rows.push_back(std::move(row));
  }
  PrintTable({"strategy", absl::StrCat("HR@", k), absl::StrCat("NDCG@", k), "coverage", "long-tail",
              "p50 ms", "p99 ms"},
             rows);
  std::printf("\ntotal %.1f s\n", report.total_seconds);
}

absl::Status WriteEvalChart(const EvalReport& report, const std::string& path) {
  const std::string k = absl::StrCat(report.options.k);
  BarPanel accuracy{.title = absl::StrCat("HR@", k, " AND NDCG@", k, " (HELD-OUT LAST ITEM)"),
                    .x_label = "STRATEGY",
                    .y_label = "SCORE",
                    .series = {{absl::StrCat("HR@", k), {31, 119, 180}, {}},
                               {absl::StrCat("NDCG@", k), {255, 127, 14}, {}}}};
  BarPanel tail{.title = "LONG-TAIL SHARE (OUTSIDE TOP 20% POPULAR)",
                .x_label = "STRATEGY",
                .y_label = "SHARE OF SLOTS",
                .series = {{"LONG TAIL", {44, 160, 44}, {}}},
                .percent = true};
  for (const StrategyResult& s : report.strategies) {
    if (!s.error.ok()) continue;
    accuracy.categories.push_back(StrategyName(s.strategy));
    tail.categories.push_back(StrategyName(s.strategy));
    accuracy.series[0].values.push_back(s.metrics.hit_rate);
    accuracy.series[1].values.push_back(s.metrics.ndcg);
    tail.series[0].values.push_back(s.metrics.long_tail_share);
  }
  const std::string title =
      absl::StrCat("SEMREC EVAL: ", report.test_cases, " USERS, ", report.catalog_items, " ITEMS");
  return WritePng(DrawBarChart(title, {accuracy, tail}), path);
}

}  // namespace semrec
