#include "steering/maglev_steering.h"

#include "steering/maglev.h"
#include "steering/request_cookies.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <bitset>
#include <cmath>

namespace wsteer::steering {

namespace {

// How many passed-over backends the reason names before summing up the rest.
constexpr std::size_t kReasonSkipsNamed = 8;

std::string default_name(const Endpoint& e) {
  const auto host = e.address.is_v6() ? "[" + e.address.to_string() + "]" : e.address.to_string();
  return host + ":" + std::to_string(e.port);
}

// The reason string of a choice: the slot, then which backends were passed over and why.
class SkipLog {
 public:
  void add(const std::string& name, std::string_view why) {
    if (count_++ < kReasonSkipsNamed) text_ += (text_.empty() ? "" : ", ") + name + " (" + std::string(why) + ")";
  }
  std::string reason(std::uint32_t slot) const {
    std::string r = "slot " + std::to_string(slot);
    if (count_ == 0) return r;
    r += "; passed over " + text_;
    if (count_ > kReasonSkipsNamed) r += " and " + std::to_string(count_ - kReasonSkipsNamed) + " more";
    return r;
  }

 private:
  std::size_t count_ = 0;
  std::string text_;
};

}  // namespace

MaglevSteering::MaglevSteering(const SteeringConfig& config, MaglevSteeringOptions options)
    : config_(config), key_policy_(config.hash_key), backends_(options.breaker, std::move(options.monotonic_clock), std::move(options.ids)) {
  validate_steering_config(config_);
  if (!config_.cookie.name.empty()) cookies_.emplace(config_.cookie);
  auto empty = std::make_shared<Generation>();
  empty->member_index.fill(-1);
  empty->table = std::make_shared<const std::vector<std::uint32_t>>();
  generation_ = std::move(empty);
}

std::shared_ptr<const MaglevSteering::Generation> MaglevSteering::current() const {
  std::lock_guard lock(generation_mutex_);
  return generation_;
}

MaglevSteering::Verdict MaglevSteering::verdict(const Member& member, std::chrono::steady_clock::time_point now) const {
  const auto id = member.backend.id;
  if (member.listed_draining || backends_.operator_draining(id)) return Verdict::draining;
  if (backends_.unhealthy(id, now)) return Verdict::unhealthy;
  if (member.max_connections != 0 && backends_.active(id) >= member.max_connections) return Verdict::full;
  return Verdict::usable;
}

std::optional<double> MaglevSteering::load_cap_per_weight(const Generation& generation,
                                                          std::chrono::steady_clock::time_point now) const {
  if (config_.balance_factor <= 0) return std::nullopt;
  std::uint64_t active = 0;
  std::uint64_t weight = 0;
  for (const auto& member : generation.members) {
    if (verdict(member, now) != Verdict::usable) continue;
    active += backends_.active(member.backend.id);
    weight += member.weight;
  }
  if (weight == 0) return std::nullopt;
  return config_.balance_factor * static_cast<double>(active + 1) / static_cast<double>(weight);
}

const MaglevSteering::Member* MaglevSteering::sticky_target(const Generation& generation, const Request& request,
                                                            std::chrono::steady_clock::time_point now) const {
  if (!cookies_) return nullptr;
  const auto value = find_request_cookie(request, cookies_->name());
  if (!value) return nullptr;
  // Forged, expired or garbled: hash as if there were no cookie.
  const auto name = cookies_->decode(*value, std::chrono::system_clock::now());
  if (!name) return nullptr;
  const auto it = std::lower_bound(generation.members.begin(), generation.members.end(), *name,
                                   [](const Member& m, const std::string& n) { return m.backend.name < n; });
  if (it == generation.members.end() || it->backend.name != *name || verdict(*it, now) != Verdict::usable) return nullptr;
  return &*it;
}

Choice MaglevSteering::choose(const Request& request, const boost::asio::ip::address& client,
                              std::size_t max_tries) const {
  const auto generation = current();
  Choice choice;
  const auto& table = *generation->table;
  if (table.empty()) {
    choice.reason = "no backend in the Maglev table";
    return choice;
  }
  const auto now = backends_.now();
  const std::size_t wanted = std::max<std::size_t>(max_tries, 1);

  const Member* sticky = sticky_target(*generation, request, now);
  if (sticky) choice.candidates.push_back(sticky->backend);
  const auto key = key_policy_.key_for(request, client);
  choice.key_source = sticky ? "sticky-cookie" : key.source;

  // Walk the key's preference order until enough candidates turn up or every backend was seen.
  const auto cap_per_weight = load_cap_per_weight(*generation, now);
  std::vector<const Member*> over_cap;   // usable but over the bounded-load cap: last-resort fallbacks
  std::vector<const Member*> unhealthy;  // tried only when nothing healthy is left
  bool any_full = false;
  SkipLog skips;
  std::bitset<kMaxBackends> seen;
  std::uint32_t distinct_seen = 0;
  MaglevWalk walk(maglev_key_hash(key.value, config_.seed), static_cast<std::uint32_t>(table.size()));
  for (std::size_t probe = 0; probe < table.size() && distinct_seen < generation->table_members &&
                              choice.candidates.size() < wanted;
       ++probe, walk.advance()) {
    const auto id = table[walk.slot()];
    if (seen.test(id)) continue;
    seen.set(id);
    ++distinct_seen;
    if (sticky && id == sticky->backend.id) continue;
    const Member& member = *generation->member(id);
    switch (verdict(member, now)) {
      case Verdict::usable:
        if (cap_per_weight &&
            backends_.active(id) >= static_cast<std::uint64_t>(std::ceil(*cap_per_weight * member.weight))) {
          skips.add(member.backend.name, "over load cap");
          if (over_cap.size() < wanted) over_cap.push_back(&member);
        } else {
          choice.candidates.push_back(member.backend);
        }
        break;
      case Verdict::draining:
        skips.add(member.backend.name, "draining");
        break;
      case Verdict::unhealthy:
        skips.add(member.backend.name, "unhealthy");
        if (unhealthy.size() < wanted) unhealthy.push_back(&member);
        break;
      case Verdict::full:
        skips.add(member.backend.name, "full");
        any_full = true;
        break;
    }
  }
  choice.reason = skips.reason(walk.home_slot());

  // Fallback depth: an overloaded backend beats none when the preferred ones refuse. (Some usable
  // backend is always under its cap, so over_cap alone is only possible through racing updates.)
  for (const Member* m : over_cap)
    if (choice.candidates.size() < wanted) choice.candidates.push_back(m->backend);
  if (choice.candidates.empty() && !unhealthy.empty()) {
    // Every backend that could take the connection is marked unhealthy: a circuit breaker tripped
    // by a network blip must not turn into an outage, so try them anyway.
    for (const Member* m : unhealthy) choice.candidates.push_back(m->backend);
    choice.reason += "; every usable backend is unhealthy, trying anyway";
  }
  if (choice.candidates.empty()) {
    choice.result = any_full ? Choice::Result::all_full : Choice::Result::no_backends;
    return choice;
  }
  choice.result = Choice::Result::ok;
  return choice;
}

std::optional<std::string> MaglevSteering::sticky_cookie(const Backend& backend) const {
  if (!cookies_) return std::nullopt;
  return cookies_->set_cookie(backend.name, std::chrono::system_clock::now());
}

void MaglevSteering::update_endpoints(const EndpointList& endpoints) {
  std::lock_guard lock(update_mutex_);

  EndpointList listed = endpoints;
  for (auto& e : listed)
    if (e.name.empty()) e.name = default_name(e);
  std::stable_sort(listed.begin(), listed.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  const auto duplicate = std::adjacent_find(listed.begin(), listed.end(), [](const auto& a, const auto& b) { return a.name == b.name; });
  if (duplicate != listed.end()) spdlog::warn("steering: endpoint name {} listed more than once; first one kept", duplicate->name);
  listed.erase(std::unique(listed.begin(), listed.end(), [](const auto& a, const auto& b) { return a.name == b.name; }),
               listed.end());

  std::vector<Backend> wanted;
  wanted.reserve(listed.size());
  for (const auto& e : listed) wanted.push_back({0, e.name, e.address, e.port});
  const auto ids = backends_.relist(wanted);

  auto generation = std::make_shared<Generation>();
  generation->member_index.fill(-1);
  std::vector<MaglevMember> maglev_members;
  for (std::size_t i = 0; i < listed.size(); ++i) {
    if (!ids[i]) continue;
    Member member;
    member.backend = wanted[i];
    member.backend.id = *ids[i];
    member.weight = listed[i].weight;
    member.max_connections = listed[i].max_connections;
    // Weight 0 means "no new connections", like draining, rather than an error in the list.
    member.listed_draining = listed[i].draining || listed[i].weight == 0;
    if (!member.listed_draining) maglev_members.push_back({member.backend.name, member.weight, member.backend.id});
    generation->member_index[member.backend.id] = static_cast<std::int32_t>(generation->members.size());
    generation->members.push_back(std::move(member));
  }
  auto table = build_maglev_table(maglev_members, config_.maglev_size, config_.seed);
  for (const auto id : table) {
    auto& member = generation->members[static_cast<std::size_t>(generation->member_index[id])];
    // Counted from the table: a member whose weight is tiny next to the others may own no slot.
    if (member.slots++ == 0) ++generation->table_members;
  }
  generation->table = std::make_shared<const std::vector<std::uint32_t>>(std::move(table));
  if (config_.maglev_size < 100ULL * maglev_members.size())
    spdlog::warn("steering: maglev-size {} is below 100 x {} backends; shares and key movement get coarse",
                 config_.maglev_size, maglev_members.size());

  {
    std::lock_guard swap_lock(generation_mutex_);
    generation_ = std::move(generation);
  }
  version_.fetch_add(1, std::memory_order_relaxed);
}

void MaglevSteering::on_connect_failed(std::uint32_t backend_id) { backends_.on_connect_failed(backend_id); }
void MaglevSteering::on_connected(std::uint32_t backend_id) { backends_.on_connected(backend_id); }
void MaglevSteering::on_closed(std::uint32_t backend_id) { backends_.on_closed(backend_id); }
bool MaglevSteering::set_draining(const std::string& name, bool draining) { return backends_.set_draining(name, draining); }
void MaglevSteering::set_healthy(std::uint32_t backend_id, bool healthy) { backends_.set_probe_healthy(backend_id, healthy); }

std::vector<BackendStatus> MaglevSteering::snapshot() const {
  const auto generation = current();
  const auto now = backends_.now();
  const auto table_size = static_cast<double>(std::max<std::size_t>(generation->table->size(), 1));
  std::vector<BackendStatus> statuses;
  const auto add = [&](const Backend& backend, BackendState state) -> BackendStatus& {
    const auto counters = backends_.counters(backend.id);
    auto& s = statuses.emplace_back();
    s.backend = backend;
    s.state = state;
    s.active_connections = counters.active_connections;
    s.total_connections = counters.total_connections;
    s.connect_failures = counters.connect_failures;
    return s;
  };
  for (const auto& member : generation->members) {
    const auto v = verdict(member, now);
    auto& s = add(member.backend, v == Verdict::draining    ? BackendState::draining
                                  : v == Verdict::unhealthy ? BackendState::unhealthy
                                                            : BackendState::active);
    s.weight = member.weight;
    s.max_connections = member.max_connections;
    s.maglev_share = member.slots / table_size;
  }
  for (const auto& backend : backends_.unlisted()) {
    // Left the list since the last generation was built but not yet freed: draining.
    if (generation->member(backend.id)) continue;
    auto& s = add(backend, BackendState::draining);
    s.weight = 0;
    s.listed = false;
  }
  return statuses;
}

std::shared_ptr<const std::vector<std::uint32_t>> MaglevSteering::maglev_table() const {
  return current()->table;
}

std::uint64_t MaglevSteering::endpoints_version() const { return version_.load(std::memory_order_relaxed); }

}  // namespace wsteer::steering
