// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * One request of a job to its endpoint, served: read (docker_http.c),
 * its route and body judged (docker_check.c), what it names checked to be
 * the job's (docker_ctx.c), its head and body written anew to dockerd and
 * the answer relayed; or refused, with a Docker API error and a tamper
 * record. Apart from docker.c: this is a connection's thread's work.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "docker_int.h"
#include "lib/cgroup.h"
#include "lib/util.h"

static void post_tamper(struct conn *c, const char *target, const char *why)
{
	struct msg m = { .type = MSG_TAMPER, .pid = c->pid, .uid = c->uid, .gid = c->gid };

	snprintf(m.job, sizeof(m.job), "%s", c->job);
	snprintf(m.detail, sizeof(m.detail), "%s %.300s\n%s", c->method, target, why);
	ef_dk_post(&m);
}

/* An answer of the endpoint's own: a Docker API error. */
static void reply_error(int fd, int status, const char *why)
{
	cJSON *o = cJSON_CreateObject();
	char *body, head[256];
	int n;

	cJSON_AddStringToObject(o, "message", why);
	body = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!body)
		return;
	n = snprintf(head, sizeof(head),
		     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nApi-Version: 1.41\r\n"
		     "Connection: close\r\nContent-Length: %zu\r\n\r\n",
		     status, status == 403 ? "Forbidden" : status == 400 ? "Bad Request" :
			     status == 502 ? "Bad Gateway" : status == 503 ? "Service Unavailable" :
			     "Error", strlen(body) + 1);
	if (!ef_dk_write_all(fd, head, (size_t)n))
		ef_dk_write_all(fd, body, strlen(body)), ef_dk_write_all(fd, "\n", 1);
	free(body);
}

/* GET /containers/json: the job's own only, whatever filters it asks */
static int list_query(struct conn *c, char *q, size_t qlen, char *why, size_t whylen)
{
	char f[4096], enc[8192], lab[EF_JOB_ID_MAX + 64], rest[EF_DK_TARGET_MAX] = "";
	cJSON *o, *l;
	char *s;
	int got = ef_dk_query_get(q, "filters", f, sizeof(f));

	if (got < 0)
		return snprintf(why, whylen, "malformed filters"), -EINVAL;
	o = got ? cJSON_Parse(f) : cJSON_CreateObject();
	if (!cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return snprintf(why, whylen, "malformed filters"), -EINVAL;
	}
	snprintf(lab, sizeof(lab), "%s=%s", EF_DK_LABEL, c->job);
	/* dockerd reads the filters into a map: the last of repeated keys */
	for (cJSON *a = o->child; a; a = a->next)
		for (cJSON *b2 = a->next; b2; b2 = b2->next)
			if (!strcmp(a->string, b2->string)) {
				cJSON_Delete(o);
				return snprintf(why, whylen, "filters: \"%.40s\" given twice",
						a->string), -EINVAL;
			}
	/* "label" anew: the job's terms (strings, as an array or the old
	 * object form) and the job's own label */
	l = cJSON_DetachItemFromObjectCaseSensitive(o, "label");
	{
		cJSON *nl = cJSON_AddArrayToObject(o, "label"), *t;

		if (!nl) {
			cJSON_Delete(l);
			cJSON_Delete(o);
			return -ENOMEM;
		}
		for (t = (cJSON_IsArray(l) || cJSON_IsObject(l)) ? l->child : NULL; t; t = t->next) {
			const char *v = cJSON_IsObject(l) ? t->string :
					cJSON_IsString(t) ? t->valuestring : NULL;

			if (v)
				cJSON_AddItemToArray(nl, cJSON_CreateString(v));
		}
		cJSON_AddItemToArray(nl, cJSON_CreateString(lab));
		cJSON_Delete(l);
	}
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!s)
		return -ENOMEM;
	ef_dk_query_escape(s, enc, sizeof(enc));
	free(s);
	/* the other parameters as they were */
	for (char *p = q, *amp; p && *p; p = amp ? amp + 1 : NULL) {
		amp = strchr(p, '&');
		if (!strncmp(p, "filters=", 8) || !strncmp(p, "filters&", 8) ||
		    (!strcmp(p, "filters")))
			continue;
		snprintf(rest + strlen(rest), sizeof(rest) - strlen(rest), "%.*s&",
			 (int)(amp ? amp - p : (long)strlen(p)), p);
	}
	snprintf(q, qlen, "%sfilters=%s", rest, enc);
	return 0;
}

static int judge_image(struct conn *c, const char *ref, const char *what, char *why,
		       size_t whylen)
{
	char host[256];
	unsigned port;

	if (ef_dk_registry(ref, host, sizeof(host), &port))
		return snprintf(why, whylen, "malformed image reference"), -EINVAL;
	if (!ef_dk_registry_ok(c, host, port))
		return snprintf(why, whylen,
				"refused by egress-fence's Docker endpoint: %s %s: dockerd would "
				"reach %s:%u, which the job's policy (%s) does not allow",
				what, ref, host, port, c->pol->pol->name), -EPERM;
	return 0;
}

void ef_dk_serve(struct conn *c)
{
	char why[1024], target[EF_DK_TARGET_MAX + EF_DK_REF_MAX + 80], id[65];
	char *out = NULL, *body = NULL, *hdr = NULL;
	struct watch w = { 0 };
	struct body b = { .c = c };
	struct head h;
	size_t blen = 0, hcap, hl;
	ssize_t hlen;
	int up = -1, ret, status = 0, code = 403;
	bool judged_body;

	hlen = ef_dk_read_head(c);
	if (hlen < 0) {
		if (hlen == -EINVAL)
			reply_error(c->fd, 400, "request head too long");
		return;
	}
	ret = ef_dk_parse_head(c->rbuf, (size_t)hlen, &h, why, sizeof(why));
	snprintf(c->method, sizeof(c->method), "%s", ret ? "?" : h.method);
	if (ret) {
		code = 400;
		goto refuse_plain;
	}
	b.off = (size_t)hlen;
	b.chunked = h.chunked;
	b.left = h.chunked ? 0 : (h.clen > 0 ? (unsigned long long)h.clen : 0);
	ret = ef_dk_route(h.method, h.target, &c->req, why, sizeof(why));
	if (ret) {
		code = ret == -EINVAL ? 400 : 403;
		goto refuse;
	}
	/* a form body is read by dockerd as query parameters, over the query
	 * judged here (Go's Request.Form) */
	for (int i = 0; i < h.n; i++)
		if (!strcasecmp(h.name[i], "Content-Type") && strcasestr(h.value[i], "form")) {
			snprintf(why, sizeof(why), "refused by egress-fence's Docker endpoint: a "
				 "form body (%.80s)", h.value[i]);
			code = 400;
			goto refuse;
		}
	/* the target dockerd gets: the query as judged (ef_dk_route wrote it
	 * anew), the job's own ids in place of its names */
	snprintf(target, sizeof(target), "%s%s%s%s", c->req.version, c->req.path,
		 c->req.query[0] ? "?" : "", c->req.query);
	switch (c->req.route) {
	case EF_DK_CONTAINER:
	case EF_DK_EXEC_CREATE:
	case EF_DK_UPDATE:
		ret = ef_dk_own_container(c, c->req.ref, id);
		if (ret) {
			snprintf(why, sizeof(why),
				 ret == -EIO ? "dockerd did not answer" :
				 "refused by egress-fence's Docker endpoint: container %s is not "
				 "one of this job's", c->req.ref);
			code = ret == -EIO ? 502 : 404;
			goto refuse;
		}
		snprintf(target, sizeof(target), "%s/containers/%s%s", c->req.version, id,
			 c->req.rest);
		if (c->req.start) {
			/* named on the spans of its first decisions */
			struct msg m = { .type = MSG_STARTED };

			snprintf(m.job, sizeof(m.job), "%s", c->job);
			memcpy(m.id, id, sizeof(m.id));
			memcpy(m.name, c->name, sizeof(m.name));
			memcpy(m.image, c->image, sizeof(m.image));
			ef_dk_post(&m);
			w.on = true;
			w.until_ns = ef_now_boot_ns() + 5000000000ull;
			snprintf(w.cg, sizeof(w.cg), "%s/%s", c->cgroup_abs, id);
			snprintf(w.procs, sizeof(w.procs), "%s/cgroup.procs", w.cg);
		}
		break;
	case EF_DK_EXEC: {
		const cJSON *ci;
		cJSON *o;
		int st;

		ret = -ENOENT;
		if (ef_dk_ref_plain(c->req.ref) &&
		    (o = ef_dk_up_json("/exec/%s/json", c->req.ref, &st))) {
			ci = cJSON_GetObjectItemCaseSensitive(o, "ContainerID");
			if (cJSON_IsString(ci))
				ret = ef_dk_own_container(c, ci->valuestring, id);
			cJSON_Delete(o);
		}
		if (ret) {
			snprintf(why, sizeof(why), "refused by egress-fence's Docker endpoint: exec %s "
				 "is not of this job's containers", c->req.ref);
			code = 404;
			goto refuse;
		}
		break;
	}
	case EF_DK_LIST: {
		char q[EF_DK_TARGET_MAX];

		snprintf(q, sizeof(q), "%s", c->req.query);
		if (list_query(c, q, sizeof(q), why, sizeof(why))) {
			code = 400;
			goto refuse;
		}
		snprintf(target, sizeof(target), "%s%s?%s", c->req.version, c->req.path, q);
		break;
	}
	case EF_DK_PULL: {
		char img[1024], src[1024];
		int g = ef_dk_query_get(c->req.query, "fromImage", img, sizeof(img));
		int s = ef_dk_query_get(c->req.query, "fromSrc", src, sizeof(src));

		if (g < 0 || s < 0 || (g == 0 && s == 0)) {
			snprintf(why, sizeof(why), "malformed image create");
			code = 400;
			goto refuse;
		}
		if (s) {
			snprintf(why, sizeof(why), "refused by egress-fence's Docker endpoint: "
				 "docker import (from a URL dockerd would fetch it outside the "
				 "fence; a tarball would take over an image name every job shares)");
			goto refuse;
		}
		if (g && (ret = judge_image(c, img, "pulling", why, sizeof(why)))) {
			code = ret == -EINVAL ? 400 : 403;
			goto refuse;
		}
		break;
	}
	case EF_DK_PUSH:
		ret = judge_image(c, c->req.ref, strstr(c->req.path, "/push") ? "pushing" :
						 "looking up", why, sizeof(why));
		if (ret) {
			code = ret == -EINVAL ? 400 : 403;
			goto refuse;
		}
		break;
	case EF_DK_NET_OWN:
	case EF_DK_VOL_OWN: {
		cJSON *o;
		int st;

		o = ef_dk_ref_plain(c->req.ref) ?
			    ef_dk_up_json(c->req.route == EF_DK_NET_OWN ? "/networks/%s" :
					  "/volumes/%s", c->req.ref, &st) : NULL;
		ret = o && ef_dk_labelled(cJSON_GetObjectItemCaseSensitive(o, "Labels"), c->job) ?
			      0 : -1;
		cJSON_Delete(o);
		if (ret) {
			snprintf(why, sizeof(why), "refused by egress-fence's Docker endpoint: %s %s "
				 "is not one of this job's", c->req.route == EF_DK_NET_OWN ?
				 "network" : "volume", c->req.ref);
			goto refuse;
		}
		break;
	}
	case EF_DK_PASS:
		if (!strcmp(c->req.path, "/commit")) {
			char ref[EF_DK_REF_MAX], v[8];

			if (ef_dk_query_get(c->req.query, "container", ref, sizeof(ref)) != 1 ||
			    ef_dk_own_container(c, ref, id)) {
				snprintf(why, sizeof(why), "refused by egress-fence's Docker endpoint: "
					 "commit of a container not of this job's");
				goto refuse;
			}
			if (ef_dk_query_get(c->req.query, "repo", v, sizeof(v)) != 0 ||
			    ef_dk_query_get(c->req.query, "tag", v, sizeof(v)) != 0 ||
			    strcasestr(c->req.query, "egress-fence")) {
				snprintf(why, sizeof(why), "refused by egress-fence's Docker endpoint: "
					 "commit to a name (image names are shared by every job on "
					 "the host), or with egress-fence's label");
				goto refuse;
			}
			c->req.route = EF_DK_COMMIT; /* its body judged below */
			snprintf(target, sizeof(target), "%s/commit?%s", c->req.version, c->req.query);
			{
				/* the container by its id */
				char *p = strstr(target, "?container="), rest[EF_DK_TARGET_MAX];

				if (!p)
					p = strstr(target, "&container=");
				if (p)
					p++;

				if (p) {
					char *amp = strchr(p, '&');

					snprintf(rest, sizeof(rest), "%s", amp ? amp : "");
					snprintf(p, sizeof(target) - (size_t)(p - target), "container=%s%s",
						 id, rest);
				}
			}
		}
		break;
	case EF_DK_NET_CONNECT:
		ret = strcmp(c->req.ref, "bridge") ?
			      ef_dk_network_ok(c, c->req.ref, why, sizeof(why)) : 0;
		if (ret)
			goto refuse;
		break;
	default:
		break;
	}
	judged_body = c->req.route == EF_DK_CREATE || c->req.route == EF_DK_EXEC_CREATE ||
		      c->req.route == EF_DK_UPDATE || c->req.route == EF_DK_NET_CREATE ||
		      c->req.route == EF_DK_NET_CONNECT || c->req.route == EF_DK_VOL_CREATE ||
		      c->req.route == EF_DK_AUTH ||
		      (c->req.route == EF_DK_COMMIT && (h.clen > 0 || h.chunked));
	/* a body only where one is taken and judged or harmless: a start's
	 * would carry a HostConfig past the create's judgement */
	if (!judged_body && (h.clen > 0 || h.chunked) &&
	    !(c->req.route == EF_DK_CONTAINER && !strcmp(h.method, "PUT")) &&
	    c->req.route != EF_DK_EXEC) {
		snprintf(why, sizeof(why), "refused by egress-fence's Docker endpoint: a request "
			 "body where %s %s takes none", h.method, c->req.path);
		code = 400;
		goto refuse;
	}
	if (judged_body) {
		struct ef_dk_ctx x = {
			.job_id = c->job, .cgroup_parent = c->cgroup_rel, .arg = c,
			.net_raw = ef_policy_caps(c->pol->pol) & (1ull << 13 /* CAP_NET_RAW */),
			.own_container = ef_dk_own_container, .bind_source = ef_dk_bind_source,
			.network_ok = ef_dk_network_ok, .volume_ok = ef_dk_volume_ok,
			.registry_ok = ef_dk_registry_ok,
		};

		ret = ef_dk_body_all(&b, &body, &blen);
		if (ret) {
			snprintf(why, sizeof(why), ret == -E2BIG ? "request body too large" :
				 "malformed request body");
			code = 400;
			goto refuse;
		}
		ret = ef_dk_check_body(&x, &c->req, body, blen, &out, why, sizeof(why));
		if (ret) {
			code = ret == -EPERM ? 403 : ret == -ENOMEM ? 500 : 400;
			goto refuse;
		}
	}
	up = ef_dk_up_connect();
	if (up < 0) {
		reply_error(c->fd, 502, "egress-fence: dockerd does not answer at its socket");
		goto done;
	}
	/* the head anew */
	hcap = 1024 + strlen(target);
	for (int i = 0; i < h.n; i++)
		hcap += strlen(h.name[i]) + strlen(h.value[i]) + 4;
	hdr = malloc(hcap);
	if (!hdr)
		goto done;
	hl = (size_t)snprintf(hdr, hcap, "%s %s HTTP/1.1\r\nHost: docker\r\n", h.method, target);
	for (int i = 0; i < h.n; i++)
		hl += (size_t)snprintf(hdr + hl, hcap - hl, "%s: %s\r\n", h.name[i], h.value[i]);
	if (c->req.hijack && h.upgrade)
		hl += (size_t)snprintf(hdr + hl, hcap - hl, "Connection: Upgrade\r\nUpgrade: tcp\r\n");
	else
		hl += (size_t)snprintf(hdr + hl, hcap - hl, "Connection: close\r\n");
	if (judged_body)
		hl += (size_t)snprintf(hdr + hl, hcap - hl, "Content-Length: %zu\r\n\r\n",
				       strlen(out));
	else if (h.chunked)
		hl += (size_t)snprintf(hdr + hl, hcap - hl, "Transfer-Encoding: chunked\r\n\r\n");
	else
		hl += (size_t)snprintf(hdr + hl, hcap - hl, "Content-Length: %lld\r\n\r\n",
				       h.clen > 0 ? h.clen : 0);
	if (ef_dk_write_all(up, hdr, hl))
		goto done;
	if (judged_body) {
		if (ef_dk_write_all(up, out, strlen(out)))
			goto done;
	} else {
		char buf[65536], cl[32];

		for (;;) {
			ssize_t n = ef_dk_body_read(&b, buf, sizeof(buf));

			if (n < 0)
				goto done;
			if (n == 0)
				break;
			if (h.chunked) {
				int k = snprintf(cl, sizeof(cl), "%zx\r\n", (size_t)n);

				if (ef_dk_write_all(up, cl, (size_t)k) ||
				    ef_dk_write_all(up, buf, (size_t)n) ||
				    ef_dk_write_all(up, "\r\n", 2))
					goto done;
			} else if (ef_dk_write_all(up, buf, (size_t)n)) {
				goto done;
			}
		}
		if (h.chunked && ef_dk_write_all(up, "0\r\n\r\n", 5))
			goto done;
	}
	/* a hijacked stream's first bytes may have come with the head: held
	 * until dockerd has upgraded the connection */
	ef_dk_relay(c, up, c->req.hijack && h.upgrade, w.on ? &w : NULL, &status,
		    b.off < c->rlen ? c->rbuf + b.off : NULL,
		    b.off < c->rlen ? c->rlen - b.off : 0);
	if (w.frozen)
		ef_cgroup_freeze(w.cg, false);
	goto done;
refuse:
	post_tamper(c, h.target, why);
refuse_plain:
	reply_error(c->fd, code, why);
done:
	free(hdr);
	free(body);
	free(out);
	if (up >= 0)
		close(up);
}
