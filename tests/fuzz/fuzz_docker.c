// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target for the Docker endpoint's judgement (daemon/
 * docker_check.c). The input is "METHOD TARGET\n" then a body. The route
 * of the request line is judged; a body is judged as the route's, or, when
 * the route takes none, as a container create's. Callbacks stand in for
 * dockerd and the file system: containers named "own..." are the job's,
 * bind sources under /work are staged at /staged/N. Beyond memory errors it
 * checks, of every body passed:
 *   - it is a JSON object that cJSON reads back, with no key repeated in
 *     any case and no key outside ASCII (what Go's decoder would merge);
 *   - a create's HostConfig has the job's cgroup parent and no Privileged
 *     true, every bind source is staged (or a volume name), and the labels
 *     hold the job's label;
 *   - the route's ref is a NUL-terminated prefix of what fits.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "docker/docker_check.h"
#include "fuzz.h"

static int own(void *arg, const char *ref, char id[65])
{
	(void)arg;
	if (strncmp(ref, "own", 3))
		return -ENOENT;
	memset(id, 'a', 64);
	id[64] = '\0';
	return 0;
}

static int bind_src(void *arg, const char *src, char *out, size_t outlen, char *why, size_t wl)
{
	(void)arg;
	if (strncmp(src, "/work/", 6)) {
		snprintf(why, wl, "outside");
		return -EPERM;
	}
	snprintf(out, outlen, "/staged/1");
	return 0;
}

static int net_ok(void *arg, const char *name, char *why, size_t wl)
{
	(void)arg;
	snprintf(why, wl, "no");
	return strcmp(name, "jobnet") ? -EPERM : 0;
}

static int vol_ok(void *arg, const char *name, char *why, size_t wl)
{
	(void)arg;
	(void)name;
	(void)why;
	(void)wl;
	return 0;
}

static bool reg_ok(void *arg, const char *host, unsigned port)
{
	(void)arg;
	(void)port;
	return !strcmp(host, "ok.example");
}

static const struct ef_dk_ctx X = {
	.job_id = "job-1", .cgroup_parent = "/ef/job-job-1", .own_container = own,
	.bind_source = bind_src, .network_ok = net_ok, .volume_ok = vol_ok, .registry_ok = reg_ok,
};

static void keys_ok(const cJSON *o, int depth)
{
	CHECK(depth < 64);
	for (const cJSON *a = o->child; a; a = a->next) {
		if (cJSON_IsObject(o)) {
			for (const char *c = a->string; *c; c++)
				CHECK((unsigned char)*c < 0x80);
			for (const cJSON *b = a->next; b; b = b->next)
				CHECK(strcasecmp(a->string, b->string));
		}
		if (cJSON_IsObject(a) || cJSON_IsArray(a))
			keys_ok(a, depth + 1);
	}
}

static void create_ok(const cJSON *o)
{
	const cJSON *hc = cJSON_GetObjectItem(o, "HostConfig"), *v, *b;

	CHECK(cJSON_IsObject(hc));
	v = cJSON_GetObjectItem(hc, "CgroupParent");
	CHECK(cJSON_IsString(v) && !strcmp(v->valuestring, "/ef/job-job-1"));
	v = cJSON_GetObjectItem(hc, "Privileged");
	CHECK(!v || cJSON_IsFalse(v) || cJSON_IsNull(v));
	cJSON_ArrayForEach(b, cJSON_GetObjectItem(hc, "Binds"))
		CHECK(cJSON_IsString(b) && (b->valuestring[0] != '/' ||
					    !strncmp(b->valuestring, "/staged/", 8)));
	cJSON_ArrayForEach(b, cJSON_GetObjectItem(hc, "Mounts")) {
		const cJSON *t = cJSON_GetObjectItem(b, "Type"), *s = cJSON_GetObjectItem(b, "Source");

		CHECK(cJSON_IsString(t));
		if (!strcmp(t->valuestring, "bind"))
			CHECK(cJSON_IsString(s) && !strncmp(s->valuestring, "/staged/", 8));
	}
	v = cJSON_GetObjectItem(cJSON_GetObjectItem(o, "Labels"), EF_DK_LABEL);
	CHECK(cJSON_IsString(v) && !strcmp(v->valuestring, "job-1"));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ef_dk_req r;
	char line[EF_DK_TARGET_MAX + 32], method[16], why[512], *out = NULL;
	const uint8_t *nl = memchr(data, '\n', size < sizeof(line) ? size : sizeof(line) - 1);
	const char *body;
	size_t blen, n;
	char *sp;
	int ret;

	if (!nl)
		return 0;
	n = (size_t)(nl - data);
	memcpy(line, data, n);
	line[n] = '\0';
	if (strlen(line) != n || !(sp = strchr(line, ' ')) || sp - line >= (long)sizeof(method))
		return 0;
	memcpy(method, line, (size_t)(sp - line));
	method[sp - line] = '\0';
	body = (const char *)nl + 1;
	blen = size - n - 1;
	ret = ef_dk_route(method, sp + 1, &r, why, sizeof(why));
	CHECK(memchr(why, '\0', sizeof(why)));
	if (ret) {
		CHECK(ret == -EPERM || ret == -EINVAL);
		return 0;
	}
	CHECK(memchr(r.ref, '\0', sizeof(r.ref)) && memchr(r.path, '\0', sizeof(r.path)));
	if (r.route != EF_DK_CREATE && r.route != EF_DK_EXEC_CREATE && r.route != EF_DK_UPDATE &&
	    r.route != EF_DK_NET_CREATE && r.route != EF_DK_NET_CONNECT &&
	    r.route != EF_DK_VOL_CREATE && r.route != EF_DK_AUTH)
		r.route = EF_DK_CREATE;
	ret = ef_dk_check_body(&X, &r, body, blen, &out, why, sizeof(why));
	if (ret) {
		CHECK(!out && (ret == -EPERM || ret == -EINVAL || ret == -ENOMEM));
		return 0;
	}
	{
		cJSON *o = cJSON_Parse(out);

		CHECK(cJSON_IsObject(o));
		keys_ok(o, 0);
		if (r.route == EF_DK_CREATE)
			create_ok(o);
		cJSON_Delete(o);
	}
	free(out);
	return 0;
}
