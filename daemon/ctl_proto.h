/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The control protocol between egressctl and egressd: a unix stream socket,
 * one JSON object per line in each direction. Every request has "op"; every
 * reply has "ok" (bool) and, when false, "error" (string).
 */
#ifndef EF_CTL_PROTO_H
#define EF_CTL_PROTO_H

#include <cjson/cJSON.h>

#define EF_CTL_MAX_MSG (48u << 20) /* a policy text (<= 32 MiB) travels inside "run" */

/* Blocking helpers for the client side. Return 0 or -errno. */
int ef_ctl_send(int fd, const cJSON *msg);
int ef_ctl_recv(int fd, cJSON **out);
/* Connect to the socket at path; returns fd or -errno. */
int ef_ctl_connect(const char *path);

#endif /* EF_CTL_PROTO_H */
