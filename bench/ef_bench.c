// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The measuring end of `make bench` (bench/run.py drives it):
 *   ef_bench serve PORT          TCP accept-and-close and UDP sink on PORT
 *   ef_bench connect ADDR PORT N time N connect()s (fresh socket each, RST close)
 *   ef_bench sendto ADDR PORT N  time N sendto()s on one unconnected UDP socket
 * Prints one JSON line: {"n":N,"p50_ns":..,"p99_ns":..,"mean_ns":..}.
 * Only connect() / sendto() are timed, so the figure is the syscall path
 * the fence adds to.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

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

static void report(uint64_t *t, int n)
{
	long double sum = 0;

	qsort(t, n, sizeof(*t), cmp_u64);
	for (int i = 0; i < n; i++)
		sum += t[i];
	printf("{\"n\":%d,\"p50_ns\":%llu,\"p99_ns\":%llu,\"mean_ns\":%.0Lf}\n", n,
	       (unsigned long long)t[n / 2], (unsigned long long)t[(n * 99) / 100], sum / n);
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

int main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	uint64_t *t;
	int n, fd;

	if (argc == 3 && !strcmp(argv[1], "serve"))
		return serve(atoi(argv[2]));
	if (argc != 5 || parse_addr(argv[2], atoi(argv[3]), &ss, &sl) || (n = atoi(argv[4])) <= 0) {
		fprintf(stderr, "usage: ef_bench serve PORT | connect|sendto ADDR PORT N\n");
		return 2;
	}
	t = calloc(n, sizeof(*t));
	if (!t)
		return 1;
	if (!strcmp(argv[1], "connect")) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 }; /* RST: no TIME_WAIT pile-up */

		for (int i = 0; i < n; i++) {
			uint64_t t0;

			fd = socket(ss.ss_family, SOCK_STREAM, 0);
			if (fd < 0)
				return 1;
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			t0 = now_ns();
			if (connect(fd, (struct sockaddr *)&ss, sl) < 0) {
				fprintf(stderr, "connect: %s\n", strerror(errno));
				return 1;
			}
			t[i] = now_ns() - t0;
			close(fd);
		}
	} else if (!strcmp(argv[1], "sendto")) {
		fd = socket(ss.ss_family, SOCK_DGRAM, 0);
		if (fd < 0)
			return 1;
		for (int i = 0; i < n; i++) {
			uint64_t t0 = now_ns();

			if (sendto(fd, "x", 1, 0, (struct sockaddr *)&ss, sl) < 0) {
				fprintf(stderr, "sendto: %s\n", strerror(errno));
				return 1;
			}
			t[i] = now_ns() - t0;
		}
		close(fd);
	} else {
		fprintf(stderr, "ef_bench: unknown mode %s\n", argv[1]);
		return 2;
	}
	report(t, n);
	free(t);
	return 0;
}
