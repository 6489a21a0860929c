/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Readiness for systemd (Type=notify) without libsystemd: the sd_notify
 * datagram protocol, "KEY=VALUE\n..." sent to the unix socket named by
 * $NOTIFY_SOCKET ("/path", or "@name" for an abstract one).
 */
#ifndef EF_SDNOTIFY_H
#define EF_SDNOTIFY_H

/* Sends state ("READY=1\nSTATUS=..."). Returns 0 when sent or when
 * NOTIFY_SOCKET is unset or empty (not run by a service manager), else
 * -errno after logging a warning. The variable is left set. */
int ef_sd_notify(const char *state);

/* ef_sd_notify() of a formatted state, cut at 4 KiB. */
int ef_sd_notifyf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* EF_SDNOTIFY_H */
