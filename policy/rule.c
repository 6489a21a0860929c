// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Rule strings: "DEST:PORTS[/PROTO]" (see DESIGN.md, "Policy files and
 * rules"). Every error names the character it is about, so the policy
 * parser can point into the JSON string and a user can fix it without
 * guessing; where the intent is clear the message shows the fix. A bare
 * address (ef_addr_parse) and a DNS upstream are read with the same pieces.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define EF_NAME_LEN_MAX 253 /* RFC 1035, without the trailing dot */
#define EF_LABEL_LEN_MAX 63

/* The state of one rule parse: where the error is, and what it says. */
struct rp {
	const char *s;
	size_t err_idx;
	char *msg;
	size_t msglen;
};

static int rp_fail(struct rp *rp, size_t idx, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int rp_fail(struct rp *rp, size_t idx, const char *fmt, ...)
{
	va_list ap;

	rp->err_idx = idx;
	va_start(ap, fmt);
	ef_vfmt(rp->msg, rp->msglen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* "'x'" for a printable character, else its byte value. */
static const char *show_char(char c, char *buf, size_t len)
{
	unsigned char u = (unsigned char)c;

	if (u > 0x20 && u < 0x7f)
		ef_fmt(buf, len, "'%c'", c);
	else if (u == ' ')
		ef_fmt(buf, len, "' '");
	else
		ef_fmt(buf, len, "byte 0x%02x", u);
	return buf;
}

/* Dotted quad, decimal, no leading zeros: "010.0.0.1" means 8.0.0.1 to
 * some resolvers and 10.0.0.1 to others, so it is refused. */
static int parse_v4_at(struct rp *rp, size_t at, size_t n, __u8 out[4])
{
	const char *s = rp->s + at;
	char cb[16];
	size_t i = 0;
	int part;

	for (part = 0; part < 4; part++) {
		size_t start;
		unsigned int v = 0;

		if (part > 0) {
			if (i >= n)
				return rp_fail(rp, at + i, "ipv4 address needs 4 parts");
			if (s[i] != '.')
				return rp_fail(rp, at + i, "unexpected %s in ipv4 address",
					       show_char(s[i], cb, sizeof(cb)));
			i++;
		}
		start = i;
		while (i < n && is_digit(s[i]) && i - start < 4)
			v = v * 10 + (unsigned int)(s[i++] - '0');
		if (i == start)
			return rp_fail(rp, at + i, i < n ? "empty part in ipv4 address" :
							   "ipv4 address needs 4 parts");
		if (v > 255 || i - start > 3)
			return rp_fail(rp, at + start, "ipv4 part %.*s out of range 0-255",
				       (int)(i - start), s + start);
		if (s[start] == '0' && i - start > 1)
			return rp_fail(rp, at + start, "leading zero in ipv4 address");
		out[part] = (__u8)v;
	}
	if (i < n)
		return rp_fail(rp, at + i, "unexpected %s after ipv4 address",
			       show_char(s[i], cb, sizeof(cb)));
	return 0;
}

static int parse_v6_at(struct rp *rp, size_t at, size_t n, __u8 out[16])
{
	char buf[INET6_ADDRSTRLEN];

	if (n == 0)
		return rp_fail(rp, at, "missing ipv6 address");
	if (memchr(rp->s + at, '%', n))
		return rp_fail(rp, at, "zone ids (%%) are not allowed in ipv6 addresses");
	if (n >= sizeof(buf))
		return rp_fail(rp, at, "bad ipv6 address");
	memcpy(buf, rp->s + at, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET6, buf, out) != 1) {
		char q[64];

		ef_msg_quote(q, sizeof(q), buf, SIZE_MAX);
		return rp_fail(rp, at, "bad ipv6 address \"%s\"", q);
	}
	return 0;
}

static int parse_prefix(struct rp *rp, size_t at, size_t n, unsigned int max, __u8 *ret_len)
{
	unsigned int v = 0;
	size_t i;

	if (n == 0)
		return rp_fail(rp, at, "missing prefix length after '/'");
	for (i = 0; i < n; i++) {
		if (!is_digit(rp->s[at + i]))
			return rp_fail(rp, at + i, "prefix length must be a number");
		if (i < 4)
			v = v * 10 + (unsigned int)(rp->s[at + i] - '0');
	}
	if (n > 3 || v > max)
		return rp_fail(rp, at, "prefix length %.*s out of range 0-%u", (int)(n > 8 ? 8 : n),
			       rp->s + at, max);
	*ret_len = (__u8)v;
	return 0;
}

/* Host bits set usually means a typo in the length or the address; say
 * which network the rule would cover instead of silently masking. */
static int check_host_bits(struct rp *rp, size_t at, __u8 family, const __u8 addr[16],
			   unsigned int len)
{
	char buf[INET6_ADDRSTRLEN];
	__u8 net[16];

	memcpy(net, addr, sizeof(net));
	ef_addr_mask(net, len);
	if (!memcmp(net, addr, sizeof(net)))
		return 0;
	if (family == EF_FAM_V4)
		return rp_fail(rp, at, "host bits set: did you mean %u.%u.%u.%u/%u?", net[0],
			       net[1], net[2], net[3], len);
	if (!inet_ntop(AF_INET6, net, buf, sizeof(buf)))
		buf[0] = '\0';
	return rp_fail(rp, at, "host bits set: did you mean [%s]/%u?", buf, len);
}

static void set_cidr(struct ef_rule *r, __u8 family, const __u8 addr[16], unsigned int len)
{
	memset(r->addr, 0, sizeof(r->addr));
	r->kind = EF_DEST_CIDR;
	/* judged as IPv4, so stored as IPv4: one rule, one place in the maps */
	if (family == EF_FAM_V6 && len >= 96 && ef_is_mapped(addr)) {
		r->family = EF_FAM_V4;
		r->prefixlen = (__u8)(len - 96);
		memcpy(r->addr, addr + 12, 4);
		return;
	}
	r->family = family;
	r->prefixlen = (__u8)len;
	memcpy(r->addr, addr, family == EF_FAM_V4 ? 4 : 16);
}

static int parse_cidr_v4(struct rp *rp, size_t n, struct ef_rule *r)
{
	const char *slash = memchr(rp->s, '/', n);
	size_t alen = slash ? (size_t)(slash - rp->s) : n;
	__u8 addr[16] = { 0 }, len = 32;
	int err;

	err = parse_v4_at(rp, 0, alen, addr);
	if (!err && slash)
		err = parse_prefix(rp, alen + 1, n - alen - 1, 32, &len);
	if (!err)
		err = check_host_bits(rp, 0, EF_FAM_V4, addr, len);
	if (err)
		return err;
	set_cidr(r, EF_FAM_V4, addr, len);
	return 0;
}

/*
 * "[2606:50c0::]/32" and "[2606:50c0::/32]" both mean the same network:
 * people write either. *ret_end is the index after the destination.
 */
static int parse_bracket(struct rp *rp, size_t *ret_end, struct ef_rule *r)
{
	const char *s = rp->s, *close = strchr(s, ']');
	const char *slash_in;
	size_t in_n, alen, i, j;
	__u8 addr[16], len = 128;
	int err;

	if (!close)
		return rp_fail(rp, 0, "missing ']' after ipv6 address");
	in_n = (size_t)(close - s) - 1;
	slash_in = memchr(s + 1, '/', in_n);
	alen = slash_in ? (size_t)(slash_in - s) - 1 : in_n;
	if (alen == 0)
		return rp_fail(rp, 1, "missing ipv6 address in brackets");
	if (!memchr(s + 1, ':', alen))
		return rp_fail(rp, 1, "brackets are only for ipv6 addresses");
	err = parse_v6_at(rp, 1, alen, addr);
	if (!err && slash_in)
		err = parse_prefix(rp, alen + 2, in_n - alen - 1, 128, &len);
	if (err)
		return err;
	i = (size_t)(close - s) + 1;
	/* "/udp" after the brackets is a protocol with the port missing */
	if (s[i] == '/' && is_digit(s[i + 1])) {
		if (slash_in)
			return rp_fail(rp, i, "prefix length given twice");
		for (j = i + 1; is_digit(s[j]); j++)
			;
		err = parse_prefix(rp, i + 1, j - i - 1, 128, &len);
		if (err)
			return err;
		i = j;
	}
	err = check_host_bits(rp, 0, EF_FAM_V6, addr, len);
	if (err)
		return err;
	set_cidr(r, EF_FAM_V6, addr, len);
	*ret_end = i;
	return 0;
}

/* Validate and lowercase a DNS name of n bytes at `at` into `out`. */
static int check_name(struct rp *rp, size_t at, size_t n, char *out)
{
	const char *s = rp->s + at;
	size_t i, label = 0;
	char cb[16];

	if (n > 0 && s[n - 1] == '.')
		n--; /* the root label: "example.com." is "example.com" */
	if (n == 0)
		return rp_fail(rp, at, "missing name");
	if (n > EF_NAME_LEN_MAX)
		return rp_fail(rp, at, "name longer than %d characters", EF_NAME_LEN_MAX);
	for (i = 0; i <= n; i++) {
		char c = i < n ? lower(s[i]) : '.';

		if (c == '.') {
			if (i == label)
				return rp_fail(rp, at + i, "empty label in name");
			if (i - label > EF_LABEL_LEN_MAX)
				return rp_fail(rp, at + label, "label longer than %d characters",
					       EF_LABEL_LEN_MAX);
			if (s[label] == '-' || s[i - 1] == '-')
				return rp_fail(rp, at + (s[label] == '-' ? label : i - 1),
					       "label cannot start or end with '-'");
			label = i + 1;
		} else if (c == '*') {
			return rp_fail(rp, at + i,
				       "'*' is only allowed as the whole leftmost label, as in \"*.example.com\"");
		} else if ((unsigned char)c >= 0x80) {
			return rp_fail(rp, at + i,
				       "non-ASCII character in name: write the punycode form (xn--...)");
		} else if (!((c >= 'a' && c <= 'z') || is_digit(c) || c == '-' || c == '_')) {
			return rp_fail(rp, at + i, "invalid character %s in name",
				       show_char(s[i], cb, sizeof(cb)));
		}
		if (i < n)
			out[i] = c;
	}
	out[n] = '\0';
	return 0;
}

static int parse_dest_plain(struct rp *rp, size_t n, struct ef_rule *r)
{
	const char *s = rp->s;
	char name[EF_NAME_LEN_MAX + 2];
	size_t at = 0;
	int err;

	if (n == 0)
		return rp_fail(rp, 0, "missing destination before ':'");
	/* only digits, dots and a slash: an address was meant, not a name */
	if (strspn(s, "0123456789./") >= n)
		return parse_cidr_v4(rp, n, r);
	r->kind = EF_DEST_NAME;
	if (s[0] == '*') {
		if (n == 1 || s[1] != '.')
			return rp_fail(rp, 0,
				       "'*' is only allowed as the whole leftmost label, as in \"*.example.com\"");
		r->kind = EF_DEST_WILDCARD;
		at = 2;
	}
	if (n - at > EF_NAME_LEN_MAX + 1)
		return rp_fail(rp, at, "name longer than %d characters", EF_NAME_LEN_MAX);
	err = check_name(rp, at, n - at, name);
	if (err)
		return err;
	r->name = strdup(name);
	return r->name ? 0 : -ENOMEM;
}

/* Parses "ADDR" or "ADDR/LEN" as IPv6 without the brackets. */
static bool looks_v6(const char *s, size_t n)
{
	char buf[INET6_ADDRSTRLEN];
	const char *slash = memchr(s, '/', n);
	size_t alen = slash ? (size_t)(slash - s) : n;
	__u8 a[16];

	if (alen == 0 || alen >= sizeof(buf))
		return false;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	return inet_pton(AF_INET6, buf, a) == 1;
}

/* An IPv6 address without brackets cannot be told from its port; show the
 * bracketed spelling for the likeliest reading. */
static int unbracketed_v6(struct rp *rp)
{
	const char *s = rp->s, *last = strrchr(s, ':');
	size_t head = (size_t)(last - s), cut = strcspn(s, "/");
	const char *slash = memchr(s, '/', head);
	char q[96];

	if (looks_v6(s, head)) {
		size_t alen = slash ? (size_t)(slash - s) : head;

		ef_msg_quote(q, sizeof(q), last + 1, SIZE_MAX);
		return rp_fail(rp, 0, "ipv6 addresses need brackets: write \"[%.*s]%.*s:%s\"",
			       (int)alen, s, (int)(head - alen), s + alen, q);
	}
	if (looks_v6(s, strlen(s))) {
		size_t alen = cut;

		ef_msg_quote(q, sizeof(q), s + alen, SIZE_MAX);
		return rp_fail(rp, 0,
			       "ipv6 addresses need brackets and a port: write \"[%.*s]%s:443\"",
			       (int)alen, s, q);
	}
	return rp_fail(rp, (size_t)(strchr(strchr(s, ':') + 1, ':') - s),
		       "unexpected ':' (ipv6 addresses go in brackets: \"[2001:db8::1]:443\")");
}

static int parse_port(struct rp *rp, size_t at, size_t n, __u16 *out)
{
	unsigned long v = 0;
	char cb[16];
	size_t i;

	if (n == 0)
		return rp_fail(rp, at, "missing port number");
	for (i = 0; i < n; i++) {
		if (!is_digit(rp->s[at + i]))
			return rp_fail(rp, at + i, "invalid character %s in port",
				       show_char(rp->s[at + i], cb, sizeof(cb)));
		if (i < 6)
			v = v * 10 + (unsigned long)(rp->s[at + i] - '0');
	}
	if (n > 5 || v == 0 || v > 65535)
		return rp_fail(rp, at, "port %.*s out of range 1-65535", (int)(n > 8 ? 8 : n),
			       rp->s + at);
	*out = (__u16)v;
	return 0;
}

static int parse_ports(struct rp *rp, size_t at, size_t n, struct ef_rule *r)
{
	const char *s = rp->s + at;
	size_t i = 0;
	int err;

	if (n == 0)
		return rp_fail(rp, at, "missing port after ':': write \":443\" or \":*\"");
	while (i <= n) {
		const char *comma = memchr(s + i, ',', n - i);
		size_t end = comma ? (size_t)(comma - s) : n;
		const char *dash = memchr(s + i, '-', end - i);
		struct ef_port_spec *ps = &r->ports[r->n_ports];

		if (end == i)
			return rp_fail(rp, at + i, "empty port in list");
		if (r->n_ports == EF_MAX_PORT_SPECS)
			return rp_fail(rp, at + i, "too many ports (at most %d items)",
				       EF_MAX_PORT_SPECS);
		if (s[i] == '*' && end - i == 1) {
			if (n != 1)
				return rp_fail(rp, at + i,
					       "'*' cannot be combined with other ports");
			ps->lo = 0;
			ps->hi = 65535;
		} else if (dash) {
			size_t d = (size_t)(dash - s);

			err = parse_port(rp, at + i, d - i, &ps->lo);
			if (!err)
				err = parse_port(rp, at + d + 1, end - d - 1, &ps->hi);
			if (err)
				return err;
			if (ps->lo > ps->hi)
				return rp_fail(rp, at + i, "reversed port range %u-%u: write %u-%u",
					       ps->lo, ps->hi, ps->hi, ps->lo);
		} else {
			err = parse_port(rp, at + i, end - i, &ps->lo);
			if (err)
				return err;
			ps->hi = ps->lo;
		}
		r->n_ports++;
		i = end + 1;
	}
	return 0;
}

static int parse_proto(struct rp *rp, size_t at, struct ef_rule *r)
{
	const char *p = rp->s + at;
	char q[32];

	if (!strcasecmp(p, "tcp"))
		r->protos = EF_PROTO_TCP;
	else if (!strcasecmp(p, "udp"))
		r->protos = EF_PROTO_UDP;
	else if (!strcasecmp(p, "any"))
		r->protos = EF_PROTO_ANY;
	else if (!*p)
		return rp_fail(rp, at, "missing protocol after '/': use tcp, udp or any");
	else {
		ef_msg_quote(q, sizeof(q), p, SIZE_MAX);
		return rp_fail(rp, at, "unknown protocol \"%s\": use tcp, udp or any", q);
	}
	return 0;
}

/* "x.com/udp" (no port): the suggestion must put the port before "/udp". */
static size_t proto_suffix(const char *s, size_t n)
{
	const char *slash = NULL;
	size_t i;

	for (i = n; i > 0 && !slash; i--)
		if (s[i - 1] == '/')
			slash = s + i - 1;
	if (!slash)
		return n;
	if (!strncasecmp(slash, "/tcp", 4) || !strncasecmp(slash, "/udp", 4) ||
	    !strncasecmp(slash, "/any", 4))
		return slash[4] ? n : (size_t)(slash - s);
	return n;
}

static int missing_port(struct rp *rp, size_t dest_len)
{
	char d[160], t[16];

	ef_msg_quote(d, sizeof(d), rp->s, dest_len);
	ef_msg_quote(t, sizeof(t), rp->s + dest_len, SIZE_MAX);
	return rp_fail(rp, dest_len, "missing port: write \"%s:443%s\" or \"%s:*%s\"", d, t, d, t);
}

int ef_rule_parse_col(const char *s, bool deny, struct ef_rule *out, size_t *ret_col, char *msg,
		      size_t msglen)
{
	struct rp rp = { .s = s, .msg = msg, .msglen = msglen };
	struct ef_rule *r = out;
	size_t len = strlen(s), dest_len = 0, pend;
	const char *colon;
	int err;

	memset(r, 0, sizeof(*r));
	r->deny = deny;
	r->protos = EF_PROTO_TCP;
	if (len == 0) {
		err = rp_fail(&rp, 0,
			      "empty rule: write \"DEST:PORTS\", e.g. \"api.example.com:443\"");
		goto fail;
	}
	if (len > EF_RULE_MAX_LEN) {
		err = rp_fail(&rp, 0, "rule longer than %d characters", EF_RULE_MAX_LEN);
		goto fail;
	}
	if (s[0] == '[') {
		err = parse_bracket(&rp, &dest_len, r);
		if (err)
			goto fail;
		if (s[dest_len] == '\0' || s[dest_len] == '/') {
			err = missing_port(&rp, dest_len);
			goto fail;
		}
		if (s[dest_len] != ':') {
			char cb[16];

			err = rp_fail(&rp, dest_len, "expected ':' after the address, found %s",
				      show_char(s[dest_len], cb, sizeof(cb)));
			goto fail;
		}
	} else {
		colon = strchr(s, ':');
		if (colon && strchr(colon + 1, ':')) {
			err = unbracketed_v6(&rp);
			goto fail;
		}
		dest_len = colon ? (size_t)(colon - s) : proto_suffix(s, len);
		err = parse_dest_plain(&rp, dest_len, r);
		if (err)
			goto fail;
		if (!colon) {
			err = missing_port(&rp, dest_len);
			goto fail;
		}
	}
	pend = dest_len + 1 + strcspn(s + dest_len + 1, "/");
	err = parse_ports(&rp, dest_len + 1, pend - dest_len - 1, r);
	if (!err && s[pend] == '/')
		err = parse_proto(&rp, pend + 1, r);
	if (err)
		goto fail;
	r->text = strdup(s);
	if (!r->text) {
		err = -ENOMEM;
		goto fail;
	}
	return 0;
fail:
	if (err == -ENOMEM)
		rp_fail(&rp, 0, "out of memory");
	ef_rule_clear(r);
	*ret_col = rp.err_idx + 1;
	return err;
}

int ef_rule_parse(const char *s, bool deny, struct ef_rule *out, char *err, size_t errlen)
{
	char msg[EF_ERR_LEN];
	size_t col = 0;
	int ret;

	ret = ef_rule_parse_col(s, deny, out, &col, msg, sizeof(msg));
	if (ret)
		ef_fmt(err, errlen, "%zu: %s", col, msg);
	return ret;
}

void ef_rule_clear(struct ef_rule *r)
{
	if (!r)
		return;
	free(r->text);
	free(r->name);
	r->text = NULL;
	r->name = NULL;
}

int ef_addr_parse(const char *s, __u8 *family, __u8 addr[16])
{
	struct rp rp = { .s = s };
	__u8 a[16] = { 0 };

	if (!strchr(s, ':')) {
		if (parse_v4_at(&rp, 0, strlen(s), a))
			return -EINVAL;
		*family = EF_FAM_V4;
	} else {
		if (parse_v6_at(&rp, 0, strlen(s), a))
			return -EINVAL;
		*family = EF_FAM_V6;
		if (ef_is_mapped(a)) {
			memmove(a, a + 12, 4);
			memset(a + 4, 0, 12);
			*family = EF_FAM_V4;
		}
	}
	memcpy(addr, a, 16);
	return 0;
}

/* A DNS upstream into *family, addr, *port; see ef_upstream_check(). */
static int parse_upstream(struct rp *rp, __u8 *family, __u8 addr[16], __u16 *port)
{
	const char *s = rp->s, *colon = strchr(s, ':'), *close;
	size_t port_at = 0, n = strlen(s);
	__u8 a[16] = { 0 };
	__u8 fam = EF_FAM_V6;
	int err;

	*port = 53;
	if (n == 0) {
		err = rp_fail(rp, 0, "empty upstream: write an address such as \"1.1.1.1\"");
	} else if (!colon && !(s[0] >= '0' && s[0] <= '9')) {
		/* resolving the resolver would need a resolver */
		err = rp_fail(rp, 0, "an upstream must be an IP address, not a name");
	} else if (s[0] == '[') {
		close = strchr(s, ']');
		if (!close) {
			err = rp_fail(rp, 0, "missing ']' after ipv6 address");
		} else {
			err = parse_v6_at(rp, 1, (size_t)(close - s) - 1, a);
			if (!err && close[1] && close[1] != ':')
				err = rp_fail(rp, (size_t)(close - s) + 1,
					      "expected ':PORT' after ']'");
			else if (!err && close[1])
				port_at = (size_t)(close - s) + 2;
		}
	} else if (colon && strchr(colon + 1, ':')) {
		err = parse_v6_at(rp, 0, n, a); /* bare IPv6: no port possible */
	} else {
		fam = EF_FAM_V4;
		err = parse_v4_at(rp, 0, colon ? (size_t)(colon - s) : n, a);
		if (!err && colon)
			port_at = (size_t)(colon - s) + 1;
	}
	if (!err && port_at)
		err = parse_port(rp, port_at, n - port_at, port);
	if (err)
		return err;
	/* sockets of the other family would reach it as IPv4 anyway */
	if (fam == EF_FAM_V6 && ef_is_mapped(a)) {
		memmove(a, a + 12, 4);
		memset(a + 4, 0, 12);
		fam = EF_FAM_V4;
	}
	*family = fam;
	memcpy(addr, a, 16);
	return 0;
}

int ef_upstream_check(const char *s, size_t *ret_col, char *msg, size_t msglen)
{
	struct rp rp = { .s = s, .msg = msg, .msglen = msglen };
	__u8 fam, a[16];
	__u16 port;
	int err;

	err = parse_upstream(&rp, &fam, a, &port);
	if (err)
		*ret_col = rp.err_idx + 1;
	return err;
}

int ef_upstream_parse(const char *s, __u8 *family, __u8 addr[16], __u16 *port)
{
	char msg[EF_ERR_LEN];
	struct rp rp = { .s = s, .msg = msg, .msglen = sizeof(msg) };
	__u8 fam, a[16];
	__u16 pt;

	if (!s || parse_upstream(&rp, &fam, a, &pt))
		return -EINVAL;
	*family = fam;
	memcpy(addr, a, 16);
	*port = pt;
	return 0;
}
