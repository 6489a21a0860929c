// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Leftover job cgroups. A job's cgroup whose removal failed when the job
 * ended (egressd out of descriptors, say) would stay forever: at start,
 * once the saved jobs are adopted, every cgroup of the cgroup root named as
 * a job's (job-<id>) that no adopted job owns is looked at:
 *   - empty (cgroup.events "populated 0", for it and everything below):
 *     removed, the cgroups a job made inside it first (docker, systemd-run),
 *     and the ef_jobs entry left for it, if any;
 *   - processes inside, but no saved job state: left where it is, under the
 *     fence's cgroup root, its ef_jobs entry untouched. Its processes are
 *     still judged: by the policy version the entry names while that is
 *     loaded, refused (no job: the fence fails closed) otherwise. Logged as
 *     a warning, for an operator to look at; never killed nor moved here.
 * Nothing else of the cgroup root is touched.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "egressd.h"
#include "registry/registry.h"
#include "jobs.h"
#include "lib/cgroup.h"
#include "lib/util.h"
#include "fence.skel.h"
#include "jobs_int.h"

/* a cgroup that has processes, and no job egressd knows of */
static void orphan_left(struct ef_daemon *d, const char *path, uint64_t id)
{
	struct ef_job v;

	if (bpf_map_lookup_elem(bpf_map__fd(d->skel->maps.ef_jobs), &id, &v) == 0)
		log_warn("leftover job cgroup %s: processes still inside but no saved job state; "
			 "left in place, still fenced (its fence entry, policy version %u, stays)",
			 path, v.policy_id);
	else
		log_warn("leftover job cgroup %s: processes still inside but no saved job state "
			 "nor fence entry; left in place under the fence (its connections are "
			 "refused: no job)",
			 path);
}

int ef_jobs_sweep_cgroups(struct ef_daemon *d)
{
	size_t removed = 0, left = 0;
	struct dirent *de;
	DIR *dh;
	int ret;

	dh = opendir(d->cgroup_root);
	if (!dh) {
		ret = -errno;
		log_warn("looking for leftover job cgroups in %s: %s", d->cgroup_root,
			 strerror(-ret));
		return ret;
	}
	while ((de = readdir(dh))) {
		char path[EF_PATH_MAX + 300];
		uint64_t id;
		int pop;

		/* only what egressd names a job's cgroup (job_start.c) */
		if (de->d_type != DT_DIR || strncmp(de->d_name, "job-", 4) != 0 ||
		    !ef_job_id_valid(de->d_name + 4))
			continue;
		snprintf(path, sizeof(path), "%s/%s", d->cgroup_root, de->d_name);
		ret = ef_cgroup_id(path, &id);
		if (ret == -ENOENT)
			continue;
		if (ret) {
			log_warn("leftover job cgroup %s: its id: %s; left in place", path,
				 strerror(-ret));
			left++;
			continue;
		}
		if (ef_job_by_cgroup(d, id))
			continue; /* an adopted job's */
		pop = ef_cgroup_populated(path);
		if (pop == -ENOENT)
			continue;
		if (pop == 1) {
			orphan_left(d, path, id);
			left++;
			continue;
		}
		if (pop < 0) {
			log_warn("leftover job cgroup %s: reading cgroup.events: %s; left in place",
				 path, strerror(-pop));
			left++;
			continue;
		}
		/* nested ones first; a cgroup with a process fails with EBUSY */
		ret = ef_cgroup_remove_tree(path);
		if (ret) {
			log_warn("leftover job cgroup %s: removing it: %s; left in place", path,
				 strerror(-ret));
			left++;
			continue;
		}
		/* gone: no process can be in it any more, nor its id come back */
		bpf_map_delete_elem(bpf_map__fd(d->skel->maps.ef_jobs), &id);
		bpf_map_delete_elem(bpf_map__fd(d->skel->maps.ef_job_tp), &id);
		log_info("removed leftover job cgroup %s (empty, no adopted job owns it)", path);
		removed++;
	}
	closedir(dh);
	if (removed || left)
		log_info("leftover job cgroups: %zu removed, %zu left in place", removed, left);
	return 0;
}
