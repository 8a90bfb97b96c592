// Status propagation macros (Debian's 2022 Abseil lacks them).
//
//   absl::StatusOr<Foo> MakeFoo();
//   absl::Status Use() { ASSIGN_OR_RETURN(Foo foo, MakeFoo()); RETURN_IF_ERROR(foo.Check()); ... }
//
// Thread-safe: macros only.
#ifndef SEMREC_CORE_COMMON_STATUS_MACROS_H_
#define SEMREC_CORE_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define SEMREC_STATUS_CONCAT_INNER_(a, b) a##b
#define SEMREC_STATUS_CONCAT_(a, b) SEMREC_STATUS_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status) and returns it from the enclosing function if not OK.
#define RETURN_IF_ERROR(expr)                                       \
  do {                                                              \
    ::absl::Status semrec_status_ = (expr);                         \
    if (!semrec_status_.ok()) return semrec_status_;                \
  } while (0)

// Evaluates `rexpr` (an absl::StatusOr<T>); on error returns its status, otherwise moves the
// value into `lhs` (which may be a declaration, e.g. `auto x`).
#define ASSIGN_OR_RETURN(lhs, rexpr) \
  SEMREC_ASSIGN_OR_RETURN_IMPL_(SEMREC_STATUS_CONCAT_(semrec_statusor_, __LINE__), lhs, rexpr)

#define SEMREC_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                  \
  if (!statusor.ok()) return statusor.status();             \
  lhs = std::move(statusor).value()

#endif  // SEMREC_CORE_COMMON_STATUS_MACROS_H_
