// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A Landlock domain around the job (landlock.h). The uapi header of the
 * build host may predate the fields used here (Debian 12's does), so the
 * few definitions are local; the kernel takes the ruleset attribute by
 * size, the size its ABI knows.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "landlock.h"

#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset 444
#define __NR_landlock_add_rule 445
#define __NR_landlock_restrict_self 446
#endif

struct ef_ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net; /* ABI 4 */
	uint64_t scoped;	     /* ABI 6 */
};

struct ef_ll_path_beneath {
	uint64_t allowed_access;
	int32_t parent_fd;
} __attribute__((packed));

#define EF_LL_CREATE_RULESET_VERSION (1U << 0)
#define EF_LL_RULE_PATH_BENEATH 1
#define EF_LL_ACCESS_FS_MAKE_CHAR (1ULL << 6)
#define EF_LL_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#define EF_LL_SCOPE_SIGNAL (1ULL << 1)

int ef_landlock_abi(void)
{
	int abi = (int)syscall(__NR_landlock_create_ruleset, NULL, 0, EF_LL_CREATE_RULESET_VERSION);

	return abi < 1 ? 0 : abi;
}

int ef_landlock_confine(struct ef_landlock *out, char *why, size_t len)
{
	struct ef_ll_ruleset_attr attr = { 0 };
	size_t size;
	int abi, rs, e;

	memset(out, 0, sizeof(*out));
	abi = ef_landlock_abi();
	if (abi < 1)
		return 0; /* ENOSYS, EOPNOTSUPP (built but not active) */
	if (abi >= 6) {
		/* scopes alone make a domain: no file access is handled */
		attr.scoped = EF_LL_SCOPE_ABSTRACT_UNIX_SOCKET | EF_LL_SCOPE_SIGNAL;
		size = sizeof(attr);
	} else {
		/* a ruleset must handle something: creating character devices,
		 * allowed again below everywhere ("/"), so nothing changes */
		attr.handled_access_fs = EF_LL_ACCESS_FS_MAKE_CHAR;
		size = offsetof(struct ef_ll_ruleset_attr, handled_access_net);
	}
	rs = (int)syscall(__NR_landlock_create_ruleset, &attr, size, 0);
	if (rs < 0) {
		e = errno;
		snprintf(why, len, "a Landlock ruleset (ABI %d): %s", abi, strerror(e));
		return -e;
	}
	if (attr.handled_access_fs) {
		struct ef_ll_path_beneath pb = { .allowed_access = EF_LL_ACCESS_FS_MAKE_CHAR };

		pb.parent_fd = open("/", O_PATH | O_CLOEXEC);
		if (pb.parent_fd < 0 ||
		    syscall(__NR_landlock_add_rule, rs, EF_LL_RULE_PATH_BENEATH, &pb, 0) != 0) {
			e = errno;
			if (pb.parent_fd >= 0)
				close(pb.parent_fd);
			close(rs);
			snprintf(why, len, "a Landlock rule for /: %s", strerror(e));
			return -e;
		}
		close(pb.parent_fd);
	}
	if (syscall(__NR_landlock_restrict_self, rs, 0) != 0) {
		e = errno;
		close(rs);
		snprintf(why, len, "entering a Landlock domain: %s", strerror(e));
		return -e;
	}
	close(rs);
	out->abi = abi;
	out->ptrace = 1;
	out->signals = abi >= 6;
	out->abstract_unix = abi >= 6;
	return 0;
}
