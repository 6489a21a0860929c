// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Probe detection in egressd, and what is done about it.
 *
 * The consumer (events.c) hands every refused connect and datagram of a job
 * to its detectors, the DNS proxy every query; probe_detect.c says which
 * reasons fired. Each fire becomes one egress.probe span (child of the
 * job's span) with the reason, the evidence and the action taken, and the
 * job is marked: its egress.job span will carry egress.flagged and the
 * reasons, `egressctl jobs` shows them, and they survive a restart of
 * egressd (<state-dir>/jobs/<id>.json).
 *
 * The action is the policy's probe.action: alert (only the span), freeze
 * (cgroup.freeze: every process of the job stops where it is, for a person
 * to look at) or kill (cgroup.kill). In audit mode the fence refuses
 * nothing, and probe detection takes no action either: the span says what
 * enforce mode would have done.
 *
 * The runner's own addresses come from rtnetlink (libmnl): dumped at start,
 * kept current from the address notifications.
 *
 * Operators act on jobs through the control socket: freeze, thaw, kill
 * (egressctl freeze|thaw|kill JOB), each recorded as an egress.job.control
 * span naming the caller.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>
#include <sys/epoll.h>

#include "egressd.h"
#include "access/access.h"
#include "spans/spans.h"
#include "registry/registry.h"
#include "lib/names.h"
#include "probe.h"
#include "notices/notices.h"
#include "lib/cgroup.h"
#include "probe_detect.h"
#include "lib/util.h"

#define MAX_HOST_ADDRS 1024

struct ef_hostaddrs {
	struct mnl_socket *ev; /* address notifications */
	size_t n;
	struct {
		uint8_t family;
		uint8_t addr[16];
	} a[MAX_HOST_ADDRS];
	bool resync;
};

/* ---- the runner's own addresses ---- */

static bool host_has(const struct ef_hostaddrs *h, uint8_t family, const uint8_t *addr)
{
	for (size_t i = 0; h && i < h->n; i++)
		if (h->a[i].family == family && !memcmp(h->a[i].addr, addr, 16))
			return true;
	return false;
}

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
	struct ef_hostaddrs *h = data;
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *attr, *local = NULL, *address = NULL;
	uint8_t a[16] = { 0 }, fam;
	size_t alen;

	if (nlh->nlmsg_type != RTM_NEWADDR && nlh->nlmsg_type != RTM_DELADDR)
		return MNL_CB_OK;
	if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)
		return MNL_CB_OK;
	mnl_attr_for_each(attr, nlh, sizeof(*ifa)) {
		if (mnl_attr_get_type(attr) == IFA_LOCAL)
			local = attr;
		else if (mnl_attr_get_type(attr) == IFA_ADDRESS)
			address = attr;
	}
	/* IFA_LOCAL is the interface's own on point-to-point links */
	attr = local ? local : address;
	fam = ifa->ifa_family == AF_INET ? EF_FAM_V4 : EF_FAM_V6;
	alen = fam == EF_FAM_V4 ? 4 : 16;
	if (!attr || mnl_attr_get_payload_len(attr) < alen)
		return MNL_CB_OK;
	memcpy(a, mnl_attr_get_payload(attr), alen);
	if (ef_addr_class(fam, a) == EF_AC_LOOPBACK)
		return MNL_CB_OK; /* loopback is the policy's "loopback" setting */
	if (nlh->nlmsg_type == RTM_NEWADDR) {
		if (host_has(h, fam, a) || h->n == MAX_HOST_ADDRS)
			return MNL_CB_OK;
		h->a[h->n].family = fam;
		memcpy(h->a[h->n].addr, a, 16);
		h->n++;
	} else {
		for (size_t i = 0; i < h->n; i++) {
			if (h->a[i].family == fam && !memcmp(h->a[i].addr, a, 16)) {
				h->a[i] = h->a[--h->n];
				break;
			}
		}
	}
	return MNL_CB_OK;
}

/* A full dump over a socket of its own, so notifications never mix in. */
static int host_dump(struct ef_hostaddrs *h)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl = mnl_socket_open(NETLINK_ROUTE);
	struct nlmsghdr *nlh;
	struct rtgenmsg *rt;
	unsigned seq = (unsigned)time(NULL), portid;
	int ret;

	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		mnl_socket_close(nl);
		return ret;
	}
	portid = mnl_socket_get_portid(nl);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	rt = mnl_nlmsg_put_extra_header(nlh, sizeof(*rt));
	rt->rtgen_family = AF_UNSPEC;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		ret = -errno;
		mnl_socket_close(nl);
		return ret;
	}
	h->n = 0;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));

		if (n < 0) {
			ret = -errno;
			break;
		}
		ret = mnl_cb_run(buf, n, seq, portid, addr_cb, h);
		if (ret <= MNL_CB_STOP) {
			ret = ret < 0 ? -errno : 0;
			break;
		}
	}
	mnl_socket_close(nl);
	h->resync = false;
	return ret;
}

int ef_probe_setup(struct ef_daemon *d)
{
	struct ef_hostaddrs *h = calloc(1, sizeof(*h));
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = EF_EP_NETLINK };
	int fd, ret;

	if (!h)
		return -ENOMEM;
	d->host = h;
	h->ev = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!h->ev || mnl_socket_bind(h->ev, RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR,
				      MNL_SOCKET_AUTOPID) < 0)
		goto fail;
	fd = mnl_socket_get_fd(h->ev);
	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		goto fail;
	ret = host_dump(h);
	if (ret) {
		epoll_ctl(d->epfd, EPOLL_CTL_DEL, fd, NULL);
		errno = -ret;
		goto fail;
	}
	log_info("probe detection: %zu addresses of this host are sensitive targets", h->n);
	return 0;
fail:
	ret = -errno;
	if (h->ev)
		mnl_socket_close(h->ev);
	h->ev = NULL;
	h->n = 0;
	return ret;
}

void ef_probe_netlink_io(struct ef_daemon *d)
{
	struct ef_hostaddrs *h = d->host;
	char buf[MNL_SOCKET_BUFFER_SIZE];

	if (!h || !h->ev)
		return;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(h->ev, buf, sizeof(buf));

		if (n < 0) {
			if (errno == ENOBUFS)
				h->resync = true; /* notifications lost: dump again */
			else
				break;
			continue;
		}
		mnl_cb_run(buf, n, 0, 0, addr_cb, h);
	}
	if (h->resync && host_dump(h))
		log_warn("probe detection: cannot list this host's addresses: %s", strerror(errno));
}

void ef_probe_close(struct ef_daemon *d)
{
	if (!d->host)
		return;
	if (d->host->ev)
		mnl_socket_close(d->host->ev);
	free(d->host);
	d->host = NULL;
}

/* ---- flags ---- */

static struct ef_pdet *detectors(struct ef_job_rec *j)
{
	struct ef_probe_limits l;

	if (j->probe.det && j->probe.det_pol == j->pol)
		return j->probe.det;
	ef_probe_limits_of(&j->pol->pol->probe, &l);
	if (j->probe.det)
		ef_pdet_set_limits(j->probe.det, &l);
	else
		j->probe.det = ef_pdet_new(&l);
	j->probe.det_pol = j->pol;
	return j->probe.det;
}

static void describe(const struct ef_probe_fire *f, char *out, size_t len)
{
	uint32_t window_s = f->window_s;

	switch (f->reason) {
	case EF_PR_DEST_SCAN:
		snprintf(out, len, "%u distinct denied hosts within %u s", f->count, window_s);
		break;
	case EF_PR_PORT_SCAN:
		snprintf(out, len, "%u distinct denied ports on %s within %u s", f->count,
			 f->subject, window_s);
		break;
	case EF_PR_DNS_SWEEP:
		snprintf(out, len, "%u distinct denied or nonexistent DNS names within %u s",
			 f->count, window_s);
		break;
	case EF_PR_DNS_TUNNEL:
		snprintf(out, len, "%u DNS names shaped like tunnelled data within %u s", f->count,
			 window_s);
		break;
	case EF_PR_DNS_FANOUT:
		snprintf(out, len, "%u distinct DNS names under %s within %u s", f->count,
			 f->subject, window_s);
		break;
	case EF_PR_DNS_LABEL_BYTES:
		snprintf(out, len, "%u bytes of distinct DNS names below %s sent upstream "
			 "within %u s", f->count, f->subject, window_s);
		break;
	case EF_PR_METADATA:
		snprintf(out, len, "tried the cloud metadata address %s", f->targets[0]);
		break;
	case EF_PR_HOST_ADDRESS:
		snprintf(out, len, "tried this runner's own address %s", f->targets[0]);
		break;
	case EF_PR_LINK_LOCAL:
		snprintf(out, len, "tried the link-local address %s", f->targets[0]);
		break;
	case EF_PR_PRIVATE:
		snprintf(out, len, "tried the private address %s", f->targets[0]);
		break;
	case EF_PR_TAMPER:
		snprintf(out, len, "went for the fence itself (%s)", f->targets[0]);
		break;
	case EF_PR_FLOOD:
		snprintf(out, len, "%u refusals within %u s", f->count, window_s);
		break;
	default:
		snprintf(out, len, "?");
	}
}

/* Do what the policy says; returns the action taken. */
static int act(struct ef_job_rec *j, int want, char *err, size_t errlen)
{
	int ret = 0;

	if (want == EF_PROBE_FREEZE)
		ret = ef_cgroup_freeze(j->cgroup, true);
	else if (want == EF_PROBE_KILL && !(ret = ef_cgroup_kill(j->cgroup)))
		j->killed = true;
	if (ret) {
		snprintf(err, errlen, "%s failed: %s", ef_probe_action_name(want), strerror(-ret));
		return EF_PROBE_ALERT;
	}
	return want;
}

static void flag(struct ef_daemon *d, struct ef_job_rec *j, const struct ef_probe_fire *f,
		 const struct ef_event *e)
{
	const struct ef_policy *pol = j->pol->pol;
	bool audit = pol->mode == EF_MODE_AUDIT;
	int want = audit ? EF_PROBE_ALERT : pol->probe.action, done;
	const char *targets[EF_PROBE_SAMPLES];
	char what[400], aerr[128] = "", msg[640];
	struct ef_span *s;

	describe(f, what, sizeof(what));
	done = act(j, want, aerr, sizeof(aerr));
	j->probe.mask |= 1u << f->reason;
	j->probe.fires++;
	d->probe_flags++;
	if (j->probe.action < done)
		j->probe.action = done;
	if (j->probe.action < 0)
		j->probe.action = EF_PROBE_ALERT;

	s = ef_span_new(d);
	ef_span_init(s, "egress.probe", EF_KIND_INTERNAL);
	ef_span_job_context(d, s, j);
	s->start_ns = s->end_ns = ef_now_realtime_ns();
	ef_span_bool(s, "egress.flagged", true);
	ef_span_str(s, "egress.probe.reason", ef_probe_reason_name(f->reason));
	ef_span_str(s, "egress.probe.action", ef_probe_action_name(done));
	if (done != pol->probe.action)
		ef_span_str(s, "egress.probe.policy_action", ef_probe_action_name(pol->probe.action));
	if (aerr[0])
		ef_span_str(s, "egress.probe.action_error", aerr);
	ef_span_int(s, "egress.probe.count", f->count);
	ef_span_int(s, "egress.probe.threshold", f->threshold);
	ef_span_int(s, "egress.probe.window_s", f->window_s);
	if (f->subject[0])
		ef_span_str(s, "egress.probe.subject", f->subject);
	for (int i = 0; i < f->n_targets; i++)
		targets[i] = f->targets[i];
	ef_span_strs(s, "egress.probe.targets", targets, f->n_targets);
	ef_span_str(s, "egress.policy.name", pol->name);
	ef_span_str(s, "egress.mode", ef_mode_name(pol->mode));
	if (e) {
		char exe[EF_EXE_LEN + 1], comm[EF_COMM_LEN + 1];

		memcpy(exe, e->exe, EF_EXE_LEN);
		exe[EF_EXE_LEN] = '\0';
		memcpy(comm, e->comm, EF_COMM_LEN);
		comm[EF_COMM_LEN] = '\0';
		ef_span_int(s, "process.pid", e->pid);
		ef_span_str(s, "process.executable.name", exe[0] ? exe : comm);
	}
	snprintf(msg, sizeof(msg), "probe: %s; %s%s%s", what,
		 done == EF_PROBE_FREEZE ? "job frozen"
		 : done == EF_PROBE_KILL ? "job killed"
		 : audit && pol->probe.action != EF_PROBE_ALERT ? "audit mode: no action"
								 : "alert only",
		 aerr[0] ? "; " : "", aerr);
	s->status = EF_STATUS_ERROR;
	s->status_msg = ef_span_strdup(s, msg);
	ef_span_job_attrs(s, j);
	log_warn("job %s flagged (%s): %s", j->id, ef_probe_reason_name(f->reason), msg + 7);
	if (d->watches)
		ef_notice_flag(d, j, ef_probe_reason_name(f->reason), what,
			       ef_probe_action_name(done));
	d->up->job_save(d, j);
}

/* Any attempt on the fence is a probe, at the first try: each kind of
 * attempt (bpf, cgroup, signal, ...) flags the job once, and the policy's
 * probe action applies. */
static void tamper_flag(struct ef_daemon *d, struct ef_job_rec *j, const struct ef_event *e)
{
	struct ef_probe_fire f = {
		.reason = EF_PR_TAMPER,
		.threshold = 1,
		.n_targets = 1,
	};
	uint32_t bit = e->reason - EF_R_TAMPER_BPF;

	j->probe.tamper_count++;
	if (bit < 32 && (j->probe.tamper_mask & (1u << bit)))
		return;
	if (bit < 32)
		j->probe.tamper_mask |= 1u << bit;
	f.count = j->probe.tamper_count;
	snprintf(f.subject, sizeof(f.subject), "%s", ef_reason_name(e->reason));
	snprintf(f.targets[0], sizeof(f.targets[0]), "%s", ef_reason_name(e->reason));
	flag(d, j, &f, e);
}

void ef_probe_event(struct ef_daemon *d, struct ef_job_rec *j, const struct ef_event *e)
{
	struct ef_probe_fire fires[EF_PR__MAX];
	struct ef_probe_conn c = {
		.now_ns = e->ts_boot_ns,
		.family = e->family,
		.addr = e->addr,
		.port = e->port,
		.ipproto = (uint8_t)e->protocol,
		.connect = e->kind == EF_K_CONNECT,
		.verdict = e->verdict,
		.reason = e->reason,
		.learned = e->name_id != 0,
	};
	struct ef_pdet *p;
	uint64_t t0;
	int n;

	/* the consumer passes refusals only; every one counts towards a flood
	 * but what no detector counts either: getaddrinfo's connected-UDP sort
	 * of an answer it just got, and a stale address (dns_expired) */
	p = detectors(j);
	if (p && !(e->kind == EF_K_CONNECT && e->protocol == IPPROTO_UDP && e->name_id) &&
	    e->reason != EF_R_DNS_EXPIRED && ef_pdet_flood(p, e->ts_boot_ns, fires))
		flag(d, j, &fires[0], e);
	/* A refused socket option names no destination; a dropped packet
	 * (EF_K_PACKET) counts as a denied destination like a connect
	 * (.connect stays false: it is no getaddrinfo sort) */
	if (e->kind == EF_K_SOCKET || e->kind == EF_K_SOCKOPT)
		return;
	if (e->kind == EF_K_TAMPER) {
		tamper_flag(d, j, e);
		return;
	}
	if (!e->family)
		return; /* an address the fence could not read (EF_R_UDP_CORKED) */
	t0 = ef_now_boot_ns();
	p = detectors(j);
	if (!p)
		return;
	c.host_address = host_has(d->host, e->family, e->addr);
	c.server = e->name_id ? ef_name_get(d, e->name_id) : NULL;
	n = ef_pdet_conn(p, &c, fires);
	d->probe_examined++;
	d->probe_ns += ef_now_boot_ns() - t0;
	for (int i = 0; i < n; i++)
		flag(d, j, &fires[i], e);
}

void ef_probe_dns(struct ef_daemon *d, struct ef_job_rec *j, struct ef_probe_dns *in)
{
	struct ef_probe_fire fires[EF_PR__MAX];
	uint64_t t0 = ef_now_boot_ns();
	struct ef_pdet *p = detectors(j);
	int n;

	in->now_ns = t0;
	if (!p)
		return;
	n = ef_pdet_dns(p, in, fires);
	d->probe_examined++;
	d->probe_ns += ef_now_boot_ns() - t0;
	for (int i = 0; i < n; i++)
		flag(d, j, &fires[i], NULL);
}

void ef_probe_tick(struct ef_daemon *d)
{
	uint64_t now = ef_now_boot_ns();

	for (struct ef_job_rec *j = d->jobs; j; j = j->next)
		if (j->probe.det)
			ef_pdet_expire(j->probe.det, now);
}

void ef_probe_status(struct ef_daemon *d, cJSON *o)
{
	cJSON *p = cJSON_AddObjectToObject(o, "probe");
	size_t entries = 0;

	if (!p)
		return;
	for (struct ef_job_rec *j = d->jobs; j; j = j->next)
		if (j->probe.det)
			entries += ef_pdet_entries(j->probe.det);
	cJSON_AddNumberToObject(p, "examined", (double)d->probe_examined);
	cJSON_AddNumberToObject(p, "flags", (double)d->probe_flags);
	cJSON_AddNumberToObject(p, "ns_per_examined",
				d->probe_examined ? (double)(d->probe_ns / d->probe_examined) : 0);
	cJSON_AddNumberToObject(p, "tracked_targets", (double)entries);
	cJSON_AddNumberToObject(p, "host_addresses", d->host ? (double)d->host->n : 0);
}

void ef_probe_job_free(struct ef_job_rec *j)
{
	ef_pdet_free(j->probe.det);
	j->probe.det = NULL;
}

/* ---- the job's record ---- */

static int reasons_of(const struct ef_job_rec *j, const char **out)
{
	int n = 0;

	for (int r = 0; r < EF_PR__MAX; r++)
		if (j->probe.mask & (1u << r))
			out[n++] = ef_probe_reason_name(r);
	return n;
}

void ef_probe_job_attrs(struct ef_span *s, const struct ef_job_rec *j)
{
	const char *rs[EF_PR__MAX];
	char joined[256] = "";
	int n = reasons_of(j, rs);

	ef_span_bool(s, "egress.flagged", n > 0);
	if (!n)
		return;
	for (int i = 0; i < n; i++) {
		size_t l = strlen(joined);

		snprintf(joined + l, sizeof(joined) - l, "%s%s", i ? "," : "", rs[i]);
	}
	ef_span_str(s, "egress.probe.reason", joined);
	ef_span_str(s, "egress.probe.action", ef_probe_action_name(j->probe.action));
	ef_span_int(s, "egress.probe.flags", j->probe.fires);
}

/* What the job's processes are doing, as egressctl jobs and the replies
 * of freeze, thaw and kill name it: running, freezing, frozen, thawing;
 * once killed, ending while any process is left, then killed. *settled:
 * the state is not a passing one. */
static const char *job_state(const struct ef_job_rec *j, bool *settled)
{
	int st;

	*settled = true;
	if (j->killed) {
		if (ef_cgroup_populated(j->cgroup) != 1)
			return "killed";
		*settled = false;
		return "ending";
	}
	st = ef_cgroup_state(j->cgroup);
	if (st < 0)
		return "unknown";
	*settled = st == EF_CG_RUNNING || st == EF_CG_FROZEN;
	return ef_cgroup_state_name(st);
}

void ef_probe_job_json(cJSON *o, const struct ef_job_rec *j)
{
	const char *rs[EF_PR__MAX];
	int n = reasons_of(j, rs);
	bool settled;

	cJSON_AddStringToObject(o, "state", job_state(j, &settled));
	cJSON_AddBoolToObject(o, "flagged", n > 0);
	if (n) {
		cJSON_AddItemToObject(o, "probe_reasons", cJSON_CreateStringArray(rs, n));
		cJSON_AddStringToObject(o, "probe_action", ef_probe_action_name(j->probe.action));
		cJSON_AddNumberToObject(o, "probe_flags", j->probe.fires);
	}
}

void ef_probe_job_save(cJSON *o, const struct ef_job_rec *j)
{
	const char *rs[EF_PR__MAX];
	int n = reasons_of(j, rs);
	cJSON *p;

	if (!n)
		return;
	p = cJSON_AddObjectToObject(o, "probe");
	if (!p)
		return;
	cJSON_AddItemToObject(p, "reasons", cJSON_CreateStringArray(rs, n));
	cJSON_AddStringToObject(p, "action", ef_probe_action_name(j->probe.action));
	cJSON_AddNumberToObject(p, "flags", j->probe.fires);
}

void ef_probe_job_load(const cJSON *o, struct ef_job_rec *j)
{
	const cJSON *p = cJSON_GetObjectItem(o, "probe"), *r;
	const char *act;

	j->probe.action = -1;
	if (!cJSON_IsObject(p))
		return;
	cJSON_ArrayForEach(r, cJSON_GetObjectItem(p, "reasons")) {
		for (int k = 0; cJSON_IsString(r) && k < EF_PR__MAX; k++)
			if (!strcmp(r->valuestring, ef_probe_reason_name(k)))
				j->probe.mask |= 1u << k;
	}
	act = cJSON_GetStringValue(cJSON_GetObjectItem(p, "action"));
	j->probe.action = !act ? -1
			  : !strcmp(act, "kill") ? EF_PROBE_KILL
			  : !strcmp(act, "freeze") ? EF_PROBE_FREEZE
						   : EF_PROBE_ALERT;
	j->probe.fires = (uint32_t)cJSON_GetNumberValue(cJSON_GetObjectItem(p, "flags"));
}

/* ---- operators: freeze, thaw, kill ---- */

int ef_job_control(struct ef_daemon *d, const char *op, const cJSON *req,
		   const struct ef_peer *peer, cJSON *reply, char *err, size_t errlen)
{
	const cJSON *jid = cJSON_GetObjectItem(req, "job_id");
	struct ef_job_rec *j;
	struct ef_span *s;
	bool settled;
	int ret;

	if (!cJSON_IsString(jid)) {
		snprintf(err, errlen, "malformed %s request: \"job_id\" must be a string", op);
		return -EINVAL;
	}
	j = ef_job_by_id(d, jid->valuestring);
	if (!j) {
		snprintf(err, errlen, "no running job \"%.80s\"", jid->valuestring);
		return -ENOENT;
	}
	/* a job's owner may stop it; only root and the policy admins may let
	 * a flagged job go on */
	if (!ef_access_admin(d, peer) && (peer->uid != j->uid || !strcmp(op, "thaw"))) {
		snprintf(err, errlen, "%s job %s: permission denied (%s)", op, j->id,
			 !strcmp(op, "thaw") ? "only root or a policy admin may thaw a job"
					      : "only root, a policy admin or the job's owner");
		return -EPERM;
	}
	if (!strcmp(op, "freeze"))
		ret = ef_cgroup_freeze(j->cgroup, true);
	else if (!strcmp(op, "thaw"))
		ret = ef_cgroup_freeze(j->cgroup, false);
	else if (!(ret = ef_cgroup_kill(j->cgroup)))
		j->killed = true;
	if (ret) {
		snprintf(err, errlen, "%s job %s: %s", op, j->id, strerror(-ret));
		return ret;
	}
	s = ef_span_new(d);
	ef_span_init(s, "egress.job.control", EF_KIND_INTERNAL);
	ef_span_job_context(d, s, j);
	s->start_ns = s->end_ns = ef_now_realtime_ns();
	ef_span_str(s, "egress.control.op", op);
	ef_span_int(s, "egress.control.uid", peer->uid);
	ef_span_int(s, "egress.control.pid", peer->pid);
	ef_span_job_attrs(s, j);
	ef_spans_flush(d);
	log_info("job %s: %s by uid %u (pid %d)", j->id, op, peer->uid, peer->pid);
	cJSON_AddStringToObject(reply, "job_id", j->id);
	cJSON_AddStringToObject(reply, "state",
				ef_job_control_state(d, op, j->id, j->cgroup_id, &settled));
	return 0;
}

const char *ef_job_control_state(struct ef_daemon *d, const char *op, const char *job_id,
				 uint64_t cgroup_id, bool *settled)
{
	struct ef_job_rec *j = ef_job_by_id(d, job_id);

	/* gone (its cgroup emptied and removed): killed, or its processes
	 * had all exited on their own */
	if (!j || j->cgroup_id != cgroup_id) {
		*settled = true;
		return !strcmp(op, "kill") ? "killed" : "ended";
	}
	return job_state(j, settled);
}
