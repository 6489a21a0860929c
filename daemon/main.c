// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * egressd: loads and pins the fence, owns job cgroups, turns decision
 * records into spans, serves the control socket. One thread, one epoll
 * loop: enforcement happens in the kernel and never waits for it.
 */
#include <errno.h>
#include <grp.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include <curl/curl.h>

#include "egressd.h"
#include "policy_change/policy_change.h"
#include "access/access.h"
#include "spans/spans.h"
#include "lib/procinfo.h"
#include "loader/loader.h"
#include "decisions/decisions.h"
#include "dns/dns.h"
#include "jobs/jobs.h"
#include "policies/policies.h"
#include "probe/probe.h"
#include "control/control.h"
#include "tamper/tamper.h"
#include "docker/docker.h"
#include "lib/cgroup.h"
#include "lib/sdnotify.h"
#include "lib/util.h"

#define TICK_MS 100 /* upper bound on how long an allow record waits */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: egressd [options]\n"
		"  --config FILE       config file (default /etc/egress-fence/egressd.json)\n"
		"  --policy-dir DIR    policies (default /etc/egress-fence/policies)\n"
		"  --state-dir DIR     journal and state (default /var/lib/egress-fence)\n"
		"  --run-dir DIR       control socket dir (default /run/egress-fence)\n"
		"  --cgroup-root DIR   job cgroups (default <cgroup2 mount>/egress-fence)\n"
		"  --bpffs-dir DIR     BPF pins (default /sys/fs/bpf/egress-fence)\n"
		"  --reset [--force]   detach the fence, remove pins and job cgroups, exit\n"
		"                      (refuses while jobs run unless --force kills them)\n"
		"  -v, --verbose       debug logging\n"
		"  --version, --help\n");
}

enum { O_CONFIG = 256, O_POLICY_DIR, O_STATE_DIR, O_RUN_DIR, O_CGROUP_ROOT, O_BPFFS_DIR,
       O_RESET, O_FORCE, O_VERSION };

struct opts {
	const char *config, *policy_dir, *state_dir, *run_dir, *cgroup_root, *bpffs_dir;
	bool reset, force;
};

static int set_path(char *dst, const char *flag, const char *cfg, const char *def)
{
	const char *v = flag ? flag : cfg ? cfg : def;

	if (!v || !*v)
		return -EINVAL;
	if (strlen(v) >= EF_PATH_MAX_CFG)
		return -ENAMETOOLONG;
	strcpy(dst, v);
	/* keep paths canonical: no trailing slash */
	for (size_t n = strlen(dst); n > 1 && dst[n - 1] == '/'; n--)
		dst[n - 1] = '\0';
	return 0;
}

static const char *cfg_str(const cJSON *c, const char *key)
{
	const cJSON *v = cJSON_GetObjectItem(c, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* "journal": {"group": NAME or GID}: the group that may read the journal
 * (and the state directory it is in). An unknown group is an error, not
 * a journal left to root alone without a word. */
static int journal_group(struct ef_daemon *d, const cJSON *g, const char *path)
{
	const struct group *gr;

	if (!g)
		return 0;
	if (cJSON_IsNumber(g) && g->valuedouble >= 0 && g->valuedouble < 4294967295.0 &&
	    g->valuedouble == (double)(gid_t)g->valuedouble) {
		d->cfg.journal_gid = (gid_t)g->valuedouble;
		return 0;
	}
	gr = cJSON_IsString(g) && g->valuestring[0] ? getgrnam(g->valuestring) : NULL;
	if (!gr) {
		log_err("%s: journal.group: want the name or number of an existing group", path);
		return -EINVAL;
	}
	d->cfg.journal_gid = gr->gr_gid;
	return 0;
}

/* The config file is optional at its default path, required when named. */
static int load_config(struct ef_daemon *d, const struct opts *o)
{
	static const char *const known[] = { "policy_dir", "state_dir", "run_dir", "cgroup_root",
					     "bpffs_dir", "journal", "record_command_line",
					     "service_name", "log_level", "dns", "otlp", "access",
					     "runtime_sockets", "docker", NULL };
	const char *path = o->config ? o->config : "/etc/egress-fence/egressd.json";
	char *text = NULL, def_root[EF_PATH_MAX + 32];
	cJSON *c = NULL;
	int ret;

	ret = ef_read_file(path, 1 << 20, &text, NULL);
	if (ret && !(ret == -ENOENT && !o->config)) {
		log_err("%s: %s", path, strerror(-ret));
		return ret;
	}
	if (text) {
		c = cJSON_Parse(text);
		if (!cJSON_IsObject(c)) {
			log_err("%s: not a JSON object (near byte %ld)", path,
				cJSON_GetErrorPtr() ? (long)(cJSON_GetErrorPtr() - text) : 0L);
			ret = -EINVAL;
			goto out;
		}
		ret = ef_json_known_keys(c, known, "", path);
		if (ret)
			goto out;
		snprintf(d->config_path, sizeof(d->config_path), "%s", path);
	}
	d->cfg.journal_max_file_bytes = 16u << 20;
	d->cfg.journal_max_files = 16;
	d->cfg.journal_gid = (gid_t)-1;
	snprintf(d->cfg.service_name, sizeof(d->cfg.service_name), "egress-fence");
	if (c) {
		const cJSON *j = cJSON_GetObjectItem(c, "journal");
		const cJSON *rc = cJSON_GetObjectItem(c, "record_command_line");

		if (j) {
			const cJSON *mfb = cJSON_GetObjectItem(j, "max_file_bytes");
			const cJSON *mf = cJSON_GetObjectItem(j, "max_files");

			if (cJSON_IsNumber(mfb) && mfb->valuedouble >= 4096)
				d->cfg.journal_max_file_bytes = (uint64_t)mfb->valuedouble;
			if (cJSON_IsNumber(mf) && mf->valuedouble >= 2)
				d->cfg.journal_max_files = (unsigned)mf->valuedouble;
			ret = journal_group(d, cJSON_GetObjectItem(j, "group"), path);
			if (ret)
				goto out;
		}
		d->cfg.record_command_line = cJSON_IsTrue(rc);
		if (cfg_str(c, "service_name"))
			snprintf(d->cfg.service_name, sizeof(d->cfg.service_name), "%s",
				 cfg_str(c, "service_name"));
		if (cfg_str(c, "log_level") && !strcmp(cfg_str(c, "log_level"), "debug"))
			ef_log_level = EF_LOG_DEBUG;
	}

	ret = ef_dns_config(d, cJSON_GetObjectItem(c, "dns"), path);
	if (ret)
		goto out;
	ret = ef_export_config(&d->cfg.otlp, cJSON_GetObjectItem(c, "otlp"), path);
	if (ret)
		goto out;
	ret = ef_access_config(&d->cfg.access, cJSON_GetObjectItem(c, "access"), path);
	if (ret)
		goto out;
	ret = ef_cgroup2_mount(d->cgroup_mount, sizeof(d->cgroup_mount));
	if (ret) {
		log_err("no cgroup2 filesystem in /proc/self/mounts: mount one (mount -t cgroup2 "
			"none /sys/fs/cgroup/unified)");
		goto out;
	}
	snprintf(def_root, sizeof(def_root), "%s/egress-fence", d->cgroup_mount);
	if ((ret = set_path(d->policy_dir, o->policy_dir, cfg_str(c, "policy_dir"),
			    "/etc/egress-fence/policies")) ||
	    (ret = set_path(d->state_dir, o->state_dir, cfg_str(c, "state_dir"),
			    "/var/lib/egress-fence")) ||
	    (ret = set_path(d->run_dir, o->run_dir, cfg_str(c, "run_dir"), "/run/egress-fence")) ||
	    (ret = set_path(d->cgroup_root, o->cgroup_root, cfg_str(c, "cgroup_root"), def_root)) ||
	    (ret = set_path(d->bpffs_dir, o->bpffs_dir, cfg_str(c, "bpffs_dir"),
			    "/sys/fs/bpf/egress-fence"))) {
		log_err("invalid path setting: %s", strerror(-ret));
		goto out;
	}
	snprintf(d->socket_path, sizeof(d->socket_path), "%s/control.sock", d->run_dir);
	/* after run_dir: a runtime's socket may not be under it */
	ret = ef_runtimes_config(d, cJSON_GetObjectItem(c, "runtime_sockets"), path);
	if (!ret)
		ret = ef_docker_config(d, cJSON_GetObjectItem(c, "docker"), path);
out:
	cJSON_Delete(c);
	free(text);
	return ret;
}

static int setup_cgroup_root(struct ef_daemon *d)
{
	int level, ret;

	level = ef_cgroup_level(d->cgroup_mount, d->cgroup_root);
	if (level <= 0) {
		log_err("--cgroup-root %s is not below the cgroup2 mount %s", d->cgroup_root,
			d->cgroup_mount);
		return -EINVAL;
	}
	ret = ef_mkdir_p(d->cgroup_root, 0755);
	if (ret) {
		log_err("creating %s: %s", d->cgroup_root, strerror(-ret));
		return ret;
	}
	ret = ef_cgroup_id(d->cgroup_root, &d->root_cgroup_id);
	if (ret)
		return ret;
	d->job_level = level + 1;
	return 0;
}

static int lock_state(struct ef_daemon *d)
{
	char p[EF_PATH_MAX + 16];
	int fd;

	snprintf(p, sizeof(p), "%s/egressd.lock", d->state_dir);
	fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		log_err("another egressd holds %s", p);
		close(fd);
		return -EBUSY;
	}
	return fd; /* held for the life of the process */
}

static int epoll_add(struct ef_daemon *d, int fd, void *tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = tag };

	return epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static int setup_loop(struct ef_daemon *d)
{
	struct itimerspec its = { .it_interval = { 0, TICK_MS * 1000000L },
				  .it_value = { 0, TICK_MS * 1000000L } };
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	d->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	d->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	d->inofd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (d->epfd < 0 || d->sigfd < 0 || d->timerfd < 0 || d->inofd < 0)
		return -errno;
	timerfd_settime(d->timerfd, 0, &its, NULL);
	if (epoll_add(d, d->sigfd, EF_EP_SIG) || epoll_add(d, d->timerfd, EF_EP_TIMER) ||
	    epoll_add(d, d->inofd, EF_EP_INOTIFY))
		return -errno;
	return 0;
}

static void on_tick(struct ef_daemon *d)
{
	static unsigned ticks;
	uint64_t exp;

	while (read(d->timerfd, &exp, sizeof(exp)) > 0)
		;
	ef_events_drain(d);
	ef_dns_tick(d);
	ef_control_settle(d);
	if (++ticks % (1000 / TICK_MS))
		return;
	ef_events_check_drops(d);
	ef_jobs_check(d);
	ef_probe_tick(d);
	ef_policy_ops_tick(d);
	ef_control_tick(d);
	ef_runtimes_tick(d);
	ef_docker_tick(d);
	ef_pols_tick(d, false);
	ef_journal_sync(&d->journal);
}

static void run_loop(struct ef_daemon *d)
{
	struct epoll_event evs[32];

	while (!d->stop) {
		int n = epoll_wait(d->epfd, evs, 32, -1);

		if (n < 0 && errno != EINTR) {
			log_err("epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			void *tag = evs[i].data.ptr;

			if (tag == EF_EP_RING) {
				ef_events_drain(d);
			} else if (tag == EF_EP_TIMER) {
				on_tick(d);
			} else if (tag == EF_EP_INOTIFY) {
				ef_jobs_on_inotify(d);
				ef_control_settle(d);
			} else if (tag == EF_EP_NETLINK) {
				ef_probe_netlink_io(d);
			} else if (tag == EF_EP_LISTEN) {
				ef_control_accept(d);
			} else if (tag == EF_EP_SIG) {
				struct signalfd_siginfo si;

				while (read(d->sigfd, &si, sizeof(si)) == sizeof(si))
					if (si.ssi_signo != SIGHUP)
						d->stop = true;
			} else if (*(const int *)tag == EF_EPK_CLIENT) {
				ef_control_io(d, tag, evs[i].events);
			} else if (*(const int *)tag == EF_EPK_RUNTIME) {
				ef_runtimes_accept(d, tag);
			} else if (*(const int *)tag == EF_EPK_RUNTIME_CONN) {
				ef_runtimes_conn_io(d, tag);
			} else if (*(const int *)tag == EF_EPK_DOCKER) {
				ef_docker_io(d);
			} else {
				ef_dns_io(d, tag, evs[i].events);
			}
		}
		ef_dns_reap(d);
	}
}

/* The calls from a part to one above it (egressd.h) */
static const struct ef_upcalls upcalls = {
	.events_consume = ef_events_consume,
	.events_drain = ef_events_drain,
	.event_record = ef_event_record,
	.events_dns_fold = ef_events_dns_fold,
	.job_save = ef_job_save,
	.control_push = ef_control_push,
};

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "config", required_argument, NULL, O_CONFIG },
		{ "policy-dir", required_argument, NULL, O_POLICY_DIR },
		{ "state-dir", required_argument, NULL, O_STATE_DIR },
		{ "run-dir", required_argument, NULL, O_RUN_DIR },
		{ "cgroup-root", required_argument, NULL, O_CGROUP_ROOT },
		{ "bpffs-dir", required_argument, NULL, O_BPFFS_DIR },
		{ "reset", no_argument, NULL, O_RESET },
		{ "force", no_argument, NULL, O_FORCE },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, O_VERSION },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct ef_daemon *d = calloc(1, sizeof(*d));
	struct opts o = { 0 };
	int c, ret = 1, lockfd = -1;

	if (!d)
		return 1;
	d->epfd = d->sigfd = d->timerfd = d->inofd = d->listenfd = d->netns_fd = -1;
	d->up = &upcalls;
	while ((c = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
		switch (c) {
		case O_CONFIG: o.config = optarg; break;
		case O_POLICY_DIR: o.policy_dir = optarg; break;
		case O_STATE_DIR: o.state_dir = optarg; break;
		case O_RUN_DIR: o.run_dir = optarg; break;
		case O_CGROUP_ROOT: o.cgroup_root = optarg; break;
		case O_BPFFS_DIR: o.bpffs_dir = optarg; break;
		case O_RESET: o.reset = true; break;
		case O_FORCE: o.force = true; break;
		case 'v': ef_log_level = EF_LOG_DEBUG; break;
		case O_VERSION: printf("egressd %s\n", EF_VERSION); free(d); return 0;
		case 'h': usage(stdout); free(d); return 0;
		default: usage(stderr); free(d); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "egressd: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		free(d);
		return 2;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		log_err("libcurl would not initialise");
		free(d);
		return 1;
	}
	if (geteuid() != 0) {
		log_err("egressd must run as root (it loads BPF programs and owns cgroups)");
		free(d);
		return 1;
	}
	if (load_config(d, &o) || setup_cgroup_root(d))
		goto cleanup;
	if (ef_mkdir_p(d->state_dir, 0750) || ef_mkdir_p(d->run_dir, 0755)) {
		log_err("creating %s or %s: %s", d->state_dir, d->run_dir, strerror(errno));
		goto cleanup;
	}
	lockfd = lock_state(d);
	if (lockfd < 0)
		goto cleanup;
	if (o.reset) {
		char p[EF_PATH_MAX + 32];

		if (ef_bpf_reset(d, o.force))
			goto cleanup;
		/* the journal stays: it is the record of what happened */
		snprintf(p, sizeof(p), "%s/jobs", d->state_dir);
		ef_rm_rf(p);
		snprintf(p, sizeof(p), "%s/policies", d->state_dir);
		ef_rm_rf(p);
		{
			int sfd = open(d->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

			/* what root jobs wrote: never a symlink followed */
			if (sfd >= 0) {
				ef_overlay_remove_at(sfd, "overlay");
				close(sfd);
			}
		}
		log_info("fence reset: %s and %s removed", d->bpffs_dir, d->cgroup_root);
		ret = 0;
		goto cleanup;
	}
	d->started_ns = ef_now_realtime_ns();
	d->next_serial = 1;
	/* before anything is loaded: refuse on a kernel without what the fence needs */
	if (ef_features_probe(d))
		goto cleanup;
	if (setup_loop(d) || ef_bpf_setup(d))
		goto cleanup;
	/* the journal's group reaches it through the state directory */
	if (d->cfg.journal_gid != (gid_t)-1 && chown(d->state_dir, (uid_t)-1, d->cfg.journal_gid)) {
		log_err("giving %s group %u: %s", d->state_dir, (unsigned)d->cfg.journal_gid,
			strerror(errno));
		goto cleanup;
	}
	if (ef_journal_open(&d->journal, d->state_dir, d->cfg.journal_max_file_bytes,
			    d->cfg.journal_max_files, d->cfg.journal_gid)) {
		log_err("opening the journal in %s: %s", d->state_dir, strerror(errno));
		goto cleanup;
	}
	if (ef_resource_init(&d->res, d->cfg.service_name) || !(d->procs = ef_proc_cache_new()) ||
	    ef_pctx_setup(d))
		goto cleanup;
	/* after the signals are blocked (setup_loop): the thread inherits the mask */
	ret = ef_export_start(&d->exporter, &d->cfg.otlp, &d->journal, d->state_dir, &d->res);
	if (ret) {
		log_err("starting the OTLP exporter: %s", strerror(-ret));
		ret = 1;
		goto cleanup;
	}
	if (ef_pol_restore(d) || ef_events_setup(d) || ef_dns_netns_init(d))
		goto cleanup;
	{
		int err = ef_probe_setup(d);

		/* the fence does not depend on it: go on without host_address */
		if (err)
			log_warn("probe detection: cannot list this host's addresses (%s): "
				 "touching them is not flagged as host_address",
				 strerror(-err));
	}
	{
		char *s = NULL;
		char p[EF_PATH_MAX + 32];

		snprintf(p, sizeof(p), "%s/rb-drops-reported", d->state_dir);
		if (!ef_read_file(p, 64, &s, NULL))
			d->rb_drops_reported = strtoull(s, NULL, 10);
		free(s);
	}
	if (ef_overlay_init(d)) {
		log_err("creating %s: %s", d->overlay_dir, strerror(errno));
		goto cleanup;
	}
	if (ef_jobs_restore(d))
		goto cleanup;
	/* layers of jobs that ended while egressd was away */
	ef_overlay_sweep(d, 0);
	if (epoll_add(d, ring_buffer__epoll_fd(d->rb), EF_EP_RING))
		goto cleanup;
	ef_events_drain(d);
	if (ef_runtimes_setup(d) || ef_docker_setup(d))
		goto cleanup;
	if (ef_control_setup(d)) {
		log_err("control socket %s: %s", d->socket_path, strerror(errno));
		goto cleanup;
	}
	log_info("ready: cgroup root %s (job level %d), pins %s, socket %s, socket hook %s",
		 d->cgroup_root, d->job_level, d->bpffs_dir, d->socket_path,
		 d->lsm ? "BPF LSM" : "cgroup/sock_create (inet only)");
	/* fence loaded, jobs adopted, control socket listening: ready */
	ef_sd_notifyf("READY=1\nSTATUS=fencing jobs under %s; control socket %s",
		      d->cgroup_root, d->socket_path);
	run_loop(d);
	ef_sd_notify("STOPPING=1\nSTATUS=stopping; the fence stays in place");
	ef_events_drain(d);
	ef_spans_flush(d);
	ef_events_check_drops(d);
	log_info("stopping; the fence stays in place (pinned in %s)", d->bpffs_dir);
	ret = 0;
cleanup:
	ef_control_close(d);
	ef_runtimes_close(d);
	ef_docker_close(d);
	ef_dns_close(d);
	ef_probe_close(d);
	if (d->rb)
		ef_events_close(d);
	/* the exporter gets a moment to send what the last drain wrote */
	ef_export_stop(&d->exporter);
	ef_journal_close(&d->journal);
	ef_export_config_free(&d->cfg.otlp);
	ef_access_free(&d->cfg.access);
	ef_policy_ops_free(d);
	ef_resource_fini(&d->res);
	ef_proc_cache_free(d->procs);
	ef_pctx_free(d);
	ef_jobs_free(d);
	if (d->skel)
		ef_bpf_close(d);
	if (d->epfd >= 0)
		close(d->epfd);
	if (d->netns_fd >= 0)
		close(d->netns_fd);
	if (d->sigfd >= 0)
		close(d->sigfd);
	if (d->timerfd >= 0)
		close(d->timerfd);
	if (d->inofd >= 0)
		close(d->inofd);
	if (lockfd >= 0)
		close(lockfd);
	free(d);
	curl_global_cleanup();
	return ret;
}
