// The XDP front door's settings as flags (--xdp-*) and YAML keys (xdp-*), merged like every other
// setting (flags win) into a datapath::XdpConfig. Kept out of agent_config.cpp so that file only
// forwards to it.
#pragma once

#include "datapath/xdp_config.h"

#include <CLI/CLI.hpp>
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace wsteer::app {

struct XdpSettings {
  std::vector<std::string> interfaces;  // empty: not given
  std::optional<std::uint32_t> syn_rate, syn_burst, max_conns_per_source;
  std::vector<std::string> deny, allow;  // CIDR texts; empty: not given

  void add_flags(CLI::App& app);
  // True if `key` is one of the xdp-* keys (and was taken); throws std::invalid_argument on a bad value.
  bool read_yaml(const std::string& key, const YAML::Node& value);
  // Fills what the command line left unset from the file's settings.
  void fill_from(const XdpSettings& file);
  // Parses the CIDRs and validates; throws std::invalid_argument naming the setting.
  datapath::XdpConfig build() const;
};

}  // namespace wsteer::app
