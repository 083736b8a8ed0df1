// wsteerctl lookup: asks the agent which backend a request with these inputs would get. The key
// policy (--hash-key, sticky cookies, bounded load) lives in the agent, not in the maps, so this
// command needs the running agent and fails clearly without it.
#include "cli/commands.h"
#include "cli/format.h"
#include "cli/json_fields.h"

namespace wsteer::cli {
namespace json = boost::json;

json::object lookup_request(const LookupInputs& in) {
  json::array query, headers;
  for (const auto& q : in.query) query.push_back(json::value(q));
  for (const auto& [name, value] : in.headers) headers.push_back(json::array{json::value(name), json::value(value)});
  json::object request{{"command", "lookup"}, {"path", in.path}, {"query", std::move(query)}, {"headers", std::move(headers)}};
  if (!in.sec_websocket_key.empty()) request["sec_websocket_key"] = in.sec_websocket_key;
  if (!in.cookie.empty()) request["cookie"] = in.cookie;
  if (!in.client_ip.empty()) request["client_ip"] = in.client_ip;
  return request;
}

void lookup_table(const json::object& model, std::ostream& out) {
  std::string candidates, policy;
  for (const auto& c : arr(model, "candidates")) candidates += (candidates.empty() ? "" : ", ") + std::string(c.as_string());
  for (const auto& p : arr(model, "policy")) policy += (policy.empty() ? "" : ",") + std::string(p.as_string());
  const auto backend = str(model, "backend");
  std::vector<std::pair<std::string, std::string>> fields{
      {"backend", backend.empty() ? "NONE (" + str(model, "result") + ")" : backend},
      {"fallbacks", candidates.empty() ? "-" : candidates},
      {"request", "GET " + str(model, "target") + " from " + str(model, "client_ip")},
      {"key policy", policy},
      {"decided by", str(model, "key_source")},
      {"hash key", str(model, "hash_key_source") + " = \"" + str(model, "hash_key") + "\""},
  };
  if (model.contains("home_slot"))
    fields.emplace_back("maglev slot", std::to_string(u64(model, "home_slot")) + " of " + std::to_string(u64(model, "table_size")) +
                                           " (owner " + str(model, "home_slot_backend") + ")");
  fields.emplace_back("reason", str(model, "reason"));
  print_fields(out, fields);
}

}  // namespace wsteer::cli
