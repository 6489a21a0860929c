// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Policy files: JSON text -> struct ef_policy (see DESIGN.md, "Policy files
 * and rules"). A file is accepted whole or rejected with the first error in
 * it as "FILE:LINE:COL: message": unknown or repeated keys are errors, not
 * warnings, because a typo in an allowlist ("alow") must not silently widen
 * or narrow what a job may reach.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "parse.h"

/* Families every fenced job keeps: without them nothing works at all. */
#define EF_FAMILIES_BASE                                                                     \
	((1ull << AF_UNIX) | (1ull << AF_INET) | (1ull << AF_INET6) | (1ull << AF_NETLINK))

int ef_perr(struct pctx *c, size_t off, const char *fmt, ...)
{
	char msg[EF_ERR_LEN];
	int line, col;
	va_list ap;

	va_start(ap, fmt);
	ef_vfmt(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ef_json_pos(&c->d, off, &line, &col);
	ef_fmt(c->err, c->errlen, "%s:%d:%d: %s", c->file, line, col, msg);
	return -EINVAL;
}

int ef_oom(struct pctx *c)
{
	ef_fmt(c->err, c->errlen, "%s: out of memory", c->file);
	return -ENOMEM;
}

size_t ef_tok_off(const struct pctx *c, __u32 tok)
{
	return c->d.tok[tok].off;
}

/* Levenshtein distance capped at 3, for "did you mean". */
static int edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	int row[32], prev, tmp;

	if (la >= 32 || lb >= 32)
		return 3;
	for (j = 0; j <= lb; j++)
		row[j] = (int)j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = (int)i;
		for (j = 1; j <= lb; j++) {
			int best = prev + (a[i - 1] != b[j - 1]);

			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			tmp = row[j];
			row[j] = best;
			prev = tmp;
		}
	}
	return row[lb] > 3 ? 3 : row[lb];
}

int ef_walk_object(struct pctx *c, const cJSON *obj, __u32 tok, const struct key *keys,
		   size_t n_keys, const char *where)
{
	__u32 first[16];
	bool seen[16] = { false };
	const cJSON *it;
	__u32 t = tok + 1;
	char q[80];
	size_t k;
	int err;

	if (!cJSON_IsObject(obj))
		return ef_perr(c, ef_tok_off(c, tok), "%s%s%s must be an object", where ? "\"" : "",
			       where ? where : "the policy", where ? "\"" : "");
	cJSON_ArrayForEach(it, obj) {
		int line, col;

		/* both parsers read the same text, so the trees match */
		if (t >= c->d.n_tok || c->d.tok[t].key == EF_JNOKEY)
			return ef_perr(c, ef_tok_off(c, tok),
				       "internal error: position index mismatch");
		for (k = 0; k < n_keys; k++)
			if (!strcmp(it->string, keys[k].name))
				break;
		if (k == n_keys) {
			const char *best = NULL;
			int bd = 3;

			/* a typo of a known key: say which */
			for (k = 0; k < n_keys; k++) {
				int dist = edit_distance(it->string, keys[k].name);

				if (dist < bd) {
					bd = dist;
					best = keys[k].name;
				}
			}
			ef_msg_quote(q, sizeof(q), it->string, SIZE_MAX);
			if (best)
				return ef_perr(c, c->d.tok[t].key,
					       "unknown key \"%s\"%s%s: did you mean \"%s\"?", q,
					       where ? " in " : "", where ? where : "", best);
			return ef_perr(c, c->d.tok[t].key, "unknown key \"%s\"%s%s", q,
				       where ? " in " : "", where ? where : "");
		}
		if (seen[k]) {
			ef_json_pos(&c->d, first[k], &line, &col);
			return ef_perr(c, c->d.tok[t].key, "duplicate key \"%s\" (first at %d:%d)",
				       keys[k].name, line, col);
		}
		seen[k] = true;
		first[k] = c->d.tok[t].key;
		err = keys[k].fn(c, it, t);
		if (err)
			return err;
		t = c->d.tok[t].next;
	}
	return 0;
}

/* Allow rules first, then deny rules: the order policy.h promises and the
 * rule ids in decision records index. */
static int join_rules(struct pctx *c)
{
	struct ef_policy *p = c->p;
	size_t na = c->lists[0].n, nd = c->lists[1].n;

	if (!na && !nd)
		return 0;
	p->rules = calloc(na + nd, sizeof(*p->rules));
	if (!p->rules)
		return ef_oom(c);
	if (na)
		memcpy(p->rules, c->lists[0].r, na * sizeof(*p->rules));
	if (nd)
		memcpy(p->rules + na, c->lists[1].r, nd * sizeof(*p->rules));
	p->n_rules = na + nd;
	c->lists[0].n = c->lists[1].n = 0; /* moved */
	return 0;
}

static int take_inbound(struct pctx *c)
{
	struct rule_list *l = &c->lists[2];

	c->p->inbound = l->r;
	c->p->n_inbound = l->n;
	l->r = NULL;
	l->n = 0;
	return 0;
}

int ef_policy_parse(const char *text, size_t len, const char *file, struct ef_policy **out,
		    char *err, size_t errlen)
{
	struct pctx c = { .file = file ? file : "<policy>", .err = err, .errlen = errlen };
	cJSON *root = NULL;
	const char *end = NULL, *nul;
	struct ef_policy *p;
	size_t off = 0;
	char msg[EF_ERR_LEN];
	int ret, i;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	p = calloc(1, sizeof(*p));
	if (!p)
		return ef_oom(&c);
	c.p = p;
	p->mode = EF_MODE_ENFORCE;
	p->loopback = EF_LOOPBACK_OWN;
	p->families = EF_FAMILIES_BASE;
	p->file = strdup(c.file);
	if (!p->file) {
		ret = ef_oom(&c);
		goto out;
	}
	/* the limit is checked first so a huge input costs nothing */
	if (len > EF_POLICY_MAX_BYTES) {
		ef_fmt(err, errlen, "%s:1:1: file larger than %u bytes", c.file,
		       EF_POLICY_MAX_BYTES);
		ret = -EFBIG;
		goto out;
	}
	p->source = malloc(len + 1);
	if (!p->source) {
		ret = ef_oom(&c);
		goto out;
	}
	memcpy(p->source, text, len);
	p->source[len] = '\0';
	c.d.text = p->source;
	c.d.len = len;
	c.d.cur_line = c.d.cur_col = 1;
	/* a NUL would end the text early for every C string consumer */
	nul = memchr(p->source, '\0', len);
	if (nul) {
		ret = ef_perr(&c, (size_t)(nul - p->source), "NUL byte in file");
		goto out;
	}
	ret = ef_json_scan(&c.d, p->source, len, &off, msg, sizeof(msg));
	if (ret == -ENOMEM) {
		ret = ef_oom(&c);
		goto out;
	}
	if (ret) {
		ret = ef_perr(&c, off, "%s", msg);
		goto out;
	}
	/* The scan is stricter than cJSON, so this fails only if cJSON runs out
	 * of memory or disagrees; its error offset is the best position then. */
	root = cJSON_ParseWithLengthOpts(p->source, len + 1, &end, 1);
	if (!root) {
		ret = ef_perr(&c, end ? (size_t)(end - p->source) : 0, "invalid JSON");
		goto out;
	}
	ret = ef_walk_object(&c, root, 0, ef_top_keys, ef_n_top_keys, NULL);
	if (ret)
		goto out;
	if (!c.have_name) {
		ret = ef_perr(&c, ef_tok_off(&c, 0), "missing \"name\"");
		goto out;
	}
	ret = join_rules(&c);
	if (!ret)
		ret = take_inbound(&c);
	if (ret)
		goto out;
	p->flags |= ef_loopback_flags(p->loopback);
out:
	for (i = 0; i < 3; i++) {
		size_t k;

		for (k = 0; k < c.lists[i].n; k++)
			ef_rule_clear(&c.lists[i].r[k]);
		free(c.lists[i].r);
		free(c.lists[i].tab);
	}
	cJSON_Delete(root);
	ef_json_fini(&c.d);
	if (ret) {
		ef_policy_free(p);
		return ret;
	}
	*out = p;
	return 0;
}

int ef_policy_load(const char *path, struct ef_policy **out, char *err, size_t errlen)
{
	size_t n = 0, cap = 0;
	char *buf = NULL;
	struct stat st;
	int fd, ret;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		ef_fmt(err, errlen, "%s: cannot open: %s", path, strerror(-ret));
		return ret;
	}
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		ret = -EISDIR;
		ef_fmt(err, errlen, "%s: is a directory", path);
		goto out;
	}
	/* Read at most one byte past the limit: enough to know it is too big,
	 * and right for pipes and /proc files whose st_size means nothing. The
	 * buffer grows as needed: most policies are a few KiB. */
	for (;;) {
		ssize_t r;

		if (n == cap) {
			size_t want = cap ? cap * 2 : 64 * 1024;
			char *nb;

			if (cap == EF_POLICY_MAX_BYTES + 1)
				break;
			if (want > EF_POLICY_MAX_BYTES + 1)
				want = EF_POLICY_MAX_BYTES + 1;
			nb = realloc(buf, want);
			if (!nb) {
				ret = -ENOMEM;
				ef_fmt(err, errlen, "%s: out of memory", path);
				goto out;
			}
			buf = nb;
			cap = want;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = -errno;
			ef_fmt(err, errlen, "%s: read error: %s", path, strerror(-ret));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	ret = ef_policy_parse(buf ? buf : "", n, path, out, err, errlen);
out:
	free(buf);
	close(fd);
	return ret;
}

void ef_policy_free(struct ef_policy *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->n_rules; i++)
		ef_rule_clear(&p->rules[i]);
	free(p->rules);
	for (i = 0; i < p->n_inbound; i++)
		ef_rule_clear(&p->inbound[i]);
	free(p->inbound);
	for (i = 0; i < p->n_dns_upstream; i++)
		free(p->dns_upstream[i]);
	free(p->dns_upstream);
	for (i = 0; i < p->n_docker_binds; i++)
		free(p->docker_binds[i]);
	free(p->docker_binds);
	free(p->source);
	free(p->file);
	free(p);
}
