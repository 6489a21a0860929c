// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * egressctl policy suggest's string sets (suggest.h): copies of strings,
 * deduplicated in an open-addressing table, and their members sorted.
 * report.c names the processes of a denial with one too.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "suggest.h"

static size_t set_find(const struct suggest_set *set, const char *s)
{
	size_t mask = set->cap - 1, i;

	i = (size_t)ef_fnv1a(s, strlen(s), EF_FNV1A_INIT) & mask;
	while (set->slot[i] && strcmp(set->slot[i], s))
		i = (i + 1) & mask;
	return i;
}

static int set_grow(struct suggest_set *set)
{
	struct suggest_set bigger = { .cap = set->cap ? 2 * set->cap : 16 };

	bigger.slot = calloc(bigger.cap, sizeof(*bigger.slot));
	if (!bigger.slot)
		return -ENOMEM;
	for (size_t i = 0; i < set->cap; i++)
		if (set->slot[i])
			bigger.slot[set_find(&bigger, set->slot[i])] = set->slot[i];
	bigger.n = set->n;
	free(set->slot);
	*set = bigger;
	return 0;
}

int suggest_set_add(struct suggest_set *set, const char *s, bool *added)
{
	size_t i;
	int ret;

	if (added)
		*added = false;
	if (2 * (set->n + 1) > set->cap) {
		ret = set_grow(set);
		if (ret)
			return ret;
	}
	i = set_find(set, s);
	if (set->slot[i])
		return 0;
	set->slot[i] = strdup(s);
	if (!set->slot[i])
		return -ENOMEM;
	set->n++;
	if (added)
		*added = true;
	return 0;
}

bool suggest_set_has(const struct suggest_set *set, const char *s)
{
	return set->cap && set->slot[set_find(set, s)];
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int suggest_set_sorted(const struct suggest_set *set, const char ***ret)
{
	const char **v = calloc(set->n + 1, sizeof(*v));
	size_t n = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < set->cap; i++)
		if (set->slot[i])
			v[n++] = set->slot[i];
	qsort(v, n, sizeof(*v), cmp_str);
	*ret = v;
	return 0;
}

void suggest_set_free(struct suggest_set *set)
{
	for (size_t i = 0; i < set->cap; i++)
		free(set->slot[i]);
	free(set->slot);
	memset(set, 0, sizeof(*set));
}
