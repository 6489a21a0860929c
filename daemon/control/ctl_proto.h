/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The control protocol between egressctl and egressd: a unix stream socket,
 * one JSON object per line in each direction. Every request has "op"; every
 * reply has "ok" (bool) and, when false, "error" (string).
 */
#ifndef EF_CTL_PROTO_H
#define EF_CTL_PROTO_H

#include <stdint.h>
#include <cjson/cJSON.h>

#define EF_CTL_MAX_MSG (48u << 20) /* a policy text (<= 32 MiB) travels inside "run" */

/* The client side, each bounded by a deadline (ef_ctl_now_ms() + ms): a
 * daemon that accepts but never answers, or whose listen queue is full,
 * cannot hang the caller. 0 or -errno (-ETIMEDOUT at the deadline). */
int64_t ef_ctl_now_ms(void); /* CLOCK_MONOTONIC */
int ef_ctl_connect_by(const char *path, int64_t deadline); /* fd or -errno */
int ef_ctl_send_by(int fd, const cJSON *msg, int64_t deadline);
int ef_ctl_recv_by(int fd, cJSON **out, int64_t deadline);
/* Connect to the socket at path; returns fd or -errno. */
int ef_ctl_connect(const char *path);

#endif /* EF_CTL_PROTO_H */
