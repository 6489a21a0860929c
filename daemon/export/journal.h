/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The span journal: <state-dir>/journal/journal-<seq>.jsonl, one OTLP/JSON
 * ExportTraceServiceRequest per line (what the Collector's otlpjsonfile
 * receiver reads). Rotated by size; the oldest file goes when there are
 * more than max_files, and what it held is counted as dropped.
 *
 * The journal is also the exporter's spool. The writer (the ring-buffer
 * consumer, egressd's main thread) only appends and publishes how far the
 * files are complete; a reader (the exporter thread) follows behind with
 * struct ef_journal_reader and never makes the writer wait for it. What the
 * bound drops ahead of the reader is counted as undelivered.
 */
#ifndef EF_JOURNAL_H
#define EF_JOURNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define EF_JOURNAL_COUNTS 64 /* files whose span counts the writer remembers */

/* The same line, already encoded for the reader (the exporter's protobuf),
 * so that a reader keeping up never parses the file back. Only a shortcut:
 * the file stays the record, and an entry the bounded queue dropped is
 * simply read from the file. */
struct ef_journal_entry {
	struct ef_journal_entry *next;
	uint64_t seq, start, end; /* the line's place in the journal */
	unsigned n_spans;
	size_t len;
	char data[];
};

struct ef_journal {
	char dir[4096];
	int fd;
	uint64_t seq;	   /* sequence number of the open file */
	uint64_t size;	   /* bytes in the open file */
	uint64_t max_file_bytes;
	unsigned max_files;
	gid_t gid;	   /* the group its files are given ("journal": {"group"}); -1: none */
	uint64_t lines;	   /* lines written by this process */
	uint64_t spans;	   /* spans written by this process */
	uint64_t dropped_files;
	uint64_t evicted_spans; /* spans in the files dropped, all told */
	/* evictions not yet recorded as an egress.journal span: files, spans,
	 * and the time range of those spans (unix ns) */
	uint64_t ev_files, ev_spans, ev_first, ev_last;
	uint64_t write_errors;
	struct {
		uint64_t seq, spans;
	} counts[EF_JOURNAL_COUNTS]; /* spans per file written by this process */

	/* shared with the reader, under lock */
	pthread_mutex_t lock;
	pthread_cond_t cond;	  /* signalled on every append */
	uint64_t pub_seq, pub_size; /* complete lines end here */
	bool has_reader;
	uint64_t reader_seq, reader_off; /* where the reader is */
	bool reader_fd;		  /* with that file open (which survives an unlink) */
	uint64_t dropped_undelivered; /* spans in files dropped before the reader got there */
	/* the live queue: on when the reader wants it */
	bool queue_on;
	struct ef_journal_entry *q_head, *q_tail;
	size_t q_bytes, q_max;
	uint64_t q_missed; /* entries dropped to stay under q_max: read from the file */
};

int ef_journal_open(struct ef_journal *j, const char *state_dir, uint64_t max_file_bytes,
		    unsigned max_files, gid_t gid);
/* Append one complete line holding n_spans spans, and (if the queue is on
 * and enc is not NULL) its encoded form for the reader. Returns 0 or -errno
 * (counted, logged once). */
int ef_journal_append(struct ef_journal *j, const char *line, size_t len, unsigned n_spans,
		      const void *enc, size_t enc_len);
/* Before the reader starts: queue the encoded form of each line, at most
 * max_bytes of it (the oldest entries go first). */
void ef_journal_queue_on(struct ef_journal *j, size_t max_bytes);
/* Reader side: the queued entry for the line that starts at `at`, removed
 * from the queue (free() it), or NULL; entries before `at` are discarded. */
struct ef_journal_entry *ef_journal_take(struct ef_journal *j, uint64_t seq, uint64_t off);
void ef_journal_sync(struct ef_journal *j);
void ef_journal_close(struct ef_journal *j);
/* Spans in one journal line or file: occurrences of "spanId":" (an escaped
 * string can never contain it). */
size_t ef_journal_count_spans(const char *p, size_t len);

/* A reader position: the byte after the last line consumed. */
struct ef_journal_pos {
	uint64_t seq, off;
};

struct ef_journal_reader {
	struct ef_journal *j;
	int fd;
	struct ef_journal_pos pos;  /* after the last line returned */
	uint64_t file_off;	    /* file offset of buf[0] */
	char *buf;
	size_t cap, len, start;	    /* buf[start..len) not yet returned */
	size_t max_line;
	uint64_t skipped_lines;	    /* longer than max_line */
};

/* Start at pos (from a cursor; {0, 0} for the oldest file). */
int ef_journal_reader_init(struct ef_journal_reader *r, struct ef_journal *j,
			   struct ef_journal_pos pos, size_t max_line);
/* The next complete line (without its '\n'), valid until the next call.
 * Returns 1 with a line, 0 when nothing complete is there yet, -errno on an
 * I/O error. Moves to the next file when the writer has finished one. */
int ef_journal_reader_next(struct ef_journal_reader *r, const char **line, size_t *len);
void ef_journal_reader_fini(struct ef_journal_reader *r);
/* Continue after a line consumed from the queue instead of the file. */
void ef_journal_reader_seek(struct ef_journal_reader *r, uint64_t seq, uint64_t off);

/* The exporter's cursor, <state-dir>/cursors/NAME.json: written with a
 * rename, so a crash leaves the old or the new one, never half. */
int ef_cursor_load(const char *state_dir, const char *name, struct ef_journal_pos *pos);
int ef_cursor_save(const char *state_dir, const char *name, struct ef_journal_pos pos);

#endif /* EF_JOURNAL_H */
