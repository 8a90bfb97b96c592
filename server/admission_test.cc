#include "server/admission.h"

#include <optional>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace semrec {
namespace {

using ::testing::HasSubstr;

TEST(AdmissionControlTest, RefusesBeyondTheLimitAtOnceAndAdmitsAgainWhenASlotFrees) {
  AdmissionControl admission(2);
  std::vector<AdmissionControl::Ticket> held;
  for (int i = 0; i < 2; ++i) {
    auto ticket = admission.TryAdmit();
    ASSERT_TRUE(ticket.ok()) << ticket.status();
    held.push_back(std::move(ticket).value());
  }
  EXPECT_EQ(admission.inflight(), 2);
  auto refused = admission.TryAdmit();
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("overloaded"));
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("retry with backoff"));
  EXPECT_EQ(admission.rejected(), 1);
  EXPECT_EQ(admission.inflight(), 2);

  held.pop_back();
  EXPECT_EQ(admission.inflight(), 1);
  EXPECT_TRUE(admission.TryAdmit().ok());
  EXPECT_EQ(admission.inflight(), 1);  // that ticket was dropped at once
}

TEST(AdmissionControlTest, AMovedTicketFreesItsSlotOnce) {
  AdmissionControl admission(1);
  {
    std::optional<AdmissionControl::Ticket> outer;
    {
      auto ticket = admission.TryAdmit();
      ASSERT_TRUE(ticket.ok());
      outer.emplace(std::move(ticket).value());
    }
    EXPECT_EQ(admission.inflight(), 1);
  }
  EXPECT_EQ(admission.inflight(), 0);
  EXPECT_EQ(AdmissionControl(0).max_inflight(), 1);
}

}  // namespace
}  // namespace semrec
