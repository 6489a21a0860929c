// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What a job may send dockerd in a request's body (docker_check.h:
 * ef_dk_check_body()). Apart from the routes (docker_check.c): a body is
 * judged once its route is known, as a JSON tree, not a target.
 *
 * The bodies that can open a way out (a container create, an exec, an
 * update, a network, a volume) are parsed and written anew, so dockerd
 * reads the tree that was judged:
 *   - Go's encoding/json matches keys without regard to case, by Unicode
 *     folding ("ſ" is "s", the Kelvin sign is "k"), and takes the last of
 *     repeated keys: a key that is not ASCII, or repeated in any case, is
 *     refused; lookups here are ASCII case-insensitive (cJSON_GetObjectItem);
 *   - a value judged is refused unless it is of the kind expected and a
 *     harmless one ("Privileged": 1 is refused, not read as false).
 * The host's dockerd acts as root: every setting that lets a container out
 * of its namespaces, its cgroup, its confinement or its view of the host's
 * files is refused, each with a message naming it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "docker_check.h"
#include "docker_check_int.h"

/* ---- bodies ---- */

/* Keys ASCII only, none repeated in any case, at any depth. */
static int keys_plain(const cJSON *o, int depth, char *why, size_t whylen)
{
	const cJSON *a, *b;

	if (depth > 32)
		return say(why, whylen, -EINVAL, "JSON nested too deep");
	for (a = o ? o->child : NULL; a; a = a->next) {
		if (cJSON_IsObject(o)) {
			for (const char *c = a->string; c && *c; c++)
				if ((unsigned char)*c >= 0x80 || (unsigned char)*c < 0x20)
					return say(why, whylen, -EINVAL,
						   "a JSON key that is not plain ASCII");
			for (b = a->next; b; b = b->next)
				if (a->string && b->string && !strcasecmp(a->string, b->string))
					return say(why, whylen, -EINVAL, "JSON key \"%s\" given twice",
						   a->string);
		}
		if ((cJSON_IsObject(a) || cJSON_IsArray(a)) && keys_plain(a, depth + 1, why, whylen))
			return -EINVAL;
	}
	return 0;
}

static const cJSON *get(const cJSON *o, const char *k)
{
	return cJSON_IsObject(o) ? cJSON_GetObjectItem(o, k) : NULL;
}

static bool absent(const cJSON *v)
{
	return !v || cJSON_IsNull(v);
}

static bool off(const cJSON *v)
{
	return absent(v) || cJSON_IsFalse(v);
}

static bool empty(const cJSON *v)
{
	return absent(v) || ((cJSON_IsArray(v) || cJSON_IsObject(v)) && !v->child) ||
	       (cJSON_IsString(v) && !v->valuestring[0]);
}

static bool str_in(const cJSON *v, const char *const *ok)
{
	if (absent(v))
		return true;
	if (!cJSON_IsString(v))
		return false;
	for (; *ok; ok++)
		if (!strcmp(v->valuestring, *ok))
			return true;
	return false;
}

#define REFUSED "refused by egress-fence's Docker endpoint: "

/* "container:REF" modes: REF must be the job's, and becomes its id */
static int mode_ok(const struct ef_dk_ctx *x, cJSON *hc, const char *key, const char *const *ok,
		   const char *what, char *why, size_t whylen)
{
	cJSON *v = cJSON_GetObjectItem(hc, key);
	char id[65];

	if (str_in(v, ok))
		return 0;
	if (cJSON_IsString(v) && !strncmp(v->valuestring, "container:", 10)) {
		char buf[80];

		if (x->own_container(x->arg, v->valuestring + 10, id))
			return say(why, whylen, -EPERM,
				   REFUSED "%s %s: only a container of this job may be shared",
				   what, v->valuestring + 10);
		snprintf(buf, sizeof(buf), "container:%s", id);
		if (!cJSON_SetValuestring(v, buf))
			return -ENOMEM;
		return 0;
	}
	return say(why, whylen, -EPERM, REFUSED "%s %s%s%s", what,
		   cJSON_IsString(v) ? "\"" : "(not a string)",
		   cJSON_IsString(v) ? v->valuestring : "", cJSON_IsString(v) ? "\"" : "");
}

/* Docker's default capability set: a container may keep these, no more */
static const char *const default_caps[] = {
	"CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
	"SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE", NULL,
};

/*
 * CAP_NET_RAW only where the job itself may have it (policy/caps.c): a
 * container's packet socket writes frames past every socket hook, which the
 * host then routes (the bridge's gateway), and where BPF LSM is missing no
 * program refuses the socket; so a CapAdd of it is refused and CapDrop
 * gets it.
 */
static int net_raw_ok(const struct ef_dk_ctx *x, cJSON *hc, char *why, size_t whylen)
{
	cJSON *add = cJSON_GetObjectItem(hc, "CapAdd"), *drop, *c;

	if (x->net_raw)
		return 0;
	if (cJSON_IsArray(add)) {
		cJSON_ArrayForEach(c, add) {
			const char *n = cJSON_IsString(c) ? c->valuestring : "";

			if (!strncasecmp(n, "CAP_", 4))
				n += 4;
			if (!strcasecmp(n, "NET_RAW"))
				return say(why, whylen, -EPERM,
					   REFUSED "capability %s (the job's policy has neither "
					   "sockets.raw nor sockets.packet)", c->valuestring);
		}
	}
	drop = cJSON_GetObjectItem(hc, "CapDrop");
	if (absent(drop)) {
		cJSON_DeleteItemFromObject(hc, "CapDrop");
		drop = cJSON_AddArrayToObject(hc, "CapDrop");
		if (!drop)
			return -ENOMEM;
	} else if (!cJSON_IsArray(drop)) {
		return say(why, whylen, -EINVAL, "CapDrop must be an array");
	}
	c = cJSON_CreateString("NET_RAW");
	if (!c || !cJSON_AddItemToArray(drop, c)) {
		cJSON_Delete(c);
		return -ENOMEM;
	}
	return 0;
}

static int caps_ok(const cJSON *v, char *why, size_t whylen)
{
	const cJSON *c;

	if (absent(v))
		return 0;
	if (!cJSON_IsArray(v))
		return say(why, whylen, -EINVAL, "CapAdd must be an array");
	cJSON_ArrayForEach(c, v) {
		const char *n;
		size_t i;

		if (!cJSON_IsString(c))
			return say(why, whylen, -EINVAL, "CapAdd must be an array of names");
		n = c->valuestring;
		if (!strncasecmp(n, "CAP_", 4))
			n += 4;
		for (i = 0; default_caps[i] && strcasecmp(n, default_caps[i]); i++)
			;
		if (!default_caps[i])
			return say(why, whylen, -EPERM,
				   REFUSED "capability %s (beyond Docker's default set)",
				   c->valuestring);
	}
	return 0;
}

static int secopt_ok(const cJSON *v, char *why, size_t whylen)
{
	static const char *const ok[] = {
		"no-new-privileges", "no-new-privileges:true", "no-new-privileges=true",
		"no-new-privileges:false", "no-new-privileges=false", NULL,
	};
	const cJSON *c;

	if (absent(v))
		return 0;
	if (!cJSON_IsArray(v))
		return say(why, whylen, -EINVAL, "SecurityOpt must be an array");
	cJSON_ArrayForEach(c, v)
		if (!str_in(c, ok) || absent(c))
			return say(why, whylen, -EPERM,
				   REFUSED "security option %s%s%s (only no-new-privileges may be "
				   "set: seccomp, AppArmor, SELinux and system paths stay confined)",
				   cJSON_IsString(c) ? "\"" : "", cJSON_IsString(c) ? c->valuestring : "(not a string)",
				   cJSON_IsString(c) ? "\"" : "");
	return 0;
}

/* One bind: source checked and replaced by what bind_source() gives. */
static int bind_src(const struct ef_dk_ctx *x, const char *src, char *out, size_t outlen,
		    char *why, size_t whylen)
{
	char w[512];

	if (x->bind_source(x->arg, src, out, outlen, w, sizeof(w)))
		return say(why, whylen, -EPERM, REFUSED "bind mount of %s: %s", src, w);
	return 0;
}

static bool propagation_shared(const char *opts)
{
	const char *p = opts;

	while (p && *p) {
		size_t n = strcspn(p, ",");

		if ((n == 6 && !strncmp(p, "shared", 6)) || (n == 7 && !strncmp(p, "rshared", 7)))
			return true;
		p += n;
		if (*p)
			p++;
	}
	return false;
}

static int binds_ok(const struct ef_dk_ctx *x, cJSON *v, char *why, size_t whylen)
{
	cJSON *c;

	if (absent(v))
		return 0;
	if (!cJSON_IsArray(v))
		return say(why, whylen, -EINVAL, "Binds must be an array");
	cJSON_ArrayForEach(c, v) {
		char src[4096], res[4096], *nb;
		const char *s, *colon;
		size_t n;
		int ret;

		if (!cJSON_IsString(c))
			return say(why, whylen, -EINVAL, "Binds must be an array of strings");
		s = c->valuestring;
		colon = strchr(s, ':');
		if (!colon || colon == s)
			return say(why, whylen, -EINVAL, "malformed bind \"%.200s\"", s);
		n = (size_t)(colon - s);
		if (n >= sizeof(src))
			return say(why, whylen, -EINVAL, "bind source too long");
		memcpy(src, s, n);
		src[n] = '\0';
		if (strchr(colon + 1, ':') && propagation_shared(strchr(colon + 1, ':') + 1))
			return say(why, whylen, -EPERM,
				   REFUSED "shared mount propagation (%s): mounts would reach the host",
				   s);
		if (src[0] != '/') {
			ret = x->volume_ok(x->arg, src, why, whylen);
			if (ret)
				return ret;
			continue;
		}
		ret = bind_src(x, src, res, sizeof(res), why, whylen);
		if (ret)
			return ret;
		nb = malloc(strlen(res) + strlen(colon) + 1);
		if (!nb)
			return -ENOMEM;
		sprintf(nb, "%s%s", res, colon);
		/* colon points into the old string, which this frees */
		ret = cJSON_SetValuestring(c, nb) ? 0 : -ENOMEM;
		free(nb);
		if (ret)
			return ret;
	}
	return 0;
}

static int mounts_ok(const struct ef_dk_ctx *x, cJSON *v, char *why, size_t whylen)
{
	cJSON *m;

	if (absent(v))
		return 0;
	if (!cJSON_IsArray(v))
		return say(why, whylen, -EINVAL, "Mounts must be an array");
	cJSON_ArrayForEach(m, v) {
		cJSON *type = cJSON_GetObjectItem(m, "Type"), *src = cJSON_GetObjectItem(m, "Source");
		const cJSON *bo = get(m, "BindOptions"), *vo = get(m, "VolumeOptions");
		static const char *const props[] = { "", "private", "rprivate", "slave",
						     "rslave", NULL };
		char res[4096];
		int ret;

		if (!cJSON_IsObject(m) || !cJSON_IsString(type))
			return say(why, whylen, -EINVAL, "a mount must be an object with a Type");
		if (!absent(src) && !cJSON_IsString(src))
			return say(why, whylen, -EINVAL, "a mount's Source must be a string");
		if (!strcmp(type->valuestring, "tmpfs"))
			continue;
		if (!strcmp(type->valuestring, "volume")) {
			const cJSON *dc = get(vo, "DriverConfig");

			if (!empty(get(dc, "Options")) ||
			    !str_in(get(dc, "Name"), (const char *const[]){ "", "local", NULL }))
				return say(why, whylen, -EPERM,
					   REFUSED "a volume mount with a driver or driver options");
			if (!absent(src) && src->valuestring[0]) {
				ret = x->volume_ok(x->arg, src->valuestring, why, whylen);
				if (ret)
					return ret;
			}
			continue;
		}
		if (strcmp(type->valuestring, "bind"))
			return say(why, whylen, -EPERM, REFUSED "mount type \"%s\"",
				   type->valuestring);
		if (!cJSON_IsString(src))
			return say(why, whylen, -EINVAL, "a bind mount needs a Source");
		if (!str_in(get(bo, "Propagation"), props))
			return say(why, whylen, -EPERM,
				   REFUSED "bind propagation other than private or slave");
		ret = bind_src(x, src->valuestring, res, sizeof(res), why, whylen);
		if (ret)
			return ret;
		if (!cJSON_SetValuestring(src, res))
			return -ENOMEM;
	}
	return 0;
}

static int own_list(const struct ef_dk_ctx *x, cJSON *v, const char *what, char *why,
		    size_t whylen)
{
	cJSON *c;

	if (absent(v))
		return 0;
	if (!cJSON_IsArray(v))
		return say(why, whylen, -EINVAL, "%s must be an array", what);
	cJSON_ArrayForEach(c, v) {
		char ref[EF_DK_REF_MAX], id[65], buf[EF_DK_REF_MAX + 80];
		size_t n;

		if (!cJSON_IsString(c))
			return say(why, whylen, -EINVAL, "%s must be an array of strings", what);
		n = strcspn(c->valuestring, ":");
		if (n >= sizeof(ref) || !n)
			return say(why, whylen, -EINVAL, "malformed %s entry", what);
		memcpy(ref, c->valuestring, n);
		ref[n] = '\0';
		if (x->own_container(x->arg, ref, id))
			return say(why, whylen, -EPERM,
				   REFUSED "%s %s: only containers of this job", what, ref);
		snprintf(buf, sizeof(buf), "%s%s", id, c->valuestring + n);
		if (!cJSON_SetValuestring(c, buf))
			return -ENOMEM;
	}
	return 0;
}

static int ports_ok(cJSON *hc, char *why, size_t whylen)
{
	cJSON *pb = cJSON_GetObjectItem(hc, "PortBindings"), *port, *b;

	if (!off(cJSON_GetObjectItem(hc, "PublishAllPorts")))
		return say(why, whylen, -EPERM,
			   REFUSED "publishing every port on every address (-P); publish on "
			   "loopback: -p 127.0.0.1::PORT");
	if (absent(pb))
		return 0;
	if (!cJSON_IsObject(pb))
		return say(why, whylen, -EINVAL, "PortBindings must be an object");
	cJSON_ArrayForEach(port, pb) {
		if (absent(port))
			continue;
		if (!cJSON_IsArray(port))
			return say(why, whylen, -EINVAL, "a port's bindings must be an array");
		cJSON_ArrayForEach(b, port) {
			cJSON *ip = cJSON_GetObjectItem(b, "HostIp");

			if (!cJSON_IsObject(b) || (!absent(ip) && !cJSON_IsString(ip)))
				return say(why, whylen, -EINVAL, "malformed port binding");
			/* every address: made loopback, so the fence's judgement of
			 * who may reach the job stays with the host's own */
			if (absent(ip) || !strcmp(ip->valuestring, "") ||
			    !strcmp(ip->valuestring, "0.0.0.0") || !strcmp(ip->valuestring, "::")) {
				cJSON_DeleteItemFromObject(b, "HostIp");
				if (!cJSON_AddStringToObject(b, "HostIp", "127.0.0.1"))
					return -ENOMEM;
			} else if (strcmp(ip->valuestring, "127.0.0.1") &&
				   strcmp(ip->valuestring, "::1")) {
				return say(why, whylen, -EPERM,
					   REFUSED "publishing a port on %s (loopback only)",
					   ip->valuestring);
			}
		}
	}
	return 0;
}

static int labels_set(const struct ef_dk_ctx *x, cJSON *o, const char *key, char *why,
		      size_t whylen)
{
	cJSON *l = cJSON_GetObjectItem(o, key), *c;

	if (absent(l)) {
		cJSON_DeleteItemFromObject(o, key);
		l = cJSON_AddObjectToObject(o, key);
		if (!l)
			return -ENOMEM;
	}
	if (!cJSON_IsObject(l))
		return say(why, whylen, -EINVAL, "%s must be an object", key);
	cJSON_ArrayForEach(c, l)
		if (c->string && !strncasecmp(c->string, "io.egress-fence.", 16))
			return say(why, whylen, -EPERM, REFUSED "label %s is egress-fence's own",
				   c->string);
	return cJSON_AddStringToObject(l, EF_DK_LABEL, x->job_id) ? 0 : -ENOMEM;
}

static int networks_ok(const struct ef_dk_ctx *x, cJSON *hc, cJSON *nc, char *why,
		       size_t whylen)
{
	cJSON *nm = cJSON_GetObjectItem(hc, "NetworkMode");
	const cJSON *ec = get(nc, "EndpointsConfig"), *e;
	int ret;

	if (!absent(nm) && !cJSON_IsString(nm))
		return say(why, whylen, -EINVAL, "NetworkMode must be a string");
	if (!absent(nm) && strcmp(nm->valuestring, "") && strcmp(nm->valuestring, "default") &&
	    strcmp(nm->valuestring, "bridge") && strcmp(nm->valuestring, "none")) {
		if (!strcmp(nm->valuestring, "host"))
			return say(why, whylen, -EPERM,
				   REFUSED "the host's network (--network host)");
		if (!strncmp(nm->valuestring, "container:", 10)) {
			static const char *const none[] = { NULL };

			ret = mode_ok(x, hc, "NetworkMode", none, "network", why, whylen);
			if (ret)
				return ret;
		} else {
			ret = x->network_ok(x->arg, nm->valuestring, why, whylen);
			if (ret)
				return ret;
		}
	}
	if (absent(ec))
		return 0;
	if (!cJSON_IsObject(ec))
		return say(why, whylen, -EINVAL, "EndpointsConfig must be an object");
	cJSON_ArrayForEach(e, ec) {
		const char *n = e->string;

		if (!empty(cJSON_GetObjectItem(e, "NetworkID")))
			return say(why, whylen, -EPERM, REFUSED "an endpoint's NetworkID");
		if (!strcmp(n, "bridge") || !strcmp(n, "none") || !strcmp(n, "default"))
			continue;
		if (!strcmp(n, "host") || !strncmp(n, "container:", 10))
			return say(why, whylen, -EPERM, REFUSED "network %s", n);
		/* dockerd takes the network by this id before the name judged */
		if (!empty(cJSON_GetObjectItem(e, "NetworkID")))
			return say(why, whylen, -EPERM, REFUSED "an endpoint's NetworkID");
		ret = x->network_ok(x->arg, n, why, whylen);
		if (ret)
			return ret;
	}
	return 0;
}

static int check_hostconfig(const struct ef_dk_ctx *x, cJSON *hc, char *why, size_t whylen)
{
	static const char *const pid_ok[] = { "", "private", NULL };
	static const char *const ipc_ok[] = { "", "private", "shareable", "none", NULL };
	static const char *const uts_ok[] = { "", NULL };
	static const char *const userns_ok[] = { "", NULL };
	static const char *const cgns_ok[] = { "", "private", NULL };
	static const char *const runtime_ok[] = { "", "runc", "io.containerd.runc.v2", NULL };
	static const char *const vdriver_ok[] = { "", "local", NULL };
	static const char *const log_ok[] = { "", "json-file", "local", "none", NULL };
	static const struct {
		const char *key, *what;
	} must_be_empty[] = {
		{ "Devices", "devices" },
		{ "DeviceRequests", "device requests (GPUs and the like)" },
		{ "DeviceCgroupRules", "device cgroup rules" },
		{ "Capabilities", "a whole capability set" },
		{ "Cgroup", "another container's cgroup" },
		{ "Isolation", "an isolation technology" },
	};
	cJSON *cp = cJSON_GetObjectItem(hc, "CgroupParent");
	const cJSON *lc;
	int ret;

	if (!cJSON_IsObject(hc))
		return say(why, whylen, -EINVAL, "HostConfig must be an object");
	if (!off(cJSON_GetObjectItem(hc, "Privileged")))
		return say(why, whylen, -EPERM, REFUSED "a privileged container");
	for (size_t i = 0; i < sizeof(must_be_empty) / sizeof(must_be_empty[0]); i++)
		if (!empty(cJSON_GetObjectItem(hc, must_be_empty[i].key)))
			return say(why, whylen, -EPERM, REFUSED "%s (%s)", must_be_empty[i].what,
				   must_be_empty[i].key);
	/* an empty list is not the default: it unmasks every path */
	if (!absent(cJSON_GetObjectItem(hc, "MaskedPaths")))
		return say(why, whylen, -EPERM, REFUSED "unmasked /proc and /sys paths (MaskedPaths)");
	if (!absent(cJSON_GetObjectItem(hc, "ReadonlyPaths")))
		return say(why, whylen, -EPERM,
			   REFUSED "writable /proc and /sys paths (ReadonlyPaths)");
	if (!absent(cp) && !(cJSON_IsString(cp) && !cp->valuestring[0]))
		return say(why, whylen, -EPERM,
			   REFUSED "another cgroup parent: the job's containers live in its cgroup");
	if ((ret = mode_ok(x, hc, "PidMode", pid_ok, "PID namespace", why, whylen)) ||
	    (ret = mode_ok(x, hc, "IpcMode", ipc_ok, "IPC namespace", why, whylen)) ||
	    (ret = mode_ok(x, hc, "UTSMode", uts_ok, "UTS namespace", why, whylen)) ||
	    (ret = mode_ok(x, hc, "UsernsMode", userns_ok, "user namespace mode", why, whylen)) ||
	    (ret = mode_ok(x, hc, "CgroupnsMode", cgns_ok, "cgroup namespace", why, whylen)))
		return ret;
	if (!str_in(cJSON_GetObjectItem(hc, "Runtime"), runtime_ok))
		return say(why, whylen, -EPERM, REFUSED "a runtime other than runc");
	if (!str_in(cJSON_GetObjectItem(hc, "VolumeDriver"), vdriver_ok))
		return say(why, whylen, -EPERM, REFUSED "a volume driver other than local");
	lc = cJSON_GetObjectItem(hc, "LogConfig");
	if (!absent(lc) && (!cJSON_IsObject(lc) || !str_in(get(lc, "Type"), log_ok)))
		return say(why, whylen, -EPERM,
			   REFUSED "log driver %s (dockerd would send the container's output "
			   "outside the fence; json-file, local or none)",
			   cJSON_IsString(get(lc, "Type")) ? get(lc, "Type")->valuestring : "?");
	if ((ret = caps_ok(cJSON_GetObjectItem(hc, "CapAdd"), why, whylen)) ||
	    (ret = net_raw_ok(x, hc, why, whylen)) ||
	    (ret = secopt_ok(cJSON_GetObjectItem(hc, "SecurityOpt"), why, whylen)) ||
	    (ret = binds_ok(x, cJSON_GetObjectItem(hc, "Binds"), why, whylen)) ||
	    (ret = mounts_ok(x, cJSON_GetObjectItem(hc, "Mounts"), why, whylen)) ||
	    (ret = own_list(x, cJSON_GetObjectItem(hc, "VolumesFrom"), "VolumesFrom", why,
			    whylen)) ||
	    (ret = own_list(x, cJSON_GetObjectItem(hc, "Links"), "Links", why, whylen)) ||
	    (ret = ports_ok(hc, why, whylen)))
		return ret;
	/* the job's cgroup: the same programs judge the container */
	cJSON_DeleteItemFromObject(hc, "CgroupParent");
	return cJSON_AddStringToObject(hc, "CgroupParent", x->cgroup_parent) ? 0 : -ENOMEM;
}

/* HostConfig's settings, which dockerd also reads at the top level of a
 * create (the API's old form: some are merged into HostConfig, and which
 * depends on the version): refused there, whatever they say */
static const char *const host_keys[] = {
	"Binds", "ContainerIDFile", "LogConfig", "NetworkMode", "PortBindings", "RestartPolicy",
	"AutoRemove", "VolumeDriver", "VolumesFrom", "CapAdd", "CapDrop", "CgroupnsMode", "Dns",
	"DnsOptions", "DnsSearch", "ExtraHosts", "GroupAdd", "IpcMode", "Cgroup", "Links",
	"OomScoreAdj", "PidMode", "Privileged", "PublishAllPorts", "ReadonlyRootfs",
	"SecurityOpt", "StorageOpt", "Tmpfs", "UTSMode", "UsernsMode", "ShmSize", "Sysctls",
	"Runtime", "ConsoleSize", "Isolation", "CpuShares", "Memory", "NanoCpus", "CgroupParent",
	"BlkioWeight", "BlkioWeightDevice", "BlkioDeviceReadBps", "BlkioDeviceWriteBps",
	"BlkioDeviceReadIOps", "BlkioDeviceWriteIOps", "CpuPeriod", "CpuQuota",
	"CpuRealtimePeriod", "CpuRealtimeRuntime", "CpusetCpus", "CpusetMems", "Devices",
	"DeviceCgroupRules", "DeviceRequests", "KernelMemory", "KernelMemoryTCP",
	"MemoryReservation", "MemorySwap", "MemorySwappiness", "OomKillDisable", "PidsLimit",
	"Ulimits", "CpuCount", "CpuPercent", "IOMaximumIOps", "IOMaximumBandwidth", "Mounts",
	"MaskedPaths", "ReadonlyPaths", "Init", "Cpuset", "Capabilities", NULL,
};

static int check_create(const struct ef_dk_ctx *x, cJSON *root, char *why, size_t whylen)
{
	cJSON *hc = cJSON_GetObjectItem(root, "HostConfig");
	const cJSON *oom;
	int ret;

	for (int i = 0; host_keys[i]; i++)
		if (cJSON_GetObjectItem(root, host_keys[i]))
			return say(why, whylen, -EPERM,
				   REFUSED "%s outside HostConfig (the API's old form)", host_keys[i]);
	oom = cJSON_GetObjectItem(hc, "OomScoreAdj");
	if (!absent(oom) && (!cJSON_IsNumber(oom) || oom->valuedouble < 0))
		return say(why, whylen, -EPERM,
			   REFUSED "a negative OomScoreAdj (the host's other processes would be "
			   "killed first)");
	if (absent(hc)) {
		cJSON_DeleteItemFromObject(root, "HostConfig");
		hc = cJSON_AddObjectToObject(root, "HostConfig");
		if (!hc)
			return -ENOMEM;
	}
	ret = check_hostconfig(x, hc, why, whylen);
	if (ret)
		return ret;
	ret = networks_ok(x, hc, cJSON_GetObjectItem(root, "NetworkingConfig"), why, whylen);
	if (ret)
		return ret;
	return labels_set(x, root, "Labels", why, whylen);
}

int ef_dk_check_body(const struct ef_dk_ctx *x, const struct ef_dk_req *r, const char *body,
		     size_t len, char **out, char *why, size_t whylen)
{
	const char *end = NULL;
	cJSON *root;
	int ret = 0;

	*out = NULL;
	if (len > EF_DK_BODY_MAX)
		return say(why, whylen, -EINVAL, "request body over %u bytes", EF_DK_BODY_MAX);
	if (len == 0 && (r->route == EF_DK_CREATE || r->route == EF_DK_VOL_CREATE ||
			 r->route == EF_DK_NET_CREATE))
		body = "{}", len = 2;
	root = cJSON_ParseWithLengthOpts(body, len, &end, false);
	if (!root || !cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return say(why, whylen, -EINVAL, "request body is not a JSON object");
	}
	while (end && end < body + len && strchr(" \t\r\n", *end))
		end++;
	if (end != body + len) {
		cJSON_Delete(root);
		return say(why, whylen, -EINVAL, "trailing data after the JSON body");
	}
	ret = keys_plain(root, 0, why, whylen);
	if (ret)
		goto done;
	switch (r->route) {
	case EF_DK_CREATE:
		ret = check_create(x, root, why, whylen);
		break;
	case EF_DK_EXEC_CREATE:
		if (!off(cJSON_GetObjectItem(root, "Privileged")))
			ret = say(why, whylen, -EPERM, REFUSED "a privileged exec");
		break;
	case EF_DK_COMMIT: {
		/* the new image's config: its labels come with every container of
		 * it, and the job's label would make those look like the job's */
		const cJSON *c, *l = cJSON_GetObjectItem(root, "Labels");

		if (!absent(l) && !cJSON_IsObject(l))
			ret = say(why, whylen, -EINVAL, "Labels must be an object");
		else if (l)
			cJSON_ArrayForEach(c, l)
				if (c->string && strcasestr(c->string, "egress-fence"))
				ret = say(why, whylen, -EPERM, REFUSED "label %s is egress-fence's own",
					  c->string);
		break;
	}
	case EF_DK_UPDATE: {
		static const char *const ok[] = {
			"CpuShares", "Memory", "CpuPeriod", "CpuQuota", "CpuRealtimePeriod",
			"CpuRealtimeRuntime", "CpusetCpus", "CpusetMems", "MemoryReservation",
			"MemorySwap", "KernelMemory", "NanoCpus", "PidsLimit", "BlkioWeight",
			"RestartPolicy", "CPUShares", "NanoCPUs", NULL,
		};
		const cJSON *c;

		cJSON_ArrayForEach(c, root) {
			size_t i;

			for (i = 0; ok[i] && strcasecmp(c->string, ok[i]); i++)
				;
			if (!ok[i] && !absent(c) && !empty(c)) {
				ret = say(why, whylen, -EPERM, REFUSED "updating %s", c->string);
				break;
			}
		}
		break;
	}
	case EF_DK_NET_CREATE: {
		static const char *const drv[] = { "", "bridge", NULL };
		const cJSON *opts = cJSON_GetObjectItem(root, "Options");

		if (!str_in(cJSON_GetObjectItem(root, "Driver"), drv))
			ret = say(why, whylen, -EPERM,
				  REFUSED "network driver %s (bridge only)",
				  cJSON_IsString(cJSON_GetObjectItem(root, "Driver")) ?
					  cJSON_GetObjectItem(root, "Driver")->valuestring : "?");
		else if (!empty(opts))
			ret = say(why, whylen, -EPERM, REFUSED "network driver options");
		else if (!absent(cJSON_GetObjectItem(root, "IPAM")) &&
			 (!cJSON_IsObject(cJSON_GetObjectItem(root, "IPAM")) ||
			  !empty(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "IPAM"), "Config")) ||
			  !empty(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "IPAM"), "Options")) ||
			  !str_in(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "IPAM"), "Driver"),
				  (const char *const[]){ "", "default", NULL })))
			ret = say(why, whylen, -EPERM,
				  REFUSED "a network's own addresses (IPAM): a subnet of the job's "
				  "choosing would take the host's routes to it; dockerd picks one");
		else if (!off(cJSON_GetObjectItem(root, "EnableIPv6")))
			ret = say(why, whylen, -EPERM, REFUSED "EnableIPv6 on a network (its subnet "
				  "would be of the job's choosing)");
		else if (!off(cJSON_GetObjectItem(root, "Ingress")) ||
			 !off(cJSON_GetObjectItem(root, "ConfigOnly")) ||
			 !empty(cJSON_GetObjectItem(root, "ConfigFrom")) ||
			 !str_in(cJSON_GetObjectItem(root, "Scope"), (const char *const[]){ "", "local", NULL }))
			ret = say(why, whylen, -EPERM, REFUSED "a network that is not a local bridge");
		else
			ret = labels_set(x, root, "Labels", why, whylen);
		break;
	}
	case EF_DK_NET_CONNECT: {
		cJSON *c = cJSON_GetObjectItem(root, "Container");
		char id[65];

		if (!cJSON_IsString(c))
			ret = say(why, whylen, -EINVAL, "Container must be a string");
		else if (x->own_container(x->arg, c->valuestring, id))
			ret = say(why, whylen, -EPERM,
				  REFUSED "network (dis)connect of container %s: not this job's",
				  c->valuestring);
		else
			ret = cJSON_SetValuestring(c, id) ? 0 : -ENOMEM;
		break;
	}
	case EF_DK_VOL_CREATE: {
		static const char *const drv[] = { "", "local", NULL };

		if (!str_in(cJSON_GetObjectItem(root, "Driver"), drv) ||
		    !empty(cJSON_GetObjectItem(root, "DriverOpts")))
			ret = say(why, whylen, -EPERM,
				  REFUSED "a volume with a driver or driver options (a local "
				  "volume can bind any host path)");
		else
			ret = labels_set(x, root, "Labels", why, whylen);
		break;
	}
	case EF_DK_AUTH: {
		const cJSON *sa = cJSON_GetObjectItem(root, "serveraddress");
		char host[256], ref[1100];
		const char *s;
		unsigned port;

		/* "https://ghcr.io/v2/" or "ghcr.io": judged as an image of it */
		s = cJSON_IsString(sa) ? sa->valuestring : "";
		if (!strncmp(s, "https://", 8))
			s += 8;
		else if (!strncmp(s, "http://", 7))
			s += 7;
		snprintf(ref, sizeof(ref), "%.*s/x", (int)strcspn(s, "/"), s);
		if (!*s)
			snprintf(ref, sizeof(ref), "x");
		if (ef_dk_registry(ref, host, sizeof(host), &port))
			ret = say(why, whylen, -EINVAL, "malformed serveraddress");
		else if (!x->registry_ok(x->arg, host, port))
			ret = say(why, whylen, -EPERM,
				  REFUSED "logging in to %s:%u: the job's policy does not allow it",
				  host, port);
		break;
	}
	default:
		ret = say(why, whylen, -EINVAL, "no body expected");
	}
done:
	if (!ret) {
		*out = cJSON_PrintUnformatted(root);
		if (!*out)
			ret = -ENOMEM;
	}
	cJSON_Delete(root);
	return ret;
}
