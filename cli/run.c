// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * egressctl run: ask egressd to put this very process into a new job
 * cgroup, check that it did, then exec the command in place (as env(1)
 * does), so the command's exit status and signals are its own.
 * The command never runs unfenced: any failure before exec exits 125.
 * Exec failures exit 126 (found but not runnable) or 127 (not found).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "egressctl.h"
#include "lib/cgroup.h"
#include "ci_env.h"
#include "container_reach.h"
#include "policy.h"
#include "guard.h"
#include "inherit.h"
#include "landlock.h"
#include "notices.h"
#include "overlay.h"
#include "userns.h"
#include "seccomp.h"
#include "lib/util.h"

#define EXIT_FENCE 125

const char cmd_run_help[] =
	"options:\n"
	"  --policy NAME|FILE   <policy-dir>/NAME.json, or a file (a '/' or .json), validated first;\n"
	"                       default: <policy-dir>/default.json, else deny all but the job's own listeners\n"
	"  --job-id ID          the job's id ([A-Za-z0-9._-], at most 64); default: a generated one\n"
	"  --attr KEY=VALUE     a string attribute on the job's span and on every decision span\n"
	"                       of the job; repeatable, the last one of a KEY wins\n"
	"  --traceparent TP     W3C traceparent the job's span is a child of; TRACEPARENT in the\n"
	"                       environment counts as this (the option wins). A malformed one\n"
	"                       is ignored: the job's trace is a new root.\n"
	"  --quiet              no notices of refusals on stderr\n"
	"  --notices FILE       the notices as JSON lines, appended to FILE (also\n"
	"                       EGRESS_FENCE_NOTICES=FILE)\n"
	"  --exec               no notices, no --fail-on-deny: egressctl execs the command in\n"
	"                       its own place (a container's PID 1); refused for a policy with\n"
	"                       \"fail_on_deny\"\n"
	"  --fail-on-deny       exit 122 when the command succeeded but anything of the job\n"
	"                       was refused (or would be, in audit mode) or flagged as a probe;\n"
	"                       a policy with \"fail_on_deny\": true does the same\n"
	"\n"
	"Notices: the first refusal of each (process, destination, reason) prints one line on\n"
	"stderr as it happens: what, why, which policy, and the command that would allow it.\n"
	"egressctl stays the command's parent, outside the job, for them: a signal sent to it\n"
	"is sent on to the command, and it exits as the command did.\n"
	"\n"
	"CI variables are read: in GitHub Actions (GITHUB_ACTIONS=true) and GitLab CI\n"
	"(GITLAB_CI=true) the runner's variables become OpenTelemetry attributes of the job\n"
	"(cicd.pipeline.*, cicd.worker.*, vcs.*, enduser.id; see the README, \"CI attributes\").\n"
	"The agent's identity: gen_ai.agent.name, gen_ai.agent.id and gen_ai.conversation.id\n"
	"from GEN_AI_AGENT_NAME, GEN_AI_AGENT_ID and GEN_AI_CONVERSATION_ID, else from the\n"
	"same keys in OTEL_RESOURCE_ATTRIBUTES. An --attr of the same key wins; values over\n"
	"1024 bytes are cut.\n"
	"\n"
	"The command gets EGRESS_FENCE_JOB_ID, and TRACEPARENT naming the job's span.\n"
	"It does not get the sockets (unix sockets on 0..2 excepted), io_uring instances,\n"
	"pidfds, namespace, BPF and TUN descriptors egressctl inherited: they are closed\n"
	"before exec (0..2: /dev/null), said once on stderr, and recorded on the job's span.\n"
	"Before exec it proves the fence: it talks only to a root listener on a root-owned\n"
	"socket in directories only root may write, and execs only if the fence refused its\n"
	"canary connect (UDP to 192.0.2.1:9, refused to every job whatever the policy).\n"
	"Exit status: the command's (killed by a signal: the same signal); 125 if the fence\n"
	"cannot be set up or proved (the command is then not run), 126 or 127 if it cannot\n"
	"be executed; 122 with --fail-on-deny (above).\n";

static bool is_file_arg(const char *p)
{
	size_t n = strlen(p);

	return strchr(p, '/') || (n > 5 && !strcmp(p + n - 5, ".json"));
}

/* A policy given as a file is validated here first, so a typo is reported
 * with its position before anything else happens. */
static int add_policy(cJSON *req, const char *arg)
{
	char err[EF_ERR_LEN], abs[PATH_MAX];
	struct ef_policy *p = NULL;
	char *text = NULL;
	size_t len;
	int ret;

	if (!is_file_arg(arg)) {
		cJSON_AddStringToObject(req, "policy", arg);
		return 0;
	}
	ret = ef_read_file(arg, EF_POLICY_MAX_BYTES, &text, &len);
	if (ret) {
		fprintf(stderr, "egressctl: %s: %s\n", arg, strerror(-ret));
		return ret;
	}
	ret = ef_policy_parse(text, len, arg, &p, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "%s\n", err);
		free(text);
		return ret;
	}
	ef_policy_free(p);
	cJSON_AddStringToObject(req, "policy_file", realpath(arg, abs) ? abs : arg);
	cJSON_AddStringToObject(req, "policy_text", text);
	free(text);
	return 0;
}

static int add_attr(cJSON *attrs, const char *kv)
{
	const char *eq = strchr(kv, '=');
	char key[EF_ATTR_KEY_MAX + 1];

	if (!eq || eq == kv) {
		fprintf(stderr, "egressctl run: --attr wants KEY=VALUE, got \"%s\"\n", kv);
		return -EINVAL;
	}
	if ((size_t)(eq - kv) >= sizeof(key)) {
		fprintf(stderr, "egressctl run: --attr: a key has at most %d bytes, got %d\n",
			EF_ATTR_KEY_MAX, (int)(eq - kv));
		return -EINVAL;
	}
	memcpy(key, kv, eq - kv);
	key[eq - kv] = '\0';
	/* the last one wins; keys are case-sensitive */
	cJSON_DeleteItemFromObjectCaseSensitive(attrs, key);
	cJSON_AddStringToObject(attrs, key, eq + 1);
	return 0;
}

/* Close what the command must not inherit (inherit.c), say so once, and
 * tell egressd, which records it on the job's span. */
static int close_inherited(cJSON *req, const char *cmd)
{
	struct ef_inherited in;
	char kinds[256] = "";
	cJSON *o, *k;
	int ret = ef_close_inherited(&in, -1, geteuid() == 0);

	if (ret) {
		fprintf(stderr, "egressctl: cannot list or close inherited descriptors "
				"(/proc/self/fd): %s; not running %s unfenced\n", strerror(-ret), cmd);
		return ret;
	}
	o = cJSON_AddObjectToObject(req, "inherited_fds");
	k = o ? cJSON_AddObjectToObject(o, "kinds") : NULL;
	if (!k)
		return -ENOMEM;
	cJSON_AddNumberToObject(o, "closed", in.closed);
	for (int i = 0; i < in.n_kinds; i++) {
		size_t l = strlen(kinds);

		cJSON_AddNumberToObject(k, in.kinds[i], in.count[i]);
		snprintf(kinds + l, sizeof(kinds) - l, "%s%d %s", i ? ", " : "", in.count[i],
			 in.kinds[i]);
	}
	if (in.closed)
		fprintf(stderr, "egressctl: closed %d inherited descriptor%s the command must not "
				"have (%s: fd %s%s)\n", in.closed, in.closed == 1 ? "" : "s", kinds,
			in.fds, in.truncated ? ", ..." : "");
	return 0;
}

/*
 * The job's Landlock domain (landlock.c): no process outside the job can be
 * traced, read or written through /proc by it, whatever uid it takes (and,
 * from Landlock ABI 6, signalled, or reached through an abstract unix
 * socket). egressd's reply says whether to ("landlock": what it guards,
 * also on the job's span): not where Landlock is missing, nor with BPF LSM
 * before Landlock ABI 6 (a domain must then handle file access, and would
 * refuse mounts and outside ptrace ahead of the hooks that record them;
 * the ptrace_access_check hook refuses the same). Where Landlock is
 * missing under the guard, said on stderr for a root job (an unprivileged
 * job's user namespace covers it). 0, or -1 having said why.
 */
static int confine(const cJSON *reply, bool in_container, const char *cmd)
{
	const char *want = cJSON_GetStringValue(cJSON_GetObjectItem(reply, "landlock"));
	struct ef_landlock ll;
	char why[256] = "";

	/* an unprivileged job enters it with no_new_privs (the baseline sets
	 * it too, later): where its user namespace was refused, it has no
	 * CAP_SYS_ADMIN to do without */
	if (want && geteuid() != 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		fprintf(stderr, "egressctl: no_new_privs: %s; not running %s unfenced\n",
			strerror(errno), cmd);
		return -1;
	}
	/* in a container, the runner's own processes have the capabilities the
	 * job keeps: without BPF LSM, only Landlock keeps the job from
	 * tracing them */
	if (!want && in_container && cJSON_GetObjectItem(reply, "guard")) {
		fprintf(stderr, "egressctl: this kernel has neither Landlock nor BPF LSM, and in a "
				"container a root job could trace the runner's unfenced processes; "
				"not running %s unfenced\n", cmd);
		return -1;
	}
	if (!want) {
		if (cJSON_GetObjectItem(reply, "guard") && geteuid() == 0)
			fprintf(stderr, "egressctl: warning: Landlock is unavailable on this kernel and "
					"so is BPF LSM: a root job that takes another uid can trace "
					"that uid's processes outside the fence (docs/threat-model.md)\n");
		return 0;
	}
	if (ef_landlock_confine(&ll, why, sizeof(why))) {
		fprintf(stderr, "egressctl: %s; not running %s unfenced\n", why, cmd);
		return -1;
	}
	/* egressd said what the job's span claims: it must hold */
	if (!ll.ptrace || (strstr(want, "signal") && !ll.signals)) {
		fprintf(stderr, "egressctl: egressd expects a Landlock domain (%s) this process "
				"could not enter (ABI %d); not running %s unfenced\n", want, ll.abi,
			cmd);
		return -1;
	}
	return 0;
}

/*
 * Just before exec: without BPF LSM, the fallbacks egressd's reply asks
 * for: the tamper guard ("guard": a mount namespace and seccomp rules) and
 * the refusal of socket families ("seccomp_families"). Their seccomp rules
 * go into one filter, installed after the mount namespace (it refuses the
 * mount calls the guard makes). Last, the baseline every job gets
 * (guard.c): a root job keeps only the capabilities the reply names
 * ("capabilities"), after the mount namespace and the filter, which need
 * CAP_SYS_ADMIN (without it the kernel would want no_new_privs for the
 * filter); no_new_privs otherwise. 0, or -1 having said why.
 */
static int install_fallbacks(const cJSON *reply, bool in_container, pid_t supervisor,
			     const char *cmd)
{
	const cJSON *guard = cJSON_GetObjectItem(reply, "guard");
	const cJSON *fams = cJSON_GetObjectItem(reply, "seccomp_families"), *f;
	int allowed[64], n = 0, ret = 0;
	char err[512] = "";
	struct ef_sf *sf = NULL;

	/* a root without CAP_SYS_ADMIN in a container: no_new_privs first, or
	 * the kernel refuses it the filter and a Landlock domain */
	if (in_container && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		fprintf(stderr, "egressctl: no_new_privs: %s; not running %s unfenced\n",
			strerror(errno), cmd);
		return -1;
	}
	if (!guard && !fams) {
		if (confine(reply, in_container, cmd))
			return -1;
		goto baseline;
	}
	sf = calloc(1, sizeof(*sf));
	if (!sf) {
		fprintf(stderr, "egressctl: out of memory; not running %s unfenced\n", cmd);
		return -1;
	}
	ef_sf_prologue(sf);
	if (guard && ef_guard_apply(guard, sf, in_container, supervisor, err, sizeof(err))) {
		fprintf(stderr, "egressctl: the tamper guard: %s; not running %s unfenced\n", err,
			cmd);
		ret = -1;
		goto out;
	}
	/* after the guard's mounts: a Landlock domain that handles file access
	 * (ABI < 6) refuses them */
	if (confine(reply, in_container, cmd)) {
		ret = -1;
		goto out;
	}
	if (fams) {
		cJSON_ArrayForEach(f, fams)
			if (cJSON_IsNumber(f) && n < 64)
				allowed[n++] = (int)f->valuedouble;
		ef_sf_refuse_families(sf, allowed, n);
	}
	ret = ef_sf_install(sf);
	if (ret) {
		fprintf(stderr, "egressctl: installing the seccomp filter: %s; not running %s "
				"unfenced\n", strerror(-ret), cmd);
		ret = -1;
		goto out;
	}
baseline:
	if (ef_guard_baseline(cJSON_GetObjectItem(reply, "capabilities"), err, sizeof(err))) {
		fprintf(stderr, "egressctl: %s; not running %s unfenced\n", err, cmd);
		ret = -1;
	}
out:
	free(sf);
	return ret;
}

/*
 * A root job gets a mount namespace of its own before it joins its cgroup
 * (userns.c ef_root_isolate): the fence's own files read-only (where they
 * are, egressd says in its status), the host's services that start
 * processes for root covered, and the system directories copy-on-write
 * (overlay.c) unless the job's policy has "host_writes": true (which
 * egressd says in the same status: the run request's policy fields go
 * with it). The layer made goes into the run request ("overlay"), so that
 * egressd records it and removes it when the job ends. 0, or -1 having
 * said why.
 */
/* egressd's status for a job about to run (the run request's policy
 * fields go with it), on the connection already checked to be egressd's
 * (ctl_connect_root); NULL having said why. */
static cJSON *status_for_run(cJSON *run_req, int fd, const char *cmd)
{
	static const char *const pol_keys[] = { "policy", "policy_text", "policy_file" };
	cJSON *req = cJSON_CreateObject(), *st;

	if (!req) {
		fprintf(stderr, "egressctl: out of memory; not running %s unfenced\n", cmd);
		return NULL;
	}
	cJSON_AddStringToObject(req, "op", "status");
	cJSON_AddBoolToObject(req, "for_run", true);
	for (size_t i = 0; i < sizeof(pol_keys) / sizeof(pol_keys[0]); i++) {
		const cJSON *v = cJSON_GetObjectItem(run_req, pol_keys[i]);

		if (v)
			cJSON_AddItemToObject(req, pol_keys[i], cJSON_Duplicate(v, true));
	}
	st = ctl_exchange(fd, req);
	cJSON_Delete(req);
	if (!st)
		fprintf(stderr, "egressctl: not running %s unfenced\n", cmd);
	return st;
}

/* The container runtimes' sockets and egressd's covers for them, from the
 * status (pointers into it); the count, or -1 having said why. */
static int runtime_covers(const cJSON *st, struct ef_runtime_cover *rc, const char *cmd)
{
	const cJSON *a = cJSON_GetObjectItem(st, "runtime_sockets"), *e;
	int n = 0;

	if (!cJSON_IsArray(a))
		goto bad;
	cJSON_ArrayForEach(e, a) {
		const cJSON *p = cJSON_GetObjectItem(e, "path"), *c = cJSON_GetObjectItem(e, "cover");

		if (n >= EF_MAX_RUNTIME_COVERS || !cJSON_IsString(p) || !cJSON_IsString(c) ||
		    p->valuestring[0] != '/' || !p->valuestring[1] || c->valuestring[0] != '/')
			goto bad;
		rc[n].path = p->valuestring;
		rc[n].cover = c->valuestring;
		n++;
	}
	return n;
bad:
	fprintf(stderr, "egressctl: egressd did not say which container runtime sockets to cover "
			"(\"runtime_sockets\" in its status, egressd of this version needed); not "
			"running %s unfenced\n", cmd);
	return -1;
}

/*
 * A root job gets a mount namespace of its own before it joins its cgroup
 * (userns.c ef_root_isolate): the fence's own files read-only (where they
 * are, egressd says in its status), the host's services that start
 * processes for root covered, and the system directories copy-on-write
 * (overlay.c) unless the job's policy has "host_writes": true (which
 * egressd says in the same status). The layer made goes into the run
 * request ("overlay"), so that egressd records it and removes it when the
 * job ends. 0, or -1 having said why.
 */
static int isolate_root(cJSON *run_req, const cJSON *st, const struct ef_runtime_cover *rc,
			int n_rc, const char *const *writes, int n_writes, const char *cmd)
{
	struct ef_overlay_result *res = calloc(1, sizeof(*res));
	struct ef_root_opts o = { .writes = writes, .n_writes = n_writes, .runtimes = rc,
				  .n_runtimes = n_rc };
	const char *paths[EF_ROOT_MAX_PROTECT];
	const cJSON *pr, *p, *hw, *od;
	cJSON *ov, *wt;
	char why[512] = "";
	int n = 0, ret = -1;

	if (!res)
		goto out;
	pr = cJSON_GetObjectItem(st, "protect");
	hw = cJSON_GetObjectItem(st, "host_writes");
	od = cJSON_GetObjectItem(st, "overlay_dir");
	if (!cJSON_IsArray(pr) || !cJSON_IsBool(hw) ||
	    (cJSON_IsFalse(hw) && (!cJSON_IsString(od) || od->valuestring[0] != '/'))) {
		fprintf(stderr, "egressctl: egressd did not say where its files are, or whether the "
				"job's system directories are private (\"protect\", \"host_writes\", "
				"\"overlay_dir\" in its status); not running %s unfenced\n", cmd);
		goto out;
	}
	cJSON_ArrayForEach(p, pr) {
		if (!cJSON_IsString(p) || p->valuestring[0] != '/' || n >= EF_ROOT_MAX_PROTECT) {
			fprintf(stderr, "egressctl: egressd sent a malformed \"protect\" list; not "
					"running %s unfenced\n", cmd);
			goto out;
		}
		paths[n++] = p->valuestring;
	}
	o.protect = paths;
	o.n_protect = n;
	o.overlay_dir = cJSON_IsFalse(hw) ? od->valuestring : NULL;
	if (ef_root_isolate(&o, res, why, sizeof(why))) {
		fprintf(stderr, "egressctl: the root job's mount namespace: %s; not running %s "
				"unfenced\n", why, cmd);
		goto out;
	}
	if (res->name[0]) {
		ov = cJSON_AddObjectToObject(run_req, "overlay");
		if (!ov || !cJSON_AddStringToObject(ov, "name", res->name) ||
		    !(wt = cJSON_AddArrayToObject(ov, "write_through")))
			goto out;
		for (int i = 0; i < res->n_through; i++)
			cJSON_AddItemToArray(wt, cJSON_CreateString(res->through[i]));
	}
	ret = 0;
out:
	if (!res)
		fprintf(stderr, "egressctl: out of memory; not running %s unfenced\n", cmd);
	free(res);
	return ret;
}

/* CAP_SYS_ADMIN in this process's effective set (a container's root has
 * it only in a privileged container) */
static bool have_sys_admin(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = { 0 };

	if (syscall(SYS_capget, &h, d) != 0)
		return false;
	return d[CAP_SYS_ADMIN / 32].effective & (1u << (CAP_SYS_ADMIN % 32));
}

/*
 * An unprivileged job gets a user namespace of its own (userns.c), so it
 * cannot ptrace or write the memory of processes of its user outside the
 * fence, and a mount namespace where the host's services that act for
 * whoever asks are covered; a root job, the mount namespace of
 * isolate_root(). Both have the host's container runtimes covered by
 * egressd's listeners (daemon/docker/runtimes.c). Where the host refuses a user
 * namespace, the job runs without it, said on stderr and on the job span
 * (egress.same_user_isolation). 0, or -1 having said why the command must
 * not run.
 */
static int isolate_same_user(cJSON *req, cJSON *attrs, int fd, const char *const *writes,
			     int n_writes, bool *in_container, const char *cmd)
{
	const cJSON *ctr;
	struct ef_runtime_cover rc[EF_MAX_RUNTIME_COVERS];
	cJSON *st = status_for_run(req, fd, cmd);
	char why[512] = "";
	int ret = -1, n_rc;

	if (!st)
		return -1;
	/* already fenced (a nested run): egressd refuses the request and
	 * records it; no namespace to make for a command that will not run */
	if (cJSON_IsString(cJSON_GetObjectItem(st, "caller_job"))) {
		ret = 0;
		goto out;
	}
	/* the run request would fail the same way */
	if (cJSON_IsString(cJSON_GetObjectItem(st, "run_policy_error"))) {
		fprintf(stderr, "egressctl: %s\negressctl: not running %s unfenced\n",
			cJSON_GetObjectItem(st, "run_policy_error")->valuestring, cmd);
		goto out;
	}
	n_rc = runtime_covers(st, rc, cmd);
	if (n_rc < 0)
		goto out;
	/* inside a container the runner made (container_reach.c): nothing of the
	 * host's it must not reach, whatever this process can do about it */
	ctr = cJSON_GetObjectItem(st, "container");
	if (ctr && ef_container_reach_check(ctr, why, sizeof(why))) {
		fprintf(stderr, "egressctl: %s; not running %s unfenced\n", why, cmd);
		goto out;
	}
	/* and a root there without CAP_SYS_ADMIN makes no mount namespace:
	 * the guard checks that the container's own mounts keep the fence
	 * (guard.c), and the seccomp filter and Landlock come with
	 * no_new_privs */
	if (ctr && geteuid() == 0 && !have_sys_admin()) {
		/* no copy-on-write layer either: what the command writes in the
		 * container's system directories, the runner's later steps there
		 * would run unfenced. A read-only container, or a policy that
		 * says its system writes may stay ("host_writes") */
		if (!cJSON_IsTrue(cJSON_GetObjectItem(st, "host_writes")) &&
		    ef_container_root_ro_in("/proc/self/mountinfo") != 1) {
			fprintf(stderr, "egressctl: this container's root filesystem is writable, "
					"and a root job here gets no copy-on-write layer: what the "
					"command writes in it (/usr/bin, /etc/ld.so.preload) would "
					"run unfenced in the runner's later steps; run the container "
					"read-only (--read-only) or give the job a policy with "
					"\"host_writes\": true (docs/ci.md); not running %s "
					"unfenced\n", cmd);
			goto out;
		}
		*in_container = true;
		cJSON_DeleteItemFromObjectCaseSensitive(attrs, "egress.same_user_isolation");
		cJSON_AddStringToObject(attrs, "egress.same_user_isolation", "container");
		ret = 0;
		goto out;
	}
	if (geteuid() == 0) {
		cJSON_DeleteItemFromObjectCaseSensitive(attrs, "egress.same_user_isolation");
		cJSON_AddStringToObject(attrs, "egress.same_user_isolation", "root");
		ret = isolate_root(req, st, rc, n_rc, writes, n_writes, cmd);
		goto out;
	}
	ret = ef_userns_isolate(rc, n_rc, why, sizeof(why));
	if (ret < 0) {
		fprintf(stderr, "egressctl: %s; not running %s unfenced\n", why, cmd);
		ret = -1;
		goto out;
	}
	/* without a namespace, no covers: a runtime this user may connect to
	 * would be root on the host for the job */
	for (int i = 0; ret > 0 && i < n_rc; i++) {
		struct stat rst;

		if (stat(rc[i].path, &rst) == 0 && S_ISSOCK(rst.st_mode) &&
		    access(rc[i].path, W_OK) == 0) {
			fprintf(stderr, "egressctl: %s, so the job cannot have the container "
					"runtime's socket %s covered, and this user may connect to it "
					"(it acts as root on the host); not running %s unfenced\n",
				why, rc[i].path, cmd);
			ret = -1;
			goto out;
		}
	}
	if (ret > 0)
		fprintf(stderr, "egressctl: warning: %s: the job can ptrace processes of its user "
				"outside the fence, and reach the host's services that act for it "
				"there (resolvers, D-Bus, systemd --user, tmux, container runtimes; "
				"see docs/threat-model.md)\n", why);
	cJSON_DeleteItemFromObjectCaseSensitive(attrs, "egress.same_user_isolation");
	cJSON_AddStringToObject(attrs, "egress.same_user_isolation", ret ? "none" : "userns");
	ret = 0;
out:
	cJSON_Delete(st);
	return ret;
}

/*
 * The canary (include/ef_abi.h): a UDP socket made in the job, so the
 * job's connect program judges it. Made before the fallbacks so that no
 * seccomp family rule a reply asked for can stand in for the fence's
 * refusal. -1 having said why.
 */
static int canary_open(const char *cmd)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		fprintf(stderr, "egressctl: the canary socket: %s; not running %s unfenced\n",
			strerror(errno), cmd);
	return s;
}

/*
 * Just before exec: connect the canary socket to the canary destination,
 * which the fence refuses to every job whatever its policy (EF_R_CANARY);
 * a UDP connect sends nothing, fenced or not. Only EPERM proves that this
 * process is fenced: a control socket answered by another listener, or a
 * cgroup without the fence, ends here. Closes s. 0, or -1 having said why.
 */
static int canary_refused(int s, const char *cmd)
{
	struct sockaddr_in sa = {
		.sin_family = AF_INET,
		.sin_port = htons(EF_CANARY_PORT),
		.sin_addr.s_addr = htonl(EF_CANARY_ADDR4),
	};
	char dest[INET_ADDRSTRLEN] = "?";
	int r = connect(s, (struct sockaddr *)&sa, sizeof(sa)), e = errno;

	close(s);
	if (r < 0 && e == EPERM)
		return 0;
	inet_ntop(AF_INET, &sa.sin_addr, dest, sizeof(dest));
	fprintf(stderr, "egressctl: the fence did not refuse the canary connect (%s:%d: %s): "
			"this process is not fenced; not running %s\n", dest, EF_CANARY_PORT,
		r < 0 ? strerror(e) : "connected", cmd);
	return -1;
}

/* A cgroup path as /proc/self/cgroup shows it, as egressd names it: in a
 * container with a cgroup namespace of its own, the job's cgroup is
 * outside the namespace's root, and shown from there ("/../../X/job-J") */
static const char *cgroup_seen(const char *p)
{
	while (!strncmp(p, "/../", 4))
		p += 3;
	return p;
}

int cmd_run(int argc, char **argv)
{
	const char *tp = getenv("TRACEPARENT"), *policy = NULL, *job_id = NULL;
	struct ef_tracectx tc;
	cJSON *req = cJSON_CreateObject(), *attrs = cJSON_CreateObject(), *args, *reply = NULL;
	const cJSON *ok, *cg, *jid, *tpo, *dh;
	char cwd[4096];
	char mine[4096], why[PATH_MAX + 256] = "";
	int i, fd = -1, canary = -1, ret = EXIT_FENCE, n_writes = 0;
	bool in_container = false;
	struct sup_opts so = { .notices = getenv("EGRESS_FENCE_NOTICES") };
	struct sup sup = { -1, -1 };
	bool exec_only = false;
	const char *writes[EF_OVERLAY_MAX_THROUGH];

	if (!req || !attrs)
		goto out;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (a[0] != '-')
			break;
		if (!strcmp(a, "--quiet")) {
			so.quiet = true;
			continue;
		}
		if (!strcmp(a, "--fail-on-deny")) {
			so.fail_on_deny = true;
			continue;
		}
		if (!strcmp(a, "--exec")) {
			exec_only = true;
			continue;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "egressctl run: %s needs a value\n", a);
			goto out;
		}
		if (!strcmp(a, "--policy"))
			policy = argv[++i];
		else if (!strcmp(a, "--notices"))
			so.notices = argv[++i];
		else if (!strcmp(a, "--job-id"))
			job_id = argv[++i];
		else if (!strcmp(a, "--traceparent"))
			tp = argv[++i];
		else if (!strcmp(a, "--write")) {
			if (n_writes >= EF_OVERLAY_MAX_THROUGH) {
				fprintf(stderr, "egressctl run: at most %d --write directories\n",
					EF_OVERLAY_MAX_THROUGH);
				goto out;
			}
			writes[n_writes++] = argv[++i];
		}
		else if (!strcmp(a, "--attr")) {
			if (add_attr(attrs, argv[++i]))
				goto out;
		} else {
			fprintf(stderr, "egressctl run: unknown option %s\n", a);
			goto out;
		}
	}
	if (i >= argc) {
		fprintf(stderr, "egressctl run: no command given (egressctl run [options] -- CMD)\n");
		goto out;
	}
	if (tp && *tp && !ef_traceparent_parse(tp, &tc)) {
		fprintf(stderr, "egressctl run: ignoring malformed traceparent \"%.64s\"; the job's "
				"trace starts a new root\n", tp);
		tp = NULL;
	}
	if (so.notices && !*so.notices)
		so.notices = NULL;
	if (exec_only && (so.fail_on_deny || so.notices)) {
		fprintf(stderr, "egressctl run: --exec leaves no parent for %s\n",
			so.fail_on_deny ? "--fail-on-deny" : "the notices (--notices, EGRESS_FENCE_NOTICES)");
		ret = 2;
		goto out;
	}
	/* the parent stays outside the job, for the notices and the verdict
	 * of --fail-on-deny (notices.c); from here on this is the child */
	if (!exec_only && sup_fork(&so, argv[i], &sup))
		goto out;
	/* after the options: an --attr of the same key wins over the runner's */
	if (ef_ci_env_attrs(attrs) || ef_agent_env_attrs(attrs)) {
		fprintf(stderr, "egressctl run: out of memory reading CI variables\n");
		goto out;
	}
	cJSON_AddStringToObject(req, "op", "run");
	if (policy && add_policy(req, policy))
		goto out;
	if (close_inherited(req, argv[i]))
		goto out;
	/* egressd's, and no one else's: checked before the user namespace,
	 * where root's files and root itself would look like nobody's */
	fd = ctl_connect_root(why, sizeof(why));
	if (fd < 0) {
		fprintf(stderr, "egressctl: %s; not running %s unfenced\n", why, argv[i]);
		goto out;
	}
	if (isolate_same_user(req, attrs, fd, writes, n_writes, &in_container, argv[i]))
		goto out;
	if (job_id)
		cJSON_AddStringToObject(req, "job_id", job_id);
	if (tp && *tp) {
		/* the job's span carries the caller's tracestate (egressd checks
		 * it); the command inherits it with TRACEPARENT */
		const char *ts = getenv("TRACESTATE");

		cJSON_AddStringToObject(req, "traceparent", tp);
		if (ts && *ts)
			cJSON_AddStringToObject(req, "tracestate", ts);
	}
	/* what the job's containers may bind (daemon/docker/docker.c) */
	if (getcwd(cwd, sizeof(cwd)))
		cJSON_AddStringToObject(req, "cwd", cwd);
	cJSON_AddItemToObject(req, "attrs", attrs);
	attrs = NULL;
	args = cJSON_AddArrayToObject(req, "argv");
	for (int k = i; k < argc && args; k++)
		cJSON_AddItemToArray(args, cJSON_CreateString(argv[k]));

	reply = ctl_exchange(fd, req);
	if (!reply) {
		fprintf(stderr, "egressctl: not running %s unfenced\n", argv[i]);
		goto out;
	}
	ok = cJSON_GetObjectItem(reply, "ok");
	if (!cJSON_IsTrue(ok)) {
		const char *e = cJSON_GetStringValue(cJSON_GetObjectItem(reply, "error"));

		fprintf(stderr, "egressctl: %s\negressctl: not running %s unfenced\n",
			e ? e : "egressd refused the job", argv[i]);
		goto out;
	}
	/* trust, but verify: this process must now be in the job's cgroup, and
	 * (below, last) the fence must refuse it the canary */
	cg = cJSON_GetObjectItem(reply, "cgroup");
	jid = cJSON_GetObjectItem(reply, "job_id");
	tpo = cJSON_GetObjectItem(reply, "traceparent");
	if (!cJSON_IsString(cg) || ef_cgroup_of_pid(getpid(), mine, sizeof(mine)) ||
	    strcmp(cgroup_seen(mine), cg->valuestring)) {
		fprintf(stderr, "egressctl: this process is not in the job cgroup %s; not running "
				"%s unfenced\n", cJSON_IsString(cg) ? cg->valuestring : "?", argv[i]);
		goto out;
	}
	canary = canary_open(argv[i]);
	if (canary < 0)
		goto out;
	if (install_fallbacks(reply, in_container, exec_only ? 0 : getppid(), argv[i]))
		goto out;
	ret = canary_refused(canary, argv[i]);
	canary = -1;
	if (ret) {
		ret = EXIT_FENCE;
		goto out;
	}
	/* the command's own spans nest under the job's span */
	if (cJSON_IsString(jid))
		setenv("EGRESS_FENCE_JOB_ID", jid->valuestring, 1);
	if (cJSON_IsString(tpo))
		setenv("TRACEPARENT", tpo->valuestring, 1);
	/* the job's own Docker endpoint (a policy with "docker"); without
	 * one, a DOCKER_HOST inherited would name a daemon out of reach */
	dh = cJSON_GetObjectItem(reply, "docker_host");
	if (cJSON_IsString(dh) && !strncmp(dh->valuestring, "unix:///", 8)) {
		setenv("DOCKER_HOST", dh->valuestring, 1);
		unsetenv("DOCKER_CONTEXT");
		unsetenv("DOCKER_TLS_VERIFY");
	}
	close(fd);
	fd = -1;
	if (exec_only && cJSON_IsTrue(cJSON_GetObjectItem(reply, "fail_on_deny"))) {
		fprintf(stderr, "egressctl: the job's policy fails on deny (\"fail_on_deny\"), which "
			"--exec cannot do; not running %s\n", argv[i]);
		ret = EXIT_FENCE;
		goto out;
	}
	/* the parent watches the job before the command runs */
	if (!exec_only && sup_ready(&sup, cJSON_GetStringValue(jid) ? jid->valuestring : "",
				    cJSON_IsTrue(cJSON_GetObjectItem(reply, "fail_on_deny")))) {
		ret = EXIT_FENCE;
		goto out;
	}
	cJSON_Delete(reply);
	cJSON_Delete(req);
	execvp(argv[i], argv + i);
	ret = errno == ENOENT ? 127 : 126;
	fprintf(stderr, "egressctl: %s: %s\n", argv[i], strerror(errno));
	return ret;
out:
	if (canary >= 0)
		close(canary);
	if (fd >= 0)
		close(fd);
	cJSON_Delete(attrs);
	cJSON_Delete(reply);
	cJSON_Delete(req);
	return ret;
}
