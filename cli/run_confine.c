// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * egressctl run, the last steps before exec, in the job's cgroup: the
 * job's Landlock domain, the fallbacks egressd's reply asks for without
 * BPF LSM (the tamper guard, socket families refused), the baseline every
 * job gets, and the canary connect that proves the fence.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "guard.h"
#include "landlock.h"
#include "policy.h"
#include "run.h"
#include "seccomp.h"

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
int run_install_fallbacks(const cJSON *reply, bool in_container, pid_t supervisor,
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
 * The canary (include/ef_abi.h): a UDP socket made in the job, so the
 * job's connect program judges it. Made before the fallbacks so that no
 * seccomp family rule a reply asked for can stand in for the fence's
 * refusal. -1 having said why.
 */
int run_canary_open(const char *cmd)
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
int run_canary_refused(int s, const char *cmd)
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
