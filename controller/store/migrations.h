#pragma once
// Numbered schema migrations. Migration i (1-based) takes the database from
// version i-1 to i; the version is kept in PRAGMA user_version. Append only:
// never edit a migration that has shipped.

#include "absl/strings/string_view.h"
#include <vector>

namespace iommuvm::store {

const std::vector<absl::string_view>& Migrations();
inline int LatestSchemaVersion() { return static_cast<int>(Migrations().size()); }

}  // namespace iommuvm::store
