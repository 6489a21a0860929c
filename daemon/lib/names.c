// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Names used in spans and output. Keep in sync with include/ef_abi.h. */
#include <stdio.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/types.h>
#include <ldns/ldns.h>

#include "ef_abi.h"
#include "names.h"
#include "policy.h"

const char *ef_verdict_name(int v)
{
	switch (v) {
	case EF_V_DENY:
		return "deny";
	case EF_V_ALLOW:
		return "allow";
	case EF_V_WOULD_DENY:
		return "would_deny";
	}
	return "unknown";
}

const char *ef_reason_name(int r)
{
	static const char *const n[EF_R__MAX] = {
		[EF_R_RULE] = "rule",		[EF_R_NO_RULE] = "no_rule",
		[EF_R_DENY_RULE] = "deny_rule", [EF_R_METADATA] = "metadata",
		[EF_R_RAW_SOCKET] = "raw_socket", [EF_R_FAMILY] = "family",
		[EF_R_PROTOCOL] = "protocol",	[EF_R_NO_JOB] = "no_job",
		[EF_R_LOOPBACK] = "loopback",
		[EF_R_DNS_EXPIRED] = "dns_expired",
		[EF_R_DNS_UNLISTED] = "dns_unlisted",
		[EF_R_DNS_PROXY] = "dns_proxy",
		[EF_R_TAMPER_BPF] = "tamper_bpf", [EF_R_TAMPER_CGROUP] = "tamper_cgroup",
		[EF_R_TAMPER_SIGNAL] = "tamper_signal", [EF_R_TAMPER_PTRACE] = "tamper_ptrace",
		[EF_R_TAMPER_PIN] = "tamper_pin", [EF_R_TAMPER_MOUNT] = "tamper_mount",
		[EF_R_TAMPER_NS] = "tamper_ns", [EF_R_TAMPER_KERNEL] = "tamper_kernel",
		[EF_R_TAMPER_CONTROL] = "tamper_control",
		[EF_R_REROUTE] = "reroute",	[EF_R_IO_URING] = "io_uring",
		[EF_R_DNS_MALFORMED] = "dns_malformed", [EF_R_DNS_LIMIT] = "dns_limit",
		[EF_R_MULTICAST] = "multicast", [EF_R_CANARY] = "canary",
		[EF_R_TAMPER_RESOURCE] = "tamper_resource", [EF_R_TAMPER_CAP] = "tamper_capability",
		[EF_R_TAMPER_DEVICE] = "tamper_device",
		[EF_R_TAMPER_RUNTIME] = "tamper_runtime",
		[EF_R_TAMPER_DOCKER] = "tamper_docker",
		[EF_R_UDP_CORKED] = "udp_corked",
	};
	_Static_assert(EF_R__MAX == 33, "add the new reason's name here");
	return r >= 0 && r < EF_R__MAX && n[r] ? n[r] : "unknown";
}

const char *ef_mode_name(int m)
{
	return m == EF_MODE_AUDIT ? "audit" : "enforce";
}

/* the policy library's table (policy/families.c), which names every family Linux does */
const char *ef_family_name(int af)
{
	return ef_af_name(af);
}

const char *ef_socktype_name(int t)
{
	switch (t) {
	case SOCK_STREAM:
		return "stream";
	case SOCK_DGRAM:
		return "dgram";
	case SOCK_RAW:
		return "raw";
	case SOCK_SEQPACKET:
		return "seqpacket";
	case SOCK_RDM:
		return "rdm";
	case SOCK_PACKET:
		return "packet";
	}
	return "unknown";
}

const char *ef_transport_name(int ipproto)
{
	switch (ipproto) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		return "icmp";
	case IPPROTO_SCTP:
		return "sctp";
	}
	return "unknown";
}

const char *ef_dns_type_name(uint16_t t, char *buf, size_t len)
{
	const ldns_rr_descriptor *d;
	const char *s = NULL;

	/* the meta types have placeholder names in ldns's descriptor table */
	switch (t) {
	case LDNS_RR_TYPE_IXFR:
		s = "IXFR";
		break;
	case LDNS_RR_TYPE_AXFR:
		s = "AXFR";
		break;
	case LDNS_RR_TYPE_MAILB:
		s = "MAILB";
		break;
	case LDNS_RR_TYPE_MAILA:
		s = "MAILA";
		break;
	case LDNS_RR_TYPE_ANY:
		s = "ANY";
		break;
	default:
		d = ldns_rr_descript(t);
		if (d && d->_name)
			s = d->_name;
	}
	if (s)
		snprintf(buf, len, "%s", s);
	else
		snprintf(buf, len, "TYPE%u", t);
	return buf;
}

const char *ef_dns_rcode_name(int rcode, char *buf, size_t len)
{
	/* IANA's mnemonics, spelled as dig prints them */
	static const char *const names[] = {
		[0] = "NOERROR",   [1] = "FORMERR",   [2] = "SERVFAIL", [3] = "NXDOMAIN",
		[4] = "NOTIMP",	   [5] = "REFUSED",   [6] = "YXDOMAIN", [7] = "YXRRSET",
		[8] = "NXRRSET",   [9] = "NOTAUTH",   [10] = "NOTZONE", [11] = "DSOTYPENI",
		[16] = "BADVERS",  [17] = "BADKEY",   [18] = "BADTIME", [19] = "BADMODE",
		[20] = "BADNAME",  [21] = "BADALG",   [22] = "BADTRUNC", [23] = "BADCOOKIE",
	};

	if (rcode >= 0 && (size_t)rcode < sizeof(names) / sizeof(names[0]) && names[rcode])
		snprintf(buf, len, "%s", names[rcode]);
	else
		snprintf(buf, len, "RCODE%d", rcode);
	return buf;
}
