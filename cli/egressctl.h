/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef EF_EGRESSCTL_H
#define EF_EGRESSCTL_H

#include <stdbool.h>
#include <cjson/cJSON.h>

struct ctl_cmd {
	const char *name;
	int (*fn)(int argc, char **argv); /* argv[0] is the command name */
	const char *usage;
	const char *summary;
	const char *help; /* printed after the summary by COMMAND --help, or NULL */
};

extern const char *ctl_socket_path;

/* Reading egressd's replies (and egressctl's own models): o[k] if it is a
 * number, else 0; o[k] if it is a string, else NULL. A key missing or of
 * another type counts as none. */
static inline double ctl_num(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItem(o, k);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static inline const char *ctl_str(const cJSON *o, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItem(o, k));
}

/* "--opt VALUE" or "--opt=VALUE" at argv[*i]: 1 with *ret_val set (and *i
 * on the value), 0 if argv[*i] is another option, -EINVAL if the value is
 * missing or empty. */
int ctl_opt_arg(int argc, char **argv, int *i, const char *opt, const char **ret_val);
bool ctl_wants_help(int argc, char **argv, const char *usage_line, const char *summary);
/* One request, one reply. Prints why on failure and returns NULL. */
cJSON *ctl_request(cJSON *req, int *fd_out);
/* egressctl run: connect to egressd only if the control socket and every
 * directory above it are root's and writable by no one else (sticky
 * directories excepted), and the listener is root (SO_PEERCRED). The fd,
 * or -1 with why[] set. */
int ctl_connect_root(char *why, size_t n);
/* One request, one reply on fd (not closed). Prints why on failure. */
cJSON *ctl_exchange(int fd, cJSON *req);

int cmd_status(int argc, char **argv);
int cmd_jobs(int argc, char **argv);
int cmd_job_control(int argc, char **argv); /* freeze, thaw, kill */
int cmd_run(int argc, char **argv);
extern const char cmd_run_help[];
int cmd_policy(int argc, char **argv);
extern const char cmd_policy_help[];
int cmd_audit(int argc, char **argv);
/* cli/report.c: egressctl report JOB */
int cmd_report(int argc, char **argv);
extern const char cmd_report_help[];
/* cli/suggest.c: egressctl policy suggest; argv[0] is "suggest" */
int cmd_policy_suggest(int argc, char **argv);

#endif
