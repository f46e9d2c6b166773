/* SPDX-License-Identifier: MIT */
/*
 * journal.c - the response journal (see include/ipnb/journal.h): one page
 * per vif queue, a shared mapping of a file in the state directory, so that what
 * the process stored is in the page cache the moment it stores it and
 * survives a SIGKILL (not a host crash, which takes the guests too).
 */
#include "ipnb/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define JR_MAGIC   0x4a424e49u /* "INBJ" */
#define JR_VERSION 1u

_Static_assert(sizeof(netif_tx_response_t) == 4, "TX response size");
_Static_assert(sizeof(netif_rx_response_t) == 8, "RX response size");

struct jr_page {
	uint32_t magic, version;
	uint32_t domid, devid;
	struct jr_ident id;
	struct {
		uint32_t base, n;
	} ring[JR_RINGS];
	uint8_t tx[JR_MAX_RSP * sizeof(netif_tx_response_t)];
	uint8_t rx[JR_MAX_RSP * sizeof(netif_rx_response_t)];
};
_Static_assert(sizeof(struct jr_page) <= XEN_PAGE_SIZE_BYTES, "journal fits a page");

struct jr {
	struct jr_page *pg;
	bool mapped;
	int dirfd;
	char name[40];
};

static const size_t rsp_size[JR_RINGS] = {sizeof(netif_tx_response_t), sizeof(netif_rx_response_t)};

static uint8_t *entries(struct jr_page *pg, enum jr_ring r)
{
	return r == JR_TX ? pg->tx : pg->rx;
}

struct jr *jr_open(int dirfd, uint16_t domid, uint32_t devid, unsigned int queue)
{
	struct jr *j = calloc(1, sizeof(*j));
	int fd, saved;
	void *m;

	if (!j)
		return NULL;
	j->dirfd = dirfd;
	if (queue)
		snprintf(j->name, sizeof(j->name), "vif-%u-%u-q%u.journal", domid, devid, queue);
	else
		snprintf(j->name, sizeof(j->name), "vif-%u-%u.journal", domid, devid);
	if (dirfd < 0) {
		j->pg = calloc(1, sizeof(*j->pg));
		if (!j->pg)
			goto fail;
	} else {
		fd = openat(dirfd, j->name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0)
			goto fail;
		/* A new file reads as zeros: no magic, so nothing pending. */
		if (ftruncate(fd, XEN_PAGE_SIZE_BYTES) < 0) {
			saved = errno;
			close(fd);
			errno = saved;
			goto fail;
		}
		m = mmap(NULL, XEN_PAGE_SIZE_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		saved = errno;
		close(fd);
		if (m == MAP_FAILED) {
			errno = saved;
			goto fail;
		}
		j->pg = m;
		j->mapped = true;
	}
	/* Someone else's page (another vif's, an older format) is no
	 * record of ours. */
	if (j->pg->magic != JR_MAGIC || j->pg->version != JR_VERSION || j->pg->domid != domid ||
	    j->pg->devid != devid) {
		memset(j->pg, 0, sizeof(*j->pg));
		j->pg->domid = domid;
		j->pg->devid = devid;
	}
	return j;
fail:
	saved = errno;
	free(j);
	errno = saved;
	return NULL;
}

void jr_close(struct jr *j, bool remove)
{
	if (!j)
		return;
	if (j->mapped) {
		munmap(j->pg, XEN_PAGE_SIZE_BYTES);
		if (remove)
			unlinkat(j->dirfd, j->name, 0);
	} else {
		free(j->pg);
	}
	free(j);
}

bool jr_matches(const struct jr *j, const struct jr_ident *id)
{
	return j->pg->magic == JR_MAGIC && memcmp(&j->pg->id, id, sizeof(*id)) == 0;
}

void jr_start(struct jr *j, const struct jr_ident *id)
{
	/* Invalid first, so that a kill half-way through leaves a page
	 * that matches no connection. */
	j->pg->magic = 0;
	atomic_signal_fence(memory_order_seq_cst);
	j->pg->id = *id;
	memset(j->pg->ring, 0, sizeof(j->pg->ring));
	j->pg->version = JR_VERSION;
	atomic_signal_fence(memory_order_seq_cst);
	j->pg->magic = JR_MAGIC;
}

/*
 * The count is the commit point: it is stored after the responses and the
 * base, and cleared only once rsp_prod covers them. Only the compiler could
 * reorder these stores (the CPU does not lose a store because the process
 * died), and the signal fences stop it.
 */
void jr_commit(struct jr *j, enum jr_ring r, RING_IDX base, const void *rsp, unsigned int n)
{
	if (n > JR_MAX_RSP)
		n = JR_MAX_RSP; /* callers never commit more than a ring */
	memcpy(entries(j->pg, r), rsp, n * rsp_size[r]);
	j->pg->ring[r].base = base;
	atomic_signal_fence(memory_order_seq_cst);
	j->pg->ring[r].n = n;
	atomic_signal_fence(memory_order_seq_cst);
}

void jr_done(struct jr *j, enum jr_ring r)
{
	atomic_signal_fence(memory_order_seq_cst);
	j->pg->ring[r].n = 0;
}

const void *jr_pending(const struct jr *j, enum jr_ring r, RING_IDX *base, unsigned int *n)
{
	*n = j->pg->ring[r].n;
	*base = j->pg->ring[r].base;
	if (j->pg->magic != JR_MAGIC || *n > JR_MAX_RSP)
		*n = 0;
	return entries(j->pg, r);
}
