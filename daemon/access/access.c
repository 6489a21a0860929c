// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Who may do what: the config file's "access" section.
 *
 *   "access": {
 *     "socket_mode": "0660", "socket_group": "egress-fence",
 *     "policy_admins": {"users": ["alice"], "groups": ["egress-admins"]},
 *     "run": [
 *       {"users": ["gitlab-runner"], "groups": ["ci"], "policy": "ci-agent",
 *        "policies": ["npm-build"]},
 *       {"users": ["*"], "policy": "default"}
 *     ]
 *   }
 *
 * The caller is who SO_PEERCRED and SO_PEERGROUPS say, never what the
 * request says. root (uid 0) may do everything. policy_admins may change
 * policies and freeze, thaw or kill any job. A job may be started only by
 * a user named by a "run" entry (the first that names the user or one of
 * their groups applies): with no --policy it gets the entry's "policy"; it
 * may choose that policy, one listed in "policies", or any policy (a name
 * or a file) that allows nothing the assigned one denies
 * (ef_policy_no_weaker()). Without an "access" section every local user may
 * start jobs with any policy (a fence only takes rights away), and only
 * root may change policies.
 *
 * Users and groups are names, resolved when egressd starts (an unknown one
 * stops it), or numbers; "*" names everyone.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "egressd.h"
#include "access.h"
#include "lib/util.h"

static void principals_free(struct ef_principals *p)
{
	free(p->uids);
	free(p->gids);
	memset(p, 0, sizeof(*p));
}

void ef_access_free(struct ef_access *a)
{
	principals_free(&a->admins);
	for (size_t i = 0; i < a->n_run; i++) {
		principals_free(&a->run[i].who);
		for (size_t k = 0; k < a->run[i].n_policies; k++)
			free(a->run[i].policies[k]);
		free(a->run[i].policies);
	}
	free(a->run);
	memset(a, 0, sizeof(*a));
}

static int id_of(const cJSON *v, bool group, unsigned *out, bool *any)
{
	if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 4294967295.0 &&
	    v->valuedouble == (double)(unsigned)v->valuedouble) {
		*out = (unsigned)v->valuedouble;
		return 0;
	}
	if (!cJSON_IsString(v) || !v->valuestring[0])
		return -EINVAL;
	if (!strcmp(v->valuestring, "*")) {
		*any = true;
		return 0;
	}
	if (group) {
		struct group *g = getgrnam(v->valuestring);

		if (!g)
			return -ENOENT;
		*out = g->gr_gid;
	} else {
		struct passwd *pw = getpwnam(v->valuestring);

		if (!pw)
			return -ENOENT;
		*out = pw->pw_uid;
	}
	return 0;
}

static int principals_parse(const cJSON *o, const char *where, struct ef_principals *p,
			    const char *path)
{
	static const char *const keys[] = { "users", "groups" };

	for (int k = 0; k < 2; k++) {
		const cJSON *arr = cJSON_GetObjectItem(o, keys[k]), *v;
		unsigned **ids = k ? &p->gids : &p->uids;
		size_t *n = k ? &p->n_gids : &p->n_uids;

		if (!arr)
			continue;
		if (!cJSON_IsArray(arr)) {
			log_err("%s: %s.%s must be an array of names or numbers", path, where,
				keys[k]);
			return -EINVAL;
		}
		*ids = calloc(cJSON_GetArraySize(arr) + 1, sizeof(**ids));
		if (!*ids)
			return -ENOMEM;
		cJSON_ArrayForEach(v, arr) {
			unsigned id = 0;
			int ret = id_of(v, k == 1, &id, &p->any);

			if (ret) {
				log_err("%s: %s.%s: %s%s%s", path, where, keys[k],
					ret == -ENOENT ? "no such " : "expected a name or a number",
					ret == -ENOENT ? (k ? "group " : "user ") : "",
					ret == -ENOENT ? v->valuestring : "");
				return -EINVAL;
			}
			if (!(cJSON_IsString(v) && !strcmp(v->valuestring, "*")))
				(*ids)[(*n)++] = id;
		}
	}
	return 0;
}

static int run_parse(const cJSON *arr, struct ef_access *a, const char *path)
{
	static const char *const known[] = { "users", "groups", "policy", "policies", NULL };
	const cJSON *e;
	size_t i = 0;

	if (!cJSON_IsArray(arr)) {
		log_err("%s: access.run must be an array of {\"users\", \"groups\", \"policy\", "
			"\"policies\"}", path);
		return -EINVAL;
	}
	a->run = calloc(cJSON_GetArraySize(arr) + 1, sizeof(*a->run));
	if (!a->run)
		return -ENOMEM;
	cJSON_ArrayForEach(e, arr) {
		struct ef_run_grant *g = &a->run[i];
		const cJSON *pol = cJSON_GetObjectItem(e, "policy");
		const cJSON *pols = cJSON_GetObjectItem(e, "policies"), *v;
		char where[48];
		int ret;

		snprintf(where, sizeof(where), "access.run[%zu]", i);
		a->n_run = ++i;
		if (!cJSON_IsObject(e)) {
			log_err("%s: %s must be an object", path, where);
			return -EINVAL;
		}
		ret = ef_json_known_keys(e, known, "access.run[].", path);
		if (ret)
			return ret;
		ret = principals_parse(e, where, &g->who, path);
		if (ret)
			return ret;
		if (!g->who.any && !g->who.n_uids && !g->who.n_gids) {
			log_err("%s: %s names no user or group", path, where);
			return -EINVAL;
		}
		if (!cJSON_IsString(pol) || !ef_policy_name_valid(pol->valuestring)) {
			log_err("%s: %s.policy must be a policy name (the policy its jobs get, and "
				"the weakest they may choose)", path, where);
			return -EINVAL;
		}
		snprintf(g->policy, sizeof(g->policy), "%s", pol->valuestring);
		if (!pols)
			continue;
		if (!cJSON_IsArray(pols)) {
			log_err("%s: %s.policies must be an array of policy names", path, where);
			return -EINVAL;
		}
		g->policies = calloc(cJSON_GetArraySize(pols) + 1, sizeof(*g->policies));
		if (!g->policies)
			return -ENOMEM;
		cJSON_ArrayForEach(v, pols) {
			if (!cJSON_IsString(v) || !ef_policy_name_valid(v->valuestring)) {
				log_err("%s: %s.policies: expected policy names", path, where);
				return -EINVAL;
			}
			if (!(g->policies[g->n_policies] = strdup(v->valuestring)))
				return -ENOMEM;
			g->n_policies++;
		}
	}
	return 0;
}

int ef_access_config(struct ef_access *a, const cJSON *sec, const char *path)
{
	static const char *const known[] = { "socket_mode", "socket_group", "policy_admins", "run",
					     NULL };
	const cJSON *mode, *grp, *adm;
	int ret;

	memset(a, 0, sizeof(*a));
	a->socket_mode = 0666;
	if (!sec)
		return 0;
	if (!cJSON_IsObject(sec)) {
		log_err("%s: \"access\" must be an object", path);
		return -EINVAL;
	}
	ret = ef_json_known_keys(sec, known, "access.", path);
	if (ret)
		return ret;
	a->configured = true;
	mode = cJSON_GetObjectItem(sec, "socket_mode");
	if (mode) {
		char *end = NULL;
		unsigned long m = cJSON_IsString(mode) ? strtoul(mode->valuestring, &end, 8) : 0;

		if (!cJSON_IsString(mode) || !mode->valuestring[0] || *end || m > 0777 ||
		    (m & 0600) != 0600) {
			log_err("%s: access.socket_mode must be an octal string such as \"0660\" "
				"(the owner, root, keeps read and write)", path);
			return -EINVAL;
		}
		a->socket_mode = (int)m;
	}
	grp = cJSON_GetObjectItem(sec, "socket_group");
	if (grp) {
		bool any = false;
		unsigned gid = 0;

		if (id_of(grp, true, &gid, &any) || any) {
			log_err("%s: access.socket_group: no such group", path);
			return -EINVAL;
		}
		a->socket_gid = gid;
		a->has_socket_gid = true;
	}
	adm = cJSON_GetObjectItem(sec, "policy_admins");
	if (adm) {
		static const char *const pk[] = { "users", "groups", NULL };

		if (!cJSON_IsObject(adm)) {
			log_err("%s: access.policy_admins must be {\"users\": [...], \"groups\": [...]}",
				path);
			return -EINVAL;
		}
		ret = ef_json_known_keys(adm, pk, "access.policy_admins.", path);
		if (!ret)
			ret = principals_parse(adm, "access.policy_admins", &a->admins, path);
		if (ret)
			return ret;
	}
	if (cJSON_GetObjectItem(sec, "run"))
		return run_parse(cJSON_GetObjectItem(sec, "run"), a, path);
	return 0;
}

static bool names(const struct ef_principals *p, const struct ef_peer *peer)
{
	if (p->any)
		return true;
	for (size_t i = 0; i < p->n_uids; i++)
		if (p->uids[i] == peer->uid)
			return true;
	for (size_t i = 0; i < p->n_gids; i++) {
		if (p->gids[i] == peer->gid)
			return true;
		for (int k = 0; k < peer->n_groups; k++)
			if (p->gids[i] == peer->groups[k])
				return true;
	}
	return false;
}

const char *ef_peer_user(const struct ef_peer *peer, char *out, size_t len)
{
	struct passwd *pw = getpwuid(peer->uid);

	if (!pw)
		return NULL;
	snprintf(out, len, "%s", pw->pw_name);
	return out;
}

const char *ef_peer_name(const struct ef_peer *peer, char *out, size_t len)
{
	char user[64];

	if (ef_peer_user(peer, user, sizeof(user)))
		snprintf(out, len, "uid %u (%s)", peer->uid, user);
	else
		snprintf(out, len, "uid %u", peer->uid);
	return out;
}

bool ef_access_admin(const struct ef_daemon *d, const struct ef_peer *peer)
{
	return peer->uid == 0 || (d->cfg.access.configured && names(&d->cfg.access.admins, peer));
}

int ef_access_policy_change(const struct ef_daemon *d, const struct ef_peer *peer, char *err,
			    size_t errlen)
{
	char who[96];

	if (ef_access_admin(d, peer))
		return 0;
	snprintf(err, errlen, "permission denied: %s may not change policies (only root%s)",
		 ef_peer_name(peer, who, sizeof(who)),
		 d->cfg.access.configured ? " and access.policy_admins"
					  : "; see \"access\" in the config file");
	return -EPERM;
}

static int load_named(const struct ef_daemon *d, const char *name, struct ef_policy **out,
		      char *err, size_t errlen)
{
	char path[EF_PATH_MAX + 80];

	snprintf(path, sizeof(path), "%s/%s.json", d->policy_dir, name);
	return ef_policy_load(path, out, err, errlen);
}

int ef_access_run_grant(const struct ef_daemon *d, const struct ef_peer *peer,
			const struct ef_run_grant **ret_g, char *err, size_t errlen)
{
	const struct ef_access *a = &d->cfg.access;
	char who[96];

	*ret_g = NULL;
	if (peer->uid == 0 || !a->configured)
		return 0;
	for (size_t i = 0; i < a->n_run; i++) {
		if (names(&a->run[i].who, peer)) {
			*ret_g = &a->run[i];
			return 0;
		}
	}
	snprintf(err, errlen, "permission denied: %s may not start jobs (no access.run entry of "
			      "the config file names it)", ef_peer_name(peer, who, sizeof(who)));
	return -EPERM;
}

int ef_access_run_policy(const struct ef_daemon *d, const struct ef_peer *peer,
			 const struct ef_run_grant *g, const char *asked, const char *text,
			 size_t len, char *err, size_t errlen)
{
	struct ef_policy *mine = NULL, *base = NULL;
	char who[96], why[EF_ERR_LEN], perr[EF_ERR_LEN];
	int ret;

	ef_peer_name(peer, who, sizeof(who));
	if (asked && !strcmp(asked, g->policy))
		return 0;
	for (size_t i = 0; asked && i < g->n_policies; i++)
		if (!strcmp(asked, g->policies[i]))
			return 0;
	/* any other choice must be at least as strict as the assigned one */
	ret = ef_policy_parse(text, len, asked ? asked : "policy", &mine, perr, sizeof(perr));
	if (ret) {
		snprintf(err, errlen, "%s", perr);
		return ret;
	}
	ret = load_named(d, g->policy, &base, perr, sizeof(perr));
	if (ret) {
		snprintf(err, errlen, "permission denied: %s may only choose policies at least as "
				      "strict as %s, which cannot be read: %s", who, g->policy, perr);
		ef_policy_free(mine);
		return -EPERM;
	}
	ret = ef_policy_no_weaker(mine, base, why, sizeof(why)) == 1 ? 0 : -EPERM;
	if (ret)
		snprintf(err, errlen, "permission denied: policy %s is weaker than %s, the policy "
				      "assigned to %s: %s", mine->name, g->policy, who, why);
	ef_policy_free(mine);
	ef_policy_free(base);
	return ret;
}

/* The control socket's owner group and mode. */
int ef_access_socket(const struct ef_daemon *d, const char *path)
{
	const struct ef_access *a = &d->cfg.access;

	if (a->has_socket_gid && chown(path, 0, a->socket_gid) < 0)
		return -errno;
	if (chmod(path, a->socket_mode) < 0)
		return -errno;
	return 0;
}
