/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef EF_CLI_USERNS_H
#define EF_CLI_USERNS_H

#include <stddef.h>

/* Same-user isolation of an unprivileged job (see userns.c): 0 done; 1 not
 * done, the process unchanged (why says why); -errno the process is in a
 * namespace it cannot use (why says why): the job must not run. */
int ef_userns_isolate(char *why, size_t len);

#endif /* EF_CLI_USERNS_H */
