// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * HTTP on a job's connection: its request's head read and parsed, its
 * body read through its framing, and dockerd's answer relayed to the job
 * (with a container being started held frozen meanwhile, struct watch).
 * Apart from docker_serve.c, which judges the request: this only reads
 * and copies.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "docker_int.h"
#include "lib/cgroup.h"
#include "lib/util.h"

#define HEAD_NS (30ull * 1000000000ull) /* a request head, whole */

/* ---- the request ---- */

static bool token_char(int ch)
{
	return ch > 0x20 && ch < 0x7f && !strchr("()<>@,;:\\\"/[]?={}", ch);
}

/* Parses c->rbuf[0..hlen) (the head, "\r\n\r\n" included) in place. */
int ef_dk_parse_head(char *buf, size_t hlen, struct head *h, char *why, size_t whylen)
{
	char *line = buf, *end = buf + hlen - 2, *eol;

	memset(h, 0, sizeof(*h));
	h->clen = -1;
	for (size_t i = 0; i < hlen; i++)
		if (buf[i] == '\0' || (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r')))
			return snprintf(why, whylen, "malformed request head"), -EINVAL;
	eol = strstr(line, "\r\n");
	*eol = '\0';
	h->method = strsep(&line, " ");
	h->target = strsep(&line, " ");
	h->proto = line;
	if (!h->method || !h->target || !h->proto || !*h->method ||
	    (strcmp(h->proto, "HTTP/1.1") && strcmp(h->proto, "HTTP/1.0")) || strlen(h->method) > 10)
		return snprintf(why, whylen, "malformed request line"), -EINVAL;
	for (char *m = h->method; *m; m++)
		if (*m < 'A' || *m > 'Z')
			return snprintf(why, whylen, "malformed request method"), -EINVAL;
	for (line = eol + 2; line < end; line = eol + 2) {
		char *colon, *v, *ve;

		eol = strstr(line, "\r\n");
		*eol = '\0';
		colon = strchr(line, ':');
		if (!colon || colon == line)
			return snprintf(why, whylen, "malformed header line"), -EINVAL;
		for (char *k = line; k < colon; k++)
			if (!token_char((unsigned char)*k))
				return snprintf(why, whylen, "malformed header name"), -EINVAL;
		*colon = '\0';
		v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		ve = v + strlen(v);
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			*--ve = '\0';
		for (char *k = v; *k; k++)
			if ((unsigned char)*k < 0x20 && *k != '\t')
				return snprintf(why, whylen, "control character in a header"), -EINVAL;
		if (h->n >= HEADERS_MAX)
			return snprintf(why, whylen, "too many headers"), -EINVAL;
		if (!strcasecmp(line, "Content-Length")) {
			char *e;

			if (h->clen >= 0 || !*v || strspn(v, "0123456789") != strlen(v) ||
			    strlen(v) > 15)
				return snprintf(why, whylen, "malformed Content-Length"), -EINVAL;
			h->clen = strtoll(v, &e, 10);
			continue;
		}
		if (!strcasecmp(line, "Transfer-Encoding")) {
			if (h->chunked || strcasecmp(v, "chunked"))
				return snprintf(why, whylen, "Transfer-Encoding other than chunked"),
				       -EINVAL;
			h->chunked = true;
			continue;
		}
		if (!strcasecmp(line, "Upgrade")) {
			h->upgrade = !strcasecmp(v, "tcp") || !strcasecmp(v, "h2c");
			continue;
		}
		if (!strcasecmp(line, "Connection") || !strcasecmp(line, "Keep-Alive") ||
		    !strcasecmp(line, "Host") || !strcasecmp(line, "TE") ||
		    !strcasecmp(line, "Trailer") || !strcasecmp(line, "Expect") ||
		    !strncasecmp(line, "Proxy-", 6))
			continue;
		h->name[h->n] = line;
		h->value[h->n] = v;
		h->n++;
	}
	if (h->chunked && h->clen >= 0)
		return snprintf(why, whylen, "both Content-Length and chunked"), -EINVAL;
	return 0;
}

/* The head of c->rbuf: its length with the blank line, or 0 if more is
 * needed, -EINVAL past HEAD_MAX, -EIO on EOF or error. */
ssize_t ef_dk_read_head(struct conn *c)
{
	uint64_t deadline = ef_now_boot_ns() + HEAD_NS;

	for (;;) {
		char *e = c->rlen >= 4 ? memmem(c->rbuf, c->rlen, "\r\n\r\n", 4) : NULL;
		ssize_t n;

		if (e)
			return e + 4 - c->rbuf;
		if (c->rlen >= sizeof(c->rbuf) - 1)
			return -EINVAL;
		/* a head sent a byte at a time holds a thread no longer */
		if (ef_now_boot_ns() > deadline)
			return -EIO;
		n = ef_dk_read_some(c->fd, c->rbuf + c->rlen, sizeof(c->rbuf) - 1 - c->rlen);
		if (n <= 0)
			return -EIO;
		c->rlen += (size_t)n;
	}
}

static ssize_t body_raw(struct body *b, char *out, size_t len)
{
	struct conn *c = b->c;

	if (b->off < c->rlen) {
		size_t n = c->rlen - b->off < len ? c->rlen - b->off : len;

		memcpy(out, c->rbuf + b->off, n);
		b->off += n;
		return (ssize_t)n;
	}
	return ef_dk_read_some(c->fd, out, len);
}

static int body_byte(struct body *b)
{
	char ch;
	ssize_t n = body_raw(b, &ch, 1);

	return n == 1 ? (unsigned char)ch : -1;
}

/* Up to len bytes of the decoded body: >0, 0 at its end, <0 malformed or
 * lost. */
ssize_t ef_dk_body_read(struct body *b, char *out, size_t len)
{
	ssize_t n;

	if (b->done)
		return 0;
	if (b->chunked && b->left == 0) {
		unsigned long long v = 0;
		int ch, digits = 0;

		while ((ch = body_byte(b)) >= 0 && ch != '\r' && ch != ';') {
			int h = ch >= '0' && ch <= '9' ? ch - '0' :
				(ch | 0x20) >= 'a' && (ch | 0x20) <= 'f' ? (ch | 0x20) - 'a' + 10 : -1;

			if (h < 0 || ++digits > 12)
				return -EINVAL;
			v = v * 16 + (unsigned)h;
		}
		while (ch >= 0 && ch != '\r') /* a chunk extension: skipped */
			ch = body_byte(b);
		if (ch != '\r' || body_byte(b) != '\n' || !digits)
			return -EINVAL;
		if (v == 0) {
			/* no trailers taken: the blank line */
			if (body_byte(b) != '\r' || body_byte(b) != '\n')
				return -EINVAL;
			b->done = true;
			return 0;
		}
		b->left = v;
	}
	if (!b->chunked && b->left == 0) {
		b->done = true;
		return 0;
	}
	if (len > b->left)
		len = (size_t)b->left;
	n = body_raw(b, out, len);
	if (n <= 0)
		return -EIO;
	b->left -= (unsigned long long)n;
	if (b->chunked && b->left == 0 && (body_byte(b) != '\r' || body_byte(b) != '\n'))
		return -EINVAL;
	return n;
}

int ef_dk_body_all(struct body *b, char **out, size_t *len)
{
	size_t cap = 0;
	char *buf = NULL;

	*len = 0;
	for (;;) {
		ssize_t n;

		if (*len + 4096 > cap) {
			char *nb;

			if (cap > EF_DK_BODY_MAX) {
				free(buf);
				return -E2BIG;
			}
			cap = cap ? cap * 2 : 8192;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
		}
		n = ef_dk_body_read(b, buf + *len, cap - *len);
		if (n < 0) {
			free(buf);
			return (int)n;
		}
		if (n == 0)
			break;
		*len += (size_t)n;
	}
	if (!buf && !(buf = malloc(1)))
		return -ENOMEM;
	buf[*len] = '\0';
	*out = buf;
	return 0;
}

static void watch_poll(struct conn *c, struct watch *w)
{
	char *buf = NULL, p[64];
	struct stat st;
	struct msg m = { .type = MSG_NETNS };

	if (w->frozen && ef_now_boot_ns() - w->frozen_ns > 1000000000ull) {
		ef_cgroup_freeze(w->cg, false);
		w->frozen = false;
	}
	if (!w->on || w->told)
		return;
	if (ef_now_boot_ns() > w->until_ns) {
		w->on = false;
		return;
	}
	if (ef_read_file(w->procs, 4096, &buf, NULL))
		return;
	for (char *t = strtok(buf, "\n"); t; t = strtok(NULL, "\n")) {
		pid_t pid = atoi(t);

		snprintf(p, sizeof(p), "/proc/%d/ns/net", pid);
		if (pid > 0 && !stat(p, &st) && st.st_ino != ef_dk.host_netns) {
			w->frozen = ef_cgroup_freeze(w->cg, true) == 0;
			w->frozen_ns = ef_now_boot_ns();
			m.pid = pid;
			snprintf(m.id, sizeof(m.id), "%s", w->frozen ? strrchr(w->cg, '/') + 1 : "");
			snprintf(m.job, sizeof(m.job), "%s", c->job);
			ef_dk_post(&m);
			w->told = true;
			break;
		}
	}
	free(buf);
}

/* Copies dockerd's answer to the job until dockerd is done. The job's
 * further bytes go to dockerd only once dockerd has answered a hijack
 * request (attach, exec start) with 101: the connection is a raw stream
 * then, read by the container. Before that, or for any other answer (an
 * exec started detached answers 200 and dockerd reads on), they are held,
 * then dropped: a request behind the first never reaches dockerd.
 * `pend` (len `npend`): the job's bytes that came with its request. */
void ef_dk_relay(struct conn *c, int up, bool hijack, struct watch *w, int *status,
		  const char *pend0, size_t npend0)
{
	struct pollfd p[2] = { { .fd = c->fd, .events = POLLIN }, { .fd = up, .events = POLLIN } };
	char buf[65536], line[64], *pend = NULL;
	size_t npend = 0, nline = 0;
	bool cl_eof = false, known = false, upgraded = false;

	if (hijack && npend0) {
		pend = malloc(npend0);
		if (!pend)
			return;
		memcpy(pend, pend0, npend0);
		npend = npend0;
	}
	for (;;) {
		int timeout = w && ((w->on && !w->told) || w->frozen) ? 1 : -1;
		int r;

		/* after the job's half-close its end is still watched for a
		 * hang-up: a job gone ends dockerd's stream (logs -f); held
		 * bytes past 64 KiB: the job waits for dockerd's answer */
		p[0].events = cl_eof || (hijack && !upgraded && npend >= 65536) ? 0 : POLLIN;
		r = poll(p, 2, timeout);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		if (w)
			watch_poll(c, w);
		if (p[1].revents) {
			ssize_t n = read(up, buf, sizeof(buf));

			if (n <= 0)
				break;
			/* the status line of dockerd's answer */
			for (ssize_t i = 0; !known && i < n; i++) {
				if (nline < sizeof(line) - 1)
					line[nline++] = buf[i];
				if (buf[i] == '\n' || nline == sizeof(line) - 1) {
					int s = 0;

					line[nline] = '\0';
					known = true;
					if (sscanf(line, "HTTP/1.%*d %d", &s) == 1 && status)
						*status = s;
					upgraded = hijack && s == 101;
					if (hijack && !upgraded) {
						/* an answer, not a stream: dockerd would
						 * read a next request on this connection
						 * (it was asked for an upgrade, not a
						 * close); its end of it is closed, so it
						 * closes once the answer is out */
						hijack = false;
						free(pend);
						pend = NULL;
						npend = 0;
						shutdown(up, SHUT_WR);
					}
				}
			}
			if (ef_dk_write_all(c->fd, buf, (size_t)n))
				break;
			if (upgraded && npend) {
				if (ef_dk_write_all(up, pend, npend))
					break;
				free(pend);
				pend = NULL;
				npend = 0;
				if (cl_eof)
					shutdown(up, SHUT_WR);
			}
		}
		if (cl_eof && (p[0].revents & (POLLHUP | POLLERR)))
			break; /* gone: dockerd's stream ends with it */
		if (!cl_eof && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t n = read(c->fd, buf, sizeof(buf));

			if (n <= 0) {
				if (p[0].revents & (POLLHUP | POLLERR))
					break;
				cl_eof = true; /* half-closed: the answer still goes */
				if (upgraded)
					shutdown(up, SHUT_WR);
			} else if (upgraded) {
				if (ef_dk_write_all(up, buf, (size_t)n))
					break;
			} else if (hijack) {
				char *np = realloc(pend, npend + (size_t)n);

				if (!np)
					break;
				pend = np;
				memcpy(pend + npend, buf, (size_t)n);
				npend += (size_t)n;
			}
		}
	}
	free(pend);
}
