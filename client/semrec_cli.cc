// semrec: the command-line client of a semrec server. Bulk imports of items and events with a
// progress bar, and one command per RPC for operators. Human-readable output by default, one JSON
// object per response with --json. Exit status: 0 ok, 1 the call failed, 2 usage error.
#include <google/protobuf/util/json_util.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <deque>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
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
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/semrec_client.h"
#include "core/catalog/catalog_io.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "Server address host:port");
ABSL_FLAG(bool, json, false, "Print responses as JSON (one object per line)");
ABSL_FLAG(absl::Duration, deadline, absl::Seconds(5), "Deadline of each call, retries included");
ABSL_FLAG(int, batch, 0, "import: items per UpsertItems (256) or events per Feedback (500)");
ABSL_FLAG(int, parallel, 4,
          "import events: Feedback calls in flight; users are split among them, each user's "
          "events stay in file order (1 = strictly sequential)");
ABSL_FLAG(std::string, user, "", "recommend: user id");
ABSL_FLAG(std::string, query, "", "recommend: query text");
ABSL_FLAG(std::vector<std::string>, context, {}, "recommend: context item ids, comma-separated");
ABSL_FLAG(int, k, 10, "Number of items (recommend, similar; user: nearest items)");
ABSL_FLAG(bool, explain, false, "recommend, similar: explain each item");
ABSL_FLAG(double, diversity, 0, "recommend: 0..1, MMR diversity");
ABSL_FLAG(double, novelty, 0, "recommend: 0..1, preference for less popular items");
ABSL_FLAG(std::vector<std::string>, include_categories, {},
          "recommend, similar: keep only items in one of these categories");
ABSL_FLAG(std::vector<std::string>, exclude_categories, {},
          "recommend, similar: drop items in any of these categories");
ABSL_FLAG(bool, include_seen, false, "recommend: keep items the user already interacted with");
ABSL_FLAG(double, value, 0, "feedback: event value (the rating for RATING)");
ABSL_FLAG(std::string, text, "", "feedback: event text (the query for SEARCH)");
ABSL_FLAG(std::string, event_id, "", "feedback: idempotency key (makes the call retryable)");
ABSL_FLAG(bool, tokens, false, "embed: print the tokens fed to the model");

namespace semrec {
namespace {

constexpr char kUsage[] =
    R"(usage: semrec [--target=host:port] [--json] [--deadline=5s] <command> [args] [flags]

commands:
  import items FILE.jsonl [--batch=256]
      upsert a catalog: one {"id","text","categories","attributes"} object per line
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

// Terminal columns of UTF-8 text (one per code point: good enough for titles).
size_t Utf8Width(const std::string& s) {
  return std::count_if(s.begin(), s.end(),
                       [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; });
}

std::string Utf8Truncate(const std::string& s, size_t max_width) {
  if (Utf8Width(s) <= max_width) return s;
  size_t width = 0, i = 0;
  for (; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80 && ++width > max_width - 3) break;
  }
  return s.substr(0, i) + "...";
}

// A left-aligned text table with columns as wide as their widest cell.
void PrintTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths(header.size());
  for (size_t c = 0; c < header.size(); ++c) widths[c] = Utf8Width(header[c]);
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], Utf8Width(row[c]));
  }
  auto print_row = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line.append(widths[c] - Utf8Width(row[c]) + 2, ' ');
    }
    std::printf("%s\n", line.c_str());
  };
  print_row(header);
  for (const auto& row : rows) print_row(row);
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

std::string FormatSeconds(double seconds) {
  if (seconds < 0) return "?";
  const int64_t s = static_cast<int64_t>(seconds + 0.5);
  if (s < 60) return absl::StrCat(s, "s");
  if (s < 3600) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrFormat("%dh%02dm", s / 3600, (s % 3600) / 60);
}

// ---------------------------------------------------------------------------------------------
// Progress on stderr: a bar redrawn in place on a terminal, else one line per 10%.

class Progress {
 public:
  Progress(std::string unit, int64_t total)
      : unit_(std::move(unit)), total_(total), tty_(isatty(STDERR_FILENO) == 1) {}

  // Thread-safe.
  void Add(int64_t n) {
    absl::MutexLock lock(&mu_);
    done_ += n;
    const absl::Time now = absl::Now();
    if (tty_) {
      if (now - last_draw_ >= absl::Milliseconds(100) || done_ == total_) {
        last_draw_ = now;
        DrawLocked(now);
      }
    } else if (total_ > 0 && done_ * 10 / total_ > tenths_drawn_) {
      tenths_drawn_ = static_cast<int>(done_ * 10 / total_);
      DrawLocked(now);
    }
  }

  // Ends the bar's line; call once, after the last Add.
  void Finish() {
    absl::MutexLock lock(&mu_);
    if (tty_) {
      DrawLocked(absl::Now());
      std::fputc('\n', stderr);
    }
  }

  double seconds() const { return absl::ToDoubleSeconds(absl::Now() - start_); }

 private:
  void DrawLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const double elapsed = absl::ToDoubleSeconds(now - start_);
    const double rate = elapsed > 0 ? done_ / elapsed : 0;
    const double fraction = total_ > 0 ? static_cast<double>(done_) / total_ : 1;
    const std::string eta = rate > 0 ? FormatSeconds((total_ - done_) / rate) : "?";
    const std::string stats =
        absl::StrFormat("%3d%%  %d/%d %s  %.0f/s  ETA %s", static_cast<int>(fraction * 100), done_,
                        total_, unit_, rate, eta);
    if (tty_) {
      constexpr int kWidth = 30;
      const int filled = static_cast<int>(fraction * kWidth);
      std::fprintf(stderr, "\r[%s%s] %s\x1b[K", std::string(filled, '#').c_str(),
                   std::string(kWidth - filled, '.').c_str(), stats.c_str());
    } else {
      std::fprintf(stderr, "%s\n", stats.c_str());
    }
    std::fflush(stderr);
  }

  const std::string unit_;
  const int64_t total_;
  const bool tty_;
  const absl::Time start_ = absl::Now();
  absl::Mutex mu_;
  int64_t done_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_draw_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int tenths_drawn_ ABSL_GUARDED_BY(mu_) = 0;
};

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
  absl::StatusOr<std::vector<Item>> items = ReadItemsJsonl(cmd.args[0]);
  if (!items.ok()) return Failed(items.status());

  Progress progress("items", static_cast<int64_t>(items->size()));
  int64_t created = 0, updated = 0, unchanged = 0;
  for (size_t begin = 0; begin < items->size(); begin += batch) {
    const size_t end = std::min(items->size(), begin + batch);
    v1::UpsertItemsRequest request;
    for (size_t i = begin; i < end; ++i) {
      Item& item = (*items)[i];
      v1::Item* out = request.add_items();
      out->set_id(std::move(item.id));
      out->set_text(std::move(item.text));
      for (std::string& c : item.categories) out->add_categories(std::move(c));
      out->mutable_attributes()->insert(item.attributes.begin(), item.attributes.end());
    }
    absl::StatusOr<v1::UpsertItemsResponse> response = cmd.client.UpsertItems(request);
    if (!response.ok()) {
      progress.Finish();
      return Failed(absl::Status(
          response.status().code(),
          absl::StrCat("items ", begin + 1, "..", end, " of ", items->size(), " (first id '",
                       request.items(0).id(), "'): ", response.status().message(), "; ", begin,
                       " items were imported before them")));
    }
    created += response->created();
    updated += response->updated();
    unchanged += response->unchanged();
    progress.Add(static_cast<int64_t>(end - begin));
  }
  progress.Finish();
  const double seconds = progress.seconds();
  const double rate = seconds > 0 ? items->size() / seconds : 0;
  if (cmd.json) {
    PrintJson(nlohmann::json{{"items", items->size()},
                             {"created", created},
                             {"updated", updated},
                             {"unchanged", unchanged},
                             {"seconds", seconds},
                             {"items_per_second", rate}});
  } else {
    std::printf(
        "imported %zu items in %.2f s (%.0f items/s): %lld created, %lld updated, %lld "
        "unchanged\n",
        items->size(), seconds, rate, static_cast<long long>(created),
        static_cast<long long>(updated), static_cast<long long>(unchanged));
  }
  return kExitOk;
}

// Event type by name, case-insensitive; UNSPECIFIED is not a valid name.
absl::StatusOr<v1::EventType> ParseEventType(const std::string& name) {
  v1::EventType type;
  if (v1::EventType_Parse(absl::AsciiStrToUpper(name), &type) &&
      type != v1::EVENT_TYPE_UNSPECIFIED) {
    return type;
  }
  std::vector<std::string> valid;
  const auto* descriptor = v1::EventType_descriptor();
  for (int i = 0; i < descriptor->value_count(); ++i) {
    if (descriptor->value(i)->number() != v1::EVENT_TYPE_UNSPECIFIED) {
      valid.push_back(descriptor->value(i)->name());
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown event type '", name, "'; valid types: ", absl::StrJoin(valid, ", ")));
}

struct UserEvent {
  std::string user_id;
  v1::Event event;
};

// Reads the whole file first, so that a malformed line stops the import before anything is sent.
absl::StatusOr<std::vector<UserEvent>> ReadEventsJsonl(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open events file ", path));
  std::vector<UserEvent> events;
  std::string line;
  for (int line_no = 1; std::getline(in, line); ++line_no) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto bad = [&](const std::string& why) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", line_no, ": ", why));
    };
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
    // Ids may be written as JSON strings or integers.
    auto id = [&](const char* key, std::string* out) {
      auto it = j.find(key);
      if (it == j.end()) return true;
      if (it->is_string()) {
        *out = it->get<std::string>();
      } else if (it->is_number_integer()) {
        *out = it->dump();
      } else {
        return false;
      }
      return true;
    };
    auto text = [&](const char* key, std::string* out) {
      auto it = j.find(key);
      if (it == j.end()) return true;
      if (!it->is_string()) return false;
      *out = it->get<std::string>();
      return true;
    };
    UserEvent e;
    if (!id("user_id", &e.user_id) || e.user_id.empty()) return bad("\"user_id\" is required");
    if (!id("item_id", e.event.mutable_item_id())) return bad("\"item_id\" must be a string");
    if (!text("event_id", e.event.mutable_event_id())) return bad("\"event_id\" must be a string");
    if (!text("text", e.event.mutable_text())) return bad("\"text\" must be a string");
    auto type = j.find("type");
    if (type == j.end() || !type->is_string()) return bad("\"type\" must be an event type name");
    absl::StatusOr<v1::EventType> parsed = ParseEventType(type->get<std::string>());
    if (!parsed.ok()) return bad(std::string(parsed.status().message()));
    e.event.set_type(*parsed);
    if (auto v = j.find("value"); v != j.end()) {
      if (!v->is_number()) return bad("\"value\" must be a number");
      e.event.set_value(v->get<float>());
    }
    if (auto ts = j.find("ts"); ts != j.end()) {
      if (!ts->is_number()) return bad("\"ts\" must be seconds since the epoch");
      const double seconds = ts->get<double>();
      const int64_t whole = static_cast<int64_t>(std::floor(seconds));
      e.event.mutable_timestamp()->set_seconds(whole);
      e.event.mutable_timestamp()->set_nanos(static_cast<int32_t>((seconds - whole) * 1e9));
    }
    events.push_back(std::move(e));
  }
  return events;
}

// A bounded FIFO of Feedback calls for one worker.
class RequestQueue {
 public:
  explicit RequestQueue(size_t capacity) : capacity_(capacity) {}

  void Push(v1::FeedbackRequest request) {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](RequestQueue* q)
             ABSL_NO_THREAD_SAFETY_ANALYSIS { return q->queue_.size() < q->capacity_; },
        this));
    queue_.push_back(std::move(request));
  }
  // No more requests will be pushed.
  void Close() {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }
  // False when closed and drained.
  bool Pop(v1::FeedbackRequest* request) {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](RequestQueue* q)
             ABSL_NO_THREAD_SAFETY_ANALYSIS { return q->closed_ || !q->queue_.empty(); },
        this));
    if (queue_.empty()) return false;
    *request = std::move(queue_.front());
    queue_.pop_front();
    return true;
  }

 private:
  const size_t capacity_;
  absl::Mutex mu_;
  std::deque<v1::FeedbackRequest> queue_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

// Errors about one request; anything else (server unreachable, deadline...) stops the import.
bool IsRequestError(absl::StatusCode code) {
  return code == absl::StatusCode::kInvalidArgument || code == absl::StatusCode::kNotFound ||
         code == absl::StatusCode::kFailedPrecondition || code == absl::StatusCode::kOutOfRange ||
         code == absl::StatusCode::kAlreadyExists;
}

int ImportEvents(const Command& cmd) {
  if (cmd.args.size() != 1) return UsageError("import events takes one FILE.jsonl");
  const int batch = BatchSize(500);
  if (batch < 1 || batch > 1000) return UsageError("--batch must be in 1..1000");
  const int parallel = absl::GetFlag(FLAGS_parallel);
  if (parallel < 1 || parallel > 64) return UsageError("--parallel must be in 1..64");
  absl::StatusOr<std::vector<UserEvent>> events = ReadEventsJsonl(cmd.args[0]);
  if (!events.ok()) return Failed(events.status());

  Progress progress("events", static_cast<int64_t>(events->size()));
  std::atomic<int64_t> calls{0}, applied{0}, item_not_found{0}, duplicates{0}, errors{0};
  std::atomic<bool> stop{false};
  absl::Mutex error_mu;
  absl::Status first_error;  // guarded by error_mu
  int64_t error_calls = 0;   // guarded by error_mu

  // Worker w owns the users that hash to w: its FIFO keeps each user's events in file order.
  std::vector<std::unique_ptr<RequestQueue>> queues;
  std::vector<std::thread> workers;
  for (int w = 0; w < parallel; ++w) {
    queues.push_back(std::make_unique<RequestQueue>(16));
    workers.emplace_back([&, queue = queues.back().get()] {
      v1::FeedbackRequest request;
      while (queue->Pop(&request)) {
        const int n = request.events_size();
        if (stop.load()) {
          progress.Add(n);
          continue;
        }
        absl::StatusOr<v1::FeedbackResponse> response = cmd.client.Feedback(request);
        calls.fetch_add(1);
        if (response.ok()) {
          for (const v1::EventResult& r : response->results()) {
            if (r.outcome() == v1::APPLIED) applied.fetch_add(1);
            if (r.outcome() == v1::ITEM_NOT_FOUND) item_not_found.fetch_add(1);
            if (r.outcome() == v1::DUPLICATE) duplicates.fetch_add(1);
          }
        } else {
          errors.fetch_add(n);
          absl::MutexLock lock(&error_mu);
          if (++error_calls == 1) {
            first_error = absl::Status(
                response.status().code(),
                absl::StrCat("user ", request.user_id(), ": ", response.status().message()));
          }
          if (!IsRequestError(response.status().code())) stop.store(true);
        }
        progress.Add(n);
      }
    });
  }

  // Consecutive events of one user, up to `batch`, make one call.
  const std::hash<std::string> hash;
  v1::FeedbackRequest request;
  auto flush = [&] {
    if (request.events_size() == 0) return;
    queues[hash(request.user_id()) % parallel]->Push(std::move(request));
    request = v1::FeedbackRequest();
  };
  for (UserEvent& e : *events) {
    if (stop.load()) break;
    if (request.user_id() != e.user_id || request.events_size() >= batch) flush();
    request.set_user_id(e.user_id);
    *request.add_events() = std::move(e.event);
  }
  flush();
  for (auto& q : queues) q->Close();
  for (auto& t : workers) t.join();
  progress.Finish();

  const int64_t sent = applied + item_not_found + duplicates + errors;
  const double seconds = progress.seconds();
  const double rate = seconds > 0 ? sent / seconds : 0;
  if (cmd.json) {
    PrintJson(nlohmann::json{{"events", events->size()},
                             {"calls", calls.load()},
                             {"applied", applied.load()},
                             {"item_not_found", item_not_found.load()},
                             {"duplicates", duplicates.load()},
                             {"errors", errors.load()},
                             {"seconds", seconds},
                             {"events_per_second", rate}});
  } else {
    std::printf(
        "replayed %lld of %zu events in %lld calls, %.2f s (%.0f events/s): %lld applied, "
        "%lld item not found, %lld duplicates, %lld errors\n",
        static_cast<long long>(sent), events->size(), static_cast<long long>(calls.load()), seconds,
        rate, static_cast<long long>(applied.load()), static_cast<long long>(item_not_found.load()),
        static_cast<long long>(duplicates.load()), static_cast<long long>(errors.load()));
  }
  absl::MutexLock lock(&error_mu);
  if (first_error.ok()) return kExitOk;
  return Failed(absl::Status(
      first_error.code(),
      absl::StrCat(
          first_error.message(),
          error_calls > 1 ? absl::StrCat(" (and ", error_calls - 1, " more failed calls)") : "",
          stop.load() ? "; import stopped" : "")));
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
  absl::StatusOr<v1::RecommendResponse> response = cmd.client.Recommend(request);
  if (!response.ok()) return Failed(response.status());
  if (cmd.json) {
    PrintJson(*response);
  } else {
    PrintScoredItems(response->items(), request.explain());
  }
  return kExitOk;
}

int Similar(const Command& cmd) {
  if (cmd.args.size() != 1) return UsageError("similar takes one ITEM_ID");
  v1::SimilarItemsRequest request;
  request.set_item_id(cmd.args[0]);
  request.set_k(absl::GetFlag(FLAGS_k));
  SetFilter(request.mutable_filter());
  request.set_explain(absl::GetFlag(FLAGS_explain));
  request.set_include_items(true);
  absl::StatusOr<v1::RecommendResponse> response = cmd.client.SimilarItems(request);
  if (!response.ok()) return Failed(response.status());
  if (cmd.json) {
    PrintJson(*response);
  } else {
    PrintScoredItems(response->items(), request.explain());
  }
  return kExitOk;
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
