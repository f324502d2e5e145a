#pragma once
// RETURN_IF_ERROR / ASSIGN_OR_RETURN: Debian's abseil 20220623 ships
// absl::Status but not these helpers, so they are written once here.

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define IOMMUVM_CONCAT_INNER(a, b) a##b
#define IOMMUVM_CONCAT(a, b) IOMMUVM_CONCAT_INNER(a, b)

#define RETURN_IF_ERROR(expr)                   \
  do {                                          \
    ::absl::Status _status = (expr);            \
    if (!_status.ok()) return _status;          \
  } while (0)

#define ASSIGN_OR_RETURN(lhs, expr) \
  IOMMUVM_ASSIGN_OR_RETURN_IMPL(IOMMUVM_CONCAT(_statusor_, __LINE__), lhs, expr)

#define IOMMUVM_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = std::move(tmp).value()
