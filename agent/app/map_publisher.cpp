#include "app/map_publisher.h"

#include <boost/asio/ip/address_v6.hpp>

#include <algorithm>
#include <cstring>

namespace wsteer::app {
namespace asio = boost::asio;

namespace {

std::array<unsigned char, 16> mapped(const asio::ip::address& a) {
  return a.is_v4() ? asio::ip::make_address_v6(asio::ip::v4_mapped, a.to_v4()).to_bytes() : a.to_v6().to_bytes();
}

wsteer_backend_info to_backend_info(const steering::BackendStatus& b, std::uint32_t service) {
  wsteer_backend_info info{};
  std::strncpy(info.name, b.backend.name.c_str(), sizeof(info.name) - 1);
  const auto addr = mapped(b.backend.address);
  std::memcpy(info.addr, addr.data(), sizeof(info.addr));
  info.port = b.backend.port;
  info.state = b.state == steering::BackendState::active     ? WSTEER_BACKEND_ACTIVE
               : b.state == steering::BackendState::draining ? WSTEER_BACKEND_DRAINING
                                                              : WSTEER_BACKEND_UNHEALTHY;
  info.weight = b.weight;
  info.max_connections = b.max_connections;
  info.service = service;
  info.active_connections = b.active_connections;
  info.total_connections = b.total_connections;
  info.connect_failures = b.connect_failures;
  return info;
}

}  // namespace

MapPublisher::MapPublisher(datapath::SpliceDatapath& datapath, const std::vector<std::unique_ptr<ServiceRuntime>>& services)
    : datapath_(datapath), services_(services), maglev_versions_(services.size(), ~0ULL) {
  for (const auto& s : services_) {
    wsteer_service_info info{};
    std::strncpy(info.name, s->config().name.c_str(), sizeof(info.name) - 1);
    const auto addr = mapped(s->config().listen.address());
    std::memcpy(info.listen_addr, addr.data(), sizeof(info.listen_addr));
    info.listen_port = s->config().listen.port();
    info.in_use = 1;
    info.maglev_size = s->steering_config().maglev_size;
    info.maglev_offset = s->index() * info.maglev_size;
    datapath_.publish_service(s->index(), info);
  }
}

void MapPublisher::publish() {
  std::lock_guard lock(mutex_);
  std::vector<std::uint32_t> now_used;
  for (const auto& s : services_) {
    for (const auto& b : s->steering().snapshot()) {
      if (b.backend.id >= WSTEER_MAX_BACKENDS) continue;
      now_used.push_back(b.backend.id);
      datapath_.publish_backend(b.backend.id, to_backend_info(b, s->index()));
    }
    if (const auto version = s->steering().endpoints_version(); version != maglev_versions_[s->index()]) {
      if (auto table = s->steering().maglev_table()) datapath_.publish_maglev(*table, s->index());
      maglev_versions_[s->index()] = version;
    }
  }
  for (auto id : used_)
    if (std::find(now_used.begin(), now_used.end(), id) == now_used.end()) datapath_.publish_backend(id, wsteer_backend_info{});
  used_ = std::move(now_used);
}

}  // namespace wsteer::app
