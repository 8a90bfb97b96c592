#include "client/cli_support.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <deque>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "core/catalog/catalog_io.h"
#include "core/common/status_macros.h"

namespace semrec {

std::string FormatSeconds(double seconds) {
  if (seconds < 0) return "?";
  const int64_t s = static_cast<int64_t>(seconds + 0.5);
  if (s < 60) return absl::StrCat(s, "s");
  if (s < 3600) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrFormat("%dh%02dm", s / 3600, (s % 3600) / 60);
}

size_t Utf8Width(const std::string& s) {
  return std::count_if(s.begin(), s.end(),
                       [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; });
}

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

// ---------------------------------------------------------------------------------------------
// Progress

Progress::Progress(std::string unit, int64_t total)
    : unit_(std::move(unit)), total_(total), tty_(isatty(STDERR_FILENO) == 1) {}

void Progress::Add(int64_t n) {
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

void Progress::Finish() {
  absl::MutexLock lock(&mu_);
  if (tty_) {
    DrawLocked(absl::Now());
    std::fputc('\n', stderr);
  }
}

void Progress::DrawLocked(absl::Time now) {
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

// ---------------------------------------------------------------------------------------------
// Events

bool IsRequestError(absl::StatusCode code) {
  return code == absl::StatusCode::kInvalidArgument || code == absl::StatusCode::kNotFound ||
         code == absl::StatusCode::kFailedPrecondition || code == absl::StatusCode::kOutOfRange ||
         code == absl::StatusCode::kAlreadyExists;
}

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

// ---------------------------------------------------------------------------------------------
// Bulk loaders

namespace {

void AddItem(Item&& item, std::vector<float>&& embedding, v1::UpsertItemsRequest& request) {
  v1::Item* out = request.add_items();
  out->set_id(std::move(item.id));
  out->set_text(std::move(item.text));
  for (std::string& c : item.categories) out->add_categories(std::move(c));
  out->mutable_attributes()->insert(item.attributes.begin(), item.attributes.end());
  out->mutable_embedding()->Add(embedding.begin(), embedding.end());
}

// Sends the requests `next` makes (an empty one ends it), building the next while the current
// call is in flight.
absl::StatusOr<UpsertSummary> SendUpserts(
    const SemrecClient& client, int64_t total, double items_per_second,
    const std::function<absl::StatusOr<v1::UpsertItemsRequest>()>& next) {
  UpsertSummary summary;
  Progress progress("items", total);
  absl::StatusOr<v1::UpsertItemsRequest> request = next();
  int64_t sent = 0;
  const absl::Time start = absl::Now();
  while (request.ok() && request->items_size() > 0) {
    if (items_per_second > 0)
      absl::SleepFor(start + absl::Seconds(sent / items_per_second) - absl::Now());
    std::future<absl::StatusOr<v1::UpsertItemsRequest>> following =
        std::async(std::launch::async, next);
    absl::StatusOr<v1::UpsertItemsResponse> response = client.UpsertItems(*request);
    if (!response.ok()) {
      following.wait();
      progress.Finish();
      return absl::Status(
          response.status().code(),
          absl::StrCat("items ", sent + 1, "..", sent + request->items_size(), " (first id '",
                       request->items(0).id(), "'): ", response.status().message(), "; ", sent,
                       " items were imported before them"));
    }
    summary.created += response->created();
    summary.updated += response->updated();
    summary.unchanged += response->unchanged();
    sent += request->items_size();
    progress.Add(request->items_size());
    request = following.get();
  }
  progress.Finish();
  if (!request.ok()) {
    return absl::Status(
        request.status().code(),
        absl::StrCat(request.status().message(), "; ", sent, " items were imported before it"));
  }
  summary.items = sent;
  summary.seconds = progress.seconds();
  return summary;
}

}  // namespace

absl::StatusOr<UpsertSummary> UpsertItemsInBatches(const SemrecClient& client,
                                                   std::vector<Item> items, int batch) {
  if (batch < 1 || batch > 1000) return absl::InvalidArgumentError("batch must be in 1..1000");
  size_t begin = 0;
  return SendUpserts(client, static_cast<int64_t>(items.size()), /*items_per_second=*/0,
                     [&]() -> absl::StatusOr<v1::UpsertItemsRequest> {
                       v1::UpsertItemsRequest request;
                       const size_t end = std::min(items.size(), begin + batch);
                       for (; begin < end; ++begin) AddItem(std::move(items[begin]), {}, request);
                       return request;
                     });
}

absl::StatusOr<UpsertSummary> UpsertItemsFromFile(const SemrecClient& client,
                                                  const std::string& path, int batch,
                                                  double items_per_second) {
  if (batch < 1 || batch > 1000) return absl::InvalidArgumentError("batch must be in 1..1000");
  ASSIGN_OR_RETURN(const int64_t lines, CountRecordLines(path));
  ASSIGN_OR_RETURN(CatalogReader reader, CatalogReader::Open(path));
  return SendUpserts(client, lines, items_per_second,
                     [&]() -> absl::StatusOr<v1::UpsertItemsRequest> {
                       ASSIGN_OR_RETURN(std::vector<CatalogRecord> records, reader.Next(batch));
                       v1::UpsertItemsRequest request;
                       for (CatalogRecord& r : records)
                         AddItem(std::move(r.item), std::move(r.embedding), request);
                       return request;
                     });
}

namespace {

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

}  // namespace

ReplaySummary ReplayEvents(const SemrecClient& client, std::vector<UserEvent> events,
                           const ReplayOptions& options) {
  const int batch = std::clamp(options.batch, 1, 1000);
  const int parallel = std::clamp(options.parallel, 1, 64);
  ReplaySummary summary;
  summary.events = static_cast<int64_t>(events.size());
  Progress progress(options.unit, summary.events);
  std::atomic<int64_t> calls{0}, applied{0}, item_not_found{0}, duplicates{0}, errors{0};
  std::atomic<bool> stop{false};
  absl::Mutex error_mu;
  absl::Status first_error;  // guarded by error_mu
  int64_t failed_calls = 0;  // guarded by error_mu

  // Worker w owns the users that hash to w: its FIFO keeps each user's events in order.
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
        absl::StatusOr<v1::FeedbackResponse> response = client.Feedback(request);
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
          if (++failed_calls == 1) {
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
  for (UserEvent& e : events) {
    if (stop.load()) break;
    if (request.user_id() != e.user_id || request.events_size() >= batch) flush();
    request.set_user_id(e.user_id);
    *request.add_events() = std::move(e.event);
  }
  flush();
  for (auto& q : queues) q->Close();
  for (auto& t : workers) t.join();
  progress.Finish();

  summary.calls = calls.load();
  summary.applied = applied.load();
  summary.item_not_found = item_not_found.load();
  summary.duplicates = duplicates.load();
  summary.errors = errors.load();
  summary.seconds = progress.seconds();
  summary.stopped = stop.load();
  absl::MutexLock lock(&error_mu);
  summary.first_error = first_error;
  summary.failed_calls = failed_calls;
  return summary;
}

}  // namespace semrec
