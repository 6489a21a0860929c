// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * egressctl run's supervisor: see notices.h.
 *
 * Why a parent at all: the notices and the verdict of --fail-on-deny must
 * come from outside the job. The child moves itself into the job, and what
 * it runs is the job's, hostile; it could print anything, or exit 0 after
 * an exfiltration attempt. The parent is forked before anything of the
 * job exists, stays in the caller's cgroup, is not dumpable (no ptrace from
 * the job's processes of the same user), and learns the job's refusals from
 * egressd, never from the child. A job that kills it gets a step that fails
 * (the parent's death by signal is the step's status); the child dies with
 * it (PR_SET_PDEATHSIG), as the command did when egressctl exec'd it.
 *
 * Order: the child writes the job id once it is fenced, then waits; the
 * parent asks egressd to watch that job and only then says go. So every
 * refusal of the command comes after the watch began; none is missed.
 *
 * Signals: one sent to the parent (kill, the CI runner's cancel) is sent on
 * to the child; one the kernel sent (a terminal's ^C, SIGHUP) reached the
 * child's process group already and is not sent twice. The child's status
 * is passed through: its exit code, or its signal raised again here.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "control/ctl_proto.h"
#include "egressctl.h"
#include "notices.h"

#define EXIT_FENCE 125
#define SUMMARY_WAIT_MS 10000
#define END_WAIT_MS 2000
#define KILL_WAIT_MS 10000

/* every signal a shell or a CI runner sends that can be caught */
static const int forwarded[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2,
				 SIGALRM, SIGWINCH, SIGCONT, SIGTSTP, SIGTTIN, SIGTTOU,
				 SIGPIPE, SIGURG, SIGXCPU, SIGXFSZ, SIGVTALRM, SIGPROF };

struct parent {
	const struct sup_opts *o;
	const char *cmd;
	pid_t child;
	int status;   /* the child's, from waitpid */
	bool exited;
	int ctl;      /* the watch connection; -1: none */
	FILE *jsonl;  /* EGRESS_FENCE_NOTICES */
	unsigned long jsonl_errs; /* notices that could not be written there */
	int jsonl_errno;
	char job[256];
	bool fail;    /* --fail-on-deny, or the job's policy */
	cJSON *sum;   /* the summary, from "end" or "watch_summary" */
	bool replied; /* the reply to the last request came */
};

static void on_notice(struct parent *p, cJSON *n)
{
	char *text = sup_notice_text(n), *line;

	if (text && !p->o->quiet)
		fprintf(stderr, "%s\n", text);
	free(text);
	if (p->jsonl) {
		/* a notice that did not reach the file is said at the end (a full
		 * disk, a file size limit): the hooks reading it miss it */
		line = cJSON_PrintUnformatted(n);
		if (!line || fprintf(p->jsonl, "%s\n", line) < 0 || fflush(p->jsonl)) {
			if (!p->jsonl_errs++)
				p->jsonl_errno = line ? errno : ENOMEM;
		}
		free(line);
	}
}

/* one line from egressd: a notice, the job's end, or a reply */
static void on_line(struct parent *p, cJSON *m)
{
	cJSON *n = cJSON_GetObjectItem(m, "notice"), *e = cJSON_GetObjectItem(m, "end");

	if (cJSON_IsObject(n)) {
		on_notice(p, n);
	} else if (cJSON_IsObject(e) || cJSON_IsObject(cJSON_GetObjectItem(m, "summary"))) {
		cJSON_Delete(p->sum);
		p->sum = cJSON_DetachItemViaPointer(m, e ? e : cJSON_GetObjectItem(m, "summary"));
	}
	if (cJSON_GetObjectItem(m, "ok")) {
		p->replied = true;
		if (!cJSON_IsTrue(cJSON_GetObjectItem(m, "ok")))
			fprintf(stderr, "egressctl: job %s: %s\n", p->job,
				ctl_str(m, "error") ?: "egressd refused the summary");
	}
}

static int read_one(struct parent *p, int64_t deadline)
{
	cJSON *m = NULL;
	int ret = ef_ctl_recv_by(p->ctl, &m, deadline);

	if (ret) {
		close(p->ctl);
		p->ctl = -1;
		return ret;
	}
	on_line(p, m);
	cJSON_Delete(m);
	return 0;
}

static void forward(struct parent *p, const struct signalfd_siginfo *si)
{
	if (si->ssi_signo == SIGCHLD) {
		int st;

		if (waitpid(p->child, &st, WNOHANG) == p->child) {
			p->status = st;
			p->exited = true;
		}
		return;
	}
	/* kernel-sent (a terminal's): the child's group had it too; and our
	 * own (SIGPIPE of a write to a closed stderr) is not the command's */
	if (si->ssi_code > 0 || si->ssi_pid == (uint32_t)getpid())
		return;
	kill(p->child, (int)si->ssi_signo);
}

/* The job id from the child, or "" if it ended first (it was refused or
 * failed before its job began: it said why). */
static void read_job(struct parent *p, int id_fd, int sfd)
{
	size_t n = 0;

	while (!p->exited && n < sizeof(p->job) - 1) {
		struct pollfd pf[2] = { { .fd = id_fd, .events = POLLIN }, { .fd = sfd, .events = POLLIN } };
		struct signalfd_siginfo si;
		ssize_t r;

		if (poll(pf, 2, -1) < 0)
			continue;
		if (pf[1].revents && read(sfd, &si, sizeof(si)) == sizeof(si))
			forward(p, &si);
		if (!pf[0].revents)
			continue;
		r = read(id_fd, p->job + n, sizeof(p->job) - 1 - n);
		if (r <= 0)
			break;
		n += r;
		if (memchr(p->job, '\n', n))
			break;
	}
	p->job[n] = '\0';
	if (!memchr(p->job, '\n', n)) {
		p->job[0] = '\0';
		return;
	}
	*strchr(p->job, '\n') = '\0';
	/* "JOB 1": the job's policy fails on deny (egressd's "run" reply) */
	if (strchr(p->job, ' ')) {
		p->fail |= !strcmp(strchr(p->job, ' '), " 1");
		*strchr(p->job, ' ') = '\0';
	}
}

static bool watch(struct parent *p)
{
	cJSON *req = cJSON_CreateObject(), *reply = NULL;
	char why[512];
	bool ok = false;

	p->ctl = ctl_connect_root(why, sizeof(why));
	if (p->ctl < 0) {
		fprintf(stderr, "egressctl: %s\n", why);
		goto out;
	}
	cJSON_AddStringToObject(req, "op", "watch");
	cJSON_AddStringToObject(req, "job_id", p->job);
	reply = ctl_exchange(p->ctl, req);
	if (reply && cJSON_IsTrue(cJSON_GetObjectItem(reply, "ok"))) {
		p->fail |= cJSON_IsTrue(cJSON_GetObjectItem(reply, "fail_on_deny"));
		ok = true;
	} else if (reply) {
		fprintf(stderr, "egressctl: watching job %s: %s\n", p->job,
			ctl_str(reply, "error") ? ctl_str(reply, "error") : "refused");
	}
out:
	if (!ok && p->ctl >= 0) {
		close(p->ctl);
		p->ctl = -1;
	}
	cJSON_Delete(req);
	cJSON_Delete(reply);
	return ok;
}

/* One request on the watch connection and its reply, reading the notices
 * and the job's "end" that come before it. */
static void request(struct parent *p, const char *op)
{
	cJSON *req = cJSON_CreateObject();
	int64_t deadline = ef_ctl_now_ms() + SUMMARY_WAIT_MS;

	if (p->ctl < 0 || !req)
		goto out;
	cJSON_AddStringToObject(req, "op", op);
	cJSON_AddStringToObject(req, "job_id", p->job);
	p->replied = false;
	if (ef_ctl_send_by(p->ctl, req, deadline))
		goto out;
	while (!p->replied && p->ctl >= 0 && !read_one(p, deadline))
		;
out:
	cJSON_Delete(req);
}

/* The exit status: the command's, unless it succeeded and the job must
 * fail for what it was refused. */
static bool ended(const struct parent *p)
{
	return p->sum && cJSON_IsTrue(cJSON_GetObjectItem(p->sum, "ended"));
}

static int verdict(struct parent *p, bool watched)
{
	int code = WIFEXITED(p->status) ? WEXITSTATUS(p->status) : 128 + WTERMSIG(p->status);
	double refused = ctl_num(p->sum, "denied") + ctl_num(p->sum, "would_deny");
	double flags = ctl_num(p->sum, "flags"), unshown = ctl_num(p->sum, "not_shown");
	double lost = ctl_num(p->sum, "records_lost");

	if (p->sum)
		p->fail |= cJSON_IsTrue(cJSON_GetObjectItem(p->sum, "fail_on_deny"));
	if (p->jsonl_errs)
		fprintf(stderr, "egress-fence: job %s: %lu notice%s could not be written to %s: %s\n",
			p->job, p->jsonl_errs, p->jsonl_errs == 1 ? "" : "s", p->o->notices,
			strerror(p->jsonl_errno));
	if (p->sum && (refused || flags) && !p->o->quiet)
		fprintf(stderr, "egress-fence: job %s: %.0f refused, %.0f probe flag%s%s; "
			"egressctl report %s shows them all\n", p->job, refused, flags,
			flags == 1 ? "" : "s", unshown ? " (some not shown above)" : "", p->job);
	if (lost)
		fprintf(stderr, "egress-fence: job %s: the kernel lost %.0f decision records while it "
			"ran (of every job: egressctl status); its counts may be short\n", p->job,
			lost);
	if (p->sum && !ended(p) && !p->o->quiet)
		fprintf(stderr, "egress-fence: job %s goes on: the command left processes in it; "
			"their refusals from now on are in its report, not in this step's %s\n",
			p->job, p->fail ? "verdict" : "notices");
	if (!p->fail)
		return code;
	if (!p->sum || !ended(p) || lost) {
		fprintf(stderr, "egress-fence: job %s: failing the step (fail on deny): %s\n",
			p->job[0] ? p->job : "?",
			!watched ? "the job was not watched"
			: !p->sum ? "egressd did not give the job's counts"
			: lost	  ? "decision records were lost"
				  : "the job did not end: its verdict is incomplete");
		return code ? code : EXIT_DENIED;
	}
	if (!refused && !flags)
		return code;
	fprintf(stderr, "egress-fence: job %s: failing the step (fail on deny): %.0f refused, "
		"%.0f probe flag%s\n", p->job, refused, flags, flags == 1 ? "" : "s");
	return code ? code : EXIT_DENIED;
}

static void pass_status(struct parent *p, int code)
{
	if (p->exited && WIFSIGNALED(p->status) && code == 128 + WTERMSIG(p->status)) {
		int sig = WTERMSIG(p->status);
		sigset_t all;

		/* die as the command did, without a core of our own */
		signal(sig, SIG_DFL);
		prctl(PR_SET_DUMPABLE, 0);
		sigemptyset(&all);
		sigaddset(&all, sig);
		sigprocmask(SIG_UNBLOCK, &all, NULL);
		raise(sig);
	}
	exit(code);
}

/* The job ends once its cgroup is empty, a moment after the command when
 * nothing of it is left behind: its record is then complete (the job span
 * written) for `egressctl report` in the next step. Not long: a daemon the
 * command left keeps the job going, and the step must not wait for it. */
static void wait_end(struct parent *p, int ms)
{
	int64_t deadline = ef_ctl_now_ms() + ms;

	while (p->ctl >= 0 && p->sum && !ended(p)) {
		struct pollfd pf = { .fd = p->ctl, .events = POLLIN };
		int64_t left = deadline - ef_ctl_now_ms();

		if (left <= 0 || poll(&pf, 1, (int)left) <= 0)
			break;
		if (read_one(p, deadline))
			break;
	}
}

/* --fail-on-deny, and the command left processes in its job: what they
 * are refused later would come after the verdict, so a patient job could
 * pass it by leaving a process to try later. They are killed (the job's
 * owner may), and the verdict waits for the job's end: complete. */
static void end_leftovers(struct parent *p)
{
	fprintf(stderr, "egress-fence: job %s: the command left processes in it; ending them "
		"for a complete verdict (fail on deny)\n", p->job);
	request(p, "kill");
	wait_end(p, KILL_WAIT_MS);
}

static void run_parent(struct parent *p, int id_fd, int go_fd, int sfd)
{
	bool watched = false;
	int code;

	read_job(p, id_fd, sfd);
	close(id_fd);
	if (p->job[0]) {
		watched = watch(p);
		if (!watched && p->fail) {
			fprintf(stderr, "egressctl: --fail-on-deny needs the job's notices; not "
				"running %s\n", p->cmd);
			kill(p->child, SIGKILL);
		} else {
			if (!watched)
				fprintf(stderr, "egressctl: no notices of refusals for job %s\n",
					p->job);
			if (write(go_fd, "g", 1) != 1)
				kill(p->child, SIGKILL);
		}
	}
	close(go_fd);
	while (!p->exited) {
		struct pollfd pf[2] = { { .fd = sfd, .events = POLLIN }, { .fd = p->ctl, .events = POLLIN } };
		struct signalfd_siginfo si;

		if (poll(pf, p->ctl >= 0 ? 2 : 1, -1) < 0)
			continue;
		if (pf[0].revents && read(sfd, &si, sizeof(si)) == sizeof(si))
			forward(p, &si);
		if (p->ctl >= 0 && pf[1].revents)
			read_one(p, ef_ctl_now_ms() + SUMMARY_WAIT_MS);
	}
	if (!p->job[0]) /* refused before the job began: as it said */
		pass_status(p, WIFEXITED(p->status) ? WEXITSTATUS(p->status) : EXIT_FENCE);
	if (watched) {
		/* the counts, after every refusal before them (egressd takes in
		 * what the kernel has written first) */
		request(p, "watch_summary");
		wait_end(p, END_WAIT_MS);
		if (p->fail && !ended(p))
			end_leftovers(p);
	}
	code = verdict(p, watched);
	pass_status(p, code);
}

int sup_fork(const struct sup_opts *o, const char *cmd, struct sup *s)
{
	int idp[2], gop[2], sfd;
	sigset_t set, old;
	struct parent p = { .o = o, .cmd = cmd, .ctl = -1, .fail = o->fail_on_deny };
	pid_t parent = getpid();

	if (o->notices) {
		int fd = open(o->notices, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0600);

		p.jsonl = fd >= 0 ? fdopen(fd, "a") : NULL;
		if (!p.jsonl) {
			fprintf(stderr, "egressctl run: notices file %s: %s\n", o->notices,
				strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
	}
	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		sigaddset(&set, forwarded[i]);
	sigaddset(&set, SIGCHLD);
	/* blocked before the fork: none is lost before the signalfd reads them */
	if (pipe2(idp, O_CLOEXEC) || pipe2(gop, O_CLOEXEC) ||
	    sigprocmask(SIG_BLOCK, &set, &old)) {
		fprintf(stderr, "egressctl run: %s\n", strerror(errno));
		return -1;
	}
	fflush(NULL);
	p.child = fork();
	if (p.child < 0) {
		fprintf(stderr, "egressctl run: fork: %s\n", strerror(errno));
		sigprocmask(SIG_SETMASK, &old, NULL);
		return -1;
	}
	if (p.child == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		/* the parent gone (SIGKILL): the command goes too, as when it
		 * was exec'd in egressctl's place */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(EXIT_FENCE);
		if (p.jsonl)
			fclose(p.jsonl);
		close(idp[0]);
		close(gop[1]);
		s->id_fd = idp[1];
		s->go_fd = gop[0];
		return 0;
	}
	close(idp[1]);
	close(gop[0]);
	prctl(PR_SET_DUMPABLE, 0);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0) {
		fprintf(stderr, "egressctl run: signalfd: %s\n", strerror(errno));
		kill(p.child, SIGKILL);
		waitpid(p.child, NULL, 0);
		exit(EXIT_FENCE);
	}
	run_parent(&p, idp[0], gop[1], sfd);
	return -1; /* not reached */
}

int sup_ready(struct sup *s, const char *job_id, bool fail_on_deny)
{
	char go = 0;
	ssize_t r;

	if (dprintf(s->id_fd, "%s %d\n", job_id, fail_on_deny) < 0)
		return -1;
	close(s->id_fd);
	s->id_fd = -1;
	do
		r = read(s->go_fd, &go, 1);
	while (r < 0 && errno == EINTR);
	close(s->go_fd);
	s->go_fd = -1;
	return r == 1 && go == 'g' ? 0 : -1;
}
