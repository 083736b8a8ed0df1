#include "app/xdp_settings.h"

#include <stdexcept>

namespace wsteer::app {
namespace {

// A YAML list of strings, or one "a,b" string (as the flag takes it).
std::vector<std::string> string_list(const YAML::Node& v, const std::string& key) {
  std::vector<std::string> out;
  try {
    if (v.IsSequence()) {
      for (const auto& item : v) out.push_back(item.as<std::string>());
    } else if (v.IsScalar()) {
      std::string text = v.as<std::string>(), item;
      for (std::size_t start = 0; start <= text.size();) {
        const auto comma = text.find(',', start);
        item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (!item.empty()) out.push_back(item);
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    } else if (!v.IsNull()) {
      throw std::invalid_argument("config key '" + key + "': expected a list of strings");
    }
  } catch (const YAML::Exception& e) {
    throw std::invalid_argument("config key '" + key + "': " + e.msg);
  }
  return out;
}

std::uint32_t number(const YAML::Node& v, const std::string& key) {
  try {
    return v.as<std::uint32_t>();
  } catch (const YAML::Exception&) {
    throw std::invalid_argument("config key '" + key + "': expected a whole number >= 0");
  }
}

std::vector<datapath::Cidr> cidrs(const std::vector<std::string>& texts, const char* what) {
  std::vector<datapath::Cidr> out;
  for (const auto& t : texts) {
    try {
      out.push_back(datapath::parse_cidr(t));
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(std::string(what) + ": " + e.what());
    }
  }
  return out;
}

}  // namespace

void XdpSettings::add_flags(CLI::App& app) {
  app.add_option("--xdp-interfaces", interfaces,
                 "attach the XDP guard to these interfaces (e.g. eth0,eth1): it drops SYN floods, denied and "
                 "malformed traffic to the listen ports before the network stack")
      ->delimiter(',');
  app.add_option("--xdp-syn-rate", syn_rate, "XDP: new connections (SYNs) per second per source address or IPv6 /64 (default 100, 0: no limit)");
  app.add_option("--xdp-syn-burst", syn_burst, "XDP: SYNs a quiet source may send at once (default 200)");
  app.add_option("--xdp-max-conns-per-source", max_conns_per_source,
                 "XDP: open connections per source; further SYNs are dropped (default 0: no cap)");
  app.add_option("--xdp-deny", deny, "XDP: drop everything to the listen ports from these CIDRs (repeatable, or a,b)")
      ->delimiter(',');
  app.add_option("--xdp-allow", allow, "XDP: exempt these CIDRs from every XDP check (repeatable, or a,b)")
      ->delimiter(',');
}

bool XdpSettings::read_yaml(const std::string& key, const YAML::Node& v) {
  if (key == "xdp-interfaces") interfaces = string_list(v, key);
  else if (key == "xdp-syn-rate") syn_rate = number(v, key);
  else if (key == "xdp-syn-burst") syn_burst = number(v, key);
  else if (key == "xdp-max-conns-per-source") max_conns_per_source = number(v, key);
  else if (key == "xdp-deny") deny = string_list(v, key);
  else if (key == "xdp-allow") allow = string_list(v, key);
  else return false;
  return true;
}

void XdpSettings::fill_from(const XdpSettings& file) {
  if (interfaces.empty()) interfaces = file.interfaces;
  if (!syn_rate) syn_rate = file.syn_rate;
  if (!syn_burst) syn_burst = file.syn_burst;
  if (!max_conns_per_source) max_conns_per_source = file.max_conns_per_source;
  if (deny.empty()) deny = file.deny;
  if (allow.empty()) allow = file.allow;
}

datapath::XdpConfig XdpSettings::build() const {
  datapath::XdpConfig c;
  c.interfaces = interfaces;
  if (syn_rate) c.syn_rate = *syn_rate;
  if (syn_burst) c.syn_burst = *syn_burst;
  if (max_conns_per_source) c.max_conns_per_source = *max_conns_per_source;
  c.deny = cidrs(deny, "xdp-deny");
  c.allow = cidrs(allow, "xdp-allow");
  datapath::validate_xdp_config(c);
  return c;
}

}  // namespace wsteer::app
