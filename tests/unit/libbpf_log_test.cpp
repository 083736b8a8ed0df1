// libbpf's messages reach spdlog, so --log-format json keeps every line one JSON object.
#include "core/logging.h"
#include "datapath/libbpf_log.h"

#include <boost/json/parse.hpp>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

namespace wsteer {
namespace {

TEST(LibbpfLog, AWarningOfLibbpfIsOneJsonLine) {
  std::ostringstream out;
  auto logger = std::make_shared<spdlog::logger>("json", std::make_shared<spdlog::sinks::ostream_sink_st>(out));
  logger->set_formatter(make_log_formatter("json"));
  logger->set_level(spdlog::level::info);
  const auto previous = spdlog::default_logger();
  spdlog::set_default_logger(logger);
  datapath::route_libbpf_log_to_spdlog();
  datapath::route_libbpf_log_to_spdlog();  // once: a second call changes nothing

  // Needs no privileges: libbpf warns that it cannot open the object file.
  bpf_object* obj = bpf_object__open_file("/nonexistent/wsteer-test.bpf.o", nullptr);
  const int err = libbpf_get_error(obj);
  spdlog::set_default_logger(previous);
  EXPECT_NE(err, 0);

  std::istringstream lines(out.str());
  std::string line;
  int libbpf_lines = 0;
  while (std::getline(lines, line)) {
    const auto record = boost::json::parse(line).as_object();  // throws if a line is not JSON
    const std::string msg(record.at("msg").as_string());
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "one record per libbpf line";
    if (msg.rfind("libbpf: ", 0) == 0) {
      ++libbpf_lines;
      EXPECT_EQ(record.at("level").as_string(), "warning") << line;
      EXPECT_NE(msg.find("/nonexistent/wsteer-test.bpf.o"), std::string::npos) << line;
    }
  }
  EXPECT_GE(libbpf_lines, 1) << "no libbpf message reached spdlog: " << out.str();
}

}  // namespace
}  // namespace wsteer
