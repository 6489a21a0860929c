// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>

#include "mountinfo.h"

#ifndef MQUEUE_MAGIC
#define MQUEUE_MAGIC 0x19800202
#endif
#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif
#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif
#ifndef TRACEFS_MAGIC
#define TRACEFS_MAGIC 0x74726163
#endif
#ifndef EFIVARFS_MAGIC
#define EFIVARFS_MAGIC 0xde5e81e4
#endif
#ifndef FUSE_CTL_SUPER_MAGIC
#define FUSE_CTL_SUPER_MAGIC 0x65735543
#endif

void ef_mountinfo_unescape(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

int ef_mountinfo_parse(const char *line, struct ef_mountinfo *m)
{
	const char *sep = strstr(line, " - ");

	if (!sep || sscanf(line, "%*s %*s %u:%u %4095s %4095s %1023s", &m->major, &m->minor,
			   m->root, m->mountpoint, m->opts) != 5 ||
	    sscanf(sep + 3, "%63s", m->fstype) != 1)
		return -EINVAL;
	ef_mountinfo_unescape(m->root);
	ef_mountinfo_unescape(m->mountpoint);
	m->ro = !strncmp(m->opts, "ro", 2) && (!m->opts[2] || m->opts[2] == ',');
	return 0;
}

bool ef_kernel_fs(long type)
{
	switch (type) {
	case PROC_SUPER_MAGIC: case SYSFS_MAGIC:
	case CGROUP_SUPER_MAGIC: case CGROUP2_SUPER_MAGIC: case BPF_FS_MAGIC:
	case MQUEUE_MAGIC: case DEBUGFS_MAGIC: case TRACEFS_MAGIC: case SECURITYFS_MAGIC:
	case PSTOREFS_MAGIC: case BINFMTFS_MAGIC: case EFIVARFS_MAGIC: case NSFS_MAGIC:
	case HUGETLBFS_MAGIC: case FUSE_CTL_SUPER_MAGIC:
		return true;
	default:
		return false;
	}
}
