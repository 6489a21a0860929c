// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * process.executable.path for decision records. The kernel side records
 * the executable's basename; the full path comes from /proc/<pid>/exe,
 * cached per pid and trusted only while the process start time (boot clock,
 * from the record) and the basename still match: pids are reused and a
 * process may exec after fork.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "procinfo.h"
#include "util.h"

#define CACHE_SLOTS 4096

struct slot {
	uint32_t pid;
	uint64_t start_ticks;
	char path[256];
};

struct ef_proc_cache {
	long ns_per_tick;
	struct slot s[CACHE_SLOTS];
};

struct ef_proc_cache *ef_proc_cache_new(void)
{
	struct ef_proc_cache *c = calloc(1, sizeof(*c));
	long hz = sysconf(_SC_CLK_TCK);

	if (c)
		c->ns_per_tick = 1000000000L / (hz > 0 ? hz : 100);
	return c;
}

void ef_proc_cache_free(struct ef_proc_cache *c)
{
	free(c);
}

static int start_ticks(uint32_t pid, uint64_t *out)
{
	char path[64], buf[1024], *p;
	FILE *f;
	int field;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* comm may contain spaces and parens */
	if (!p)
		return -EPROTO;
	/* field 3 starts after ") "; starttime is field 22 */
	for (field = 2; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	if (!p)
		return -EPROTO;
	*out = strtoull(p + 1, NULL, 10);
	return 0;
}

int ef_proc_start_ns(const struct ef_proc_cache *c, uint32_t pid, uint64_t *out)
{
	uint64_t t;
	int ret = start_ticks(pid, &t);

	if (!ret)
		*out = t * c->ns_per_tick;
	return ret;
}

static const char *base(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

/* A cached path whose basename is not the record's executable name is
 * stale: the process exec'd since. /proc/<pid>/exe of a deleted file ends
 * in " (deleted)", hence the prefix comparison. */
static bool same_exe(const char *path, const char *exe_base)
{
	return !exe_base[0] || !strncmp(base(path), exe_base, strlen(exe_base));
}

const char *ef_proc_exe(struct ef_proc_cache *c, uint32_t pid, uint64_t start_boot_ns,
			const char *exe_base)
{
	struct slot *s = &c->s[pid % CACHE_SLOTS];
	uint64_t want = start_boot_ns / c->ns_per_tick, have;
	char path[64];
	ssize_t n;

	if (s->pid == pid && s->start_ticks == want && s->path[0] && same_exe(s->path, exe_base))
		return s->path;
	snprintf(path, sizeof(path), "/proc/%u/exe", pid);
	n = readlink(path, s->path, sizeof(s->path) - 1);
	if (n <= 0 || start_ticks(pid, &have) || have != want) {
		s->pid = 0;
		s->path[0] = '\0';
		return NULL;
	}
	s->path[n] = '\0';
	s->pid = pid;
	s->start_ticks = want;
	return s->path;
}
