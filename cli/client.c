// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* status, jobs, and the request helper. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <poll.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "egressctl.h"
#include "control/ctl_proto.h"

/* A daemon that accepts but never answers, or whose listen queue is full,
 * must not hang a CI job: one deadline, EGRESSCTL_TIMEOUT seconds (default
 * 30; loading a 200k-rule policy takes about a second), for the whole
 * exchange from connect to the reply's last byte. */
static int timeout_s(void)
{
	const char *env = getenv("EGRESSCTL_TIMEOUT");

	return env && atoi(env) > 0 ? atoi(env) : 30;
}

/*
 * A directory or socket of the path to egressd's control socket that is not
 * root's, or that another user may write (a sticky directory excepted: in
 * one only root can rename or remove what root owns, and every entry below
 * is checked to be root's), lets someone else put another listener there.
 * Returns 0, or -1 with why[] set.
 */
static int root_owned(const char *path, const struct stat *st, bool dir, char *why, size_t n)
{
	if (st->st_uid != 0) {
		snprintf(why, n, "%s is owned by uid %u, not root", path, (unsigned)st->st_uid);
		return -1;
	}
	if (dir && !S_ISDIR(st->st_mode)) {
		snprintf(why, n, "%s is not a directory", path);
		return -1;
	}
	if (dir && (st->st_mode & 022) && !(st->st_mode & S_ISVTX)) {
		snprintf(why, n, "%s is writable by %s (mode %04o)", path,
			 st->st_mode & 002 ? "anyone" : "its group", st->st_mode & 07777);
		return -1;
	}
	return 0;
}

static int check_dir(const char *path, char *why, size_t n)
{
	struct stat st;

	if (lstat(path, &st)) {
		snprintf(why, n, "%s: %s", path, strerror(errno));
		return -1;
	}
	return root_owned(path, &st, true, why, n);
}

int ctl_connect_root(char *why, size_t n)
{
	char dir[PATH_MAX], real[PATH_MAX], sock[PATH_MAX + 2], *slash, *base;
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	struct stat st;
	size_t len;
	int fd;

	if (strlen(ctl_socket_path) >= sizeof(dir)) {
		snprintf(why, n, "%s: %s", ctl_socket_path, strerror(ENAMETOOLONG));
		return -1;
	}
	strcpy(dir, ctl_socket_path);
	slash = strrchr(dir, '/');
	base = slash ? slash + 1 : dir;
	if (!*base) {
		snprintf(why, n, "%s names no socket", ctl_socket_path);
		return -1;
	}
	if (slash == dir)
		strcpy(real, "/");
	else if (!realpath(slash ? (*slash = '\0', dir) : ".", real)) {
		snprintf(why, n, "%s: %s", slash ? dir : ".", strerror(errno));
		return -1;
	}
	/* every directory from / down, symbolic links resolved */
	if (check_dir("/", why, n))
		return -1;
	len = strlen(real);
	for (size_t i = 1; len > 1 && i <= len; i++) {
		char c = real[i];
		int r;

		if (c != '/' && c != '\0')
			continue;
		real[i] = '\0';
		r = check_dir(real, why, n);
		real[i] = c;
		if (r)
			return -1;
	}
	snprintf(sock, sizeof(sock), "%s/%s", strcmp(real, "/") ? real : "", base);
	if (lstat(sock, &st)) {
		snprintf(why, n, "%s: %s", sock, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(why, n, "%s is not a socket", sock);
		return -1;
	}
	if (root_owned(sock, &st, false, why, n))
		return -1;
	fd = ef_ctl_connect_by(sock, ef_ctl_now_ms() + (int64_t)timeout_s() * 1000);
	if (fd < 0) {
		if (fd == -ETIMEDOUT)
			snprintf(why, n, "cannot reach egressd at %s: it did not accept the "
				 "connection within %d s (EGRESSCTL_TIMEOUT)", sock, timeout_s());
		else
			snprintf(why, n, "cannot reach egressd at %s: %s", sock, strerror(-fd));
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0) {
		snprintf(why, n, "who listens at %s (SO_PEERCRED): %s", sock, strerror(errno));
		close(fd);
		return -1;
	}
	if (cred.uid != 0) {
		snprintf(why, n, "the listener at %s runs as uid %u, not root", sock,
			 (unsigned)cred.uid);
		close(fd);
		return -1;
	}
	return fd;
}

/* One request and its reply on fd, before the deadline; NULL having said why. */
static cJSON *exchange(int fd, cJSON *req, int64_t deadline, int tmo)
{
	cJSON *reply = NULL;
	int ret = ef_ctl_send_by(fd, req, deadline);

	if (!ret)
		ret = ef_ctl_recv_by(fd, &reply, deadline);
	if (!ret)
		return reply;
	if (ret == -ETIMEDOUT)
		fprintf(stderr, "egressctl: egressd at %s did not answer within %d s "
			"(EGRESSCTL_TIMEOUT)\n", ctl_socket_path, tmo);
	else
		fprintf(stderr, "egressctl: talking to egressd at %s: %s\n", ctl_socket_path,
			strerror(-ret));
	return NULL;
}

static void say_unreachable(int err, int tmo)
{
	if (err == -ETIMEDOUT)
		fprintf(stderr, "egressctl: cannot reach egressd at %s: it did not accept the "
			"connection within %d s (EGRESSCTL_TIMEOUT)\n", ctl_socket_path, tmo);
	else
		fprintf(stderr, "egressctl: cannot reach egressd at %s: %s\n", ctl_socket_path,
			strerror(-err));
}

/* On a connection of ctl_connect_root(): each request has its own
 * EGRESSCTL_TIMEOUT. */
cJSON *ctl_exchange(int fd, cJSON *req)
{
	int tmo = timeout_s();

	return exchange(fd, req, ef_ctl_now_ms() + (int64_t)tmo * 1000, tmo);
}

cJSON *ctl_request(cJSON *req, int *fd_out)
{
	int tmo = timeout_s();
	int64_t deadline = ef_ctl_now_ms() + (int64_t)tmo * 1000;
	cJSON *reply;
	int fd;

	fd = ef_ctl_connect_by(ctl_socket_path, deadline);
	if (fd < 0) {
		say_unreachable(fd, tmo);
		return NULL;
	}
	reply = exchange(fd, req, deadline, tmo);
	if (!reply) {
		close(fd);
		return NULL;
	}
	if (fd_out)
		*fd_out = fd;
	else
		close(fd);
	return reply;
}

static bool has_flag(int argc, char **argv, const char *flag)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], flag))
			return true;
	return false;
}

static int check_args(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json")) {
			fprintf(stderr, "egressctl %s: unexpected argument \"%s\"\n", argv[0], argv[i]);
			return 2;
		}
	}
	return 0;
}

static cJSON *simple(const char *op)
{
	cJSON *req = cJSON_CreateObject(), *reply;
	const cJSON *ok;

	cJSON_AddStringToObject(req, "op", op);
	reply = ctl_request(req, NULL);
	cJSON_Delete(req);
	if (!reply)
		return NULL;
	ok = cJSON_GetObjectItem(reply, "ok");
	if (!cJSON_IsTrue(ok)) {
		const cJSON *e = cJSON_GetObjectItem(reply, "error");

		fprintf(stderr, "egressctl: %s\n", cJSON_IsString(e) ? e->valuestring : "error");
		cJSON_Delete(reply);
		return NULL;
	}
	return reply;
}

static void print_json(const cJSON *o)
{
	char *s = cJSON_Print(o);

	if (s)
		puts(s);
	free(s);
}

static void print_export(const cJSON *e)
{
	const char *err = cJSON_GetStringValue(cJSON_GetObjectItem(e, "last_error"));
	const char *state = cJSON_GetStringValue(cJSON_GetObjectItem(e, "state"));

	if (!cJSON_IsTrue(cJSON_GetObjectItem(e, "enabled"))) {
		printf("%-14s off (no OTLP endpoint: the journal is the record)\n", "export");
		return;
	}
	printf("%-14s %s %s to %s: %s\n", "export",
	       cJSON_GetStringValue(cJSON_GetObjectItem(e, "protocol")),
	       cJSON_GetStringValue(cJSON_GetObjectItem(e, "compression")),
	       cJSON_GetStringValue(cJSON_GetObjectItem(e, "endpoint")), state ? state : "?");
	printf("%-14s %.0f spans exported, %.0f requests, %.0f retries, %.0f rejected, "
	       "%.0f partially rejected, %.0f dropped by the journal bound\n", "",
	       ctl_num(e, "exported_spans"), ctl_num(e, "requests"), ctl_num(e, "retries"),
	       ctl_num(e, "rejected_spans"), ctl_num(e, "partially_rejected_spans"),
	       ctl_num(e, "dropped_spans"));
	if (err && state && strcmp(state, "ok"))
		printf("%-14s %s\n", "export error", err);
}

/* What "policies" alone did not say: versions in the kernel maps, the jobs
 * using them, and the policy files a job may name. */
static void print_policies(const cJSON *r)
{
	const cJSON *v = cJSON_GetObjectItem(r, "policy_versions");
	const char *dir = cJSON_GetStringValue(cJSON_GetObjectItem(r, "policy_dir"));
	double files = ctl_num(r, "policy_files");

	if (v)
		printf("%-14s %.0f loaded in the kernel maps (in use by %.0f job%s; "
		       "%.0f retiring)\n",
		       "policy versions", ctl_num(v, "loaded"), ctl_num(v, "jobs"),
		       ctl_num(v, "jobs") == 1 ? "" : "s", ctl_num(v, "retiring"));
	else /* an older egressd */
		printf("%-14s %.0f policy versions in use\n", "policies", ctl_num(r, "policies"));
	if (files >= 0 && cJSON_GetObjectItem(r, "policy_files"))
		printf("%-14s %.0f in %s\n", "policy files", files, dir ? dir : "?");
	else if (cJSON_GetObjectItem(r, "policy_files"))
		printf("%-14s unreadable: %s\n", "policy files", dir ? dir : "?");
}

int cmd_status(int argc, char **argv)
{
	cJSON *r;
	int ret = check_args(argc, argv);

	if (ret)
		return ret;
	r = simple("status");
	if (!r)
		return 1;
	if (has_flag(argc, argv, "--json")) {
		print_json(r);
	} else {
		const cJSON *it;

		cJSON_ArrayForEach(it, r) {
			/* "policies" (versions in use): said below, with labels */
			if (!strcmp(it->string, "ok") || !strcmp(it->string, "policies") ||
			    !strcmp(it->string, "policy_files"))
				continue;
			if (cJSON_IsString(it))
				printf("%-14s %s\n", it->string, it->valuestring);
			else if (cJSON_IsNumber(it))
				printf("%-14s %.0f\n", it->string, it->valuedouble);
			else if (cJSON_IsBool(it))
				printf("%-14s %s\n", it->string, cJSON_IsTrue(it) ? "yes" : "no");
		}
		print_policies(r);
		print_export(cJSON_GetObjectItem(r, "export"));
		{
			const cJSON *p = cJSON_GetObjectItem(r, "probe");

			if (p)
				printf("%-14s %.0f refusals and DNS queries examined (%.0f ns each), "
				       "%.0f flags raised, %.0f targets tracked, %.0f host addresses\n",
				       "probe", ctl_num(p, "examined"),
				       ctl_num(p, "ns_per_examined"), ctl_num(p, "flags"),
				       ctl_num(p, "tracked_targets"), ctl_num(p, "host_addresses"));
			p = cJSON_GetObjectItem(r, "journal");
			if (p)
				printf("%-14s %.0f spans in %.0f lines; bound %.0f files of %.0f "
				       "bytes; %.0f spans evicted by it (%.0f files)\n", "journal",
				       ctl_num(p, "spans"), ctl_num(p, "lines"),
				       ctl_num(p, "max_files"), ctl_num(p, "max_file_bytes"),
				       ctl_num(p, "evicted_spans"), ctl_num(p, "dropped_files"));
			p = cJSON_GetObjectItem(r, "fold");
			if (p)
				printf("%-14s %.0f decisions folded into %.0f spans, %.0f folds open\n",
				       "fold", ctl_num(p, "folded"), ctl_num(p, "spans"),
				       ctl_num(p, "open"));
			p = cJSON_GetObjectItem(r, "policy_changes");
			if (p)
				printf("%-14s %.0f applied, %.0f refused; %.0f connections closed, "
				       "%.0f learned addresses forgotten\n", "policy changes",
				       ctl_num(p, "applied"), ctl_num(p, "refused"),
				       ctl_num(p, "connections_closed"),
				       ctl_num(p, "addresses_forgotten"));
		}
		{
			const cJSON *t = cJSON_GetObjectItem(r, "tamper_protection");

			if (cJSON_IsTrue(cJSON_GetObjectItem(t, "bpf_lsm")))
				printf("%-14s BPF LSM hooks; %.0f attempts refused\n", "tamper",
				       ctl_num(t, "refused"));
			else if (t)
				printf("%-14s guard of egressctl run (seccomp, read-only mounts, "
				       "capabilities), %s; %.0f attempts refused\n"
				       "warning: BPF LSM unavailable: %s\n", "tamper",
				       cJSON_IsTrue(cJSON_GetObjectItem(t, "attempts_recorded"))
					       ? "attempts recorded" : "ATTEMPTS NOT RECORDED",
				       ctl_num(t, "refused"),
				       cJSON_GetStringValue(cJSON_GetObjectItem(t, "why")) ?: "?");
		}
		{
			const cJSON *k = cJSON_GetObjectItem(r, "kernel"), *m;
			const cJSON *miss = cJSON_GetObjectItem(k, "missing");

			if (k)
				printf("%-14s %s, %d feature%s unavailable\n", "kernel",
				       cJSON_GetStringValue(cJSON_GetObjectItem(k, "release")) ?: "?",
				       cJSON_GetArraySize(miss), cJSON_GetArraySize(miss) == 1 ? "" : "s");
			cJSON_ArrayForEach(m, miss) {
				printf("warning: kernel feature unavailable: %s (Linux %s+; here: %s): "
				       "%s\n",
				       cJSON_GetStringValue(cJSON_GetObjectItem(m, "feature")) ?: "?",
				       cJSON_GetStringValue(cJSON_GetObjectItem(m, "since")) ?: "?",
				       cJSON_GetStringValue(cJSON_GetObjectItem(m, "error")) ?: "?",
				       cJSON_GetStringValue(cJSON_GetObjectItem(m, "instead")) ?: "");
			}
		}
	}
	cJSON_Delete(r);
	return 0;
}

int cmd_jobs(int argc, char **argv)
{
	const cJSON *jobs, *j;
	cJSON *r;
	int ret = check_args(argc, argv);

	if (ret)
		return ret;
	r = simple("jobs");
	if (!r)
		return 1;
	jobs = cJSON_GetObjectItem(r, "jobs");
	if (has_flag(argc, argv, "--json")) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddItemToObject(o, "jobs", cJSON_Duplicate(jobs, true));
		print_json(o);
		cJSON_Delete(o);
	} else {
		printf("%-20s %-16s %-8s %-8s %6s %9s %7s  %-24s %s\n", "JOB", "POLICY", "MODE",
		       "STATE", "PIDS", "DECISIONS", "DENIED", "FLAGGED", "COMMAND");
		cJSON_ArrayForEach(j, jobs) {
			const char *cmd = cJSON_GetStringValue(cJSON_GetObjectItem(j, "command"));
			const char *st = cJSON_GetStringValue(cJSON_GetObjectItem(j, "state"));
			const cJSON *rs = cJSON_GetObjectItem(j, "probe_reasons"), *x;
			char flags[256] = "-";

			if (cJSON_GetArraySize(rs) > 0) {
				size_t l = 0;

				flags[0] = '\0';
				cJSON_ArrayForEach(x, rs)
					if (cJSON_IsString(x) && l < sizeof(flags))
						l += snprintf(flags + l, sizeof(flags) - l, "%s%s",
							      l ? "," : "", x->valuestring);
			}
			printf("%-20s %-16s %-8s %-8s %6d %9.0f %7.0f  %-24s %s\n",
			       cJSON_GetStringValue(cJSON_GetObjectItem(j, "id")),
			       cJSON_GetStringValue(cJSON_GetObjectItem(j, "policy")),
			       cJSON_GetStringValue(cJSON_GetObjectItem(j, "mode")), st ? st : "?",
			       cJSON_GetArraySize(cJSON_GetObjectItem(j, "pids")),
			       cJSON_GetNumberValue(cJSON_GetObjectItem(j, "decisions")),
			       cJSON_GetNumberValue(cJSON_GetObjectItem(j, "denied")), flags,
			       cmd ? cmd : "");
		}
	}
	cJSON_Delete(r);
	return 0;
}

/* freeze, thaw, kill JOB [--json] */
int cmd_job_control(int argc, char **argv)
{
	const char *job = NULL;
	bool json = false;
	cJSON *req, *r;
	const cJSON *ok;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (argv[i][0] != '-' && !job) {
			job = argv[i];
		} else {
			fprintf(stderr, "egressctl %s: unexpected argument \"%s\"\n", argv[0], argv[i]);
			return 2;
		}
	}
	if (!job) {
		fprintf(stderr, "egressctl %s: which job? (egressctl jobs lists them)\n", argv[0]);
		return 2;
	}
	req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "op", argv[0]);
	cJSON_AddStringToObject(req, "job_id", job);
	r = ctl_request(req, NULL);
	cJSON_Delete(req);
	if (!r)
		return 1;
	ok = cJSON_GetObjectItem(r, "ok");
	if (!cJSON_IsTrue(ok)) {
		const cJSON *e = cJSON_GetObjectItem(r, "error");

		fprintf(stderr, "egressctl: %s\n", cJSON_IsString(e) ? e->valuestring : "error");
		cJSON_Delete(r);
		return 1;
	}
	if (json)
		print_json(r);
	else
		printf("job %s: %s\n", job, cJSON_GetStringValue(cJSON_GetObjectItem(r, "state")));
	cJSON_Delete(r);
	return 0;
}
