// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Policy changes through the control socket: egressctl policy apply, add,
 * remove. One change, in this order, so that the policy in force stays as
 * it was if any step fails, and no job is ever unfenced or judged by a mix
 * of two versions:
 *
 *   1. the caller may change policies (access.c), else refused;
 *   2. the new text (the file given, or the installed file edited) is
 *      parsed and validated; rules that open everything, and contradictory
 *      rules, are refused unless forced (ef_policy_lint());
 *   3. if jobs run under the policy, the new version is compiled and loaded
 *      into the maps under a new id (policies.c), next to the old one;
 *   4. the file <policy-dir>/NAME.json is replaced atomically (tmp, fsync,
 *      rename): a reader sees the old file or the new one, never a part;
 *   5. each job is switched: its learned addresses are rewritten for the new
 *      version, then its ef_jobs entry names the new id (jobs.c). The BPF
 *      programs read a job's policy id once per decision;
 *   6. connections the new version denies and the old allowed are torn
 *      down (revoke.c); the job's learned addresses of the old version,
 *      which include those of removed names, are dropped;
 *   7. an egress.policy span says who changed what, refused attempts too.
 * The old version stays in the maps until it retires (EF_POL_RETIRE_NS);
 * then a second revocation pass judges the sockets the first did not see.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "egressd.h"
#include "access/access.h"
#include "spans/spans.h"
#include "jobs/jobs.h"
#include "policies/policies.h"
#include "policy_change.h"
#include "dns/dns.h"
#include "revoke.h"
#include "lib/util.h"

#define SPAN_MAX_RULES 32 /* rule texts listed on the span; the counts are exact */

/* A second revocation pass, due when the old versions have retired. */
struct late_pass {
	struct late_pass *next;
	uint64_t due_ns; /* boot clock */
	struct ef_pol_rec *np; /* referenced */
	struct ef_compiled *nc;
	uint64_t *serials; /* the jobs switched */
	size_t n;
	struct ef_revoke_seen seen;
};

static struct late_pass *late;
static uint64_t n_changes, n_refused, n_closed, n_forgotten;

static const char *op_verb(const char *op)
{
	return op + strlen("policy_");
}

static void span_who(struct ef_span *s, const struct ef_peer *peer)
{
	char path[64], comm[32] = "";
	FILE *f;

	char user[64];

	ef_span_int(s, "process.pid", peer->pid);
	ef_span_int(s, "process.user.id", peer->uid);
	if (ef_peer_user(peer, user, sizeof(user)))
		ef_span_str(s, "enduser.id", ef_span_strdup(s, user));
	snprintf(path, sizeof(path), "/proc/%d/comm", peer->pid);
	f = fopen(path, "re");
	if (f) {
		if (fgets(comm, sizeof(comm), f)) {
			comm[strcspn(comm, "\n")] = '\0';
			ef_span_str(s, "process.executable.name", ef_span_strdup(s, comm));
		}
		fclose(f);
	}
}

static struct ef_span *span_start(struct ef_daemon *d, const char *op, const char *name,
				  const struct ef_peer *peer)
{
	struct ef_span *s = ef_span_new(d);

	ef_span_init(s, "egress.policy", EF_KIND_INTERNAL);
	ef_random_bytes(s->trace_id, sizeof(s->trace_id));
	s->start_ns = ef_now_realtime_ns();
	ef_span_str(s, "egress.policy.change", op_verb(op));
	if (name)
		ef_span_str(s, "egress.policy.name", ef_span_strdup(s, name));
	span_who(s, peer);
	return s;
}

static void span_refused(struct ef_daemon *d, struct ef_span *s, const char *type,
			 const char *err)
{
	s->end_ns = ef_now_realtime_ns();
	s->status = EF_STATUS_ERROR;
	s->status_msg = ef_span_strdup(s, err);
	ef_span_str(s, "error.type", type);
	ef_spans_flush(d);
	n_refused++;
}

/* The rule texts of one side of the change: all in the reply, the first
 * SPAN_MAX_RULES and the count on the span. */
static void list_rules(struct ef_span *s, cJSON *reply, const char *key, const char *count_key,
		       const char *reply_key, const struct ef_policy_change *ch, bool added)
{
	const char *v[SPAN_MAX_RULES];
	cJSON *arr = cJSON_AddArrayToObject(reply, reply_key);
	char buf[SPAN_MAX_RULES][300], more[300];
	size_t total = 0;
	int n = 0;

	for (size_t i = 0; i < ch->n_rules; i++) {
		const struct ef_rule_change *r = &ch->rules[i];
		char *t = n < SPAN_MAX_RULES ? buf[n] : more;

		if (r->added != added)
			continue;
		total++;
		snprintf(t, sizeof(more), "%s %s",
			 r->inbound ? "inbound" : r->deny ? "deny" : "allow", r->text);
		if (arr)
			cJSON_AddItemToArray(arr, cJSON_CreateString(t));
		if (n < SPAN_MAX_RULES)
			v[n++] = t;
	}
	if (n)
		ef_span_strs(s, key, v, n);
	ef_span_int(s, count_key, (int64_t)total);
}

static void describe(struct ef_span *s, cJSON *reply, const struct ef_policy *old,
		     const struct ef_policy *np)
{
	struct ef_policy_change ch;
	cJSON *arr;
	int ret;
	struct ef_policy *blank = NULL;
	char e2[EF_ERR_LEN], t[EF_NAME_MAX + 64];

	if (!old) {
		/* a new policy: every rule is added */
		snprintf(t, sizeof(t), "{\"name\": \"%s\", \"allow\": []}", np->name);
		if (ef_policy_parse(t, strlen(t), "(none)", &blank, e2, sizeof(e2)))
			return;
		old = blank;
	}
	ret = ef_policy_diff(old, np, &ch);
	ef_policy_free(blank);
	if (ret) {
		ef_span_bool(s, "egress.policy.diff_failed", true);
		return;
	}
	list_rules(s, reply, "egress.policy.rules.added", "egress.policy.rules.added_count",
		   "added", &ch, true);
	list_rules(s, reply, "egress.policy.rules.removed", "egress.policy.rules.removed_count",
		   "removed", &ch, false);
	arr = cJSON_AddArrayToObject(reply, "settings");
	if (ch.n_settings) {
		const char *v[SPAN_MAX_RULES];
		int n = 0;

		for (size_t i = 0; i < ch.n_settings; i++) {
			if (arr)
				cJSON_AddItemToArray(arr, cJSON_CreateString(ch.settings[i]));
			if (n < SPAN_MAX_RULES)
				v[n++] = ch.settings[i];
		}
		ef_span_strs(s, "egress.policy.settings.changed", v, n);
	}
	ef_policy_change_free(&ch);
}

/* <policy-dir>/NAME.json and its text (NULL if there is none yet). */
static int read_installed(struct ef_daemon *d, const char *name, char *path, size_t pathlen,
			  char **text, size_t *len, char *err, size_t errlen)
{
	int ret;

	snprintf(path, pathlen, "%s/%s.json", d->policy_dir, name);
	ret = ef_read_file(path, EF_POLICY_MAX_BYTES, text, len);
	if (ret == -ENOENT)
		return 0;
	if (ret)
		snprintf(err, errlen, "%s: %s", path, strerror(-ret));
	return ret;
}

/* add, remove: the installed text edited. */
static int edited_text(const char *op, const cJSON *req, const char *path, const char *old_text,
		       size_t old_len, char **out, char *err, size_t errlen)
{
	const cJSON *rules = cJSON_GetObjectItem(req, "rules"), *r;
	bool deny = cJSON_IsTrue(cJSON_GetObjectItem(req, "deny"));
	bool inbound = cJSON_IsTrue(cJSON_GetObjectItem(req, "inbound"));
	enum ef_edit_list list = inbound ? EF_EDIT_INBOUND : deny ? EF_EDIT_DENY : EF_EDIT_ALLOW;
	const char **v;
	size_t n = 0;
	int ret;

	if (!old_text) {
		snprintf(err, errlen, "%s: no such policy; create it with 'egressctl policy apply "
				      "FILE'", path);
		return -ENOENT;
	}
	if (!cJSON_IsArray(rules) || !cJSON_GetArraySize(rules)) {
		snprintf(err, errlen, "malformed %s request: \"rules\" must be a non-empty array of "
				      "strings", op_verb(op));
		return -EINVAL;
	}
	v = calloc(cJSON_GetArraySize(rules), sizeof(*v));
	if (!v)
		return -ENOMEM;
	cJSON_ArrayForEach(r, rules) {
		if (!cJSON_IsString(r)) {
			free(v);
			snprintf(err, errlen, "malformed %s request: \"rules\" must be strings",
				 op_verb(op));
			return -EINVAL;
		}
		v[n++] = r->valuestring;
	}
	if (deny && inbound) {
		free(v);
		snprintf(err, errlen, "malformed %s request: \"deny\" and \"inbound\" together "
				      "(inbound rules are allow rules)", op_verb(op));
		return -EINVAL;
	}
	if (!strcmp(op, "policy_add"))
		ret = ef_policy_edit_list(old_text, old_len, path, v, n, NULL, 0, list, out, err,
					  errlen);
	else
		ret = ef_policy_edit_list(old_text, old_len, path, NULL, 0, v, n, list, out, err,
					  errlen);
	free(v);
	return ret;
}

static void late_free(struct late_pass *lp)
{
	free(lp->serials);
	ef_compiled_free(lp->nc);
	ef_revoke_seen_free(&lp->seen);
	free(lp);
}

/* Switch the jobs running under policy `name` to version np and revoke.
 * *ncp: np's compiled entries; taken (set to NULL) if a second pass needs
 * them. */
static int switch_jobs(struct ef_daemon *d, const char *name, struct ef_pol_rec *np,
		       struct ef_compiled **ncp, size_t *n_jobs, struct ef_revoke_res *res,
		       size_t *forgotten, char *err, size_t errlen)
{
	struct ef_revoke_job *rj = NULL;
	struct ef_compiled *nc = *ncp, **oc = NULL;
	struct late_pass *lp = NULL;
	size_t n = 0, cap = 0;
	int ret = 0;

	*n_jobs = *forgotten = 0;
	memset(res, 0, sizeof(*res));
	for (struct ef_job_rec *j = d->jobs; j; j = j->next)
		if (!strcmp(j->pol->origin, name) && j->pol != np)
			cap++;
	if (!cap)
		return 0;
	rj = calloc(cap, sizeof(*rj));
	oc = calloc(cap, sizeof(*oc));
	lp = calloc(1, sizeof(*lp));
	if (!rj || !oc || !lp || !(lp->serials = calloc(cap, sizeof(*lp->serials)))) {
		ret = -ENOMEM;
		goto out;
	}
	for (struct ef_job_rec *j = d->jobs; j && n < cap; j = j->next) {
		struct ef_pol_rec *old = j->pol;
		size_t f = 0;

		if (strcmp(old->origin, name) || old == np)
			continue;
		ret = ef_job_set_policy(d, j, np, &f);
		if (ret) {
			log_warn("job %s keeps policy version %u: %s", j->id, old->id,
				 strerror(-ret));
			continue;
		}
		*forgotten += f;
		rj[n].j = j;
		rj[n].old_pol = old; /* the job's reference, now ours */
		rj[n].new_pol = np;
		rj[n].new_c = nc;
		n++;
	}
	*n_jobs = n;
	/* revoke: each old version compiled once (owned by its first job's
	 * slot); one that cannot be is left out, and its jobs are judged by
	 * the new version alone */
	for (size_t i = 0; i < n; i++) {
		char e2[EF_ERR_LEN];

		for (size_t k = 0; k < i && !rj[i].old_c; k++)
			if (rj[k].old_pol == rj[i].old_pol)
				rj[i].old_c = rj[k].old_c;
		if (rj[i].old_c)
			continue;
		if (ef_policy_compile(rj[i].old_pol->pol, rj[i].old_pol->id, &oc[i], e2, sizeof(e2)))
			log_warn("recompiling policy version %u: %s", rj[i].old_pol->id, e2);
		rj[i].old_c = oc[i];
	}
	if (n && ef_revoke(d, rj, n, &lp->seen, false, res))
		log_warn("policy %s: revoking connections: some namespaces were skipped", name);
	for (size_t i = 0; i < n; i++) {
		ef_dns_forget_version(d, rj[i].j->cgroup_id, rj[i].old_pol->id);
		lp->serials[i] = rj[i].j->serial;
	}
	/* the late pass */
	if (n) {
		lp->n = n;
		lp->np = np;
		np->refs++;
		lp->nc = nc;
		*ncp = NULL;
		lp->due_ns = ef_now_boot_ns() + EF_POL_RETIRE_NS / 2;
		lp->next = late;
		late = lp;
		lp = NULL;
	}
out:
	for (size_t i = 0; rj && i < n; i++) {
		ef_compiled_free(oc[i]);
		ef_pol_put(d, (struct ef_pol_rec *)rj[i].old_pol);
	}
	free(oc);
	free(rj);
	if (lp)
		late_free(lp);
	return ret;
}

void ef_policy_ops_tick(struct ef_daemon *d)
{
	uint64_t now = ef_now_boot_ns();

	for (struct late_pass **pp = &late; *pp;) {
		struct late_pass *lp = *pp;
		struct ef_revoke_job *rj;
		struct ef_revoke_res res;
		size_t n = 0;

		if (lp->due_ns > now) {
			pp = &lp->next;
			continue;
		}
		*pp = lp->next;
		rj = calloc(lp->n, sizeof(*rj));
		for (struct ef_job_rec *j = d->jobs; rj && j; j = j->next) {
			for (size_t i = 0; i < lp->n; i++) {
				if (j->serial == lp->serials[i] && j->pol == lp->np) {
					rj[n].j = j;
					rj[n].old_pol = rj[n].new_pol = lp->np;
					rj[n].old_c = rj[n].new_c = lp->nc;
					n++;
				}
			}
		}
		if (n && !ef_revoke(d, rj, n, &lp->seen, true, &res) && res.closed) {
			n_closed += res.closed;
			log_info("policy %s: %zu more connections closed on the second pass",
				 lp->np->pol->name, res.closed);
		}
		free(rj);
		ef_pol_put(d, lp->np);
		late_free(lp);
	}
}

void ef_policy_ops_free(struct ef_daemon *d)
{
	while (late) {
		struct late_pass *lp = late;

		late = lp->next;
		ef_pol_put(d, lp->np);
		late_free(lp);
	}
}

void ef_policy_ops_status(cJSON *o)
{
	cJSON *p = cJSON_AddObjectToObject(o, "policy_changes");

	if (!p)
		return;
	cJSON_AddNumberToObject(p, "applied", (double)n_changes);
	cJSON_AddNumberToObject(p, "refused", (double)n_refused);
	cJSON_AddNumberToObject(p, "connections_closed", (double)n_closed);
	cJSON_AddNumberToObject(p, "addresses_forgotten", (double)n_forgotten);
}

int ef_policy_op(struct ef_daemon *d, const char *op, const cJSON *req, const struct ef_peer *peer,
		 cJSON *reply, char *err, size_t errlen)
{
	const cJSON *jname = cJSON_GetObjectItem(req, "name");
	bool force = cJSON_IsTrue(cJSON_GetObjectItem(req, "force"));
	char path[EF_PATH_MAX + 80], name[EF_NAME_MAX + 1] = "";
	char *old_text = NULL, *text = NULL;
	size_t old_len = 0, n_jobs = 0, forgotten = 0;
	struct ef_policy *old = NULL, *np = NULL;
	struct ef_pol_rec *ver = NULL;
	struct ef_compiled *nc = NULL;
	struct ef_revoke_res res = { 0 };
	struct ef_span *s;
	int ret;

	if (strcmp(op, "policy_apply") && strcmp(op, "policy_add") && strcmp(op, "policy_remove")) {
		snprintf(err, errlen, "unknown op \"%.64s\"", op);
		return -EINVAL;
	}
	if (strcmp(op, "policy_apply")) {
		if (!cJSON_IsString(jname) || !ef_policy_name_valid(jname->valuestring)) {
			snprintf(err, errlen, "malformed %s request: \"name\" must be a policy name "
					      "([a-z0-9][a-z0-9._-]{0,63})", op_verb(op));
			return -EINVAL;
		}
		snprintf(name, sizeof(name), "%s", jname->valuestring);
	}
	s = span_start(d, op, name[0] ? name : NULL, peer);
	ef_span_bool(s, "egress.policy.forced", force);
	ret = ef_access_policy_change(d, peer, err, errlen);
	if (ret) {
		span_refused(d, s, "permission_denied", err);
		return ret;
	}

	/* 2. the new text, checked: the file given (apply, named by its
	 * "name"), or the installed one edited (add, remove) */
	if (!strcmp(op, "policy_apply")) {
		const cJSON *jtext = cJSON_GetObjectItem(req, "text");
		const cJSON *file = cJSON_GetObjectItem(req, "file");

		if (!cJSON_IsString(jtext)) {
			snprintf(err, errlen, "malformed apply request: \"text\" must be a string");
			ret = -EINVAL;
			goto refused;
		}
		ret = ef_policy_parse(jtext->valuestring, strlen(jtext->valuestring),
				      cJSON_IsString(file) ? file->valuestring : "policy", &np, err,
				      errlen);
		if (ret)
			goto refused;
		snprintf(name, sizeof(name), "%s", np->name);
		ef_span_str(s, "egress.policy.name", ef_span_strdup(s, name));
		ret = read_installed(d, name, path, sizeof(path), &old_text, &old_len, err, errlen);
		if (ret)
			goto refused;
		text = strdup(jtext->valuestring);
		if (!text) {
			ret = -ENOMEM;
			goto refused;
		}
	} else {
		ret = read_installed(d, name, path, sizeof(path), &old_text, &old_len, err, errlen);
		if (!ret)
			ret = edited_text(op, req, path, old_text, old_len, &text, err, errlen);
		if (!ret)
			ret = ef_policy_parse(text, strlen(text), path, &np, err, errlen);
		if (ret)
			goto refused;
	}
	if (!force) {
		ret = ef_policy_lint(np, err, errlen); /* the message says "or pass --force" */
		if (ret)
			goto refused;
	}
	/* compiled once: proves it fits the maps, then judges the jobs'
	 * connections (a compiled policy's id only names its entries) */
	ret = ef_policy_compile(np, 0, &nc, err, errlen);
	if (ret)
		goto refused;
	if (old_text) {
		char e2[EF_ERR_LEN];

		if (ef_policy_parse(old_text, old_len, path, &old, e2, sizeof(e2)))
			log_warn("policy %s: the installed file is invalid (%s); replacing it", name,
				 e2);
		if (!strcmp(old_text, text)) {
			cJSON_AddStringToObject(reply, "name", name);
			cJSON_AddStringToObject(reply, "path", path);
			cJSON_AddBoolToObject(reply, "changed", false);
			ret = 0;
			goto unchanged;
		}
	}

	/* 3. loaded next to the old version, if any job will use it */
	for (struct ef_job_rec *j = d->jobs; j; j = j->next) {
		if (strcmp(j->pol->origin, name))
			continue;
		ret = ef_pol_get(d, text, strlen(text), path, name, &ver, err, errlen);
		if (ret)
			goto refused;
		break;
	}

	/* 4. the file */
	ret = ef_mkdir_p(d->policy_dir, 0755);
	if (!ret)
		ret = ef_write_file_atomic(path, text, strlen(text), 0644);
	if (!ret) {
		/* the rename survives a crash once the directory is synced */
		int dfd = open(d->policy_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
	}
	if (ret) {
		snprintf(err, errlen, "writing %s: %s", path, strerror(-ret));
		if (ver)
			ef_pol_put(d, ver);
		goto refused;
	}

	/* 5, 6. the jobs */
	if (ver) {
		ret = switch_jobs(d, name, ver, &nc, &n_jobs, &res, &forgotten, err, errlen);
		ef_pol_put(d, ver); /* the jobs hold it now */
		if (ret)
			log_warn("policy %s: %s", name, err);
		ret = 0;
	}

	/* 7. the record */
	n_changes++;
	n_closed += res.closed;
	n_forgotten += forgotten;
	s->end_ns = ef_now_realtime_ns();
	s->status = EF_STATUS_OK;
	ef_span_str(s, "egress.policy.file", ef_span_strdup(s, path));
	ef_span_str(s, "egress.mode", np->mode == EF_MODE_AUDIT ? "audit" : "enforce");
	if (ver)
		ef_span_int(s, "egress.policy.version", ver->id);
	ef_span_int(s, "egress.policy.jobs", (int64_t)n_jobs);
	ef_span_int(s, "egress.policy.connections_closed", (int64_t)res.closed);
	ef_span_int(s, "egress.policy.addresses_forgotten", (int64_t)forgotten);
	if (res.failed)
		ef_span_int(s, "egress.policy.close_failed", (int64_t)res.failed);
	cJSON_AddStringToObject(reply, "name", name);
	cJSON_AddStringToObject(reply, "path", path);
	cJSON_AddBoolToObject(reply, "changed", true);
	cJSON_AddBoolToObject(reply, "created", old_text == NULL);
	describe(s, reply, old, np);
	cJSON_AddNumberToObject(reply, "jobs", (double)n_jobs);
	cJSON_AddNumberToObject(reply, "connections_closed", (double)res.closed);
	cJSON_AddNumberToObject(reply, "addresses_forgotten", (double)forgotten);
	ef_spans_flush(d);
	{
		char who[96];

		log_info("policy %s %s by %s: %zu jobs switched, %zu connections closed, %zu "
			 "learned addresses forgotten", name,
			 !strcmp(op, "policy_apply") ? "applied" : !strcmp(op, "policy_add") ? "extended" : "narrowed",
			 ef_peer_name(peer, who, sizeof(who)), n_jobs, res.closed, forgotten);
	}
	goto out;
refused:
	span_refused(d, s, ret == -EPERM ? "permission_denied" : "invalid_policy", err);
	goto out;
unchanged:
	/* the same text again: recorded, nothing done */
	s->end_ns = ef_now_realtime_ns();
	s->status = EF_STATUS_OK;
	ef_span_bool(s, "egress.policy.unchanged", true);
	ef_spans_flush(d);
out:
	ef_compiled_free(nc);
	ef_policy_free(old);
	ef_policy_free(np);
	free(old_text);
	free(text);
	return ret;
}
