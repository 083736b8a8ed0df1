// Maglev table build (off the hot path, on every endpoint change) and choose() (once per
// Upgrade request) at the sizes the docs promise: N = 1,000 backends, M = 65,537 slots.
#include "steering/maglev.h"
#include "steering/steering.h"
#include "steering/steering_config.h"

#include <benchmark/benchmark.h>
#include <spdlog/spdlog.h>

#include <string>

namespace wsteer::steering {
namespace {

namespace http = boost::beast::http;

constexpr std::uint32_t kTableSize = 65537;

EndpointList endpoints(std::int64_t n) {
  EndpointList list;
  for (std::int64_t i = 0; i < n; ++i)
    list.push_back({"pod-" + std::to_string(i),
                    boost::asio::ip::make_address_v4(static_cast<std::uint32_t>(0x0a000000 + i + 1)), 8080,
                    static_cast<std::uint32_t>(1 + i % 3)});
  return list;
}

void BM_MaglevBuild(benchmark::State& state) {
  std::vector<MaglevMember> members;
  for (const auto& e : endpoints(state.range(0)))
    members.push_back({e.name, e.weight, static_cast<std::uint32_t>(members.size())});
  for (auto _ : state) benchmark::DoNotOptimize(build_maglev_table(members, kTableSize, 1));
}
BENCHMARK(BM_MaglevBuild)->Arg(10)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond);

void BM_UpdateEndpoints(benchmark::State& state) {
  auto steering = make_steering(SteeringConfig{});
  const auto list = endpoints(state.range(0));
  for (auto _ : state) steering->update_endpoints(list);
}
BENCHMARK(BM_UpdateEndpoints)->Arg(1000)->Unit(benchmark::kMillisecond);

// choose() for distinct requests; the request set is built up front so only choose() is timed.
void run_choose(benchmark::State& state, SteeringConfig config, bool with_cookie) {
  auto steering = make_steering(config);
  steering->update_endpoints(endpoints(state.range(0)));
  const auto backends = steering->snapshot();
  for (std::size_t i = 0; i < backends.size(); i += 2) steering->on_connected(backends[i].backend.id);
  std::vector<Request> requests(1024);
  for (std::size_t i = 0; i < requests.size(); ++i) {
    auto& r = requests[i];
    r = Request{http::verb::get, "/chat?user=u" + std::to_string(i) + "&room=r" + std::to_string(i % 64), 11};
    r.set(http::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25j" + std::to_string(10000 + i));
    if (with_cookie) {
      const auto header = *steering->sticky_cookie(backends[i % backends.size()].backend);
      r.set(http::field::cookie, header.substr(0, header.find(';')));
    }
  }
  const auto client = boost::asio::ip::make_address("192.0.2.1");
  std::size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(steering->choose(requests[i++ % requests.size()], client, 3));
}

void BM_ChooseWebSocketKey(benchmark::State& state) { run_choose(state, SteeringConfig{}, false); }
BENCHMARK(BM_ChooseWebSocketKey)->Arg(10)->Arg(1000);

void BM_ChooseQueryRoom(benchmark::State& state) {
  SteeringConfig config;
  config.hash_key = {"query:room", "sec-websocket-key"};
  run_choose(state, config, false);
}
BENCHMARK(BM_ChooseQueryRoom)->Arg(1000);

void BM_ChooseBoundedLoad(benchmark::State& state) {
  SteeringConfig config;
  config.balance_factor = 1.25;
  run_choose(state, config, false);
}
BENCHMARK(BM_ChooseBoundedLoad)->Arg(10)->Arg(1000);

void BM_ChooseStickyCookie(benchmark::State& state) {
  SteeringConfig config;
  config.cookie.name = "wsteer";
  config.cookie.secret = "benchmark-secret-0123456789";
  run_choose(state, config, true);
}
BENCHMARK(BM_ChooseStickyCookie)->Arg(1000);

}  // namespace
}  // namespace wsteer::steering

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::off);  // N = 1,000 on M = 65,537 is below the 100 x N advice, on purpose
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
