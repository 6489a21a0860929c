// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mountinfo.h"

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
