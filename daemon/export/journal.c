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
#include "lib/util.h"

static const char span_key[] = "\"spanId\":\"";

size_t ef_journal_count_spans(const char *p, size_t len)
{
	const char *end = p + len;
	size_t n = 0;

	while (p < end && (p = memmem(p, end - p, span_key, sizeof(span_key) - 1))) {
		n++;
		p += sizeof(span_key) - 1;
	}
	return n;
}

static int parse_seq(const char *name, uint64_t *seq)
{
	char *end;

	if (strncmp(name, "journal-", 8) != 0)
		return -1;
	*seq = strtoull(name + 8, &end, 10);
	return strcmp(end, ".jsonl") == 0 ? 0 : -1;
}

static void seq_path(const char *dir, uint64_t seq, char *out, size_t len)
{
	snprintf(out, len, "%s/journal-%010" PRIu64 ".jsonl", dir, seq);
}

/* Lowest and highest sequence numbers present, how many files, and the
 * lowest above `after` (UINT64_MAX if none). */
static unsigned scan(const char *dir, uint64_t *lo, uint64_t *hi, uint64_t after,
		     uint64_t *next)
{
	struct dirent *de;
	unsigned n = 0;
	DIR *d;

	*lo = *next = UINT64_MAX;
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
		if (s > after && s < *next)
			*next = s;
	}
	closedir(d);
	return n;
}

/* A crash can leave half a line at the end: cut the file back to its last
 * newline so the next line starts clean and readers never see the torn one. */
static void repair_tail(int fd, uint64_t *size)
{
	char buf[4096];
	uint64_t end = *size;

	while (end > 0) {
		size_t n = end < sizeof(buf) ? end : sizeof(buf);
		ssize_t r = pread(fd, buf, n, end - n);

		if (r != (ssize_t)n)
			return;
		for (size_t i = n; i > 0; i--) {
			if (buf[i - 1] == '\n') {
				uint64_t keep = end - n + i;

				if (keep != *size) {
					log_warn("journal: cutting a torn last line (%" PRIu64
						 " bytes)", *size - keep);
					if (ftruncate(fd, keep) == 0)
						*size = keep;
				}
				return;
			}
		}
		end -= n;
	}
	if (*size && ftruncate(fd, 0) == 0)
		*size = 0;
}

static int open_seq(struct ef_journal *j, uint64_t seq)
{
	char path[4200];
	struct stat st;
	uint64_t size = 0;

	seq_path(j->dir, seq, path, sizeof(path));
	j->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (j->fd < 0)
		return -errno;
	if (j->gid != (gid_t)-1 && fchown(j->fd, (uid_t)-1, j->gid))
		log_warn("journal %s: giving it group %u: %s", path, (unsigned)j->gid,
			 strerror(errno));
	if (fstat(j->fd, &st) == 0)
		size = st.st_size;
	repair_tail(j->fd, &size);
	/* the file's blocks, reserved now (its size unchanged): a job that fills
	 * the filesystem the journal is on cannot make the next spans fail
	 * (ENOSPC). Where the filesystem cannot reserve, a failed write is
	 * counted and logged (write_errors). */
	if (j->max_file_bytes > size &&
	    fallocate(j->fd, FALLOC_FL_KEEP_SIZE, (off_t)size, (off_t)(j->max_file_bytes - size)) &&
	    errno != EOPNOTSUPP)
		log_warn("journal: reserving %llu bytes for %s: %s",
			 (unsigned long long)(j->max_file_bytes - size), path, strerror(errno));
	pthread_mutex_lock(&j->lock);
	j->size = size;
	j->seq = seq;
	j->pub_seq = seq;
	j->pub_size = size;
	pthread_cond_broadcast(&j->cond);
	pthread_mutex_unlock(&j->lock);
	return 0;
}

/* Spans in a file from byte `from` on. */
static uint64_t file_spans(struct ef_journal *j, uint64_t seq, const char *path, uint64_t from)
{
	uint64_t n = 0;
	char *text = NULL;
	size_t len = 0;

	if (!from)
		for (int i = 0; i < EF_JOURNAL_COUNTS; i++)
			if (j->counts[i].seq == seq)
				return j->counts[i].spans;
	/* written before this process started, or partly read: count (rare:
	 * only when the bound drops a file the exporter has not finished) */
	if (!ef_read_file(path, (size_t)j->max_file_bytes * 2 + 4096, &text, &len) && from < len)
		n = ef_journal_count_spans(text + from, len - from);
	free(text);
	return n;
}

/* The first time after key in p (a decimal string or number), or 0. */
static uint64_t time_after(const char *p, const char *end)
{
	uint64_t v = 0;

	if (p < end && *p == '"')
		p++;
	for (; p < end && *p >= '0' && *p <= '9'; p++)
		v = v * 10 + (uint64_t)(*p - '0');
	return v;
}

/* What an evicted file held: its spans and their time range (the earliest
 * start, the latest end), read from the file itself so that files of an
 * earlier egressd are counted too. */
static void evict_summary(struct ef_journal *j, const char *path, uint64_t *spans,
			  uint64_t *first, uint64_t *last)
{
	static const char sk[] = "\"startTimeUnixNano\":", ek[] = "\"endTimeUnixNano\":";
	char *text = NULL;
	size_t len = 0;

	*spans = 0;
	*first = UINT64_MAX;
	*last = 0;
	if (ef_read_file(path, (size_t)j->max_file_bytes * 2 + (1u << 20), &text, &len))
		return;
	*spans = ef_journal_count_spans(text, len);
	for (const char *p = text, *end = text + len;
	     (p = memmem(p, end - p, sk, sizeof(sk) - 1)); ) {
		uint64_t t = time_after(p + sizeof(sk) - 1, end);
		const char *q;

		if (t && t < *first)
			*first = t;
		p += sizeof(sk) - 1;
		q = memmem(p, end - p, ek, sizeof(ek) - 1);
		if (q) {
			t = time_after(q + sizeof(ek) - 1, end);
			if (t > *last)
				*last = t;
		}
	}
	free(text);
	if (*first == UINT64_MAX)
		*first = 0;
}

static void enforce_bound(struct ef_journal *j)
{
	uint64_t lo, hi, next;
	unsigned n = scan(j->dir, &lo, &hi, 0, &next);

	while (n > j->max_files && lo < j->seq) {
		char path[4200];
		uint64_t spans = 0, from = 0, ev_spans, ev_first, ev_last;
		bool ahead;

		seq_path(j->dir, lo, path, sizeof(path));
		evict_summary(j, path, &ev_spans, &ev_first, &ev_last);
		/* what the reader has not read, and cannot read once unlinked
		 * (a file it holds open it can still finish) */
		pthread_mutex_lock(&j->lock);
		ahead = j->has_reader && (lo > j->reader_seq || (lo == j->reader_seq && !j->reader_fd));
		if (ahead && lo == j->reader_seq)
			from = j->reader_off;
		pthread_mutex_unlock(&j->lock);
		if (ahead)
			spans = file_spans(j, lo, path, from);
		if (unlink(path) == 0) {
			j->dropped_files++;
			/* never silent: counted, and recorded by the writer's next
			 * flush (egress.journal) */
			j->evicted_spans += ev_spans;
			j->ev_files++;
			j->ev_spans += ev_spans;
			if (ev_first && (!j->ev_first || ev_first < j->ev_first))
				j->ev_first = ev_first;
			if (ev_last > j->ev_last)
				j->ev_last = ev_last;
			log_warn("journal: over %u files of %" PRIu64 " bytes, evicted %s: %" PRIu64
				 " spans recorded from %" PRIu64 " to %" PRIu64 " (unix ns)",
				 j->max_files, j->max_file_bytes, path, ev_spans, ev_first, ev_last);
			/* a queued copy of a dropped line must not be sent after all:
			 * it is counted as dropped */
			pthread_mutex_lock(&j->lock);
			while (j->q_head && j->q_head->seq <= lo) {
				struct ef_journal_entry *e = j->q_head;

				j->q_head = e->next;
				j->q_bytes -= e->len;
				free(e);
			}
			if (!j->q_head)
				j->q_tail = NULL;
			pthread_mutex_unlock(&j->lock);
			if (ahead) {
				pthread_mutex_lock(&j->lock);
				j->dropped_undelivered += spans;
				pthread_mutex_unlock(&j->lock);
				log_warn("journal: over %u files, dropped %s with %" PRIu64
					 " spans not yet exported", j->max_files, path, spans);
			} else {
				log_info("journal: over %u files, dropped %s", j->max_files, path);
			}
		}
		n = scan(j->dir, &lo, &hi, 0, &next);
	}
}

int ef_journal_open(struct ef_journal *j, const char *state_dir, uint64_t max_file_bytes,
		    unsigned max_files, gid_t gid)
{
	uint64_t lo, hi, next;
	int ret;

	memset(j, 0, sizeof(*j));
	pthread_mutex_init(&j->lock, NULL);
	pthread_cond_init(&j->cond, NULL);
	j->fd = -1;
	j->max_file_bytes = max_file_bytes;
	j->max_files = max_files < 2 ? 2 : max_files;
	j->gid = gid;
	for (int i = 0; i < EF_JOURNAL_COUNTS; i++)
		j->counts[i].seq = UINT64_MAX;
	if (snprintf(j->dir, sizeof(j->dir), "%s/journal", state_dir) >= (int)sizeof(j->dir))
		return -ENAMETOOLONG;
	ret = ef_mkdir_p(j->dir, 0750);
	if (ret)
		return ret;
	/* the group that may read it (egressctl report in a CI step run by the
	 * runner's user); no one else */
	if (gid != (gid_t)-1 && (chown(j->dir, (uid_t)-1, gid) || chmod(j->dir, 0750)))
		return -errno;
	if (!scan(j->dir, &lo, &hi, 0, &next))
		hi = 1;
	return open_seq(j, hi);
}

static void count_spans(struct ef_journal *j, unsigned n)
{
	int slot = j->seq % EF_JOURNAL_COUNTS;

	if (j->counts[slot].seq != j->seq) {
		j->counts[slot].seq = j->seq;
		j->counts[slot].spans = 0;
	}
	j->counts[slot].spans += n;
	j->spans += n;
}

static void queue_push(struct ef_journal *j, uint64_t start, unsigned n_spans, const void *enc,
		       size_t enc_len)
{
	struct ef_journal_entry *e;

	if (!j->queue_on || !enc)
		return;
	e = malloc(sizeof(*e) + enc_len);
	if (!e)
		return; /* the reader will parse the file */
	e->next = NULL;
	e->seq = j->seq;
	e->start = start;
	e->end = j->size;
	e->n_spans = n_spans;
	e->len = enc_len;
	memcpy(e->data, enc, enc_len);
	if (j->q_tail)
		j->q_tail->next = e;
	else
		j->q_head = e;
	j->q_tail = e;
	j->q_bytes += enc_len;
	/* a reader that fell behind (a backend outage) reads the file instead */
	while (j->q_bytes > j->q_max && j->q_head) {
		struct ef_journal_entry *old = j->q_head;

		j->q_head = old->next;
		if (!j->q_head)
			j->q_tail = NULL;
		j->q_bytes -= old->len;
		j->q_missed++;
		free(old);
	}
}

void ef_journal_queue_on(struct ef_journal *j, size_t max_bytes)
{
	pthread_mutex_lock(&j->lock);
	j->q_max = max_bytes;
	j->queue_on = true;
	pthread_mutex_unlock(&j->lock);
}

static bool before(const struct ef_journal_entry *e, uint64_t seq, uint64_t off)
{
	return e->seq < seq || (e->seq == seq && e->start < off);
}

struct ef_journal_entry *ef_journal_take(struct ef_journal *j, uint64_t seq, uint64_t off)
{
	struct ef_journal_entry *e, *got = NULL;

	pthread_mutex_lock(&j->lock);
	while ((e = j->q_head) && before(e, seq, off)) {
		j->q_head = e->next;
		j->q_bytes -= e->len;
		free(e);
	}
	if (e && e->seq == seq && e->start == off) {
		j->q_head = e->next;
		j->q_bytes -= e->len;
		got = e;
	}
	if (!j->q_head)
		j->q_tail = NULL;
	pthread_mutex_unlock(&j->lock);
	return got;
}

int ef_journal_append(struct ef_journal *j, const char *line, size_t len, unsigned n_spans,
		      const void *enc, size_t enc_len)
{
	size_t off = 0;
	uint64_t start;

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
	start = j->size;
	j->size += len;
	j->lines++;
	count_spans(j, n_spans);
	/* the entry and the new end in one step: a reader that sees the line
	 * complete also finds its entry (unless the queue dropped it) */
	pthread_mutex_lock(&j->lock);
	queue_push(j, start, n_spans, enc, enc_len);
	j->pub_seq = j->seq;
	j->pub_size = j->size;
	pthread_cond_signal(&j->cond);
	pthread_mutex_unlock(&j->lock);
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
	pthread_mutex_lock(&j->lock);
	while (j->q_head) {
		struct ef_journal_entry *e = j->q_head;

		j->q_head = e->next;
		free(e);
	}
	j->q_tail = NULL;
	j->q_bytes = 0;
	pthread_cond_broadcast(&j->cond);
	pthread_mutex_unlock(&j->lock);
}

/* ---- reader ---------------------------------------------------------- */

int ef_journal_reader_init(struct ef_journal_reader *r, struct ef_journal *j,
			   struct ef_journal_pos pos, size_t max_line)
{
	memset(r, 0, sizeof(*r));
	r->j = j;
	r->fd = -1;
	r->pos = pos;
	r->max_line = max_line;
	r->cap = 1 << 20;
	r->buf = malloc(r->cap);
	if (!r->buf)
		return -ENOMEM;
	pthread_mutex_lock(&j->lock);
	j->has_reader = true;
	j->reader_seq = pos.seq;
	j->reader_off = pos.off;
	j->reader_fd = false;
	pthread_mutex_unlock(&j->lock);
	return 0;
}

void ef_journal_reader_fini(struct ef_journal_reader *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	free(r->buf);
	r->buf = NULL;
	if (r->j) {
		pthread_mutex_lock(&r->j->lock);
		r->j->has_reader = false;
		pthread_mutex_unlock(&r->j->lock);
	}
}

void ef_journal_reader_seek(struct ef_journal_reader *r, uint64_t seq, uint64_t off)
{
	if (r->fd >= 0 && seq != r->pos.seq) {
		close(r->fd);
		r->fd = -1;
	}
	r->pos.seq = seq;
	r->pos.off = off;
	r->file_off = off;
	r->len = r->start = 0;
	pthread_mutex_lock(&r->j->lock);
	r->j->reader_seq = seq;
	r->j->reader_off = off;
	r->j->reader_fd = r->fd >= 0;
	pthread_mutex_unlock(&r->j->lock);
}

/* Open the file at r->pos.seq, or the next one present after it. Under the
 * lock, so the writer's bound never counts a file the reader holds open as
 * dropped, nor drops one between our look and our open. */
static int reader_open(struct ef_journal_reader *r)
{
	struct ef_journal *j = r->j;
	char path[4200];
	uint64_t lo, hi, next;
	int ret = 0;

	pthread_mutex_lock(&j->lock);
	for (;;) {
		struct stat st;

		seq_path(j->dir, r->pos.seq, path, sizeof(path));
		r->fd = open(path, O_RDONLY | O_CLOEXEC);
		if (r->fd >= 0) {
			if (fstat(r->fd, &st) == 0 && r->pos.off > (uint64_t)st.st_size)
				r->pos.off = st.st_size; /* the torn tail was cut */
			break;
		}
		if (errno != ENOENT) {
			ret = -errno;
			break;
		}
		/* gone (dropped by the bound, counted then) or never there */
		scan(j->dir, &lo, &hi, r->pos.seq, &next);
		if (next == UINT64_MAX || r->pos.seq >= j->pub_seq) {
			ret = 0; /* nothing yet */
			break;
		}
		r->pos.seq = next;
		r->pos.off = 0;
	}
	if (r->fd >= 0) {
		j->reader_seq = r->pos.seq;
		j->reader_off = r->pos.off;
		j->reader_fd = true;
		r->file_off = r->pos.off;
		r->len = r->start = 0;
	}
	pthread_mutex_unlock(&j->lock);
	return ret;
}

int ef_journal_reader_next(struct ef_journal_reader *r, const char **line, size_t *len)
{
	struct ef_journal *j = r->j;

	for (;;) {
		uint64_t pub_seq, pub_size, limit;
		char *nl;

		if (r->fd < 0) {
			int ret = reader_open(r);

			if (ret < 0 || r->fd < 0)
				return ret;
		}
		/* a whole line buffered? */
		nl = memchr(r->buf + r->start, '\n', r->len - r->start);
		if (nl) {
			size_t n = nl - (r->buf + r->start);

			*line = r->buf + r->start;
			*len = n;
			r->start += n + 1;
			r->pos.off = r->file_off + r->start;
			if (n > r->max_line) {
				r->skipped_lines++;
				continue;
			}
			return 1;
		}
		pthread_mutex_lock(&j->lock);
		pub_seq = j->pub_seq;
		pub_size = j->pub_size;
		pthread_mutex_unlock(&j->lock);
		/* the writer's open file is complete up to pub_size; older ones whole */
		limit = r->pos.seq == pub_seq ? pub_size : UINT64_MAX;
		if (r->pos.seq > pub_seq)
			return 0;
		/* read more: keep the unreturned tail, grow for a long line */
		if (r->start) {
			memmove(r->buf, r->buf + r->start, r->len - r->start);
			r->len -= r->start;
			r->file_off += r->start;
			r->start = 0;
		}
		if (r->len == r->cap) {
			size_t nc = r->cap * 2;
			char *nb;

			if (r->len > r->max_line + 1) {
				/* an absurd line: skip to its end */
				r->file_off += r->len;
				r->len = 0;
				r->skipped_lines++;
				nc = r->cap;
			}
			nb = nc != r->cap ? realloc(r->buf, nc) : r->buf;
			if (!nb)
				return -ENOMEM;
			r->buf = nb;
			r->cap = nc;
		}
		{
			uint64_t at = r->file_off + r->len;
			size_t want = r->cap - r->len;
			ssize_t got;

			if (limit != UINT64_MAX) {
				if (at >= limit)
					return 0;
				if (want > limit - at)
					want = limit - at;
			}
			got = pread(r->fd, r->buf + r->len, want, at);
			if (got < 0)
				return -errno;
			if (got > 0) {
				r->len += got;
				continue;
			}
		}
		/* end of a file the writer is done with: on to the next one */
		if (r->pos.seq < pub_seq) {
			if (r->len > r->start)
				log_warn("journal: %" PRIu64 ": %zu bytes without a newline at "
					 "the end, skipped", r->pos.seq, r->len - r->start);
			close(r->fd);
			r->fd = -1;
			r->pos.seq++;
			r->pos.off = 0;
			pthread_mutex_lock(&j->lock);
			j->reader_seq = r->pos.seq;
			j->reader_off = 0;
			j->reader_fd = false;
			pthread_mutex_unlock(&j->lock);
			continue;
		}
		return 0;
	}
}

/* ---- cursor ---------------------------------------------------------- */

int ef_cursor_load(const char *state_dir, const char *name, struct ef_journal_pos *pos)
{
	char path[4200], *text = NULL;
	unsigned long long seq, off;
	int ret;

	snprintf(path, sizeof(path), "%s/cursors/%s.json", state_dir, name);
	ret = ef_read_file(path, 4096, &text, NULL);
	if (ret)
		return ret;
	if (sscanf(text, "{\"seq\":%llu,\"offset\":%llu}", &seq, &off) != 2) {
		log_warn("%s: not a cursor; starting from the oldest journal file", path);
		free(text);
		return -EINVAL;
	}
	free(text);
	pos->seq = seq;
	pos->off = off;
	return 0;
}

int ef_cursor_save(const char *state_dir, const char *name, struct ef_journal_pos pos)
{
	char dir[4200], path[4300], tmp[4400], text[96];
	int fd, n, ret = 0;

	snprintf(dir, sizeof(dir), "%s/cursors", state_dir);
	snprintf(path, sizeof(path), "%s/%s.json", dir, name);
	snprintf(tmp, sizeof(tmp), "%s/.%s.json.tmp", dir, name);
	n = snprintf(text, sizeof(text), "{\"seq\":%" PRIu64 ",\"offset\":%" PRIu64 "}\n", pos.seq,
		     pos.off);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0 && errno == ENOENT && ef_mkdir_p(dir, 0750) == 0)
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	/* no fsync: a rename is atomic against a crash of the process; after a
	 * power loss an older cursor only means spans are sent again */
	if (write(fd, text, n) != n)
		ret = -EIO;
	close(fd);
	if (!ret && rename(tmp, path) < 0)
		ret = -errno;
	return ret;
}
