// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * daemon/decisions/fold.c: repeated decisions folded into one span, driven by a fake
 * clock. The first of a kind is written at once, its repeats in the window
 * come out as one fold with their count; anything that differs (process,
 * start time, destination, verdict, reason...) is its own; a job over its
 * budget folds by job, naming a sample of destinations; a full table ends
 * its oldest fold early; a job's folds are flushed at its end. Throughout:
 * written + folded counts account for every decision, and the spans per
 * job per window stay bounded whatever the job varies.
 * Also cli/inherit.c's choice of what an inherited descriptor is.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>

#include <cmocka.h>

#include "decisions/fold.h"
#include "../../cli/inherit.h"

#define SEC 1000000000ull
#define T0 (1000 * SEC)
#define WIN EF_FOLD_WINDOW_NS

struct sink {
	int n;
	uint64_t total;
	struct ef_fold_sum last;
	int by_job;
};

static void on_emit(void *ctx, const struct ef_fold_sum *s)
{
	struct sink *k = ctx;

	k->n++;
	k->total += s->count;
	k->last = *s;
	k->by_job += s->by_job;
}

static struct ef_event ev(uint64_t t, uint32_t pid, uint16_t port)
{
	struct ef_event e;

	memset(&e, 0, sizeof(e));
	e.ts_boot_ns = t;
	e.cgroup_id = 77;
	e.start_boot_ns = 5 * SEC;
	e.pid = pid;
	e.tid = pid;
	e.kind = EF_K_CONNECT;
	e.verdict = EF_V_DENY;
	e.reason = EF_R_NO_RULE;
	e.family = EF_FAM_V4;
	e.protocol = 6;
	e.port = port;
	e.addr[0] = 198, e.addr[1] = 18, e.addr[2] = 2, e.addr[3] = 1;
	memcpy(e.comm, "python3", 7);
	return e;
}

static void repeats_fold_into_one(void **state)
{
	struct sink k = { 0 };
	struct ef_fold *f = ef_fold_new(WIN, 100, 100, 64, on_emit, &k);
	struct ef_event e;
	int written = 0;

	(void)state;
	for (int i = 0; i < 1000; i++) {
		e = ev(T0 + i * 100000ull, 10, 443); /* 1000 in 0.1 s */
		written += !ef_fold_add(f, &e);
	}
	assert_int_equal(written, 1);
	assert_int_equal(k.n, 0); /* nothing before the window ends */
	ef_fold_expire(f, T0 + WIN - 1);
	assert_int_equal(k.n, 0);
	ef_fold_expire(f, T0 + WIN);
	assert_int_equal(k.n, 1);
	assert_int_equal(k.last.count, 999);
	assert_false(k.last.by_job);
	assert_int_equal(k.last.first_ns, T0 + 100000ull);
	assert_int_equal(k.last.last_ns, T0 + 999 * 100000ull);
	assert_int_equal(ef_fold_open(f), 0);
	assert_int_equal(ef_fold_folded(f), 999);
	ef_fold_free(f);
}

/* a lone decision leaves no fold span behind */
static void single_writes_once(void **state)
{
	struct sink k = { 0 };
	struct ef_fold *f = ef_fold_new(WIN, 100, 100, 64, on_emit, &k);
	struct ef_event e = ev(T0, 10, 443);

	(void)state;
	assert_false(ef_fold_add(f, &e));
	ef_fold_expire(f, T0 + 10 * WIN);
	assert_int_equal(k.n, 0);
	assert_int_equal(ef_fold_open(f), 0);
	ef_fold_free(f);
}

/* every field that shows on a span keeps decisions apart */
static void differences_are_not_folded(void **state)
{
	struct sink k = { 0 };
	struct ef_fold *f = ef_fold_new(WIN, 100, 100, 64, on_emit, &k);
	struct ef_event base = ev(T0, 10, 443), e;
	int written = 0;

	(void)state;
	written += !ef_fold_add(f, &base);
#define VARY(stmt)                          \
	do {                                \
		e = base;                   \
		e.ts_boot_ns += 1000;       \
		stmt;                       \
		written += !ef_fold_add(f, &e); \
	} while (0)
	VARY(e.pid = 11);
	VARY(e.start_boot_ns = 6 * SEC); /* a reused pid */
	VARY(e.port = 80);
	VARY(e.addr[3] = 2);
	VARY(e.family = EF_FAM_V6);
	VARY(e.protocol = 17);
	VARY(e.verdict = EF_V_ALLOW);
	VARY(e.reason = EF_R_METADATA);
	VARY(e.kind = EF_K_SEND);
	VARY(e.cgroup_id = 78);
	VARY(e.uid = 1000);
	VARY(e.rule_id = 3);
	VARY(e.policy_id = 2);
	VARY(e.name_id = 99);
	VARY(memcpy(e.exe, "curl", 4)); /* exec kept the pid */
	VARY(e.port2 = 53);
	assert_int_equal(written, 17);
	/* the thread, the parent and (but for tamper records) the socket are not
	 * part of it */
	VARY(e.tid = 12);
	VARY(e.ppid = 1);
	VARY(e.cookie = 1234);
	assert_int_equal(written, 17);
	/* a tamper record's target is */
	VARY(e.kind = EF_K_TAMPER; e.cookie = 1);
	VARY(e.kind = EF_K_TAMPER; e.cookie = 2);
	VARY(e.kind = EF_K_TAMPER; e.cookie = 2);
	assert_int_equal(written, 19);
	ef_fold_expire(f, T0 + 2 * WIN);
	assert_int_equal(k.n, 2);
	assert_int_equal(k.total, 3 + 1);
	ef_fold_free(f);
#undef VARY
}

/* after the window, the next is written at once again */
static void windows_restart(void **state)
{
	struct sink k = { 0 };
	struct ef_fold *f = ef_fold_new(WIN, 100, 100, 64, on_emit, &k);
	int written = 0, n = 0;

	(void)state;
	/* 10 s at 1000 a second, expiry ticking every 100 ms as egressd does */
	for (uint64_t t = T0; t < T0 + 10 * SEC; t += SEC / 1000) {
		struct ef_event e = ev(t, 10, 443);

		written += !ef_fold_add(f, &e);
		n++;
		if ((t - T0) % (SEC / 10) == 0)
			ef_fold_expire(f, t);
	}
	ef_fold_flush(f, 0, true);
	assert_int_equal(written + k.total, n);
	assert_in_range(written, 10, 11);
	assert_in_range(k.n, 10, 11);
	ef_fold_free(f);
}

/* a late record whose window is over starts a new one */
static void late_record_ends_window(void **state)
{
	struct sink k = { 0 };
	struct ef_fold *f = ef_fold_new(WIN, 100, 100, 64, on_emit, &k);
	struct ef_event e = ev(T0, 10, 443);

	(void)state;
	assert_false(ef_fold_add(f, &e));
	e.ts_boot_ns = T0 + 1;
	assert_true(ef_fold_add(f, &e));
	e.ts_boot_ns = T0 + WIN + 5; /* no expire in between */
	assert_false(ef_fold_add(f, &e));
	assert_int_equal(k.n, 1);
	assert_int_equal(k.last.count, 1);
	ef_fold_free(f);
}

/* a job that varies the port each time: the burst, then one job fold */
static void budget_bounds_distinct_floods(void **state)
{
	struct sink k = { 0 };
	struct ef_fold *f = ef_fold_new(WIN, 100, 10, 4096, on_emit, &k);
	int written = 0, n = 0;

	(void)state;
	for (int i = 0; i < 50000; i++) {
		struct ef_event e = ev(T0 + i * 10000ull, 10 + i % 7, (uint16_t)(1 + i));

		written += !ef_fold_add(f, &e);
		n++;
	}
	/* 50,000 in 0.5 s: the burst, and 5 more the rate refilled */
	assert_in_range(written, 104, 105);
	ef_fold_expire(f, T0 + 2 * WIN);
	assert_int_equal(k.n, 1);
	assert_true(k.last.by_job);
	assert_int_equal(k.last.count, n - written);
	assert_int_equal(k.last.n_dests, 32); /* the bound: 32 or more */
	assert_int_equal(k.last.n_pids, 7);
	assert_int_equal(k.last.n_sample, EF_FOLD_DESTS);
	assert_int_equal(k.last.sample[0].port, 101); /* the first past the burst */
	assert_int_equal(written + k.total, n);
	/* another job has a bucket of its own */
	{
		struct ef_event e = ev(T0 + 2 * WIN + 1, 10, 9);

		e.cgroup_id = 78;
		assert_false(ef_fold_add(f, &e));
	}
	ef_fold_free(f);
}

/* the bound over 10 s of any flood: the burst and the rate, each at most
 * twice (its repeats), and a job fold per reason per window */
static void spans_bounded_over_time(void **state)
{
	struct sink k = { 0 };
	struct ef_fold *f = ef_fold_new(WIN, EF_FOLD_JOB_BURST, EF_FOLD_JOB_RATE, 8192, on_emit, &k);
	uint64_t written = 0, n = 0;
	unsigned seed = 1;

	(void)state;
	for (uint64_t t = T0; t < T0 + 10 * SEC; t += 20000) { /* 50,000 a second */
		struct ef_event e = ev(t, 10 + (rand_r(&seed) % 50), (uint16_t)(rand_r(&seed) % 200));

		e.reason = rand_r(&seed) % 2 ? EF_R_NO_RULE : EF_R_DENY_RULE;
		written += !ef_fold_add(f, &e);
		n++;
		if ((t - T0) % (SEC / 10) == 0)
			ef_fold_expire(f, t);
	}
	ef_fold_flush(f, 0, true);
	assert_int_equal(written + k.total, n);
	assert_true(written <= EF_FOLD_JOB_BURST + 10 * EF_FOLD_JOB_RATE + 1);
	assert_true(written + k.n <= 2 * written + 11 * 2);
	ef_fold_free(f);
}

/* over the budget, another rule is another job fold: decoys cannot hide
 * which rule let a decision through */
static void job_folds_keep_the_rule(void **state)
{
	struct sink k = { 0 };
	struct ef_fold *f = ef_fold_new(WIN, 1, 1, 64, on_emit, &k);
	struct ef_event e = ev(T0, 10, 1);

	(void)state;
	assert_false(ef_fold_add(f, &e)); /* the budget */
	for (uint16_t p = 2; p < 50; p++) { /* decoys */
		e = ev(T0 + p, 10, p);
		e.verdict = EF_V_ALLOW;
		e.rule_id = 4;
		assert_true(ef_fold_add(f, &e));
	}
	e = ev(T0 + 100, 10, 443);
	e.verdict = EF_V_ALLOW;
	e.rule_id = 5;
	assert_true(ef_fold_add(f, &e));
	ef_fold_expire(f, T0 + 2 * WIN);
	assert_int_equal(k.n, 2);
	assert_true(k.last.by_job);
	assert_int_equal(k.last.e.rule_id, 5);
	assert_int_equal(k.last.count, 1);
	assert_int_equal(k.last.sample[0].port, 443);
	ef_fold_free(f);
}

/* the bucket refills at the rate, up to the burst, and not past it */
static void bucket_refills(void **state)
{
	struct sink k = { 0 };
	struct ef_fold *f = ef_fold_new(WIN, 10, 2, 256, on_emit, &k);
	int written = 0;
	uint16_t port = 1;

	(void)state;
	for (int i = 0; i < 20; i++) {
		struct ef_event e = ev(T0, 10, port++);

		written += !ef_fold_add(f, &e);
	}
	assert_int_equal(written, 10);
	/* 3 s later: 6 more */
	written = 0;
	for (int i = 0; i < 20; i++) {
		struct ef_event e = ev(T0 + 3 * SEC, 10, port++);

		written += !ef_fold_add(f, &e);
	}
	assert_int_equal(written, 6);
	/* an hour later: the burst, not 7200 */
	written = 0;
	for (int i = 0; i < 50; i++) {
		struct ef_event e = ev(T0 + 3603 * SEC, 10, port++);

		written += !ef_fold_add(f, &e);
	}
	assert_int_equal(written, 10);
	ef_fold_flush(f, 0, true);
	ef_fold_free(f);
}

/* a full table ends its oldest fold early: nothing lost, nothing unbounded */
static void full_table_ends_oldest(void **state)
{
	struct sink k = { 0 };
	struct ef_fold *f = ef_fold_new(WIN, 1000, 1000, 4, on_emit, &k);
	int written = 0, n = 0;

	(void)state;
	for (int r = 0; r < 3; r++) {
		for (int p = 0; p < 8; p++) {
			struct ef_event e = ev(T0 + (uint64_t)(r * 8 + p), 10, (uint16_t)(1 + p));

			written += !ef_fold_add(f, &e);
			n++;
		}
	}
	assert_true(ef_fold_open(f) <= 4);
	ef_fold_flush(f, 0, true);
	assert_int_equal(written + k.total, n);
	assert_int_equal(ef_fold_open(f), 0);
	ef_fold_free(f);
}

/* a job's end flushes its folds, and only its */
static void flush_one_job(void **state)
{
	struct sink k = { 0 };
	struct ef_fold *f = ef_fold_new(WIN, 100, 100, 64, on_emit, &k);
	struct ef_event a = ev(T0, 10, 443), b = ev(T0, 10, 443);

	(void)state;
	b.cgroup_id = 99;
	for (int i = 0; i < 3; i++) {
		ef_fold_add(f, &a);
		ef_fold_add(f, &b);
	}
	ef_fold_flush(f, 77, false);
	assert_int_equal(k.n, 1);
	assert_int_equal(k.last.e.cgroup_id, 77);
	assert_int_equal(k.last.count, 2);
	assert_int_equal(ef_fold_open(f), 1);
	ef_fold_expire(f, T0 + WIN);
	assert_int_equal(k.n, 2);
	assert_int_equal(k.last.e.cgroup_id, 99);
	ef_fold_free(f);
}

/* ---- cli/inherit.c ---- */

static const char *kind(int fd, mode_t mode, dev_t rdev, const char *link, int domain)
{
	struct ef_fd_info fi = { .fd = fd, .mode = mode, .rdev = rdev, .link = link,
				 .domain = domain };

	return ef_fd_close_kind(&fi);
}

static void inherited_kinds(void **state)
{
	(void)state;
	assert_string_equal(kind(5, S_IFSOCK, 0, "socket:[1]", AF_INET), "inet");
	assert_string_equal(kind(0, S_IFSOCK, 0, "socket:[1]", AF_INET6), "inet6");
	assert_string_equal(kind(5, S_IFSOCK, 0, "socket:[1]", AF_UNIX), "unix");
	assert_null(kind(1, S_IFSOCK, 0, "socket:[1]", AF_UNIX)); /* journald's stdout */
	assert_string_equal(kind(2, S_IFSOCK, 0, "socket:[1]", AF_NETLINK), "netlink");
	assert_string_equal(kind(5, S_IFSOCK, 0, "", -1), "socket");
	assert_string_equal(kind(5, S_IFSOCK, 0, "socket:[1]", AF_PACKET), "packet");
	assert_string_equal(kind(5, S_IFSOCK, 0, "socket:[1]", AF_VSOCK), "socket");
	assert_string_equal(kind(5, 0, 0, "anon_inode:[io_uring]", -1), "io_uring");
	assert_string_equal(kind(5, 0, 0, "anon_inode:bpf-map", -1), "bpf");
	assert_string_equal(kind(5, 0, 0, "anon_inode:bpf-prog", -1), "bpf");
	assert_string_equal(kind(5, 0, 0, "anon_inode:[pidfd]", -1), "pidfd");
	assert_string_equal(kind(5, S_IFREG, 0, "pidfd:[123]", -1), "pidfd");
	assert_string_equal(kind(5, S_IFREG, 0, "net:[4026531833]", -1), "namespace");
	assert_string_equal(kind(5, S_IFREG, 0, "pid_for_children:[4026531836]", -1), "namespace");
	assert_string_equal(kind(5, S_IFCHR, makedev(10, 200), "/dev/net/tun", -1), "tun");
	assert_string_equal(kind(5, S_IFCHR, makedev(10, 238), "/dev/vhost-net", -1), "tun");
	assert_string_equal(kind(5, S_IFCHR, makedev(108, 0), "/dev/ppp", -1), "tun");
	assert_string_equal(kind(5, S_IFDIR, 0, "/run/user/1000", -1), "directory");
	assert_string_equal(kind(0, S_IFDIR, 0, "/", -1), "directory");
	/* what stays */
	assert_null(kind(5, S_IFIFO, 0, "pipe:[77]", -1));
	assert_null(kind(5, S_IFREG, 0, "/tmp/net:[123]", -1));
	assert_null(kind(5, S_IFREG, 0, "/home/x/file", -1));
	assert_null(kind(0, S_IFCHR, makedev(136, 0), "/dev/pts/0", -1));
	assert_null(kind(5, S_IFCHR, makedev(1, 3), "/dev/null", -1));
	assert_null(kind(5, 0, 0, "anon_inode:[eventfd]", -1));
	assert_null(kind(5, 0, 0, "anon_inode:[eventpoll]", -1));
	assert_null(kind(5, S_IFREG, 0, "net:[]", -1));
	assert_null(kind(5, S_IFREG, 0, "Net:[1]", -1));
	assert_null(kind(5, S_IFREG, 0, "net:[1]x", -1));
	assert_null(kind(5, S_IFREG, 0, "", -1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(repeats_fold_into_one),
		cmocka_unit_test(single_writes_once),
		cmocka_unit_test(differences_are_not_folded),
		cmocka_unit_test(windows_restart),
		cmocka_unit_test(late_record_ends_window),
		cmocka_unit_test(budget_bounds_distinct_floods),
		cmocka_unit_test(spans_bounded_over_time),
		cmocka_unit_test(bucket_refills),
		cmocka_unit_test(job_folds_keep_the_rule),
		cmocka_unit_test(full_table_ends_oldest),
		cmocka_unit_test(flush_one_job),
		cmocka_unit_test(inherited_kinds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
