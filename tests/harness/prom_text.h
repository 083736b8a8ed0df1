// A strict reader of the Prometheus text exposition format (version 0.0.4), for tests: every line
// must be a well-formed HELP, TYPE, comment or sample, or parse() throws with the line. Enough of
// the format to check what a scraper would reject; not a general-purpose client.
#pragma once

#include <cmath>
#include <cstdlib>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace wsteer::test::prom {

struct Sample {
  std::string name;  // as written: a histogram's samples end in _bucket, _sum, _count
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct FamilyInfo {
  std::optional<std::string> help;
  std::optional<std::string> type;  // counter, gauge, histogram, summary, untyped
  std::size_t samples = 0;
};

struct Exposition {
  std::map<std::string, FamilyInfo> families;  // by family name (HELP/TYPE name)
  std::vector<Sample> samples;

  // Sum of the samples called `name` whose labels include every pair of `match`.
  double sum(const std::string& name, const std::map<std::string, std::string>& match = {}) const {
    double total = 0;
    for (const auto& s : samples) {
      if (s.name != name) continue;
      bool ok = true;
      for (const auto& [k, v] : match) {
        const auto it = s.labels.find(k);
        ok = ok && it != s.labels.end() && it->second == v;
      }
      if (ok) total += s.value;
    }
    return total;
  }
  // The number of samples called `name` whose labels include `match`.
  std::size_t count(const std::string& name, const std::map<std::string, std::string>& match = {}) const {
    std::size_t n = 0;
    for (const auto& s : samples) {
      if (s.name != name) continue;
      bool ok = true;
      for (const auto& [k, v] : match) {
        const auto it = s.labels.find(k);
        ok = ok && it != s.labels.end() && it->second == v;
      }
      n += ok;
    }
    return n;
  }
};

namespace detail {

inline bool name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':'; }
inline bool name_char(char c) { return name_start(c) || (c >= '0' && c <= '9'); }

inline bool valid_metric_name(const std::string& s) {
  if (s.empty() || !name_start(s[0])) return false;
  for (char c : s)
    if (!name_char(c)) return false;
  return true;
}

inline bool valid_label_name(const std::string& s) {
  if (s.empty() || !name_start(s[0]) || s[0] == ':') return false;
  for (char c : s)
    if (!name_char(c) || c == ':') return false;
  return true;
}

inline double parse_value(const std::string& s) {
  if (s == "+Inf") return INFINITY;
  if (s == "-Inf") return -INFINITY;
  if (s == "NaN") return NAN;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size()) throw std::invalid_argument("bad sample value '" + s + "'");
  return v;
}

// The family a sample belongs to: itself, or for histograms/summaries the name before the suffix.
inline std::string family_of(const std::string& sample, const std::map<std::string, FamilyInfo>& families) {
  if (families.count(sample)) return sample;
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    const std::string sx = suffix;
    if (sample.size() > sx.size() && sample.compare(sample.size() - sx.size(), sx.size(), sx) == 0) {
      const auto base = sample.substr(0, sample.size() - sx.size());
      const auto it = families.find(base);
      if (it != families.end() && it->second.type && (*it->second.type == "histogram" || *it->second.type == "summary"))
        return base;
    }
  }
  return sample;
}

}  // namespace detail

// Throws std::invalid_argument naming the line on anything a Prometheus scraper would refuse.
inline Exposition parse(const std::string& text) {
  Exposition out;
  std::istringstream in(text);
  std::string line;
  int number = 0;
  const auto fail = [&](const std::string& why) {
    throw std::invalid_argument("exposition line " + std::to_string(number) + ": " + why + ": " + line);
  };
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    if (line[0] == '#') {
      std::istringstream words(line.substr(1));
      std::string keyword, name;
      words >> keyword >> name;
      if (keyword != "HELP" && keyword != "TYPE") continue;  // a plain comment
      if (!detail::valid_metric_name(name)) fail("bad metric name");
      auto& family = out.families[name];
      if (family.samples > 0) fail(keyword + " after the family's samples");
      std::string rest;
      std::getline(words, rest);
      if (!rest.empty() && rest[0] == ' ') rest.erase(0, 1);
      if (keyword == "HELP") {
        if (family.help) fail("second HELP");
        family.help = rest;
      } else {
        if (family.type) fail("second TYPE");
        if (rest != "counter" && rest != "gauge" && rest != "histogram" && rest != "summary" && rest != "untyped")
          fail("unknown type");
        family.type = rest;
      }
      continue;
    }
    Sample sample;
    std::size_t i = 0;
    while (i < line.size() && detail::name_char(line[i])) ++i;
    sample.name = line.substr(0, i);
    if (!detail::valid_metric_name(sample.name)) fail("bad metric name");
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        std::size_t start = i;
        while (i < line.size() && line[i] != '=') ++i;
        const auto label = line.substr(start, i - start);
        if (!detail::valid_label_name(label)) fail("bad label name '" + label + "'");
        if (++i >= line.size() || line[i] != '"') fail("label value not quoted");
        std::string value;
        for (++i; i < line.size() && line[i] != '"'; ++i) {
          if (line[i] == '\\') {
            if (++i >= line.size()) fail("dangling escape");
            if (line[i] == 'n') value += '\n';
            else if (line[i] == '\\' || line[i] == '"') value += line[i];
            else fail("bad escape");
          } else {
            value += line[i];
          }
        }
        if (i >= line.size()) fail("unterminated label value");
        ++i;  // closing quote
        if (!sample.labels.emplace(label, value).second) fail("label '" + label + "' twice");
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (i >= line.size()) fail("unterminated label set");
      ++i;  // '}'
    }
    if (i >= line.size() || line[i] != ' ') fail("no value");
    std::istringstream rest(line.substr(i + 1));
    std::string value, timestamp, extra;
    rest >> value >> timestamp >> extra;
    if (!extra.empty()) fail("trailing text");
    try {
      sample.value = detail::parse_value(value);
    } catch (const std::invalid_argument& e) {
      fail(e.what());
    }
    out.families[detail::family_of(sample.name, out.families)].samples++;
    out.samples.push_back(std::move(sample));
  }
  return out;
}

}  // namespace wsteer::test::prom
