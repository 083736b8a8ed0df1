// wsteerctl drain / undrain: operator drain through the agent's control socket. The state lives in
// the agent's memory (an agent restart forgets it); the endpoints file's `drain` is the durable way.
#include "cli/commands.h"
#include "cli/json_fields.h"

namespace wsteer::cli {

void drain_table(const boost::json::object& model, std::ostream& out) {
  out << str(model, "backend") << ": " << str(model, "state");
  if (str(model, "state") == "draining")
    out << " (no new connections; its " << u64(model, "active_connections") << " open connections stay until they end)";
  out << "\n";
}

}  // namespace wsteer::cli
