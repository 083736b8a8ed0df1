// The request semantics of FakeApiServer, without the networking: authentication, RBAC, path
// routing and the verbs, producing either a complete response or the plan of a watch stream.
// Every function here expects the caller to hold the lock that guards ApiState.
#pragma once

#include "harness/fake_apiserver_store.h"

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace wsteer::test::fake {

struct Rule {
  std::string token, verb, group, resource, ns;
  std::vector<std::string> names;  // resourceNames: empty = any; else only requests naming one of them
};

struct ApiState {
  Store store;
  std::vector<std::string> tokens;
  std::map<std::string, std::string> users;
  std::vector<Rule> rules;
  bool unavailable = false;
  bool list_items_type_meta = false;
  std::size_t lists = 0, watches = 0;
  std::vector<std::string> seen_tokens;
  std::vector<std::string> requests;
};

struct WatchPlan {
  const ResourceType* rt = nullptr;
  std::string ns;  // "" = all namespaces
  LabelSelector labels;
  FieldSelector fields;
  bool bookmarks = false;
  std::chrono::seconds timeout{0};
  std::uint64_t cursor = 0;                // events with rv > cursor are still to be sent
  std::vector<std::string> initial_lines;  // synthetic ADDED, or the ERROR event
  bool ends_after_initial = false;         // an ERROR event: the stream ends after it
};

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;

struct Outcome {
  Response response;
  std::optional<WatchPlan> watch;  // set: stream this watch instead of sending response
  bool store_changed = false;      // watches must be woken
};

Outcome handle_request(ApiState& state, const Request& req);

// Event lines ("{...}\n") for the events after plan.cursor that the watch sees; advances the cursor
// to the store's revision.
std::vector<std::string> next_watch_lines(const ApiState& state, WatchPlan& plan);
std::string bookmark_line(const WatchPlan& plan);
// The first half of an event line, for drop_connections(mid_event).
std::string partial_line(const WatchPlan& plan);

}  // namespace wsteer::test::fake
