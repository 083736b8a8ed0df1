// The backend of the end-to-end tests: a Boost.Beast WebSocket server run as its own process
// (the test binary re-executed with --echo-server) so a test can SIGKILL it like a crashed pod.
//  - every 101 carries "X-Wsteer-Backend: NAME";
//  - messages are echoed with their type; "whoami" answers NAME;
//  - "stream N" answers N bytes of Pattern(N) in binary frames of up to 1 MiB;
//  - "close CODE REASON" makes the server close with that code and reason;
//  - a close from the client is printed as "client-closed CODE REASON" on stdout;
//  - with --first-frame, the server writes its 101 and a text frame "first" in one write().
#pragma once

namespace wsteer::test {

// argv: --echo-server NAME ADDRESS PORT [--first-frame]. Never returns.
[[noreturn]] void echo_server_main(int argc, char** argv);

}  // namespace wsteer::test
