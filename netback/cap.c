/* SPDX-License-Identifier: MIT */
/*
 * cap.c - capture sessions (see include/ipnb/cap.h): the data path's tap
 * copies each frame of a captured vif into the session's buffer as a
 * record, and the main loop drains the buffers to the clients' sockets.
 */
#include "ipnb/cap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ipnb/dp.h"
#include "ipnb/log.h"

struct cap_sess {
	int fd; /* -1: slot free */
	uint16_t domid;
	uint32_t devid;
	unsigned int dirs; /* enum cap_dir mask */
	uint32_t snaplen;
	/* The vif went away: the session ends once buf is sent. */
	bool gone;
	/* EPOLLOUT is asked for: buf has bytes the socket did not take. */
	bool want_out;
	/* Unsent bytes are buf[off .. off+len). */
	uint8_t *buf;
	size_t off, len;
	uint32_t dropped; /* since the last record buffered */
	uint64_t records, drops;
};

struct cap {
	struct dp *dp;
	int ep;
	uint32_t tag_base;
	unsigned int n; /* sessions running */
	uint64_t records, drops;
	struct cap_sess s[CAP_MAX_SESSIONS];
};

static void tap_packet(void *arg, uint16_t domid, uint32_t devid, bool out, const uint8_t *frame,
		       size_t len);
static void tap_gone(void *arg, uint16_t domid, uint32_t devid);

struct cap *cap_new(struct dp *dp, int ep, uint32_t tag_base)
{
	struct cap *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->dp = dp;
	c->ep = ep;
	c->tag_base = tag_base;
	for (size_t i = 0; i < CAP_MAX_SESSIONS; i++)
		c->s[i].fd = -1;
	return c;
}

static void sess_end(struct cap *c, struct cap_sess *s, const char *why)
{
	log_info("capture of vif %u/%u ended (%s): %llu packets, %llu dropped", s->domid, s->devid,
		 why, (unsigned long long)s->records, (unsigned long long)s->drops);
	/* Closing the fd also takes it out of the epoll set. */
	close(s->fd);
	free(s->buf);
	memset(s, 0, sizeof(*s));
	s->fd = -1;
	/* The last one takes the tap away: nothing is looked at any more. */
	if (--c->n == 0)
		dp_set_tap(c->dp, NULL);
}

void cap_free(struct cap *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < CAP_MAX_SESSIONS; i++)
		if (c->s[i].fd >= 0)
			sess_end(c, &c->s[i], "daemon stopping");
	free(c);
}

static void sess_poll(struct cap *c, struct cap_sess *s, bool out)
{
	/* EPOLLIN|EPOLLRDHUP always: the client going away ends the session
	 * even when nothing is captured. */
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | (out ? EPOLLOUT : 0),
				 .data.u32 = c->tag_base + (uint32_t)(s - c->s)};

	if (epoll_ctl(c->ep, EPOLL_CTL_MOD, s->fd, &ev) == 0)
		s->want_out = out;
}

bool cap_full(const struct cap *c)
{
	return c->n == CAP_MAX_SESSIONS;
}

int cap_add(struct cap *c, int fd, uint16_t domid, uint32_t devid, unsigned int dirs,
	    uint32_t snaplen, const char *hello)
{
	struct cap_sess *s = NULL;

	for (size_t i = 0; i < CAP_MAX_SESSIONS && !s; i++)
		if (c->s[i].fd < 0)
			s = &c->s[i];
	if (!s)
		return -1;
	s->buf = malloc(CAP_BUF_BYTES);
	if (!s->buf)
		return -1;
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP,
				 .data.u32 = c->tag_base + (uint32_t)(s - c->s)};

	if (epoll_ctl(c->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		free(s->buf);
		s->buf = NULL;
		return -1;
	}
	s->fd = fd;
	s->domid = domid;
	s->devid = devid;
	s->dirs = dirs;
	s->snaplen = snaplen;
	s->len = strlen(hello); /* much shorter than the buffer */
	memcpy(s->buf, hello, s->len);
	if (c->n++ == 0) {
		const struct dp_tap_ops ops = {.packet = tap_packet, .gone = tap_gone, .arg = c};

		dp_set_tap(c->dp, &ops);
	}
	log_info("capture of vif %u/%u started (%s%s, snap length %u)", domid, devid,
		 dirs & CAP_DIR_IN ? "in" : "", dirs & CAP_DIR_OUT ? "out" : "", snaplen);
	/* The answer line goes out now, not with the first packet. */
	cap_flush(c);
	return 0;
}

static void tap_packet(void *arg, uint16_t domid, uint32_t devid, bool out, const uint8_t *frame,
		       size_t len)
{
	struct cap *c = arg;
	unsigned int dir = out ? CAP_DIR_OUT : CAP_DIR_IN;
	struct timespec ts = {0, 0};
	bool stamped = false;

	for (size_t i = 0; i < CAP_MAX_SESSIONS; i++) {
		struct cap_sess *s = &c->s[i];
		uint32_t caplen = len < s->snaplen ? (uint32_t)len : s->snaplen;
		size_t need = sizeof(struct cap_rec) + caplen;

		if (s->fd < 0 || s->gone || s->domid != domid || s->devid != devid ||
		    !(s->dirs & dir))
			continue;
		if (s->len + need > CAP_BUF_BYTES) {
			s->dropped++;
			s->drops++;
			c->drops++;
			continue;
		}
		/* Room at the end, or made by moving what is unsent to the
		 * front: bytes sent leave a gap before off. */
		if (s->off + s->len + need > CAP_BUF_BYTES) {
			memmove(s->buf, s->buf + s->off, s->len);
			s->off = 0;
		}
		if (!stamped) {
			clock_gettime(CLOCK_REALTIME, &ts);
			stamped = true;
		}
		const struct cap_rec r = {
		    .ts_usec = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u,
		    .caplen = caplen,
		    .len = (uint32_t)len,
		    .dropped = s->dropped,
		    .dir = (uint8_t)dir,
		};
		uint8_t *at = s->buf + s->off + s->len;

		memcpy(at, &r, sizeof(r));
		memcpy(at + sizeof(r), frame, caplen);
		s->len += need;
		s->dropped = 0;
		s->records++;
		c->records++;
	}
}

static void tap_gone(void *arg, uint16_t domid, uint32_t devid)
{
	struct cap *c = arg;

	for (size_t i = 0; i < CAP_MAX_SESSIONS; i++) {
		struct cap_sess *s = &c->s[i];

		if (s->fd >= 0 && s->domid == domid && s->devid == devid)
			s->gone = true;
	}
}

/* Sends what the socket takes. False if the client is gone. */
static bool sess_send(struct cap *c, struct cap_sess *s)
{
	while (s->len) {
		ssize_t w = send(s->fd, s->buf + s->off, s->len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			if (!s->want_out)
				sess_poll(c, s, true);
			return true;
		}
		if (w <= 0)
			return false;
		s->off += (size_t)w;
		s->len -= (size_t)w;
	}
	s->off = 0;
	if (s->want_out)
		sess_poll(c, s, false);
	return true;
}

void cap_flush(struct cap *c)
{
	for (size_t i = 0; c->n && i < CAP_MAX_SESSIONS; i++) {
		struct cap_sess *s = &c->s[i];

		if (s->fd < 0)
			continue;
		if (!sess_send(c, s))
			sess_end(c, s, "the reader went away");
		else if (s->gone && s->len == 0)
			sess_end(c, s, "the vif went away");
	}
}

void cap_handle(struct cap *c, uint32_t idx, uint32_t events)
{
	struct cap_sess *s;
	char junk[256];
	ssize_t n;

	if (idx >= CAP_MAX_SESSIONS || c->s[idx].fd < 0)
		return;
	s = &c->s[idx];
	/* The client has nothing more to say: what it sends is read and
	 * ignored (a bounded amount per event), and its EOF or a reset ends
	 * the session. */
	for (int i = 0; (n = recv(s->fd, junk, sizeof(junk), MSG_DONTWAIT)) > 0 && i < 16; i++)
		;
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) ||
	    (events & (EPOLLHUP | EPOLLERR))) {
		sess_end(c, s, "the reader went away");
		return;
	}
	if ((events & EPOLLOUT) && !sess_send(c, s))
		sess_end(c, s, "the reader went away");
}

void cap_get_stats(const struct cap *c, struct cap_stats *st)
{
	st->sessions = c->n;
	st->records = c->records;
	st->drops = c->drops;
}
