// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * daemon/lib/kernel_features.c: what egressd decides and says from the kernel
 * feature probes. A fake table drives it: each entry's probe returns the
 * result written in the entry (.type), so no kernel is asked.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "lib/kernel_features.h"
#include "lib/util.h"

#define REL "6.1.0-57-amd64"

struct said {
	int n;
	int level[8];
	char line[8][EF_FEAT_LINE];
};

static void say(int level, const char *line, void *arg)
{
	struct said *s = arg;

	assert_true(s->n < 8);
	s->level[s->n] = level;
	snprintf(s->line[s->n], sizeof(s->line[0]), "%s", line);
	s->n++;
}

static const struct ef_feat_ctx *seen_ctx;

static int fake_probe(const struct ef_feature *f, const struct ef_feat_ctx *ctx)
{
	seen_ctx = ctx;
	return f->type;
}

#define FAKE(name, since, need, result, what, instead) \
	{ name, since, need, what, instead, .probe = fake_probe, .type = result }

static void test_all_present(void **state)
{
	const struct ef_feature tab[] = {
		FAKE("ring buffer", "5.8", EF_FEAT_REQUIRED, 0, "records", NULL),
		FAKE("lsm_cgroup", "6.0", EF_FEAT_DEGRADE, 0, "sockets", "seccomp"),
	};
	struct ef_feat_ctx ctx = { .cgroup_root = "/sys/fs/cgroup/egress-fence" };
	struct ef_features fs;
	struct said s = { 0 };
	cJSON *o = cJSON_CreateObject(), *k;

	(void)state;
	assert_int_equal(ef_features_check(&fs, tab, 2, &ctx, REL, say, &s), 0);
	assert_int_equal(s.n, 0);
	assert_ptr_equal(seen_ctx, &ctx);
	assert_true(ef_feature_have(&fs, 0));
	assert_true(ef_feature_have(&fs, 1));
	assert_false(ef_feature_have(&fs, 2)); /* not in the table */
	ef_features_status(&fs, o);
	k = cJSON_GetObjectItem(o, "kernel");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(k, "release")), REL);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(k, "missing")), 0);
	cJSON_Delete(o);
}

static void test_required_missing_refuses(void **state)
{
	const struct ef_feature tab[] = {
		FAKE("ring buffer", "5.8", EF_FEAT_REQUIRED, 0, "records", NULL),
		FAKE("bpf_loop() in cgroup_skb", "5.17", EF_FEAT_REQUIRED, -EINVAL,
		     "the wire check", NULL),
		FAKE("lsm_cgroup", "6.0", EF_FEAT_DEGRADE, 0, "sockets", "seccomp"),
	};
	struct ef_feat_ctx ctx = { 0 };
	struct ef_features fs;
	struct said s = { 0 };

	(void)state;
	assert_int_equal(ef_features_check(&fs, tab, 3, &ctx, "5.15.0-91-generic", say, &s),
			 -ENOTSUP);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.level[0], EF_LOG_ERR);
	assert_string_equal(s.line[0], "kernel feature missing: bpf_loop() in cgroup_skb "
				       "(Linux 5.17+), needed for the wire check; this kernel is "
				       "5.15.0-91-generic");
	/* the newest release a required feature needs, compared as numbers */
	assert_int_equal(s.level[1], EF_LOG_ERR);
	assert_string_equal(s.line[1], "refusing to start: this kernel (5.15.0-91-generic) lacks 1 "
				       "required feature (above); egressd needs Linux 5.17 or later "
				       "with all of them");
	assert_false(ef_feature_have(&fs, 1));
	assert_true(ef_feature_have(&fs, 0));
	assert_int_equal(fs.err[1], -EINVAL);
}

static void test_degradable_missing_warns(void **state)
{
	const struct ef_feature tab[] = {
		FAKE("ring buffer", "5.8", EF_FEAT_REQUIRED, 0, "records", NULL),
		FAKE("lsm_cgroup", "6.0", EF_FEAT_DEGRADE, -EOPNOTSUPP, "socket creation",
		     "cgroup/sock_create and a seccomp filter"),
	};
	struct ef_feat_ctx ctx = { 0 };
	struct ef_features fs;
	struct said s = { 0 };
	cJSON *o = cJSON_CreateObject(), *m;

	(void)state;
	assert_int_equal(ef_features_check(&fs, tab, 2, &ctx, "5.15.0", say, &s), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.level[0], EF_LOG_WARN);
	assert_string_equal(s.line[0], "kernel feature missing: lsm_cgroup (Linux 6.0+), needed "
				       "for socket creation; this kernel is 5.15.0; going on "
				       "without it: cgroup/sock_create and a seccomp filter");
	assert_false(ef_feature_have(&fs, 1));
	/* and egressctl status --json says so */
	ef_features_status(&fs, o);
	m = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "kernel"), "missing"), 0);
	assert_non_null(m);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(m, "feature")), "lsm_cgroup");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(m, "since")), "6.0");
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(m, "required")));
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(m, "instead")),
			    "cgroup/sock_create and a seccomp filter");
	cJSON_Delete(o);
}

/* A kernel that has the feature and will not let egressd use it. */
static void test_refused_is_not_missing(void **state)
{
	const struct ef_feature tab[] = {
		FAKE("BPF LSM programs", "5.7", EF_FEAT_DEGRADE, -EPERM, "the tamper hooks",
		     "the guard"),
		FAKE("kernel BTF", "5.4", EF_FEAT_REQUIRED, -EACCES, "CO-RE", NULL),
	};
	struct ef_feat_ctx ctx = { 0 };
	struct ef_features fs;
	struct said s = { 0 };

	(void)state;
	assert_int_equal(ef_features_check(&fs, tab, 2, &ctx, "6.18.44", say, &s), -ENOTSUP);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.level[0], EF_LOG_WARN);
	assert_string_equal(s.line[0], "kernel feature refused: BPF LSM programs (Linux 5.7+, "
				       "refused here: Operation not permitted), needed for the "
				       "tamper hooks; this kernel is 6.18.44; going on without it: "
				       "the guard");
	assert_int_equal(s.level[1], EF_LOG_ERR);
	assert_string_equal(s.line[1], "kernel feature refused: kernel BTF (Linux 5.4+, refused "
				       "here: Permission denied), needed for CO-RE; this kernel is "
				       "6.18.44");
	assert_string_equal(s.line[2], "refusing to start: this kernel (6.18.44) lacks 1 required "
				       "feature (above); egressd needs Linux 5.4 or later with all "
				       "of them");
}

static void test_several_required(void **state)
{
	const struct ef_feature tab[] = {
		FAKE("a", "4.10", EF_FEAT_REQUIRED, -ENOENT, "x", NULL),
		FAKE("b", "5.17", EF_FEAT_REQUIRED, 0, "y", NULL),
		FAKE("c", "5.9", EF_FEAT_REQUIRED, -ENOSYS, "z", NULL),
		FAKE("d", "6.4", EF_FEAT_DEGRADE, -EINVAL, "w", "v"),
	};
	struct ef_feat_ctx ctx = { 0 };
	struct ef_features fs;
	struct said s = { 0 };

	(void)state;
	assert_int_equal(ef_features_check(&fs, tab, 4, &ctx, "4.19", say, &s), -ENOTSUP);
	assert_int_equal(s.n, 4);
	assert_int_equal(s.level[2], EF_LOG_WARN);
	/* a degradable feature's release does not raise the minimum */
	assert_string_equal(s.line[3], "refusing to start: this kernel (4.19) lacks 2 required "
				       "features (above); egressd needs Linux 5.17 or later with all "
				       "of them");
	assert_int_equal(fs.missing, (1u << 0) | (1u << 2) | (1u << 3));
}

static void test_table_too_long(void **state)
{
	static struct ef_feature tab[EF_FEAT_MAX + 1];
	struct ef_feat_ctx ctx = { 0 };
	struct ef_features fs;
	struct said s = { 0 };

	(void)state;
	assert_int_equal(ef_features_check(&fs, tab, EF_FEAT_MAX + 1, &ctx, REL, say, &s), -E2BIG);
	assert_int_equal(s.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_present),
		cmocka_unit_test(test_required_missing_refuses),
		cmocka_unit_test(test_degradable_missing_warns),
		cmocka_unit_test(test_refused_is_not_missing),
		cmocka_unit_test(test_several_required),
		cmocka_unit_test(test_table_too_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
