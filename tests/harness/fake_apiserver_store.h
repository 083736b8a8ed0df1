// The object store behind FakeApiServer: what etcd plus the registry do for the few resources
// wsteer uses. One global revision counter (resourceVersions are its decimal strings), a full
// event history (so a watch can replay from any revision and a paginated or exact list can be
// served as of an older revision), and a compaction mark below which history counts as gone.
// Not thread-safe: FakeApiServer serialises access.
#pragma once

#include <boost/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wsteer::test::fake {

struct ResourceType {
  std::string group;     // "" for the core group
  std::string version;
  std::string resource;  // plural, as in the path
  std::string kind;
  bool has_status = false;  // status is a subresource: writes to the main resource keep the stored status
  bool has_scale = false;   // serves .../NAME/scale as autoscaling/v1 Scale backed by spec.replicas
  std::string group_version() const { return group.empty() ? version : group + "/" + version; }
  // "endpointslices.discovery.k8s.io", "pods": how the real server names it in messages.
  std::string qualified() const { return group.empty() ? resource : resource + "." + group; }
};

// The served resources (all namespaced). nullptr when unknown.
const ResourceType* find_resource_type(std::string_view group, std::string_view version, std::string_view resource);
// group_version as in apiVersion ("v1", "apps/v1"). Throws std::invalid_argument when unknown.
const ResourceType& resource_type(std::string_view group_version, std::string_view resource);

// Equality-based label selectors as the real server parses them: "k=v", "k==v", "k!=v", "k",
// "!k", comma meaning AND. Set-based selectors (in, notin) are not supported and throw.
class LabelSelector {
 public:
  // Throws std::invalid_argument with a message for a 400 response.
  static LabelSelector parse(std::string_view text);
  bool matches(const boost::json::object& obj) const;
  bool empty() const { return reqs_.empty(); }

 private:
  enum class Op { kEq, kNotEq, kExists, kNotExists };
  struct Req {
    std::string key;
    Op op;
    std::string value;
  };
  std::vector<Req> reqs_;
};

// Field selectors on metadata.name and metadata.namespace ("=", "==", "!="), comma meaning AND.
class FieldSelector {
 public:
  static FieldSelector parse(std::string_view text);  // throws std::invalid_argument
  bool matches(const boost::json::object& obj) const;
  bool empty() const { return reqs_.empty(); }

 private:
  struct Req {
    std::string field;
    bool negate;
    std::string value;
  };
  std::vector<Req> reqs_;
};

// RFC 7386 JSON merge patch, applied in place.
void merge_patch(boost::json::value& target, const boost::json::value& patch);

std::string_view json_string(const boost::json::object& obj, std::string_view key);  // "" when absent
std::string_view meta_string(const boost::json::object& obj, std::string_view key);  // metadata.key or ""

enum class EventType { kAdded, kModified, kDeleted };
const char* event_type_name(EventType type);

struct StoredEvent {
  std::uint64_t rv;
  EventType type;
  const ResourceType* rt;
  std::string ns, name;
  boost::json::object object;               // state after the event (for DELETED: the last state, at the deletion RV)
  std::optional<boost::json::object> prev;  // state before (MODIFIED, DELETED)
};

class Store {
 public:
  std::uint64_t revision() const { return revision_; }
  std::uint64_t compacted() const { return compacted_; }
  // Revisions up to now count as gone for watches and exact reads (the events are kept in memory
  // only because live watches may still be reading them).
  void compact() { compacted_ = revision_; }

  const boost::json::object* get(const ResourceType& rt, std::string_view ns, std::string_view name) const;
  // Current objects in etcd key order (namespace, then name); ns "" = all namespaces.
  std::vector<const boost::json::object*> list(const ResourceType& rt, std::string_view ns) const;
  // The same, as of revision rv (replayed from the history).
  std::vector<boost::json::object> list_at(const ResourceType& rt, std::string_view ns, std::uint64_t rv) const;

  // Writes stamp metadata (resourceVersion, uid, creationTimestamp, generation) and append an
  // event. The object must carry metadata.namespace and metadata.name.
  const boost::json::object& create(const ResourceType& rt, boost::json::object obj);
  // Replaces the stored object (uid and creationTimestamp kept; generation bumped when anything
  // outside metadata and status changed). An update that changes nothing is a no-op as in the
  // real server: no new revision, no event; *changed tells which.
  const boost::json::object& update(const ResourceType& rt, boost::json::object obj, bool* changed = nullptr);
  // Returns the deleted object, stamped with the deletion's resourceVersion.
  boost::json::object remove(const ResourceType& rt, std::string_view ns, std::string_view name);

  // Events of rt with rv > after, in order.
  std::vector<const StoredEvent*> events_after(const ResourceType& rt, std::uint64_t after) const;

 private:
  using Objects = std::map<std::string, boost::json::object>;  // key "ns/name", sorts like etcd's
  std::uint64_t revision_ = 0;
  std::uint64_t compacted_ = 0;
  std::map<const ResourceType*, Objects> objects_;
  std::vector<StoredEvent> history_;
};

std::string object_key(std::string_view ns, std::string_view name);

}  // namespace wsteer::test::fake
