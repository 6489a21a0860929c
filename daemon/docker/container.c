// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Jobs started inside a container: the runner made the container (GitLab's
 * Docker executor, GitHub's `container:` jobs) and the job's script runs
 * `egressctl run` in it, with egressd's control socket bound in
 * (docs/ci.md). egressd moves the caller into the job's cgroup as for any
 * job; what differs is on egressctl's side, which cannot make a mount
 * namespace there (the container's root has no CAP_SYS_ADMIN) and so
 * cannot cover what the runner may have bound into the container. So
 * egressd tells it, in the for_run status, which of the host's files it
 * must not find reachable: each container runtime's socket and the host's
 * services that start processes for whoever asks (refused whatever the
 * mount), and the fence's own files (read-only mounts only),
 * as a device and a path inside that device's filesystem, the two things
 * the container's /proc/self/mountinfo shows of a bind mount of the host's.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "../cli/mountinfo.h"
#include "container.h"
#include "egressd.h"
#include "docker.h"
#include "lib/util.h"

/* "docker-ID.scope", "libpod-ID.scope", "cri-containerd-ID.scope",
 * "crio-ID.scope" (systemd's driver) or "ID" (cgroupfs), ID 64 hex */
static bool component_id(const char *c, size_t len, char id[65])
{
	static const char *const pre[] = { "docker-", "libpod-", "cri-containerd-", "crio-", "" };

	if (len > 6 && !strncmp(c + len - 6, ".scope", 6))
		len -= 6;
	for (size_t i = 0; i < sizeof(pre) / sizeof(pre[0]); i++) {
		size_t pl = strlen(pre[i]);

		if (len != pl + 64 || strncmp(c, pre[i], pl) ||
		    strspn(c + pl, "0123456789abcdef") < 64)
			continue;
		memcpy(id, c + pl, 64);
		id[64] = '\0';
		return true;
	}
	return false;
}

bool ef_container_of_cgroup(const char *path, char id[65])
{
	bool found = false;

	id[0] = '\0';
	/* the innermost: a container's own nested cgroups are below it */
	for (const char *c = path; *c;) {
		size_t len = strcspn(c, "/\n");

		if (len && component_id(c, len, id))
			found = true;
		c += len;
		if (*c != '/')
			break;
		c++;
	}
	return found;
}

bool ef_container_of_pid(pid_t pid, char id[65])
{
	char p[64], *buf = NULL, *l;
	bool found = false;

	id[0] = '\0';
	snprintf(p, sizeof(p), "/proc/%d/cgroup", (int)pid);
	if (ef_read_file(p, 1 << 16, &buf, NULL))
		return false;
	/* the unified hierarchy's line, first or after a newline */
	for (l = buf; l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (!strncmp(l, "0::", 3)) {
			found = ef_container_of_cgroup(l + 3, id);
			break;
		}
	free(buf);
	return found;
}

/* path's device and its path within that device's filesystem, from
 * egressd's own mountinfo: the mount of that device whose mount point is
 * the longest prefix of the resolved path. 0, or -errno (not there). */
static int fs_location(const char *path, dev_t *dev, char *root, size_t rootlen)
{
	char real[PATH_MAX], *line = NULL;
	struct ef_mountinfo m;
	size_t cap = 0, best = 0;
	struct stat st;
	bool found = false;
	FILE *f;

	if (!realpath(path, real) || stat(real, &st))
		return -errno;
	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		size_t ml;

		if (ef_mountinfo_parse(line, &m) || makedev(m.major, m.minor) != st.st_dev)
			continue;
		ml = strlen(m.mountpoint);
		if (!strcmp(m.mountpoint, "/"))
			ml = 0;
		else if (strncmp(real, m.mountpoint, ml) || (real[ml] && real[ml] != '/'))
			continue;
		if (found && ml < best)
			continue;
		best = ml;
		found = true;
		snprintf(root, rootlen, "%s%s", strcmp(m.root, "/") ? m.root : "",
			 real[ml] ? real + ml : (strcmp(m.root, "/") ? "" : "/"));
	}
	free(line);
	fclose(f);
	if (!found)
		return -ENOENT;
	*dev = st.st_dev;
	return 0;
}

static void reach_add(cJSON *a, const char *path, const char *kind)
{
	char root[PATH_MAX], devs[32];
	dev_t dev;
	cJSON *e;

	int ret;

	if (!path[0] || path[0] != '/')
		return;
	ret = fs_location(path, &dev, root, sizeof(root));
	if (ret == -ENOENT && access(path, F_OK) != 0)
		return; /* not on this host: nothing to reach */
	e = cJSON_CreateObject();
	if (!e)
		return;
	if (ret) {
		/* there, but not found in egressd's mounts (a btrfs subvolume's
		 * device): egressctl cannot check it, and refuses */
		cJSON_AddStringToObject(e, "path", path);
		cJSON_AddStringToObject(e, "kind", kind);
		cJSON_AddStringToObject(e, "unlocated", strerror(-ret));
		cJSON_AddItemToArray(a, e);
		return;
	}
	snprintf(devs, sizeof(devs), "%u:%u", major(dev), minor(dev));
	cJSON_AddStringToObject(e, "path", path);
	cJSON_AddStringToObject(e, "kind", kind);
	cJSON_AddStringToObject(e, "dev", devs);
	cJSON_AddStringToObject(e, "root", root);
	cJSON_AddItemToArray(a, e);
}

void ef_container_preview(struct ef_daemon *d, pid_t pid, cJSON *reply)
{
	const char *const fence[] = { d->config_path, d->policy_dir, d->state_dir,
				      d->journal.dir, d->run_dir, d->bpffs_dir,
				      d->cgroup_root };
	static const char *const services[] = {
		"/run/systemd/private", "/run/dbus", "/run/nscd", "/run/systemd/resolve",
		"/run/user", "/run/screen", "/var/run/dbus",
	};
	char id[65];
	cJSON *c, *a;

	if (!ef_container_of_pid(pid, id))
		return;
	c = cJSON_AddObjectToObject(reply, "container");
	if (!c || !cJSON_AddStringToObject(c, "id", id) || !(a = cJSON_AddArrayToObject(c, "reach")))
		return;
	for (int i = 0; i < d->n_runtimes; i++)
		reach_add(a, d->runtimes[i].path, "runtime");
	reach_add(a, ef_docker_upstream(), "runtime");
	/* the host's services that start processes, or resolve names, for
	 * whoever asks (a root job's mount namespace covers them on the host:
	 * cli/userns.c) */
	for (size_t i = 0; i < sizeof(services) / sizeof(services[0]); i++)
		reach_add(a, services[i], "service");
	for (size_t i = 0; i < sizeof(fence) / sizeof(fence[0]); i++)
		if (fence[i][0] == '/' && fence[i][1])
			reach_add(a, fence[i], "fence");
}
