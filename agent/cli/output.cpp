#include "cli/output.h"

#include <boost/json/serialize.hpp>

#include <algorithm>

namespace wsteer::cli {
namespace json = boost::json;

Table::Table(std::vector<Column> columns) : columns_(std::move(columns)) {}

void Table::add(std::vector<std::string> row) {
  row.resize(columns_.size());
  rows_.push_back(std::move(row));
}

void Table::print(std::ostream& out) const {
  std::vector<std::size_t> width(columns_.size());
  for (std::size_t c = 0; c < columns_.size(); ++c) {
    width[c] = columns_[c].header.size();
    for (const auto& row : rows_) width[c] = std::max(width[c], row[c].size());
  }
  const auto line = [&](const auto& cell) {
    std::string text;
    for (std::size_t c = 0; c < columns_.size(); ++c) {
      const std::string& value = cell(c);
      const bool last = c + 1 == columns_.size();
      const std::string pad(width[c] - value.size(), ' ');
      if (c) text += "  ";
      text += columns_[c].right ? pad + value : (last ? value : value + pad);
    }
    out << text << "\n";
  };
  line([&](std::size_t c) -> const std::string& { return columns_[c].header; });
  for (const auto& row : rows_) line([&](std::size_t c) -> const std::string& { return row[c]; });
}

void print_fields(std::ostream& out, const std::vector<std::pair<std::string, std::string>>& fields) {
  std::size_t width = 0;
  for (const auto& [k, v] : fields) width = std::max(width, k.size());
  for (const auto& [k, v] : fields) out << k << ":" << std::string(width - k.size() + 2, ' ') << v << "\n";
}

namespace {

void pretty(std::ostream& out, const json::value& v, int indent) {
  const std::string pad(static_cast<std::size_t>(indent + 2), ' ');
  const std::string close(static_cast<std::size_t>(indent), ' ');
  if (v.is_object()) {
    const auto& o = v.as_object();
    if (o.empty()) {
      out << "{}";
      return;
    }
    out << "{\n";
    std::size_t i = 0;
    for (const auto& kv : o) {
      out << pad << json::serialize(json::string(kv.key())) << ": ";
      pretty(out, kv.value(), indent + 2);
      out << (++i < o.size() ? ",\n" : "\n");
    }
    out << close << "}";
  } else if (v.is_array()) {
    const auto& a = v.as_array();
    if (a.empty()) {
      out << "[]";
      return;
    }
    out << "[\n";
    for (std::size_t i = 0; i < a.size(); ++i) {
      out << pad;
      pretty(out, a[i], indent + 2);
      out << (i + 1 < a.size() ? ",\n" : "\n");
    }
    out << close << "]";
  } else {
    out << json::serialize(v);
  }
}

}  // namespace

void print_json(std::ostream& out, const json::value& value) {
  pretty(out, value, 0);
  out << "\n";
}

}  // namespace wsteer::cli
