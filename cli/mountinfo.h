/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef EF_CLI_MOUNTINFO_H
#define EF_CLI_MOUNTINFO_H

/* A field of /proc/self/mountinfo with its escapes undone in place: space,
 * tab, newline and backslash are written there as \ooo. */
void ef_mountinfo_unescape(char *s);

#endif /* EF_CLI_MOUNTINFO_H */
