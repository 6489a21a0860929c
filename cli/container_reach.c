// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * `egressctl run` inside a container the runner made (docs/ci.md, "A job
 * that is a container"): what the runner bound into the container from the
 * host cannot be covered there (no mount namespace without CAP_SYS_ADMIN),
 * so it must not be there. egressd's for_run status names, for a caller in
 * a container (daemon/docker/container.c), each host file to look for: a
 * container runtime's socket, which a fenced job must not reach at all
 * (it is root on the host), and the fence's own files, which it may see
 * read-only; each as a device and a path inside its filesystem. A bind
 * mount in /proc/self/mountinfo shows both: the device, and as its root
 * the path of what is bound. The object is reachable through every mount
 * of that device whose root is the object, a directory above it, or (a
 * directory of the fence's) something below it.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "container_reach.h"
#include "mountinfo.h"

/* p is dir or below it */
static bool under(const char *p, const char *dir)
{
	size_t l = strlen(dir);

	if (!strcmp(dir, "/"))
		return true;
	return !strncmp(p, dir, l) && (p[l] == '\0' || p[l] == '/');
}

int ef_container_reach_check_in(const cJSON *container, const char *mountinfo, char *why,
				size_t whylen)
{
	const cJSON *reach = cJSON_GetObjectItem(container, "reach"), *e;
	struct ef_mountinfo m;
	char *line = NULL, dev[32];
	const char *mroot, *mp;
	size_t cap = 0;
	FILE *f;
	int ret = 0;

	if (!cJSON_IsArray(reach)) {
		snprintf(why, whylen, "egressd did not say what this container must not reach "
				      "(\"container\" in its status, egressd of this version needed)");
		return -EINVAL;
	}
	/* what egressd could not locate cannot be checked */
	cJSON_ArrayForEach(e, reach) {
		const char *u = cJSON_GetStringValue(cJSON_GetObjectItem(e, "unlocated"));

		if (u) {
			snprintf(why, whylen, "egressd cannot tell where the host's %.512s is in its "
					      "mounts (%.128s), so whether this container has it "
					      "bound in cannot be checked",
				 cJSON_GetStringValue(cJSON_GetObjectItem(e, "path")) ?: "?", u);
			return -EPERM;
		}
	}
	f = fopen(mountinfo, "re");
	if (!f) {
		snprintf(why, whylen, "%s: %s", mountinfo, strerror(errno));
		return -errno;
	}
	while (!ret && getline(&line, &cap, f) > 0) {
		bool ro;

		if (ef_mountinfo_parse(line, &m))
			continue;
		snprintf(dev, sizeof(dev), "%u:%u", m.major, m.minor);
		mroot = m.root;
		mp = m.mountpoint;
		ro = m.ro;
		cJSON_ArrayForEach(e, reach) {
			const char *path = cJSON_GetStringValue(cJSON_GetObjectItem(e, "path"));
			const char *kind = cJSON_GetStringValue(cJSON_GetObjectItem(e, "kind"));
			const char *edev = cJSON_GetStringValue(cJSON_GetObjectItem(e, "dev"));
			const char *root = cJSON_GetStringValue(cJSON_GetObjectItem(e, "root"));

			if (!path || !kind || !edev || !root || root[0] != '/') {
				snprintf(why, whylen, "egressd sent a malformed \"container\" reach list");
				ret = -EINVAL;
				break;
			}
			/* the object in the mount, or a part of it the mount */
			if (strcmp(dev, edev) || (!under(root, mroot) && !under(mroot, root)))
				continue;
			if (strcmp(kind, "fence")) {
				snprintf(why, whylen, "the host's %s %s is bound into this container "
						      "(at %s%s): a fenced job could leave the fence "
						      "through it; remove that volume from the job's "
						      "container (docs/ci.md)",
					 strcmp(kind, "runtime") ? "service" : "container runtime socket",
					 path,
					 mp, !under(root, mroot) ? ""
					     : root + (strcmp(mroot, "/") ? strlen(mroot) : 0));
				ret = -EPERM;
				break;
			}
			if (!ro) {
				snprintf(why, whylen, "egress-fence's own %s is bound read-write into "
						      "this container (at %s): a fenced job could "
						      "change it; bind it read-only (docs/ci.md)", path,
					 mp);
				ret = -EPERM;
				break;
			}
		}
	}
	free(line);
	fclose(f);
	return ret;
}

int ef_container_reach_check(const cJSON *container, char *why, size_t whylen)
{
	return ef_container_reach_check_in(container, "/proc/self/mountinfo", why, whylen);
}

int ef_container_root_ro_in(const char *mountinfo)
{
	struct ef_mountinfo m;
	char *line = NULL;
	size_t cap = 0;
	int ro = -ENOENT;
	FILE *f = fopen(mountinfo, "re");

	if (!f)
		return -errno;
	/* the last mount on / is the one seen */
	while (getline(&line, &cap, f) > 0)
		if (!ef_mountinfo_parse(line, &m) && !strcmp(m.mountpoint, "/"))
			ro = m.ro;
	free(line);
	fclose(f);
	return ro;
}
