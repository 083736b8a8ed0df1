#include "bench/report.h"

#include <boost/json.hpp>

#include <cstdio>

namespace wsteer::bench {
namespace {

double per_second(double n, double seconds) { return seconds > 0 ? n / seconds : 0.0; }
double us(std::uint64_t ns) { return static_cast<double>(ns) / 1000.0; }

std::string line(const char* fmt, auto... args) {
  char buf[256];
  std::snprintf(buf, sizeof buf, fmt, args...);
  return buf;
}

}  // namespace

std::string to_json(const BenchResult& r) {
  namespace json = boost::json;
  const auto& h = r.latency;
  json::object o;
  o["mode"] = r.mode;
  o["url"] = r.url;
  o["connections"] = {{"target", r.target_connections},
                      {"established", r.established},
                      {"failed", r.connect_failed},
                      {"setup_seconds", r.setup_seconds},
                      {"setup_per_second", per_second(static_cast<double>(r.established), r.setup_seconds)}};
  o["duration_seconds"] = r.duration_seconds;
  o["messages"] = {{"count", r.messages}, {"per_second", per_second(static_cast<double>(r.messages), r.duration_seconds)}};
  o["bytes"] = {{"count", r.bytes}, {"megabytes_per_second", r.bytes_per_second / 1e6}};
  o["latency_us"] = {{"p50", us(h.percentile_ns(50))},   {"p90", us(h.percentile_ns(90))},
                     {"p99", us(h.percentile_ns(99))},   {"p999", us(h.percentile_ns(99.9))},
                     {"max", us(h.max_ns())},            {"mean", h.mean_ns() / 1000.0},
                     {"samples", h.count()}};
  o["handshakes"] = {{"count", r.handshakes}, {"per_second", r.handshakes_per_second}, {"failed", r.handshakes_failed}};
  o["errors"] = r.errors;
  return json::serialize(o);
}

std::string to_table(const BenchResult& r) {
  const auto& h = r.latency;
  std::string out;
  out += line("wsteer-bench %s%s%s  %s\n", r.mode.c_str(), r.direction.empty() ? "" : " ", r.direction.c_str(),
              r.url.c_str());
  out += line("  %-12s %10llu established %8llu failed  of %d\n", "connections",
              static_cast<unsigned long long>(r.established), static_cast<unsigned long long>(r.connect_failed),
              r.target_connections);
  out += line("  %-12s %10.3f s          %10.0f /s\n", "setup", r.setup_seconds,
              per_second(static_cast<double>(r.established), r.setup_seconds));
  out += line("  %-12s %10.3f s\n", "measured", r.duration_seconds);
  out += line("  %-12s %10llu              %10.0f /s\n", "messages", static_cast<unsigned long long>(r.messages),
              per_second(static_cast<double>(r.messages), r.duration_seconds));
  out += line("  %-12s %10.1f MB             %10.2f MB/s\n", "bytes", static_cast<double>(r.bytes) / 1e6,
              r.bytes_per_second / 1e6);
  out += line("  %-12s %10llu ok    %10llu failed   %10.0f /s\n", "handshakes",
              static_cast<unsigned long long>(r.handshakes), static_cast<unsigned long long>(r.handshakes_failed),
              r.handshakes_per_second);
  out += line("  %-12s %10llu\n", "errors", static_cast<unsigned long long>(r.errors));
  out += line("  latency (us) %s, %llu samples\n", r.mode == "churn" ? "of handshakes" : "of messages",
              static_cast<unsigned long long>(h.count()));
  out += line("  %10s %10s %10s %10s %10s %10s\n", "p50", "p90", "p99", "p99.9", "max", "mean");
  out += line("  %10.1f %10.1f %10.1f %10.1f %10.1f %10.1f\n", us(h.percentile_ns(50)), us(h.percentile_ns(90)),
              us(h.percentile_ns(99)), us(h.percentile_ns(99.9)), us(h.max_ns()), h.mean_ns() / 1000.0);
  return out;
}

}  // namespace wsteer::bench
