// semrec-load: a load generator for a running semrec server, over the semrec.v1 gRPC API.
//
// It sends a mix of user Recommend (k=10 for users u1..uN drawn Zipf-like, u1 the hottest),
// Feedback (random CLICK/LIKE/VIEW/PURCHASE events on catalog items) and query Recommend (2-3
// words from the catalog texts), then prints per RPC kind and overall: count, throughput,
// p50/p90/p99/p99.9/max latency in ms and errors by gRPC status code (--json_out: same as JSON).
//   closed loop: --concurrency callers, each on its own connection, each sending its next request
//                as soon as the previous one answers (measures capacity).
//   open loop:   --rate requests/s on a fixed schedule spread over --concurrency senders, each
//                sending asynchronously on its own connection (a slow answer delays no later
//                send, up to --max_outstanding in flight per sender); latency counts from each
//                request's intended send time, so a server cannot hide its queueing by delaying
//                sends (coordinated omission corrected, as wrk2 does).
// It stops by itself after --duration or --requests, whichever comes first; --warmup is not
// recorded. Latency includes failed requests; a DEADLINE_EXCEEDED one counts its full wait.
//
//   semrec-load --target=127.0.0.1:50051 --mode=closed --concurrency=8 --duration=10s
//   semrec-load --mode=open --rate=500 --duration=30s --json_out=open.json
//   semrec-load --upsert_items --seed_feedback=1000 --requests=5000   # fill an empty server first
//
// load_tests/run_standard.sh starts a server and runs the standard closed + open loop scenario.
#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/catalog/catalog_io.h"
#include "grpcpp/grpcpp.h"
#include "nlohmann/json.hpp"
#include "semrec/v1/semrec.grpc.pb.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "semrec server address host:port");
ABSL_FLAG(std::string, mode, "closed",
          "closed: --concurrency callers back to back; open: --rate requests/s on a schedule");
ABSL_FLAG(int, concurrency, 8,
          "Callers (closed loop) or sender threads, each with its own connection (open loop)");
ABSL_FLAG(int, max_outstanding, 10000,
          "Open loop: calls in flight per sender at most; beyond, the sender waits (and the "
          "wait counts in the latency of the calls it delays)");
ABSL_FLAG(double, rate, 1000, "Open loop: requests/s over all senders");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10),
          "Measured time after the warm-up (0 = no limit, then --requests is needed)");
ABSL_FLAG(int64_t, requests, 0, "Measured requests to send (0 = no limit)");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(1), "Load sent first and not recorded");
ABSL_FLAG(absl::Duration, deadline, absl::Seconds(1), "Per-request deadline");
ABSL_FLAG(double, recommend, 0.7, "Mix weight of user Recommend (k=10)");
ABSL_FLAG(double, feedback, 0.2, "Mix weight of Feedback");
ABSL_FLAG(double, query, 0.1, "Mix weight of query Recommend (2-3 catalog words, k=10)");
ABSL_FLAG(int, users, 10000, "Users u1..uN");
ABSL_FLAG(double, zipf, 1.1, "Zipf exponent of user popularity (0 = uniform)");
ABSL_FLAG(int, events_per_feedback, 1, "Events per Feedback request (1..1000)");
ABSL_FLAG(std::string, items_file, "examples/catalog.jsonl",
          "JSON Lines catalog: item ids for Feedback, words for queries");
ABSL_FLAG(bool, upsert_items, false,
          "First upsert --items_file through Catalog/UpsertItems, 256 items per call");
ABSL_FLAG(int64_t, seed_feedback, 0,
          "First send this many Feedback events (not timed), round-robin over the users");
ABSL_FLAG(std::string, json_out, "", "Also write the results as JSON to this file");
ABSL_FLAG(std::string, user_prefix, "u", "Users are <prefix>1..<prefix>N");
ABSL_FLAG(std::string, strategy, "HYBRID",
          "Recommend strategy: HYBRID, CONTENT (one vector search), COLLABORATIVE or POPULAR");

namespace semrec {
namespace {

using Clock = std::chrono::steady_clock;
using semrec::v1::Catalog;
using semrec::v1::Recommender;

enum RequestKind { kUserRecommend = 0, kFeedback = 1, kQueryRecommend = 2, kNumKinds = 3 };
constexpr std::array<const char*, kNumKinds> kKindNames = {"recommend", "feedback", "query"};
constexpr std::array<v1::EventType, 4> kEventTypes = {v1::CLICK, v1::LIKE, v1::VIEW, v1::PURCHASE};
constexpr int kUpsertBatch = 256;
constexpr int kRecommendK = 10;

// Latencies in nanoseconds, in HDR-style log-linear buckets: exact below 256 ns, then 128 buckets
// per power of two, so a reported percentile is at most 1/128 (< 0.8%) above the true value.
// Fixed size (37 KB) whatever the run length; values above ~73 minutes are clamped.
// Thread-compatible: one per thread, merged at the end.
class LatencyHistogram {
 public:
  void Record(Clock::duration latency) {
    const int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(latency).count();
    const uint64_t v = std::min<uint64_t>(std::max<int64_t>(ns, 0), kMaxValue);
    ++counts_[Index(v)];
    ++total_;
    max_ = std::max(max_, v);
  }
  void Merge(const LatencyHistogram& other) {
    for (int i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
    total_ += other.total_;
    max_ = std::max(max_, other.max_);
  }
  int64_t count() const { return total_; }
  double MaxMs() const { return max_ / 1e6; }
  // The smallest recorded value (bucket upper bound) with at least q of all values at or below it.
  double PercentileMs(double q) const {
    if (total_ == 0) return 0;
    const int64_t rank = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(q * total_)));
    int64_t seen = 0;
    for (int i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) return std::min(HighestInBucket(i), max_) / 1e6;
    }
    return MaxMs();
  }

 private:
  static constexpr int kSubBits = 7;
  static constexpr int kSub = 1 << kSubBits;
  static constexpr int kMaxShift = 34;
  static constexpr uint64_t kMaxValue = (uint64_t{1} << (kMaxShift + kSubBits + 1)) - 1;
  static constexpr int kBuckets = (kMaxShift + 2) * kSub;

  // Bucket i covers [sub << shift, (sub + 1) << shift) with sub in [kSub, 2 * kSub) once shift > 0.
  static int Index(uint64_t v) {
    const int msb = 63 - __builtin_clzll(v | 1);
    const int shift = std::max(0, msb - kSubBits);
    return shift * kSub + static_cast<int>(v >> shift);
  }
  static uint64_t HighestInBucket(int index) {
    if (index < 2 * kSub) return index;
    const int shift = index / kSub - 1;
    const uint64_t sub = index - shift * kSub;
    return ((sub + 1) << shift) - 1;
  }

  std::array<int64_t, kBuckets> counts_{};
  int64_t total_ = 0;
  uint64_t max_ = 0;
};

// What one RPC kind did: every answered request's latency, failed ones included.
struct KindStats {
  LatencyHistogram latency;
  std::map<grpc::StatusCode, int64_t> errors;

  void Merge(const KindStats& other) {
    latency.Merge(other.latency);
    for (const auto& [code, n] : other.errors) errors[code] += n;
  }
  int64_t ErrorCount() const {
    int64_t n = 0;
    for (const auto& [code, count] : errors) n += count;
    return n;
  }
};

struct WorkerStats {
  std::array<KindStats, kNumKinds> kinds;
  int64_t events_not_applied = 0;  // answered OK but ITEM_NOT_FOUND / DUPLICATE

  void Merge(const WorkerStats& other) {
    for (int k = 0; k < kNumKinds; ++k) kinds[k].Merge(other.kinds[k]);
    events_not_applied += other.events_not_applied;
  }
};

// gRPC codes equal absl's one to one.
std::string CodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

// What requests are made of; immutable once built, shared by all callers.
struct Workload {
  std::vector<v1::Item> items;
  std::vector<std::string> item_ids;
  std::vector<std::string> words;  // lower-cased catalog words of 3+ bytes, for queries
  std::vector<double> user_cdf;    // user_cdf[r] = P(rank <= r + 1)
  std::array<double, kNumKinds> mix{};
  int events_per_feedback = 1;
  v1::Strategy strategy = v1::HYBRID;
  std::string user_prefix = "u";
};

absl::Status LoadItems(const std::string& path, Workload& workload) {
  absl::StatusOr<std::vector<Item>> items = ReadItemsJsonl(path);
  if (!items.ok()) return items.status();
  if (items->empty()) return absl::InvalidArgumentError(absl::StrCat(path, " has no items"));
  std::set<std::string> words;
  for (const Item& item : *items) {
    v1::Item& proto = workload.items.emplace_back();
    proto.set_id(item.id);
    proto.set_text(item.text);
    for (const std::string& category : item.categories) proto.add_categories(category);
    for (const auto& [key, value] : item.attributes) (*proto.mutable_attributes())[key] = value;
    workload.item_ids.push_back(item.id);
    // Words: runs of ASCII letters/digits and UTF-8 bytes, ASCII lower-cased.
    std::string word;
    for (const char c : item.text + " ") {
      const auto u = static_cast<unsigned char>(c);
      if (std::isalnum(u) || u >= 0x80) {
        word.push_back(static_cast<char>(std::tolower(u)));
      } else {
        if (word.size() >= 3) words.insert(word);
        word.clear();
      }
    }
  }
  workload.words.assign(words.begin(), words.end());
  if (workload.words.empty())
    return absl::InvalidArgumentError(absl::StrCat(path, " has no words"));
  return absl::OkStatus();
}

std::vector<double> ZipfCdf(int users, double exponent) {
  std::vector<double> cdf(users);
  double sum = 0;
  for (int r = 1; r <= users; ++r) cdf[r - 1] = sum += std::pow(r, -exponent);
  for (double& c : cdf) c /= sum;
  return cdf;
}

std::shared_ptr<grpc::Channel> NewChannel(const std::string& target) {
  grpc::ChannelArguments args;
  // A connection of its own, not one shared through gRPC's global subchannel pool.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

// One thread's requests: its own connection, random stream and statistics.
// Thread-compatible: one thread uses it.
class Caller {
 public:
  Caller(const Workload& workload, const std::string& target, uint64_t seed)
      : workload_(workload),
        channel_(NewChannel(target)),
        stub_(Recommender::NewStub(channel_)),
        rng_(seed),
        kind_(workload.mix.begin(), workload.mix.end()) {}

  bool WaitForConnected(absl::Duration timeout) {
    return channel_->WaitForConnected(absl::ToChronoTime(absl::Now() + timeout));
  }

  // Sends one request of a random kind and waits for its answer.
  std::pair<RequestKind, grpc::Status> CallOnce(absl::Duration deadline) {
    Call call;
    Prepare(call, deadline);
    grpc::Status status;
    switch (call.kind) {
      case kUserRecommend:
      case kQueryRecommend:
        status = stub_->Recommend(&call.context, call.recommend, &call.recommend_response);
        break;
      case kFeedback:
        status = stub_->Feedback(&call.context, call.feedback, &call.feedback_response);
        break;
      case kNumKinds:
        break;
    }
    Finish(call, status);
    return {call.kind, status};
  }

  // Sends one request of a random kind without waiting: its answer is recorded, when it comes
  // (on a gRPC thread), with its latency from `intended` when `measured`. At most
  // `max_outstanding` calls are in flight: beyond, it waits for one to end.
  void StartCall(absl::Duration deadline, Clock::time_point intended, bool measured,
                 int max_outstanding) {
    {
      absl::MutexLock lock(&mu_);
      const auto can_start = [&] { return outstanding_ < max_outstanding; };
      mu_.Await(absl::Condition(&can_start));
      ++outstanding_;
    }
    // The call counts as outstanding until its ClientContext is destroyed: gRPC destroys the
    // callback (and with it the last reference here) only after it has run and gRPC has released
    // its own reference to the call, so a count taken in the callback let the run end, and the
    // process tear gRPC down, while a callback thread still worked on the call (an abort,
    // "ref_counted.h: assertion failed: prior > 0", seen once at 2,830 req/s).
    std::shared_ptr<Call> call(new Call, [this](Call* ended) {
      delete ended;
      absl::MutexLock lock(&mu_);
      --outstanding_;
    });
    Prepare(*call, deadline);
    auto done = [this, call, intended, measured](grpc::Status status) {
      Finish(*call, status);
      absl::MutexLock lock(&mu_);
      if (measured) RecordLocked(call->kind, status, Clock::now() - intended);
    };
    if (call->kind == kFeedback) {
      stub_->async()->Feedback(&call->context, &call->feedback, &call->feedback_response, done);
    } else {
      stub_->async()->Recommend(&call->context, &call->recommend, &call->recommend_response, done);
    }
  }
  // Waits until every StartCall has been answered.
  void AwaitOutstanding() {
    absl::MutexLock lock(&mu_);
    const auto none = [&] { return outstanding_ == 0; };
    mu_.Await(absl::Condition(&none));
  }

  // One event with `event_id` (so a repeated seed is a DUPLICATE, not a second event).
  grpc::Status SendFeedback(const std::string& user, const std::string& event_id,
                            absl::Duration deadline) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    v1::FeedbackRequest request;
    {
      absl::MutexLock lock(&mu_);  // the random stream
      request = FeedbackFor(user, 1);
    }
    request.mutable_events(0)->set_event_id(event_id);
    v1::FeedbackResponse response;
    return stub_->Feedback(&context, request, &response);
  }

  void Record(RequestKind kind, const grpc::Status& status, Clock::duration latency) {
    absl::MutexLock lock(&mu_);
    RecordLocked(kind, status, latency);
  }
  const WorkerStats& stats() const { return stats_; }  // once no call is in flight

 private:
  // One request and its answer.
  struct Call {
    RequestKind kind = kNumKinds;
    grpc::ClientContext context;
    v1::RecommendRequest recommend;
    v1::RecommendResponse recommend_response;
    v1::FeedbackRequest feedback;
    v1::FeedbackResponse feedback_response;
  };
  void Prepare(Call& call, absl::Duration deadline) {
    absl::MutexLock lock(&mu_);  // the random stream
    call.kind = static_cast<RequestKind>(kind_(rng_));
    call.context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    switch (call.kind) {
      case kUserRecommend:
      case kQueryRecommend:
        if (call.kind == kUserRecommend) {
          call.recommend.set_user_id(ZipfUser());
        } else {
          call.recommend.set_query(Query());
        }
        call.recommend.set_k(kRecommendK);
        call.recommend.set_strategy(workload_.strategy);
        break;
      case kFeedback:
        call.feedback = FeedbackFor(ZipfUser(), workload_.events_per_feedback);
        break;
      case kNumKinds:
        break;
    }
  }
  void Finish(const Call& call, const grpc::Status& status) {
    if (call.kind == kFeedback && status.ok()) {
      absl::MutexLock lock(&mu_);
      stats_.events_not_applied +=
          call.feedback_response.results_size() - call.feedback_response.applied();
    }
  }
  void RecordLocked(RequestKind kind, const grpc::Status& status, Clock::duration latency)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    KindStats& stats = stats_.kinds[kind];
    stats.latency.Record(latency);
    if (!status.ok()) ++stats.errors[status.error_code()];
  }

  std::string ZipfUser() {
    const double u = std::uniform_real_distribution<double>(0, 1)(rng_);
    const auto rank = std::lower_bound(workload_.user_cdf.begin(), workload_.user_cdf.end(), u) -
                      workload_.user_cdf.begin();
    return absl::StrCat(workload_.user_prefix,
                        std::min<int64_t>(rank, workload_.user_cdf.size() - 1) + 1);
  }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[std::uniform_int_distribution<size_t>(0, v.size() - 1)(rng_)];
  }
  std::string Query() {
    std::string query = Pick(workload_.words);
    const int n = std::uniform_int_distribution<int>(2, 3)(rng_);
    for (int i = 1; i < n; ++i) absl::StrAppend(&query, " ", Pick(workload_.words));
    return query;
  }
  v1::FeedbackRequest FeedbackFor(const std::string& user, int events) {
    v1::FeedbackRequest request;
    request.set_user_id(user);
    for (int i = 0; i < events; ++i) {
      v1::Event* event = request.add_events();
      event->set_item_id(Pick(workload_.item_ids));
      event->set_type(kEventTypes[std::uniform_int_distribution<size_t>(0, 3)(rng_)]);
    }
    return request;
  }

  const Workload& workload_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<Recommender::Stub> stub_;
  absl::Mutex mu_;
  int outstanding_ ABSL_GUARDED_BY(mu_) = 0;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
  std::discrete_distribution<int> kind_;
  WorkerStats stats_ ABSL_GUARDED_BY(mu_);
};

struct RunOptions {
  bool open_loop = false;
  int concurrency = 8;
  double rate = 0;
  int max_outstanding = 10000;  // open loop, per sender
  absl::Duration warmup;
  absl::Duration duration;  // zero: no limit
  int64_t requests = 0;     // zero: no limit
  absl::Duration deadline;
};

// When the threads send and how many measured requests they may still send. Thread-safe.
class Schedule {
 public:
  Schedule(const RunOptions& options, Clock::time_point start)
      : start_(start),
        measure_start_(start + absl::ToChronoNanoseconds(options.warmup)),
        end_(options.duration > absl::ZeroDuration()
                 ? measure_start_ + absl::ToChronoNanoseconds(options.duration)
                 : Clock::time_point::max()),
        max_requests_(options.requests) {}

  Clock::time_point start() const { return start_; }
  Clock::time_point measure_start() const { return measure_start_; }
  Clock::time_point end() const { return end_; }
  // False once --requests measured requests were handed out.
  bool TakeMeasuredRequest() {
    return max_requests_ == 0 || issued_.fetch_add(1, std::memory_order_relaxed) < max_requests_;
  }

 private:
  const Clock::time_point start_, measure_start_, end_;
  const int64_t max_requests_;
  std::atomic<int64_t> issued_{0};
};

void RunClosedLoop(Caller& caller, Schedule& schedule, absl::Duration deadline) {
  for (;;) {
    const Clock::time_point sent = Clock::now();
    if (sent >= schedule.end()) return;
    const bool measured = sent >= schedule.measure_start();
    if (measured && !schedule.TakeMeasuredRequest()) return;
    const auto [kind, status] = caller.CallOnce(deadline);
    if (measured) caller.Record(kind, status, Clock::now() - sent);
  }
}

// Sender `index` owns every concurrency-th slot of one global schedule, so that the arrivals of all
// senders together are evenly spaced at `rate`.
void RunOpenLoop(Caller& caller, Schedule& schedule, const RunOptions& options, int index) {
  const int senders = options.concurrency;
  const auto slot_time = [&](int64_t slot) {
    return schedule.start() +
           std::chrono::nanoseconds(static_cast<int64_t>(slot * 1e9 / options.rate));
  };
  // This sender's first slot at or after the warm-up.
  int64_t first_measured =
      static_cast<int64_t>(std::ceil(absl::ToDoubleSeconds(options.warmup) * options.rate));
  first_measured += ((index - first_measured) % senders + senders) % senders;
  for (int64_t slot = index;; slot += senders) {
    Clock::time_point intended = slot_time(slot);
    if (intended < schedule.measure_start() && Clock::now() >= schedule.measure_start()) {
      // The warm-up is over: its unsent backlog is dropped, not carried into the measurement.
      slot = first_measured;
      intended = slot_time(slot);
    }
    if (intended >= schedule.end()) break;
    std::this_thread::sleep_until(intended);
    // Fallen so far behind that the run is over: the backlog is not sent (as wrk2).
    if (Clock::now() >= schedule.end()) break;
    const bool measured = intended >= schedule.measure_start();
    if (measured && !schedule.TakeMeasuredRequest()) break;
    caller.StartCall(options.deadline, intended, measured, options.max_outstanding);
  }
  caller.AwaitOutstanding();  // bounded by --deadline
}

struct RunResult {
  WorkerStats stats;
  double measured_seconds = 0;
};

RunResult Run(const RunOptions& options, std::vector<std::unique_ptr<Caller>>& callers) {
  Schedule schedule(options, Clock::now());
  std::vector<std::thread> threads;
  for (int i = 0; i < options.concurrency; ++i) {
    threads.emplace_back([&, i] {
      if (options.open_loop) {
        RunOpenLoop(*callers[i], schedule, options, i);
      } else {
        RunClosedLoop(*callers[i], schedule, options.deadline);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  RunResult result;
  result.measured_seconds =
      std::chrono::duration<double>(Clock::now() - schedule.measure_start()).count();
  for (const auto& caller : callers) result.stats.Merge(caller->stats());
  return result;
}

absl::Status CheckServer(const std::string& target) {
  auto stub = Catalog::NewStub(NewChannel(target));
  grpc::ClientContext context;
  context.set_wait_for_ready(true);
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  v1::StatsResponse stats;
  const grpc::Status status = stub->Stats(&context, v1::StatsRequest(), &stats);
  if (!status.ok()) {
    return absl::UnavailableError(absl::StrCat("Catalog/Stats on ", target, ": ",
                                               CodeName(status.error_code()), ": ",
                                               status.error_message()));
  }
  std::printf("server %s: %lld items, %lld users, model %s\n", target.c_str(),
              static_cast<long long>(stats.items()), static_cast<long long>(stats.users()),
              stats.model().c_str());
  return absl::OkStatus();
}

absl::Status UpsertItems(const std::string& target, const Workload& workload) {
  auto stub = Catalog::NewStub(NewChannel(target));
  int created = 0, updated = 0, unchanged = 0;
  for (size_t begin = 0; begin < workload.items.size(); begin += kUpsertBatch) {
    v1::UpsertItemsRequest request;
    const size_t end = std::min(workload.items.size(), begin + kUpsertBatch);
    for (size_t i = begin; i < end; ++i) *request.add_items() = workload.items[i];
    grpc::ClientContext context;
    // Upserts embed up to 256 texts: they get far longer than a request's --deadline.
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Minutes(2)));
    v1::UpsertItemsResponse response;
    const grpc::Status status = stub->UpsertItems(&context, request, &response);
    if (!status.ok()) {
      return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                          absl::StrCat("UpsertItems of items ", begin, "..", end - 1, ": ",
                                       status.error_message()));
    }
    created += response.created();
    updated += response.updated();
    unchanged += response.unchanged();
  }
  std::printf("upserted %zu items: %d created, %d updated, %d unchanged\n", workload.items.size(),
              created, updated, unchanged);
  return absl::OkStatus();
}

// `events` Feedback events, one per call, for users u1, u2, ... in turn, spread over the callers.
absl::Status SeedFeedback(std::vector<std::unique_ptr<Caller>>& callers, int64_t events, int users,
                          const std::string& prefix, absl::Duration deadline) {
  std::atomic<int64_t> next{0}, failed{0};
  std::vector<std::thread> threads;
  for (auto& caller : callers) {
    threads.emplace_back([&, c = caller.get()] {
      for (int64_t i; (i = next.fetch_add(1)) < events;) {
        const std::string user = absl::StrCat(prefix, i % users + 1);
        if (!c->SendFeedback(user, absl::StrCat("seed-", user, "-", i / users), deadline).ok()) {
          ++failed;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  if (failed > 0) {
    return absl::UnavailableError(
        absl::StrCat(failed.load(), " of ", events, " seed Feedback calls failed"));
  }
  std::printf("seeded %lld feedback events\n", static_cast<long long>(events));
  return absl::OkStatus();
}

std::string ErrorsText(const KindStats& stats) {
  if (stats.errors.empty()) return "-";
  std::vector<std::string> parts;
  for (const auto& [code, n] : stats.errors) parts.push_back(absl::StrCat(CodeName(code), ":", n));
  return absl::StrJoin(parts, " ");
}

void PrintRow(const std::string& name, const KindStats& stats, double seconds) {
  const LatencyHistogram& h = stats.latency;
  std::printf("%-10s %9lld %10.1f %9.3f %9.3f %9.3f %9.3f %9.3f  %s\n", name.c_str(),
              static_cast<long long>(h.count()), h.count() / seconds, h.PercentileMs(0.5),
              h.PercentileMs(0.9), h.PercentileMs(0.99), h.PercentileMs(0.999), h.MaxMs(),
              ErrorsText(stats).c_str());
}

KindStats Overall(const WorkerStats& stats) {
  KindStats overall;
  for (const KindStats& kind : stats.kinds) overall.Merge(kind);
  return overall;
}

void PrintReport(const RunOptions& options, const RunResult& result) {
  const KindStats overall = Overall(result.stats);
  const double seconds = result.measured_seconds;
  if (options.open_loop) {
    std::printf(
        "\nopen loop: %.1f req/s scheduled over %d senders, %.1f req/s achieved, %.2f s measured "
        "after %s warm-up; latency from intended send time\n",
        options.rate, options.concurrency, overall.latency.count() / seconds, seconds,
        absl::FormatDuration(options.warmup).c_str());
  } else {
    std::printf("\nclosed loop: %d callers, %.2f s measured after %s warm-up\n",
                options.concurrency, seconds, absl::FormatDuration(options.warmup).c_str());
  }
  std::printf("%-10s %9s %10s %9s %9s %9s %9s %9s  %s\n", "rpc", "count", "req/s", "p50 ms",
              "p90 ms", "p99 ms", "p99.9 ms", "max ms", "errors");
  for (int k = 0; k < kNumKinds; ++k) {
    if (result.stats.kinds[k].latency.count() > 0) {
      PrintRow(kKindNames[k], result.stats.kinds[k], seconds);
    }
  }
  PrintRow("overall", overall, seconds);
  if (result.stats.events_not_applied > 0) {
    std::printf(
        "note: %lld feedback events answered but not applied (item not in the server's "
        "catalog? see --upsert_items)\n",
        static_cast<long long>(result.stats.events_not_applied));
  }
  if (options.open_loop && overall.latency.count() < 0.95 * options.rate * seconds &&
      options.requests == 0) {
    std::printf(
        "note: the senders fell behind the schedule: the server is saturated at this "
        "rate, or --concurrency is too low for rate x latency\n");
  }
  std::fflush(stdout);
}

nlohmann::ordered_json KindJson(const KindStats& stats, double seconds) {
  const LatencyHistogram& h = stats.latency;
  nlohmann::ordered_json errors = nlohmann::ordered_json::object();
  for (const auto& [code, n] : stats.errors) errors[CodeName(code)] = n;
  return {{"count", h.count()},
          {"errors_total", stats.ErrorCount()},
          {"throughput_rps", h.count() / seconds},
          {"latency_ms",
           {{"p50", h.PercentileMs(0.5)},
            {"p90", h.PercentileMs(0.9)},
            {"p99", h.PercentileMs(0.99)},
            {"p99.9", h.PercentileMs(0.999)},
            {"max", h.MaxMs()}}},
          {"errors", errors}};
}

absl::Status WriteJson(const std::string& path, const std::string& target,
                       const RunOptions& options, const RunResult& result) {
  const double seconds = result.measured_seconds;
  nlohmann::ordered_json json = {{"target", target},
                                 {"mode", options.open_loop ? "open" : "closed"},
                                 {"concurrency", options.concurrency},
                                 {"rate", options.open_loop ? nlohmann::ordered_json(options.rate)
                                                            : nlohmann::ordered_json(nullptr)},
                                 {"warmup_seconds", absl::ToDoubleSeconds(options.warmup)},
                                 {"measured_seconds", seconds},
                                 {"feedback_events_not_applied", result.stats.events_not_applied}};
  nlohmann::ordered_json kinds = nlohmann::ordered_json::object();
  for (int k = 0; k < kNumKinds; ++k)
    kinds[kKindNames[k]] = KindJson(result.stats.kinds[k], seconds);
  json["rpcs"] = kinds;
  json["overall"] = KindJson(Overall(result.stats), seconds);
  std::ofstream out(path);
  out << json.dump(2) << "\n";
  out.close();
  if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

absl::Status Main() {
  const std::string target = absl::GetFlag(FLAGS_target);
  const std::string mode = absl::GetFlag(FLAGS_mode);
  RunOptions options;
  options.open_loop = mode == "open";
  options.concurrency = absl::GetFlag(FLAGS_concurrency);
  options.rate = absl::GetFlag(FLAGS_rate);
  options.warmup = absl::GetFlag(FLAGS_warmup);
  options.duration = absl::GetFlag(FLAGS_duration);
  options.requests = absl::GetFlag(FLAGS_requests);
  options.deadline = absl::GetFlag(FLAGS_deadline);
  options.max_outstanding = absl::GetFlag(FLAGS_max_outstanding);
  Workload workload;
  workload.mix = {absl::GetFlag(FLAGS_recommend), absl::GetFlag(FLAGS_feedback),
                  absl::GetFlag(FLAGS_query)};
  workload.events_per_feedback = absl::GetFlag(FLAGS_events_per_feedback);
  const int users = absl::GetFlag(FLAGS_users);
  const double zipf = absl::GetFlag(FLAGS_zipf);
  const int64_t seed_events = absl::GetFlag(FLAGS_seed_feedback);

  auto invalid = [](const std::string& message) { return absl::InvalidArgumentError(message); };
  if (mode != "open" && mode != "closed") return invalid("--mode must be closed or open");
  if (options.concurrency < 1) return invalid("--concurrency must be at least 1");
  if (options.open_loop && !(options.rate > 0)) return invalid("--rate must be positive");
  if (options.duration < absl::ZeroDuration() || options.requests < 0 ||
      options.warmup < absl::ZeroDuration() || seed_events < 0) {
    return invalid("--duration, --requests, --warmup and --seed_feedback cannot be negative");
  }
  if (options.duration == absl::ZeroDuration() && options.requests == 0) {
    return invalid("--duration=0 needs --requests: the run must stop by itself");
  }
  if (options.deadline <= absl::ZeroDuration()) return invalid("--deadline must be positive");
  if (options.max_outstanding < 1) return invalid("--max_outstanding must be at least 1");
  double mix_sum = 0;
  for (const double w : workload.mix) {
    if (!(w >= 0)) return invalid("--recommend, --feedback and --query cannot be negative");
    mix_sum += w;
  }
  if (!(mix_sum > 0)) return invalid("--recommend + --feedback + --query must be positive");
  if (users < 1) return invalid("--users must be at least 1");
  if (!(zipf >= 0)) return invalid("--zipf cannot be negative");
  if (workload.events_per_feedback < 1 || workload.events_per_feedback > 1000) {
    return invalid("--events_per_feedback must be in 1..1000");
  }
  workload.user_prefix = absl::GetFlag(FLAGS_user_prefix);
  if (workload.user_prefix.empty()) return invalid("--user_prefix cannot be empty");
  if (!v1::Strategy_Parse(absl::GetFlag(FLAGS_strategy), &workload.strategy) ||
      workload.strategy == v1::STRATEGY_UNSPECIFIED) {
    return invalid("--strategy must be HYBRID, CONTENT, COLLABORATIVE or POPULAR");
  }
  if (absl::Status s = LoadItems(absl::GetFlag(FLAGS_items_file), workload); !s.ok()) return s;
  workload.user_cdf = ZipfCdf(users, zipf);

  if (absl::Status s = CheckServer(target); !s.ok()) return s;
  if (absl::GetFlag(FLAGS_upsert_items)) {
    if (absl::Status s = UpsertItems(target, workload); !s.ok()) return s;
  }
  std::vector<std::unique_ptr<Caller>> callers;
  for (int i = 0; i < options.concurrency; ++i) {
    callers.push_back(std::make_unique<Caller>(workload, target, /*seed=*/0x5e3ec + i));
    if (!callers.back()->WaitForConnected(absl::Seconds(10))) {
      return absl::UnavailableError(absl::StrCat("cannot connect to ", target));
    }
  }
  if (seed_events > 0) {
    if (absl::Status s =
            SeedFeedback(callers, seed_events, users, workload.user_prefix, options.deadline);
        !s.ok()) {
      return s;
    }
  }

  const RunResult result = Run(options, callers);
  PrintReport(options, result);
  if (const std::string path = absl::GetFlag(FLAGS_json_out); !path.empty()) {
    if (absl::Status s = WriteJson(path, target, options, result); !s.ok()) return s;
  }
  const KindStats overall = Overall(result.stats);
  if (overall.latency.count() == overall.ErrorCount()) {
    return absl::UnavailableError(overall.latency.count() == 0 ? "no request was measured"
                                                               : "every request failed");
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace semrec

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "semrec-load: closed or open loop load on a semrec server, latency percentiles per RPC.\n"
      "  semrec-load --target=127.0.0.1:50051 --mode=closed --concurrency=8 --duration=10s");
  absl::ParseCommandLine(argc, argv);
  const absl::Status status = semrec::Main();
  if (!status.ok()) {
    std::fprintf(stderr, "semrec-load: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
