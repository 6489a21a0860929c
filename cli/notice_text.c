// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A notice of egressd's (daemon/notices/notices.c) in words, for the command's
 * stderr: what was refused, why, by which policy, that it is the fence's
 * policy and not a network fault, and the command that would allow it.
 * Pure (no I/O), unit-tested (tests/unit/test_notices.c). Every value in a
 * notice may be the job's: printed with control characters and invalid
 * UTF-8 as '?', and an allow command is made only of plain words.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "egressctl.h"
#include "notices.h"
#include "policy.h"
#include "suggest.h"

/* a value of the job's, printable: control characters and invalid UTF-8
 * as '?' (a notice is one line a person reads on a terminal) */
static void clean(char *dst, size_t len, const char *src)
{
	term_copy(dst, len, src ? src : "?");
}

/* The rule `policy suggest` would write for a refused connection or
 * datagram; NULL if none applies (left out: metadata, an address class). */
static char *allow_rule(const cJSON *dst, bool send)
{
	const char *name = ctl_str(dst, "name"), *addr = ctl_str(dst, "address");
	double port = cJSON_GetNumberValue(cJSON_GetObjectItem(dst, "port"));
	struct suggest_result res = { 0 };
	struct suggest *sg = NULL;
	char *rule = NULL;

	if (suggest_new(&(struct suggest_opts){ 0 }, &sg))
		return NULL;
	if (!suggest_add_conn(sg, "notice", name ? name : addr, addr, port == port ? (long)port : 0,
			      ctl_str(dst, "transport"), send) &&
	    !suggest_rules(sg, NULL, &res) && res.n_allow == 1)
		rule = strdup(res.allow[0]);
	suggest_result_free(&res);
	suggest_free(sg);
	return rule;
}

/* every byte of s in set (and s not empty) */
static bool only(const char *s, const char *set)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!strchr(set, *s))
			return false;
	return true;
}

#define WORD_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"

/* a DNS name as a person writes one: labels of letters, digits, '-' and
 * '_' (1 to 63 bytes) joined by single dots, the last with a letter in it
 * (so that no run of numbers passes for a name) */
static bool plain_name(const char *s)
{
	const char *label = s, *last = s;
	size_t n = strlen(s);

	if (!n || n > 253)
		return false;
	for (const char *c = s;; c++) {
		if (*c == '.' || !*c) {
			if (c == label || c - label > 63)
				return false;
			last = label;
			if (!*c)
				break;
			label = c + 1;
		} else if (!strchr(WORD_CHARS, *c) || *c == '.') {
			return false;
		}
	}
	return strcspn(last, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") < strlen(last);
}

/* A rule naming one host (a plain name or one address) and one port, with
 * its protocol: all a notice offers to paste. Never a range, a wildcard or
 * a list, whatever the job made a name look like (the proxy passes a
 * query for "10.0.0.0/8" or "*.example" on as a name). */
static bool exact_rule(const char *rule)
{
	char host[256];
	const char *port, *end;
	unsigned char a[16];
	size_t n, d;

	if (rule[0] == '[') {
		end = strchr(rule, ']');
		n = end ? (size_t)(end - rule - 1) : 0;
		if (!end || end[1] != ':' || !n || n >= sizeof(host))
			return false;
		memcpy(host, rule + 1, n);
		host[n] = '\0';
		if (inet_pton(AF_INET6, host, a) != 1)
			return false;
		port = end + 2;
	} else {
		end = strchr(rule, ':');
		n = end ? (size_t)(end - rule) : 0;
		if (!end || !n || n >= sizeof(host))
			return false;
		memcpy(host, rule, n);
		host[n] = '\0';
		if (inet_pton(AF_INET, host, a) != 1 && !plain_name(host))
			return false;
		port = end + 1;
	}
	d = strspn(port, "0123456789");
	if (!d || d > 5)
		return false;
	return !port[d] || !strcmp(port + d, "/udp") || !strcmp(port + d, "/tcp");
}


/* "egressctl policy add P 'RULE'", only if both are plain words: a
 * command to paste is not built from the job's bytes otherwise */
static void add_command(cJSON *n, const char *policy, const char *rule)
{
	char cmd[512];

	/* the name bare, the rule in single quotes: no byte either could
	 * make a shell do more than what is shown */
	if (!policy || !rule || !only(policy, WORD_CHARS) || !exact_rule(rule))
		return;
	snprintf(cmd, sizeof(cmd), "egressctl policy add %s '%s'", policy, rule);
	cJSON_AddStringToObject(n, "allow_command", cmd);
}

/* the protocols a socket refusal names most (the rest as numbers) */
static const char *proto_name(double p)
{
	static char buf[16];

	switch ((int)p) {
	case 1:
		return "icmp";
	case 58:
		return "icmpv6";
	case 132:
		return "sctp";
	case 136:
		return "udplite";
	case 262:
		return "mptcp";
	}
	snprintf(buf, sizeof(buf), "%.0f", p);
	return buf;
}

static void what_text(const cJSON *n, const char *kind, char *out, size_t len)
{
	const cJSON *dst = cJSON_GetObjectItem(n, "destination");
	const cJSON *q = cJSON_GetObjectItem(n, "query"), *so = cJSON_GetObjectItem(n, "socket");
	const char *qtype = ctl_str(q, "type"), *fam = ctl_str(so, "family");
	char name[300], addr[80], tr[16], famnum[32];
	double port = ctl_num(dst, "port"), f = ctl_num(so, "family");

	/* a number: one egressd could not name, named here if Linux names it */
	if (!fam && cJSON_IsNumber(cJSON_GetObjectItem(so, "family"))) {
		fam = f >= 0 && f < EF_AF_NAMED && f == (int)f ? ef_af_name((int)f) : NULL;
		if (!fam) {
			snprintf(famnum, sizeof(famnum), "family %.0f", f);
			fam = famnum;
		}
	}

	clean(name, sizeof(name), ctl_str(dst, "name"));
	clean(addr, sizeof(addr), ctl_str(dst, "address"));
	clean(tr, sizeof(tr), ctl_str(dst, "transport"));
	for (char *c = tr; *c; c++)
		*c = (char)(*c >= 'a' && *c <= 'z' ? *c - 32 : *c);
	if (!strcmp(kind, "dns")) {
		clean(name, sizeof(name), ctl_str(q, "name"));
		snprintf(out, len, "DNS query for %s%s%s%s", ctl_str(q, "name") ? name : "(none)",
			 qtype ? " (" : "", qtype ? qtype : "", qtype ? ")" : "");
	} else if (!strcmp(kind, "socket")) {
		if (!so || !ctl_str(so, "type"))
			snprintf(out, len, "an io_uring instance");
		else if (!ctl_num(so, "protocol"))
			snprintf(out, len, "a socket (%s %s)", fam ?: "?", ctl_str(so, "type"));
		else
			snprintf(out, len, "a socket (%s %s, protocol %s)", fam ?: "?",
				 ctl_str(so, "type"), proto_name(ctl_num(so, "protocol")));
	} else if (!strcmp(kind, "tamper")) {
		snprintf(out, len, "an attempt on the fence");
	} else if (dst) {
		const char *what = !strcmp(kind, "connect") ? "connection"
				   : !strcmp(kind, "send")  ? "datagram"
							    : "packet";

		if (!ctl_str(dst, "address"))
			snprintf(out, len, "%s %s to an address the fence could not read", tr, what);
		else if (ctl_str(dst, "name"))
			snprintf(out, len, "%s %s to %s (%s) port %.0f", tr, what, name, addr, port);
		else
			snprintf(out, len, "%s %s to %s port %.0f", tr, what, addr, port);
	} else {
		snprintf(out, len, "%s", kind);
	}
}

static void hint_text(cJSON *n, const char *kind, const char *policy, char *out, size_t len)
{
	const cJSON *dst = cJSON_GetObjectItem(n, "destination");
	const char *reason = ctl_str(n, "reason") ? ctl_str(n, "reason") : "";
	char *rule = NULL, pol[128], qn[300];

	clean(pol, sizeof(pol), policy);
	out[0] = '\0';
	if (!strcmp(reason, "canary")) {
		snprintf(out, len, " It is the fence's canary destination, refused to every job "
			 "whatever its policy.");
	} else if (!strcmp(reason, "deny_rule")) {
		snprintf(out, len, " A deny rule of policy %s refuses it; deny rules win over allow "
			 "rules.", pol);
	} else if (!strcmp(kind, "connect") || !strcmp(kind, "send") || !strcmp(kind, "packet")) {
		rule = dst && (!strcmp(reason, "no_rule") || !strcmp(reason, "dns_expired") ||
			       !strcmp(reason, "loopback") || !strcmp(reason, "metadata"))
			       ? allow_rule(dst, !strcmp(kind, "send"))
			       : NULL;
		add_command(n, policy, rule);
	} else if (!strcmp(kind, "dns") && !strcmp(reason, "dns_unlisted") &&
		   ctl_str(cJSON_GetObjectItem(n, "query"), "name")) {
		clean(qn, sizeof(qn), ctl_str(cJSON_GetObjectItem(n, "query"), "name"));
		/* a name, not an address the job asked about as one */
		if (!plain_name(qn) || asprintf(&rule, "%s:443", qn) < 0)
			rule = NULL;
		add_command(n, policy, rule);
	} else if (!strcmp(kind, "socket")) {
		snprintf(out, len, " Policy %s's \"sockets\" settings decide which sockets a job "
			 "may make (egress-fence-policy(5)).", pol);
	} else if (!strcmp(kind, "tamper")) {
		snprintf(out, len, " The fence protects itself; no policy allows this.");
	}
	free(rule);
	if (ctl_str(n, "allow_command"))
		snprintf(out, len, " To allow it: %s%s", ctl_str(n, "allow_command"),
			 !strcmp(kind, "dns") ? " (with the port it connects to)" : "");
}

char *sup_notice_text(cJSON *n)
{
	const char *kind = ctl_str(n, "kind") ? ctl_str(n, "kind") : "?";
	const char *policy = ctl_str(n, "policy");
	bool audit = !strcmp(ctl_str(n, "decision") ? ctl_str(n, "decision") : "", "would_deny");
	char what[512], why[300], pol[128], hint[640], proc[128] = "", exe[80], *s = NULL;
	const cJSON *p = cJSON_GetObjectItem(n, "process");

	if (!strcmp(kind, "flag")) {
		clean(why, sizeof(why), ctl_str(n, "why"));
		clean(what, sizeof(what), ctl_str(n, "reason"));
		clean(hint, sizeof(hint), ctl_str(n, "action"));
		if (asprintf(&s, "egress-fence: the job is flagged as probing (%s): %s; action: %s. "
			     "See: egressctl report %s", what, why, hint,
			     ctl_str(n, "job_id") ? ctl_str(n, "job_id") : "JOB") < 0)
			return NULL;
		return s;
	}
	what_text(n, kind, what, sizeof(what));
	clean(why, sizeof(why), ctl_str(n, "why"));
	clean(pol, sizeof(pol), policy);
	if (p) {
		clean(exe, sizeof(exe), ctl_str(p, "executable"));
		/* no executable's name: the pid alone, not a "?" for it */
		if (cJSON_GetObjectItem(p, "pid") && !ctl_str(p, "executable"))
			snprintf(proc, sizeof(proc), " from pid %.0f",
				 cJSON_GetNumberValue(cJSON_GetObjectItem(p, "pid")));
		else if (cJSON_GetObjectItem(p, "pid"))
			snprintf(proc, sizeof(proc), " from %s (pid %.0f)", exe,
				 cJSON_GetNumberValue(cJSON_GetObjectItem(p, "pid")));
		else
			snprintf(proc, sizeof(proc), " from %s", exe);
	}
	hint_text(n, kind, policy, hint, sizeof(hint));
	/* the fence protecting itself: no policy, no network in it */
	if (!strcmp(kind, "tamper")) {
		clean(what, sizeof(what), ctl_str(n, "reason"));
		if (asprintf(&s, "egress-fence: %s an attempt on the fence (%s)%s.%s",
			     audit ? "would refuse" : "refused", what, proc, hint) < 0)
			return NULL;
		return s;
	}
	if (asprintf(&s, "egress-fence: %s %s%s: %s (policy %s). %s%s", audit ? "would refuse"
									 : "refused",
		     what, proc, why, pol,
		     audit ? "Audit mode: it was let through; enforce mode refuses it."
			   : "This is the fence's policy, not a network fault.",
		     hint) < 0)
		return NULL;
	return s;
}

