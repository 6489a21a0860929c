/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Small helpers shared by egressd and egressctl: logging, files, time. */
#ifndef EF_UTIL_H
#define EF_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define EF_VERSION "0.1.0"

enum { EF_LOG_ERR = 0, EF_LOG_WARN = 1, EF_LOG_INFO = 2, EF_LOG_DEBUG = 3 };
extern int ef_log_level;
void ef_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_err(...) ef_log(EF_LOG_ERR, __VA_ARGS__)
#define log_warn(...) ef_log(EF_LOG_WARN, __VA_ARGS__)
#define log_info(...) ef_log(EF_LOG_INFO, __VA_ARGS__)
#define log_debug(...) ef_log(EF_LOG_DEBUG, __VA_ARGS__)

/* Read a whole file (at most max bytes) into a NUL-terminated buffer. */
int ef_read_file(const char *path, size_t max, char **out, size_t *len);
/* Write a file atomically: temp file in the same dir, fsync, rename. */
int ef_write_file_atomic(const char *path, const char *data, size_t len, int mode);
/* mkdir -p */
int ef_mkdir_p(const char *path, int mode);
/* rm -rf of a plain directory tree (not for cgroups: see cgroup.h) */
int ef_rm_rf(const char *path);
/* Write a short string to an existing file (cgroup and proc knobs). */
int ef_write_str(const char *path, const char *s);

struct cJSON;
/* Every key of JSON object o is in the NULL-terminated list known; else
 * logs "PATH: unknown key "PREFIXKEY"" and returns -EINVAL. */
int ef_json_known_keys(const struct cJSON *o, const char *const *known, const char *prefix,
		       const char *path);

/* A number in [lo, hi] at o.key, if present; else logs
 * "PATH: SECTION.KEY must be a whole number from LO to HI", -EINVAL. */
int ef_json_u32(const struct cJSON *o, const char *section, const char *key, uint32_t lo,
		uint32_t hi, uint32_t *out, const char *path);
/* Leading and trailing blanks off, in place. */
void ef_trim(char **s);
/* %XX escapes decoded in place (W3C Baggage octets, as the OTEL_* lists use). */
void ef_pct_decode(char *s);

/* A pidfd's process: its pid as /proc/self/fdinfo shows it (0 or -1: reaped,
 * or outside this pid namespace; -errno: unreadable), and whether it has
 * exited (a zombie has). Its pid names no other process while it has not. */
pid_t ef_pidfd_pid(int pidfd);
bool ef_pidfd_exited(int pidfd);

uint64_t ef_now_realtime_ns(void);
uint64_t ef_now_boot_ns(void);
void ef_random_bytes(void *buf, size_t len);
void ef_hex(const uint8_t *in, size_t n, char *out); /* out: 2n+1 */
int ef_unhex(const char *in, uint8_t *out, size_t n); /* exactly 2n hex digits */

static inline void ef_freep(void *p)
{
	extern void free(void *);
	free(*(void **)p);
}
#define _cleanup_free_ __attribute__((cleanup(ef_freep)))

#endif /* EF_UTIL_H */
