/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Policy versions in the maps, and policy changes through the control
 * socket (egressctl policy apply|add|remove).
 */
#ifndef EF_POLICIES_POLICIES_H
#define EF_POLICIES_POLICIES_H

#include "egressd.h"

int ef_pol_get(struct ef_daemon *d, const char *text, size_t len, const char *file,
	       const char *origin, struct ef_pol_rec **out, char *err, size_t errlen);
void ef_pol_put(struct ef_daemon *d, struct ef_pol_rec *p);
int ef_pol_restore(struct ef_daemon *d);
void ef_pols_free(struct ef_daemon *d);
void ef_pols_tick(struct ef_daemon *d, bool all);

#endif /* EF_POLICIES_POLICIES_H */
