/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * egressctl audit, split along the seam between reading and rendering:
 * audit.c finds, reads, checks and filters the journal's spans;
 * audit_out.c renders those that pass as a table or as JSON Lines.
 */
#ifndef EF_AUDIT_H
#define EF_AUDIT_H

#include <stdbool.h>
#include <stdint.h>
#include <cjson/cJSON.h>

/* One OTLP span of a journal line whose shape was checked. Points into the
 * line's cJSON tree: valid until the next line is read. */
struct audit_span {
	const cJSON *span;
	const cJSON *attrs;    /* the span's "attributes" array, or NULL */
	const cJSON *resource; /* its resource's "attributes" array, or NULL */
	const char *name;
	uint64_t start_ns, end_ns;
};

/* The OTLP AnyValue object of attribute key, or NULL. */
const cJSON *audit_attr(const cJSON *attrs, const char *key);
/* Typed views of an attribute; NULL / false when absent or of another type. */
const char *audit_attr_str(const struct audit_span *s, const char *key);
bool audit_attr_int(const struct audit_span *s, const char *key, int64_t *ret);
bool audit_attr_true(const struct audit_span *s, const char *key);
/* An OTLP int64 (JSON string or number) as a C integer. */
bool audit_otlp_int(const cJSON *v, int64_t *ret);
/* egress.decision is deny or would_deny (what --denied selects). */
bool audit_is_denied(const struct audit_span *s);

/* "30s", "15m", "2h", "1d", "1h30m" ... into nanoseconds. 0 or -EINVAL/-ERANGE. */
int audit_parse_duration(const char *s, uint64_t *ret_ns);

/* ---- reading the journal (also egressctl policy suggest's input) ---- */

/* Called for every span of every well-formed line, in journal order; a
 * non-zero return stops the read and audit_read() returns it. */
typedef int (*audit_span_fn)(void *ctx, const struct audit_span *s);

struct audit_reader {
	/* set by the caller */
	const char *prog; /* prefix of messages: "egressctl audit" */
	const char *dir;  /* the journal dir: <state-dir>/journal */
	/* since: only spans that ended at cutoff_ns or later (realtime ns);
	 * files last written well before it are not read */
	bool since;
	uint64_t cutoff_ns;
	/* lines holding none of the needles are skipped unparsed (and
	 * unchecked); each must be audit_json_verbatim() */
	const char *const *needles;
	size_t n_needles;
	audit_span_fn fn;
	void *ctx;
	/* what was read */
	bool listed; /* the dir could be listed */
	uint64_t n_lines_ok, n_lines_bad;
	unsigned n_files, n_unreadable;
};

/* Streams the journal's files, oldest first, a line at a time. A malformed
 * line is reported once per file and skipped; an unterminated last line is
 * skipped silently. 0, -errno of listing the dir (listed false), or fn's
 * error. */
int audit_read(struct audit_reader *r);

enum audit_dir_source { AUDIT_DIR_FLAG, AUDIT_DIR_DAEMON, AUDIT_DIR_DEFAULT };
/* The state dir: flag (--state-dir), else what the running egressd says,
 * else /var/lib/egress-fence. */
enum audit_dir_source audit_state_dir(const char *prog, const char *flag, char *out, size_t len);
/* s is its own JSON string encoding (no '"', '\\', control or non-ASCII
 * bytes), so that it can be a needle. */
bool audit_json_verbatim(const char *s);

/* RFC 3339 UTC with nanoseconds (utc), or local time to the millisecond;
 * the raw number if the time cannot be broken down. */
void audit_fmt_time(uint64_t ns, bool utc, char *out, size_t len);
/* The destination of a span, as audit's table shows it: [ADDR]:PORT/PROTO
 * (server.address, else network.peer.address), the question of a dns
 * span, FAMILY/TYPE of a socket span; "" if none. */
void audit_dest(const struct audit_span *s, char *out, size_t len);
/* The character at p as a terminal may show it: its length in bytes if it
 * is valid UTF-8 and no control (C0, DEL, C1, bidi), else minus the bytes
 * to skip, to be shown as one replacement. */
int audit_char(const unsigned char *p);
/* src into dst (cap bytes, cap > 0) as audit_char shows it: each bad
 * character one '?', cut at a character boundary; returns the length. */
size_t term_copy(char *dst, size_t cap, const char *src);

struct audit_out;
int audit_out_new(bool json, struct audit_out **ret);
/* Render one span (the table buffers its first rows to size its columns).
 * 0 or -errno. */
int audit_out_span(struct audit_out *o, const struct audit_span *s);
/* Print what is still buffered; 0 or -errno (a failed write to stdout). */
int audit_out_finish(struct audit_out *o);
void audit_out_free(struct audit_out *o);

#endif /* EF_AUDIT_H */
