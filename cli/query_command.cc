// `iommuvm query`: SQL against a results database, opened read-only so a
// query can never change what was measured.
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "cli/command_support.h"
#include "common/sqlite.h"

namespace iommuvm::cli {
namespace {

constexpr char kQueryUsage[] =
    "usage: iommuvm query [--db FILE] SQL [--format table|csv|json]\n"
    "       iommuvm query [--db FILE] --schema\n"
    "Runs one read-only SQL statement against a results database (the\n"
    "controller's --db; default $IOMMUVM_DB, else iommuvm.db) and prints its rows.\n"
    "The database is opened read-only: statements that would write are refused.\n"
    "--schema prints the view `results` (one row per measured operation, modes by\n"
    "name, the verified mode, server telemetry means) and the tables. Example:\n"
    "  iommuvm query \"SELECT workload, iommu, AVG(throughput_ops) FROM results\n"
    "    WHERE experiment = 3 GROUP BY 1, 2\"\n";

}  // namespace

int Query(Context& ctx, const std::vector<std::string>& argv) {
  int code = kExitOk;
  auto args = ParseCommand(ctx, argv, kQueryUsage, {"db"}, {"schema"}, 0, 1, &code);
  if (!args) return code;
  auto format = FormatOf(ctx, *args);
  if (!format) return kExitUsage;
  const char* env_db = std::getenv("IOMMUVM_DB");
  std::string path = args->Get("db", env_db != nullptr ? env_db : "iommuvm.db");
  bool schema = args->Has("schema");
  if (schema == !args->positional.empty()) {
    ctx.err << "iommuvm: give one SQL statement or --schema\n" << kQueryUsage;
    return kExitUsage;
  }
  auto db = sqlite::Database::Open(path, /*create=*/false, /*read_only=*/true);
  if (!db.ok()) {
    ctx.err << "iommuvm: " << db.status().message() << "\n";
    return kExitFailure;
  }
  std::string sql = schema ? "SELECT m.name AS \"table\", m.type AS kind, p.name AS column, "
                             "p.type FROM sqlite_master m JOIN pragma_table_info(m.name) p "
                             "WHERE m.type IN ('table', 'view') AND m.name NOT LIKE 'sqlite_%' "
                             "ORDER BY m.type = 'table', m.name, p.cid"
                           : args->positional[0];
  auto st = (*db)->Prepare(sql);
  if (!st.ok()) {
    ctx.err << "iommuvm: " << st.status().message() << "\n";
    return kExitUsage;
  }
  if (!st->ReadOnly()) {
    ctx.err << "iommuvm: query refuses statements that write; the results stay as measured\n";
    return kExitUsage;
  }
  // A column is numeric (right-aligned, unquoted in JSON) when every value
  // in it is a number.
  std::vector<Column> columns;
  for (int i = 0; i < st->ColumnCount(); ++i) columns.push_back({st->ColumnName(i), true});
  std::vector<std::vector<std::string>> rows;
  while (true) {
    auto row = st->Step();
    if (!row.ok()) {
      ctx.err << "iommuvm: " << row.status().message() << "\n";
      return kExitFailure;
    }
    if (!*row) break;
    std::vector<std::string> cells;
    for (int i = 0; i < st->ColumnCount(); ++i) {
      if (!st->IsNull(i) && !st->IsNumber(i)) columns[i].numeric = false;
      cells.push_back(st->IsNull(i) ? "" : st->Text(i));
    }
    rows.push_back(std::move(cells));
  }
  Table t(columns);
  for (auto& r : rows) t.AddRow(std::move(r));
  t.Print(ctx.out, *format);
  return kExitOk;
}

}  // namespace iommuvm::cli
