// What the `semrec` CLI's commands share: a progress bar with rate and ETA, text tables, the
// JSONL event reader, and the two bulk loaders (items in batches, events replayed per user in
// order with several Feedback calls in flight) used by `import` and `eval`.
//
//   ASSIGN_OR_RETURN(std::vector<UserEvent> events, ReadEventsJsonl("events.jsonl"));
//   ReplaySummary replay = ReplayEvents(client, std::move(events), {.batch = 500, .parallel = 4});
//   if (!replay.first_error.ok()) ...
//
// Thread-safe: Progress may be updated from several threads; the rest are functions.
#ifndef SEMREC_CLIENT_CLI_SUPPORT_H_
#define SEMREC_CLIENT_CLI_SUPPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/semrec_client.h"
#include "core/catalog/item_catalog.h"

namespace semrec {

// "42s", "3m07s", "1h05m"; "?" for a negative duration.
std::string FormatSeconds(double seconds);

// Terminal columns of UTF-8 text (one per code point: good enough for titles).
size_t Utf8Width(const std::string& s);

// A left-aligned text table on stdout with columns as wide as their widest cell.
void PrintTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows);

// Progress on stderr: a bar redrawn in place on a terminal, else one line per 10%.
class Progress {
 public:
  Progress(std::string unit, int64_t total);

  void Add(int64_t n);
  // Ends the bar's line; call once, after the last Add.
  void Finish();
  double seconds() const { return absl::ToDoubleSeconds(absl::Now() - start_); }

 private:
  void DrawLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string unit_;
  const int64_t total_;
  const bool tty_;
  const absl::Time start_ = absl::Now();
  absl::Mutex mu_;
  int64_t done_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_draw_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int tenths_drawn_ ABSL_GUARDED_BY(mu_) = 0;
};

// Errors about one request (bad input, unknown id); anything else (server unreachable,
// deadline...) means the server cannot take more calls.
bool IsRequestError(absl::StatusCode code);

// Event type by name, case-insensitive; UNSPECIFIED is not a valid name.
absl::StatusOr<v1::EventType> ParseEventType(const std::string& name);

struct UserEvent {
  std::string user_id;
  v1::Event event;
};

// One {"user_id","item_id","type","value","ts"[,"event_id","text"]} object per line, ts in
// seconds, ids as strings or integers. Reads the whole file, so that a malformed line (reported
// as INVALID_ARGUMENT with file:line) stops a caller before anything is sent; NOT_FOUND for a
// missing file.
absl::StatusOr<std::vector<UserEvent>> ReadEventsJsonl(const std::string& path);

struct UpsertSummary {
  int64_t items = 0;
  int64_t created = 0;
  int64_t updated = 0;
  int64_t unchanged = 0;
  double seconds = 0;
};

// UpsertItems in batches of `batch` (1..1000) with a progress bar. Stops at the first failed
// call, with an error naming the batch and how many items went in before it.
absl::StatusOr<UpsertSummary> UpsertItemsInBatches(const SemrecClient& client,
                                                   std::vector<Item> items, int batch);

// The same for a catalog file, streamed: records (with their precomputed embeddings, if any) are
// read and converted while the previous call is in flight, so a million-line file is never held
// in memory. A malformed line stops the import there; the error says how many items went in
// (importing the fixed file again is cheap: unchanged items are skipped by the server).
// `items_per_second` > 0 paces the calls (a batch starts no earlier than its share of the time).
absl::StatusOr<UpsertSummary> UpsertItemsFromFile(const SemrecClient& client,
                                                  const std::string& path, int batch,
                                                  double items_per_second = 0);

struct ReplayOptions {
  int batch = 500;              // events per Feedback call, 1..1000
  int parallel = 4;             // Feedback calls in flight, 1..64
  std::string unit = "events";  // progress bar label
};

struct ReplaySummary {
  int64_t events = 0;  // given
  int64_t calls = 0;
  int64_t applied = 0;
  int64_t item_not_found = 0;
  int64_t duplicates = 0;
  int64_t errors = 0;  // events in failed calls
  double seconds = 0;
  // The first failed call (naming its user), OK when none failed.
  absl::Status first_error;
  int64_t failed_calls = 0;
  // True when a failure that was not about one request stopped the replay early.
  bool stopped = false;

  int64_t sent() const { return applied + item_not_found + duplicates + errors; }
};

// Sends `events` through Feedback as a backend would: consecutive events of one user, up to
// `batch`, make one call; users are split among `parallel` workers by hash, so each user's
// events arrive in the given order. A call failing for its own input is counted and the replay
// goes on; any other failure stops it.
ReplaySummary ReplayEvents(const SemrecClient& client, std::vector<UserEvent> events,
                           const ReplayOptions& options);

}  // namespace semrec

#endif  // SEMREC_CLIENT_CLI_SUPPORT_H_
