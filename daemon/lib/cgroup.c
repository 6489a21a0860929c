// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <signal.h>
#include <unistd.h>

#include "cgroup.h"
#include "util.h"

int ef_cgroup2_mount(char *out, size_t len)
{
	char line[4096], dev[256], dir[4096], type[64];
	int ret = -ENOENT;
	FILE *f;

	f = fopen("/proc/self/mounts", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%255s %4095s %63s", dev, dir, type) != 3)
			continue;
		if (strcmp(type, "cgroup2") != 0)
			continue;
		if (strlen(dir) >= len) {
			ret = -ENAMETOOLONG;
			break;
		}
		strcpy(out, dir);
		ret = 0;
		break;
	}
	fclose(f);
	return ret;
}

int ef_cgroup_id(const char *path, uint64_t *id)
{
	struct {
		struct file_handle fh;
		uint64_t id;
	} h = { .fh.handle_bytes = sizeof(uint64_t) };
	int mount_id;

	if (name_to_handle_at(AT_FDCWD, path, &h.fh, &mount_id, 0) < 0)
		return -errno;
	if (h.fh.handle_bytes != sizeof(uint64_t))
		return -EPROTO;
	memcpy(id, h.fh.f_handle, sizeof(*id));
	return 0;
}

int ef_cgroup_level(const char *mount, const char *path)
{
	size_t ml = strlen(mount);
	int level = 0;
	const char *p;

	while (ml > 1 && mount[ml - 1] == '/')
		ml--;
	if (strncmp(path, mount, ml) != 0 || (path[ml] != '/' && path[ml] != '\0'))
		return -EXDEV;
	for (p = path + ml; *p; p++) {
		if (*p == '/' && p[1] && p[1] != '/')
			level++;
	}
	return level;
}

int ef_cgroup_move(const char *path, pid_t pid)
{
	char f[4096], s[32];

	snprintf(f, sizeof(f), "%s/cgroup.procs", path);
	snprintf(s, sizeof(s), "%d\n", pid);
	return ef_write_str(f, s);
}

int ef_cgroup_populated(const char *path)
{
	char f[4096], *buf = NULL, *p;
	int ret;

	snprintf(f, sizeof(f), "%s/cgroup.events", path);
	ret = ef_read_file(f, 4096, &buf, NULL);
	if (ret)
		return ret;
	p = strstr(buf, "populated ");
	ret = p ? p[10] == '1' : -EPROTO;
	free(buf);
	return ret;
}

int ef_cgroup_remove_tree(const char *path)
{
	struct dirent *de;
	int ret = 0;
	DIR *d;

	d = opendir(path);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		char sub[4096];

		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name) >= (int)sizeof(sub))
			continue;
		ret = ef_cgroup_remove_tree(sub);
		if (ret)
			break;
	}
	closedir(d);
	if (!ret && rmdir(path) < 0 && errno != ENOENT)
		ret = -errno;
	return ret;
}

static int pids_collect(const char *path, pid_t **out, size_t *n, size_t *cap)
{
	char f[4096], *buf = NULL, *save = NULL;
	struct dirent *de;
	int ret;
	DIR *d;

	snprintf(f, sizeof(f), "%s/cgroup.procs", path);
	ret = ef_read_file(f, 1 << 22, &buf, NULL);
	if (ret)
		return ret;
	for (char *t = strtok_r(buf, "\n", &save); t; t = strtok_r(NULL, "\n", &save)) {
		if (*n == *cap) {
			size_t nc = *cap ? *cap * 2 : 16;
			pid_t *np = realloc(*out, nc * sizeof(pid_t));

			if (!np) {
				free(buf);
				return -ENOMEM;
			}
			*out = np;
			*cap = nc;
		}
		(*out)[(*n)++] = atoi(t);
	}
	free(buf);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char sub[4096];

		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name) >= (int)sizeof(sub))
			continue;
		ret = pids_collect(sub, out, n, cap);
		if (ret && ret != -ENOENT)
			break;
		ret = 0;
	}
	closedir(d);
	return ret;
}

int ef_cgroup_pids(const char *path, pid_t **out, size_t *n)
{
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	return pids_collect(path, out, n, &cap);
}

int ef_cgroup_of_pid(pid_t pid, char *out, size_t len)
{
	char f[64], *buf = NULL, *line, *save = NULL;
	int ret = -ENOENT;

	snprintf(f, sizeof(f), "/proc/%d/cgroup", pid);
	if (ef_read_file(f, 1 << 16, &buf, NULL))
		return -errno;
	/* the cgroup2 line is "0::/path" (hybrid hosts list v1 lines too) */
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "0::", 3) != 0)
			continue;
		if (strlen(line + 3) >= len) {
			ret = -ENAMETOOLONG;
			break;
		}
		strcpy(out, line + 3);
		ret = 0;
		break;
	}
	free(buf);
	return ret;
}

int ef_cgroup_freeze(const char *path, bool freeze)
{
	char f[4096];

	snprintf(f, sizeof(f), "%s/cgroup.freeze", path);
	return ef_write_str(f, freeze ? "1\n" : "0\n");
}

int ef_cgroup_state(const char *path)
{
	char f[4096], *buf = NULL;
	bool want = false, frozen;
	int ret;

	snprintf(f, sizeof(f), "%s/cgroup.freeze", path);
	ret = ef_read_file(f, 64, &buf, NULL);
	if (ret)
		return ret;
	want = buf[0] == '1';
	free(buf);
	buf = NULL;
	snprintf(f, sizeof(f), "%s/cgroup.events", path);
	ret = ef_read_file(f, 4096, &buf, NULL);
	if (ret)
		return ret;
	/* cgroup.events says what has taken effect, cgroup.freeze what was asked */
	frozen = !strncmp(buf, "frozen 1\n", 9) || strstr(buf, "\nfrozen 1\n");
	free(buf);
	if (want)
		return frozen ? EF_CG_FROZEN : EF_CG_FREEZING;
	return frozen ? EF_CG_THAWING : EF_CG_RUNNING;
}

const char *ef_cgroup_state_name(int state)
{
	switch (state) {
	case EF_CG_RUNNING:
		return "running";
	case EF_CG_FREEZING:
		return "freezing";
	case EF_CG_FROZEN:
		return "frozen";
	case EF_CG_THAWING:
		return "thawing";
	}
	return "unknown";
}

int ef_cgroup_kill(const char *path)
{
	char f[4096];
	pid_t *pids = NULL;
	size_t n = 0;
	int ret;

	snprintf(f, sizeof(f), "%s/cgroup.kill", path);
	ret = ef_write_str(f, "1\n");
	if (ret != -ENOENT)
		return ret;
	/* before Linux 5.14: freeze so nothing forks, SIGKILL each, thaw */
	ef_cgroup_freeze(path, true);
	ret = ef_cgroup_pids(path, &pids, &n);
	for (size_t i = 0; i < n; i++)
		if (kill(pids[i], SIGKILL) < 0 && errno != ESRCH && !ret)
			ret = -errno;
	free(pids);
	ef_cgroup_freeze(path, false);
	return ret;
}
