// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What a job may ask of dockerd through its endpoint (docker_check.h): the
 * route of a request, and its query as dockerd reads it. The bodies are
 * judged in docker_check_body.c.
 *
 * An allowlist of routes, not a list of bad ones: an endpoint dockerd adds
 * later is refused until someone reads it.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "docker_check.h"
#include "docker_check_int.h"

/* ---- routes ---- */

static bool seg_ok(const char *s, size_t n)
{
	if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		/* no %-escapes: what dockerd's router would decode, this would not */
		if (!isalnum(c) && !strchr("._-~:@+=,!$&'()*", c))
			return false;
	}
	return true;
}

/* "/v1.41" */
static size_t version_len(const char *p)
{
	size_t i = 2;

	if (p[0] != '/' || p[1] != 'v' || !isdigit((unsigned char)p[2]))
		return 0;
	while (isdigit((unsigned char)p[i]) || p[i] == '.')
		i++;
	return (p[i] == '/' && i < 15) ? i : 0;
}

/* path segment k (0-based) of p ("/a/b/c"), its length in *n */
static const char *seg(const char *p, int k, size_t *n)
{
	const char *s = p;

	for (int i = 0; i <= k; i++) {
		if (*s != '/')
			return NULL;
		s++;
		if (i < k)
			s += strcspn(s, "/");
	}
	*n = strcspn(s, "/");
	return s;
}

static int nsegs(const char *p)
{
	int n = 0;

	for (; *p; p++)
		n += *p == '/';
	return n;
}

static bool is(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && !memcmp(s, lit, n);
}

static int hexval(int c);

/* %XX and '+' decoded into out (NUL-ended); -EINVAL for a bad escape or a
 * NUL, as Go's url.QueryUnescape (the request then fails in dockerd). */
static int unescape(const char *s, size_t n, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (c == '%') {
			if (n - i < 3 || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0)
				return -EINVAL;
			c = hexval(s[i + 1]) * 16 + hexval(s[i + 2]);
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		if (!c || o + 1 >= outlen)
			return -EINVAL;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

void ef_dk_query_escape(const char *s, char *out, size_t outlen)
{
	size_t o = 0;

	for (; *s && o + 4 < outlen; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		    strchr("-_.~", ch))
			out[o++] = (char)ch;
		else
			o += (size_t)snprintf(out + o, outlen - o, "%%%02X", ch);
	}
	out[o] = '\0';
}

/*
 * The query as dockerd reads it (Go's url.ParseQuery: pairs split on '&',
 * key and value unescaped), written anew in place: each key once (Go's
 * Form.Get takes the first, a check here might read another), but
 * "changes", which the CLI repeats; every escape in one form. What is
 * judged is then what dockerd reads.
 */
static int query_canon(char *q, char *why, size_t whylen)
{
	char out[EF_DK_TARGET_MAX], keys[64][128];
	char k[EF_DK_TARGET_MAX], v[EF_DK_TARGET_MAX], ek[EF_DK_TARGET_MAX], ev[EF_DK_TARGET_MAX];
	size_t o = 0;
	int nk = 0;

	out[0] = '\0';
	for (char *p = q, *amp; p && *p; p = amp ? amp + 1 : NULL) {
		char *eq;
		size_t n;

		amp = strchr(p, '&');
		n = amp ? (size_t)(amp - p) : strlen(p);
		if (!n)
			continue;
		eq = memchr(p, '=', n);
		if (unescape(p, eq ? (size_t)(eq - p) : n, k, sizeof(k)) ||
		    unescape(eq ? eq + 1 : p + n, eq ? n - (size_t)(eq - p) - 1 : 0, v, sizeof(v)))
			return say(why, whylen, -EINVAL, "request query has a malformed escape");
		if (strcmp(k, "changes")) {
			for (int i = 0; i < nk; i++)
				if (!strcmp(keys[i], k))
					return say(why, whylen, -EINVAL,
						   "request query parameter \"%.60s\" given twice", k);
			if (nk >= 64 || strlen(k) >= sizeof(keys[0]))
				return say(why, whylen, -EINVAL, "request query has too many parameters");
			snprintf(keys[nk++], sizeof(keys[0]), "%s", k);
		}
		ef_dk_query_escape(k, ek, sizeof(ek));
		ef_dk_query_escape(v, ev, sizeof(ev));
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%s=%s", o ? "&" : "", ek, ev);
		if (o >= sizeof(out))
			return say(why, whylen, -EINVAL, "request query too long");
	}
	snprintf(q, EF_DK_TARGET_MAX, "%s", out);
	return 0;
}

static const char *const refused_tops[][2] = {
	{ "session", "BuildKit sessions" },
	{ "grpc", "BuildKit" },
	{ "swarm", "swarm" },
	{ "nodes", "swarm" },
	{ "services", "swarm" },
	{ "tasks", "swarm" },
	{ "secrets", "swarm" },
	{ "configs", "swarm" },
	{ "plugins", "plugins (they run as root on the host)" },
	{ "build", "docker build" },
};

int ef_dk_route(const char *method, const char *target, struct ef_dk_req *r, char *why,
		size_t whylen)
{
	size_t vl, n0 = 0, n1 = 0, n2 = 0, tl = strlen(target);
	const char *q, *s0, *s1, *s2;
	bool get, post, del, head, put;
	int ns;

	memset(r, 0, sizeof(*r));
	if (tl >= EF_DK_TARGET_MAX)
		return say(why, whylen, -EINVAL, "request target too long");
	q = strchr(target, '?');
	if (target[0] != '/' || (q ? (size_t)(q - target) : tl) < 1)
		return say(why, whylen, -EINVAL, "request target must be an absolute path");
	vl = version_len(target);
	memcpy(r->version, target, vl);
	/* before 1.24 a start took a HostConfig of its own, which dockerd 20.10
	 * still applies: the create's judgement would not hold */
	if (vl) {
		unsigned maj = 0, min = 0;

		if (sscanf(target + 2, "%u.%u", &maj, &min) != 2 || maj < 1 || (maj == 1 && min < 24))
			return say(why, whylen, -EPERM,
				   "Docker API version %.*s is refused by egress-fence's Docker "
				   "endpoint (1.24 or later)", (int)vl - 1, target + 1);
	}
	snprintf(r->path, sizeof(r->path), "%.*s", (int)((q ? (size_t)(q - target) : tl) - vl),
		 target + vl);
	if (q)
		snprintf(r->query, sizeof(r->query), "%s", q + 1);
	for (const char *c = r->query; *c; c++)
		if ((unsigned char)*c <= 0x20 || *c == ';' || *c == '#' || (unsigned char)*c >= 0x7f)
			return say(why, whylen, -EINVAL, "request query holds a character the "
							 "endpoint does not take");
	if (query_canon(r->query, why, whylen))
		return -EINVAL;
	/* every segment plain: no empty one, no dot segment, no escape */
	for (const char *c = r->path; *c;) {
		size_t n;

		if (*c != '/')
			return say(why, whylen, -EINVAL, "malformed request path");
		c++;
		n = strcspn(c, "/");
		if (!seg_ok(c, n))
			return say(why, whylen, -EINVAL,
				   "request path has an empty, dot or escaped segment");
		c += n;
	}
	ns = nsegs(r->path);
	s0 = seg(r->path, 0, &n0);
	if (!s0)
		return say(why, whylen, -EINVAL, "malformed request path");
	s1 = ns > 1 ? seg(r->path, 1, &n1) : NULL;
	s2 = ns > 2 ? seg(r->path, 2, &n2) : NULL;
	if (!s1)
		n1 = 0;
	if (!s2)
		n2 = 0;
	get = !strcmp(method, "GET");
	head = !strcmp(method, "HEAD");
	post = !strcmp(method, "POST");
	del = !strcmp(method, "DELETE");
	put = !strcmp(method, "PUT");

	for (size_t i = 0; i < sizeof(refused_tops) / sizeof(refused_tops[0]); i++)
		if (is(s0, n0, refused_tops[i][0])) {
			if (is(s0, n0, "build") || is(s0, n0, "session") || is(s0, n0, "grpc"))
				return say(why, whylen, -EPERM,
					   "docker build is refused through egress-fence's Docker "
					   "endpoint: dockerd itself would pull the FROM images and "
					   "fetch the ADD URLs, outside the fence; build with a "
					   "builder that runs in the job (buildah, kaniko), or before "
					   "the fenced step");
			return say(why, whylen, -EPERM,
				   "%s through egress-fence's Docker endpoint is refused",
				   refused_tops[i][1]);
		}

	/* the daemon's own state */
	if (ns == 1 && (get || head) &&
	    (is(s0, n0, "_ping") || is(s0, n0, "version") || is(s0, n0, "info") ||
	     is(s0, n0, "events")))
		return (r->route = EF_DK_PASS), 0;
	if (ns == 2 && get && is(s0, n0, "system") && is(s1, n1, "df"))
		return (r->route = EF_DK_PASS), 0;
	if (ns == 1 && post && is(s0, n0, "auth"))
		return (r->route = EF_DK_AUTH), 0;

	if (is(s0, n0, "containers")) {
		if (ns == 2 && get && is(s1, n1, "json"))
			return (r->route = EF_DK_LIST), 0;
		if (ns == 2 && post && is(s1, n1, "create"))
			return (r->route = EF_DK_CREATE), 0;
		if (ns == 2 && post && is(s1, n1, "prune"))
			return say(why, whylen, -EPERM,
				   "docker container prune is refused through egress-fence's "
				   "Docker endpoint (it would remove others' containers); remove "
				   "the job's own by name");
		if (ns < 2 || n1 >= EF_DK_REF_MAX)
			goto unknown;
		memcpy(r->ref, s1, n1);
		snprintf(r->rest, sizeof(r->rest), "%s%s%s", s1 + n1, r->query[0] ? "?" : "", r->query);
		if (ns == 2 && del) {
			r->remove = true;
			return (r->route = EF_DK_CONTAINER), 0;
		}
		if (ns == 3 && (get || head) &&
		    (is(s2, n2, "json") || is(s2, n2, "top") || is(s2, n2, "logs") ||
		     is(s2, n2, "changes") || is(s2, n2, "export") || is(s2, n2, "stats") ||
		     is(s2, n2, "archive")))
			return (r->route = EF_DK_CONTAINER), 0;
		if (ns == 3 && put && is(s2, n2, "archive"))
			return (r->route = EF_DK_CONTAINER), 0;
		if (ns == 3 && post &&
		    (is(s2, n2, "resize") || is(s2, n2, "start") || is(s2, n2, "stop") ||
		     is(s2, n2, "restart") || is(s2, n2, "kill") || is(s2, n2, "rename") ||
		     is(s2, n2, "pause") || is(s2, n2, "unpause") || is(s2, n2, "wait"))) {
			r->start = is(s2, n2, "start");
			return (r->route = EF_DK_CONTAINER), 0;
		}
		if (ns == 3 && post && is(s2, n2, "attach")) {
			r->hijack = true;
			return (r->route = EF_DK_CONTAINER), 0;
		}
		if (ns == 3 && post && is(s2, n2, "exec"))
			return (r->route = EF_DK_EXEC_CREATE), 0;
		if (ns == 3 && post && is(s2, n2, "update"))
			return (r->route = EF_DK_UPDATE), 0;
		goto unknown;
	}
	if (is(s0, n0, "exec") && ns == 3 && n1 < EF_DK_REF_MAX) {
		memcpy(r->ref, s1, n1);
		snprintf(r->rest, sizeof(r->rest), "%s%s%s", s1 + n1, r->query[0] ? "?" : "", r->query);
		if (post && is(s2, n2, "start"))
			r->hijack = true;
		if ((post && (is(s2, n2, "start") || is(s2, n2, "resize"))) ||
		    (get && is(s2, n2, "json")))
			return (r->route = EF_DK_EXEC), 0;
		goto unknown;
	}
	if (is(s0, n0, "images")) {
		if (ns == 2 && get && is(s1, n1, "json"))
			return (r->route = EF_DK_PASS), 0;
		if (ns == 2 && post && is(s1, n1, "create"))
			return (r->route = EF_DK_PULL), 0;
		if (ns == 2 && post && (is(s1, n1, "load") || is(s1, n1, "import")))
			return say(why, whylen, -EPERM,
				   "docker load is refused through egress-fence's Docker endpoint: "
				   "image names are shared by every job on the host, and a loaded "
				   "image would take one over");
		if (ns == 2 && get && is(s1, n1, "get"))
			return (r->route = EF_DK_PASS), 0;
		if (ns == 2 && (is(s1, n1, "search") || is(s1, n1, "prune")))
			return say(why, whylen, -EPERM,
				   "docker image %.*s is refused through egress-fence's Docker "
				   "endpoint", (int)n1, s1);
		/* images/NAME.../json|history|get|push|tag, DELETE images/NAME... */
		if (ns >= 2) {
			const char *last = strrchr(r->path, '/') + 1;

			if (del || (ns >= 3 && post && !strcmp(last, "tag")))
				return say(why, whylen, -EPERM,
					   "docker %s is refused through egress-fence's Docker "
					   "endpoint: image names are shared by every job on the host",
					   del ? "rmi" : "tag");
			if (ns >= 3 && get &&
			    (!strcmp(last, "json") || !strcmp(last, "history") || !strcmp(last, "get")))
				return (r->route = EF_DK_PASS), 0;
			if (ns >= 3 && post && !strcmp(last, "push")) {
				snprintf(r->ref, sizeof(r->ref), "%.*s",
					 (int)(last - 1 - (s1)), s1);
				return (r->route = EF_DK_PUSH), 0;
			}
		}
		goto unknown;
	}
	if (is(s0, n0, "distribution") && ns >= 3 && get) {
		const char *last = strrchr(r->path, '/') + 1;

		if (strcmp(last, "json"))
			goto unknown;
		snprintf(r->ref, sizeof(r->ref), "%.*s", (int)(last - 1 - s1), s1);
		r->route = EF_DK_PUSH; /* the registry is asked: judged alike */
		return 0;
	}
	if (is(s0, n0, "networks")) {
		if (ns == 1 && get)
			return (r->route = EF_DK_PASS), 0;
		if (ns == 2 && post && is(s1, n1, "create"))
			return (r->route = EF_DK_NET_CREATE), 0;
		if (ns == 2 && post && is(s1, n1, "prune"))
			return say(why, whylen, -EPERM,
				   "docker network prune is refused through egress-fence's Docker "
				   "endpoint (it would remove others' networks)");
		if (ns == 2 && n1 < EF_DK_REF_MAX && get)
			return (r->route = EF_DK_PASS), 0;
		if (ns == 2 && n1 < EF_DK_REF_MAX && del) {
			memcpy(r->ref, s1, n1);
			return (r->route = EF_DK_NET_OWN), 0;
		}
		if (ns == 3 && post && n1 < EF_DK_REF_MAX &&
		    (is(s2, n2, "connect") || is(s2, n2, "disconnect"))) {
			memcpy(r->ref, s1, n1);
			return (r->route = EF_DK_NET_CONNECT), 0;
		}
		goto unknown;
	}
	if (is(s0, n0, "volumes")) {
		if (ns == 1 && get)
			return (r->route = EF_DK_PASS), 0;
		if (ns == 2 && post && is(s1, n1, "create"))
			return (r->route = EF_DK_VOL_CREATE), 0;
		if (ns == 2 && post && is(s1, n1, "prune"))
			return say(why, whylen, -EPERM,
				   "docker volume prune is refused through egress-fence's Docker "
				   "endpoint (it would remove others' volumes)");
		if (ns == 2 && n1 < EF_DK_REF_MAX && get)
			return (r->route = EF_DK_PASS), 0;
		if (ns == 2 && n1 < EF_DK_REF_MAX && del) {
			memcpy(r->ref, s1, n1);
			return (r->route = EF_DK_VOL_OWN), 0;
		}
		goto unknown;
	}
	if (ns == 1 && post && is(s0, n0, "commit"))
		return (r->route = EF_DK_PASS), 0; /* ?container= is checked in docker_serve.c */
unknown:
	return say(why, whylen, -EPERM, "%s %s is not among the requests egress-fence's Docker "
		   "endpoint passes", method, r->path);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int ef_dk_query_get(const char *query, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);
	int found = 0;

	for (const char *p = query; p && *p;) {
		const char *amp = strchr(p, '&'), *end = amp ? amp : p + strlen(p);

		if ((size_t)(end - p) >= nl && !strncmp(p, name, nl) &&
		    (p[nl] == '=' || p + nl == end)) {
			const char *v = p[nl] == '=' ? p + nl + 1 : end;
			size_t o = 0;

			if (found++)
				return -EINVAL;
			for (; v < end; v++) {
				int c = (unsigned char)*v;

				if (c == '%') {
					int h;

					if (end - v < 3 || (h = hexval(v[1])) < 0 || hexval(v[2]) < 0)
						return -EINVAL;
					c = h * 16 + hexval(v[2]);
					v += 2;
				} else if (c == '+') {
					c = ' ';
				}
				if (c == 0 || o + 1 >= outlen)
					return -EINVAL;
				out[o++] = (char)c;
			}
			out[o] = '\0';
		}
		p = amp ? amp + 1 : NULL;
	}
	return found;
}

int ef_dk_registry(const char *ref, char *host, size_t hostlen, unsigned *port)
{
	const char *slash = strchr(ref, '/');
	size_t n = slash ? (size_t)(slash - ref) : 0;
	char first[256];
	char *colon;

	*port = 443;
	if (!*ref || strlen(ref) > 1024)
		return -EINVAL;
	for (const char *c = ref; *c; c++)
		if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
			return -EINVAL;
	if (n == 0 || n >= sizeof(first)) {
		snprintf(host, hostlen, "registry-1.docker.io");
		return 0;
	}
	memcpy(first, ref, n);
	first[n] = '\0';
	/* a first component is a registry when it looks like a host */
	if (!strchr(first, '.') && !strchr(first, ':') && strcmp(first, "localhost")) {
		snprintf(host, hostlen, "registry-1.docker.io");
		return 0;
	}
	colon = strrchr(first, ':');
	if (colon && first[0] != '[') {
		char *e;
		unsigned long p = strtoul(colon + 1, &e, 10);

		if (*e || !p || p > 65535 || e == colon + 1)
			return -EINVAL;
		*port = (unsigned)p;
		*colon = '\0';
	}
	if (!first[0])
		return -EINVAL;
	if (!strcmp(first, "docker.io") || !strcmp(first, "index.docker.io"))
		snprintf(host, hostlen, "registry-1.docker.io");
	else
		snprintf(host, hostlen, "%s", first);
	return 0;
}
