// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What docker_check.c asks (struct ef_dk_ctx's callbacks) of the request's
 * job: is this container, network or volume the job's (dockerd is asked),
 * may the job's policy reach this registry, and where a bind mount's
 * source is bound from. Apart from docker_check.c, which is pure: these
 * need dockerd, the policy and the file system.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/openat2.h>

#include <cjson/cJSON.h>

#include "docker_int.h"
#include "lib/util.h"
#include "ef_verdict.h"

#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif

/* ---- what docker_check.c asks ---- */

bool ef_dk_ref_plain(const char *s)
{
	size_t n = strlen(s);

	if (!n || n >= EF_DK_REF_MAX || s[0] == '.' || s[0] == '-')
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' || *s == '-'))
			return false;
	return true;
}

bool ef_dk_labelled(const cJSON *labels, const char *job)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(labels, EF_DK_LABEL);

	return cJSON_IsString(v) && !strcmp(v->valuestring, job);
}

int ef_dk_own_container(void *arg, const char *ref, char id[65])
{
	struct conn *c = arg;
	const cJSON *i, *l, *cp;
	cJSON *o;
	int st, ret = -ENOENT;

	if (!ef_dk_ref_plain(ref))
		return -ENOENT;
	o = ef_dk_up_json("/containers/%s/json", ref, &st);
	if (!o)
		return st ? -ENOENT : -EIO;
	i = cJSON_GetObjectItemCaseSensitive(o, "Id");
	l = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, "Config"),
					     "Labels");
	/* the label can come with an image (a commit's, a loaded one's): the
	 * cgroup parent only this endpoint sets */
	cp = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, "HostConfig"),
					      "CgroupParent");
	if (cJSON_IsString(i) && strlen(i->valuestring) == 64 && ef_dk_labelled(l, c->job) &&
	    cJSON_IsString(cp) && !strcmp(cp->valuestring, c->cgroup_rel)) {
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, "Name");
		const cJSON *img = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(o, "Config"), "Image");

		memcpy(id, i->valuestring, 65);
		snprintf(c->name, sizeof(c->name), "%s",
			 cJSON_IsString(n) ? n->valuestring + (n->valuestring[0] == '/') : "");
		snprintf(c->image, sizeof(c->image), "%s", cJSON_IsString(img) ? img->valuestring : "");
		ret = 0;
	}
	cJSON_Delete(o);
	return ret;
}

int ef_dk_network_ok(void *arg, const char *name, char *why, size_t whylen)
{
	struct conn *c = arg;
	const cJSON *drv, *nm;
	cJSON *o;
	int st, ret = 0;

	if (!ef_dk_ref_plain(name)) {
		snprintf(why, whylen, "refused by egress-fence's Docker endpoint: network name");
		return -EPERM;
	}
	o = ef_dk_up_json("/networks/%s", name, &st);
	drv = cJSON_GetObjectItemCaseSensitive(o, "Driver");
	nm = cJSON_GetObjectItemCaseSensitive(o, "Name");
	if (!cJSON_IsString(drv) || strcmp(drv->valuestring, "bridge") || !cJSON_IsString(nm) ||
	    (strcmp(nm->valuestring, "bridge") &&
	     !ef_dk_labelled(cJSON_GetObjectItemCaseSensitive(o, "Labels"), c->job))) {
		snprintf(why, whylen,
			 "refused by egress-fence's Docker endpoint: network %s (%s; the default "
			 "bridge or a network of this job's only)", name,
			 !o ? "no such network" : "not this job's");
		ret = -EPERM;
	}
	cJSON_Delete(o);
	return ret;
}

int ef_dk_volume_ok(void *arg, const char *name, char *why, size_t whylen)
{
	struct conn *c = arg;
	const cJSON *drv, *opts;
	cJSON *o;
	int st, ret = 0;

	if (!ef_dk_ref_plain(name)) {
		snprintf(why, whylen, "refused by egress-fence's Docker endpoint: volume name %s",
			 name);
		return -EPERM;
	}
	o = ef_dk_up_json("/volumes/%s", name, &st);
	if (!o && st == 404) {
		/* made now, the job's: dockerd would make it unlabelled, for the
		 * next job to mount */
		char body[EF_DK_REF_MAX + EF_JOB_ID_MAX + 96], *rb = NULL;

		snprintf(body, sizeof(body), "{\"Name\":\"%s\",\"Labels\":{\"%s\":\"%s\"}}", name,
			 EF_DK_LABEL, c->job);
		if (ef_dk_up_send("POST", "/volumes/create", body, &st, &rb) || st != 201)
			ret = -EPERM;
		free(rb);
		if (ret)
			snprintf(why, whylen, "volume %s could not be made", name);
		return ret;
	}
	if (!o)
		return snprintf(why, whylen, "volume %s: dockerd did not say", name), -EPERM;
	if (!ef_dk_labelled(cJSON_GetObjectItemCaseSensitive(o, "Labels"), c->job)) {
		snprintf(why, whylen,
			 "refused by egress-fence's Docker endpoint: volume %s is not this job's",
			 name);
		cJSON_Delete(o);
		return -EPERM;
	}
	drv = cJSON_GetObjectItemCaseSensitive(o, "Driver");
	opts = cJSON_GetObjectItemCaseSensitive(o, "Options");
	if (!cJSON_IsString(drv) || strcmp(drv->valuestring, "local") ||
	    (opts && !cJSON_IsNull(opts) && opts->child)) {
		snprintf(why, whylen,
			 "refused by egress-fence's Docker endpoint: volume %s has a driver or "
			 "driver options (it may bind any host path)", name);
		ret = -EPERM;
	}
	cJSON_Delete(o);
	return ret;
}

bool ef_dk_registry_ok(void *arg, const char *host, unsigned port)
{
	struct conn *c = arg;
	const struct ef_ports *v;
	uint8_t reason;
	uint32_t rule;

	if (!c->pol->names)
		return false;
	v = ef_name_lookup(c->pol->names, host, NULL);
	return v && ef_judge_ports(v, (uint16_t)port, EF_PROTO_TCP, &reason, &rule) == 1;
}

static bool under(const char *p, const char *dir)
{
	size_t n = strlen(dir);

	if (!n || (n == 1 && dir[0] == '/'))
		return false;
	return !strncmp(p, dir, n) && (p[n] == '\0' || p[n] == '/');
}

int ef_dk_bind_source(void *arg, const char *src, char *out, size_t outlen, char *why,
		       size_t whylen)
{
	struct conn *c = arg;
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC,
		.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	char real[PATH_MAX], fdp[64], dir[EF_PATH_MAX + 64];
	bool ok = false;
	struct stat st;
	int fd, tree = -1, ret = -EPERM;
	ssize_t n;
	unsigned k;

	fd = (int)syscall(SYS_openat2, AT_FDCWD, src, &how, sizeof(how));
	if (fd < 0) {
		snprintf(why, whylen, "%s", errno == ELOOP ? "a symbolic link on the path" :
					    errno == ENOENT ? "no such file or directory (make it "
							      "first)" : strerror(errno));
		return -EPERM;
	}
	snprintf(fdp, sizeof(fdp), "/proc/self/fd/%d", fd);
	n = readlink(fdp, real, sizeof(real) - 1);
	if (n <= 0 || fstat(fd, &st)) {
		snprintf(why, whylen, "cannot be read");
		goto out;
	}
	real[n] = '\0';
	if (c->workdir[0] && under(real, c->workdir))
		ok = true;
	for (size_t i = 0; !ok && i < c->n_binds; i++)
		ok = under(real, c->binds[i]);
	if (!ok) {
		snprintf(why, whylen, "outside the job's working directory%s%s and the policy's "
			 "\"docker.binds\"", c->workdir[0] ? " " : "", c->workdir);
		goto out;
	}
	if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "neither a directory nor a file");
		goto out;
	}
	/* the very file or directory judged, where the job cannot swap it */
	snprintf(dir, sizeof(dir), "%s/docker/%s", ef_dk.run_dir, c->job);
	if (ef_mkdir_p(dir, 0700)) {
		snprintf(why, whylen, "%s: %s", dir, strerror(errno));
		goto out;
	}
	k = atomic_fetch_add(&ef_dk.mounts, 1);
	if ((size_t)snprintf(out, outlen, "%s/%u", dir, k) >= outlen)
		goto out;
	if (S_ISDIR(st.st_mode) ? mkdir(out, 0700) && errno != EEXIST :
				  (ret = open(out, O_CREAT | O_WRONLY | O_CLOEXEC, 0600)) < 0 ||
					  close(ret)) {
		ret = -EPERM;
		snprintf(why, whylen, "%s: %s", out, strerror(errno));
		goto out;
	}
	ret = -EPERM;
	tree = (int)syscall(SYS_open_tree, fd, "",
			    OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
	if (tree < 0 || syscall(SYS_move_mount, tree, "", AT_FDCWD, out, MOVE_MOUNT_F_EMPTY_PATH)) {
		snprintf(why, whylen, "cannot be bound in place: %s", strerror(errno));
		goto out;
	}
	ret = 0;
out:
	if (tree >= 0)
		close(tree);
	close(fd);
	return ret;
}
