// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Addresses apart from rules: the metadata addresses (policy.h says why
 * they are special), what class of address a destination is (NAT64 and
 * IPv4-mapped forms judged by the IPv4 address they stand for), and an
 * address as text.
 */
#include <arpa/inet.h>
#include <string.h>

#include "internal.h"

const __u8 ef_meta_v4[16] = { 169, 254, 169, 254 };
const __u8 ef_meta_v6[16] = { 0xfd, 0x00, 0x0e, 0xc2, [14] = 0x02, [15] = 0x54 };
/* 169.254.169.254 through a NAT64 gateway: the well-known prefix
 * 64:ff9b::/96 (RFC 6052) and the local-use 64:ff9b:1::/48 (RFC 8215) in
 * its /96 form, the one DNS64 resolvers synthesize */
const __u8 ef_meta_nat64[EF_META_NAT64_N][16] = {
	{ 0, 0x64, 0xff, 0x9b, [12] = 169, 254, 169, 254 },
	{ 0, 0x64, 0xff, 0x9b, 0, 1, [12] = 169, 254, 169, 254 },
};

bool ef_addr_is_meta(__u8 family, const __u8 addr[16])
{
	if (family == EF_FAM_V4)
		return !memcmp(addr, ef_meta_v4, 16);
	if (!memcmp(addr, ef_meta_v6, 16))
		return true;
	for (size_t i = 0; i < EF_META_NAT64_N; i++)
		if (!memcmp(addr, ef_meta_nat64[i], 16))
			return true;
	return false;
}

void ef_addr_mask(__u8 addr[16], unsigned int len)
{
	unsigned int i;

	for (i = 0; i < 16; i++) {
		if (len >= 8) {
			len -= 8;
		} else {
			addr[i] &= (__u8)(0xff00 >> len);
			len = 0;
		}
	}
}

bool ef_is_mapped(const __u8 a[16])
{
	static const __u8 pfx[12] = { [10] = 0xff, [11] = 0xff };

	return !memcmp(a, pfx, sizeof(pfx));
}

/* One prefix of ef_addr_class()'s table. */
struct net {
	__u8 family, len;
	__u8 addr[16];
	__u8 cls; /* enum ef_addr_cls */
};

/* Longest prefixes first where they nest (the metadata addresses inside
 * link-local and unique-local, Alibaba's inside carrier-grade NAT). */
static const struct net special_nets[] = {
	{ EF_FAM_V4, 32, { 169, 254, 170, 2 }, EF_AC_METADATA },	 /* AWS ECS task metadata */
	{ EF_FAM_V4, 32, { 100, 100, 100, 200 }, EF_AC_METADATA }, /* Alibaba Cloud */
	{ EF_FAM_V4, 8, { 0 }, EF_AC_RESERVED },		 /* "this network", 0.0.0.0 */
	{ EF_FAM_V4, 8, { 10 }, EF_AC_PRIVATE },
	{ EF_FAM_V4, 10, { 100, 64 }, EF_AC_PRIVATE },		 /* carrier-grade NAT */
	{ EF_FAM_V4, 8, { 127 }, EF_AC_LOOPBACK },
	{ EF_FAM_V4, 16, { 169, 254 }, EF_AC_LINK_LOCAL },
	{ EF_FAM_V4, 12, { 172, 16 }, EF_AC_PRIVATE },
	{ EF_FAM_V4, 24, { 192, 0, 0 }, EF_AC_RESERVED },	 /* IETF protocol assignments */
	{ EF_FAM_V4, 16, { 192, 168 }, EF_AC_PRIVATE },
	{ EF_FAM_V4, 4, { 224 }, EF_AC_MULTICAST },
	{ EF_FAM_V4, 4, { 240 }, EF_AC_RESERVED },		 /* and 255.255.255.255 */
	{ EF_FAM_V6, 128, { 0 }, EF_AC_RESERVED },		 /* :: */
	{ EF_FAM_V6, 128, { [15] = 1 }, EF_AC_LOOPBACK },	 /* ::1 */
	{ EF_FAM_V6, 7, { 0xfc }, EF_AC_PRIVATE },		 /* unique local */
	{ EF_FAM_V6, 10, { 0xfe, 0x80 }, EF_AC_LINK_LOCAL },
	{ EF_FAM_V6, 10, { 0xfe, 0xc0 }, EF_AC_PRIVATE },	 /* site-local (deprecated) */
	{ EF_FAM_V6, 8, { 0xff }, EF_AC_MULTICAST },
};

/*
 * The IPv4 addresses an IPv6 address may stand for through NAT64 (RFC
 * 6052 2.2): in 64:ff9b::/96 the last 32 bits. In the local-use
 * 64:ff9b:1::/48 the operator picks the prefix length (48, 56, 64 or 96
 * fit in it): each layout whose "u" octet (bits 64..71) and suffix are zero,
 * as RFC 6052 requires, is a candidate. Returns their number.
 */
static bool zero(const __u8 *p, size_t n)
{
	while (n--)
		if (*p++)
			return false;
	return true;
}

static int nat64_embedded(const __u8 a[16], __u8 out[4][16])
{
	static const __u8 wkp[12] = { 0, 0x64, 0xff, 0x9b };
	static const __u8 local[6] = { 0, 0x64, 0xff, 0x9b, 0, 1 };
	int n = 0;

	memset(out, 0, 4 * 16);
	if (!memcmp(a, wkp, sizeof(wkp))) {
		memcpy(out[n++], a + 12, 4);
		return n;
	}
	if (memcmp(a, local, sizeof(local)))
		return 0;
	memcpy(out[n++], a + 12, 4); /* /96 */
	if (a[8])
		return n;
	if (zero(a + 13, 3)) { /* /64 */
		memcpy(out[n++], a + 9, 4);
	}
	if (zero(a + 12, 4)) { /* /56 */
		out[n][0] = a[7];
		memcpy(&out[n++][1], a + 9, 3);
	}
	if (zero(a + 11, 5)) { /* /48 */
		memcpy(out[n], a + 6, 2);
		memcpy(&out[n++][2], a + 9, 2);
	}
	return n;
}

static enum ef_addr_cls addr_class(__u8 family, const __u8 addr[16]);

enum ef_addr_cls ef_addr_class(__u8 family, const __u8 addr[16])
{
	__u8 v4[4][16];
	int n;

	/* what a NAT64 gateway connects to is the IPv4 address it embeds */
	if (family == EF_FAM_V6 && (n = nat64_embedded(addr, v4)) > 0) {
		enum ef_addr_cls worst = EF_AC_PUBLIC;

		/* of several layouts, the most sensitive class (the enum's order) */
		for (int i = 0; i < n; i++) {
			enum ef_addr_cls c = addr_class(EF_FAM_V4, v4[i]);

			if (c != EF_AC_PUBLIC && (worst == EF_AC_PUBLIC || c < worst))
				worst = c;
		}
		return worst;
	}
	return addr_class(family, addr);
}

static enum ef_addr_cls addr_class(__u8 family, const __u8 addr[16])
{
	__u8 a[16] = { 0 };
	size_t i;

	if (family == EF_FAM_V6 && ef_is_mapped(addr)) {
		/* what a dual-stack socket connects to is the IPv4 address */
		family = EF_FAM_V4;
		memcpy(a, addr + 12, 4);
	} else if (family == EF_FAM_V4) {
		memcpy(a, addr, 4);
	} else if (family == EF_FAM_V6) {
		memcpy(a, addr, 16);
	} else {
		return EF_AC_RESERVED; /* cannot be judged */
	}
	if (!memcmp(a, family == EF_FAM_V4 ? ef_meta_v4 : ef_meta_v6, 16))
		return EF_AC_METADATA;
	for (i = 0; i < sizeof(special_nets) / sizeof(special_nets[0]); i++) {
		const struct net *n = &special_nets[i];
		__u8 m[16];

		if (n->family != family)
			continue;
		memcpy(m, a, 16);
		ef_addr_mask(m, n->len);
		if (!memcmp(m, n->addr, 16))
			return n->cls;
	}
	return EF_AC_PUBLIC;
}

const char *ef_addr_class_name(enum ef_addr_cls c)
{
	static const char *const names[] = {
		[EF_AC_PUBLIC] = "public",	   [EF_AC_METADATA] = "metadata",
		[EF_AC_LOOPBACK] = "loopback",	   [EF_AC_LINK_LOCAL] = "link_local",
		[EF_AC_PRIVATE] = "private",	   [EF_AC_MULTICAST] = "multicast",
		[EF_AC_RESERVED] = "reserved",
	};

	return (unsigned)c < sizeof(names) / sizeof(names[0]) ? names[c] : "?";
}

const char *ef_addr_str(__u8 family, const __u8 addr[16], char *out, size_t len)
{
	if (!inet_ntop(family == EF_FAM_V4 ? AF_INET : AF_INET6, addr, out, (socklen_t)len) && len)
		out[0] = '\0';
	return out;
}

bool ef_addr_internal(__u8 family, const __u8 addr[16])
{
	return ef_addr_class(family, addr) != EF_AC_PUBLIC;
}
