/* SPDX-License-Identifier: MIT */
/*
 * xenring.h - includes Xen's netif/ring definitions with the memory barriers
 * ring.h expects the includer to supply. x86 keeps loads and stores in
 * order with each other, so rmb/wmb only need to stop the compiler; a store
 * followed by a load of another location (publishing rsp_prod, then reading
 * rsp_event) needs a real fence.
 */
#ifndef IPNB_XENRING_H
#define IPNB_XENRING_H

#include <stdint.h>

/* Without an interface version, ring.h maps xen_mb() to a bare mb(). */
#ifndef __XEN_INTERFACE_VERSION__
#define __XEN_INTERFACE_VERSION__ 0x00040e00
#endif
#define xen_mb()  __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb() __asm__ __volatile__("" ::: "memory")
#define xen_wmb() __asm__ __volatile__("" ::: "memory")

#include <xen/event_channel.h>
#include <xen/grant_table.h>
#include <xen/io/netif.h>
#include <xen/xen.h>

#define XEN_PAGE_SIZE_BYTES 4096u

#endif
