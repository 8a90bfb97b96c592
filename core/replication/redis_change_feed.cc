#include "core/replication/redis_change_feed.h"

#include <cstdio>
#include <fstream>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/common/logger.h"
#include "core/common/status_macros.h"
#include "core/storage/byte_codec.h"
#include "core/storage/record_file.h"
#include "spdlog/spdlog.h"

namespace semrec {
namespace {

std::shared_ptr<spdlog::logger> Logger() {
  static const std::shared_ptr<spdlog::logger> logger = ModuleLogger("replication");
  return logger;
}

constexpr uint8_t kManifestFormat = 1;
constexpr absl::Duration kContinuityCheckInterval = absl::Seconds(5);

// The snapshot description stored at <prefix>:snapshot.
struct Manifest {
  struct File {
    std::string name;
    uint64_t size = 0;
    uint64_t chunks = 0;
  };
  FeedPosition position;
  std::string name;  // the published directory's name, recreated by Fetch
  std::vector<File> files;
  // The snapshot it replaced (kept until the next one replaces this): its chunks are deleted then.
  FeedPosition previous;
  std::vector<File> previous_files;
};

void PutFiles(const std::vector<Manifest::File>& files, BufferWriter& w) {
  w.PutVarint(files.size());
  for (const auto& f : files) {
    w.PutString(f.name);
    w.PutVarint(f.size);
    w.PutVarint(f.chunks);
  }
}

bool GetFiles(BufferReader& in, std::vector<Manifest::File>* files) {
  uint64_t n = 0;
  if (!in.GetCount(&n, 3)) return false;
  for (uint64_t i = 0; i < n; ++i) {
    Manifest::File f;
    if (!in.GetString(&f.name) || !in.GetVarint(&f.size) || !in.GetVarint(&f.chunks)) return false;
    files->push_back(std::move(f));
  }
  return true;
}

std::string EncodeManifest(const Manifest& m) {
  BufferWriter w;
  w.PutU8(kManifestFormat);
  w.PutString(m.position.ToString());
  w.PutString(m.name);
  PutFiles(m.files, w);
  w.PutString(m.previous.ToString());
  PutFiles(m.previous_files, w);
  return w.Release();
}

bool DecodeManifest(std::string_view value, Manifest* m) {
  BufferReader in(value);
  uint8_t format = 0;
  std::string position, previous;
  if (!in.GetU8(&format) || format != kManifestFormat || !in.GetString(&position) ||
      !in.GetString(&m->name) || m->name.empty() || m->name.find('/') != std::string::npos ||
      !GetFiles(in, &m->files) || !in.GetString(&previous) || !GetFiles(in, &m->previous_files) ||
      !in.done()) {
    return false;
  }
  auto p = FeedPosition::Parse(position);
  auto q = FeedPosition::Parse(previous);
  if (!p || !q) return false;
  m->position = *p;
  m->previous = *q;
  return true;
}

// A field of a flat field/value reply (XINFO STREAM).
const redisReply* Field(const RedisReply& r, std::string_view name) {
  for (size_t i = 0; i + 1 < r.size(); i += 2) {
    if (ReplyText(r.element(i)) == name) return r.element(i + 1);
  }
  return nullptr;
}

}  // namespace

std::optional<FeedPosition> FeedPosition::Parse(std::string_view text) {
  // Debian's Abseil has its own string_view: pass std::strings.
  const size_t dash = text.find('-');
  FeedPosition p;
  if (dash == std::string_view::npos) {
    if (!absl::SimpleAtoi(std::string(text), &p.ms)) return std::nullopt;
    return p;
  }
  if (!absl::SimpleAtoi(std::string(text.substr(0, dash)), &p.ms) ||
      !absl::SimpleAtoi(std::string(text.substr(dash + 1)), &p.seq)) {
    return std::nullopt;
  }
  return p;
}

std::string FeedPosition::ToString() const { return absl::StrCat(ms, "-", seq); }

absl::StatusOr<std::unique_ptr<RedisChangeFeed>> RedisChangeFeed::Create(
    std::shared_ptr<const RedisClient> client, std::string key_prefix) {
  if (key_prefix.empty() || key_prefix.find_first_of("{}") != std::string::npos) {
    return absl::InvalidArgumentError("the feed's key prefix must be non-empty and without braces");
  }
  return std::unique_ptr<RedisChangeFeed>(new RedisChangeFeed(std::move(client), std::move(key_prefix)));
}

RedisChangeFeed::RedisChangeFeed(std::shared_ptr<const RedisClient> client, std::string key_prefix)
    : client_(std::move(client)),
      prefix_(std::move(key_prefix)),
      stream_key_(prefix_ + ":feed"),
      manifest_key_(prefix_ + ":snapshot"),
      lease_key_(prefix_ + ":snapshot:lease") {}

absl::StatusOr<FeedPosition> RedisChangeFeed::Append(std::string_view origin,
                                                     std::string_view record) {
  // Not retried on a dead pooled connection: XADD is not idempotent.
  ASSIGN_OR_RETURN(auto c, client_->Acquire());
  auto replies = c->Pipeline({{"XADD", stream_key_, "*", "o", origin, "r", record}});
  c->clean = replies.ok();
  client_->Release(std::move(c));
  if (!replies.ok()) return replies.status();
  const RedisReply& r = (*replies)[0];
  if (!r.string()) return client_->ReplyError(r);
  auto position = FeedPosition::Parse(r.text());
  if (!position) {
    return absl::InternalError(absl::StrCat(client_->where(), ": XADD answered '",
                                            std::string(r.text()), "'"));
  }
  return *position;
}

absl::StatusOr<FeedPosition> RedisChangeFeed::Head() {
  ASSIGN_OR_RETURN(auto replies, client_->Run({{"XREVRANGE", stream_key_, "+", "-", "COUNT", "1"}}));
  const RedisReply& r = replies[0];
  if (!r.array()) return client_->ReplyError(r);
  if (r.size() == 0) return FeedPosition();
  auto p = FeedPosition::Parse(ReplyText(ReplyElement(r.element(0), 0)));
  if (!p) return absl::InternalError(client_->where() + ": malformed stream id");
  return *p;
}

absl::Status RedisChangeFeed::CheckContinuity(RedisClient::Connection& c, FeedPosition after) {
  ASSIGN_OR_RETURN(auto replies, c.Pipeline({{"XINFO", "STREAM", stream_key_}}));
  const RedisReply& r = replies[0];
  if (r.error()) {
    if (r.text().find("no such key") != std::string_view::npos) {
      if (after.zero()) return absl::OkStatus();
      return absl::DataLossError(absl::StrCat(
          client_->where(), ": the feed ", stream_key_, " is gone although this replica applied it up to ",
          after.ToString(), " (Redis restarted without its data?)"));
    }
    return client_->ReplyError(r);
  }
  auto position_of = [&](const char* name) -> std::optional<FeedPosition> {
    const redisReply* f = Field(r, name);
    if (!f) return std::nullopt;
    return FeedPosition::Parse(ReplyText(f));
  };
  if (auto last = position_of("last-generated-id"); last && *last < after) {
    return absl::DataLossError(absl::StrCat(client_->where(), ": the feed ends at ",
                                            last->ToString(), ", before this replica's position ",
                                            after.ToString(), " (Redis lost recent writes?)"));
  }
  if (auto deleted = position_of("max-deleted-entry-id"); deleted && after < *deleted) {
    return absl::DataLossError(
        absl::StrCat(client_->where(), ": the feed was trimmed up to ", deleted->ToString(),
                     ", past this replica's position ", after.ToString(),
                     " (it fell behind by more than a snapshot)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<FeedEntry>> RedisChangeFeed::Read(FeedPosition after, size_t max,
                                                             absl::Duration wait) {
  absl::MutexLock lock(&read_mu_);
  if (!reader_ || reader_->broken()) {
    reader_.reset();
    ASSIGN_OR_RETURN(reader_,
                     client_->ConnectDedicated(wait + client_->options().command_timeout));
    last_check_ = absl::InfinitePast();
  }
  auto fail = [&](absl::Status s) {
    reader_.reset();
    return s;
  };
  if (absl::Now() - last_check_ >= kContinuityCheckInterval) {
    if (absl::Status s = CheckContinuity(*reader_, after); !s.ok()) {
      if (reader_->broken()) return fail(s);
      return s;
    }
    last_check_ = absl::Now();
  }
  const std::string count = std::to_string(max);
  const std::string block = std::to_string(std::max<int64_t>(1, absl::ToInt64Milliseconds(wait)));
  const std::string from = after.ToString();
  auto replies = reader_->Pipeline(
      {{"XREAD", "COUNT", count, "BLOCK", block, "STREAMS", stream_key_, from}});
  if (!replies.ok()) return fail(replies.status());
  const RedisReply& r = (*replies)[0];
  std::vector<FeedEntry> out;
  if (r.nil()) return out;  // nothing within `wait`
  if (!r.array()) return client_->ReplyError(r);
  // [[key, [[id, [field, value, ...]], ...]]]
  const redisReply* entries = ReplyElement(r.element(0), 1);
  for (size_t i = 0; i < ReplySize(entries); ++i) {
    const redisReply* e = ReplyElement(entries, i);
    auto position = FeedPosition::Parse(ReplyText(ReplyElement(e, 0)));
    if (!position) return absl::InternalError(client_->where() + ": malformed stream id");
    FeedEntry entry;
    entry.position = *position;
    const redisReply* fields = ReplyElement(e, 1);
    for (size_t j = 0; j + 1 < ReplySize(fields); j += 2) {
      const std::string_view name = ReplyText(ReplyElement(fields, j));
      const std::string_view value = ReplyText(ReplyElement(fields, j + 1));
      if (name == "o") entry.origin = std::string(value);
      if (name == "r") entry.record = std::string(value);
    }
    out.push_back(std::move(entry));
  }
  return out;
}

absl::StatusOr<bool> RedisChangeFeed::AcquireSnapshotLease(std::string_view owner,
                                                           absl::Duration ttl) {
  const std::string ms = std::to_string(std::max<int64_t>(1, absl::ToInt64Milliseconds(ttl)));
  ASSIGN_OR_RETURN(auto replies, client_->Run({{"SET", lease_key_, owner, "NX", "PX", ms}}));
  if (replies[0].error()) return client_->ReplyError(replies[0]);
  if (!replies[0].nil()) return true;
  // Already held: by us (renew it), or by another replica.
  ASSIGN_OR_RETURN(auto held, client_->Run({{"GET", lease_key_}}));
  if (held[0].string() && held[0].text() == owner) {
    (void)client_->Run({{"PEXPIRE", lease_key_, ms}});
    return true;
  }
  return false;
}

absl::Status RedisChangeFeed::PublishSnapshot(FeedPosition position, const std::string& dir,
                                              const std::vector<std::string>& files) {
  Manifest old;
  ASSIGN_OR_RETURN(auto current, client_->Run({{"GET", manifest_key_}}));
  const bool had_old = current[0].string();
  if (had_old && !DecodeManifest(current[0].text(), &old)) {
    Logger()->warn("{}: the stored snapshot description is malformed; replacing it",
                   client_->where());
  }
  if (had_old && old.position == position) return absl::OkStatus();  // nothing new
  const std::string generation = position.ToString();
  Manifest next;
  next.position = position;
  next.name = dir.substr(dir.find_last_of('/') + 1);
  for (const std::string& name : files) {
    const std::string path = dir + "/" + name;
    std::ifstream in(path, std::ios::binary);
    if (!in) return ErrnoError("cannot read", path);
    Manifest::File f;
    f.name = name;
    std::string chunk(kChunkBytes, '\0');
    while (true) {
      in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
      const size_t n = static_cast<size_t>(in.gcount());
      if (n == 0 && f.chunks > 0) break;
      const std::string key = absl::StrCat(prefix_, ":snap:", generation, ":", name, ":", f.chunks);
      ASSIGN_OR_RETURN(auto set, client_->Run({{"SET", key, std::string_view(chunk.data(), n)}}));
      if (set[0].error()) return client_->ReplyError(set[0]);
      f.size += n;
      ++f.chunks;
      if (n < chunk.size()) break;
    }
    if (in.bad()) return ErrnoError("cannot read", path);
    next.files.push_back(std::move(f));
  }
  if (had_old) {
    next.previous = old.position;
    next.previous_files = old.files;
  }
  ASSIGN_OR_RETURN(auto set, client_->Run({{"SET", manifest_key_, EncodeManifest(next)}}));
  if (set[0].error()) return client_->ReplyError(set[0]);
  // The snapshot before the one just replaced is no longer described anywhere: delete it. The one
  // just replaced stays (a replica may be fetching it), and so do the entries after it.
  if (had_old) {
    const std::string old_generation = old.previous.ToString();
    for (const auto& f : old.previous_files) {
      for (uint64_t i = 0; i < f.chunks; ++i) {
        (void)client_->Run(
            {{"DEL", absl::StrCat(prefix_, ":snap:", old_generation, ":", f.name, ":", i)}});
      }
    }
    ASSIGN_OR_RETURN(auto trim,
                     client_->Run({{"XTRIM", stream_key_, "MINID", old.position.ToString()}}));
    if (trim[0].error()) return client_->ReplyError(trim[0]);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<FeedPosition>> RedisChangeFeed::FetchSnapshot(const std::string& root) {
  for (int attempt = 1;; ++attempt) {
    ASSIGN_OR_RETURN(auto current, client_->Run({{"GET", manifest_key_}}));
    if (current[0].nil()) return std::optional<FeedPosition>();
    if (!current[0].string()) return client_->ReplyError(current[0]);
    Manifest m;
    if (!DecodeManifest(current[0].text(), &m)) {
      return absl::DataLossError(absl::StrCat(client_->where(), ": the snapshot description at ",
                                              manifest_key_, " is malformed"));
    }
    const std::string dir = root + "/" + m.name;
    RETURN_IF_ERROR(RemoveTree(root));
    RETURN_IF_ERROR(MakeDirectories(dir));
    const std::string generation = m.position.ToString();
    bool replaced = false;  // a chunk vanished: a newer snapshot replaced this one twice over
    for (const auto& f : m.files) {
      const std::string path = dir + "/" + f.name;
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      if (!out) return ErrnoError("cannot create", path);
      uint64_t size = 0;
      for (uint64_t i = 0; i < f.chunks && !replaced; ++i) {
        ASSIGN_OR_RETURN(auto chunk, client_->Run({{"GET", absl::StrCat(prefix_, ":snap:", generation,
                                                                      ":", f.name, ":", i)}}));
        if (chunk[0].nil()) {
          replaced = true;
          break;
        }
        if (!chunk[0].string()) return client_->ReplyError(chunk[0]);
        out.write(chunk[0].text().data(), static_cast<std::streamsize>(chunk[0].text().size()));
        size += chunk[0].text().size();
      }
      out.close();
      if (!out) return ErrnoError("cannot write", path);
      if (replaced) break;
      if (size != f.size) {
        return absl::DataLossError(absl::StrCat(client_->where(), ": snapshot file ", f.name, " has ",
                                                size, " bytes, its description says ", f.size));
      }
    }
    if (!replaced) return std::optional<FeedPosition>(m.position);
    if (attempt == 3) {
      return absl::UnavailableError(absl::StrCat(
          client_->where(), ": snapshots were replaced faster than this replica could fetch one"));
    }
  }
}

}  // namespace semrec
