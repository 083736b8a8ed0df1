// The JSON an agent serves at /v1/connections on the metrics port: its active connections per
// Service and backend, for the scaling leader to sum over every node.
//
//   {"agent": "wsteer-x7k2p", "time": 1796220000,
//    "services": [{"service": "games/chat", "backends": [{"backend": "10.0.1.5:8080", "active": 412}]}]}
//
// The shape is a contract between agents of possibly different versions during a rolling update:
// the parser ignores keys it does not know, and rejects anything that would make a sum wrong.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace wsteer::admin {

struct BackendConnections {
  std::string backend;  // the backend's address as the agent names it ("IP:PORT")
  std::uint64_t active = 0;
};

struct ServiceConnections {
  std::string service;  // the service name (metrics label): "NAMESPACE/NAME" for Kubernetes services
  std::vector<BackendConnections> backends;
};

struct ConnectionsReport {
  std::string agent;      // the agent's pod name (what discovery calls it)
  std::int64_t time = 0;  // unix seconds when the report was made
  std::vector<ServiceConnections> services;

  // The service's entry, or nullptr when the agent has none (it balances no such service).
  const ServiceConnections* find(std::string_view service) const;
  // The sum of a service's active connections (0 when absent).
  std::uint64_t total(std::string_view service) const;
};

// The response body (application/json).
std::string format_connections_report(const ConnectionsReport& report);

// Parses a body served by format_connections_report. Throws std::invalid_argument naming the
// field ("connections report: services[1].backends[0].active: expected a non-negative
// integer"); duplicate services or backends, empty names, negative or fractional counts are
// errors. Unknown keys are ignored (a newer agent may add some).
ConnectionsReport parse_connections_report(std::string_view body);

}  // namespace wsteer::admin
