// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A root job's copy-on-write layer over the host's filesystems.
 *
 * A root job writes the host's files as root (`sudo apt-get install` is
 * why it has root), so it could leave something that a process outside
 * every job runs later: a file in /etc/cron.d or /var/spool/cron, a
 * systemd unit, /etc/ld.so.preload, a replaced /usr/bin/git, a profile
 * script in a home directory, the CI runner's own programs. In the job's
 * own mount namespace (userns.c ef_root_isolate, made before the job
 * joins its cgroup) every top-level directory but /proc, /sys, /dev and
 * /tmp is an overlay: the host's directory the lower layer, read as it
 * is; what the job writes goes to an upper layer under egressd's
 * <state-dir>/overlay/NAME, which no process outside the job reads and
 * egressd removes when the job ends (daemon/jobs/overlay.c). Inside the job
 * everything works as before (apt-get install, pip install into /usr,
 * a config edit), and nothing of it is left behind. The root directory
 * itself is read-only (its entries, /lib64 and /bin among them, are what
 * every program on the host follows).
 *
 * Each mount below an overlaid directory of a disk-like filesystem gets
 * an overlay of its own (an overlay shows its lower layer's own directory,
 * not what is mounted inside it); mounts of kernel filesystems (proc,
 * sysfs, cgroup, nsfs, ...) and files mounted on files are put back as
 * they were; read-only mounts are left alone (a job without CAP_SYS_ADMIN
 * cannot make them writable).
 *
 * What is written through, to the host: the directories the job's work
 * must outlive it in: the working directory, and those the CI runner
 * names (GITHUB_WORKSPACE, RUNNER_TEMP, CI_PROJECT_DIR,
 * BUILDKITE_BUILD_CHECKOUT_PATH, Jenkins' WORKSPACE), plus each
 * `egressctl run --write DIR`. Never a top-level directory, one holding a
 * home directory, or one of those that processes outside the job run
 * from (/etc, /boot, /usr's programs and libraries, /var/spool, dpkg's
 * and systemd's state): such a directory is not written through (--write
 * of one is an error; an implicit one a warning). What the job leaves in
 * a directory written through, or in /tmp, is the operator's to trust, as
 * for an unprivileged job.
 *
 * Every directory is opened (O_PATH, O_NOFOLLOW) before the first
 * overlay is mounted, and mounted by descriptor, so an overlay on /var
 * does not hide /var/lib/docker's own mount from the one made after it.
 * The mounts are locked to the namespace: the job, without CAP_SYS_ADMIN
 * (policy "capabilities"), cannot unmount them; the guard's seccomp rules
 * and the BPF LSM hooks refuse its mount calls.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "mountinfo.h"
#include "overlay.h"

/*
 * Every top-level directory is overlaid but these: the kernel's (their
 * own mounts) and /tmp, the scratch space the host shares with its jobs.
 * Not a list of system directories: a runner installed in /actions-runner,
 * a package store in /nix, a cache in /mnt are all what a process outside
 * the job may run or trust later.
 */
static const char *const shared_top[] = { "proc", "sys", "dev", "tmp" };

/* Never written through: what processes outside the job read or run. */
static const char *const never_through[] = {
	"/etc", "/boot", "/usr", "/var/spool", "/var/cache", "/var/log",
	/* /var/lib: a service's home below it (Jenkins') is allowed below */
	"/var/lib",
	/* services' configuration and sockets (modprobe.d, udev rules,
	 * systemd generators, docker.sock), package stores */
	"/run", "/nix", "/gnu", "/snap",
};

/*
 * The CI runners' workspace variables, each honoured only under the runner
 * that sets it (its marker variable set): a step can set variables for the
 * next ones (GitHub's $GITHUB_ENV takes any name but GITHUB_* and
 * RUNNER_*), so WORKSPACE=/usr/local/go set by a fenced step must not
 * steer the next root job's write-through under GitHub Actions.
 */
static const struct {
	const char *marker, *var;
} ci_dirs[] = {
	{ "GITHUB_ACTIONS", "GITHUB_WORKSPACE" },
	{ "GITHUB_ACTIONS", "RUNNER_TEMP" },
	{ "GITLAB_CI", "CI_PROJECT_DIR" },
	{ "BUILDKITE", "BUILDKITE_BUILD_CHECKOUT_PATH" },
	{ "JENKINS_URL", "WORKSPACE" },
};

#define MAX_TARGETS 4096

struct target {
	char *path;
	int fd;		/* O_PATH of the host's directory, opened before any overlay */
	bool keep;	/* a kernel filesystem: put back as it was (with what is below),
			 * private (no mount the host makes later comes through) */
	bool keep_ro;	/* a regular file mounted on a file, or a read-only mount: put
			 * back read-only, alone (not what is mounted below it) */
	bool cover;	/* an automount point: covered, empty (mounting it would
			 * bring the filesystem in writable) */
	bool skip;	/* read-only, below a kept one, or a socket, fifo or device
			 * mounted on a file: nothing to do (the overlay shows what
			 * is below the mount) */
	bool mp;	/* a mount point in /proc/self/mountinfo */
	unsigned long flags; /* nosuid, nodev, noexec of the host's mount */
	uint64_t mnt_id; /* fd's mount, when fd is its root and not a top-level
			  * directory; else 0 (never taken as vanished) */
};

/* path is dir itself or below it */
static bool under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (n == 1 && dir[0] == '/')
		return true;
	return !strncmp(path, dir, n) && (path[n] == '/' || !path[n]);
}

/* Is a top-level name (no '/') one the host shares with the job? */
static bool shared_name(const char *name, size_t n)
{
	for (size_t i = 0; i < sizeof(shared_top) / sizeof(shared_top[0]); i++)
		if (strlen(shared_top[i]) == n && !strncmp(name, shared_top[i], n))
			return true;
	return false;
}

/* Is an absolute, canonical path in an overlaid directory? */
static bool under_root(const char *path)
{
	const char *c = path + 1;

	return path[0] == '/' && *c && !shared_name(c, strcspn(c, "/"));
}

/* A top-level directory itself ("/etc") */
static bool is_top(const char *path)
{
	return path[0] == '/' && path[1] && !strchr(path + 1, '/');
}

static void ov_free_targets(struct target *t, int n)
{
	for (int i = 0; i < n; i++) {
		if (t[i].fd >= 0)
			close(t[i].fd);
		free(t[i].path);
	}
	free(t);
}

static int add_target(struct target **t, int *n, const char *path, bool mp)
{
	struct target *nt;

	for (int i = 0; i < *n; i++) {
		if (!strcmp((*t)[i].path, path)) {
			(*t)[i].mp |= mp;
			return 0;
		}
	}
	if (*n >= MAX_TARGETS)
		return -E2BIG;
	nt = realloc(*t, sizeof(**t) * (size_t)(*n + 1));
	if (!nt)
		return -ENOMEM;
	*t = nt;
	nt[*n] = (struct target){ .path = strdup(path), .fd = -1, .mp = mp };
	if (!nt[*n].path)
		return -ENOMEM;
	(*n)++;
	return 0;
}

static int cmp_target(const void *a, const void *b)
{
	return strcmp(((const struct target *)a)->path, ((const struct target *)b)->path);
}

/* The system directories and every mount below them, opened; sorted so
 * that a directory comes before what is below it. */
static int collect(struct target **out, int *n_out, char *why, size_t len)
{
	struct target *t = NULL;
	FILE *f;
	char *line = NULL;
	size_t cap = 0;
	int n = 0, ret = 0;

	{
		DIR *dh = opendir("/");
		struct dirent *de;
		char p[512];

		if (!dh) {
			ret = -errno;
			snprintf(why, len, "reading /: %s", strerror(errno));
			goto fail;
		}
		while (!ret && (de = readdir(dh))) {
			struct stat st;

			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			snprintf(p, sizeof(p), "/%s", de->d_name);
			/* directories; a symbolic link (/bin -> usr/bin) is the root
			 * directory's own entry, read-only below */
			if (under_root(p) && lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
				ret = add_target(&t, &n, p, false);
		}
		closedir(dh);
	}
	f = ret ? NULL : fopen("/proc/self/mountinfo", "re");
	if (!f && !ret) {
		ret = -errno;
		snprintf(why, len, "reading /proc/self/mountinfo: %s", strerror(errno));
		goto fail;
	}
	while (!ret && getline(&line, &cap, f) > 0) {
		char *save = NULL, *mp = NULL, *tok = strtok_r(line, " ", &save);

		/* id parent major:minor root MOUNTPOINT ... */
		for (int k = 0; tok && k < 4; k++)
			tok = strtok_r(NULL, " ", &save);
		mp = tok;
		if (!mp)
			continue;
		ef_mountinfo_unescape(mp);
		/* and below /tmp (shared itself): a chroot's bind of /etc there */
		if (mp[0] == '/' && (under_root(mp) || (under(mp, "/tmp") && strcmp(mp, "/tmp"))))
			ret = add_target(&t, &n, mp, true);
	}
	free(line);
	if (f)
		fclose(f);
	if (ret == -E2BIG)
		snprintf(why, len, "more than %d mounts below the overlaid directories", MAX_TARGETS);
	else if (ret)
		snprintf(why, len, "listing the mounts: out of memory");
	if (ret)
		goto fail;
	qsort(t, (size_t)n, sizeof(*t), cmp_target);
	for (int i = 0; i < n; i++) {
		struct statfs sf;
		struct statvfs sv;

		struct stat st;
		struct statx sx;

		t[i].fd = open(t[i].path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (t[i].fd < 0 || fstat(t[i].fd, &st) != 0) {
			t[i].skip = true; /* gone */
			continue;
		}
		/* a mount below a top-level directory: which one (vanished() asks
		 * again); one no longer there once opened is gone too, what is
		 * now at its path the mount's above it, handled with that */
		if (t[i].mp && !is_top(t[i].path) &&
		    statx(t[i].fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &sx) == 0 &&
		    (sx.stx_mask & STATX_MNT_ID) && (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)) {
			if (!(sx.stx_attributes & STATX_ATTR_MOUNT_ROOT)) {
				t[i].skip = true;
				continue;
			}
			t[i].mnt_id = sx.stx_mnt_id;
		}
		if (!S_ISDIR(st.st_mode)) {
			/* a file mounted on a file (a container's /etc/hosts):
			 * put back read-only; a socket (a container's
			 * /var/run/docker.sock), fifo or device: not at all */
			t[i].keep_ro = S_ISREG(st.st_mode);
			t[i].skip = !t[i].keep_ro;
			t[i].flags = MS_NOSUID | MS_NODEV;
			continue;
		}
		if (fstatfs(t[i].fd, &sf) != 0 || fstatvfs(t[i].fd, &sv) != 0) {
			ret = -errno;
			snprintf(why, len, "%s: %s", t[i].path, strerror(errno));
			goto fail;
		}
		/* an automount point, or another devpts instance (a chroot's
		 * bind of the host's /dev/pts: its terminals) */
		t[i].cover = sf.f_type == AUTOFS_SUPER_MAGIC || sf.f_type == DEVPTS_SUPER_MAGIC;
		t[i].keep = !t[i].cover && ef_kernel_fs(sf.f_type);
		/* read-only: put back as it is (the overlay above would hide it),
		 * alone: what is mounted below it is handled on its own */
		t[i].keep_ro = !t[i].cover && !t[i].keep && (sv.f_flag & ST_RDONLY);
		t[i].flags = (sv.f_flag & ST_NOSUID ? MS_NOSUID : 0) |
			     (sv.f_flag & ST_NODEV ? MS_NODEV : 0) |
			     (sv.f_flag & ST_NOEXEC ? MS_NOEXEC : 0);
	}
	/* below a kernel filesystem put back whole, or a cover: nothing more */
	for (int i = 0; i < n; i++)
		for (int k = 0; k < i; k++)
			if ((t[k].keep || t[k].cover) && under(t[i].path, t[k].path) &&
			    strcmp(t[i].path, t[k].path))
				t[i].skip = true;
	*out = t;
	*n_out = n;
	return 0;
fail:
	ov_free_targets(t, n);
	return ret;
}

/* Why path may not be written through, or NULL. */
static const char *refused(const char *path)
{
	bool service_home = false; /* strictly below a home in /var/lib (Jenkins') */
	struct passwd *pw;
	const char *why = NULL;

	if (is_top(path))
		return "a top-level directory";
	setpwent();
	while (!why && (pw = getpwent())) {
		const char *h = pw->pw_dir;
		size_t n = h ? strlen(h) : 0;

		if (!h || h[0] != '/' || !h[1])
			continue;
		if (under(h, path))
			why = "a home directory, or one holding one (its dotfiles run outside the "
			      "job)";
		/* ~/.config, ~/.ssh, ~/.bashrc.d: what the user's sessions run */
		else if (under(path, h) && path[n] == '/' && path[n + 1] == '.')
			why = "a dot-directory of a home directory (what the user's sessions run)";
		else if (under(path, h) && under(h, "/var/lib"))
			service_home = true;
	}
	endpwent();
	if (why)
		return why;
	for (size_t i = 0; i < sizeof(never_through) / sizeof(never_through[0]); i++) {
		if (!under(path, never_through[i]) && !under(never_through[i], path))
			continue;
		if (!strcmp(never_through[i], "/var/lib") && service_home &&
		    under(path, never_through[i]))
			continue;
		return "processes outside the job read or run what is there";
	}
	return NULL;
}

struct through {
	char path[4096];
	int fd;
};

/* dir as given names no symbolic link: realpath() gives it back (but a
 * trailing '/') */
static bool symlink_free(const char *dir, const char *real)
{
	size_t n = strlen(dir);

	while (n > 1 && dir[n - 1] == '/')
		n--;
	return strlen(real) == n && !strncmp(dir, real, n);
}

/* One directory to write through, if it needs it; 0, or -errno having
 * said why (explicit). plain: dir must name no symbolic link (one in the
 * workspace could point anywhere: ws/app -> /run/modprobe.d). */
static int add_through(struct through *w, int *n, int max, const char *dir, bool explicit,
		       bool plain, const char *what, char *why, size_t len)
{
	char real[4096];
	const char *no;
	struct stat st;

	if (!dir || dir[0] != '/')
		return 0;
	errno = ENOTDIR;
	if (!realpath(dir, real) || stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) {
		if (!explicit)
			return 0;
		snprintf(why, len, "--write %s: not a directory (%s)", dir, strerror(errno));
		return -ENOTDIR;
	}
	if (!under_root(real))
		return 0; /* not overlaid: written to the host as it is */
	no = plain && !symlink_free(dir, real) ? "it names a symbolic link" : refused(real);
	if (no) {
		if (explicit) {
			snprintf(why, len, "--write %s: never written through to the host: %s", real,
				 no);
			return -EPERM;
		}
		fprintf(stderr, "egressctl: warning: %s (%s) is not written through to the host: "
				"%s; what the root job changes there ends with it\n", real, what, no);
		return 0;
	}
	for (int i = 0; i < *n; i++)
		if (!strcmp(w[i].path, real))
			return 0;
	if (*n >= max) {
		snprintf(why, len, "too many directories to write through (at most %d)", max);
		return -E2BIG;
	}
	snprintf(w[*n].path, sizeof(w[*n].path), "%s", real);
	{
		/* no symbolic link on the way, checked again as it is opened (a
		 * parent swapped for one since realpath()) */
		struct open_how how = { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
					.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };

		w[*n].fd = (int)syscall(SYS_openat2, AT_FDCWD, real, &how, sizeof(how));
	}
	if (w[*n].fd < 0) {
		snprintf(why, len, "%s: %s", real, strerror(errno));
		return -errno;
	}
	(*n)++;
	return 0;
}

/* <overlay-dir>/NAME, made 0700 in a root-owned directory no one else
 * writes; its descriptor, or -errno having said why */
static int make_layer(const char *dir, char *name, size_t name_len, char *why, size_t len)
{
	unsigned long long r = 0;
	struct stat st;
	int dfd, lfd;

	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0 || fstat(dfd, &st) != 0) {
		int e = errno;

		if (dfd >= 0)
			close(dfd);
		snprintf(why, len, "egressd's overlay directory %s: %s", dir, strerror(e));
		return -e;
	}
	if (st.st_uid != 0 || (st.st_mode & 022)) {
		close(dfd);
		snprintf(why, len, "egressd's overlay directory %s is not root's alone", dir);
		return -EPERM;
	}
	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
		close(dfd);
		snprintf(why, len, "getrandom: %s", strerror(errno));
		return -EIO;
	}
	snprintf(name, name_len, "%d-%016llx", (int)getpid(), r);
	if (mkdirat(dfd, name, 0700) != 0 ||
	    (lfd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		int e = errno;

		close(dfd);
		snprintf(why, len, "making %s/%s: %s", dir, name, strerror(e));
		return -e;
	}
	close(dfd);
	return lfd;
}

/*
 * The root directory itself read-only: its entries are the way to every
 * path, and some are symbolic links the whole host follows (/bin and
 * /lib64 -> usr/..., where the dynamic loader is): a job that replaced
 * /lib64 would run its code in every program started on the host. The
 * directories on the root filesystem that are not overlaid (/tmp, a
 * workspace's /work) are bound over themselves first, so that they stay
 * writable: only the root mount's own entries become read-only. Called
 * after every other bind: a bind takes the flags of the mount it is
 * made from.
 */
static int root_read_only(char *why, size_t len)
{
	struct stat root, st;
	struct dirent *de;
	struct statvfs sv;
	char p[512];
	DIR *dh;
	int e = 0;

	if (lstat("/", &root) != 0 || statvfs("/", &sv) != 0 || !(dh = opendir("/"))) {
		e = errno;
		snprintf(why, len, "the root directory: %s", strerror(e));
		return -e;
	}
	while (!e && (de = readdir(dh))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "/%s", de->d_name);
		/* a mount point (another filesystem) or overlaid: its own mount */
		if (lstat(p, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_dev != root.st_dev ||
		    under_root(p))
			continue;
		if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) != 0) {
			e = errno;
			snprintf(why, len, "keeping %s writable: %s", p, strerror(e));
		}
	}
	closedir(dh);
	if (!e && mount(NULL, "/", NULL,
			MS_REMOUNT | MS_BIND | MS_RDONLY | (sv.f_flag & ST_NOSUID ? MS_NOSUID : 0) |
				(sv.f_flag & ST_NODEV ? MS_NODEV : 0) |
				(sv.f_flag & ST_NOEXEC ? MS_NOEXEC : 0),
			NULL) != 0) {
		e = errno;
		snprintf(why, len, "making the root directory read-only: %s", strerror(e));
	}
	return -e;
}

/*
 * /dev is the host's devtmpfs: a node the job made or replaced there (a
 * regular file where /dev/null was, a socket at /dev/log) would be what
 * processes outside the job read, write and run. Bound over itself and
 * made read-only (its own mounts, /dev/shm and /dev/mqueue, stay
 * writable), with a devpts instance of the job's own on /dev/pts, so that
 * no other session's terminal is there to open.
 */
static int private_dev(char *why, size_t len)
{
	struct group *g = getgrnam("tty");
	char opts[96];
	int e = 0;

	snprintf(opts, sizeof(opts), "newinstance,ptmxmode=0666,mode=0620%s%u",
		 g ? ",gid=" : "", g ? (unsigned)g->gr_gid : 0u);
	if (!g)
		opts[strlen("newinstance,ptmxmode=0666,mode=0620")] = 0;
	if (mount("/dev", "/dev", NULL, MS_BIND | MS_REC, NULL) != 0 ||
	    mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, opts) != 0 ||
	    mount("/dev/pts/ptmx", "/dev/ptmx", NULL, MS_BIND, NULL) != 0 ||
	    mount(NULL, "/dev", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC,
		  NULL) != 0) {
		e = errno;
		snprintf(why, len, "the job's /dev: %s", strerror(e));
	}
	return -e;
}

/*
 * /tmp stays the host's, and with it the sockets other users' sessions
 * keep there: a tmux server types what a root job sends it into a shell
 * outside the fence (root may connect to any user's socket), an X server
 * takes keystrokes, an ssh agent signs, a session bus starts processes.
 * Their directories, as they are when the job starts, are covered by an
 * empty tmpfs of the same owner and mode (the job's own tmux still
 * works). A socket made straight in /tmp, or a directory made later, is
 * not covered (docs/threat-model.md).
 */
static int cover_tmp_sockets(char *why, size_t len)
{
	static const char *const pats[] = {
		"/tmp/tmux-*", "/tmp/.X11-unix", "/tmp/.ICE-unix", "/tmp/.font-unix",
		"/tmp/ssh-*", "/tmp/dbus-*",
	};
	int e = 0;

	for (size_t i = 0; !e && i < sizeof(pats) / sizeof(pats[0]); i++) {
		glob_t g;

		if (glob(pats[i], GLOB_NOSORT, NULL, &g) != 0)
			continue;
		for (size_t k = 0; !e && k < g.gl_pathc; k++) {
			char target[64], opts[96];
			struct stat st;
			int fd = open(g.gl_pathv[k], O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (fd < 0)
				continue;
			if (fstat(fd, &st) != 0) {
				close(fd);
				continue;
			}
			snprintf(target, sizeof(target), "/proc/self/fd/%d", fd);
			snprintf(opts, sizeof(opts), "mode=%o,uid=%u,gid=%u,size=1m",
				 (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid,
				 (unsigned)st.st_gid);
			if (mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, opts) != 0) {
				e = errno;
				snprintf(why, len, "covering %s: %s", g.gl_pathv[k], strerror(e));
			}
			close(fd);
		}
		globfree(&g);
	}
	return -e;
}

/*
 * Is t's mount gone from this namespace since collect() opened it (a
 * container's overlay unmounted, `ip netns del`: the host's unmount comes
 * here too)? Then a mount on t->path failing with ENOENT (its directory
 * removed) or EINVAL (its descriptor on a mount no longer in the namespace)
 * needs nothing: what is at t->path now is the mount's above it, overlaid
 * or put back on its own. Only a mount point below a top-level directory,
 * known by its id, asked again in /proc/self/mountinfo; anything else (the
 * mount still listed, mountinfo unreadable) is a failure, and the job does
 * not run. errno is left as it was (err).
 */
static bool vanished(const struct target *t, int err)
{
	unsigned long long id;
	bool listed = true;
	char *line = NULL;
	size_t cap = 0;
	FILE *f;

	if ((err == ENOENT || err == EINVAL) && t->mnt_id &&
	    (f = fopen("/proc/self/mountinfo", "re"))) {
		listed = false;
		while (!listed && getline(&line, &cap, f) > 0)
			listed = sscanf(line, "%llu ", &id) != 1 || id == t->mnt_id;
		listed |= ferror(f) != 0;
		free(line);
		fclose(f);
	}
	errno = err;
	return !listed;
}

/* One overlay on t->path: the host's directory under, layer lfd/i over.
 * 1: none needed, the mount vanished (see vanished()). */
static int mount_overlay(const struct target *t, int lfd, int i, char *why, size_t len)
{
	char sub[32], opts[160];
	struct stat st;
	int e = 0;

	snprintf(sub, sizeof(sub), "%d", i);
	if (mkdirat(lfd, sub, 0700) != 0)
		goto err;
	snprintf(sub, sizeof(sub), "%d/u", i);
	/* the upper layer's own directory is the merged one's: the host's
	 * owner and mode (/root stays 0700) */
	if (fstatat(t->fd, "", &st, AT_EMPTY_PATH) != 0 || mkdirat(lfd, sub, 0700) != 0 ||
	    fchownat(lfd, sub, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0 ||
	    fchmodat(lfd, sub, st.st_mode & 07777, 0) != 0)
		goto err;
	snprintf(sub, sizeof(sub), "%d/w", i);
	if (mkdirat(lfd, sub, 0700) != 0)
		goto err;
	snprintf(opts, sizeof(opts),
		 "lowerdir=/proc/self/fd/%d,upperdir=/proc/self/fd/%d/%d/u,workdir=/proc/self/fd/%d/%d/w",
		 t->fd, lfd, i, lfd, i);
	if (mount("overlay", t->path, "overlay", t->flags, opts) != 0) {
		if (vanished(t, errno))
			return 1;
		goto err;
	}
	return 0;
err:
	e = errno;
	snprintf(why, len, "a copy-on-write layer over %s: %s (a policy with \"host_writes\": "
			   "true runs root jobs without one)", t->path, strerror(e));
	return -e;
}

int ef_overlay_system(const char *overlay_dir, const char *const *writes, int n_writes,
		      struct ef_overlay_result *res, char *why, size_t len)
{
	struct through *w = calloc(EF_OVERLAY_MAX_THROUGH, sizeof(*w));
	struct target *t = NULL;
	char cwd[4096], src[64];
	int n = 0, nw = 0, n_ci, lfd = -1, ret = 0, layer = 0, made = 0;
	bool ci = false;

	memset(res, 0, sizeof(*res));
	if (!w) {
		snprintf(why, len, "out of memory");
		return -ENOMEM;
	}
	/* what is written through, opened on the host's side first: the CI
	 * runner's workspace directories as it names them, and under a CI
	 * runner the working directory only where it lies in one of them (a
	 * step's working-directory may be a symbolic link in the repository) */
	for (size_t i = 0; !ret && i < sizeof(ci_dirs) / sizeof(ci_dirs[0]); i++) {
		const char *m = getenv(ci_dirs[i].marker);
		const char *v = m && *m ? getenv(ci_dirs[i].var) : NULL;

		ci |= v && v[0] == '/';
		ret = add_through(w, &nw, EF_OVERLAY_MAX_THROUGH, v, false, true, ci_dirs[i].var,
				  why, len);
	}
	n_ci = nw;
	if (!ret && getcwd(cwd, sizeof(cwd)) && under_root(cwd)) {
		bool in_ws = false;

		for (int i = 0; i < n_ci; i++)
			in_ws |= under(cwd, w[i].path);
		if (!ci)
			ret = add_through(w, &nw, EF_OVERLAY_MAX_THROUGH, cwd, false, false,
					  "the working directory", why, len);
		else if (!in_ws)
			fprintf(stderr, "egressctl: warning: %s (the working directory) is not written "
					"through to the host: it is not in the CI runner's workspace; "
					"what the root job changes there ends with it (--write DIR "
					"writes a directory through)\n", cwd);
	}
	for (int i = 0; !ret && i < n_writes; i++)
		ret = add_through(w, &nw, EF_OVERLAY_MAX_THROUGH, writes[i], true, true, "--write",
				  why, len);
	if (!ret)
		ret = collect(&t, &n, why, len);
	if (!ret) {
		lfd = make_layer(overlay_dir, res->name, sizeof(res->name), why, len);
		if (lfd < 0)
			ret = lfd;
	}
	for (int i = 0; !ret && i < n; i++) {
		if (t[i].skip)
			continue;
		if (t[i].keep || t[i].keep_ro) {
			/* a kernel filesystem, with what is mounted below it, or a
			 * file; private: the host's later mounts stay the host's */
			snprintf(src, sizeof(src), "/proc/self/fd/%d", t[i].fd);
			if (mount(src, t[i].path, NULL, MS_BIND | (t[i].keep ? MS_REC : 0), NULL) != 0)
				ret = vanished(&t[i], errno) ? 0 : -errno; /* if so, nothing mounted */
			else if (mount(NULL, t[i].path, NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
				 (t[i].keep_ro &&
				  mount(NULL, t[i].path, NULL,
					MS_REMOUNT | MS_BIND | MS_RDONLY | t[i].flags, NULL)))
				ret = -errno;
			if (ret)
				snprintf(why, len, "putting %s back: %s", t[i].path, strerror(-ret));
			continue;
		}
		if (t[i].cover) {
			if (mount("tmpfs", t[i].path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV |
				  MS_NOEXEC, "mode=0555,size=4k") != 0 && !vanished(&t[i], errno)) {
				ret = -errno;
				snprintf(why, len, "covering the automount point %s: %s", t[i].path,
					 strerror(errno));
			}
			continue;
		}
		/* its own directory in the layer, mounted or not */
		ret = mount_overlay(&t[i], lfd, layer++, why, len);
		if (ret == 0)
			made++;
		else if (ret == 1)
			ret = 0;
	}
	/* the directories written through, the host's own, on top (before the
	 * root mount turns read-only: a bind takes its source mount's flags) */
	for (int i = 0; !ret && i < nw; i++) {
		bool inner = false;

		for (int k = 0; k < nw; k++)
			if (k != i && under(w[i].path, w[k].path) && strcmp(w[i].path, w[k].path))
				inner = true;
		if (!inner) {
			snprintf(src, sizeof(src), "/proc/self/fd/%d", w[i].fd);
			if (mount(src, w[i].path, NULL, MS_BIND | MS_REC, NULL) != 0) {
				ret = -errno;
				snprintf(why, len, "writing %s through: %s", w[i].path,
					 strerror(errno));
				break;
			}
		}
		snprintf(res->through[res->n_through++], sizeof(res->through[0]), "%s",
			 w[i].path);
	}
	if (!ret)
		ret = private_dev(why, len);
	if (!ret)
		ret = cover_tmp_sockets(why, len);
	if (!ret)
		ret = root_read_only(why, len);
	res->n_layers = made;
	if (lfd >= 0)
		close(lfd);
	for (int i = 0; i < nw; i++)
		close(w[i].fd);
	free(w);
	ov_free_targets(t, n);
	return ret;
}
