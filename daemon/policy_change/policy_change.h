/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Live policy changes through the control socket (egressctl policy
 * apply|add|remove: policy_ops.c), and revoking the connections of running
 * jobs that the new version denies (revoke.c).
 */
#ifndef EF_POLICY_CHANGE_POLICY_CHANGE_H
#define EF_POLICY_CHANGE_POLICY_CHANGE_H

#include "egressd.h"

/* policy_ops.c: egressctl policy apply|add|remove */
int ef_policy_op(struct ef_daemon *d, const char *op, const cJSON *req, const struct ef_peer *peer,
		 cJSON *reply, char *err, size_t errlen);
void ef_policy_ops_tick(struct ef_daemon *d);
void ef_policy_ops_free(struct ef_daemon *d);
void ef_policy_ops_status(cJSON *o);

#endif /* EF_POLICY_CHANGE_POLICY_CHANGE_H */
