// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The sd_notify protocol, as systemd documents it (sd_notify(3)): one
 * datagram per state change on an AF_UNIX SOCK_DGRAM socket whose address
 * is $NOTIFY_SOCKET. An address starting with '@' is in the abstract
 * namespace (the '@' becomes a NUL byte, the length says where the name
 * ends); anything else must be an absolute path. No credentials are passed:
 * the sender is egressd itself, the service's main process, which is what
 * the default NotifyAccess=main accepts.
 *
 * A failure to notify is logged, never fatal: the fence is up either way,
 * and under Type=notify systemd's start timeout reports the missing READY=1.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sdnotify.h"
#include "util.h"

static int notify_addr(const char *name, struct sockaddr_un *sa, socklen_t *len)
{
	size_t n = strlen(name);

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (name[0] != '/' && name[0] != '@')
		return -EAFNOSUPPORT; /* not a unix socket address we know */
	if (n > sizeof(sa->sun_path) || (name[0] == '/' && n == sizeof(sa->sun_path)))
		return -ENAMETOOLONG;
	memcpy(sa->sun_path, name, n);
	if (name[0] == '@') {
		sa->sun_path[0] = '\0';
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	} else {
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	}
	return 0;
}

int ef_sd_notify(const char *state)
{
	const char *name = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	socklen_t len = 0;
	size_t n = strlen(state);
	ssize_t sent;
	int fd, ret;

	if (!name || !name[0])
		return 0;
	ret = notify_addr(name, &sa, &len);
	if (ret)
		goto fail;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		goto fail;
	}
	do
		sent = sendto(fd, state, n, MSG_NOSIGNAL, (struct sockaddr *)&sa, len);
	while (sent < 0 && errno == EINTR);
	ret = sent < 0 ? -errno : (size_t)sent == n ? 0 : -EMSGSIZE;
	close(fd);
	if (!ret)
		return 0;
fail:
	log_warn("telling the service manager \"%.*s\" on NOTIFY_SOCKET=%s: %s",
		 (int)strcspn(state, "\n"), state, name, strerror(-ret));
	return ret;
}

int ef_sd_notifyf(const char *fmt, ...)
{
	char buf[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return ef_sd_notify(buf);
}
