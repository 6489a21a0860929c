// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * egressctl: the user's tool. Subcommands are dispatched from a table; each
 * has --help. Talks to egressd over the control socket (--socket PATH,
 * EGRESSCTL_SOCKET, or /run/egress-fence/control.sock).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "egressctl.h"
#include "lib/util.h"

const char *ctl_socket_path = "/run/egress-fence/control.sock";

static const char audit_help[] =
	"Print the spans of the span journal (<state-dir>/journal/*.jsonl), oldest first.\n"
	"The files are read directly: egressd need not run.\n"
	"\n"
	"  --job ID          spans of this job (egress.job.id)\n"
	"  --denied          decisions deny or would_deny\n"
	"  --flagged         egress.probe spans, and spans with egress.flagged true (the\n"
	"                    egress.job span of a flagged job)\n"
	"  --since DURATION  spans that ended within it (30s, 15m, 2h, 1d, 1w, 500ms, 1h30m)\n"
	"  --state-dir DIR   read DIR/journal; default: the state dir of the egressd at\n"
	"                    --socket, else /var/lib/egress-fence\n"
	"  --json            JSON Lines, one span per line, nothing else on stdout\n"
	"\n"
	"Filters combine with AND. A summary line goes to stderr. Exit status: 0; 1 if the\n"
	"journal is missing or nothing in it could be read; 2 for a usage error.\n";

static const struct ctl_cmd cmds[] = {
	{ "status", cmd_status, "status [--json]", "show the daemon's state and counters", NULL },
	{ "run", cmd_run,
	  "run [--policy NAME|FILE] [--job-id ID] [--attr KEY=VALUE]... [--traceparent TP] "
	  "[--quiet] [--notices FILE] [--fail-on-deny] -- CMD [ARG...]",
	  "run CMD fenced; exits with its status, 125 if the fence cannot be set up", cmd_run_help },
	{ "jobs", cmd_jobs, "jobs [--json]", "list running jobs: state (running, frozen), probe flags",
	  NULL },
	{ "freeze", cmd_job_control, "freeze JOB [--json]",
	  "stop every process of the job where it is (root or the job's owner)", NULL },
	{ "thaw", cmd_job_control, "thaw JOB [--json]",
	  "let a frozen job go on (root only: a flagged job was frozen for a person to look at)",
	  NULL },
	{ "kill", cmd_job_control, "kill JOB [--json]",
	  "SIGKILL every process of the job, frozen or not (root or the job's owner)", NULL },
	{ "policy", cmd_policy,
	  "policy list | show NAME | validate FILE... | diff FILE | apply FILE | add NAME RULE... | "
	  "remove NAME RULE... | suggest ...",
	  "inspect, check, change and suggest policies; changes apply to running jobs at once",
	  cmd_policy_help },
	{ "audit", cmd_audit,
	  "audit [--job ID] [--denied] [--flagged] [--since DURATION] [--state-dir DIR] [--json]",
	  "query the decision journal; works without egressd (DURATION: 30s, 15m, 2h, 1d, 1h30m)",
	  audit_help },
	{ "report", cmd_report,
	  "report JOB [--format text|markdown|json|html] [--since DURATION] [--state-dir DIR]\n"
	  "       [--spans FILE]",
	  "one job from the journal: what was denied, by whom, and what would allow it",
	  cmd_report_help },
	{ 0 }
};

static void usage(FILE *f)
{
	fprintf(f, "usage: egressctl [--socket PATH] COMMAND [ARGS]\n\ncommands:\n");
	for (const struct ctl_cmd *c = cmds; c->name; c++)
		fprintf(f, "  %-8s %s\n", c->name, c->summary);
	fprintf(f, "\nRun 'egressctl COMMAND --help' for a command's options.\n"
		   "The socket is --socket PATH, else $EGRESSCTL_SOCKET, else %s.\n",
		ctl_socket_path);
}

int ctl_opt_arg(int argc, char **argv, int *i, const char *opt, const char **ret_val)
{
	size_t l = strlen(opt);

	if (strncmp(argv[*i], opt, l))
		return 0;
	if (argv[*i][l] == '=') {
		*ret_val = argv[*i] + l + 1;
		return **ret_val ? 1 : -EINVAL;
	}
	if (argv[*i][l])
		return 0;
	if (*i + 1 >= argc || !*argv[*i + 1])
		return -EINVAL;
	*ret_val = argv[++*i];
	return 1;
}

bool ctl_wants_help(int argc, char **argv, const char *usage_line, const char *summary)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("usage: egressctl %s\n\n%s\n", usage_line, summary);
			return true;
		}
	}
	return false;
}

int main(int argc, char **argv)
{
	const char *env = getenv("EGRESSCTL_SOCKET");
	int i = 1;

	if (env && *env)
		ctl_socket_path = env;
	while (i < argc && argv[i][0] == '-') {
		if (!strcmp(argv[i], "--socket") && i + 1 < argc) {
			ctl_socket_path = argv[i + 1];
			i += 2;
		} else if (!strncmp(argv[i], "--socket=", 9)) {
			ctl_socket_path = argv[i] + 9;
			i++;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--version")) {
			printf("egressctl %s\n", EF_VERSION);
			return 0;
		} else {
			fprintf(stderr, "egressctl: unknown option %s\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	for (const struct ctl_cmd *c = cmds; c->name; c++) {
		if (strcmp(argv[i], c->name))
			continue;
		/* policy suggest has options and help of its own */
		if (!strcmp(c->name, "policy") && i + 1 < argc && !strcmp(argv[i + 1], "suggest"))
			return c->fn(argc - i, argv + i);
		if (ctl_wants_help(argc - i, argv + i, c->usage, c->summary)) {
			if (c->help)
				printf("\n%s", c->help);
			return 0;
		}
		return c->fn(argc - i, argv + i);
	}
	fprintf(stderr, "egressctl: unknown command \"%s\"\n", argv[i]);
	usage(stderr);
	return 2;
}
