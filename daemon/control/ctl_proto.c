// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl_proto.h"

int64_t ef_ctl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on fd until the deadline: 0, or -ETIMEDOUT, -errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd pf = { .fd = fd, .events = events };
		int64_t left = deadline - ef_ctl_now_ms();
		int r;

		if (left <= 0)
			return -ETIMEDOUT;
		r = poll(&pf, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (r > 0)
			return 0;
		if (r == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

int ef_ctl_connect_by(const char *path, int64_t deadline)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t sl = sizeof(int);
	int fd, ret, soerr = 0;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* a unix connect to a full listen queue blocks, or with O_NONBLOCK
	 * fails with EAGAIN: retried until the deadline */
	for (;;) {
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		if (errno == EINTR)
			continue;
		if (errno == EINPROGRESS) {
			ret = wait_fd(fd, POLLOUT, deadline);
			if (!ret && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr)
				ret = -soerr;
			if (ret)
				break;
			return fd;
		}
		if (errno != EAGAIN) {
			ret = -errno;
			break;
		}
		if (ef_ctl_now_ms() >= deadline) {
			ret = -ETIMEDOUT;
			break;
		}
		usleep(20000);
	}
	close(fd);
	return ret;
}

int ef_ctl_send_by(int fd, const cJSON *msg, int64_t deadline)
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
		ssize_t w = send(fd, s + off, n - off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w >= 0) {
			off += w;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN) {
			ret = -errno;
			break;
		}
		ret = wait_fd(fd, POLLOUT, deadline);
		if (ret)
			break;
	}
	free(s);
	return ret;
}

int ef_ctl_recv_by(int fd, cJSON **out, int64_t deadline)
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
		/* what is there, looked at first: taken up to the newline and no
		 * further (the next reply on the connection stays for the next
		 * call); a status reply byte by byte took thousands of calls */
		r = recv(fd, buf + n, cap - n, MSG_DONTWAIT | MSG_PEEK);
		if (r > 0) {
			char *nl = memchr(buf + n, '\n', (size_t)r);

			r = recv(fd, buf + n, nl ? (size_t)(nl - (buf + n)) + 1 : (size_t)r,
				 MSG_DONTWAIT);
		}
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN) {
				ret = -errno;
				goto cleanup;
			}
			ret = wait_fd(fd, POLLIN, deadline);
			if (ret)
				goto cleanup;
			continue;
		}
		if (r == 0) {
			ret = -ECONNRESET;
			goto cleanup;
		}
		n += (size_t)r;
		if (buf[n - 1] == '\n') {
			n--;
			break;
		}
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
