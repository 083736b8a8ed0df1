// How wsteerctl prints: aligned tables for people (fit in 80 columns), JSON for programs.
// Every command builds one JSON document (its stable, documented shape) and a table from it.
#pragma once

#include <boost/json/value.hpp>

#include <ostream>
#include <string>
#include <vector>

namespace wsteer::cli {

enum class OutputFormat { table, json };

struct Column {
  std::string header;
  bool right = false;  // numbers align right
};

class Table {
 public:
  explicit Table(std::vector<Column> columns);
  void add(std::vector<std::string> row);  // as many cells as columns (missing ones are blank)
  // Header line, then rows; columns two spaces apart, the last one unpadded.
  void print(std::ostream& out) const;
  std::size_t rows() const { return rows_.size(); }

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

// "key:  value" lines, keys padded to one width.
void print_fields(std::ostream& out, const std::vector<std::pair<std::string, std::string>>& fields);

// Pretty JSON: two-space indent, keys in the order the command built them, a final newline.
void print_json(std::ostream& out, const boost::json::value& value);

}  // namespace wsteer::cli
