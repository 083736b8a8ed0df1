// The echo backend of the demo and of the end-to-end tests: a Boost.Beast WebSocket server meant
// to run as its own process (so a test can SIGKILL it like a crashed pod).
//  - every 101 carries "X-Wsteer-Backend: NAME"; an upgrade of /reject is answered 403;
//  - an upgrade of /source/N streams N bytes of Pattern(N) in 16 KiB binary frames right behind
//    the 101, then echoes as usual;
//  - messages are echoed with their type; "whoami" answers NAME;
//  - "stream N [RATE]" answers N bytes of Pattern(N) in binary frames of up to 1 MiB (64 KiB
//    frames at no more than RATE bytes/s when RATE is given), then prints
//    "streamed N at T" (steady clock, ms);
//  - "slowsink N RATE PAUSE_MS" reads N bytes of Pattern(N) slowly (after a pause, at RATE B/s),
//    answers "sunk N ok|bad" and prints "sunk N at T";
//  - "close CODE REASON" makes the server close with that code and reason;
//  - a close from the client is printed as "client-closed CODE REASON" on stdout;
//  - with --first-frame, the server writes its 101 and a text frame "first" in one write();
//  - requests without Upgrade are plain HTTP (demo/http_endpoints.h).
#pragma once

#include <string>

namespace wsteer::demo {

// Serves on ADDRESS:PORT until the process is killed. Throws if it cannot listen.
void run_echo_server(const std::string& name, const std::string& address, unsigned short port, bool first_frame);

}  // namespace wsteer::demo
