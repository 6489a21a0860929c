// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The run request's "inherited_fds" (daemon/jobs/job_fds.c), as egressd gets it
 * from any local user: parsed, then put on a span and through the job's
 * state file and back. Invariants: a refusal leaves no kinds; an
 * acceptance has a count of at least the kinds, each kind well formed and
 * once; the state file gives back what was accepted.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "egressd.h"
#include "jobs/jobs.h"
#include "fuzz.h"

static bool kind_ok(const char *k)
{
	size_t n = strlen(k);

	if (!n || n > EF_FD_KIND_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' && k[i] <= '9') || k[i] == '_'))
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ef_job_rec j, back;
	static struct ef_span s;
	cJSON *req = cJSON_ParseWithLength((const char *)data, size), *saved;
	char err[512] = "";
	int ret;

	if (!req)
		return 0;
	memset(&j, 0, sizeof(j));
	ret = ef_job_fds_parse(req, &j, err, sizeof(err));
	CHECK(ret == 0 || ret == -EINVAL);
	CHECK(j.n_fd_kinds >= 0 && j.n_fd_kinds <= EF_FD_KINDS);
	if (ret) {
		CHECK(err[0] && j.n_fd_kinds == 0);
		cJSON_Delete(req);
		return 0;
	}
	CHECK(j.fds_closed >= -1);
	CHECK(j.fds_closed >= j.n_fd_kinds || (j.fds_closed == -1 && !j.n_fd_kinds));
	for (int i = 0; i < j.n_fd_kinds; i++) {
		CHECK(kind_ok(j.fd_kinds[i]));
		for (int k = 0; k < i; k++)
			CHECK(strcmp(j.fd_kinds[i], j.fd_kinds[k]));
	}
	ef_span_init(&s, "egress.job", 1);
	ef_job_fds_span(&s, &j);
	saved = cJSON_CreateObject();
	ef_job_fds_save(saved, &j);
	memset(&back, 0, sizeof(back));
	ef_job_fds_load(saved, &back);
	CHECK(back.fds_closed == j.fds_closed && back.n_fd_kinds == j.n_fd_kinds);
	for (int i = 0; i < j.n_fd_kinds; i++)
		CHECK(!strcmp(back.fd_kinds[i], j.fd_kinds[i]));
	cJSON_Delete(saved);
	cJSON_Delete(req);
	return 0;
}
