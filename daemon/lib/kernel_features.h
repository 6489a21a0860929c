/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Kernel features egressd relies on, probed at start (kernel_features.c decides,
 * kernel_probes.c holds the table and the probes of the real kernel).
 * A missing required feature makes egressd refuse to start; a missing
 * degradable one is logged and reported in `egressctl status`, and egressd
 * goes on without what it gives (the entry's `instead` says how).
 */
#ifndef EF_KERNEL_FEATURES_H
#define EF_KERNEL_FEATURES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cJSON;
struct ef_feature;

enum ef_feat_need { EF_FEAT_REQUIRED, EF_FEAT_DEGRADE };

/* What a probe may need to know of egressd's setup. */
struct ef_feat_ctx {
	const char *cgroup_root; /* a cgroup egressd owns (created before the probes) */
};

/* 0: present; -errno: missing (see ef_feature_missing_err) or refused. */
typedef int (*ef_feat_probe_fn)(const struct ef_feature *f, const struct ef_feat_ctx *ctx);

struct ef_feature {
	const char *name;	/* "BPF ring buffer (BPF_MAP_TYPE_RINGBUF)" */
	const char *since;	/* the upstream release that brought it: "5.8" */
	enum ef_feat_need need;
	const char *needed_for; /* "decision records from the kernel to egressd" */
	const char *instead;	/* EF_FEAT_DEGRADE: what egressd does without it */
	ef_feat_probe_fn probe;
	/* the probe's arguments, as it reads them */
	int type, attach, helper;
	const char *path;
};

#define EF_FEAT_MAX 64
#define EF_FEAT_LINE 512

struct ef_features {
	const struct ef_feature *tab;
	size_t n;
	uint64_t missing;     /* bit i: tab[i] is missing or refused */
	int err[EF_FEAT_MAX]; /* tab[i]'s probe result */
	char release[65];     /* uname -r */
};

/* Receives each line ef_features_check() has to say (EF_LOG_* levels). */
typedef void (*ef_feat_log_fn)(int level, const char *line, void *arg);

/*
 * Runs each probe of tab (n <= EF_FEAT_MAX) and says, through log, one line
 * per feature missing: an error for a required one, a warning for a
 * degradable one, nothing for those present. When a required one is
 * missing, a last error line says egressd refuses to start, and the return
 * is -ENOTSUP; else 0.
 */
int ef_features_check(struct ef_features *out, const struct ef_feature *tab, size_t n,
		      const struct ef_feat_ctx *ctx, const char *release, ef_feat_log_fn log,
		      void *arg);

/* The line for one missing feature (err: its probe's result). */
void ef_feature_line(char *buf, size_t len, const struct ef_feature *f, int err,
		     const char *release);

/* Is err what a kernel without the feature answers (rather than a refusal)? */
bool ef_feature_missing_err(int err);

bool ef_feature_have(const struct ef_features *fs, size_t idx);

/* "kernel": {"release", "missing": [{feature, since, required, error, instead}]} */
void ef_features_status(const struct ef_features *fs, struct cJSON *o);

#endif /* EF_KERNEL_FEATURES_H */
