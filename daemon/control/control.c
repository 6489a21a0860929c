// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The control socket <run-dir>/control.sock. Clients are served from the
 * main loop without blocking it: a slow or hostile client can hold only its
 * own buffers. The caller is identified by the kernel, never by what it
 * says: "run" moves the calling process itself into the new job.
 *
 * Who is calling: the process that connected, held as a pidfd from accept
 * on (SO_PEERPIDFD; before Linux 6.5 pidfd_open of the SO_PEERCRED pid,
 * checked against the process's start time). A request that changes
 * something is served only if that process is still running and outside
 * every job when it is made: a connector that has exited, whose cgroup
 * cannot be read, or that is in a job is refused (fail closed), and the
 * refusal is the job's tamper attempt (the job of its cgroup then, or at
 * accept if it has exited). A job may hold at most EF_CTL_PER_JOB
 * connections, and all jobs together (with the callers that had exited
 * or could not be checked at accept) JOB_CLIENTS: a job cannot wedge the
 * socket for the callers outside; a client that sends nothing for
 * EF_CTL_IDLE_S seconds is dropped.
 * Who may do what beyond that is access.c's (the config's "access"
 * section); the socket's mode and group come from there too.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "egressd.h"
#include "policy_change/policy_change.h"
#include "access/access.h"
#include "spans/spans.h"
#include "registry/registry.h"
#include "lib/procinfo.h"
#include "loader/loader.h"
#include "decisions/decisions.h"
#include "dns/dns.h"
#include "jobs/jobs.h"
#include "policies/policies.h"
#include "probe/probe.h"
#include "control.h"
#include "tamper/tamper.h"
#include "docker/docker.h"
#include "ctl_proto.h"
#include "notices/notices.h"
#include "lib/util.h"
#include "lib/cgroup.h"

#define MAX_CLIENTS 256
#define JOB_CLIENTS 128	   /* connections from all jobs together */
#define EF_CTL_PER_JOB 8   /* from one job: status and jobs need one each */
#define EF_CTL_IDLE_S 10   /* nothing received for this long: dropped */
#define EF_CTL_SETTLE_MS 1000 /* longest a freeze, thaw or kill waits for its state */

struct ef_client {
	int ep_kind; /* EF_EPK_CLIENT: first, see enum ef_ep_kind */
	struct ef_client *next;
	int fd;
	struct ucred cred;
	struct ef_peer peer; /* peer.pidfd: the connector's, -1 if none could be had */
	uint64_t job_cgid;   /* the job the connector was in at accept, 0: none */
	bool capped;	     /* counted in n_job_clients: a job's, or unverified at accept */
	uint64_t active_ns;  /* boot clock: accepted, or the last bytes received */
	char *in;
	size_t in_len, in_cap;
	struct ef_buf out;
	size_t out_off;
	/* a freeze, thaw or kill whose job was still freezing, thawing or
	 * ending: its reply waits for ef_control_settle(), and the client's
	 * next requests wait behind it (replies keep their order) */
	struct {
		cJSON *reply; /* NULL: none waits */
		char op[8];
		char job[EF_JOB_ID_MAX + 1];
		uint64_t cgroup_id, deadline_ns; /* the job's; boot clock */
	} wait;
};

static int n_clients, n_job_clients, n_waiting;
static uint64_t n_unattributed; /* refused over JOB_CLIENTS, no job known */

int ef_control_setup(struct ef_daemon *d)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = EF_EP_LISTEN };
	int fd, ret;

	ret = ef_mkdir_p(d->run_dir, 0755);
	if (ret)
		return ret;
	if (strlen(d->socket_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, d->socket_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* a live daemon on this socket must not be displaced */
	{
		int probe = ef_ctl_connect(d->socket_path);

		if (probe >= 0) {
			close(probe);
			close(fd);
			log_err("another egressd is serving %s", d->socket_path);
			return -EADDRINUSE;
		}
	}
	unlink(d->socket_path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	ret = ef_access_socket(d, d->socket_path);
	if (ret) {
		log_err("setting the mode or group of %s: %s", d->socket_path, strerror(-ret));
		close(fd);
		return ret;
	}
	d->listenfd = fd;
	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	return 0;
}

static void client_close(struct ef_daemon *d, struct ef_client *c)
{
	for (struct ef_client **pp = &d->clients; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	ef_notice_unwatch(d, c);
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (c->peer.pidfd >= 0)
		close(c->peer.pidfd);
	if (c->capped)
		n_job_clients--;
	if (c->wait.reply) {
		cJSON_Delete(c->wait.reply);
		n_waiting--;
	}
	free(c->in);
	ef_buf_free(&c->out);
	free(c);
	n_clients--;
}

/* The job the client's connector is in now (ef_pidfd_job()). */
static int peer_job(struct ef_daemon *d, struct ef_client *c, struct ef_job_rec **job,
		    pid_t *pid)
{
	return ef_pidfd_job(d, c->peer.pidfd, job, pid);
}

/* The job of a connector that has exited but not been reaped yet (its pid
 * is its own until then), for the record only; NULL if unknown. */
static struct ef_job_rec *exited_job(struct ef_daemon *d, struct ef_client *c)
{
	char cg[EF_PATH_MAX];
	pid_t p;

	if (c->peer.pidfd < 0 || (p = ef_pidfd_pid(c->peer.pidfd)) <= 0 ||
	    ef_cgroup_of_pid(p, cg, sizeof(cg)) || ef_pidfd_pid(c->peer.pidfd) != p)
		return NULL;
	return ef_job_of_cgroup(d, cg);
}

static int job_conns(struct ef_daemon *d, uint64_t cgid)
{
	int n = 0;

	for (struct ef_client *x = d->clients; x; x = x->next)
		n += x->job_cgid == cgid;
	return n;
}

/* A job's connection over the caps, or an unverified one over JOB_CLIENTS:
 * true, and recorded once per job as its tamper attempt. */
static bool over_cap(struct ef_daemon *d, const struct ef_client *c, struct ef_job_rec *job,
		     pid_t pid, bool unverified)
{
	int n = job ? job_conns(d, job->cgroup_id) : 0;
	struct ef_peer p = c->peer;

	if (n_job_clients < JOB_CLIENTS && n < EF_CTL_PER_JOB)
		return false;
	if (job && !job->ctl_flood_recorded) {
		job->ctl_flood_recorded = true;
		p.pid = pid;
		log_warn("control: job %s holds %d connections (%d from all jobs); refusing more",
			 job->id, n, n_job_clients);
		ef_tamper_control(d, job, &p, !unverified, "connections_over_cap");
	} else if (!job) {
		/* logged at the 1st, 2nd, 4th...: a flood does not flood the log */
		if (!(n_unattributed & (n_unattributed + 1)))
			log_warn("control: %d connections from jobs or unverified callers; "
				 "refused %llu more so far (pid %d)", n_job_clients,
				 (unsigned long long)n_unattributed + 1, c->cred.pid);
		n_unattributed++;
	}
	return true;
}

void ef_control_accept(struct ef_daemon *d)
{
	for (;;) {
		struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };
		socklen_t sl = sizeof(struct ucred);
		struct ef_job_rec *job = NULL;
		struct ef_client *c;
		bool unverified;
		uint64_t now;
		pid_t pid;
		int fd;

		fd = accept4(d->listenfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		now = ef_now_boot_ns();
		if (n_clients >= MAX_CLIENTS) {
			log_warn("control: %d clients already connected; refusing one", n_clients);
			close(fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->ep_kind = EF_EPK_CLIENT;
		c->fd = fd;
		c->active_ns = now;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c->cred, &sl) < 0) {
			close(fd);
			free(c);
			continue;
		}
		c->peer.pid = c->cred.pid;
		c->peer.uid = c->cred.uid;
		c->peer.gid = c->cred.gid;
		c->peer.pidfd = ef_peer_pidfd(d, c->fd, c->cred.pid, now);
		sl = sizeof(c->peer.groups);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, c->peer.groups, &sl) == 0)
			c->peer.n_groups = (int)(sl / sizeof(gid_t));
		else
			c->peer.n_groups = 0; /* more than we keep: only the primary group counts */
		/* the connector's job, for the caps and to attribute its refusals
		 * after it has exited. A connector gone already (or that cannot
		 * be checked) may be a job's that connected and exited: its
		 * connection counts with the jobs' (it may only read). */
		unverified = peer_job(d, c, &job, &pid) != 0;
		if (unverified) {
			job = exited_job(d, c);
			pid = c->cred.pid;
		}
		if (unverified || job) {
			if (over_cap(d, c, job, pid, unverified)) {
				if (c->peer.pidfd >= 0)
					close(c->peer.pidfd);
				close(fd);
				free(c);
				continue;
			}
			c->job_cgid = job ? job->cgroup_id : 0;
			c->capped = true;
		}
		ev.data.ptr = c;
		if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			if (c->peer.pidfd >= 0)
				close(c->peer.pidfd);
			close(fd);
			free(c);
			continue;
		}
		c->next = d->clients;
		d->clients = c;
		n_clients++;
		if (c->capped)
			n_job_clients++;
	}
}

/* Clients that have sent nothing for EF_CTL_IDLE_S are dropped: a
 * connection held open holds one of MAX_CLIENTS. */
void ef_control_tick(struct ef_daemon *d)
{
	uint64_t now = ef_now_boot_ns();
	struct ef_client *c = d->clients, *next;

	for (; c; c = next) {
		next = c->next;
		/* a watcher waits for its job's notices: it may send nothing for
		 * as long as the job runs */
		if (now - c->active_ns > EF_CTL_IDLE_S * 1000000000ull &&
		    !ef_notice_watching(d, c)) {
			log_debug("control: dropping a client (pid %d) idle for %d s", c->cred.pid,
				  EF_CTL_IDLE_S);
			client_close(d, c);
		}
	}
}

/* The policies a job may name: NAME.json in the policy dir; -1: unreadable */
static int policy_files(const struct ef_daemon *d)
{
	DIR *dh = opendir(d->policy_dir);
	struct dirent *de;
	int n = 0;

	if (!dh)
		return -1;
	while ((de = readdir(dh))) {
		size_t l = strlen(de->d_name);
		char name[EF_NAME_MAX + 1];

		if (l <= 5 || l - 5 > EF_NAME_MAX || strcmp(de->d_name + l - 5, ".json"))
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(l - 5), de->d_name);
		n += ef_policy_name_valid(name);
	}
	closedir(dh);
	return n;
}

static cJSON *status_json(struct ef_daemon *d)
{
	cJSON *o = cJSON_CreateObject(), *j;
	int n_jobs = 0, n_pols = 0, n_retiring = 0, n_pol_jobs = 0;

	for (struct ef_job_rec *x = d->jobs; x; x = x->next) {
		n_jobs++;
		n_pol_jobs += x->pol != NULL;
	}
	for (struct ef_pol_rec *x = d->pols; x; x = x->next)
		n_pols++;
	for (struct ef_pol_rec *x = d->pols_retired; x; x = x->next)
		n_retiring++;
	cJSON_AddBoolToObject(o, "ok", true);
	cJSON_AddStringToObject(o, "version", EF_VERSION);
	cJSON_AddNumberToObject(o, "pid", getpid());
	cJSON_AddNumberToObject(o, "uptime_s",
				(double)((ef_now_realtime_ns() - d->started_ns) / 1000000000ull));
	cJSON_AddNumberToObject(o, "jobs", n_jobs);
	/* policy versions in use (by jobs, or DNS queries in flight): kept as
	 * it was; "policy_versions" says what is in the kernel maps */
	cJSON_AddNumberToObject(o, "policies", n_pols);
	j = cJSON_AddObjectToObject(o, "policy_versions");
	if (j) {
		cJSON_AddNumberToObject(j, "loaded", n_pols + n_retiring);
		cJSON_AddNumberToObject(j, "in_use", n_pols);
		/* their last user gone, unloaded EF_POL_RETIRE_NS later */
		cJSON_AddNumberToObject(j, "retiring", n_retiring);
		cJSON_AddNumberToObject(j, "jobs", n_pol_jobs);
	}
	cJSON_AddNumberToObject(o, "policy_files", policy_files(d));
	cJSON_AddNumberToObject(o, "decisions", (double)ef_bpf_stat(d, EF_S_DECISIONS));
	cJSON_AddNumberToObject(o, "denied", (double)ef_bpf_stat(d, EF_S_DENIED));
	cJSON_AddNumberToObject(o, "ringbuf_drops", (double)ef_bpf_stat(d, EF_S_RB_DROPS));
	/* packets the wire check dropped (bpf/lib/wire.bpf.h) */
	cJSON_AddNumberToObject(o, "wire_drops", (double)ef_bpf_stat(d, EF_S_WIRE_DROPS));
	cJSON_AddNumberToObject(o, "records", (double)d->events);
	{
		/* processes' own trace contexts (proc_ctx.c) */
		cJSON *tc = cJSON_AddObjectToObject(o, "trace_context");

		if (tc) {
			cJSON_AddNumberToObject(tc, "records", (double)d->pctx_records);
			cJSON_AddNumberToObject(tc, "processes", (double)ef_pctx_count(d));
			cJSON_AddNumberToObject(tc, "malformed", (double)d->pctx_malformed);
			cJSON_AddNumberToObject(tc, "dropped", (double)d->pctx_dropped);
		}
	}
	{
		cJSON *dns = cJSON_AddObjectToObject(o, "dns");

		if (dns) {
			cJSON_AddNumberToObject(dns, "queries", (double)d->dns_queries);
			cJSON_AddNumberToObject(dns, "malformed", (double)d->dns_malformed);
			cJSON_AddNumberToObject(dns, "dropped", (double)d->dns_dropped);
			cJSON_AddNumberToObject(dns, "limited", (double)d->dns_limited);
			cJSON_AddNumberToObject(dns, "spoofed", (double)d->dns_spoofed);
			cJSON_AddNumberToObject(dns, "case_fallback",
						(double)d->dns_case_fallback);
			cJSON_AddNumberToObject(dns, "learn_failed", (double)d->dns_learn_failed);
			cJSON_AddNumberToObject(dns, "cache_hits", (double)d->dns_cache_hits);
			cJSON_AddNumberToObject(dns, "cached", (double)d->dns_cache_n);
			cJSON_AddNumberToObject(dns, "pending", (double)ef_dns_n_pending(d));
		}
	}
	cJSON_AddBoolToObject(o, "bpf_lsm", d->lsm);
	cJSON_AddStringToObject(o, "socket_hook", d->lsm ? "lsm_cgroup/socket_create (all families)"
							  : "cgroup/sock_create (inet only)");
	cJSON_AddBoolToObject(o, "adopted", d->adopted);
	cJSON_AddStringToObject(o, "cgroup_root", d->cgroup_root);
	cJSON_AddStringToObject(o, "bpffs_dir", d->bpffs_dir);
	cJSON_AddStringToObject(o, "state_dir", d->state_dir);
	cJSON_AddStringToObject(o, "policy_dir", d->policy_dir);
	/* what egressctl run covers in a job's mount namespace (runtimes.c) */
	ef_runtimes_status(d, o);
	/* where egressctl run makes a root job's copy-on-write layer */
	cJSON_AddStringToObject(o, "overlay_dir", d->overlay_dir);
	/* what a root job's mount namespace shows read-only (cli/userns.c):
	 * the fence's own files; only egressctl, through egressd, changes them */
	j = cJSON_AddArrayToObject(o, "protect");
	if (j) {
		const char *const paths[] = { d->config_path, d->policy_dir, d->state_dir,
					      d->journal.dir, d->run_dir };

		for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
			if (paths[i][0] == '/' && paths[i][1])
				cJSON_AddItemToArray(j, cJSON_CreateString(paths[i]));
	}
	j = cJSON_AddObjectToObject(o, "journal");
	if (j) {
		cJSON_AddStringToObject(j, "dir", d->journal.dir);
		cJSON_AddNumberToObject(j, "lines", (double)d->journal.lines);
		cJSON_AddNumberToObject(j, "dropped_files", (double)d->journal.dropped_files);
		cJSON_AddNumberToObject(j, "evicted_spans", (double)d->journal.evicted_spans);
		cJSON_AddNumberToObject(j, "max_files", d->journal.max_files);
		cJSON_AddNumberToObject(j, "max_file_bytes", (double)d->journal.max_file_bytes);
		cJSON_AddNumberToObject(j, "spans", (double)d->journal.spans);
		cJSON_AddNumberToObject(j, "write_errors", (double)d->journal.write_errors);
	}
	ef_export_status(d->exporter, &d->cfg.otlp, &d->journal, o);
	ef_events_fold_status(d, o);
	ef_probe_status(d, o);
	ef_policy_ops_status(o);
	ef_tamper_status(d, o);
	ef_features_status(&d->features, o);
	return o;
}

static cJSON *error_reply(const char *msg)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddBoolToObject(o, "ok", false);
	cJSON_AddStringToObject(o, "error", msg);
	return o;
}

static cJSON *ok_reply(void)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddBoolToObject(o, "ok", true);
	return o;
}

/* The reply of a request that changes something: as the handler filled it,
 * or, if it refused (ret != 0), its error, logged with who asked. */
static cJSON *checked(const struct ef_client *c, const char *op, cJSON *reply, int ret,
		      const char *err)
{
	char generic[128];
	const char *why = err;

	if (!ret)
		return reply;
	if (!err[0]) { /* a handler that failed without saying why (out of memory...) */
		snprintf(generic, sizeof(generic), "%s failed: %s", op, strerror(ret < 0 ? -ret : ret));
		why = generic;
	}
	cJSON_Delete(reply);
	log_warn("%s from pid %d uid %u refused: %s", op, c->cred.pid, c->cred.uid, why);
	return error_reply(why);
}

static void set_state(cJSON *reply, const char *state)
{
	cJSON *st = cJSON_CreateString(state);

	if (st && !cJSON_ReplaceItemInObject(reply, "state", st))
		cJSON_Delete(st);
}

/* The reply of a freeze, thaw or kill done: now, with the job's state, if
 * that has settled; else NULL, and it waits in c->wait (ef_control_settle).
 * The daemon's loop is not held up: other clients and jobs go on. */
static cJSON *reply_settled(struct ef_daemon *d, struct ef_client *c, const char *op, cJSON *reply)
{
	const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(reply, "job_id"));
	struct ef_job_rec *j = id ? ef_job_by_id(d, id) : NULL;
	bool settled;

	if (!j)
		return reply;
	set_state(reply, ef_job_control_state(d, op, j->id, j->cgroup_id, &settled));
	if (settled)
		return reply;
	snprintf(c->wait.op, sizeof(c->wait.op), "%s", op);
	snprintf(c->wait.job, sizeof(c->wait.job), "%s", j->id);
	c->wait.cgroup_id = j->cgroup_id;
	c->wait.deadline_ns = ef_now_boot_ns() + EF_CTL_SETTLE_MS * 1000000ull;
	c->wait.reply = reply;
	n_waiting++;
	return NULL;
}

static bool read_only_op(const char *op)
{
	return !strcmp(op, "status") || !strcmp(op, "ping") || !strcmp(op, "jobs");
}

static cJSON *handle(struct ef_daemon *d, struct ef_client *c, const char *line, size_t len)
{
	cJSON *req = NULL, *reply = NULL;
	const cJSON *op;
	char err[EF_ERR_LEN] = "";
	struct ef_job_rec *fenced = NULL;
	struct ef_peer peer = c->peer; /* pid: the verified one */
	int ret;

	/* cJSON takes control bytes, NUL included, for white space: JSON does not */
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = line[i];

		if (ch < 0x20 && ch != ' ' && ch != '\t' && ch != '\r') {
			reply = error_reply("malformed request: control character in the line");
			goto out;
		}
	}
	req = cJSON_ParseWithLength(line, len);
	if (!req || !cJSON_IsObject(req)) {
		reply = error_reply("malformed request: expected one JSON object per line");
		goto out;
	}
	op = cJSON_GetObjectItem(req, "op");
	if (!cJSON_IsString(op)) {
		reply = error_reply("malformed request: missing \"op\"");
	} else if (!read_only_op(op->valuestring) &&
		   (ret = peer_job(d, c, &fenced, &peer.pid)) != 0) {
		/* fail closed: who is asking cannot be told */
		if (ret == -ESRCH)
			snprintf(err, sizeof(err), "refused: the process that connected (pid %d) "
				 "has exited; \"%.32s\" is served only to a caller that is still "
				 "running", c->cred.pid, op->valuestring);
		else
			snprintf(err, sizeof(err), "refused: cannot verify the process that "
				 "connected (pid %d) is outside every job; not serving \"%.32s\"",
				 c->cred.pid, op->valuestring);
		log_warn("%s", err);
		fenced = c->job_cgid ? ef_job_by_cgroup(d, c->job_cgid) : NULL;
		if (fenced)
			ef_tamper_control(d, fenced, &c->peer, false, op->valuestring);
		reply = error_reply(err);
	} else if (!read_only_op(op->valuestring) && fenced) {
		/* a fenced job, even as root, may look but not touch: a nested run
		 * would move it out of its cgroup, a policy change would widen its
		 * own fence */
		snprintf(err, sizeof(err), "refused: pid %d is fenced (job %s); a fenced job may "
			 "not make \"%.32s\" requests", peer.pid, fenced->id, op->valuestring);
		log_warn("%s", err);
		ef_tamper_control(d, fenced, &peer, true, op->valuestring);
		reply = error_reply(err);
	} else if (!strcmp(op->valuestring, "status")) {
		reply = status_json(d);
		/* a nested egressctl run skips making its mount namespace, and
		 * asks anyway: to be refused and recorded (below) */
		if (reply && (fenced = ef_job_of_pid(d, c->cred.pid)))
			cJSON_AddStringToObject(reply, "caller_job", fenced->id);
		else if (reply && cJSON_IsTrue(cJSON_GetObjectItem(req, "for_run"))) {
			ef_job_run_preview(d, req, &peer, reply);
			/* a caller inside a container: what it must not reach */
			ef_container_preview(d, c->cred.pid, reply);
		}
	} else if (!strcmp(op->valuestring, "ping")) {
		reply = ok_reply();
	} else if (!strcmp(op->valuestring, "jobs")) {
		/* a job sees itself, not the others: their trace ids would let it
		 * put its spans in their traces, their pids and commands are
		 * theirs. A connector that was a job's, or could not be told
		 * from one (capped at accept), sees its own job or nothing. */
		fenced = c->job_cgid ? ef_job_by_cgroup(d, c->job_cgid) : NULL;
		reply = ok_reply();
		cJSON_AddItemToObject(reply, "jobs", c->capped && !fenced ? cJSON_CreateArray()
									  : ef_jobs_json(d, fenced));
	} else if (!strcmp(op->valuestring, "run")) {
		reply = ok_reply();
		reply = checked(c, op->valuestring, reply,
				ef_job_start(d, req, &peer, reply, err, sizeof(err)), err);
	} else if (!strcmp(op->valuestring, "watch")) {
		reply = ok_reply();
		reply = checked(c, op->valuestring, reply,
				ef_notice_watch(d, c, req, &peer, reply, err, sizeof(err)), err);
	} else if (!strcmp(op->valuestring, "watch_summary")) {
		reply = ok_reply();
		reply = checked(c, op->valuestring, reply,
				ef_notice_summary(d, c, reply, err, sizeof(err)), err);
	} else if (!strcmp(op->valuestring, "freeze") || !strcmp(op->valuestring, "thaw") ||
		   !strcmp(op->valuestring, "kill")) {
		reply = ok_reply();
		ret = ef_job_control(d, op->valuestring, req, &peer, reply, err, sizeof(err));
		reply = checked(c, op->valuestring, reply, ret, err);
		if (!ret && reply)
			reply = reply_settled(d, c, op->valuestring, reply);
	} else if (!strncmp(op->valuestring, "policy_", 7)) {
		reply = ok_reply();
		reply = checked(c, op->valuestring, reply,
				ef_policy_op(d, op->valuestring, req, &peer, reply, err,
					     sizeof(err)), err);
	} else {
		char msg[160];

		snprintf(msg, sizeof(msg), "unknown op \"%.64s\"", op->valuestring);
		reply = error_reply(msg);
	}
out:
	cJSON_Delete(req);
	return reply;
}

static bool flush_out(struct ef_client *c)
{
	while (c->out_off < c->out.len) {
		ssize_t w = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0)
			return errno == EAGAIN || errno == EINTR;
		c->out_off += w;
	}
	ef_buf_reset(&c->out);
	c->out_off = 0;
	return true;
}

static void queue_reply(struct ef_daemon *d, struct ef_client *c, cJSON *reply)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | EPOLLOUT, .data.ptr = c };
	char *s = reply ? cJSON_PrintUnformatted(reply) : NULL;

	if (s) {
		ef_buf_puts(&c->out, s);
		ef_buf_add(&c->out, "\n", 1);
	} else {
		ef_buf_puts(&c->out, "{\"ok\":false,\"error\":\"out of memory\"}\n");
	}
	free(s);
	cJSON_Delete(reply);
	if (flush_out(c) && c->out.len)
		epoll_ctl(d->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

bool ef_control_push(struct ef_daemon *d, struct ef_client *c, const char *line)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | EPOLLOUT, .data.ptr = c };
	size_t n = strlen(line);

	if (c->out.len - c->out_off + n + 1 > EF_NOTICE_OUT_MAX)
		return false;
	ef_buf_add(&c->out, line, n);
	ef_buf_add(&c->out, "\n", 1);
	if (c->out.oom)
		return false;
	/* a send that fails is for ef_control_io to see: clients are not
	 * closed here, the caller walks a list of them */
	if (flush_out(c) && c->out.len)
		epoll_ctl(d->epfd, EPOLL_CTL_MOD, c->fd, &ev);
	return true;
}

/* The requests received whole, in order; none while a reply waits. */
static void serve_lines(struct ef_daemon *d, struct ef_client *c)
{
	char *nl;

	while (!c->wait.reply && c->in_len && (nl = memchr(c->in, '\n', c->in_len))) {
		size_t ll = nl - c->in;
		cJSON *reply = handle(d, c, c->in, ll);

		if (!c->wait.reply)
			queue_reply(d, c, reply);
		memmove(c->in, nl + 1, c->in_len - ll - 1);
		c->in_len -= ll + 1;
	}
}

void ef_control_settle(struct ef_daemon *d)
{
	uint64_t now;

	if (!n_waiting)
		return;
	now = ef_now_boot_ns();
	for (struct ef_client *c = d->clients; c; c = c->next) {
		const char *st;
		cJSON *reply;
		bool settled;

		if (!c->wait.reply)
			continue;
		st = ef_job_control_state(d, c->wait.op, c->wait.job, c->wait.cgroup_id, &settled);
		if (!settled && now < c->wait.deadline_ns)
			continue;
		/* not settled by the deadline: the passing state, as it is */
		reply = c->wait.reply;
		set_state(reply, st);
		c->wait.reply = NULL;
		n_waiting--;
		queue_reply(d, c, reply);
		serve_lines(d, c);
	}
}

void ef_control_io(struct ef_daemon *d, struct ef_client *c, uint32_t events)
{
	if (events & EPOLLOUT) {
		struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = c };

		if (!flush_out(c)) {
			client_close(d, c);
			return;
		}
		if (!c->out.len)
			epoll_ctl(d->epfd, EPOLL_CTL_MOD, c->fd, &ev);
	}
	if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
		return;
	for (;;) {
		ssize_t r;

		if (c->in_len == c->in_cap) {
			size_t nc = c->in_cap ? c->in_cap * 2 : 4096;
			char *np;

			if (nc > EF_CTL_MAX_MSG) {
				queue_reply(d, c, error_reply("request too large"));
				client_close(d, c);
				return;
			}
			np = realloc(c->in, nc);
			if (!np) {
				client_close(d, c);
				return;
			}
			c->in = np;
			c->in_cap = nc;
		}
		r = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, MSG_DONTWAIT);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (r <= 0) {
			client_close(d, c);
			return;
		}
		c->in_len += r;
		c->active_ns = ef_now_boot_ns();
		serve_lines(d, c);
	}
}

void ef_control_close(struct ef_daemon *d)
{
	while (d->clients)
		client_close(d, d->clients);
	if (d->listenfd >= 0) {
		close(d->listenfd);
		unlink(d->socket_path);
	}
	d->listenfd = -1;
}
