// What the control socket answers: the agent's side of wsteerctl's status, drain, undrain,
// lookup and stats. Kept apart from the socket so tests can call it with a real Steering and no
// socket at all.
#pragma once

#include "steering/steering.h"
#include "steering/steering_config.h"

#include <boost/json/object.hpp>
#include <prometheus/metric_family.h>

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace wsteer::admin {

// One Service the agent balances, as the control commands see it.
struct ControlService {
  std::string name;                          // "namespace/name", or a file service's name
  steering::Steering* steering = nullptr;
  steering::SteeringConfig steering_config;  // key policy and seed, to explain a lookup
};

struct ControlContext {
  // At least one. drain/undrain act on a backend of that name in every Service; lookup asks the
  // Service named in the request, or the first.
  std::vector<ControlService> services;
  std::size_t max_tries = 3;                 // candidates a lookup lists, as the proxy tries them
  // After a drain/undrain: mirror the new state into the pinned maps at once.
  std::function<void()> state_changed;
  // Live facts only the running agent knows (pid, uptime, open connections, reloads, ...).
  std::function<boost::json::object()> status;
  // Userspace counters (the agent's push-style metrics), as {"name{labels}": value}.
  std::function<boost::json::object()> counters;
  // Rebalance: what it would close now and why (unset with the userspace datapath).
  std::function<boost::json::object()> rebalance_dry_run;
};

// Dispatches on request["command"]: "status", "drain", "undrain", "lookup", "stats", "rebalance"
// (with "dry_run": true).
// Always returns an object with "ok"; failures carry "error". Never throws on bad input.
boost::json::object handle_control_request(const ControlContext& context, const boost::json::object& request);

// Counters and gauges of `families` as {"name{label=\"v\",...}": value}; a histogram as its
// _count and _sum. For the "counters" of the stats command.
boost::json::object counters_json(const std::vector<prometheus::MetricFamily>& families);

}  // namespace wsteer::admin
