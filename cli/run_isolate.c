// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * egressctl run, before the job joins its cgroup: the namespaces that
 * keep it from its user's (or root's) processes and services outside the
 * fence, as egressd's status says (the fence's files, the container
 * runtimes' sockets it covers, the copy-on-write layer of a root job), and
 * the checks of a job inside a container.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <unistd.h>

#include "egressctl.h"
#include "container_reach.h"
#include "overlay.h"
#include "run.h"
#include "userns.h"

/* egressd's status for a job about to run (the run request's policy
 * fields go with it), on the connection already checked to be egressd's
 * (ctl_connect_root); NULL having said why. */
static cJSON *status_for_run(cJSON *run_req, int fd, const char *cmd)
{
	static const char *const pol_keys[] = { "policy", "policy_text", "policy_file" };
	cJSON *req = cJSON_CreateObject(), *st;

	if (!req) {
		fprintf(stderr, "egressctl: out of memory; not running %s unfenced\n", cmd);
		return NULL;
	}
	cJSON_AddStringToObject(req, "op", "status");
	cJSON_AddBoolToObject(req, "for_run", true);
	for (size_t i = 0; i < sizeof(pol_keys) / sizeof(pol_keys[0]); i++) {
		const cJSON *v = cJSON_GetObjectItem(run_req, pol_keys[i]);

		if (v)
			cJSON_AddItemToObject(req, pol_keys[i], cJSON_Duplicate(v, true));
	}
	st = ctl_exchange(fd, req);
	cJSON_Delete(req);
	if (!st)
		fprintf(stderr, "egressctl: not running %s unfenced\n", cmd);
	return st;
}

/* The container runtimes' sockets and egressd's covers for them, from the
 * status (pointers into it); the count, or -1 having said why. */
static int runtime_covers(const cJSON *st, struct ef_runtime_cover *rc, const char *cmd)
{
	const cJSON *a = cJSON_GetObjectItem(st, "runtime_sockets"), *e;
	int n = 0;

	if (!cJSON_IsArray(a))
		goto bad;
	cJSON_ArrayForEach(e, a) {
		const cJSON *p = cJSON_GetObjectItem(e, "path"), *c = cJSON_GetObjectItem(e, "cover");

		if (n >= EF_MAX_RUNTIME_COVERS || !cJSON_IsString(p) || !cJSON_IsString(c) ||
		    p->valuestring[0] != '/' || !p->valuestring[1] || c->valuestring[0] != '/')
			goto bad;
		rc[n].path = p->valuestring;
		rc[n].cover = c->valuestring;
		n++;
	}
	return n;
bad:
	fprintf(stderr, "egressctl: egressd did not say which container runtime sockets to cover "
			"(\"runtime_sockets\" in its status, egressd of this version needed); not "
			"running %s unfenced\n", cmd);
	return -1;
}

/*
 * A root job gets a mount namespace of its own before it joins its cgroup
 * (userns.c ef_root_isolate): the fence's own files read-only (where they
 * are, egressd says in its status), the host's services that start
 * processes for root covered, and the system directories copy-on-write
 * (overlay.c) unless the job's policy has "host_writes": true (which
 * egressd says in the same status). The layer made goes into the run
 * request ("overlay"), so that egressd records it and removes it when the
 * job ends. 0, or -1 having said why.
 */
static int isolate_root(cJSON *run_req, const cJSON *st, const struct ef_runtime_cover *rc,
			int n_rc, const char *const *writes, int n_writes, const char *cmd)
{
	struct ef_overlay_result *res = calloc(1, sizeof(*res));
	struct ef_root_opts o = { .writes = writes, .n_writes = n_writes, .runtimes = rc,
				  .n_runtimes = n_rc };
	const char *paths[EF_ROOT_MAX_PROTECT];
	const cJSON *pr, *p, *hw, *od;
	cJSON *ov, *wt;
	char why[512] = "";
	int n = 0, ret = -1;

	if (!res)
		goto out;
	pr = cJSON_GetObjectItem(st, "protect");
	hw = cJSON_GetObjectItem(st, "host_writes");
	od = cJSON_GetObjectItem(st, "overlay_dir");
	if (!cJSON_IsArray(pr) || !cJSON_IsBool(hw) ||
	    (cJSON_IsFalse(hw) && (!cJSON_IsString(od) || od->valuestring[0] != '/'))) {
		fprintf(stderr, "egressctl: egressd did not say where its files are, or whether the "
				"job's system directories are private (\"protect\", \"host_writes\", "
				"\"overlay_dir\" in its status); not running %s unfenced\n", cmd);
		goto out;
	}
	cJSON_ArrayForEach(p, pr) {
		if (!cJSON_IsString(p) || p->valuestring[0] != '/' || n >= EF_ROOT_MAX_PROTECT) {
			fprintf(stderr, "egressctl: egressd sent a malformed \"protect\" list; not "
					"running %s unfenced\n", cmd);
			goto out;
		}
		paths[n++] = p->valuestring;
	}
	o.protect = paths;
	o.n_protect = n;
	o.overlay_dir = cJSON_IsFalse(hw) ? od->valuestring : NULL;
	if (ef_root_isolate(&o, res, why, sizeof(why))) {
		fprintf(stderr, "egressctl: the root job's mount namespace: %s; not running %s "
				"unfenced\n", why, cmd);
		goto out;
	}
	if (res->name[0]) {
		ov = cJSON_AddObjectToObject(run_req, "overlay");
		if (!ov || !cJSON_AddStringToObject(ov, "name", res->name) ||
		    !(wt = cJSON_AddArrayToObject(ov, "write_through")))
			goto out;
		for (int i = 0; i < res->n_through; i++)
			cJSON_AddItemToArray(wt, cJSON_CreateString(res->through[i]));
	}
	ret = 0;
out:
	if (!res)
		fprintf(stderr, "egressctl: out of memory; not running %s unfenced\n", cmd);
	free(res);
	return ret;
}

/* CAP_SYS_ADMIN in this process's effective set (a container's root has
 * it only in a privileged container) */
static bool have_sys_admin(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = { 0 };

	if (syscall(SYS_capget, &h, d) != 0)
		return false;
	return d[CAP_SYS_ADMIN / 32].effective & (1u << (CAP_SYS_ADMIN % 32));
}

/*
 * An unprivileged job gets a user namespace of its own (userns.c), so it
 * cannot ptrace or write the memory of processes of its user outside the
 * fence, and a mount namespace where the host's services that act for
 * whoever asks are covered; a root job, the mount namespace of
 * isolate_root(). Both have the host's container runtimes covered by
 * egressd's listeners (daemon/docker/runtimes.c). Where the host refuses a user
 * namespace, the job runs without it, said on stderr and on the job span
 * (egress.same_user_isolation). 0, or -1 having said why the command must
 * not run.
 */
int run_isolate_same_user(cJSON *req, cJSON *attrs, int fd, const char *const *writes,
			  int n_writes, bool *in_container, const char *cmd)
{
	const cJSON *ctr;
	struct ef_runtime_cover rc[EF_MAX_RUNTIME_COVERS];
	cJSON *st = status_for_run(req, fd, cmd);
	char why[512] = "";
	int ret = -1, n_rc;

	if (!st)
		return -1;
	/* already fenced (a nested run): egressd refuses the request and
	 * records it; no namespace to make for a command that will not run */
	if (cJSON_IsString(cJSON_GetObjectItem(st, "caller_job"))) {
		ret = 0;
		goto out;
	}
	/* the run request would fail the same way */
	if (cJSON_IsString(cJSON_GetObjectItem(st, "run_policy_error"))) {
		fprintf(stderr, "egressctl: %s\negressctl: not running %s unfenced\n",
			cJSON_GetObjectItem(st, "run_policy_error")->valuestring, cmd);
		goto out;
	}
	n_rc = runtime_covers(st, rc, cmd);
	if (n_rc < 0)
		goto out;
	/* inside a container the runner made (container_reach.c): nothing of the
	 * host's it must not reach, whatever this process can do about it */
	ctr = cJSON_GetObjectItem(st, "container");
	if (ctr && ef_container_reach_check(ctr, why, sizeof(why))) {
		fprintf(stderr, "egressctl: %s; not running %s unfenced\n", why, cmd);
		goto out;
	}
	/* and a root there without CAP_SYS_ADMIN makes no mount namespace:
	 * the guard checks that the container's own mounts keep the fence
	 * (guard.c), and the seccomp filter and Landlock come with
	 * no_new_privs */
	if (ctr && geteuid() == 0 && !have_sys_admin()) {
		/* no copy-on-write layer either: what the command writes in the
		 * container's system directories, the runner's later steps there
		 * would run unfenced. A read-only container, or a policy that
		 * says its system writes may stay ("host_writes") */
		if (!cJSON_IsTrue(cJSON_GetObjectItem(st, "host_writes")) &&
		    ef_container_root_ro_in("/proc/self/mountinfo") != 1) {
			fprintf(stderr, "egressctl: this container's root filesystem is writable, "
					"and a root job here gets no copy-on-write layer: what the "
					"command writes in it (/usr/bin, /etc/ld.so.preload) would "
					"run unfenced in the runner's later steps; run the container "
					"read-only (--read-only) or give the job a policy with "
					"\"host_writes\": true (docs/ci.md); not running %s "
					"unfenced\n", cmd);
			goto out;
		}
		*in_container = true;
		cJSON_DeleteItemFromObjectCaseSensitive(attrs, "egress.same_user_isolation");
		cJSON_AddStringToObject(attrs, "egress.same_user_isolation", "container");
		ret = 0;
		goto out;
	}
	if (geteuid() == 0) {
		cJSON_DeleteItemFromObjectCaseSensitive(attrs, "egress.same_user_isolation");
		cJSON_AddStringToObject(attrs, "egress.same_user_isolation", "root");
		ret = isolate_root(req, st, rc, n_rc, writes, n_writes, cmd);
		goto out;
	}
	ret = ef_userns_isolate(rc, n_rc, why, sizeof(why));
	if (ret < 0) {
		fprintf(stderr, "egressctl: %s; not running %s unfenced\n", why, cmd);
		ret = -1;
		goto out;
	}
	/* without a namespace, no covers: a runtime this user may connect to
	 * would be root on the host for the job */
	for (int i = 0; ret > 0 && i < n_rc; i++) {
		struct stat rst;

		if (stat(rc[i].path, &rst) == 0 && S_ISSOCK(rst.st_mode) &&
		    access(rc[i].path, W_OK) == 0) {
			fprintf(stderr, "egressctl: %s, so the job cannot have the container "
					"runtime's socket %s covered, and this user may connect to it "
					"(it acts as root on the host); not running %s unfenced\n",
				why, rc[i].path, cmd);
			ret = -1;
			goto out;
		}
	}
	if (ret > 0)
		fprintf(stderr, "egressctl: warning: %s: the job can ptrace processes of its user "
				"outside the fence, and reach the host's services that act for it "
				"there (resolvers, D-Bus, systemd --user, tmux, container runtimes; "
				"see docs/threat-model.md)\n", why);
	cJSON_DeleteItemFromObjectCaseSensitive(attrs, "egress.same_user_isolation");
	cJSON_AddStringToObject(attrs, "egress.same_user_isolation", ret ? "none" : "userns");
	ret = 0;
out:
	cJSON_Delete(st);
	return ret;
}
