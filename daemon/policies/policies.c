// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Policy versions in the maps. A policy version gets an id; its destination
 * entries are written under that id first, its ef_policies value last, and
 * only then does a job point at it: a job never sees a half-loaded policy.
 * Identical sources share one id. A version is retired when its last user
 * (a job, a DNS query in flight) lets go of it, and unloaded from the maps
 * EF_POL_RETIRE_NS later: a BPF program that read a job's old policy id
 * just before egressd switched the job to a new version still finds every
 * entry of the old one, and so do its records still in the ring buffer.
 * Each loaded version is kept in <state-dir>/policies/<id>.json so a
 * restarted egressd knows the rule texts behind the ids in the maps.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "egressd.h"
#include "policies.h"
#include "lib/util.h"
#include "fence.skel.h"

static void state_path(struct ef_daemon *d, uint32_t id, char *out, size_t len)
{
	snprintf(out, len, "%s/policies/%u.json", d->state_dir, id);
}

/* Policy ids are never reused, not even across restarts: entries of an id
 * that a crash left behind must never be read as part of another policy. */
static int save_counter(struct ef_daemon *d)
{
	char path[EF_PATH_MAX + 32], s[32];

	snprintf(path, sizeof(path), "%s/policies/next-id", d->state_dir);
	snprintf(s, sizeof(s), "%u\n", d->next_policy_id);
	return ef_write_file_atomic(path, s, strlen(s), 0640);
}

static void load_counter(struct ef_daemon *d)
{
	char path[EF_PATH_MAX + 32], *s = NULL;

	snprintf(path, sizeof(path), "%s/policies/next-id", d->state_dir);
	if (!ef_read_file(path, 64, &s, NULL)) {
		unsigned long v = strtoul(s, NULL, 10);

		if (v > d->next_policy_id && v < UINT32_MAX)
			d->next_policy_id = v;
	}
	free(s);
}

static int map_load(struct ef_daemon *d, const struct ef_compiled *c)
{
	int fd_exact = bpf_map__fd(d->skel->maps.ef_exact);
	int fd_cidr = bpf_map__fd(d->skel->maps.ef_cidr);
	int fd_pol = bpf_map__fd(d->skel->maps.ef_policies);

	for (size_t i = 0; i < c->n_exact; i++)
		if (bpf_map_update_elem(fd_exact, &c->exact[i].key, &c->exact[i].val, BPF_ANY))
			return -errno;
	for (size_t i = 0; i < c->n_lpm; i++)
		if (bpf_map_update_elem(fd_cidr, &c->lpm[i].key, &c->lpm[i].val, BPF_ANY))
			return -errno;
	if (bpf_map_update_elem(fd_pol, &c->policy_id, &c->pval, BPF_ANY))
		return -errno;
	return 0;
}

static void map_unload(struct ef_daemon *d, const struct ef_compiled *c)
{
	int fd_exact = bpf_map__fd(d->skel->maps.ef_exact);
	int fd_cidr = bpf_map__fd(d->skel->maps.ef_cidr);
	int fd_pol = bpf_map__fd(d->skel->maps.ef_policies);

	bpf_map_delete_elem(fd_pol, &c->policy_id);
	for (size_t i = 0; i < c->n_exact; i++)
		bpf_map_delete_elem(fd_exact, &c->exact[i].key);
	for (size_t i = 0; i < c->n_lpm; i++)
		bpf_map_delete_elem(fd_cidr, &c->lpm[i].key);
}

static int persist(struct ef_daemon *d, const struct ef_pol_rec *p)
{
	char path[EF_PATH_MAX + 64], *s;
	cJSON *o = cJSON_CreateObject();
	int ret;

	if (!o)
		return -ENOMEM;
	cJSON_AddNumberToObject(o, "id", p->id);
	cJSON_AddStringToObject(o, "file", p->pol->file ? p->pol->file : "");
	cJSON_AddStringToObject(o, "origin", p->origin);
	cJSON_AddStringToObject(o, "source", p->pol->source);
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!s)
		return -ENOMEM;
	state_path(d, p->id, path, sizeof(path));
	ret = ef_write_file_atomic(path, s, strlen(s), 0640);
	free(s);
	return ret;
}

static void rec_free(struct ef_pol_rec *p)
{
	if (!p)
		return;
	ef_compiled_free(p->names);
	ef_policy_free(p->pol);
	free(p->origin);
	free(p);
}

/* A policy version's dns.upstream. */
static int pol_dns_upstreams(struct ef_pol_rec *p, char *err, size_t errlen)
{
	int ret = ef_upstreams_parse(p->pol->dns_upstream, p->pol->n_dns_upstream, p->up, &p->n_up);

	if (ret)
		snprintf(err, errlen, "%s: dns.upstream: %s", p->pol->file,
			 ret == -E2BIG ? "at most 4 servers" : "invalid address");
	return ret;
}

/* Compile p and, when `load`, write it into the maps. The name rules stay
 * compiled for the DNS proxy; the address entries are dropped once loaded
 * (they are recompiled to unload: large policies would double in memory). */
static int install(struct ef_daemon *d, struct ef_pol_rec *p, bool load, char *err,
		   size_t errlen)
{
	struct ef_compiled *c = NULL;
	int ret;

	ret = pol_dns_upstreams(p, err, errlen);
	if (ret)
		return ret;
	ret = ef_policy_compile(p->pol, p->id, &c, err, errlen);
	if (ret)
		return ret;
	ret = load ? map_load(d, c) : 0;
	if (ret) {
		snprintf(err, errlen, "%s: loading %zu+%zu entries into the maps: %s", p->pol->file,
			 c->n_exact, c->n_lpm, strerror(-ret));
		map_unload(d, c);
		ef_compiled_free(c);
		return ret;
	}
	free(c->lpm);
	free(c->exact);
	c->lpm = NULL;
	c->exact = NULL;
	c->n_lpm = c->n_exact = 0;
	p->names = c;
	return 0;
}

int ef_pol_get(struct ef_daemon *d, const char *text, size_t len, const char *file,
	       const char *origin, struct ef_pol_rec **out, char *err, size_t errlen)
{
	struct ef_policy *pol = NULL;
	struct ef_pol_rec *p;
	uint64_t h;
	int ret;

	ret = ef_policy_parse(text, len, file, &pol, err, errlen);
	if (ret)
		return ret;
	h = ef_fnv1a(text, len, EF_FNV1A_INIT);
	for (p = d->pols; p; p = p->next) {
		if (p->hash == h && !strcmp(p->pol->source, pol->source) &&
		    !strcmp(p->origin, origin)) {
			p->refs++;
			ef_policy_free(pol);
			*out = p;
			return 0;
		}
	}
	p = calloc(1, sizeof(*p));
	if (!p || !(p->origin = strdup(origin))) {
		ret = -ENOMEM;
		goto fail;
	}
	p->pol = pol;
	pol = NULL;
	p->hash = h;
	p->id = d->next_policy_id++;
	ret = save_counter(d);
	if (ret) {
		snprintf(err, errlen, "saving policy id counter: %s", strerror(-ret));
		goto fail;
	}
	ret = install(d, p, true, err, errlen);
	if (ret)
		goto fail;
	ret = persist(d, p);
	if (ret) {
		snprintf(err, errlen, "saving policy state: %s", strerror(-ret));
		ef_pol_put(d, p); /* not linked yet: unloads and frees */
		return ret;
	}
	p->refs = 1;
	p->next = d->pols;
	d->pols = p;
	*out = p;
	log_info("policy %s loaded as id %u (%zu rules)", p->pol->name, p->id, p->pol->n_rules);
	return 0;
fail:
	ef_policy_free(pol);
	rec_free(p);
	return ret;
}

static void unload(struct ef_daemon *d, struct ef_pol_rec *p)
{
	struct ef_compiled *c = NULL;
	char path[EF_PATH_MAX + 64], err[EF_ERR_LEN];

	if (!ef_policy_compile(p->pol, p->id, &c, err, sizeof(err))) {
		map_unload(d, c);
		ef_compiled_free(c);
	}
	state_path(d, p->id, path, sizeof(path));
	unlink(path);
	log_debug("policy id %u unloaded", p->id);
	rec_free(p);
}

void ef_pol_put(struct ef_daemon *d, struct ef_pol_rec *p)
{
	if (p->refs > 0 && --p->refs > 0)
		return;
	for (struct ef_pol_rec **pp = &d->pols; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	p->retired_ns = ef_now_boot_ns();
	p->next = d->pols_retired;
	d->pols_retired = p;
}

/* On the timer: unload the versions retired long enough ago. */
void ef_pols_tick(struct ef_daemon *d, bool all)
{
	uint64_t now = ef_now_boot_ns();

	for (struct ef_pol_rec **pp = &d->pols_retired; *pp;) {
		struct ef_pol_rec *p = *pp;

		if (!all && now - p->retired_ns < EF_POL_RETIRE_NS) {
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		unload(d, p);
	}
}

/* At exit: the versions stay in the maps for the jobs that outlive egressd;
 * those no job uses leave. */
void ef_pols_free(struct ef_daemon *d)
{
	ef_pols_tick(d, true);
	while (d->pols) {
		struct ef_pol_rec *p = d->pols;

		d->pols = p->next;
		rec_free(p);
	}
}

/* Read <state-dir>/policies back; reinstall a version whose maps are gone. */
int ef_pol_restore(struct ef_daemon *d)
{
	char dir[EF_PATH_MAX + 16], err[EF_ERR_LEN];
	int fd_pol = bpf_map__fd(d->skel->maps.ef_policies);
	struct dirent *de;
	DIR *dh;
	int ret;

	if (!d->next_policy_id)
		d->next_policy_id = 1;
	snprintf(dir, sizeof(dir), "%s/policies", d->state_dir);
	ret = ef_mkdir_p(dir, 0750);
	if (ret)
		return ret;
	load_counter(d);
	dh = opendir(dir);
	if (!dh)
		return -errno;
	while ((de = readdir(dh))) {
		char path[EF_PATH_MAX + 300], *buf = NULL;
		struct ef_policy_val pv;
		struct ef_pol_rec *p;
		const cJSON *src, *file, *origin, *id;
		cJSON *o = NULL;

		if (!strstr(de->d_name, ".json") || strstr(de->d_name, ".tmp.") ||
		    !strcmp(de->d_name, "next-id"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (ef_read_file(path, 2 * EF_POLICY_MAX_BYTES, &buf, NULL) || !(o = cJSON_Parse(buf))) {
			log_warn("ignoring unreadable policy state %s", path);
			goto next;
		}
		src = cJSON_GetObjectItem(o, "source");
		file = cJSON_GetObjectItem(o, "file");
		origin = cJSON_GetObjectItem(o, "origin");
		id = cJSON_GetObjectItem(o, "id");
		if (!cJSON_IsString(src) || !cJSON_IsString(file) || !cJSON_IsString(origin) ||
		    !cJSON_IsNumber(id)) {
			log_warn("ignoring malformed policy state %s", path);
			goto next;
		}
		p = calloc(1, sizeof(*p));
		if (!p)
			goto next;
		p->id = (uint32_t)id->valuedouble;
		p->origin = strdup(origin->valuestring);
		p->hash = ef_fnv1a(src->valuestring, strlen(src->valuestring), EF_FNV1A_INIT);
		if (!p->origin || ef_policy_parse(src->valuestring, strlen(src->valuestring),
						  file->valuestring, &p->pol, err, sizeof(err))) {
			log_warn("ignoring policy state %s: %s", path, err);
			rec_free(p);
			goto next;
		}
		if (install(d, p, bpf_map_lookup_elem(fd_pol, &p->id, &pv) != 0, err, sizeof(err))) {
			log_warn("cannot reinstall policy id %u: %s", p->id, err);
			rec_free(p);
			goto next;
		}
		if (p->id >= d->next_policy_id)
			d->next_policy_id = p->id + 1;
		p->next = d->pols;
		d->pols = p;
next:
		cJSON_Delete(o);
		free(buf);
	}
	closedir(dh);
	return 0;
}
