/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The span journal: <state-dir>/journal/journal-<seq>.jsonl, one OTLP/JSON
 * ExportTraceServiceRequest per line (what the Collector's otlpjsonfile
 * receiver reads). Rotated by size; the oldest file goes when there are
 * more than max_files, and what it held is counted as dropped.
 */
#ifndef EF_JOURNAL_H
#define EF_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

struct ef_journal {
	char dir[4096];
	int fd;
	uint64_t seq;	   /* sequence number of the open file */
	uint64_t size;	   /* bytes in the open file */
	uint64_t max_file_bytes;
	unsigned max_files;
	uint64_t lines;	   /* lines written by this process */
	uint64_t dropped_files;
	uint64_t write_errors;
};

int ef_journal_open(struct ef_journal *j, const char *state_dir, uint64_t max_file_bytes,
		    unsigned max_files);
/* Append one complete line. Returns 0 or -errno (counted, logged once). */
int ef_journal_append(struct ef_journal *j, const char *line, size_t len);
void ef_journal_sync(struct ef_journal *j);
void ef_journal_close(struct ef_journal *j);

#endif /* EF_JOURNAL_H */
