// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The measuring end of `make bench` (bench/run.py drives it):
 *   ef_bench serve PORT          TCP accept-and-close and UDP sink on PORT
 *   ef_bench connect ADDR PORT N time N connect()s (fresh socket each, RST close)
 *   ef_bench connect-denied ADDR PORT N
 *                                the same, each refused with EPERM (a denial)
 *   ef_bench sendto ADDR PORT N  time N sendto()s on one unconnected UDP socket
 *   ef_bench sendto-new ADDR PORT N
 *                                the same, a fresh socket each (its first send)
 *   ef_bench script              commands like the above, one a line on stdin,
 *                                a JSON line out for each (bench/costs.py)
 *   ef_bench dns ADDR PORT N NAME [TIMEOUT_MS]
 *                                N DNS queries (A, no EDNS) for NAME, one at a
 *                                time, on one connected UDP socket (as glibc's
 *                                resolver does); each round trip is timed from
 *                                send() to the matching reply (same id, QR set,
 *                                NOERROR with an answer); a query unanswered
 *                                within TIMEOUT_MS (default 1000) is a timeout.
 *                                A "%n" in NAME is a new address label each
 *                                query ("198-18-128-1" on, a counter kept for
 *                                the process's life, from a random start): a
 *                                question no cache has seen, for dnsmasq's
 *                                --synth-domain
 *   ef_bench storm ADDR PORT S [SPREAD]
 *                                connect()s as fast as one thread can for S
 *                                seconds; prints {"connects","errors","seconds"};
 *                                with SPREAD (IPv4 only) the destination walks
 *                                SPREAD consecutive addresses from ADDR (a scan)
 *   ef_bench syscalls N          time N each of getppid(), open()+close() of
 *                                /dev/null, kill(self, 0), fcntl(F_GETFL),
 *                                ioctl(FIOCLEX), and N/500 (at least 20)
 *                                posix_spawn()+waitpid() of /bin/true: the syscalls the
 *                                tamper guard's seccomp filter and recorders
 *                                see; prints {"getppid_ns","open_ns","kill0_ns",
 *                                "fcntl_ns","ioctl_ns","spawn_ns"}
 *                                (medians)
 *   ef_bench sink PORT           TCP sink: accepts connections one at a time, reads
 *                                each to its end, then closes it (for upload)
 *   ef_bench upload ADDR PORT MB one TCP connection writing MB megabytes in 64 KiB
 *                                writes, then a half close, timed until the sink
 *                                has read it all and closed; prints
 *                                {"bytes","seconds","mbit_s"}
 * Prints one JSON line: {"n":N,"p50_ns":..,"p99_ns":..,"mean_ns":..}; dns
 * adds "timeouts" and "bad" (wrong or failed answers), and n counts the
 * answered queries the figures are over. connect and sendto time only
 * connect() / sendto(), so the figure is the syscall path the fence adds to;
 * dns times what a resolver client waits for.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int parse_addr(const char *s, int port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		*len = sizeof(*a4);
		return 0;
	}
	if (inet_pton(AF_INET6, s, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		*len = sizeof(*a6);
		return 0;
	}
	return -1;
}

/* timeouts < 0: not a mode that counts them (connect, sendto) */
static void report(uint64_t *t, int n, int timeouts, int bad)
{
	long double sum = 0;

	qsort(t, n, sizeof(*t), cmp_u64);
	for (int i = 0; i < n; i++)
		sum += t[i];
	printf("{\"n\":%d,\"p50_ns\":%llu,\"p99_ns\":%llu,\"mean_ns\":%.0Lf", n,
	       (unsigned long long)t[n / 2], (unsigned long long)t[(n * 99) / 100], sum / n);
	if (timeouts >= 0)
		printf(",\"timeouts\":%d,\"bad\":%d", timeouts, bad);
	printf("}\n");
}

/* An A query for name, recursion desired, no EDNS: 12 + name + 4 bytes. */
static int dns_build(uint8_t *buf, size_t cap, const char *name, uint16_t id)
{
	size_t off = 12, len;
	const char *p = name, *dot;

	if (cap < 12 + 256 + 4)
		return -1;
	memset(buf, 0, 12);
	buf[0] = id >> 8;
	buf[1] = id & 0xff;
	buf[2] = 0x01; /* RD */
	buf[5] = 1;    /* QDCOUNT */
	while (*p) {
		dot = strchr(p, '.');
		len = dot ? (size_t)(dot - p) : strlen(p);
		if (len == 0 && !dot)
			break;
		if (len == 0 || len > 63 || off + 1 + len > 12 + 255)
			return -1;
		buf[off++] = len;
		memcpy(buf + off, p, len);
		off += len;
		p += len + (dot ? 1 : 0);
	}
	buf[off++] = 0;
	buf[off++] = 0;
	buf[off++] = 1; /* A */
	buf[off++] = 0;
	buf[off++] = 1; /* IN */
	return off;
}

/* NAME with its "%n" as the next synthesized label (see the usage). */
static const char *dns_name(const char *name, char *buf, size_t cap)
{
	static uint32_t next;
	static bool started;
	const char *at = strstr(name, "%n");
	uint32_t k;

	if (!at)
		return name;
	if (!started) {
		if (getrandom(&next, sizeof(next), 0) != sizeof(next))
			next = (uint32_t)getpid();
		next %= 128 * 254;
		started = true;
	}
	k = next++ % (128 * 254); /* 198.18.128.0/17 without .0 and .255 */
	snprintf(buf, cap, "%.*s198-18-%u-%u%s", (int)(at - name), name, 128 + k / 254,
		 1 + k % 254, at + 2);
	return buf;
}

static int dns(const struct sockaddr_storage *ss, socklen_t sl, int n, const char *name,
	       int timeout_ms, uint64_t *t)
{
	int fd, ok = 0, timeouts = 0, bad = 0;
	uint8_t q[512], r[4096];
	char nbuf[300];
	uint16_t id;

	fd = socket(ss->ss_family, SOCK_DGRAM, 0);
	if (fd < 0 || connect(fd, (const struct sockaddr *)ss, sl) < 0) {
		fprintf(stderr, "dns: socket/connect: %s\n", strerror(errno));
		return 1;
	}
	if (getrandom(&id, sizeof(id), 0) != sizeof(id))
		id = getpid();
	for (int i = 0; i < n; i++) {
		uint64_t t0, deadline;
		int qlen, done = 0;

		id++;
		qlen = dns_build(q, sizeof(q), dns_name(name, nbuf, sizeof(nbuf)), id);
		if (qlen < 0) {
			fprintf(stderr, "dns: bad name %s\n", name);
			return 2;
		}
		t0 = now_ns();
		deadline = t0 + (uint64_t)timeout_ms * 1000000ull;
		if (send(fd, q, qlen, 0) != qlen) {
			fprintf(stderr, "dns: send: %s\n", strerror(errno));
			return 1;
		}
		while (!done) {
			uint64_t now = now_ns();
			struct pollfd p = { .fd = fd, .events = POLLIN };
			ssize_t got;

			if (now >= deadline || poll(&p, 1, (deadline - now + 999999) / 1000000) == 0) {
				timeouts++;
				break;
			}
			got = recv(fd, r, sizeof(r), MSG_DONTWAIT);
			if (got < 0) {
				if (errno == EAGAIN || errno == EINTR)
					continue;
				bad++; /* ECONNREFUSED and the like: no server */
				break;
			}
			if (got < 12 || r[0] != (id >> 8) || r[1] != (id & 0xff) || !(r[2] & 0x80))
				continue; /* a late answer to an earlier query */
			if ((r[3] & 0x0f) != 0 || (r[6] == 0 && r[7] == 0)) {
				bad++;
				break;
			}
			t[ok++] = now_ns() - t0;
			done = 1;
		}
	}
	close(fd);
	if (!ok) {
		printf("{\"n\":0,\"p50_ns\":0,\"p99_ns\":0,\"mean_ns\":0,\"timeouts\":%d,\"bad\":%d}\n",
		       timeouts, bad);
		return 1;
	}
	report(t, ok, timeouts, bad);
	return 0;
}

static int serve(int port)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(port),
				  .sin6_addr = IN6ADDR_ANY_INIT };
	int one = 1, zero = 0, t, u;
	struct pollfd p[2];
	char buf[2048];

	t = socket(AF_INET6, SOCK_STREAM, 0);
	u = socket(AF_INET6, SOCK_DGRAM, 0);
	if (t < 0 || u < 0)
		return 1;
	setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(t, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	setsockopt(u, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(t, (struct sockaddr *)&a, sizeof(a)) || listen(t, 4096) ||
	    bind(u, (struct sockaddr *)&a, sizeof(a))) {
		perror("ef_bench serve");
		return 1;
	}
	printf("READY\n");
	fflush(stdout);
	p[0] = (struct pollfd){ .fd = t, .events = POLLIN };
	p[1] = (struct pollfd){ .fd = u, .events = POLLIN };
	for (;;) {
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			return 1;
		if (p[0].revents & POLLIN) {
			int c = accept(t, NULL, NULL);

			if (c >= 0)
				close(c);
		}
		if (p[1].revents & POLLIN)
			while (recv(u, buf, sizeof(buf), MSG_DONTWAIT) > 0)
				;
	}
}

/* As many connects as one thread can make in `seconds` (fresh socket each,
 * RST close): every one is a decision the fence records. */
static int storm(struct sockaddr_storage *ss, socklen_t sl, double seconds, unsigned spread)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	uint64_t t0 = now_ns(), end = t0 + (uint64_t)(seconds * 1e9), n = 0, errs = 0, now;
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	uint32_t base = ntohl(a4->sin_addr.s_addr);

	do {
		for (int k = 0; k < 64; k++) {
			int fd = socket(ss->ss_family, SOCK_STREAM, 0);

			if (fd < 0)
				return 1;
			if (spread > 1 && ss->ss_family == AF_INET)
				a4->sin_addr.s_addr = htonl(base + (uint32_t)(n % spread));
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			if (connect(fd, (const struct sockaddr *)ss, sl) < 0)
				errs++;
			n++;
			close(fd);
		}
		now = now_ns();
	} while (now < end);
	printf("{\"connects\": %llu, \"errors\": %llu, \"seconds\": %.3f}\n",
	       (unsigned long long)n, (unsigned long long)errs, (now - t0) / 1e9);
	return 0;
}

static uint64_t median_of(uint64_t *t, int n)
{
	qsort(t, n, sizeof(*t), cmp_u64);
	return t[n / 2];
}

static int syscalls(int n)
{
	static const char *const names[] = { "getppid", "open", "kill0", "fcntl", "ioctl",
					     "spawn" };
	uint64_t *t = calloc(n, sizeof(*t)), m[6];
	pid_t me = getpid();
	int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (!t || nullfd < 0)
		return 1;
	for (int k = 0; k < 6; k++) {
		/* a spawn (posix_spawn: clone3, or clone where the guard refuses
		 * clone3) costs a thousand times a syscall: fewer of them */
		int reps = k == 5 ? (n / 500 > 20 ? n / 500 : 20) : n;

		for (int i = 0; i < reps; i++) {
			uint64_t t0 = now_ns();

			if (k == 0) {
				(void)getppid();
			} else if (k == 1) {
				int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

				if (fd < 0)
					return 1;
				close(fd);
			} else if (k == 2) {
				if (kill(me, 0) < 0)
					return 1;
			} else if (k == 3) {
				if (fcntl(nullfd, F_GETFL) < 0)
					return 1;
			} else if (k == 4) {
				if (ioctl(nullfd, FIOCLEX) < 0)
					return 1;
			} else {
				char *const argv[] = { "/bin/true", NULL };
				int st;
				pid_t c;

				if (posix_spawn(&c, "/bin/true", NULL, NULL, argv, environ) ||
				    waitpid(c, &st, 0) != c)
					return 1;
			}
			t[i] = now_ns() - t0;
		}
		m[k] = median_of(t, reps);
	}
	printf("{\"n\":%d", n);
	for (int k = 0; k < 6; k++)
		printf(",\"%s_ns\":%llu", names[k], (unsigned long long)m[k]);
	printf("}\n");
	free(t);
	close(nullfd);
	return 0;
}

static int sink(int port)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(port),
				  .sin6_addr = IN6ADDR_ANY_INIT };
	int one = 1, zero = 0, t;
	static char buf[1 << 16];

	t = socket(AF_INET6, SOCK_STREAM, 0);
	if (t < 0)
		return 1;
	setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(t, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(t, (struct sockaddr *)&a, sizeof(a)) || listen(t, 64)) {
		perror("ef_bench sink");
		return 1;
	}
	printf("READY\n");
	fflush(stdout);
	for (;;) {
		int c = accept(t, NULL, NULL);

		if (c < 0)
			continue;
		while (read(c, buf, sizeof(buf)) > 0)
			;
		close(c);
	}
}

static int upload(const struct sockaddr_storage *ss, socklen_t sl, long mb)
{
	static char buf[1 << 16];
	uint64_t total = (uint64_t)mb << 20, sent = 0, t0;
	double secs;
	int fd;

	memset(buf, 'u', sizeof(buf));
	fd = socket(ss->ss_family, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (const struct sockaddr *)ss, sl) < 0) {
		fprintf(stderr, "upload: connect: %s\n", strerror(errno));
		return 1;
	}
	t0 = now_ns();
	while (sent < total) {
		ssize_t w = write(fd, buf, sizeof(buf));

		if (w < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "upload: write: %s\n", strerror(errno));
			return 1;
		}
		sent += (uint64_t)w;
	}
	shutdown(fd, SHUT_WR);
	while (read(fd, buf, sizeof(buf)) > 0) /* the sink's close: all of it was read */
		;
	secs = (double)(now_ns() - t0) / 1e9;
	close(fd);
	printf("{\"bytes\":%llu,\"seconds\":%.6f,\"mbit_s\":%.1f}\n", (unsigned long long)sent,
	       secs, (double)sent * 8 / secs / 1e6);
	return 0;
}

/* connect, connect-denied, sendto, sendto-new, dns: N timed calls; prints
 * the report line. 0 ok, 1 a call failed, 2 a bad command. */
static int timed(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	uint64_t *t;
	int n, fd, refused = 0;

	if (argc < 5 || parse_addr(argv[2], atoi(argv[3]), &ss, &sl) || (n = atoi(argv[4])) <= 0 ||
	    (!strcmp(argv[1], "dns") ? argc != 6 && argc != 7 : argc != 5)) {
		fprintf(stderr, "usage: ef_bench serve PORT | connect|connect-denied|sendto|sendto-new"
				" ADDR PORT N | dns ADDR PORT N NAME [TIMEOUT_MS] |"
				" storm ADDR PORT SECONDS [SPREAD] | sink PORT | upload ADDR PORT MB |"
				" script\n");
		return 2;
	}
	t = calloc(n, sizeof(*t));
	if (!t)
		return 1;
	if (!strcmp(argv[1], "dns")) {
		int timeout_ms = argc == 7 ? atoi(argv[6]) : 1000, ret;

		ret = dns(&ss, sl, n, argv[5], timeout_ms > 0 ? timeout_ms : 1000, t);
		free(t);
		return ret;
	}
	if (!strcmp(argv[1], "connect") || !strcmp(argv[1], "connect-denied")) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 }; /* RST: no TIME_WAIT pile-up */
		bool denied = !strcmp(argv[1], "connect-denied");

		for (int i = 0; i < n; i++) {
			uint64_t t0;
			int r;

			fd = socket(ss.ss_family, SOCK_STREAM, 0);
			if (fd < 0)
				goto fail;
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			t0 = now_ns();
			r = connect(fd, (struct sockaddr *)&ss, sl);
			t[i] = now_ns() - t0;
			if (denied ? r == 0 || errno != EPERM : r < 0) {
				fprintf(stderr, "%s: %s\n", argv[1], r ? strerror(errno) : "connected");
				close(fd);
				goto fail;
			}
			refused += r < 0;
			close(fd);
		}
	} else if (!strcmp(argv[1], "sendto") || !strcmp(argv[1], "sendto-new")) {
		bool fresh = !strcmp(argv[1], "sendto-new"); /* a socket each: its first send */

		fd = -1;
		for (int i = 0; i < n; i++) {
			uint64_t t0;

			if (fd < 0 && (fd = socket(ss.ss_family, SOCK_DGRAM, 0)) < 0)
				goto fail;
			t0 = now_ns();
			if (sendto(fd, "x", 1, 0, (struct sockaddr *)&ss, sl) < 0) {
				fprintf(stderr, "sendto: %s\n", strerror(errno));
				close(fd);
				goto fail;
			}
			t[i] = now_ns() - t0;
			if (fresh) {
				close(fd);
				fd = -1;
			}
		}
		if (fd >= 0)
			close(fd);
	} else {
		fprintf(stderr, "ef_bench: unknown mode %s\n", argv[1]);
		free(t);
		return 2;
	}
	(void)refused;
	report(t, n, -1, 0);
	free(t);
	return 0;
fail:
	free(t);
	return 1;
}

/* One command a line on stdin, as its own argv (connect, connect-denied,
 * sendto, sendto-new, dns); one JSON line out for each, flushed, or
 * {"error":..} (bench/costs.py keeps one of these in a long-lived job, so
 * that its rounds measure the calls and not a job's start and end). */
static int script(void)
{
	char line[512];

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("READY\n");
	while (fgets(line, sizeof(line), stdin)) {
		char *argv[9] = { "ef_bench" }, *save = NULL, *tok;
		int argc = 1, r;

		for (tok = strtok_r(line, " \t\n", &save); tok && argc < 8;
		     tok = strtok_r(NULL, " \t\n", &save))
			argv[argc++] = tok;
		argv[argc] = NULL;
		if (argc == 1)
			continue;
		r = timed(argc, argv);
		if (r)
			printf("{\"error\":%d}\n", r);
		fflush(stdout);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t sl;

	if (argc == 2 && !strcmp(argv[1], "script"))
		return script();
	if (argc == 3 && !strcmp(argv[1], "syscalls") && atoi(argv[2]) > 0)
		return syscalls(atoi(argv[2]));
	if (argc == 3 && !strcmp(argv[1], "serve"))
		return serve(atoi(argv[2]));
	if (argc == 3 && !strcmp(argv[1], "sink"))
		return sink(atoi(argv[2]));
	if (argc == 5 && !strcmp(argv[1], "upload") && !parse_addr(argv[2], atoi(argv[3]), &ss, &sl) &&
	    atol(argv[4]) > 0)
		return upload(&ss, sl, atol(argv[4]));
	if ((argc == 5 || argc == 6) && !strcmp(argv[1], "storm") &&
	    !parse_addr(argv[2], atoi(argv[3]), &ss, &sl))
		return storm(&ss, sl, atof(argv[4]), argc == 6 ? (unsigned)atoi(argv[5]) : 1);
	return timed(argc, argv);
}
