#include "core/storage/snapshot_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "core/storage/byte_codec.h"
#include "core/storage/record_file.h"
#include "core/storage/testing/temp_dir.h"

namespace semrec {
namespace {

using ::testing::HasSubstr;

class SnapshotDirTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(root_.empty()); }

  static void WriteText(const std::string& path, const std::string& text) {
    FILE* f = std::fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fwrite(text.data(), 1, text.size(), f);
    std::fclose(f);
  }
  static bool Exists(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0;
  }

  ScopedTempDir temp_;
  const std::string root_ = temp_.path();
};

TEST_F(SnapshotDirTest, PublishedSnapshotIsFoundAndVerified) {
  auto builder = SnapshotBuilder::Begin(root_, 42);
  ASSERT_TRUE(builder.ok()) << builder.status();
  {
    auto w = RecordWriter::Create((*builder)->PathOf("users"));
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Append("alice").ok());
    ASSERT_TRUE((*w)->Close(true).ok());
  }
  WriteText((*builder)->PathOf("index"), "graph bytes");
  ASSERT_TRUE((*builder)->AddFile("users").ok());
  ASSERT_TRUE((*builder)->AddFile("index").ok());
  auto info = (*builder)->Commit();
  ASSERT_TRUE(info.ok()) << info.status();

  auto latest = FindLatestSnapshot(root_);
  ASSERT_TRUE(latest.ok()) << latest.status();
  ASSERT_TRUE(latest->has_value());
  EXPECT_EQ((*latest)->lsn, 42u);
  EXPECT_EQ((*latest)->files.size(), 2u);
  EXPECT_TRUE((*latest)->Verify("users").ok());
  EXPECT_TRUE((*latest)->Verify("index").ok());
  EXPECT_EQ((*latest)->Verify("missing").code(), absl::StatusCode::kDataLoss);

  // A flipped byte is caught by the manifest's checksum.
  WriteText((*latest)->PathOf("index"), "graph bytez");
  absl::Status s = (*latest)->Verify("index");
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr("corrupt"));
}

TEST_F(SnapshotDirTest, NoSnapshotIsNullopt) {
  auto latest = FindLatestSnapshot(root_ + "/absent");
  ASSERT_TRUE(latest.ok());
  EXPECT_FALSE(latest->has_value());
}

TEST_F(SnapshotDirTest, UncommittedBuilderLeavesNothing) {
  {
    auto builder = SnapshotBuilder::Begin(root_, 7);
    ASSERT_TRUE(builder.ok());
    WriteText((*builder)->PathOf("users"), "half written");
  }  // destroyed without Commit (a failed snapshot)
  auto latest = FindLatestSnapshot(root_);
  ASSERT_TRUE(latest.ok());
  EXPECT_FALSE(latest->has_value());
}

TEST_F(SnapshotDirTest, LeftoverTemporaryDirectoryIsRemoved) {
  ASSERT_EQ(::mkdir((root_ + "/.tmp-snapshot-00000000000000000009").c_str(), 0755), 0);
  auto latest = FindLatestSnapshot(root_);
  ASSERT_TRUE(latest.ok());
  EXPECT_FALSE(latest->has_value());
  EXPECT_FALSE(Exists(root_ + "/.tmp-snapshot-00000000000000000009"));
}

TEST_F(SnapshotDirTest, NewestWinsLinksReuseFilesAndOldOnesAreRemoved) {
  SnapshotInfo first;
  {
    auto b = SnapshotBuilder::Begin(root_, 10);
    ASSERT_TRUE(b.ok());
    WriteText((*b)->PathOf("index"), "big graph");
    WriteText((*b)->PathOf("users"), "v1");
    ASSERT_TRUE((*b)->AddFile("index").ok());
    ASSERT_TRUE((*b)->AddFile("users").ok());
    auto info = (*b)->Commit();
    ASSERT_TRUE(info.ok());
    first = *info;
  }
  {
    auto b = SnapshotBuilder::Begin(root_, 20);
    ASSERT_TRUE(b.ok());
    ASSERT_TRUE((*b)->LinkFrom(first, "index").ok());  // catalog unchanged
    WriteText((*b)->PathOf("users"), "v2");
    ASSERT_TRUE((*b)->AddFile("users").ok());
    ASSERT_TRUE((*b)->Commit().ok());
  }
  auto latest = FindLatestSnapshot(root_);
  ASSERT_TRUE(latest.ok() && latest->has_value());
  EXPECT_EQ((*latest)->lsn, 20u);
  EXPECT_TRUE((*latest)->Verify("index").ok());
  ASSERT_TRUE(RemoveSnapshotsExcept(root_, 20).ok());
  EXPECT_FALSE(Exists(first.path));
  EXPECT_TRUE((*latest)->Verify("index").ok());  // the hard link survives the old directory
}

TEST_F(SnapshotDirTest, UnreadableManifestFallsBackToOlderSnapshot) {
  for (uint64_t lsn : {5u, 6u}) {
    auto b = SnapshotBuilder::Begin(root_, lsn);
    ASSERT_TRUE(b.ok());
    ASSERT_TRUE((*b)->Commit().ok());
  }
  WriteText(root_ + "/snapshot-00000000000000000006/MANIFEST", "junk");
  auto latest = FindLatestSnapshot(root_);
  ASSERT_TRUE(latest.ok()) << latest.status();
  ASSERT_TRUE(latest->has_value());
  EXPECT_EQ((*latest)->lsn, 5u);
}

TEST(ByteCodecTest, RoundTripsAndRejectsTruncation) {
  BufferWriter w;
  w.PutVarint(300);
  w.PutString("héllo");
  w.PutFloats({1.5f, -2.0f});
  w.PutI64(-7);
  w.PutDouble(0.25);
  w.PutBool(true);
  BufferReader r(w.data());
  uint64_t v;
  std::string s;
  std::vector<float> f;
  int64_t i;
  double d;
  bool b;
  ASSERT_TRUE(r.GetVarint(&v) && r.GetString(&s) && r.GetFloats(&f) && r.GetI64(&i) &&
              r.GetDouble(&d) && r.GetBool(&b));
  EXPECT_EQ(v, 300u);
  EXPECT_EQ(s, "héllo");
  EXPECT_EQ(f, (std::vector<float>{1.5f, -2.0f}));
  EXPECT_EQ(i, -7);
  EXPECT_EQ(d, 0.25);
  EXPECT_TRUE(b);
  EXPECT_TRUE(r.done());
  for (size_t cut = 0; cut < w.data().size(); ++cut) {
    BufferReader t(std::string_view(w.data()).substr(0, cut));
    const bool all = t.GetVarint(&v) && t.GetString(&s) && t.GetFloats(&f) && t.GetI64(&i) &&
                     t.GetDouble(&d) && t.GetBool(&b);
    EXPECT_FALSE(all) << "cut at " << cut;
  }
}

}  // namespace
}  // namespace semrec
