
#include "common/table.h"

#include <gtest/gtest.h>

#include <sstream>

namespace iommuvm {
namespace {

Table Sample() {
  Table t({{"name"}, {"ops", true}});
  t.AddRow({"get", "1200.5"});
  t.AddRow({"a,\"b\"", ""});
  return t;
}

TEST(TableTest, TextAlignsNumbersRight) {
  std::ostringstream out;
  Sample().Print(out, Format::kTable);
  EXPECT_EQ(out.str(), "name      ops\nget    1200.5\na,\"b\"\n");
}

TEST(TableTest, CsvQuotes) {
  std::ostringstream out;
  Sample().Print(out, Format::kCsv);
  EXPECT_EQ(out.str(), "name,ops\nget,1200.5\n\"a,\"\"b\"\"\",\n");
}

TEST(TableTest, JsonTypesNumbers) {
  std::ostringstream out;
  Sample().Print(out, Format::kJson);
  EXPECT_EQ(out.str(),
            "[\n {\"name\": \"get\", \"ops\": 1200.5},\n {\"name\": \"a,\\\"b\\\"\", "
            "\"ops\": null}\n]\n");
}

TEST(TableTest, FormatNames) {
  EXPECT_TRUE(ParseFormat("json").ok());
  EXPECT_FALSE(ParseFormat("yaml").ok());
}

}  // namespace
}  // namespace iommuvm
