// wsteer-demo: the echo backend and the client burst of scripts/demo.sh.
//   wsteer-demo serve --name b0 --listen 10.78.10.2:9000
//   wsteer-demo clients --connect 10.78.1.1:8080 --count 300
#include "demo/burst.h"
#include "demo/echo_server.h"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  CLI::App app{"wsteer-demo: echo backends and a burst of WebSocket clients for the wsteer demo"};
  app.require_subcommand(1);
  std::string name, listen_host = "0.0.0.0", connect_host = "127.0.0.1";
  unsigned short listen_port = 9000, connect_port = 8080;
  int count = 300;
  auto* serve = app.add_subcommand("serve", "run an echo backend that names itself in its 101");
  serve->add_option("--name", name, "backend name (X-Wsteer-Backend)")->required();
  serve->add_option("--host", listen_host, "address to listen on");
  serve->add_option("--port", listen_port, "port to listen on");
  auto* clients = app.add_subcommand("clients", "open, echo and close a burst of connections");
  clients->add_option("--host", connect_host, "agent address");
  clients->add_option("--port", connect_port, "agent port");
  clients->add_option("--count", count, "connections");
  CLI11_PARSE(app, argc, argv);

  if (*serve) {
    wsteer::demo::run_echo_server(name, listen_host, listen_port, false);
    return 0;
  }
  const auto result = wsteer::demo::run_burst(connect_host, connect_port, count);
  std::printf("%d connections echoed, %d failed\n\n  %-10s %12s\n", result.echoed, result.failed, "backend", "connections");
  for (const auto& [backend, n] : result.per_backend)
    std::printf("  %-10s %12d  %s\n", backend.c_str(), n, std::string(n * 40 / std::max(1, result.echoed), '#').c_str());
  return result.failed == 0 ? 0 : 1;
}
