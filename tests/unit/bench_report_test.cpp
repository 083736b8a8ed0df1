// The JSON object of wsteer-bench is parsed by the benchmark harness: every field is present,
// numeric, and named as in the contract; the table stays readable at 80 columns.
#include "bench/report.h"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <sstream>

namespace wsteer::bench {
namespace {

namespace json = boost::json;

BenchResult sample() {
  BenchResult r;
  r.mode = "pingpong";
  r.url = "ws://127.0.0.1:9100/";
  r.target_connections = 100;
  r.established = 99;
  r.connect_failed = 1;
  r.setup_seconds = 0.5;
  r.duration_seconds = 10;
  r.messages = 1'000'000;
  r.bytes = 64'000'000;
  r.bytes_per_second = 6.4e6;
  for (int i = 1; i <= 1000; ++i) r.latency.record(std::uint64_t(i) * 1000);  // 1..1000 us
  r.handshakes = 99;
  r.handshakes_per_second = 198;
  r.handshakes_failed = 1;
  r.errors = 2;
  return r;
}

double num(const json::value& v) {
  EXPECT_TRUE(v.is_number()) << json::serialize(v);
  return v.to_number<double>();
}

TEST(BenchReport, JsonHasEveryContractFieldAsNumbers) {
  const auto v = json::parse(to_json(sample())).as_object();
  EXPECT_EQ(v.at("mode").as_string(), "pingpong");
  EXPECT_EQ(v.at("url").as_string(), "ws://127.0.0.1:9100/");
  const auto& c = v.at("connections").as_object();
  EXPECT_EQ(num(c.at("target")), 100);
  EXPECT_EQ(num(c.at("established")), 99);
  EXPECT_EQ(num(c.at("failed")), 1);
  EXPECT_EQ(num(c.at("setup_seconds")), 0.5);
  EXPECT_EQ(num(c.at("setup_per_second")), 198);
  EXPECT_EQ(num(v.at("duration_seconds")), 10);
  EXPECT_EQ(num(v.at("messages").at("count")), 1e6);
  EXPECT_EQ(num(v.at("messages").at("per_second")), 1e5);
  EXPECT_EQ(num(v.at("bytes").at("count")), 64e6);
  EXPECT_EQ(num(v.at("bytes").at("megabytes_per_second")), 6.4);  // MB = 10^6 bytes
  const auto& l = v.at("latency_us").as_object();
  EXPECT_NEAR(num(l.at("p50")), 500, 5);
  EXPECT_NEAR(num(l.at("p90")), 900, 9);
  EXPECT_NEAR(num(l.at("p99")), 990, 10);
  EXPECT_NEAR(num(l.at("p999")), 999, 10);
  EXPECT_EQ(num(l.at("max")), 1000);
  EXPECT_NEAR(num(l.at("mean")), 500.5, 0.01);
  EXPECT_EQ(num(l.at("samples")), 1000);
  EXPECT_EQ(num(v.at("handshakes").at("count")), 99);
  EXPECT_EQ(num(v.at("handshakes").at("per_second")), 198);
  EXPECT_EQ(num(v.at("handshakes").at("failed")), 1);
  EXPECT_EQ(num(v.at("errors")), 2);
  EXPECT_EQ(v.size(), 9u);  // nothing beyond the contract
}

TEST(BenchReport, EmptyRunIsAllZerosNotMissing) {
  BenchResult r;
  r.mode = "churn";
  r.url = "ws://h:1/";
  const auto v = json::parse(to_json(r)).as_object();
  for (const char* k : {"p50", "p90", "p99", "p999", "max", "mean", "samples"})
    EXPECT_EQ(num(v.at("latency_us").at(k)), 0) << k;
  EXPECT_EQ(num(v.at("messages").at("per_second")), 0);
  EXPECT_EQ(num(v.at("connections").at("setup_per_second")), 0);
}

TEST(BenchReport, TableFitsEightyColumns) {
  auto r = sample();
  r.latency.record(std::chrono::seconds(59));  // the widest latency there is
  const std::string table = to_table(r);
  std::istringstream lines(table);
  int n = 0;
  for (std::string line; std::getline(lines, line); ++n) EXPECT_LE(line.size(), 80u) << line;
  EXPECT_GE(n, 8);
  EXPECT_NE(table.find("p99.9"), std::string::npos);
}

}  // namespace
}  // namespace wsteer::bench
