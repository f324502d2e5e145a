#include "common/table.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace iommuvm {

absl::StatusOr<Format> ParseFormat(const std::string& text) {
  if (text == "table") return Format::kTable;
  if (text == "csv") return Format::kCsv;
  if (text == "json") return Format::kJson;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown format '", text, "'; allowed: table, csv, json"));
}

std::string JsonEscape(absl::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string Fixed(double v, int digits) { return absl::StrFormat("%.*f", digits, v); }

void Table::AddRow(const std::vector<std::string>& cells) {
  for (size_t c = 0; c < columns_.size(); ++c) {
    if (c < cells.size()) text_ += cells[c];
    ends_.push_back(text_.size());
  }
}

void Table::Print(std::ostream& out, Format format) const {
  switch (format) {
    case Format::kTable: return PrintText(out);
    case Format::kCsv: return PrintCsv(out);
    case Format::kJson: return PrintJson(out);
  }
}

void Table::PrintText(std::ostream& out) const {
  std::vector<size_t> width(columns_.size());
  for (size_t c = 0; c < columns_.size(); ++c) width[c] = columns_[c].name.size();
  for (size_t r = 0; r < size(); ++r) {
    for (size_t c = 0; c < columns_.size(); ++c) width[c] = std::max(width[c], Cell(r, c).size());
  }
  std::string line;
  auto print_row = [&](auto cell) {
    line.clear();
    for (size_t c = 0; c < columns_.size(); ++c) {
      absl::string_view text = cell(c);
      size_t pad = width[c] - text.size();
      if (columns_[c].numeric) line.append(pad, ' ');
      line.append(text.data(), text.size());
      if (!columns_[c].numeric) line.append(pad, ' ');
      if (c + 1 < columns_.size()) line += "  ";
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    line += '\n';
    out.write(line.data(), static_cast<std::streamsize>(line.size()));
  };
  print_row([&](size_t c) { return absl::string_view(columns_[c].name); });
  for (size_t r = 0; r < size(); ++r) print_row([&](size_t c) { return Cell(r, c); });
}

void Table::PrintCsv(std::ostream& out) const {
  auto cell = [](absl::string_view s) {
    if (s.find_first_of(",\"\n") == absl::string_view::npos) return std::string(s);
    std::string q = "\"";
    for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
  };
  for (size_t c = 0; c < columns_.size(); ++c) out << (c ? "," : "") << cell(columns_[c].name);
  out << "\n";
  for (size_t r = 0; r < size(); ++r) {
    for (size_t c = 0; c < columns_.size(); ++c) out << (c ? "," : "") << cell(Cell(r, c));
    out << "\n";
  }
}

void Table::PrintJson(std::ostream& out) const {
  out << "[";
  for (size_t r = 0; r < size(); ++r) {
    out << (r ? ",\n " : "\n ") << "{";
    for (size_t c = 0; c < columns_.size(); ++c) {
      absl::string_view v = Cell(r, c);
      out << (c ? ", " : "") << JsonEscape(columns_[c].name) << ": ";
      if (columns_[c].numeric && !v.empty()) {
        out << v;
      } else if (columns_[c].numeric) {
        out << "null";
      } else {
        out << JsonEscape(v);
      }
    }
    out << "}";
  }
  out << (size() == 0 ? "]\n" : "\n]\n");
}

}  // namespace iommuvm
