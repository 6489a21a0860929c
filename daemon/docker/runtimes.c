// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The host's container runtimes, out of a job's reach.
 *
 * dockerd, containerd, CRI-O, BuildKit and a system Podman act as root for
 * whoever connects to their unix socket: a job that reaches one asks it for
 * a container with the host's network, or the host's / mounted, and its
 * processes live in the runtime's cgroups, outside the fence. The socket's
 * mode is no barrier: a job may run as root, in the docker group, or find
 * the socket made world-writable by an administrator.
 *
 * So egressctl run covers each runtime's socket in the job's mount
 * namespace (cli/userns.c cover_runtimes()) with one of egressd's: a
 * listener per path, <run_dir>/runtimes/N.sock, mode 0666. The path
 * resolves to the cover however the job names it (a symlink, /var/run,
 * /proc/self/root), and the cover stays when the runtime restarts where
 * the cover is on the runtime's own directory. A job that connects gets a
 * Docker API error naming the reason (docker, podman and the SDKs print
 * it), and the attempt is an egress.tamper span (tamper_runtime) that
 * names the socket. A connection from outside every job is closed.
 *
 * The paths are the runtimes' defaults and those of the config file's
 * "runtime_sockets"; the for_run status tells egressctl run (ef_runtimes_
 * status()).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "egressd.h"
#include "docker.h"
#include "access/access.h"
#include "tamper/tamper.h"
#include "lib/util.h"

/* the runtimes' own paths; a socket in a directory of the runtime's own
 * has the directory covered (cli/userns.c) */
static const char *const defaults[] = {
	"/run/docker.sock",
	"/run/containerd/containerd.sock",
	"/run/podman/podman.sock",
	"/run/crio/crio.sock",
	"/run/buildkit/buildkitd.sock",
	"/run/docker/containerd/containerd.sock", /* dockerd's own containerd */
	"/run/cri-dockerd.sock",		  /* the CRI API of dockerd (Mirantis) */
	"/run/k3s/containerd/containerd.sock",	  /* k3s's and RKE2's containerd */
	"/run/libvirt/libvirt-sock",		  /* libvirtd: a VM with the host's disks */
	"/var/snap/lxd/common/lxd/unix.socket",	  /* LXD */
};

static const char reply_fmt[] =
	"HTTP/1.1 403 Forbidden\r\n"
	"Content-Type: application/json\r\n"
	"Api-Version: 1.41\r\n"
	"Connection: close\r\n"
	"Content-Length: %d\r\n"
	"\r\n"
	"%s";

static const char reply_msg[] =
	"{\"message\":\"egress-fence: this job may not use the host's container runtime at "
	"%s (it acts as root on the host, outside the fence); the attempt is recorded\"}\n";

/* Connections answered and waiting for the job to close its end: a unix
 * socket closed with unread data in it resets the peer, which would then
 * lose the answer. Drained as data comes, closed at EOF or after
 * CONN_LINGER_NS; the oldest gives way when all are taken. */
#define CONNS 64
#define CONN_LINGER_NS (5ull * 1000000000ull)

struct conn {
	int kind; /* EF_EPK_RUNTIME_CONN */
	int fd;
	uint64_t since;
};

static struct conn conns[CONNS];

/* Connections answered in full (the lookups, the record, the error) in a
 * second, from all jobs: past it, one is closed on at once, so that a job
 * connecting in a loop cannot keep the event loop from the ring buffer and
 * the control socket. Records are folded per job anyway. */
#define BUDGET 256
static int budget = BUDGET;

static void conn_close(struct ef_daemon *d, struct conn *c)
{
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	/* the kind stays: an event of this batch may still name the slot */
	c->fd = -1;
}

static void conn_keep(struct ef_daemon *d, int fd, uint64_t now)
{
	struct conn *c = NULL, *old = NULL;
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };

	for (int i = 0; i < CONNS && !c; i++) {
		if (conns[i].kind != EF_EPK_RUNTIME_CONN || conns[i].fd < 0)
			c = &conns[i];
		else if (!old || conns[i].since < old->since)
			old = &conns[i];
	}
	if (!c) {
		conn_close(d, old);
		c = old;
	}
	ev.data.ptr = c;
	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev)) {
		close(fd);
		return;
	}
	c->kind = EF_EPK_RUNTIME_CONN;
	c->fd = fd;
	c->since = now;
}

void ef_runtimes_conn_io(struct ef_daemon *d, void *tag)
{
	struct conn *c = tag;
	char buf[4096];
	ssize_t n;
	int i = 0;

	if (c->fd < 0)
		return;
	/* what the job sends is read and dropped, a bounded amount a wakeup */
	while ((n = read(c->fd, buf, sizeof(buf))) > 0 && ++i < 16)
		;
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		conn_close(d, c);
}

void ef_runtimes_tick(struct ef_daemon *d)
{
	uint64_t now = ef_now_boot_ns();

	for (int i = 0; i < CONNS; i++)
		if (conns[i].kind == EF_EPK_RUNTIME_CONN && conns[i].fd >= 0 &&
		    now - conns[i].since > CONN_LINGER_NS)
			conn_close(d, &conns[i]);
	/* listeners paused for want of descriptors, and the budget, anew */
	budget = BUDGET;
	for (int i = 0; i < d->n_runtimes; i++) {
		struct ef_runtime *r = &d->runtimes[i];
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = r };

		if (r->paused && r->fd >= 0 && !epoll_ctl(d->epfd, EPOLL_CTL_MOD, r->fd, &ev))
			r->paused = false;
	}
}

/* An absolute path of plain components, printable, no quote or backslash
 * (it goes into the Docker API error's JSON as it is). */
static bool path_ok(const char *p)
{
	size_t n = strlen(p);

	if (p[0] != '/' || n < 2 || n >= 256)
		return false;
	for (const char *c = p; *c; c++)
		if (*c < 0x21 || *c > 0x7e || *c == '"' || *c == '\\')
			return false;
	for (const char *c = p; *c;) {
		size_t k;

		c++; /* the slash */
		k = strcspn(c, "/");
		if (k == 0 || (k == 1 && c[0] == '.') || (k == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		c += k;
	}
	return true;
}

/* Directories of /run other services share: a runtime's socket there is not
 * in a directory of its own, and the whole directory would be covered in
 * unprivileged jobs (cli/userns.c rebuild_run()). */
static const char *shared_run_dir(const char *p, const char *run_dir)
{
	static const char *const shared[] = {
		"systemd", "user", "lock", "dbus", "udev", "netns", "shm", "mount", "log",
		"credentials", "sudo", "utmp", "initramfs", "sendsigs.omit.d", "tmpfiles.d",
	};
	size_t k, rl = strlen(run_dir);

	if (strncmp(p, "/run/", 5))
		return NULL;
	if (!strncmp(p, run_dir, rl) && p[rl] == '/')
		return run_dir;
	k = strcspn(p + 5, "/");
	if (!p[5 + k])
		return NULL; /* directly in /run */
	for (size_t i = 0; i < sizeof(shared) / sizeof(shared[0]); i++)
		if (strlen(shared[i]) == k && !strncmp(p + 5, shared[i], k))
			return shared[i];
	return NULL;
}

static int add_path(struct ef_daemon *d, const char *p, const char *where)
{
	if (!path_ok(p)) {
		log_err("%s: \"runtime_sockets\": %s is not a plain absolute path (printable, "
			"no quotes, no . or .. or empty components, under 256 bytes)", where, p);
		return -EINVAL;
	}
	if (shared_run_dir(p, d->run_dir)) {
		log_err("%s: \"runtime_sockets\": %s is under /run/%s, which other services share "
			"(unprivileged jobs would lose all of it): name a socket directly in /run or "
			"in a runtime's own directory", where, p, shared_run_dir(p, d->run_dir));
		return -EINVAL;
	}
	for (int i = 0; i < d->n_runtimes; i++)
		if (!strcmp(d->runtimes[i].path, p))
			return 0;
	if (d->n_runtimes >= EF_RUNTIMES_MAX) {
		log_err("%s: \"runtime_sockets\": more than %d sockets", where,
			EF_RUNTIMES_MAX - (int)(sizeof(defaults) / sizeof(defaults[0])));
		return -E2BIG;
	}
	snprintf(d->runtimes[d->n_runtimes].path, EF_PATH_MAX, "%s", p);
	d->runtimes[d->n_runtimes].fd = -1;
	d->runtimes[d->n_runtimes].kind = EF_EPK_RUNTIME;
	d->n_runtimes++;
	return 0;
}

int ef_runtimes_config(struct ef_daemon *d, const cJSON *v, const char *where)
{
	const cJSON *p;
	int ret;

	d->n_runtimes = 0;
	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
		add_path(d, defaults[i], where);
	if (!v)
		return 0;
	if (!cJSON_IsArray(v)) {
		log_err("%s: \"runtime_sockets\" must be an array of paths", where);
		return -EINVAL;
	}
	cJSON_ArrayForEach(p, v) {
		if (!cJSON_IsString(p)) {
			log_err("%s: \"runtime_sockets\" must be an array of paths", where);
			return -EINVAL;
		}
		ret = add_path(d, p->valuestring, where);
		if (ret)
			return ret;
	}
	return 0;
}

int ef_runtimes_setup(struct ef_daemon *d)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[EF_PATH_MAX + 16];
	int ret;

	snprintf(dir, sizeof(dir), "%s/runtimes", d->run_dir);
	if (ef_mkdir_p(dir, 0755) || chmod(dir, 0755))
		return -errno;
	for (int i = 0; i < d->n_runtimes; i++) {
		struct ef_runtime *r = &d->runtimes[i];
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = r };

		if ((size_t)snprintf(r->sock, sizeof(r->sock), "%s/%d.sock", dir, i) >=
		    sizeof(sa.sun_path)) {
			log_err("%s/%d.sock: longer than a socket path may be", dir, i);
			return -ENAMETOOLONG;
		}
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", r->sock);
		unlink(r->sock);
		r->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (r->fd < 0 || bind(r->fd, (struct sockaddr *)&sa, sizeof(sa)) ||
		    chmod(r->sock, 0666) || listen(r->fd, 64) ||
		    epoll_ctl(d->epfd, EPOLL_CTL_ADD, r->fd, &ev)) {
			ret = -errno;
			log_err("%s (cover of %s): %s", r->sock, r->path, strerror(errno));
			return ret;
		}
	}
	return 0;
}

void ef_runtimes_close(struct ef_daemon *d)
{
	for (int i = 0; i < CONNS; i++)
		if (conns[i].kind == EF_EPK_RUNTIME_CONN && conns[i].fd >= 0)
			conn_close(d, &conns[i]);
	for (int i = 0; i < d->n_runtimes; i++)
		if (d->runtimes[i].fd >= 0) {
			close(d->runtimes[i].fd);
			d->runtimes[i].fd = -1;
		}
}

/* One connection to a cover: the connector's job, if any, gets the record
 * and the error; anyone else is closed on. */
static bool refuse(struct ef_daemon *d, struct ef_runtime *r, int fd, uint64_t accepted_ns,
		   bool *taken)
{
	struct ucred cr;
	socklen_t sl = sizeof(cr);
	struct ef_peer peer = { .pidfd = -1 };
	struct ef_job_rec *job = NULL;
	char msg[EF_PATH_MAX + 256], reply[EF_PATH_MAX + 512];
	int pidfd, n, ret;
	pid_t pid;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &sl) || cr.pid <= 0)
		return false;
	pidfd = ef_peer_pidfd(d, fd, cr.pid, accepted_ns);
	ret = ef_pidfd_job(d, pidfd, &job, &pid);
	if (pidfd >= 0)
		close(pidfd);
	if (ret || !job)
		return false;
	peer.pid = pid;
	peer.uid = cr.uid;
	peer.gid = cr.gid;
	/* a job whose policy says "docker": this cover is its Docker endpoint */
	if (!strcmp(r->path, EF_DOCKER_ENDPOINT) && (job->pol->pol->flags & EF_PF_DOCKER) &&
	    !ef_docker_take(d, job, &peer, fd)) {
		*taken = true;
		return true;
	}
	ef_tamper_user(d, job, &peer, true, EF_R_TAMPER_RUNTIME, EF_TAMPER_RUNTIME, r->path);
	snprintf(msg, sizeof(msg), reply_msg, r->path);
	n = snprintf(reply, sizeof(reply), reply_fmt, (int)strlen(msg), msg);
	/* a full buffer loses the message, never the loop */
	if (write(fd, reply, (size_t)n) < 0)
		return false;
	shutdown(fd, SHUT_WR);
	return true;
}

void ef_runtimes_accept(struct ef_daemon *d, struct ef_runtime *r)
{
	/* a job that floods the cover costs a bounded amount per wakeup */
	for (int i = 0; i < 64; i++) {
		int fd = accept4(r->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		uint64_t now = ef_now_boot_ns();
		bool taken = false;

		if (fd < 0)
			return;
		if (refuse(d, r, fd, now, &taken)) {
			if (!taken)
				conn_keep(d, fd, now);
		} else if (!taken) {
			close(fd);
		}
	}
}

void ef_runtimes_status(const struct ef_daemon *d, cJSON *o)
{
	cJSON *a = cJSON_AddArrayToObject(o, "runtime_sockets");

	for (int i = 0; a && i < d->n_runtimes; i++) {
		cJSON *e = cJSON_CreateObject();

		if (!e)
			return;
		cJSON_AddStringToObject(e, "path", d->runtimes[i].path);
		cJSON_AddStringToObject(e, "cover", d->runtimes[i].sock);
		cJSON_AddItemToArray(a, e);
	}
}
