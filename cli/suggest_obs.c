// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * egressctl policy suggest, what it is given: each decision added becomes
 * an observation (job, destination, address, port, protocol), its name
 * normalised as a rule writes one, deduplicated as it comes; the names a
 * DNS answer resolved, and what no rule can name, are kept apart.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suggest_rules.h"

int suggest_new(const struct suggest_opts *o, struct suggest **ret)
{
	struct suggest *sg = calloc(1, sizeof(*sg));

	if (!sg)
		return -ENOMEM;
	sg->o = *o;
	*ret = sg;
	return 0;
}

void suggest_free(struct suggest *sg)
{
	if (!sg)
		return;
	for (size_t i = 0; i < sg->n_obs; i++) {
		free(sg->obs[i].job);
		free(sg->obs[i].dest);
		free(sg->obs[i].key);
	}
	free(sg->obs);
	suggest_set_free(&sg->seen);
	suggest_set_free(&sg->resolved);
	suggest_set_free(&sg->bad);
	free(sg);
}

/* A host name as a rule writes it: lowercase, no trailing dot, labels of 1
 * to 63 letters, digits, '_' and '-' (not at a label's ends), not only
 * digits and dots (the policy parser would read an address). 0 or -EINVAL. */
static int norm_name(const char *in, char out[EF_HOSTNAME_MAX + 1])
{
	size_t n = strlen(in), label = 0;
	bool alpha = false;

	if (n && in[n - 1] == '.')
		n--;
	if (!n || n > EF_HOSTNAME_MAX)
		return -EINVAL;
	for (size_t i = 0; i <= n; i++) {
		char c = i < n ? in[i] : '.';

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c == '.') {
			if (i == label || i - label > 63 || in[label] == '-' || in[i - 1] == '-')
				return -EINVAL;
			label = i + 1;
		} else if ((c >= 'a' && c <= 'z') || c == '-' || c == '_') {
			alpha = true;
		} else if (!(c >= '0' && c <= '9')) {
			return -EINVAL;
		}
		if (i < n)
			out[i] = c;
	}
	out[n] = '\0';
	return alpha ? 0 : -EINVAL;
}

/* "c\1b\1a" of "a.b.c": sorts a name next to its parents and siblings */
char *suggest_rev_key(const char *name)
{
	size_t n = strlen(name), at = 0;
	char *k = malloc(n + 1);
	const char *end = name + n;

	if (!k)
		return NULL;
	while (end > name) {
		const char *dot = end;

		while (dot > name && dot[-1] != '.')
			dot--;
		if (at)
			k[at++] = '\1';
		memcpy(k + at, dot, (size_t)(end - dot));
		at += (size_t)(end - dot);
		end = dot > name ? dot - 1 : name;
	}
	k[at] = '\0';
	return k;
}

/* Printable, short: a destination from a journal can hold anything. */
static void sanitize(const char *in, char *out, size_t len)
{
	size_t i = 0;

	for (; *in && i + 4 < len; in++)
		out[i++] = (unsigned char)*in < 0x20 || (unsigned char)*in >= 0x7f ? '?' : *in;
	if (*in && len > 3) {
		memcpy(out + i, "..", 2);
		i += 2;
	}
	out[i] = '\0';
}

int suggest_add_conn(struct suggest *sg, const char *job, const char *server, const char *peer,
		     long port, const char *transport, bool send)
{
	char name[EF_HOSTNAME_MAX + 1], atext[INET6_ADDRSTRLEN] = "", *key = NULL;
	struct obs o = { .send = send, .port = (__u16)port };
	__u8 pfam = 0, paddr[16];
	bool peer_ok, added;
	const char *dest;
	int ret;

	if (!job || port < 1 || port > 65535 || !transport)
		return -EINVAL;
	if (!strcmp(transport, "tcp"))
		o.proto = EF_PROTO_TCP;
	else if (!strcmp(transport, "udp"))
		o.proto = EF_PROTO_UDP;
	else
		return -EINVAL;
	peer_ok = peer && !ef_addr_parse(peer, &pfam, paddr);
	if (!server || !*server)
		server = peer;
	if (!server || !*server)
		return -EINVAL;
	if (!ef_addr_parse(server, &o.family, o.addr)) {
		o.has_addr = true;
		dest = ef_addr_str(o.family, o.addr, atext, sizeof(atext));
	} else if (!norm_name(server, name)) {
		o.name = true;
		dest = name;
		if (peer_ok) {
			o.has_addr = true;
			o.family = pfam;
			memcpy(o.addr, paddr, sizeof(o.addr));
			ef_addr_str(o.family, o.addr, atext, sizeof(atext));
		}
	} else {
		char msg[160], s[96];

		sanitize(server, s, sizeof(s));
		snprintf(msg, sizeof(msg),
			 "\"%s\" port %ld/%s (not a name or address a rule can hold)", s, port,
			 transport);
		return suggest_set_add(&sg->bad, msg, NULL);
	}
	if (asprintf(&key, "%s\n%s\n%s\n%u/%u/%d", job, dest, atext, o.port, o.proto, send) < 0)
		return -ENOMEM;
	ret = suggest_set_add(&sg->seen, key, &added);
	free(key);
	if (ret || !added)
		return ret;
	if (sg->n_obs == sg->cap_obs) {
		size_t cap = sg->cap_obs ? 2 * sg->cap_obs : 64;
		struct obs *v = realloc(sg->obs, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		sg->obs = v;
		sg->cap_obs = cap;
	}
	o.job = strdup(job);
	o.dest = strdup(dest);
	o.key = o.name ? suggest_rev_key(dest) : NULL;
	if (!o.job || !o.dest || (o.name && !o.key)) {
		free(o.job);
		free(o.dest);
		free(o.key);
		return -ENOMEM;
	}
	sg->obs[sg->n_obs++] = o;
	return 0;
}

int suggest_add_dns(struct suggest *sg, const char *job, const char *qname, bool answered)
{
	char name[EF_HOSTNAME_MAX + 1];

	if (!job || !qname || norm_name(qname, name))
		return -EINVAL;
	return answered ? suggest_set_add(&sg->resolved, name, NULL) : 0;
}
