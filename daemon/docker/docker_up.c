// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * egressd's own requests to dockerd (what the endpoint asks before it
 * judges: is this container the job's; what a job's end removes), and the
 * blocking I/O the endpoint's threads share. Apart from the job's own
 * requests, which are relayed (docker_http.c, docker_serve.c): these are
 * egressd's, with no body of the job's, and answers it reads whole.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "docker_int.h"

#define IDLE_MS (5 * 60 * 1000)	  /* a request head or body that stalls this long */
#define UP_RESP_MAX (4u << 20)	  /* an answer egressd reads itself */

/* ---- I/O ---- */

int ef_dk_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read what is there, waiting at most IDLE_MS: >0, 0 at EOF, <0 error. */
ssize_t ef_dk_read_some(int fd, void *buf, size_t len)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	for (;;) {
		int r = poll(&p, 1, IDLE_MS);

		if (r == 0)
			return -ETIMEDOUT;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		n = read(fd, buf, len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		return n < 0 ? -errno : n;
	}
}

int ef_dk_up_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", ef_dk.upstream);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

/* Chunked body in buf[0..len) decoded in place; -EINVAL if malformed or
 * short. */
static int dechunk(char *buf, size_t len, size_t *out)
{
	size_t i = 0, o = 0;

	for (;;) {
		char *e;
		unsigned long n;

		if (i >= len)
			return -EINVAL;
		n = strtoul(buf + i, &e, 16);
		if (e == buf + i || (size_t)(e - buf) >= len)
			return -EINVAL;
		i = (size_t)(e - buf);
		while (i < len && buf[i] != '\n')
			i++;
		if (i >= len)
			return -EINVAL;
		i++;
		if (n == 0)
			break;
		if (n > len - i)
			return -EINVAL;
		memmove(buf + o, buf + i, n);
		o += n;
		i += n;
		if (i + 2 > len || buf[i] != '\r' || buf[i + 1] != '\n')
			return -EINVAL;
		i += 2;
	}
	*out = o;
	return 0;
}

/* A request of egressd's own to dockerd, with no body: the status, and
 * the answer's body (NUL-ended, malloc'd) in *resp. */
int ef_dk_up_send(const char *method, const char *path, const char *json, int *status,
		   char **resp)
{
	char head[EF_DK_TARGET_MAX + 256], *buf = NULL, *p, *hend;
	size_t len = 0, cap = 0;
	int fd, n, ret = -EIO;

	*resp = NULL;
	fd = ef_dk_up_connect();
	if (fd < 0)
		return fd;
	if (json)
		n = snprintf(head, sizeof(head),
			     "%s %s HTTP/1.1\r\nHost: docker\r\nUser-Agent: egressd\r\n"
			     "Connection: close\r\nContent-Type: application/json\r\n"
			     "Content-Length: %zu\r\n\r\n", method, path, strlen(json));
	else
		n = snprintf(head, sizeof(head),
			     "%s %s HTTP/1.1\r\nHost: docker\r\nUser-Agent: egressd\r\n"
			     "Connection: close\r\n\r\n", method, path);
	if (n >= (int)sizeof(head) || ef_dk_write_all(fd, head, (size_t)n) ||
	    (json && ef_dk_write_all(fd, json, strlen(json))))
		goto out;
	for (;;) {
		ssize_t r;

		if (len + 4096 + 1 > cap) {
			char *nb;

			if (cap >= UP_RESP_MAX)
				goto out;
			cap = cap ? cap * 2 : 16384;
			nb = realloc(buf, cap);
			if (!nb)
				goto out;
			buf = nb;
		}
		r = ef_dk_read_some(fd, buf + len, cap - len - 1);
		if (r < 0)
			goto out;
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (!buf)
		goto out;
	buf[len] = '\0';
	if (sscanf(buf, "HTTP/1.%*d %d", status) != 1)
		goto out;
	hend = strstr(buf, "\r\n\r\n");
	if (!hend)
		goto out;
	*hend = '\0';
	p = hend + 4;
	len -= (size_t)(p - buf);
	if (strcasestr(buf, "\r\ntransfer-encoding: chunked")) {
		if (dechunk(p, len, &len))
			goto out;
	}
	*resp = malloc(len + 1);
	if (!*resp)
		goto out;
	memcpy(*resp, p, len);
	(*resp)[len] = '\0';
	ret = 0;
out:
	free(buf);
	close(fd);
	return ret;
}

int ef_dk_up_request(const char *method, const char *path, int *status, char **resp)
{
	return ef_dk_up_send(method, path, NULL, status, resp);
}

cJSON *ef_dk_up_json(const char *fmt, const char *ref, int *status)
{
	char path[EF_DK_TARGET_MAX], *body = NULL;
	cJSON *o = NULL;

	snprintf(path, sizeof(path), fmt, ref);
	*status = 0;
	if (ef_dk_up_request("GET", path, status, &body))
		return NULL;
	if (*status == 200)
		o = cJSON_Parse(body);
	free(body);
	return o;
}
