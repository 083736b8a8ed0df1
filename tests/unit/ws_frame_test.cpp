// The frame arithmetic shared by the verdict's walker (bpf/lib/ws_frame.h) and the agent
// (proxy/frame_tracker.h): header lengths, payload lengths, headers cut between skbs.
#include "proxy/frame_tracker.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace wsteer::proxy {
namespace {

// A server frame (unmasked unless `mask`) with `payload` bytes of 'x'.
std::string frame(std::uint64_t payload, bool mask = false, std::uint8_t opcode = 0x2) {
  std::string f;
  f += static_cast<char>(0x80 | opcode);
  const char m = mask ? static_cast<char>(0x80) : 0;
  if (payload < 126) {
    f += static_cast<char>(m | static_cast<char>(payload));
  } else if (payload < 65536) {
    f += static_cast<char>(m | 126);
    f += static_cast<char>(payload >> 8);
    f += static_cast<char>(payload & 0xff);
  } else {
    f += static_cast<char>(m | 127);
    for (int i = 7; i >= 0; --i) f += static_cast<char>((payload >> (8 * i)) & 0xff);
  }
  if (mask) f += std::string("\x01\x02\x03\x04", 4);
  return f + std::string(payload, 'x');
}

TEST(WsFrame, HeaderLengths) {
  EXPECT_EQ(wsteer_ws_header_len(0x05), 2u);
  EXPECT_EQ(wsteer_ws_header_len(126), 4u);
  EXPECT_EQ(wsteer_ws_header_len(127), 10u);
  EXPECT_EQ(wsteer_ws_header_len(0x80 | 5), 6u);
  EXPECT_EQ(wsteer_ws_header_len(0x80 | 127), 14u);
}

TEST(WsFrame, PayloadLengths) {
  for (std::uint64_t n : {0ULL, 1ULL, 125ULL, 126ULL, 65535ULL, 65536ULL, 5'000'000ULL}) {
    const auto f = frame(n);
    EXPECT_EQ(wsteer_ws_payload_len(reinterpret_cast<const std::uint8_t*>(f.data())), n) << n;
  }
}

TEST(WsFrame, WholeStreamEndsAtABoundaryWhateverTheCuts) {
  std::string stream;
  for (std::uint64_t n : {0ULL, 3ULL, 125ULL, 126ULL, 300ULL, 70000ULL, 1ULL}) stream += frame(n);
  stream += frame(10, true) + frame(200, true) + frame(70000, true);
  for (std::size_t cut : {1u, 2u, 3u, 5u, 13u, 64u, 1460u, 65536u}) {
    wsteer_frame_state st{};
    for (std::size_t off = 0; off < stream.size(); off += cut)
      advance_frames(st, stream.data() + off, std::min(cut, stream.size() - off), false);
    EXPECT_TRUE(wsteer_ws_at_boundary(&st)) << "cut " << cut;
    EXPECT_EQ(st.lost, 0);
  }
}

TEST(WsFrame, StopsAtTheFirstBoundary) {
  const std::string stream = frame(300) + frame(5) + frame(70000);
  wsteer_frame_state st{};
  // 100 bytes in: inside the first frame (4-byte header + 300).
  advance_frames(st, stream.data(), 100, false);
  EXPECT_FALSE(wsteer_ws_at_boundary(&st));
  const auto k = advance_frames(st, stream.data() + 100, stream.size() - 100, true);
  EXPECT_EQ(100 + k, 304u);
  EXPECT_TRUE(wsteer_ws_at_boundary(&st));
  EXPECT_EQ(advance_frames(st, stream.data() + 304, 10, true), 0u);  // already at one
}

TEST(WsFrame, HeaderCutInTheMiddleIsCarried) {
  const std::string f = frame(70000);  // 10-byte header
  wsteer_frame_state st{};
  advance_frames(st, f.data(), 6, false);
  EXPECT_EQ(st.hdr_len, 6);
  EXPECT_EQ(st.frame_left, 0u);
  advance_frames(st, f.data() + 6, 4, false);
  EXPECT_EQ(st.hdr_len, 0);
  EXPECT_EQ(st.frame_left, 70000u);
}

}  // namespace
}  // namespace wsteer::proxy
