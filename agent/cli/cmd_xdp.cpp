// wsteerctl xdp status|top|deny|allow|undeny: the XDP guard's pinned maps, read and written
// directly (the agent's own maps, so changes act at once and whether or not the agent answers).
#include "cli/commands.h"
#include "cli/ctl_error.h"
#include "cli/format.h"
#include "cli/json_fields.h"
#include "cli/pinned_xdp.h"

#include <algorithm>
#include <cstring>
#include <system_error>
#include <time.h>

namespace wsteer::cli {
namespace json = boost::json;
using datapath::XdpList;

namespace {

const char* origin_text(std::uint32_t origin) {
  return origin == WSTEER_XDP_ORIGIN_CONFIG ? "config" : origin == WSTEER_XDP_ORIGIN_CLI ? "wsteerctl" : "unknown";
}

json::array list_json(const std::vector<datapath::XdpListEntry>& entries) {
  json::array out;
  for (const auto& e : entries) out.push_back(json::object{{"cidr", datapath::to_string(e.cidr)}, {"origin", origin_text(e.origin)}});
  return out;
}

std::uint64_t now_ns() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);  // bpf_ktime_get_ns()'s clock
  return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(now.tv_nsec);
}

}  // namespace

json::object xdp_status_model(const XdpSnapshot& s) {
  json::array interfaces;
  for (const auto& l : s.links)
    interfaces.push_back(json::object{{"interface", l.interface}, {"mode", l.mode}, {"ifindex", l.ifindex},
                                      {"link_id", l.link_id}, {"prog_id", l.prog_id}});
  json::array packets;
  std::uint64_t passed = 0, dropped = 0;
  for (std::uint32_t r = 0; r < WSTEER_XDP_REASON_COUNT; ++r) {
    const auto label = datapath::xdp_reason_label(r);
    packets.push_back(json::object{{"action", label.action}, {"reason", label.reason}, {"packets", s.counters[r]}});
    (r >= WSTEER_XDP_DROP_DENIED ? dropped : passed) += s.counters[r];
  }
  std::uint64_t open = 0;
  for (const auto& src : s.sources) open += src.open_connections;
  return {{"interfaces", std::move(interfaces)},
          {"config", json::object{{"syn_rate", s.config.syn_rate},
                                  {"syn_burst", s.config.syn_burst},
                                  {"max_conns_per_source", s.config.max_conns_per_source}}},
          {"passed", passed},
          {"dropped", dropped},
          {"packets", std::move(packets)},
          {"deny", list_json(s.deny)},
          {"allow", list_json(s.allow)},
          {"sources_tracked", s.sources.size()},
          {"open_connections", open}};
}

void xdp_status_table(const json::object& model, std::ostream& out) {
  Table links({{"INTERFACE"}, {"MODE"}, {"LINK", true}, {"PROG", true}});
  for (const auto& v : arr(model, "interfaces")) {
    const auto& l = v.as_object();
    links.add({str(l, "interface"), str(l, "mode"), std::to_string(u64(l, "link_id")), std::to_string(u64(l, "prog_id"))});
  }
  if (links.rows() == 0) out << "XDP guard attached to no interface\n";
  else links.print(out);
  const auto& cfg = obj(model, "config");
  const auto cap = u64(cfg, "max_conns_per_source");
  out << "\n";
  print_fields(out, {{"SYN rate per source", u64(cfg, "syn_rate") ? std::to_string(u64(cfg, "syn_rate")) + "/s, burst " +
                                                                        std::to_string(u64(cfg, "syn_burst"))
                                                                  : "unlimited"},
                     {"connections per source", cap ? std::to_string(cap) : "unlimited"},
                     {"open connections", std::to_string(u64(model, "open_connections"))},
                     {"sources tracked", std::to_string(u64(model, "sources_tracked"))},
                     {"passed", std::to_string(u64(model, "passed"))},
                     {"dropped", std::to_string(u64(model, "dropped"))}});
  out << "\n";
  Table packets({{"ACTION"}, {"REASON"}, {"PACKETS", true}});
  for (const auto& v : arr(model, "packets")) {
    const auto& p = v.as_object();
    packets.add({str(p, "action"), str(p, "reason"), std::to_string(u64(p, "packets"))});
  }
  packets.print(out);
  for (const char* list : {"deny", "allow"}) {
    out << "\n" << list << " list:";
    if (arr(model, list).empty()) out << " (empty)";
    out << "\n";
    for (const auto& v : arr(model, list)) out << "  " << str(v.as_object(), "cidr") << "  (" << str(v.as_object(), "origin") << ")\n";
  }
}

json::object xdp_top_model(const std::vector<XdpSourceEntry>& sources, std::uint64_t now, std::uint64_t window_seconds,
                           std::size_t limit) {
  const std::uint64_t window_ns = window_seconds * 1'000'000'000ULL;
  std::vector<const XdpSourceEntry*> limited;
  for (const auto& s : sources)
    if (s.state.last_drop_ns && now >= s.state.last_drop_ns && now - s.state.last_drop_ns <= window_ns)
      limited.push_back(&s);
  std::sort(limited.begin(), limited.end(), [](const auto* a, const auto* b) {
    const auto da = a->state.rate_drops + a->state.cap_drops, db = b->state.rate_drops + b->state.cap_drops;
    return da != db ? da > db : std::memcmp(a->source.addr, b->source.addr, 16) < 0;
  });
  const std::size_t matching = limited.size();
  if (limit && limited.size() > limit) limited.resize(limit);
  json::array rows;
  for (const auto* s : limited)
    rows.push_back(json::object{{"source", datapath::to_string(s->source)},
                                {"syns", s->state.syns},
                                {"rate_drops", s->state.rate_drops},
                                {"cap_drops", s->state.cap_drops},
                                {"open_connections", s->open_connections},
                                {"last_drop_ms_ago", (now - s->state.last_drop_ns) / 1'000'000ULL}});
  return {{"window_seconds", window_seconds}, {"limited", matching}, {"shown", rows.size()}, {"sources", std::move(rows)}};
}

void xdp_top_table(const json::object& model, std::ostream& out) {
  Table table({{"SOURCE"}, {"SYNS", true}, {"RATE DROPS", true}, {"CAP DROPS", true}, {"OPEN", true}, {"LAST DROP", true}});
  for (const auto& v : arr(model, "sources")) {
    const auto& s = v.as_object();
    table.add({str(s, "source"), std::to_string(u64(s, "syns")), std::to_string(u64(s, "rate_drops")),
               std::to_string(u64(s, "cap_drops")), std::to_string(u64(s, "open_connections")),
               std::to_string(u64(s, "last_drop_ms_ago")) + " ms ago"});
  }
  if (table.rows() == 0) {
    out << "no source limited in the last " << u64(model, "window_seconds") << " s\n";
    return;
  }
  table.print(out);
}

void xdp_change_table(const json::object& model, std::ostream& out) {
  out << str(model, "message") << "\n";
}

void run_xdp(const Options& options, std::ostream& out) {
  const PinnedXdp pinned(options.bpffs);
  const auto& action = options.xdp_action;
  json::object model;
  void (*table)(const json::object&, std::ostream&) = xdp_change_table;
  if (action == "status") {
    model = xdp_status_model(pinned.snapshot());
    table = xdp_status_table;
  } else if (action == "top") {
    model = xdp_top_model(pinned.snapshot().sources, now_ns(), options.xdp_window_seconds, options.limit);
    table = xdp_top_table;
  } else {
    datapath::Cidr cidr;
    try {
      cidr = datapath::parse_cidr(options.xdp_cidr);
    } catch (const std::invalid_argument& e) {
      throw CtlError(e.what(), kExitUsage);
    }
    const auto text = datapath::to_string(cidr);
    try {
      if (action == "deny" || action == "allow") {
        const auto which = action == "deny" ? XdpList::deny : XdpList::allow;
        pinned.lists().list(which).add(cidr, WSTEER_XDP_ORIGIN_CLI);
        model = {{"action", action}, {"cidr", text}, {"changed", true},
                 {"message", text + " is on the " + action + " list"}};
      } else if (action == "undeny") {
        // Takes the CIDR off whichever list holds exactly it; a covering prefix stays.
        const bool from_deny = pinned.lists().list(XdpList::deny).remove(cidr);
        const bool from_allow = pinned.lists().list(XdpList::allow).remove(cidr);
        std::string message = !from_deny && !from_allow ? text + " was on neither list (only exact prefixes are removed)"
                                                        : text + " removed from the " +
                                                              (from_deny && from_allow ? std::string("deny and allow lists")
                                                               : from_deny            ? std::string("deny list")
                                                                                      : std::string("allow list"));
        model = {{"action", action}, {"cidr", text}, {"changed", from_deny || from_allow},
                 {"removed_from_deny", from_deny}, {"removed_from_allow", from_allow}, {"message", message}};
      } else {
        throw CtlError("unknown xdp command '" + action + "'", kExitUsage);
      }
    } catch (const std::system_error& e) {
      throw CtlError(std::string("xdp ") + action + ": " + e.what());
    }
  }
  if (options.output == OutputFormat::json) print_json(out, model);
  else table(model, out);
}

}  // namespace wsteer::cli
