// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl_proto.h"

int ef_ctl_send(int fd, const cJSON *msg)
{
	char *s = cJSON_PrintUnformatted(msg);
	size_t n, off = 0;
	int ret = 0;

	if (!s)
		return -ENOMEM;
	n = strlen(s);
	s[n] = '\n'; /* cJSON's buffer has the NUL slot we overwrite */
	n++;
	while (off < n) {
		ssize_t w = send(fd, s + off, n - off, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			break;
		}
		off += w;
	}
	free(s);
	return ret;
}

int ef_ctl_recv(int fd, cJSON **out)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap), *nb;
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t r;

		if (n == cap) {
			if (cap >= EF_CTL_MAX_MSG) {
				ret = -EMSGSIZE;
				goto cleanup;
			}
			cap *= 2;
			nb = realloc(buf, cap);
			if (!nb) {
				ret = -ENOMEM;
				goto cleanup;
			}
			buf = nb;
		}
		r = recv(fd, buf + n, 1, 0); /* byte-wise: replies are small, no over-read */
		if (r < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			goto cleanup;
		}
		if (r == 0) {
			ret = -ECONNRESET;
			goto cleanup;
		}
		if (buf[n] == '\n')
			break;
		n++;
	}
	buf[n] = '\0';
	*out = cJSON_ParseWithLength(buf, n);
	if (!*out)
		ret = -EBADMSG;
cleanup:
	free(buf);
	return ret;
}

int ef_ctl_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}
