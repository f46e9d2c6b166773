/* SPDX-License-Identifier: MIT */
/* version.h - the version ipnetbackd and ipnetback report (--version). */
#ifndef IPNB_VERSION_H
#define IPNB_VERSION_H

#define IPNB_VERSION "0.9.0"

#endif
