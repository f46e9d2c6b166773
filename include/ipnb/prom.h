/* SPDX-License-Identifier: MIT */
/*
 * prom.h - the Prometheus text exposition format (version 0.0.4), as the
 * daemon's "metrics" answer writes it: families with their HELP and TYPE
 * lines, samples with labels.
 *
 * Usage contract:
 *  - Pure: no logging, no xenstore; writes into the caller's FILE.
 *  - The caller writes each family's samples right after prom_family(),
 *    all of them together: the format allows one group per family.
 *  - Label values may hold anything (a domain's name is the toolstack's,
 *    ultimately the operator's): prom_labels() escapes backslash, double
 *    quote and newline as the format asks. Names are the caller's
 *    constants and are not checked.
 */
#ifndef IPNB_PROM_H
#define IPNB_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Writes "# HELP name help" and "# TYPE name type" (type: "counter",
 * "gauge"). */
void prom_family(FILE *f, const char *name, const char *type, const char *help);

/* Writes "name{labels} value": labels as prom_labels() built them, or ""
 * for none. */
void prom_sample(FILE *f, const char *name, const char *labels, unsigned long long v);

/* Builds `{k1="v1",k2="v2"}` from n key/value pairs (kv[2i], kv[2i+1]) into
 * buf. False if it does not fit in cap bytes (buf then holds ""). */
bool prom_labels(char *buf, size_t cap, const char *const *kv, size_t n);

#endif
