/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ws_frame.h: WebSocket frame header arithmetic (RFC 6455 section 5.2), shared by the verdict's
 * frame walker (lib/frame_walk.h) and the agent (C++), so both agree to the byte on where a frame
 * ends. Header: 2 bytes, +2 when the 7-bit length is 126, +8 when it is 127, +4 when the mask bit
 * is set (server frames are unmasked, but a walker that trusted that would lose its place).
 * Pure functions over struct wsteer_frame_state, no helpers: usable from BPF and from C++.
 */
#ifndef WSTEER_BPF_LIB_WS_FRAME_H
#define WSTEER_BPF_LIB_WS_FRAME_H

#include "wsteer_abi.h"

#ifdef __cplusplus
#define WSTEER_WS_INLINE inline
#else
#define WSTEER_WS_INLINE static __always_inline
#endif

#define WSTEER_WS_MAX_HEADER 14

/* The whole header's length, known from its second byte. */
WSTEER_WS_INLINE __u32 wsteer_ws_header_len(__u8 b1)
{
	__u32 n = 2;
	__u8 len7 = b1 & 0x7f;
	if (len7 == 126)
		n += 2;
	else if (len7 == 127)
		n += 8;
	if (b1 & 0x80)
		n += 4;
	return n;
}

/* The payload length of a complete header (network byte order, 7, 16 or 64 bits). */
WSTEER_WS_INLINE __u64 wsteer_ws_payload_len(const __u8 *h)
{
	__u8 len7 = h[1] & 0x7f;
	if (len7 < 126)
		return len7;
	if (len7 == 126)
		return ((__u64)h[2] << 8) | h[3];
	__u64 v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | h[2 + i];
	return v;
}

/* At a frame boundary: the next byte starts a header. */
WSTEER_WS_INLINE int wsteer_ws_at_boundary(const struct wsteer_frame_state *st)
{
	return st->frame_left == 0 && st->hdr_len == 0;
}

/* Takes one header byte; returns 1 once the header is complete (the state is then in the payload,
 * or at the next boundary for an empty frame). The index is masked so the verifier sees it bounded. */
WSTEER_WS_INLINE int wsteer_ws_header_byte(struct wsteer_frame_state *st, __u8 b)
{
	st->hdr[st->hdr_len & 15] = b;
	st->hdr_len++;
	if (st->hdr_len >= 2 && st->hdr_len >= wsteer_ws_header_len(st->hdr[1])) {
		st->frame_left = wsteer_ws_payload_len(st->hdr);
		st->hdr_len = 0;
		return 1;
	}
	return 0;
}

#endif
