/* SPDX-License-Identifier: MIT */
/*
 * cap.h - packet capture for `ipnetback capture`: sessions that each see
 * one vif's frames, both directions or one, through the data path's tap
 * (dp_set_tap), with a bounded buffer drained to the client's socket; and
 * the record format on that socket, which the CLI reads.
 *
 * On the wire, after the control socket's answer line ("capture D/V\n"),
 * the daemon sends records until the capture ends: a struct cap_rec, then
 * caplen bytes of the frame. Host byte order: both ends are on one host.
 *
 * Usage contract:
 *  - The control socket (ctl.c) hands a connection over with cap_add()
 *    once it has sent the answer line; the session owns the fd from then
 *    on. Its socket joins the epoll set given to cap_new(), tagged
 *    tag_base + session index; events on it go to cap_handle().
 *  - Frames are seen only while a session exists: cap installs the data
 *    path's tap with the first session and removes it with the last, so a
 *    daemon nobody captures on pays one test per packet.
 *  - Seeing a frame never blocks and never fails: a record that does not
 *    fit in the session's buffer (CAP_BUF_BYTES) is dropped and counted,
 *    and the count goes to the client with the next record.
 *  - cap_flush() sends what is buffered, without blocking; the main loop
 *    calls it after each data-path pass. A session ends when its client
 *    goes away (EOF, reset), and when its vif goes away, once what is
 *    buffered has been sent.
 *  - Single-threaded, like the data path.
 */
#ifndef IPNB_CAP_H
#define IPNB_CAP_H

#include <stdbool.h>
#include <stdint.h>

/* Which way a frame went, seen from dom0 as `tcpdump -i vifD.N` sees it. */
enum cap_dir {
	CAP_DIR_IN = 1,	 /* sent by the guest (its TX ring) */
	CAP_DIR_OUT = 2, /* delivered to the guest (its RX ring) */
};

struct cap_rec {
	uint64_t ts_usec; /* wall clock, microseconds since the epoch */
	uint32_t caplen;  /* frame bytes that follow (at most the snap length) */
	uint32_t len;	  /* the frame's whole length */
	uint32_t dropped; /* records this capture lost since the previous one */
	uint8_t dir;	  /* enum cap_dir */
	uint8_t pad[3];	  /* zero */
};

#define CAP_MAX_SESSIONS 8
/* A session's buffer: records wait here for the client to read them. */
#define CAP_BUF_BYTES ((uint32_t)2 << 20)
/* Snap lengths: at least an Ethernet header, at most the largest frame
 * (a 64 KiB GSO packet and its Ethernet header). */
#define CAP_SNAPLEN_MIN 14u
#define CAP_SNAPLEN_MAX 65550u

struct cap;
struct dp;

struct cap *cap_new(struct dp *dp, int ep, uint32_t tag_base);
/* Ends every session (closing its socket) and removes the tap. */
void cap_free(struct cap *c);
/*
 * A new session on fd for vif domid/devid: dirs is a mask of enum cap_dir,
 * snaplen within CAP_SNAPLEN_MIN..CAP_SNAPLEN_MAX. hello (the answer line)
 * is sent ahead of the first record. Returns 0, or -1 (fd untouched) when
 * CAP_MAX_SESSIONS run already or a resource is short.
 */
int cap_add(struct cap *c, int fd, uint16_t domid, uint32_t devid, unsigned int dirs,
	    uint32_t snaplen, const char *hello);
bool cap_full(const struct cap *c);
void cap_handle(struct cap *c, uint32_t idx, uint32_t events);
void cap_flush(struct cap *c);

/* What the daemon reports: sessions running, and over its whole life the
 * records sent to clients and dropped for want of buffer space. */
struct cap_stats {
	unsigned int sessions;
	uint64_t records, drops;
};
void cap_get_stats(const struct cap *c, struct cap_stats *st);

#endif
