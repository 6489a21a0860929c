// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The copy-on-write layers of root jobs (cli/overlay.c makes them).
 *
 * A root job's writes to the host's system directories (/etc, /usr, /var,
 * ...) go to upper directories that egressctl run makes under
 * <state-dir>/overlay/NAME before the job starts; the run request names
 * NAME ("overlay"), and egressd removes the directory when the job ends:
 * nothing the job left there is ever seen by a process outside it. A
 * directory no job claims (egressctl failed between making it and the
 * run request, or egressd was away when its job ended) is swept: at start,
 * and at each job's end once it is a minute old.
 *
 * Removal runs on a worker thread started with egressd (an `apt-get
 * install` leaves tens of thousands of files; the event loop must not
 * wait for them), walks
 * with openat(O_NOFOLLOW) and never recurses, so neither a symlink nor a
 * tree a million directories deep, both made by a hostile root job, can
 * lead it astray or exhaust its stack or descriptors.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "egressd.h"
#include "overlay.h"
#include "lib/span.h"
#include "lib/util.h"

bool ef_overlay_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > EF_OVERLAY_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') || s[i] == '-'))
			return false;
	return true;
}

/*
 * Removes dir (an open directory, taken over) and everything below it
 * except itself; returns 0 or the first -errno. Depth-first without
 * recursion: descend into the first directory that will not go with
 * rmdir, climb back by ".." when the current one is empty. Every step
 * is relative to a descriptor, opened O_NOFOLLOW.
 */
static int empty_tree(int dir)
{
	struct stat top;
	int ret = 0;

	if (fstat(dir, &top) != 0) {
		ret = -errno;
		close(dir);
		return ret;
	}
	for (;;) {
		int dup_fd = dup(dir), down = -1;
		struct dirent *de;
		struct stat here;
		DIR *dh;

		if (dup_fd < 0 || !(dh = fdopendir(dup_fd))) {
			ret = ret ? ret : -errno;
			if (dup_fd >= 0)
				close(dup_fd);
			break;
		}
		while ((de = readdir(dh))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			if (unlinkat(dir, de->d_name, 0) == 0 || errno == ENOENT)
				continue;
			if (errno != EISDIR && errno != EPERM)
				goto failed;
			if (unlinkat(dir, de->d_name, AT_REMOVEDIR) == 0 || errno == ENOENT)
				continue;
			if (errno != ENOTEMPTY && errno != EEXIST)
				goto failed;
			down = openat(dir, de->d_name,
				      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (down >= 0)
				break;
failed:
			/* leave it, go on with the rest */
			ret = ret ? ret : -errno;
		}
		closedir(dh);
		if (down >= 0) {
			close(dir);
			dir = down;
			continue;
		}
		/* empty (or what is left would not go): climb */
		if (fstat(dir, &here) != 0 || (here.st_dev == top.st_dev && here.st_ino == top.st_ino))
			break;
		down = openat(dir, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		close(dir);
		if (down < 0)
			return ret ? ret : -errno;
		dir = down;
		/* the child we came from still fails to go if something in it
		 * would not: stop rather than loop */
		if (ret)
			break;
	}
	close(dir);
	return ret;
}

int ef_overlay_remove_at(int parent, const char *name)
{
	int dir = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), ret;

	if (dir < 0)
		return errno == ENOENT ? 0 : -errno;
	ret = empty_tree(dir);
	if (unlinkat(parent, name, AT_REMOVEDIR) != 0 && errno != ENOENT && !ret)
		ret = -errno;
	return ret;
}

/*
 * One worker thread, started with egressd, removes the layers in turn.
 * Not a thread per removal: egressctl run hands each job the ids of
 * egressd's threads when it starts (the guard's seccomp filter refuses
 * signals, resource limits and tracing aimed at them), so a thread born
 * later would be one a running job could signal or limit, and a resource
 * limit set through any thread's id is the whole process's.
 */
struct removal {
	struct removal *next;
	char name[EF_OVERLAY_NAME_MAX + 8]; /* NAME.gone */
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t more;
	struct removal *head, **tail;
	int parent; /* <overlay-dir>, open */
	bool running;
} worker = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, &worker.head, -1, false };

static void remove_one(struct removal *r)
{
	int ret = ef_overlay_remove_at(worker.parent, r->name);

	if (ret)
		log_warn("removing the copy-on-write layer %s: %s; what is left is removed "
			 "at egressd's next start", r->name, strerror(-ret));
	free(r);
}

static void *worker_main(void *arg)
{
	(void)arg;
	for (;;) {
		struct removal *r;

		pthread_mutex_lock(&worker.lock);
		while (!worker.head)
			pthread_cond_wait(&worker.more, &worker.lock);
		r = worker.head;
		worker.head = r->next;
		if (!worker.head)
			worker.tail = &worker.head;
		pthread_mutex_unlock(&worker.lock);
		remove_one(r);
	}
	return NULL;
}

/*
 * Removes <overlay-dir>/name on the worker; at once where it could not
 * start. It is renamed NAME.gone first, so that a sweep meanwhile does
 * not take it for an unclaimed layer and queue it a second time.
 */
static void remove_later(struct ef_daemon *d, const char *name)
{
	struct removal *r;

	if (worker.parent < 0)
		return; /* the next start's sweep takes it */
	r = calloc(1, sizeof(*r));
	if (!r)
		return;
	if (strstr(name, ".gone")) {
		snprintf(r->name, sizeof(r->name), "%s", name);
	} else {
		snprintf(r->name, sizeof(r->name), "%s.gone", name);
		if (renameat(worker.parent, name, worker.parent, r->name) != 0) {
			if (errno != ENOENT)
				log_warn("%s/%s: %s", d->overlay_dir, name, strerror(errno));
			free(r);
			return;
		}
	}
	if (!worker.running) {
		remove_one(r);
		return;
	}
	pthread_mutex_lock(&worker.lock);
	*worker.tail = r;
	worker.tail = &r->next;
	pthread_cond_signal(&worker.more);
	pthread_mutex_unlock(&worker.lock);
}

int ef_overlay_init(struct ef_daemon *d)
{
	pthread_attr_t at;
	pthread_t t;

	snprintf(d->overlay_dir, sizeof(d->overlay_dir), "%s/overlay", d->state_dir);
	if (ef_mkdir_p(d->overlay_dir, 0700))
		return -errno;
	/* only root: an upper layer holds what a root job wrote */
	if (chmod(d->overlay_dir, 0700))
		return -errno;
	worker.parent = open(d->overlay_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (worker.parent < 0)
		return -errno;
	if (pthread_attr_init(&at) == 0) {
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		worker.running = pthread_create(&t, &at, worker_main, NULL) == 0;
		pthread_attr_destroy(&at);
	}
	if (!worker.running)
		log_warn("no thread for removing copy-on-write layers: they are removed by the "
			 "event loop, which waits for each");
	return 0;
}

static bool claimed(struct ef_daemon *d, const char *name)
{
	for (const struct ef_job_rec *j = d->jobs; j; j = j->next)
		if (j->overlay && !strcmp(j->overlay, name))
			return true;
	return false;
}

void ef_overlay_sweep(struct ef_daemon *d, unsigned int min_age_s)
{
	DIR *dh = opendir(d->overlay_dir);
	struct timespec now;
	struct dirent *de;

	if (!dh)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	while ((de = readdir(dh))) {
		struct stat st;

		if (de->d_name[0] == '.' || claimed(d, de->d_name))
			continue;
		/* being removed, unless egressd restarted (min_age_s 0) */
		if (min_age_s && strstr(de->d_name, ".gone"))
			continue;
		if (strlen(de->d_name) > EF_OVERLAY_NAME_MAX + 5)
			continue;
		if (fstatat(dirfd(dh), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		if (min_age_s && st.st_mtime + (time_t)min_age_s > now.tv_sec)
			continue;
		log_info("removing the copy-on-write layer %s: no job has it", de->d_name);
		remove_later(d, de->d_name);
	}
	closedir(dh);
}

int ef_overlay_claim(struct ef_daemon *d, struct ef_job_rec *j, const cJSON *ov, char *err,
		     size_t errlen)
{
	const cJSON *name = cJSON_GetObjectItem(ov, "name");
	const cJSON *wt = cJSON_GetObjectItem(ov, "write_through"), *w;
	char path[EF_PATH_MAX + EF_OVERLAY_NAME_MAX + 2];
	struct stat st;

	if (!ov)
		return 0;
	if (!cJSON_IsObject(ov) || !cJSON_IsString(name) || (wt && !cJSON_IsArray(wt))) {
		snprintf(err, errlen, "malformed run request: \"overlay\" must be {\"name\": "
				      "string, \"write_through\": [paths]}");
		return -EINVAL;
	}
	if (!ef_overlay_name_valid(name->valuestring)) {
		snprintf(err, errlen, "invalid copy-on-write layer name \"%.80s\"",
			 name->valuestring);
		return -EINVAL;
	}
	if (claimed(d, name->valuestring)) {
		snprintf(err, errlen, "the copy-on-write layer %s is another job's",
			 name->valuestring);
		return -EEXIST;
	}
	cJSON_ArrayForEach(w, wt) {
		if (!cJSON_IsString(w) || w->valuestring[0] != '/' ||
		    strlen(w->valuestring) > EF_PATH_MAX || !ef_utf8_valid(w->valuestring)) {
			snprintf(err, errlen, "malformed run request: \"write_through\" holds "
					      "absolute UTF-8 paths");
			return -EINVAL;
		}
	}
	snprintf(path, sizeof(path), "%s/%s", d->overlay_dir, name->valuestring);
	if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "no copy-on-write layer %s in %s", name->valuestring,
			 d->overlay_dir);
		return -ENOENT;
	}
	j->overlay = strdup(name->valuestring);
	j->write_through = wt ? cJSON_Duplicate(wt, true) : cJSON_CreateArray();
	if (!j->overlay || !j->write_through)
		return -ENOMEM;
	return 0;
}

void ef_overlay_release(struct ef_daemon *d, struct ef_job_rec *j)
{
	if (j->overlay)
		remove_later(d, j->overlay);
}

void ef_overlay_span(struct ef_span *s, const struct ef_job_rec *j)
{
	const cJSON *w;
	const char *paths[32];
	size_t n = 0;

	if (j->overlay) {
		ef_span_str(s, "egress.system_writes", "private");
		cJSON_ArrayForEach(w, j->write_through)
			if (cJSON_IsString(w) && n < sizeof(paths) / sizeof(paths[0]))
				paths[n++] = w->valuestring;
		ef_span_strs(s, "egress.write_through", paths, (int)n);
	} else if (j->uid == 0 && j->pol && j->pol->pol &&
		   (j->pol->pol->flags & EF_PF_HOST_WRITES)) {
		ef_span_str(s, "egress.system_writes", "host");
	}
}
