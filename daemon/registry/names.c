// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Names behind ef_names ids. A learned address carries the id of the name
 * it was learned from; records carry it to here, and server.address gets
 * the name. The pinned ef_names map is the source of truth (it survives a
 * restart); this direct-mapped cache saves the consumer a syscall per
 * record.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "egressd.h"
#include "registry.h"
#include "fence.skel.h"

#define CACHE_SLOTS 4096 /* power of two */

struct ef_name_cache {
	uint64_t id[CACHE_SLOTS];
	char *name[CACHE_SLOTS];
};

/* FNV-1a 64 of the name (already lowercase, no trailing dot); never 0,
 * which means "no name" in a record. */
uint64_t ef_name_id(const char *name)
{
	uint64_t h = ef_fnv1a(name, strlen(name), EF_FNV1A_INIT);

	return h ? h : 1;
}

/* Returns 1 if the cache already had it, 0 if added, -ENOMEM. */
int ef_name_remember(struct ef_daemon *d, uint64_t id, const char *name)
{
	size_t slot = id & (CACHE_SLOTS - 1);
	char *copy;

	if (!d->names && !(d->names = calloc(1, sizeof(*d->names))))
		return -ENOMEM;
	if (d->names->id[slot] == id && d->names->name[slot] && !strcmp(d->names->name[slot], name))
		return 1;
	copy = strdup(name);
	if (!copy)
		return -ENOMEM;
	free(d->names->name[slot]);
	d->names->name[slot] = copy;
	d->names->id[slot] = id;
	return 0;
}

const char *ef_name_get(struct ef_daemon *d, uint64_t id)
{
	size_t slot = id & (CACHE_SLOTS - 1);
	struct ef_name_val v;

	if (!id)
		return NULL;
	if (d->names && d->names->id[slot] == id && d->names->name[slot])
		return d->names->name[slot];
	if (!d->skel || bpf_map_lookup_elem(bpf_map__fd(d->skel->maps.ef_names), &id, &v))
		return NULL;
	v.name[sizeof(v.name) - 1] = '\0';
	if (ef_name_remember(d, id, v.name) < 0)
		return NULL;
	return d->names->name[slot];
}

void ef_name_cache_free(struct ef_daemon *d)
{
	if (!d->names)
		return;
	for (size_t i = 0; i < CACHE_SLOTS; i++)
		free(d->names->name[i]);
	free(d->names);
	d->names = NULL;
}
