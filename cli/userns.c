// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Same-user isolation. An unprivileged job runs as the user that started
 * it, and so do processes outside the fence: the CI runner's shell that ran
 * `egressctl run`, its agent, a language server. Without Yama
 * (ptrace_scope >= 1) the job could ptrace one of them, write its memory
 * through /proc/PID/mem or process_vm_writev(), or take its sockets with
 * pidfd_getfd(), and make it send the data unfenced.
 *
 * So egressctl run puts an unprivileged job in a user namespace of its
 * own, its uid and gid mapped to themselves: file ownership, ids and
 * permissions stay what they were (a job cannot gain anything, the
 * mapping is the one any user may make), but every one of those calls
 * goes through the kernel's ptrace access check, and commoncap
 * (cap_ptrace_access_check) refuses a tracer in a child user namespace
 * that lacks CAP_SYS_PTRACE in the target's namespace: the job can trace
 * its own processes and no one else's. A capability the namespace gives
 * egressctl is gone at exec (the job's uid is not root in it), and
 * no_new_privs is set all the same, as the kernel would otherwise not
 * demand it for the seccomp filter.
 *
 * The same step gives the job a mount namespace where the host's services
 * that act for whoever asks are covered (hide_host_services() below).
 *
 * Root jobs are not put in a namespace: root in a child namespace is not
 * root on the host's files (part 2 of the hostile-job work covers them).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bus_addr.h"
#include "overlay.h"
#include "userns.h"

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;
	size_t n = strlen(text);

	if (fd < 0)
		return -errno;
	if (write(fd, text, n) != (ssize_t)n)
		ret = -errno;
	close(fd);
	return ret;
}

/*
 * Services of the host that act for whoever connects: a resolver looks a
 * name up, a bus or a service manager starts a process, a terminal
 * multiplexer types a command into a shell. What they do happens outside
 * the fence, past the job's DNS proxy and hooks (no judgement, no tunnel
 * detector, no record). In the job's own mount namespace (a slave of the
 * host's: nothing made here goes back) their endpoints are covered.
 *
 * Directories are covered by an empty tmpfs: a socket made there later
 * stays hidden, and so does one the host deletes and makes anew (a
 * service's restart), which would take a mount on the socket itself away
 * with it. So the cover goes on a directory the host does not remove:
 *
 * - /run/dbus: the D-Bus system bus (resolve1, systemd1, ...);
 * - /run/user, with a private, writable /run/user/UID inside: the user's
 *   runtime directory (session bus, systemd --user, gpg-agent's dirmngr,
 *   which fetches keys from a server the caller names); logind removes
 *   and makes /run/user/UID at logout and login;
 * - /run/systemd/resolve (systemd-resolved's varlink sockets), with a copy
 *   of the resolv.conf files /etc/resolv.conf names; glibc then asks
 *   the name servers there, and the fence takes those queries to the proxy;
 * - /run/nscd;
 * - tmux's and screen's directories (/tmp/tmux-UID, $TMUX_TMPDIR/tmux-UID,
 *   /run/screen/S-USER, $SCREENDIR), XDG_RUNTIME_DIR where it is another
 *   directory of the user's.
 *
 * Sockets named by the environment in directories the job needs (a bus
 * address of DBUS_SESSION_BUS_ADDRESS or DBUS_SYSTEM_BUS_ADDRESS, the tmux
 * server of $TMUX) are covered by /dev/null.
 *
 * Each cover is made on the file opened with O_PATH | O_NOFOLLOW and
 * checked (mounted on /proc/self/fd/N), so a symlink swapped in by another
 * process of the user does not move it. The covers are locked to the
 * namespace: the job, without capabilities in it, cannot unmount them, nor
 * can a namespace it makes. Afterwards the working directory is entered
 * again by its path, so that it is not a way under a cover; egressctl run
 * closes inherited directory descriptors for the same reason (inherit.c).
 * Not covered: an abstract unix socket (per network namespace, which the
 * job shares with the host), and any other socket of a same-user process
 * (docs/threat-model.md).
 */

enum cover { COVER_SOCKET, COVER_DIR };

/* 0 covered or nothing there to cover; -errno having said why in why */
static int cover(const char *p, enum cover what, const char *opts, char *why, size_t len)
{
	char target[64];
	struct stat st;
	int fd, e = 0;

	fd = open(p, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0; /* not there, or not reachable by the user: nor by the job */
	if (fstat(fd, &st) != 0 ||
	    !(what == COVER_SOCKET ? S_ISSOCK(st.st_mode) : S_ISDIR(st.st_mode))) {
		close(fd);
		return 0;
	}
	snprintf(target, sizeof(target), "/proc/self/fd/%d", fd);
	if (what == COVER_SOCKET ? mount("/dev/null", target, NULL, MS_BIND, NULL)
				 : mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV,
					 opts ? opts : "mode=0700,size=10%"))
		e = errno;
	close(fd);
	if (e)
		snprintf(why, len, "covering %s: %s", p, strerror(e));
	return -e;
}

/* The regular files of dir (resolv.conf and its kin), kept to be put back. */
struct kept {
	char name[64];
	char *data;
	size_t len;
};

#define KEPT_MAX 8
#define KEPT_SIZE 65536

static int keep_files(const char *dir, struct kept *k)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)) && n < KEPT_MAX) {
		char path[512];
		struct stat st;
		ssize_t r;
		int fd;

		if (de->d_name[0] == '.' || strlen(de->d_name) >= sizeof(k[n].name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0)
			continue;
		if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > KEPT_SIZE ||
		    !(k[n].data = malloc(KEPT_SIZE))) {
			close(fd);
			continue;
		}
		r = read(fd, k[n].data, KEPT_SIZE);
		close(fd);
		if (r < 0) {
			free(k[n].data);
			continue;
		}
		k[n].len = (size_t)r;
		snprintf(k[n].name, sizeof(k[n].name), "%s", de->d_name);
		n++;
	}
	closedir(d);
	return n;
}

static int put_back(const char *dir, struct kept *k, int n, char *why, size_t len)
{
	int ret = 0;

	for (int i = 0; i < n; i++) {
		char path[512];
		int fd;

		snprintf(path, sizeof(path), "%s/%s", dir, k[i].name);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (!ret && (fd < 0 || write(fd, k[i].data, k[i].len) != (ssize_t)k[i].len)) {
			ret = -errno;
			snprintf(why, len, "copying %s into its cover: %s", path, strerror(errno));
		}
		if (fd >= 0)
			close(fd);
		free(k[i].data);
	}
	return ret;
}

/* the resolver's directory: covered, its resolv.conf files copied back */
static int cover_resolved(char *why, size_t len)
{
	static const char dir[] = "/run/systemd/resolve";
	struct kept k[KEPT_MAX];
	struct stat st;
	int n, ret;

	if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return 0;
	n = keep_files(dir, k);
	ret = cover(dir, COVER_DIR, "mode=0755,size=1m", why, len);
	if (ret) {
		while (n--)
			free(k[n].data);
		return ret;
	}
	return put_back(dir, k, n, why, len);
}

/* /run/user: covered, with the job's own /run/user/UID */
static int cover_run_user(uid_t uid, char *why, size_t len)
{
	char p[64];
	int ret;

	ret = cover("/run/user", COVER_DIR, "mode=0755,size=10%", why, len);
	if (ret)
		return ret;
	snprintf(p, sizeof(p), "/run/user/%u", (unsigned)uid);
	if (access("/run/user", F_OK) == 0 && mkdir(p, 0700) != 0 && errno != EEXIST) {
		ret = -errno;
		snprintf(why, len, "making %s: %s", p, strerror(errno));
	}
	return ret;
}

/* each unix:path= of a bus address list (relative: to the working directory) */
static int cover_bus(const char *addr, const char *cwd, char *why, size_t len)
{
	char path[4096], full[8192];

	while (addr && ef_bus_next_path(&addr, path, sizeof(path))) {
		int ret;

		if (path[0] != '/' && cwd)
			snprintf(full, sizeof(full), "%s/%s", cwd, path);
		else
			snprintf(full, sizeof(full), "%s", path);
		ret = cover(full, COVER_SOCKET, NULL, why, len);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * The host's container runtimes (dockerd, containerd, Podman, CRI-O,
 * BuildKit: egressd's status "runtime_sockets", daemon/docker/runtimes.c) act as
 * root for whoever connects. Each socket is covered by egressd's listener
 * for it, which answers with a Docker API error and records the attempt:
 *
 * - a socket in a directory of the runtime's own under /run
 *   (/run/containerd/containerd.sock) has the directory covered by a
 *   tmpfs holding only the cover: the runtime's other sockets (ttrpc,
 *   shims) are gone, and the cover stays when the runtime restarts;
 * - any other (/run/docker.sock) has the cover bound on the socket.
 *
 * Whatever path the job takes to it (/var/run, a symlink, a bind mount of
 * its own), it reaches the cover. The covers are opened before anything
 * else is mounted (ef_runtime_covers_open()).
 */
int ef_runtime_covers_open(const struct ef_runtime_cover *rc, int n, int *fds, char *why,
			   size_t len)
{
	struct stat st;

	for (int i = 0; i < n; i++)
		fds[i] = -1;
	for (int i = 0; i < n; i++) {
		fds[i] = open(rc[i].cover, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fds[i] < 0 || fstat(fds[i], &st) || !S_ISSOCK(st.st_mode)) {
			int e = fds[i] < 0 ? errno : ENOTSOCK;

			snprintf(why, len, "egressd's cover of %s, %s: %s", rc[i].path, rc[i].cover,
				 strerror(e));
			ef_runtime_covers_close(fds, n);
			return -e;
		}
	}
	return 0;
}

void ef_runtime_covers_close(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0) {
			close(fds[i]);
			fds[i] = -1;
		}
}

/* the cover (an O_PATH descriptor of egressd's socket) bound on the file
 * opened as fd */
static int bind_cover(int cover_fd, int fd, const char *path, char *why, size_t len)
{
	char src[64], dst[64];

	snprintf(src, sizeof(src), "/proc/self/fd/%d", cover_fd);
	snprintf(dst, sizeof(dst), "/proc/self/fd/%d", fd);
	if (mount(src, dst, NULL, MS_BIND, NULL) == 0)
		return 0;
	snprintf(why, len, "covering %s: %s", path, strerror(errno));
	return -errno;
}

/*
 * /run, made anew for an unprivileged job: a tmpfs with each entry the host
 * had there at the job's start bound back (recursively: mounts below come
 * along), but the container runtimes' (a socket directly in /run, and the
 * top directory of each runtime's own, /run/containerd, /run/docker), whose
 * covers go in their place. The tmpfs is the job's namespace's own and
 * read-only: a runtime that deletes and makes its socket or directory anew
 * (a restart), or one started after the job, makes nothing the job can
 * reach, where a cover on the host's own entry would go with the entry. A
 * symlink is made again as it was; an entry the user cannot reach (a root
 * directory of mode 0700) is left out, as unreachable as before.
 */
#define RUN_ENTRIES_MAX 1024

/* the top entry of /run a runtime's socket is under ("docker.sock",
 * "containerd"), or NULL if it is not under /run */
static const char *run_top(const char *path, char *buf, size_t len)
{
	const char *rest;
	size_t n;

	if (strncmp(path, "/run/", 5))
		return NULL;
	rest = path + 5;
	n = strcspn(rest, "/");
	if (!n || n >= len)
		return NULL;
	snprintf(buf, len, "%.*s", (int)n, rest);
	return buf;
}

static bool run_excluded(const char *name, const struct ef_runtime_cover *rc, int n)
{
	char top[256];

	for (int i = 0; i < n; i++)
		if (run_top(rc[i].path, top, sizeof(top)) && !strcmp(top, name))
			return true;
	return false;
}

/* the cover of path (under the new /run) on a file made for it, with its
 * directories */
static int run_cover(const char *path, int cover_fd, char *why, size_t len)
{
	char p[4096];
	int f;

	snprintf(p, sizeof(p), "%s", path);
	for (char *q = p + 5; (q = strchr(q, '/')); q++) {
		*q = '\0';
		if (mkdir(p, 0755) && errno != EEXIST) {
			snprintf(why, len, "the cover of %s: making %s: %s", path, p, strerror(errno));
			return -errno;
		}
		*q = '/';
	}
	f = open(p, O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (f < 0) {
		snprintf(why, len, "the cover of %s: %s", path, strerror(errno));
		return -errno;
	}
	{
		int ret = bind_cover(cover_fd, f, path, why, len);

		close(f);
		return ret;
	}
}

static int rebuild_run(const struct ef_runtime_cover *rc, int n_rc, const int *rc_fds, char *why,
		       size_t len)
{
	char (*names)[256] = calloc(RUN_ENTRIES_MAX, sizeof(*names));
	int orig = -1, n = 0, ret = 0;
	struct dirent *de;
	DIR *dh = NULL;

	if (!names)
		return snprintf(why, len, "out of memory"), -ENOMEM;
	orig = open("/run", O_PATH | O_DIRECTORY | O_CLOEXEC);
	dh = opendir("/run");
	if (orig < 0 || !dh) {
		ret = -errno;
		snprintf(why, len, "reading /run: %s", strerror(errno));
		goto out;
	}
	while ((de = readdir(dh))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    run_excluded(de->d_name, rc, n_rc) || strlen(de->d_name) >= sizeof(*names))
			continue;
		if (n >= RUN_ENTRIES_MAX) {
			ret = -E2BIG;
			snprintf(why, len, "more than %d entries in /run", RUN_ENTRIES_MAX);
			goto out;
		}
		snprintf(names[n++], sizeof(*names), "%s", de->d_name);
	}
	if (mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV,
		  "mode=0755,size=1m,nr_inodes=8192") != 0) {
		ret = -errno;
		snprintf(why, len, "a /run of the job's own: %s", strerror(errno));
		goto out;
	}
	for (int i = 0; i < n; i++) {
		char src[4096], dst[4096], target[4096];
		struct stat st;
		ssize_t l;

		if (fstatat(orig, names[i], &st, AT_SYMLINK_NOFOLLOW))
			continue;
		snprintf(src, sizeof(src), "/proc/self/fd/%d/%s", orig, names[i]);
		snprintf(dst, sizeof(dst), "/run/%s", names[i]);
		if (S_ISLNK(st.st_mode)) {
			l = readlinkat(orig, names[i], target, sizeof(target) - 1);
			if (l > 0) {
				target[l] = '\0';
				(void)!symlink(target, dst);
			}
			continue;
		}
		if (S_ISDIR(st.st_mode) ? mkdir(dst, st.st_mode & 07777)
					: close(open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
						     0644)))
			continue;
		if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) != 0) {
			/* out of the user's reach (EACCES): out of the job's */
			if (S_ISDIR(st.st_mode))
				rmdir(dst);
			else
				unlink(dst);
		}
	}
	for (int i = 0; !ret && i < n_rc; i++) {
		char top[256];

		if (run_top(rc[i].path, top, sizeof(top)))
			ret = run_cover(rc[i].path, rc_fds[i], why, len);
	}
	if (!ret && mount(NULL, "/run", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV,
			  NULL) != 0) {
		ret = -errno;
		snprintf(why, len, "making the job's /run read-only: %s", strerror(errno));
	}
out:
	if (dh)
		closedir(dh);
	if (orig >= 0)
		close(orig);
	free(names);
	return ret;
}

int ef_runtimes_cover(const struct ef_runtime_cover *rc, int n, const int *fds, bool run_rebuilt,
		      bool may_create, char *why, size_t len)
{
	char dir[4096], prev[256], target[64], top[256];
	struct stat st;
	bool done;
	int ret = 0;

	for (int i = 0; !ret && i < n; i++) {
		const char *base = strrchr(rc[i].path, '/') + 1;
		int fd;

		/* covered by rebuild_run() */
		if (run_rebuilt && run_top(rc[i].path, top, sizeof(top)))
			continue;
		/* a root job's /run: the top entry of the runtime's is the mount
		 * point (a tmpfs on its directory, or the cover on its socket),
		 * made where no runtime ran yet; one the job could rename away
		 * would let a runtime started later show through the overlay */
		if (run_top(rc[i].path, top, sizeof(top))) {
			bool sock = !strcmp(top, base) && (size_t)(base - rc[i].path) == 5;

			snprintf(dir, sizeof(dir), "/run/%s", top);
			if (sock) {
				fd = open(rc[i].path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
				if (fd < 0 && may_create && errno == ENOENT)
					ret = run_cover(rc[i].path, fds[i], why, len);
				else if (fd >= 0 && fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode))
					ret = bind_cover(fds[i], fd, rc[i].path, why, len);
				if (fd >= 0)
					close(fd);
				continue;
			}
			fd = open(dir, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
			if (fd < 0 && may_create && errno == ENOENT && mkdir(dir, 0755) == 0)
				fd = open(dir, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
			if (fd < 0)
				continue; /* no runtime there (docs/threat-model.md) */
			done = false;
			for (int k = 0; k < i; k++)
				done |= run_top(rc[k].path, prev, sizeof(prev)) && !strcmp(prev, top) &&
					strcmp(rc[k].path + 5, top);
			snprintf(target, sizeof(target), "/proc/self/fd/%d", fd);
			if (!done && mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
					   "mode=0755,size=64k,nr_inodes=64") != 0) {
				ret = -errno;
				snprintf(why, len, "covering %s: %s", dir, strerror(errno));
			}
			close(fd);
			if (!ret)
				ret = run_cover(rc[i].path, fds[i], why, len);
			continue;
		}

		/* elsewhere (runtime_sockets): the socket itself, where there is
		 * one; the kernel takes the cover away if the runtime deletes it */
		fd = open(rc[i].path, O_PATH | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode))
			ret = bind_cover(fds[i], fd, rc[i].path, why, len);
		close(fd);
	}
	return ret;
}

/* rc_fds[n_rc]: the runtimes' covers, opened here in the new mount namespace
 * (a bind's source must be of the caller's namespace), put in place if
 * cover_now; the caller closes them. */
static int hide_host_services(const struct ef_runtime_cover *rc, int n_rc, int *rc_fds,
			      bool cover_now, char *why, size_t len)
{
	const char *tmux = getenv("TMUX"), *tmpdir = getenv("TMUX_TMPDIR");
	const char *xdg = getenv("XDG_RUNTIME_DIR"), *screendir = getenv("SCREENDIR");
	char p[4096], cwd[4096], buf[4096];
	struct passwd pw, *got = NULL;
	uid_t uid = geteuid();
	bool have_cwd;
	struct stat st;
	int ret, e;

	have_cwd = getcwd(cwd, sizeof(cwd)) != NULL;
	if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) != 0) {
		e = errno;
		snprintf(why, len, "a mount namespace for the job: %s", strerror(e));
		return -e;
	}
	ret = ef_runtime_covers_open(rc, n_rc, rc_fds, why, len);
	if (!ret && cover_now)
		ret = rebuild_run(rc, n_rc, rc_fds, why, len);
	if (ret)
		return ret;
	/* sockets first: some live under directories covered below */
	ret = cover_bus(getenv("DBUS_SESSION_BUS_ADDRESS"), have_cwd ? cwd : NULL, why, len);
	if (!ret)
		ret = cover_bus(getenv("DBUS_SYSTEM_BUS_ADDRESS"), have_cwd ? cwd : NULL, why, len);
	if (!ret && tmux && tmux[0] == '/') {
		/* "SOCKET,PID,SESSION" */
		snprintf(p, sizeof(p), "%.*s", (int)strcspn(tmux, ","), tmux);
		ret = cover(p, COVER_SOCKET, NULL, why, len);
	}
	if (!ret)
		ret = cover("/run/dbus", COVER_DIR, NULL, why, len);
	if (!ret)
		ret = cover("/run/nscd", COVER_DIR, NULL, why, len);
	if (!ret)
		ret = cover_resolved(why, len);
	if (!ret)
		ret = cover_run_user(uid, why, len);
	/* XDG_RUNTIME_DIR elsewhere: only a directory of the user's, mode 0700 as
	 * the specification has it (not, say, a /tmp it was pointed at) */
	if (!ret && xdg && xdg[0] == '/' && strncmp(xdg, "/run/user/", 10) &&
	    lstat(xdg, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == uid &&
	    (st.st_mode & 0077) == 0)
		ret = cover(xdg, COVER_DIR, NULL, why, len);
	if (!ret) {
		snprintf(p, sizeof(p), "/tmp/tmux-%u", (unsigned)uid);
		ret = cover(p, COVER_DIR, NULL, why, len);
	}
	if (!ret && tmpdir && tmpdir[0] == '/') {
		snprintf(p, sizeof(p), "%s/tmux-%u", tmpdir, (unsigned)uid);
		ret = cover(p, COVER_DIR, NULL, why, len);
	}
	if (!ret && getpwuid_r(uid, &pw, buf, sizeof(buf), &got) == 0 && got &&
	    !strchr(pw.pw_name, '/')) {
		snprintf(p, sizeof(p), "/run/screen/S-%s", pw.pw_name);
		ret = cover(p, COVER_DIR, NULL, why, len);
	}
	if (!ret && screendir && screendir[0] == '/')
		ret = cover(screendir, COVER_DIR, NULL, why, len);
	if (!ret && cover_now)
		ret = ef_runtimes_cover(rc, n_rc, rc_fds, true, false, why, len);
	if (ret)
		return ret;
	/* the working directory, entered again by its path: never a way under a cover */
	if (!have_cwd || chdir(cwd) != 0) {
		e = have_cwd ? errno : ENOENT;
		snprintf(why, len, "the working directory %s is under a covered host directory, or "
			 "gone (%s)", have_cwd ? cwd : "(unknown)", strerror(e));
		return -e;
	}
	return 0;
}

int ef_userns_isolate(const struct ef_runtime_cover *rc, int n_rc, char *why, size_t len)
{
	int fds[EF_MAX_RUNTIME_COVERS];
	uid_t uid = geteuid();
	gid_t gid = getegid();
	char map[64];
	int ret;

	/* a set-id caller keeps ids the one-line map cannot hold */
	if (uid != getuid() || gid != getgid()) {
		snprintf(why, len, "real and effective ids differ");
		return 1;
	}
	if (unshare(CLONE_NEWUSER) != 0) {
		int e = errno;

		/* the host's policy (sysctls, AppArmor, seccomp): the job runs
		 * without, said so; anything else, such as the limit of
		 * namespaces a job may have used up for the next one (ENOSPC),
		 * is no reason to run a job with less */
		if (e == EPERM || e == EACCES || e == EINVAL || e == ENOSYS) {
			snprintf(why, len, "this host refuses unprivileged user namespaces (%s)",
				 strerror(e));
			return 1;
		}
		snprintf(why, len, "a user namespace for the job: %s%s", strerror(e),
			 e == ENOSPC ? " (this user's user namespaces used up, "
				       "user.max_user_namespaces, or nested too deep)" : "");
		return -e;
	}
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)uid, (unsigned)uid);
	ret = write_file("/proc/self/setgroups", "deny");
	if (!ret)
		ret = write_file("/proc/self/uid_map", map);
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)gid, (unsigned)gid);
	if (!ret)
		ret = write_file("/proc/self/gid_map", map);
	if (ret) {
		/* half made: the process is in a namespace where it is nobody */
		snprintf(why, len, "mapping the job's ids in its user namespace: %s",
			 strerror(-ret));
		return ret;
	}
	if (n_rc > EF_MAX_RUNTIME_COVERS) {
		snprintf(why, len, "more than %d container runtime sockets to cover",
			 EF_MAX_RUNTIME_COVERS);
		return -E2BIG;
	}
	for (int i = 0; i < n_rc; i++)
		fds[i] = -1;
	ret = hide_host_services(rc, n_rc, fds, true, why, len);
	ef_runtime_covers_close(fds, n_rc);
	if (ret)
		return ret;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		ret = -errno;
		snprintf(why, len, "no_new_privs: %s", strerror(errno));
		return ret;
	}
	return 0;
}

/* The host's path (opened before any overlay: fd) bound read-only on
 * path as the namespace now shows it; 0, or -errno having said why. */
static int bind_ro(int fd, const char *path, char *why, size_t len)
{
	char src[64];
	struct stat st;
	int e = 0;

	if (fstat(fd, &st) != 0 || !(S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)))
		return 0;
	snprintf(src, sizeof(src), "/proc/self/fd/%d", fd);
	if (mount(src, path, NULL, MS_BIND | MS_REC, NULL) != 0 ||
	    mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV,
		  NULL) != 0)
		e = errno;
	if (e)
		snprintf(why, len, "making %s read-only: %s", path, strerror(e));
	return -e;
}

int ef_root_isolate(const struct ef_root_opts *o, struct ef_overlay_result *res, char *why,
		    size_t len)
{
	int fds[EF_ROOT_MAX_PROTECT], rc_fds[EF_MAX_RUNTIME_COVERS], ret, i;
	char cwd[4096];
	bool have_cwd;

	memset(res, 0, sizeof(*res));
	if (o->n_protect > EF_ROOT_MAX_PROTECT) {
		snprintf(why, len, "more than %d paths to protect", EF_ROOT_MAX_PROTECT);
		return -E2BIG;
	}
	if (o->n_runtimes > EF_MAX_RUNTIME_COVERS) {
		snprintf(why, len, "more than %d container runtime sockets to cover",
			 EF_MAX_RUNTIME_COVERS);
		return -E2BIG;
	}
	for (i = 0; i < o->n_runtimes; i++)
		rc_fds[i] = -1;
	ret = hide_host_services(o->runtimes, o->n_runtimes, rc_fds, false, why, len);
	/* the service manager's own socket: systemctl as root starts units
	 * (processes outside every job) through it */
	if (!ret)
		ret = cover("/run/systemd/private", COVER_SOCKET, NULL, why, len);
	if (ret) {
		ef_runtime_covers_close(rc_fds, o->n_runtimes);
		return ret;
	}
	have_cwd = getcwd(cwd, sizeof(cwd)) != NULL;
	/* the fence's own files as the host has them, before any overlay */
	for (i = 0; i < o->n_protect; i++) {
		fds[i] = open(o->protect[i], O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fds[i] < 0 && errno != ENOENT) {
			ret = -errno;
			snprintf(why, len, "%s: %s", o->protect[i], strerror(errno));
			break;
		}
	}
	if (!ret && o->overlay_dir)
		ret = ef_overlay_system(o->overlay_dir, o->writes, o->n_writes, res, why, len);
	for (int k = 0; !ret && k < o->n_protect; k++)
		if (fds[k] >= 0)
			ret = bind_ro(fds[k], o->protect[k], why, len);
	for (int k = 0; k < i; k++)
		if (fds[k] >= 0)
			close(fds[k]);
	/* the layers themselves: not even read (another job's writes, and a
	 * lower layer's view of an upper one) */
	if (!ret && o->overlay_dir &&
	    mount("tmpfs", o->overlay_dir, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "mode=0000,size=4k") != 0) {
		ret = -errno;
		snprintf(why, len, "covering %s: %s", o->overlay_dir, strerror(errno));
	}
	/* the container runtimes' sockets, in the namespace's final view */
	if (!ret)
		ret = ef_runtimes_cover(o->runtimes, o->n_runtimes, rc_fds, false,
					o->overlay_dir != NULL, why, len);
	ef_runtime_covers_close(rc_fds, o->n_runtimes);
	/* entered again: the working directory as the job sees it */
	if (!ret && (!have_cwd || chdir(cwd) != 0)) {
		ret = have_cwd ? -errno : -ENOENT;
		snprintf(why, len, "the working directory %s: %s", have_cwd ? cwd : "(unknown)",
			 strerror(-ret));
	}
	return ret;
}
