// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * daemon/docker/docker_check.c: the routes a job's Docker endpoint passes, and the
 * judgement of the bodies that could let a container out; with callbacks
 * standing in for dockerd and the file system. Table-driven: each case is
 * a request, the result wanted and a word the message must hold.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "docker/docker_check.h"

/* "own*" and the 64-char ids of them are the job's; binds under /work are
 * staged at /staged/<n>; network "jobnet" and "bridge" are bridges;
 * volumes named "bad*" have driver options; registry ok.example only */
static int own(void *arg, const char *ref, char id[65])
{
	(void)arg;
	if (strncmp(ref, "own", 3))
		return -ENOENT;
	memset(id, 'a', 64);
	id[64] = '\0';
	return 0;
}

static int staged;

static int bind_src(void *arg, const char *src, char *out, size_t outlen, char *why, size_t wl)
{
	(void)arg;
	if (strncmp(src, "/work/", 6) && strcmp(src, "/work")) {
		snprintf(why, wl, "outside the job's working directory");
		return -EPERM;
	}
	snprintf(out, outlen, "/staged/%d", staged++);
	return 0;
}

static int net_ok(void *arg, const char *name, char *why, size_t wl)
{
	(void)arg;
	if (!strcmp(name, "jobnet"))
		return 0;
	snprintf(why, wl, "network %s (not a bridge)", name);
	return -EPERM;
}

static int vol_ok(void *arg, const char *name, char *why, size_t wl)
{
	(void)arg;
	if (strncmp(name, "bad", 3))
		return 0;
	snprintf(why, wl, "volume %s has driver options", name);
	return -EPERM;
}

static bool reg_ok(void *arg, const char *host, unsigned port)
{
	(void)arg;
	return !strcmp(host, "ok.example") && port == 443;
}

static const struct ef_dk_ctx X = {
	.job_id = "job-1",
	.cgroup_parent = "/ef/job-job-1",
	.own_container = own,
	.bind_source = bind_src,
	.network_ok = net_ok,
	.volume_ok = vol_ok,
	.registry_ok = reg_ok,
};

static const struct {
	const char *method, *target;
	int ret;
	enum ef_dk_route route;
	bool hijack;
	const char *ref, *word;
} routes[] = {
	{ "GET", "/_ping", 0, EF_DK_PASS, false, "", NULL },
	{ "HEAD", "/v1.41/_ping", 0, EF_DK_PASS, false, "", NULL },
	{ "GET", "/v1.41/containers/json?all=1", 0, EF_DK_LIST, false, "", NULL },
	{ "POST", "/v1.41/containers/create?name=x", 0, EF_DK_CREATE, false, "", NULL },
	{ "POST", "/v1.41/containers/own1/start", 0, EF_DK_CONTAINER, false, "own1", NULL },
	{ "POST", "/v1.41/containers/own1/attach?stream=1", 0, EF_DK_CONTAINER, true, "own1", NULL },
	{ "POST", "/v1.41/containers/own1/exec", 0, EF_DK_EXEC_CREATE, false, "own1", NULL },
	{ "POST", "/v1.41/containers/own1/update", 0, EF_DK_UPDATE, false, "own1", NULL },
	{ "DELETE", "/v1.41/containers/own1?force=1", 0, EF_DK_CONTAINER, false, "own1", NULL },
	{ "PUT", "/v1.41/containers/own1/archive?path=/", 0, EF_DK_CONTAINER, false, "own1", NULL },
	{ "POST", "/v1.41/exec/abc/start", 0, EF_DK_EXEC, true, "abc", NULL },
	{ "GET", "/v1.41/exec/abc/json", 0, EF_DK_EXEC, false, "abc", NULL },
	{ "POST", "/v1.41/images/create?fromImage=busybox", 0, EF_DK_PULL, false, "", NULL },
	{ "POST", "/v1.41/images/ok.example/a/b/push?tag=1", 0, EF_DK_PUSH, false, "ok.example/a/b", NULL },
	{ "GET", "/v1.41/images/library/busybox/json", 0, EF_DK_PASS, false, "", NULL },
	{ "GET", "/v1.41/distribution/ok.example/x/json", 0, EF_DK_PUSH, false, "ok.example/x", NULL },
	{ "POST", "/v1.41/networks/create", 0, EF_DK_NET_CREATE, false, "", NULL },
	{ "DELETE", "/v1.41/networks/n1", 0, EF_DK_NET_OWN, false, "n1", NULL },
	{ "POST", "/v1.41/networks/n1/connect", 0, EF_DK_NET_CONNECT, false, "n1", NULL },
	{ "POST", "/v1.41/volumes/create", 0, EF_DK_VOL_CREATE, false, "", NULL },
	{ "DELETE", "/v1.41/volumes/v1", 0, EF_DK_VOL_OWN, false, "v1", NULL },
	{ "POST", "/v1.41/auth", 0, EF_DK_AUTH, false, "", NULL },
	/* refused */
	{ "POST", "/v1.41/build", -EPERM, EF_DK_REFUSE, false, "", "docker build" },
	{ "POST", "/session", -EPERM, EF_DK_REFUSE, false, "", "docker build" },
	{ "POST", "/grpc", -EPERM, EF_DK_REFUSE, false, "", "docker build" },
	{ "POST", "/v1.41/swarm/init", -EPERM, EF_DK_REFUSE, false, "", "swarm" },
	{ "POST", "/v1.41/plugins/pull", -EPERM, EF_DK_REFUSE, false, "", "plugins" },
	{ "POST", "/v1.41/containers/prune", -EPERM, EF_DK_REFUSE, false, "", "prune" },
	{ "POST", "/v1.41/images/prune", -EPERM, EF_DK_REFUSE, false, "", "prune" },
	{ "GET", "/v1.41/images/search?term=x", -EPERM, EF_DK_REFUSE, false, "", "search" },
	{ "POST", "/v1.23/containers/create", -EPERM, EF_DK_REFUSE, false, "", "API version" },
	{ "POST", "/v1.12/containers/x/start", -EPERM, EF_DK_REFUSE, false, "", "API version" },
	{ "GET", "/v1.41/containers/own1/nosuch", -EPERM, EF_DK_REFUSE, false, "", "not among" },
	{ "GET", "/v1.41/whatever", -EPERM, EF_DK_REFUSE, false, "", "not among" },
	{ "GET", "/v1.41/containers/%2e%2e/json", -EINVAL, EF_DK_REFUSE, false, "", "segment" },
	{ "GET", "/v1.41/containers/../json", -EINVAL, EF_DK_REFUSE, false, "", "segment" },
	{ "GET", "/v1.41//containers/json", -EINVAL, EF_DK_REFUSE, false, "", "segment" },
	{ "GET", "/v1.41/containers/json?a=1;b=2", -EINVAL, EF_DK_REFUSE, false, "", "query" },
	{ "GET", "containers/json", -EINVAL, EF_DK_REFUSE, false, "", "absolute" },
	{ "GET", "/v1.41/containers/json/", -EINVAL, EF_DK_REFUSE, false, "", "segment" },
};

static void test_routes(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		struct ef_dk_req *r = malloc(sizeof(*r));
		char why[512] = "";
		int ret;

		assert_non_null(r);
		ret = ef_dk_route(routes[i].method, routes[i].target, r, why, sizeof(why));
		if (ret != routes[i].ret || (!ret && (r->route != routes[i].route ||
						      r->hijack != routes[i].hijack ||
						      strcmp(r->ref, routes[i].ref))) ||
		    (routes[i].word && !strstr(why, routes[i].word)))
			fail_msg("%s %s: ret %d route %d hijack %d ref \"%s\" why \"%s\"",
				 routes[i].method, routes[i].target, ret, r->route, r->hijack, r->ref,
				 why);
		free(r);
	}
}

static void test_query_and_registry(void **state)
{
	char v[64], host[256];
	unsigned port;

	(void)state;
	assert_int_equal(ef_dk_query_get("a=1&fromImage=x%2Fy+z&b=2", "fromImage", v, sizeof(v)), 1);
	assert_string_equal(v, "x/y z");
	assert_int_equal(ef_dk_query_get("a=1", "fromImage", v, sizeof(v)), 0);
	assert_int_equal(ef_dk_query_get("fromImage=a&fromImage=b", "fromImage", v, sizeof(v)),
			 -EINVAL);
	assert_int_equal(ef_dk_query_get("fromImage=%zz", "fromImage", v, sizeof(v)), -EINVAL);
	assert_int_equal(ef_dk_query_get("fromImage=%00", "fromImage", v, sizeof(v)), -EINVAL);
	assert_int_equal(ef_dk_query_get("fromImage=%4", "fromImage", v, sizeof(v)), -EINVAL);

	static const struct {
		const char *ref, *host;
		unsigned port;
		int ret;
	} regs[] = {
		{ "busybox", "registry-1.docker.io", 443, 0 },
		{ "library/busybox:1", "registry-1.docker.io", 443, 0 },
		{ "docker.io/library/busybox", "registry-1.docker.io", 443, 0 },
		{ "index.docker.io/x/y", "registry-1.docker.io", 443, 0 },
		{ "ghcr.io/a/b:1", "ghcr.io", 443, 0 },
		{ "localhost:5000/x", "localhost", 5000, 0 },
		{ "evil.example:8443/x@sha256:00", "evil.example", 8443, 0 },
		{ "evil.example:0/x", NULL, 0, -EINVAL },
		{ "evil.example:99999/x", NULL, 0, -EINVAL },
		{ "evil.example:/x", NULL, 0, -EINVAL },
		{ "", NULL, 0, -EINVAL },
		{ "a b/c", NULL, 0, -EINVAL },
	};
	for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
		int ret = ef_dk_registry(regs[i].ref, host, sizeof(host), &port);

		if (ret != regs[i].ret || (!ret && (strcmp(host, regs[i].host) || port != regs[i].port)))
			fail_msg("%s: ret %d host %s port %u", regs[i].ref, ret, ret ? "" : host, port);
	}
}

static const struct {
	enum ef_dk_route route;
	const char *body;
	int ret;
	const char *word; /* in the refusal, or in the body forwarded */
} bodies[] = {
	/* passed, and rewritten */
	{ EF_DK_CREATE, "{\"Image\":\"x\"}", 0, "\"CgroupParent\":\"/ef/job-job-1\"" },
	{ EF_DK_CREATE, "{\"Image\":\"x\"}", 0, "\"CapDrop\":[\"NET_RAW\"]" },
	{ EF_DK_CREATE, "{\"HostConfig\":{\"CapDrop\":[\"MKNOD\"]}}", 0, "\"CapDrop\":[\"MKNOD\",\"NET_RAW\"]" },
	{ EF_DK_CREATE, "", 0, "\"io.egress-fence.job\":\"job-1\"" },
	{ EF_DK_CREATE, "{\"HostConfig\":{\"CgroupParent\":\"\"}}", 0, "/ef/job-job-1" },
	{ EF_DK_CREATE, "{\"HostConfig\":{\"Binds\":[\"/work/a:/x:ro\"]}}", 0, "/staged/" },
	{ EF_DK_CREATE, "{\"HostConfig\":{\"Binds\":[\"vol:/x\"]}}", 0, "vol:/x" },
	{ EF_DK_CREATE, "{\"HostConfig\":{\"Mounts\":[{\"Type\":\"bind\",\"Source\":\"/work\",\"Target\":\"/w\"}]}}", 0, "/staged/" },
	{ EF_DK_CREATE, "{\"HostConfig\":{\"PortBindings\":{\"80/tcp\":[{\"HostPort\":\"8080\"}]}}}", 0, "\"HostIp\":\"127.0.0.1\"" },
	{ EF_DK_CREATE, "{\"HostConfig\":{\"PortBindings\":{\"80/tcp\":[{\"HostIp\":\"0.0.0.0\"}]}}}", 0, "127.0.0.1" },
	{ EF_DK_CREATE, "{\"HostConfig\":{\"CapAdd\":[\"NET_BIND_SERVICE\",\"cap_chown\"],\"CapDrop\":[\"ALL\"]}}", 0, "NET_BIND_SERVICE" },
	{ EF_DK_CREATE, "{\"HostConfig\":{\"SecurityOpt\":[\"no-new-privileges\"],\"IpcMode\":\"shareable\",\"NetworkMode\":\"bridge\",\"LogConfig\":{\"Type\":\"json-file\"}}}", 0, "shareable" },
	{ EF_DK_CREATE, "{\"HostConfig\":{\"NetworkMode\":\"container:own1\",\"VolumesFrom\":[\"own2:ro\"]}}", 0, "container:aaaa" },
	{ EF_DK_CREATE, "{\"HostConfig\":{\"NetworkMode\":\"jobnet\"},\"NetworkingConfig\":{\"EndpointsConfig\":{\"jobnet\":{}}}}", 0, "jobnet" },
	{ EF_DK_EXEC_CREATE, "{\"Cmd\":[\"id\"],\"User\":\"root\"}", 0, "root" },
	{ EF_DK_UPDATE, "{\"Memory\":1000000,\"RestartPolicy\":{\"Name\":\"no\"}}", 0, "Memory" },
	{ EF_DK_NET_CREATE, "{\"Name\":\"n\",\"Driver\":\"bridge\"}", 0, "io.egress-fence.job" },
	{ EF_DK_VOL_CREATE, "{\"Name\":\"v\"}", 0, "io.egress-fence.job" },
	{ EF_DK_NET_CONNECT, "{\"Container\":\"own3\"}", 0, "aaaa" },
	{ EF_DK_AUTH, "{\"serveraddress\":\"https://ok.example/v2/\"}", 0, "ok.example" },
	/* refused */
	{ EF_DK_CREATE, "{\"HostConfig\":{\"Privileged\":true}}", -EPERM, "privileged" },
	{ EF_DK_CREATE, "{\"HostConfig\":{\"Privileged\":1}}", -EPERM, "privileged" },
	{ EF_DK_CREATE, "{\"HostConfig\":{\"Privileged\":\"false\"}}", -EPERM, "privileged" },
	{ EF_DK_CREATE, "{\"hostconfig\":{\"PRIVILEGED\":true}}", -EPERM, "privileged" },
	{ EF_DK_CREATE, "{\"HostConfig\":{\"Privileged\":false,\"privileged\":true}}", -EINVAL, "twice" },
	{ EF_DK_CREATE, "{\"HostConfig\":{},\"HostConfig\":{\"Privileged\":true}}", -EINVAL, "twice" },
	{ EF_DK_CREATE, "{\"HostConfig\":{\"Network\\u212aode\":\"host\"}}", -EINVAL, "ASCII" },
	{ EF_DK_CREATE, "{\"HostConfig\":{\"NetworkMode\":\"host\"}}", -EPERM, "host's network" },
	{ EF_DK_CREATE, "{\"HostConfig\":{\"NetworkMode\":\"container:other\"}}", -EPERM, "only a container" },
	{ EF_DK_CREATE, "{\"HostConfig\":{\"NetworkMode\":\"othernet\"}}", -EPERM, "othernet" },
	{ EF_DK_CREATE, "{\"NetworkingConfig\":{\"EndpointsConfig\":{\"host\":{}}}}", -EPERM, "network host" },
	{ EF_DK_CREATE, "{\"HostConfig\":{\"PidMode\":\"host\"}}", -EPERM, "PID" },
	{ EF_DK_CREATE, "{\"HostConfig\":{\"IpcMode\":\"host\"}}", -EPERM, "IPC" },
	{ EF_DK_CREATE, "{\"HostConfig\":{\"UTSMode\":\"host\"}}", -EPERM, "UTS" },
	{ EF_DK_CREATE, "{\"HostConfig\":{\"UsernsMode\":\"host\"}}", -EPERM, "user namespace" },
	{ EF_DK_CREATE, "{\"HostConfig\":{\"CgroupnsMode\":\"host\"}}", -EPERM, "cgroup namespace" },
	{ EF_DK_CREATE, "{\"HostConfig\":{\"Cgroup\":\"container:x\"}}", -EPERM, "cgroup" },
	{ EF_DK_CREATE, "{\"HostConfig\":{\"CgroupParent\":\"/\"}}", -EPERM, "cgroup parent" },
	{ EF_DK_CREATE, "{\"HostConfig\":{\"Devices\":[{}]}}", -EPERM, "devices" },
	{ EF_DK_CREATE, "{\"HostConfig\":{\"DeviceRequests\":[{}]}}", -EPERM, "device requests" },
	{ EF_DK_CREATE, "{\"HostConfig\":{\"CapAdd\":[\"SYS_ADMIN\"]}}", -EPERM, "SYS_ADMIN" },
	/* the job's policy has no sockets.raw/packet (X.net_raw false) */
	{ EF_DK_CREATE, "{\"HostConfig\":{\"CapAdd\":[\"NET_RAW\"]}}", -EPERM, "sockets.raw" },
	{ EF_DK_CREATE, "{\"HostConfig\":{\"CapAdd\":[\"cap_net_raw\"]}}", -EPERM, "sockets.raw" },
	{ EF_DK_CREATE, "{\"HostConfig\":{\"CapDrop\":\"NET_RAW\"}}", -EINVAL, "CapDrop" },
	{ EF_DK_CREATE, "{\"HostConfig\":{\"CapAdd\":[\"CAP_NET_ADMIN\"]}}", -EPERM, "NET_ADMIN" },
	{ EF_DK_CREATE, "{\"HostConfig\":{\"CapAdd\":\"ALL\"}}", -EINVAL, "CapAdd" },
	{ EF_DK_CREATE, "{\"HostConfig\":{\"Capabilities\":[\"CAP_CHOWN\"]}}", -EPERM, "capability set" },
	{ EF_DK_CREATE, "{\"HostConfig\":{\"SecurityOpt\":[\"label=disable\"]}}", -EPERM, "security option" },
	{ EF_DK_CREATE, "{\"HostConfig\":{\"SecurityOpt\":[\"seccomp=/x.json\"]}}", -EPERM, "security option" },
	{ EF_DK_CREATE, "{\"HostConfig\":{\"MaskedPaths\":[]}}", -EPERM, "unmasked" },
	{ EF_DK_CREATE, "{\"HostConfig\":{\"ReadonlyPaths\":[]}}", -EPERM, "writable" },
	{ EF_DK_CREATE, "{\"HostConfig\":{\"Binds\":[\"/etc:/x\"]}}", -EPERM, "bind mount of /etc" },
	{ EF_DK_CREATE, "{\"HostConfig\":{\"Binds\":[\"/work:/x:rshared\"]}}", -EPERM, "propagation" },
	{ EF_DK_CREATE, "{\"HostConfig\":{\"Binds\":[\"badvol:/x\"]}}", -EPERM, "driver options" },
	{ EF_DK_CREATE, "{\"HostConfig\":{\"Binds\":[\"/x\"]}}", -EINVAL, "malformed bind" },
	{ EF_DK_CREATE, "{\"HostConfig\":{\"Mounts\":[{\"Type\":\"bind\",\"Source\":\"/work\",\"BindOptions\":{\"Propagation\":\"shared\"}}]}}", -EPERM, "propagation" },
	{ EF_DK_CREATE, "{\"HostConfig\":{\"Mounts\":[{\"Type\":\"npipe\",\"Source\":\"x\"}]}}", -EPERM, "npipe" },
	{ EF_DK_CREATE, "{\"HostConfig\":{\"Mounts\":[{\"Type\":\"volume\",\"VolumeOptions\":{\"DriverConfig\":{\"Name\":\"sshfs\"}}}]}}", -EPERM, "driver" },
	{ EF_DK_CREATE, "{\"HostConfig\":{\"VolumeDriver\":\"nfs\"}}", -EPERM, "volume driver" },
	{ EF_DK_CREATE, "{\"HostConfig\":{\"VolumesFrom\":[\"other\"]}}", -EPERM, "only containers" },
	{ EF_DK_CREATE, "{\"HostConfig\":{\"LogConfig\":{\"Type\":\"gelf\"}}}", -EPERM, "log driver" },
	{ EF_DK_CREATE, "{\"HostConfig\":{\"Runtime\":\"kata\"}}", -EPERM, "runtime" },
	{ EF_DK_CREATE, "{\"HostConfig\":{\"PublishAllPorts\":true}}", -EPERM, "every port" },
	{ EF_DK_CREATE, "{\"HostConfig\":{\"PortBindings\":{\"1/tcp\":[{\"HostIp\":\"10.0.0.1\"}]}}}", -EPERM, "10.0.0.1" },
	{ EF_DK_CREATE, "{\"Labels\":{\"io.egress-fence.job\":\"x\"}}", -EPERM, "egress-fence's own" },
	{ EF_DK_CREATE, "{\"Labels\":{\"IO.EGRESS-FENCE.other\":\"x\"}}", -EPERM, "egress-fence's own" },
	{ EF_DK_CREATE, "[]", -EINVAL, "not a JSON object" },
	{ EF_DK_CREATE, "{\"Image\":", -EINVAL, "not a JSON object" },
	{ EF_DK_CREATE, "{} {}", -EINVAL, "trailing" },
	{ EF_DK_CREATE, "{\"HostConfig\":[]}", -EINVAL, "HostConfig" },
	{ EF_DK_EXEC_CREATE, "{\"Privileged\":true}", -EPERM, "privileged exec" },
	{ EF_DK_UPDATE, "{\"Devices\":[{}]}", -EPERM, "Devices" },
	{ EF_DK_NET_CREATE, "{\"Driver\":\"macvlan\"}", -EPERM, "macvlan" },
	{ EF_DK_NET_CREATE, "{\"Options\":{\"com.docker.network.bridge.name\":\"eth0\"}}", -EPERM, "options" },
	{ EF_DK_NET_CREATE, "{\"Ingress\":true}", -EPERM, "local bridge" },
	{ EF_DK_VOL_CREATE, "{\"DriverOpts\":{\"device\":\"/etc\"}}", -EPERM, "driver options" },
	{ EF_DK_VOL_CREATE, "{\"Driver\":\"nfs\"}", -EPERM, "driver" },
	{ EF_DK_NET_CONNECT, "{\"Container\":\"other\"}", -EPERM, "not this job's" },
	{ EF_DK_AUTH, "{\"serveraddress\":\"evil.example\"}", -EPERM, "evil.example:443" },
	{ EF_DK_AUTH, "{}", -EPERM, "registry-1.docker.io" },
};

static void test_bodies(void **state)
{
	struct ef_dk_req r;

	(void)state;
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		char why[512] = "", *out = NULL;
		int ret;

		memset(&r, 0, sizeof(r));
		r.route = bodies[i].route;
		ret = ef_dk_check_body(&X, &r, bodies[i].body, strlen(bodies[i].body), &out, why,
				       sizeof(why));
		if (ret != bodies[i].ret || !strstr(ret ? why : out, bodies[i].word))
			fail_msg("%s: ret %d (want %d) why \"%s\" out %s", bodies[i].body, ret,
				 bodies[i].ret, why, out ? out : "-");
		if (!ret && r.route == EF_DK_CREATE) {
			/* what dockerd reads: parsed back, the job's cgroup and label */
			cJSON *o = cJSON_Parse(out);
			const cJSON *hc = cJSON_GetObjectItemCaseSensitive(o, "HostConfig");
			const cJSON *cp = cJSON_GetObjectItemCaseSensitive(hc, "CgroupParent");
			const cJSON *l = cJSON_GetObjectItemCaseSensitive(
				cJSON_GetObjectItemCaseSensitive(o, "Labels"), EF_DK_LABEL);

			assert_true(cJSON_IsString(cp) && !strcmp(cp->valuestring, "/ef/job-job-1"));
			assert_true(cJSON_IsString(l) && !strcmp(l->valuestring, "job-1"));
			cJSON_Delete(o);
		}
		assert_true(ret || out);
		free(out);
	}
}

/* A job whose policy lets it have CAP_NET_RAW: its containers keep it. */
static void test_net_raw_allowed(void **state)
{
	struct ef_dk_ctx x = X;
	struct ef_dk_req r = { .route = EF_DK_CREATE };
	const char *body = "{\"HostConfig\":{\"CapAdd\":[\"NET_RAW\"]}}";
	char why[256] = "", *out = NULL;

	(void)state;
	x.net_raw = true;
	assert_int_equal(ef_dk_check_body(&x, &r, body, strlen(body), &out, why, sizeof(why)), 0);
	assert_non_null(strstr(out, "\"CapAdd\":[\"NET_RAW\"]"));
	assert_null(strstr(out, "CapDrop"));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_query_and_registry),
		cmocka_unit_test(test_bodies),
		cmocka_unit_test(test_net_raw_allowed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
