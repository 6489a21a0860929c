// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal.h"
#include "util.h"

static int parse_seq(const char *name, uint64_t *seq)
{
	char *end;

	if (strncmp(name, "journal-", 8) != 0)
		return -1;
	*seq = strtoull(name + 8, &end, 10);
	return strcmp(end, ".jsonl") == 0 ? 0 : -1;
}

/* Lowest and highest sequence numbers present, and how many files. */
static unsigned scan(const char *dir, uint64_t *lo, uint64_t *hi)
{
	struct dirent *de;
	unsigned n = 0;
	DIR *d;

	*lo = UINT64_MAX;
	*hi = 0;
	d = opendir(dir);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		uint64_t s;

		if (parse_seq(de->d_name, &s))
			continue;
		n++;
		if (s < *lo)
			*lo = s;
		if (s > *hi)
			*hi = s;
	}
	closedir(d);
	return n;
}

static int open_seq(struct ef_journal *j, uint64_t seq)
{
	char path[4200];
	struct stat st;

	snprintf(path, sizeof(path), "%s/journal-%010" PRIu64 ".jsonl", j->dir, seq);
	j->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (j->fd < 0)
		return -errno;
	if (fstat(j->fd, &st) == 0)
		j->size = st.st_size;
	j->seq = seq;
	return 0;
}

static void enforce_bound(struct ef_journal *j)
{
	uint64_t lo, hi;
	unsigned n = scan(j->dir, &lo, &hi);

	while (n > j->max_files && lo < j->seq) {
		char path[4200];

		snprintf(path, sizeof(path), "%s/journal-%010" PRIu64 ".jsonl", j->dir, lo);
		if (unlink(path) == 0) {
			j->dropped_files++;
			log_warn("journal: over %u files, dropped %s", j->max_files, path);
		}
		n = scan(j->dir, &lo, &hi);
	}
}

int ef_journal_open(struct ef_journal *j, const char *state_dir, uint64_t max_file_bytes,
		    unsigned max_files)
{
	uint64_t lo, hi;
	int ret;

	memset(j, 0, sizeof(*j));
	j->fd = -1;
	j->max_file_bytes = max_file_bytes;
	j->max_files = max_files < 2 ? 2 : max_files;
	if (snprintf(j->dir, sizeof(j->dir), "%s/journal", state_dir) >= (int)sizeof(j->dir))
		return -ENAMETOOLONG;
	ret = ef_mkdir_p(j->dir, 0750);
	if (ret)
		return ret;
	if (!scan(j->dir, &lo, &hi))
		hi = 1;
	return open_seq(j, hi);
}

int ef_journal_append(struct ef_journal *j, const char *line, size_t len)
{
	size_t off = 0;

	if (j->fd < 0)
		return -EBADF;
	if (j->size > 0 && j->size + len > j->max_file_bytes) {
		close(j->fd);
		j->fd = -1;
		if (open_seq(j, j->seq + 1) < 0) {
			j->write_errors++;
			return -errno;
		}
		enforce_bound(j);
	}
	while (off < len) {
		ssize_t w = write(j->fd, line + off, len - off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (!j->write_errors++)
				log_err("journal: write failed: %s", strerror(errno));
			/* never leave half a line: truncate back */
			if (off && ftruncate(j->fd, j->size) < 0)
				log_err("journal: cannot truncate partial line: %s", strerror(errno));
			return -errno;
		}
		off += w;
	}
	j->size += len;
	j->lines++;
	return 0;
}

void ef_journal_sync(struct ef_journal *j)
{
	if (j->fd >= 0)
		fdatasync(j->fd);
}

void ef_journal_close(struct ef_journal *j)
{
	if (j->fd >= 0) {
		fdatasync(j->fd);
		close(j->fd);
	}
	j->fd = -1;
}
