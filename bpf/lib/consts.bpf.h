/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* UAPI constants that are #defines, and so absent from vmlinux.h. */
#ifndef EF_CONSTS_BPF_H
#define EF_CONSTS_BPF_H

#define EF_AF_UNIX 1
#define EF_AF_INET 2
#define EF_AF_INET6 10
#define EF_AF_NETLINK 16
#define EF_AF_PACKET 17

#define EF_SOCK_STREAM 1
#define EF_SOCK_DGRAM 2
#define EF_SOCK_RAW 3
#define EF_SOCK_TYPE_MASK 0xf

#define EF_IPPROTO_IP 0
#define EF_IPPROTO_ICMP 1
#define EF_IPPROTO_TCP 6
#define EF_IPPROTO_UDP 17
#define EF_IPPROTO_ICMPV6 58

#define EF_ALLOW 1 /* cgroup and lsm_cgroup programs: 1 lets the call through */
#define EF_DROP 0  /* 0 fails it with EPERM */

#endif /* EF_CONSTS_BPF_H */
