// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A job's own Docker endpoint.
 *
 * A job whose policy says "docker" reaches, at /run/docker.sock (and so
 * /var/run/docker.sock, where egressctl run points DOCKER_HOST), egressd's
 * cover of that socket (runtimes.c), as every job does; for it the cover
 * is not a refusal but this endpoint. The connecting process's job is known
 * from its peer credentials (runtimes.c), so the endpoint is the job's own
 * without a socket of its own: a job cannot speak for another.
 *
 * Each connection is served by a thread of its own, with blocking I/O: a
 * request's judgement may ask dockerd first (is this container the job's?),
 * and streams (attach, exec, logs -f) live as long as the container. The
 * threads share nothing of egressd's but the job's policy version, which
 * they only read (its name table is read-only once built, policy.h), and
 * a reference the main loop took for them; what they have to tell (a
 * refusal, a container started, a connection done) they write to a pipe
 * that the main loop reads (ef_docker_io()).
 *
 * One request per connection: every request goes to dockerd with
 * "Connection: close" (or as an upgrade, for attach and exec start), its
 * head written anew from what was parsed and judged, its body framed anew;
 * so what dockerd reads is what was judged, and a second request hidden
 * behind the first never reaches it. The route and the bodies are judged
 * by docker_check.c; refusals are Docker API errors the CLI prints, and
 * egress.tamper spans (tamper_docker).
 *
 * What the job's containers are: those carrying the label
 * io.egress-fence.job=<job id>, which only this endpoint sets (it refuses
 * the label from the job). Every request that names a container, an exec,
 * a network or a volume asks dockerd for it first and goes on only for the
 * job's own; the container is then named by its full id.
 *
 * Bind mounts: a source must lie, with no symbolic link on the way, in the
 * job's working directory or a path of the policy's "docker.binds"; it is
 * opened and bind-mounted by egressd at <run_dir>/docker/<job>/<n>, and
 * that path is what dockerd binds, then and at every restart: renaming a
 * directory of the path and putting a link in its place afterwards changes
 * nothing. Those mounts go when the job ends.
 *
 * At the job's end its containers are removed (with their anonymous
 * volumes), and its networks. A job's containers live in its cgroup and so
 * keep it populated: once a second (ef_docker_tick()) a job whose own
 * processes are all gone has them removed, and then it ends as any job
 * does; if dockerd does not remove them within 10 s, they are killed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/openat2.h>

#include <cjson/cJSON.h>

#include "container.h"
#include "docker.h"
#include "docker_check.h"
#include "egressd.h"
#include "registry/registry.h"
#include "dns/dns.h"
#include "jobs/jobs.h"
#include "policies/policies.h"
#include "tamper/tamper.h"
#include "lib/cgroup.h"
#include "lib/span.h"
#include "lib/util.h"
#include "ef_verdict.h"

#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif

#define HEAD_MAX (64 * 1024)
#define HEADERS_MAX 100
#define CONNS_MAX 256		  /* threads serving connections, all jobs */
#define JOB_CONNS_MAX 64	  /* ... one job's: the others keep theirs */
#define HEAD_NS (30ull * 1000000000ull) /* a request head, whole */
#define IDLE_MS (5 * 60 * 1000)	  /* a request head or body that stalls this long */
#define UP_RESP_MAX (4u << 20)	  /* an answer egressd reads itself */
#define REAP_KILL_NS (10ull * 1000000000ull)
#define CONTAINERS_MAX 64	  /* listed on the job span, and named on spans */

enum { MSG_TAMPER = 1, MSG_DONE, MSG_STARTED, MSG_NETNS, MSG_REAPED, MSG_SELF };

struct msg {
	int type;
	char job[EF_JOB_ID_MAX + 1];
	pid_t pid;
	uid_t uid;
	gid_t gid;
	void *pol;
	char id[65];
	char name[128];
	char image[200];
	char detail[1024];
};
_Static_assert(sizeof(struct msg) <= PIPE_BUF, "a message is written whole");

struct ef_dk_job {
	int n;
	struct {
		char id[65];
		char name[128];
		char image[200];
	} c[CONTAINERS_MAX];
	int n_more;		/* started past CONTAINERS_MAX */
	bool reaping;		/* removal asked */
	int conns;		/* connections being served */
	uint64_t reap_ns;
	/* decisions name the container: the last process looked up */
	pid_t last_pid;
	uint64_t last_start;
	char last_id[65]; /* "": in none */
	/* a job started inside a container (container.c): its processes are
	 * in the job's cgroup, no longer in the container's */
	char self_id[65];
};

static struct {
	int kind; /* EF_EPK_DOCKER: first, the epoll tag's kind */
	int pipe[2];
	char upstream[EF_PATH_MAX];
	char run_dir[EF_PATH_MAX];
	atomic_int conns;
	atomic_uint mounts;
	ino_t host_netns;
} dk = { .kind = EF_EPK_DOCKER, .pipe = { -1, -1 } };

/* What a thread knows of its job: a copy, taken by the main loop. */
struct conn {
	int fd;
	char job[EF_JOB_ID_MAX + 1];
	char cgroup_rel[EF_PATH_MAX];
	char cgroup_abs[EF_PATH_MAX];
	char workdir[EF_PATH_MAX]; /* "" if not known */
	char **binds;
	size_t n_binds;
	struct ef_pol_rec *pol; /* a reference: MSG_DONE gives it back */
	pid_t pid;
	uid_t uid;
	gid_t gid;
	/* this request */
	struct ef_dk_req req;
	char method[16];
	char name[128], image[200]; /* of the last container own_container() found */
	char rbuf[HEAD_MAX];
	size_t rlen;
};

/* ---- messages to the main loop ---- */

static void post(const struct msg *m)
{
	ssize_t n;

	do
		n = write(dk.pipe[1], m, sizeof(*m));
	while (n < 0 && errno == EINTR);
}

static void post_tamper(struct conn *c, const char *target, const char *why)
{
	struct msg m = { .type = MSG_TAMPER, .pid = c->pid, .uid = c->uid, .gid = c->gid };

	snprintf(m.job, sizeof(m.job), "%s", c->job);
	snprintf(m.detail, sizeof(m.detail), "%s %.300s\n%s", c->method, target, why);
	post(&m);
}

/* ---- I/O ---- */

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read what is there, waiting at most IDLE_MS: >0, 0 at EOF, <0 error. */
static ssize_t read_some(int fd, void *buf, size_t len)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	for (;;) {
		int r = poll(&p, 1, IDLE_MS);

		if (r == 0)
			return -ETIMEDOUT;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		n = read(fd, buf, len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		return n < 0 ? -errno : n;
	}
}

/* An answer of the endpoint's own: a Docker API error. */
static void reply_error(int fd, int status, const char *why)
{
	cJSON *o = cJSON_CreateObject();
	char *body, head[256];
	int n;

	cJSON_AddStringToObject(o, "message", why);
	body = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!body)
		return;
	n = snprintf(head, sizeof(head),
		     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nApi-Version: 1.41\r\n"
		     "Connection: close\r\nContent-Length: %zu\r\n\r\n",
		     status, status == 403 ? "Forbidden" : status == 400 ? "Bad Request" :
			     status == 502 ? "Bad Gateway" : status == 503 ? "Service Unavailable" :
			     "Error", strlen(body) + 1);
	if (!write_all(fd, head, (size_t)n))
		write_all(fd, body, strlen(body)), write_all(fd, "\n", 1);
	free(body);
}

static int up_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", dk.upstream);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

/* Chunked body in buf[0..len) decoded in place; -EINVAL if malformed or
 * short. */
static int dechunk(char *buf, size_t len, size_t *out)
{
	size_t i = 0, o = 0;

	for (;;) {
		char *e;
		unsigned long n;

		if (i >= len)
			return -EINVAL;
		n = strtoul(buf + i, &e, 16);
		if (e == buf + i || (size_t)(e - buf) >= len)
			return -EINVAL;
		i = (size_t)(e - buf);
		while (i < len && buf[i] != '\n')
			i++;
		if (i >= len)
			return -EINVAL;
		i++;
		if (n == 0)
			break;
		if (n > len - i)
			return -EINVAL;
		memmove(buf + o, buf + i, n);
		o += n;
		i += n;
		if (i + 2 > len || buf[i] != '\r' || buf[i + 1] != '\n')
			return -EINVAL;
		i += 2;
	}
	*out = o;
	return 0;
}

/* A request of egressd's own to dockerd, with no body: the status, and
 * the answer's body (NUL-ended, malloc'd) in *resp. */
static int up_send(const char *method, const char *path, const char *json, int *status,
		   char **resp)
{
	char head[EF_DK_TARGET_MAX + 256], *buf = NULL, *p, *hend;
	size_t len = 0, cap = 0;
	int fd, n, ret = -EIO;

	*resp = NULL;
	fd = up_connect();
	if (fd < 0)
		return fd;
	if (json)
		n = snprintf(head, sizeof(head),
			     "%s %s HTTP/1.1\r\nHost: docker\r\nUser-Agent: egressd\r\n"
			     "Connection: close\r\nContent-Type: application/json\r\n"
			     "Content-Length: %zu\r\n\r\n", method, path, strlen(json));
	else
		n = snprintf(head, sizeof(head),
			     "%s %s HTTP/1.1\r\nHost: docker\r\nUser-Agent: egressd\r\n"
			     "Connection: close\r\n\r\n", method, path);
	if (n >= (int)sizeof(head) || write_all(fd, head, (size_t)n) ||
	    (json && write_all(fd, json, strlen(json))))
		goto out;
	for (;;) {
		ssize_t r;

		if (len + 4096 + 1 > cap) {
			char *nb;

			if (cap >= UP_RESP_MAX)
				goto out;
			cap = cap ? cap * 2 : 16384;
			nb = realloc(buf, cap);
			if (!nb)
				goto out;
			buf = nb;
		}
		r = read_some(fd, buf + len, cap - len - 1);
		if (r < 0)
			goto out;
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (!buf)
		goto out;
	buf[len] = '\0';
	if (sscanf(buf, "HTTP/1.%*d %d", status) != 1)
		goto out;
	hend = strstr(buf, "\r\n\r\n");
	if (!hend)
		goto out;
	*hend = '\0';
	p = hend + 4;
	len -= (size_t)(p - buf);
	if (strcasestr(buf, "\r\ntransfer-encoding: chunked")) {
		if (dechunk(p, len, &len))
			goto out;
	}
	*resp = malloc(len + 1);
	if (!*resp)
		goto out;
	memcpy(*resp, p, len);
	(*resp)[len] = '\0';
	ret = 0;
out:
	free(buf);
	close(fd);
	return ret;
}

static int up_request(const char *method, const char *path, int *status, char **resp)
{
	return up_send(method, path, NULL, status, resp);
}

static cJSON *up_json(const char *fmt, const char *ref, int *status)
{
	char path[EF_DK_TARGET_MAX], *body = NULL;
	cJSON *o = NULL;

	snprintf(path, sizeof(path), fmt, ref);
	*status = 0;
	if (up_request("GET", path, status, &body))
		return NULL;
	if (*status == 200)
		o = cJSON_Parse(body);
	free(body);
	return o;
}

/* ---- what docker_check.c asks ---- */

static bool ref_plain(const char *s)
{
	size_t n = strlen(s);

	if (!n || n >= EF_DK_REF_MAX || s[0] == '.' || s[0] == '-')
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' || *s == '-'))
			return false;
	return true;
}

static bool labelled(const cJSON *labels, const char *job)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(labels, EF_DK_LABEL);

	return cJSON_IsString(v) && !strcmp(v->valuestring, job);
}

static int own_container(void *arg, const char *ref, char id[65])
{
	struct conn *c = arg;
	const cJSON *i, *l, *cp;
	cJSON *o;
	int st, ret = -ENOENT;

	if (!ref_plain(ref))
		return -ENOENT;
	o = up_json("/containers/%s/json", ref, &st);
	if (!o)
		return st ? -ENOENT : -EIO;
	i = cJSON_GetObjectItemCaseSensitive(o, "Id");
	l = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, "Config"),
					     "Labels");
	/* the label can come with an image (a commit's, a loaded one's): the
	 * cgroup parent only this endpoint sets */
	cp = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, "HostConfig"),
					      "CgroupParent");
	if (cJSON_IsString(i) && strlen(i->valuestring) == 64 && labelled(l, c->job) &&
	    cJSON_IsString(cp) && !strcmp(cp->valuestring, c->cgroup_rel)) {
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, "Name");
		const cJSON *img = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(o, "Config"), "Image");

		memcpy(id, i->valuestring, 65);
		snprintf(c->name, sizeof(c->name), "%s",
			 cJSON_IsString(n) ? n->valuestring + (n->valuestring[0] == '/') : "");
		snprintf(c->image, sizeof(c->image), "%s", cJSON_IsString(img) ? img->valuestring : "");
		ret = 0;
	}
	cJSON_Delete(o);
	return ret;
}

static int network_ok(void *arg, const char *name, char *why, size_t whylen)
{
	struct conn *c = arg;
	const cJSON *drv, *nm;
	cJSON *o;
	int st, ret = 0;

	if (!ref_plain(name)) {
		snprintf(why, whylen, "refused by egress-fence's Docker endpoint: network name");
		return -EPERM;
	}
	o = up_json("/networks/%s", name, &st);
	drv = cJSON_GetObjectItemCaseSensitive(o, "Driver");
	nm = cJSON_GetObjectItemCaseSensitive(o, "Name");
	if (!cJSON_IsString(drv) || strcmp(drv->valuestring, "bridge") || !cJSON_IsString(nm) ||
	    (strcmp(nm->valuestring, "bridge") &&
	     !labelled(cJSON_GetObjectItemCaseSensitive(o, "Labels"), c->job))) {
		snprintf(why, whylen,
			 "refused by egress-fence's Docker endpoint: network %s (%s; the default "
			 "bridge or a network of this job's only)", name,
			 !o ? "no such network" : "not this job's");
		ret = -EPERM;
	}
	cJSON_Delete(o);
	return ret;
}

static int volume_ok(void *arg, const char *name, char *why, size_t whylen)
{
	struct conn *c = arg;
	const cJSON *drv, *opts;
	cJSON *o;
	int st, ret = 0;

	if (!ref_plain(name)) {
		snprintf(why, whylen, "refused by egress-fence's Docker endpoint: volume name %s",
			 name);
		return -EPERM;
	}
	o = up_json("/volumes/%s", name, &st);
	if (!o && st == 404) {
		/* made now, the job's: dockerd would make it unlabelled, for the
		 * next job to mount */
		char body[EF_DK_REF_MAX + EF_JOB_ID_MAX + 96], *rb = NULL;

		snprintf(body, sizeof(body), "{\"Name\":\"%s\",\"Labels\":{\"%s\":\"%s\"}}", name,
			 EF_DK_LABEL, c->job);
		if (up_send("POST", "/volumes/create", body, &st, &rb) || st != 201)
			ret = -EPERM;
		free(rb);
		if (ret)
			snprintf(why, whylen, "volume %s could not be made", name);
		return ret;
	}
	if (!o)
		return snprintf(why, whylen, "volume %s: dockerd did not say", name), -EPERM;
	if (!labelled(cJSON_GetObjectItemCaseSensitive(o, "Labels"), c->job)) {
		snprintf(why, whylen,
			 "refused by egress-fence's Docker endpoint: volume %s is not this job's",
			 name);
		cJSON_Delete(o);
		return -EPERM;
	}
	drv = cJSON_GetObjectItemCaseSensitive(o, "Driver");
	opts = cJSON_GetObjectItemCaseSensitive(o, "Options");
	if (!cJSON_IsString(drv) || strcmp(drv->valuestring, "local") ||
	    (opts && !cJSON_IsNull(opts) && opts->child)) {
		snprintf(why, whylen,
			 "refused by egress-fence's Docker endpoint: volume %s has a driver or "
			 "driver options (it may bind any host path)", name);
		ret = -EPERM;
	}
	cJSON_Delete(o);
	return ret;
}

static bool registry_ok(void *arg, const char *host, unsigned port)
{
	struct conn *c = arg;
	const struct ef_ports *v;
	uint8_t reason;
	uint32_t rule;

	if (!c->pol->names)
		return false;
	v = ef_name_lookup(c->pol->names, host, NULL);
	return v && ef_judge_ports(v, (uint16_t)port, EF_PROTO_TCP, &reason, &rule) == 1;
}

static bool under(const char *p, const char *dir)
{
	size_t n = strlen(dir);

	if (!n || (n == 1 && dir[0] == '/'))
		return false;
	return !strncmp(p, dir, n) && (p[n] == '\0' || p[n] == '/');
}

static int bind_source(void *arg, const char *src, char *out, size_t outlen, char *why,
		       size_t whylen)
{
	struct conn *c = arg;
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC,
		.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	char real[PATH_MAX], fdp[64], dir[EF_PATH_MAX + 64];
	bool ok = false;
	struct stat st;
	int fd, tree = -1, ret = -EPERM;
	ssize_t n;
	unsigned k;

	fd = (int)syscall(SYS_openat2, AT_FDCWD, src, &how, sizeof(how));
	if (fd < 0) {
		snprintf(why, whylen, "%s", errno == ELOOP ? "a symbolic link on the path" :
					    errno == ENOENT ? "no such file or directory (make it "
							      "first)" : strerror(errno));
		return -EPERM;
	}
	snprintf(fdp, sizeof(fdp), "/proc/self/fd/%d", fd);
	n = readlink(fdp, real, sizeof(real) - 1);
	if (n <= 0 || fstat(fd, &st)) {
		snprintf(why, whylen, "cannot be read");
		goto out;
	}
	real[n] = '\0';
	if (c->workdir[0] && under(real, c->workdir))
		ok = true;
	for (size_t i = 0; !ok && i < c->n_binds; i++)
		ok = under(real, c->binds[i]);
	if (!ok) {
		snprintf(why, whylen, "outside the job's working directory%s%s and the policy's "
			 "\"docker.binds\"", c->workdir[0] ? " " : "", c->workdir);
		goto out;
	}
	if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "neither a directory nor a file");
		goto out;
	}
	/* the very file or directory judged, where the job cannot swap it */
	snprintf(dir, sizeof(dir), "%s/docker/%s", dk.run_dir, c->job);
	if (ef_mkdir_p(dir, 0700)) {
		snprintf(why, whylen, "%s: %s", dir, strerror(errno));
		goto out;
	}
	k = atomic_fetch_add(&dk.mounts, 1);
	if ((size_t)snprintf(out, outlen, "%s/%u", dir, k) >= outlen)
		goto out;
	if (S_ISDIR(st.st_mode) ? mkdir(out, 0700) && errno != EEXIST :
				  (ret = open(out, O_CREAT | O_WRONLY | O_CLOEXEC, 0600)) < 0 ||
					  close(ret)) {
		ret = -EPERM;
		snprintf(why, whylen, "%s: %s", out, strerror(errno));
		goto out;
	}
	ret = -EPERM;
	tree = (int)syscall(SYS_open_tree, fd, "",
			    OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
	if (tree < 0 || syscall(SYS_move_mount, tree, "", AT_FDCWD, out, MOVE_MOUNT_F_EMPTY_PATH)) {
		snprintf(why, whylen, "cannot be bound in place: %s", strerror(errno));
		goto out;
	}
	ret = 0;
out:
	if (tree >= 0)
		close(tree);
	close(fd);
	return ret;
}

/* ---- the request ---- */

struct head {
	char *method, *target, *proto;
	int n;
	char *name[HEADERS_MAX], *value[HEADERS_MAX];
	long long clen; /* -1: none */
	bool chunked, upgrade;
};

static bool token_char(int ch)
{
	return ch > 0x20 && ch < 0x7f && !strchr("()<>@,;:\\\"/[]?={}", ch);
}

/* Parses c->rbuf[0..hlen) (the head, "\r\n\r\n" included) in place. */
static int parse_head(char *buf, size_t hlen, struct head *h, char *why, size_t whylen)
{
	char *line = buf, *end = buf + hlen - 2, *eol;

	memset(h, 0, sizeof(*h));
	h->clen = -1;
	for (size_t i = 0; i < hlen; i++)
		if (buf[i] == '\0' || (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r')))
			return snprintf(why, whylen, "malformed request head"), -EINVAL;
	eol = strstr(line, "\r\n");
	*eol = '\0';
	h->method = strsep(&line, " ");
	h->target = strsep(&line, " ");
	h->proto = line;
	if (!h->method || !h->target || !h->proto || !*h->method ||
	    (strcmp(h->proto, "HTTP/1.1") && strcmp(h->proto, "HTTP/1.0")) || strlen(h->method) > 10)
		return snprintf(why, whylen, "malformed request line"), -EINVAL;
	for (char *m = h->method; *m; m++)
		if (*m < 'A' || *m > 'Z')
			return snprintf(why, whylen, "malformed request method"), -EINVAL;
	for (line = eol + 2; line < end; line = eol + 2) {
		char *colon, *v, *ve;

		eol = strstr(line, "\r\n");
		*eol = '\0';
		colon = strchr(line, ':');
		if (!colon || colon == line)
			return snprintf(why, whylen, "malformed header line"), -EINVAL;
		for (char *k = line; k < colon; k++)
			if (!token_char((unsigned char)*k))
				return snprintf(why, whylen, "malformed header name"), -EINVAL;
		*colon = '\0';
		v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		ve = v + strlen(v);
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			*--ve = '\0';
		for (char *k = v; *k; k++)
			if ((unsigned char)*k < 0x20 && *k != '\t')
				return snprintf(why, whylen, "control character in a header"), -EINVAL;
		if (h->n >= HEADERS_MAX)
			return snprintf(why, whylen, "too many headers"), -EINVAL;
		if (!strcasecmp(line, "Content-Length")) {
			char *e;

			if (h->clen >= 0 || !*v || strspn(v, "0123456789") != strlen(v) ||
			    strlen(v) > 15)
				return snprintf(why, whylen, "malformed Content-Length"), -EINVAL;
			h->clen = strtoll(v, &e, 10);
			continue;
		}
		if (!strcasecmp(line, "Transfer-Encoding")) {
			if (h->chunked || strcasecmp(v, "chunked"))
				return snprintf(why, whylen, "Transfer-Encoding other than chunked"),
				       -EINVAL;
			h->chunked = true;
			continue;
		}
		if (!strcasecmp(line, "Upgrade")) {
			h->upgrade = !strcasecmp(v, "tcp") || !strcasecmp(v, "h2c");
			continue;
		}
		if (!strcasecmp(line, "Connection") || !strcasecmp(line, "Keep-Alive") ||
		    !strcasecmp(line, "Host") || !strcasecmp(line, "TE") ||
		    !strcasecmp(line, "Trailer") || !strcasecmp(line, "Expect") ||
		    !strncasecmp(line, "Proxy-", 6))
			continue;
		h->name[h->n] = line;
		h->value[h->n] = v;
		h->n++;
	}
	if (h->chunked && h->clen >= 0)
		return snprintf(why, whylen, "both Content-Length and chunked"), -EINVAL;
	return 0;
}

/* The head of c->rbuf: its length with the blank line, or 0 if more is
 * needed, -EINVAL past HEAD_MAX, -EIO on EOF or error. */
static ssize_t read_head(struct conn *c)
{
	uint64_t deadline = ef_now_boot_ns() + HEAD_NS;

	for (;;) {
		char *e = c->rlen >= 4 ? memmem(c->rbuf, c->rlen, "\r\n\r\n", 4) : NULL;
		ssize_t n;

		if (e)
			return e + 4 - c->rbuf;
		if (c->rlen >= sizeof(c->rbuf) - 1)
			return -EINVAL;
		/* a head sent a byte at a time holds a thread no longer */
		if (ef_now_boot_ns() > deadline)
			return -EIO;
		n = read_some(c->fd, c->rbuf + c->rlen, sizeof(c->rbuf) - 1 - c->rlen);
		if (n <= 0)
			return -EIO;
		c->rlen += (size_t)n;
	}
}

/* Buffered body reader over what follows the head in rbuf, then the fd. */
struct body {
	struct conn *c;
	size_t off; /* in rbuf */
	/* chunked state */
	bool chunked, done;
	unsigned long long left; /* of the current chunk, or of Content-Length */
};

static ssize_t body_raw(struct body *b, char *out, size_t len)
{
	struct conn *c = b->c;

	if (b->off < c->rlen) {
		size_t n = c->rlen - b->off < len ? c->rlen - b->off : len;

		memcpy(out, c->rbuf + b->off, n);
		b->off += n;
		return (ssize_t)n;
	}
	return read_some(c->fd, out, len);
}

static int body_byte(struct body *b)
{
	char ch;
	ssize_t n = body_raw(b, &ch, 1);

	return n == 1 ? (unsigned char)ch : -1;
}

/* Up to len bytes of the decoded body: >0, 0 at its end, <0 malformed or
 * lost. */
static ssize_t body_read(struct body *b, char *out, size_t len)
{
	ssize_t n;

	if (b->done)
		return 0;
	if (b->chunked && b->left == 0) {
		unsigned long long v = 0;
		int ch, digits = 0;

		while ((ch = body_byte(b)) >= 0 && ch != '\r' && ch != ';') {
			int h = ch >= '0' && ch <= '9' ? ch - '0' :
				(ch | 0x20) >= 'a' && (ch | 0x20) <= 'f' ? (ch | 0x20) - 'a' + 10 : -1;

			if (h < 0 || ++digits > 12)
				return -EINVAL;
			v = v * 16 + (unsigned)h;
		}
		while (ch >= 0 && ch != '\r') /* a chunk extension: skipped */
			ch = body_byte(b);
		if (ch != '\r' || body_byte(b) != '\n' || !digits)
			return -EINVAL;
		if (v == 0) {
			/* no trailers taken: the blank line */
			if (body_byte(b) != '\r' || body_byte(b) != '\n')
				return -EINVAL;
			b->done = true;
			return 0;
		}
		b->left = v;
	}
	if (!b->chunked && b->left == 0) {
		b->done = true;
		return 0;
	}
	if (len > b->left)
		len = (size_t)b->left;
	n = body_raw(b, out, len);
	if (n <= 0)
		return -EIO;
	b->left -= (unsigned long long)n;
	if (b->chunked && b->left == 0 && (body_byte(b) != '\r' || body_byte(b) != '\n'))
		return -EINVAL;
	return n;
}

static int body_all(struct body *b, char **out, size_t *len)
{
	size_t cap = 0;
	char *buf = NULL;

	*len = 0;
	for (;;) {
		ssize_t n;

		if (*len + 4096 > cap) {
			char *nb;

			if (cap > EF_DK_BODY_MAX) {
				free(buf);
				return -E2BIG;
			}
			cap = cap ? cap * 2 : 8192;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
		}
		n = body_read(b, buf + *len, cap - *len);
		if (n < 0) {
			free(buf);
			return (int)n;
		}
		if (n == 0)
			break;
		*len += (size_t)n;
	}
	if (!buf && !(buf = malloc(1)))
		return -ENOMEM;
	buf[*len] = '\0';
	*out = buf;
	return 0;
}

/* GET /containers/json: the job's own only, whatever filters it asks */
static int list_query(struct conn *c, char *q, size_t qlen, char *why, size_t whylen)
{
	char f[4096], enc[8192], lab[EF_JOB_ID_MAX + 64], rest[EF_DK_TARGET_MAX] = "";
	cJSON *o, *l;
	char *s;
	int got = ef_dk_query_get(q, "filters", f, sizeof(f));

	if (got < 0)
		return snprintf(why, whylen, "malformed filters"), -EINVAL;
	o = got ? cJSON_Parse(f) : cJSON_CreateObject();
	if (!cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return snprintf(why, whylen, "malformed filters"), -EINVAL;
	}
	snprintf(lab, sizeof(lab), "%s=%s", EF_DK_LABEL, c->job);
	/* dockerd reads the filters into a map: the last of repeated keys */
	for (cJSON *a = o->child; a; a = a->next)
		for (cJSON *b2 = a->next; b2; b2 = b2->next)
			if (!strcmp(a->string, b2->string)) {
				cJSON_Delete(o);
				return snprintf(why, whylen, "filters: \"%.40s\" given twice",
						a->string), -EINVAL;
			}
	/* "label" anew: the job's terms (strings, as an array or the old
	 * object form) and the job's own label */
	l = cJSON_DetachItemFromObjectCaseSensitive(o, "label");
	{
		cJSON *nl = cJSON_AddArrayToObject(o, "label"), *t;

		if (!nl) {
			cJSON_Delete(l);
			cJSON_Delete(o);
			return -ENOMEM;
		}
		for (t = (cJSON_IsArray(l) || cJSON_IsObject(l)) ? l->child : NULL; t; t = t->next) {
			const char *v = cJSON_IsObject(l) ? t->string :
					cJSON_IsString(t) ? t->valuestring : NULL;

			if (v)
				cJSON_AddItemToArray(nl, cJSON_CreateString(v));
		}
		cJSON_AddItemToArray(nl, cJSON_CreateString(lab));
		cJSON_Delete(l);
	}
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!s)
		return -ENOMEM;
	ef_dk_query_escape(s, enc, sizeof(enc));
	free(s);
	/* the other parameters as they were */
	for (char *p = q, *amp; p && *p; p = amp ? amp + 1 : NULL) {
		amp = strchr(p, '&');
		if (!strncmp(p, "filters=", 8) || !strncmp(p, "filters&", 8) ||
		    (!strcmp(p, "filters")))
			continue;
		snprintf(rest + strlen(rest), sizeof(rest) - strlen(rest), "%.*s&",
			 (int)(amp ? amp - p : (long)strlen(p)), p);
	}
	snprintf(q, qlen, "%sfilters=%s", rest, enc);
	return 0;
}

static int judge_image(struct conn *c, const char *ref, const char *what, char *why,
		       size_t whylen)
{
	char host[256];
	unsigned port;

	if (ef_dk_registry(ref, host, sizeof(host), &port))
		return snprintf(why, whylen, "malformed image reference"), -EINVAL;
	if (!registry_ok(c, host, port))
		return snprintf(why, whylen,
				"refused by egress-fence's Docker endpoint: %s %s: dockerd would "
				"reach %s:%u, which the job's policy (%s) does not allow",
				what, ref, host, port, c->pol->pol->name), -EPERM;
	return 0;
}

/* The container a start names: once its first process (runc's init,
 * before it runs the container's command) is in the job's cgroup and a
 * network namespace of its own, the container's cgroup is frozen until the
 * main loop has opened the job's DNS proxy there and thaws it: the
 * container's first query finds the proxy. A second at most: then the
 * thread thaws it itself. */
struct watch {
	bool on, told, frozen;
	char cg[EF_PATH_MAX + 80];
	char procs[EF_PATH_MAX + 96];
	uint64_t until_ns, frozen_ns;
};

static void watch_poll(struct conn *c, struct watch *w)
{
	char *buf = NULL, p[64];
	struct stat st;
	struct msg m = { .type = MSG_NETNS };

	if (w->frozen && ef_now_boot_ns() - w->frozen_ns > 1000000000ull) {
		ef_cgroup_freeze(w->cg, false);
		w->frozen = false;
	}
	if (!w->on || w->told)
		return;
	if (ef_now_boot_ns() > w->until_ns) {
		w->on = false;
		return;
	}
	if (ef_read_file(w->procs, 4096, &buf, NULL))
		return;
	for (char *t = strtok(buf, "\n"); t; t = strtok(NULL, "\n")) {
		pid_t pid = atoi(t);

		snprintf(p, sizeof(p), "/proc/%d/ns/net", pid);
		if (pid > 0 && !stat(p, &st) && st.st_ino != dk.host_netns) {
			w->frozen = ef_cgroup_freeze(w->cg, true) == 0;
			w->frozen_ns = ef_now_boot_ns();
			m.pid = pid;
			snprintf(m.id, sizeof(m.id), "%s", w->frozen ? strrchr(w->cg, '/') + 1 : "");
			snprintf(m.job, sizeof(m.job), "%s", c->job);
			post(&m);
			w->told = true;
			break;
		}
	}
	free(buf);
}

/* Copies dockerd's answer to the job until dockerd is done. The job's
 * further bytes go to dockerd only once dockerd has answered a hijack
 * request (attach, exec start) with 101: the connection is a raw stream
 * then, read by the container. Before that, or for any other answer (an
 * exec started detached answers 200 and dockerd reads on), they are held,
 * then dropped: a request behind the first never reaches dockerd.
 * `pend` (len `npend`): the job's bytes that came with its request. */
static void relay(struct conn *c, int up, bool hijack, struct watch *w, int *status,
		  const char *pend0, size_t npend0)
{
	struct pollfd p[2] = { { .fd = c->fd, .events = POLLIN }, { .fd = up, .events = POLLIN } };
	char buf[65536], line[64], *pend = NULL;
	size_t npend = 0, nline = 0;
	bool cl_eof = false, known = false, upgraded = false;

	if (hijack && npend0) {
		pend = malloc(npend0);
		if (!pend)
			return;
		memcpy(pend, pend0, npend0);
		npend = npend0;
	}
	for (;;) {
		int timeout = w && ((w->on && !w->told) || w->frozen) ? 1 : -1;
		int r;

		/* after the job's half-close its end is still watched for a
		 * hang-up: a job gone ends dockerd's stream (logs -f); held
		 * bytes past 64 KiB: the job waits for dockerd's answer */
		p[0].events = cl_eof || (hijack && !upgraded && npend >= 65536) ? 0 : POLLIN;
		r = poll(p, 2, timeout);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		if (w)
			watch_poll(c, w);
		if (p[1].revents) {
			ssize_t n = read(up, buf, sizeof(buf));

			if (n <= 0)
				break;
			/* the status line of dockerd's answer */
			for (ssize_t i = 0; !known && i < n; i++) {
				if (nline < sizeof(line) - 1)
					line[nline++] = buf[i];
				if (buf[i] == '\n' || nline == sizeof(line) - 1) {
					int s = 0;

					line[nline] = '\0';
					known = true;
					if (sscanf(line, "HTTP/1.%*d %d", &s) == 1 && status)
						*status = s;
					upgraded = hijack && s == 101;
					if (hijack && !upgraded) {
						/* an answer, not a stream: dockerd would
						 * read a next request on this connection
						 * (it was asked for an upgrade, not a
						 * close); its end of it is closed, so it
						 * closes once the answer is out */
						hijack = false;
						free(pend);
						pend = NULL;
						npend = 0;
						shutdown(up, SHUT_WR);
					}
				}
			}
			if (write_all(c->fd, buf, (size_t)n))
				break;
			if (upgraded && npend) {
				if (write_all(up, pend, npend))
					break;
				free(pend);
				pend = NULL;
				npend = 0;
				if (cl_eof)
					shutdown(up, SHUT_WR);
			}
		}
		if (cl_eof && (p[0].revents & (POLLHUP | POLLERR)))
			break; /* gone: dockerd's stream ends with it */
		if (!cl_eof && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t n = read(c->fd, buf, sizeof(buf));

			if (n <= 0) {
				if (p[0].revents & (POLLHUP | POLLERR))
					break;
				cl_eof = true; /* half-closed: the answer still goes */
				if (upgraded)
					shutdown(up, SHUT_WR);
			} else if (upgraded) {
				if (write_all(up, buf, (size_t)n))
					break;
			} else if (hijack) {
				char *np = realloc(pend, npend + (size_t)n);

				if (!np)
					break;
				pend = np;
				memcpy(pend + npend, buf, (size_t)n);
				npend += (size_t)n;
			}
		}
	}
	free(pend);
}

static void serve(struct conn *c)
{
	char why[1024], target[EF_DK_TARGET_MAX + EF_DK_REF_MAX + 80], id[65];
	char *out = NULL, *body = NULL, *hdr = NULL;
	struct watch w = { 0 };
	struct body b = { .c = c };
	struct head h;
	size_t blen = 0, hcap, hl;
	ssize_t hlen;
	int up = -1, ret, status = 0, code = 403;
	bool judged_body;

	hlen = read_head(c);
	if (hlen < 0) {
		if (hlen == -EINVAL)
			reply_error(c->fd, 400, "request head too long");
		return;
	}
	ret = parse_head(c->rbuf, (size_t)hlen, &h, why, sizeof(why));
	snprintf(c->method, sizeof(c->method), "%s", ret ? "?" : h.method);
	if (ret) {
		code = 400;
		goto refuse_plain;
	}
	b.off = (size_t)hlen;
	b.chunked = h.chunked;
	b.left = h.chunked ? 0 : (h.clen > 0 ? (unsigned long long)h.clen : 0);
	ret = ef_dk_route(h.method, h.target, &c->req, why, sizeof(why));
	if (ret) {
		code = ret == -EINVAL ? 400 : 403;
		goto refuse;
	}
	/* a form body is read by dockerd as query parameters, over the query
	 * judged here (Go's Request.Form) */
	for (int i = 0; i < h.n; i++)
		if (!strcasecmp(h.name[i], "Content-Type") && strcasestr(h.value[i], "form")) {
			snprintf(why, sizeof(why), "refused by egress-fence's Docker endpoint: a "
				 "form body (%.80s)", h.value[i]);
			code = 400;
			goto refuse;
		}
	/* the target dockerd gets: the query as judged (ef_dk_route wrote it
	 * anew), the job's own ids in place of its names */
	snprintf(target, sizeof(target), "%s%s%s%s", c->req.version, c->req.path,
		 c->req.query[0] ? "?" : "", c->req.query);
	switch (c->req.route) {
	case EF_DK_CONTAINER:
	case EF_DK_EXEC_CREATE:
	case EF_DK_UPDATE:
		ret = own_container(c, c->req.ref, id);
		if (ret) {
			snprintf(why, sizeof(why),
				 ret == -EIO ? "dockerd did not answer" :
				 "refused by egress-fence's Docker endpoint: container %s is not "
				 "one of this job's", c->req.ref);
			code = ret == -EIO ? 502 : 404;
			goto refuse;
		}
		snprintf(target, sizeof(target), "%s/containers/%s%s", c->req.version, id,
			 c->req.rest);
		if (c->req.start) {
			/* named on the spans of its first decisions */
			struct msg m = { .type = MSG_STARTED };

			snprintf(m.job, sizeof(m.job), "%s", c->job);
			memcpy(m.id, id, sizeof(m.id));
			memcpy(m.name, c->name, sizeof(m.name));
			memcpy(m.image, c->image, sizeof(m.image));
			post(&m);
			w.on = true;
			w.until_ns = ef_now_boot_ns() + 5000000000ull;
			snprintf(w.cg, sizeof(w.cg), "%s/%s", c->cgroup_abs, id);
			snprintf(w.procs, sizeof(w.procs), "%s/cgroup.procs", w.cg);
		}
		break;
	case EF_DK_EXEC: {
		const cJSON *ci;
		cJSON *o;
		int st;

		ret = -ENOENT;
		if (ref_plain(c->req.ref) && (o = up_json("/exec/%s/json", c->req.ref, &st))) {
			ci = cJSON_GetObjectItemCaseSensitive(o, "ContainerID");
			if (cJSON_IsString(ci))
				ret = own_container(c, ci->valuestring, id);
			cJSON_Delete(o);
		}
		if (ret) {
			snprintf(why, sizeof(why), "refused by egress-fence's Docker endpoint: exec %s "
				 "is not of this job's containers", c->req.ref);
			code = 404;
			goto refuse;
		}
		break;
	}
	case EF_DK_LIST: {
		char q[EF_DK_TARGET_MAX];

		snprintf(q, sizeof(q), "%s", c->req.query);
		if (list_query(c, q, sizeof(q), why, sizeof(why))) {
			code = 400;
			goto refuse;
		}
		snprintf(target, sizeof(target), "%s%s?%s", c->req.version, c->req.path, q);
		break;
	}
	case EF_DK_PULL: {
		char img[1024], src[1024];
		int g = ef_dk_query_get(c->req.query, "fromImage", img, sizeof(img));
		int s = ef_dk_query_get(c->req.query, "fromSrc", src, sizeof(src));

		if (g < 0 || s < 0 || (g == 0 && s == 0)) {
			snprintf(why, sizeof(why), "malformed image create");
			code = 400;
			goto refuse;
		}
		if (s) {
			snprintf(why, sizeof(why), "refused by egress-fence's Docker endpoint: "
				 "docker import (from a URL dockerd would fetch it outside the "
				 "fence; a tarball would take over an image name every job shares)");
			goto refuse;
		}
		if (g && (ret = judge_image(c, img, "pulling", why, sizeof(why)))) {
			code = ret == -EINVAL ? 400 : 403;
			goto refuse;
		}
		break;
	}
	case EF_DK_PUSH:
		ret = judge_image(c, c->req.ref, strstr(c->req.path, "/push") ? "pushing" :
						 "looking up", why, sizeof(why));
		if (ret) {
			code = ret == -EINVAL ? 400 : 403;
			goto refuse;
		}
		break;
	case EF_DK_NET_OWN:
	case EF_DK_VOL_OWN: {
		cJSON *o;
		int st;

		o = ref_plain(c->req.ref) ?
			    up_json(c->req.route == EF_DK_NET_OWN ? "/networks/%s" : "/volumes/%s",
				    c->req.ref, &st) : NULL;
		ret = o && labelled(cJSON_GetObjectItemCaseSensitive(o, "Labels"), c->job) ? 0 : -1;
		cJSON_Delete(o);
		if (ret) {
			snprintf(why, sizeof(why), "refused by egress-fence's Docker endpoint: %s %s "
				 "is not one of this job's", c->req.route == EF_DK_NET_OWN ?
				 "network" : "volume", c->req.ref);
			goto refuse;
		}
		break;
	}
	case EF_DK_PASS:
		if (!strcmp(c->req.path, "/commit")) {
			char ref[EF_DK_REF_MAX], v[8];

			if (ef_dk_query_get(c->req.query, "container", ref, sizeof(ref)) != 1 ||
			    own_container(c, ref, id)) {
				snprintf(why, sizeof(why), "refused by egress-fence's Docker endpoint: "
					 "commit of a container not of this job's");
				goto refuse;
			}
			if (ef_dk_query_get(c->req.query, "repo", v, sizeof(v)) != 0 ||
			    ef_dk_query_get(c->req.query, "tag", v, sizeof(v)) != 0 ||
			    strcasestr(c->req.query, "egress-fence")) {
				snprintf(why, sizeof(why), "refused by egress-fence's Docker endpoint: "
					 "commit to a name (image names are shared by every job on "
					 "the host), or with egress-fence's label");
				goto refuse;
			}
			c->req.route = EF_DK_COMMIT; /* its body judged below */
			snprintf(target, sizeof(target), "%s/commit?%s", c->req.version, c->req.query);
			{
				/* the container by its id */
				char *p = strstr(target, "?container="), rest[EF_DK_TARGET_MAX];

				if (!p)
					p = strstr(target, "&container=");
				if (p)
					p++;

				if (p) {
					char *amp = strchr(p, '&');

					snprintf(rest, sizeof(rest), "%s", amp ? amp : "");
					snprintf(p, sizeof(target) - (size_t)(p - target), "container=%s%s",
						 id, rest);
				}
			}
		}
		break;
	case EF_DK_NET_CONNECT:
		ret = strcmp(c->req.ref, "bridge") ? network_ok(c, c->req.ref, why, sizeof(why)) : 0;
		if (ret)
			goto refuse;
		break;
	default:
		break;
	}
	judged_body = c->req.route == EF_DK_CREATE || c->req.route == EF_DK_EXEC_CREATE ||
		      c->req.route == EF_DK_UPDATE || c->req.route == EF_DK_NET_CREATE ||
		      c->req.route == EF_DK_NET_CONNECT || c->req.route == EF_DK_VOL_CREATE ||
		      c->req.route == EF_DK_AUTH ||
		      (c->req.route == EF_DK_COMMIT && (h.clen > 0 || h.chunked));
	/* a body only where one is taken and judged or harmless: a start's
	 * would carry a HostConfig past the create's judgement */
	if (!judged_body && (h.clen > 0 || h.chunked) &&
	    !(c->req.route == EF_DK_CONTAINER && !strcmp(h.method, "PUT")) &&
	    c->req.route != EF_DK_EXEC) {
		snprintf(why, sizeof(why), "refused by egress-fence's Docker endpoint: a request "
			 "body where %s %s takes none", h.method, c->req.path);
		code = 400;
		goto refuse;
	}
	if (judged_body) {
		struct ef_dk_ctx x = {
			.job_id = c->job, .cgroup_parent = c->cgroup_rel, .arg = c,
			.own_container = own_container, .bind_source = bind_source,
			.network_ok = network_ok, .volume_ok = volume_ok, .registry_ok = registry_ok,
		};

		ret = body_all(&b, &body, &blen);
		if (ret) {
			snprintf(why, sizeof(why), ret == -E2BIG ? "request body too large" :
				 "malformed request body");
			code = 400;
			goto refuse;
		}
		ret = ef_dk_check_body(&x, &c->req, body, blen, &out, why, sizeof(why));
		if (ret) {
			code = ret == -EPERM ? 403 : ret == -ENOMEM ? 500 : 400;
			goto refuse;
		}
	}
	up = up_connect();
	if (up < 0) {
		reply_error(c->fd, 502, "egress-fence: dockerd does not answer at its socket");
		goto done;
	}
	/* the head anew */
	hcap = 1024 + strlen(target);
	for (int i = 0; i < h.n; i++)
		hcap += strlen(h.name[i]) + strlen(h.value[i]) + 4;
	hdr = malloc(hcap);
	if (!hdr)
		goto done;
	hl = (size_t)snprintf(hdr, hcap, "%s %s HTTP/1.1\r\nHost: docker\r\n", h.method, target);
	for (int i = 0; i < h.n; i++)
		hl += (size_t)snprintf(hdr + hl, hcap - hl, "%s: %s\r\n", h.name[i], h.value[i]);
	if (c->req.hijack && h.upgrade)
		hl += (size_t)snprintf(hdr + hl, hcap - hl, "Connection: Upgrade\r\nUpgrade: tcp\r\n");
	else
		hl += (size_t)snprintf(hdr + hl, hcap - hl, "Connection: close\r\n");
	if (judged_body)
		hl += (size_t)snprintf(hdr + hl, hcap - hl, "Content-Length: %zu\r\n\r\n",
				       strlen(out));
	else if (h.chunked)
		hl += (size_t)snprintf(hdr + hl, hcap - hl, "Transfer-Encoding: chunked\r\n\r\n");
	else
		hl += (size_t)snprintf(hdr + hl, hcap - hl, "Content-Length: %lld\r\n\r\n",
				       h.clen > 0 ? h.clen : 0);
	if (write_all(up, hdr, hl))
		goto done;
	if (judged_body) {
		if (write_all(up, out, strlen(out)))
			goto done;
	} else {
		char buf[65536], cl[32];

		for (;;) {
			ssize_t n = body_read(&b, buf, sizeof(buf));

			if (n < 0)
				goto done;
			if (n == 0)
				break;
			if (h.chunked) {
				int k = snprintf(cl, sizeof(cl), "%zx\r\n", (size_t)n);

				if (write_all(up, cl, (size_t)k) || write_all(up, buf, (size_t)n) ||
				    write_all(up, "\r\n", 2))
					goto done;
			} else if (write_all(up, buf, (size_t)n)) {
				goto done;
			}
		}
		if (h.chunked && write_all(up, "0\r\n\r\n", 5))
			goto done;
	}
	/* a hijacked stream's first bytes may have come with the head: held
	 * until dockerd has upgraded the connection */
	relay(c, up, c->req.hijack && h.upgrade, w.on ? &w : NULL, &status,
	      b.off < c->rlen ? c->rbuf + b.off : NULL, b.off < c->rlen ? c->rlen - b.off : 0);
	if (w.frozen)
		ef_cgroup_freeze(w.cg, false);
	goto done;
refuse:
	post_tamper(c, h.target, why);
refuse_plain:
	reply_error(c->fd, code, why);
done:
	free(hdr);
	free(body);
	free(out);
	if (up >= 0)
		close(up);
}

static void *thread_main(void *arg)
{
	struct conn *c = arg;
	struct msg m = { .type = MSG_DONE };

	serve(c);
	/* the job may have sent more: a close with unread data resets, and
	 * the answer would be lost */
	shutdown(c->fd, SHUT_WR);
	{
		char buf[4096];
		struct pollfd p = { .fd = c->fd, .events = POLLIN };

		for (int i = 0; i < 64 && poll(&p, 1, 2000) > 0 && read(c->fd, buf, sizeof(buf)) > 0; i++)
			;
	}
	close(c->fd);
	m.pol = c->pol;
	snprintf(m.job, sizeof(m.job), "%s", c->job);
	snprintf(m.detail, sizeof(m.detail), "%s", c->cgroup_rel);
	post(&m);
	for (size_t i = 0; i < c->n_binds; i++)
		free(c->binds[i]);
	free(c->binds);
	free(c);
	atomic_fetch_sub(&dk.conns, 1);
	return NULL;
}

/* ---- the main loop's side ---- */

int ef_docker_config(struct ef_daemon *d, const cJSON *v, const char *where)
{
	static const char *const known[] = { "socket", NULL };
	const cJSON *s;

	snprintf(dk.upstream, sizeof(dk.upstream), "/run/docker.sock");
	if (!v)
		return 0;
	if (!cJSON_IsObject(v)) {
		log_err("%s: \"docker\" must be an object", where);
		return -EINVAL;
	}
	if (ef_json_known_keys(v, known, "docker.", where))
		return -EINVAL;
	s = cJSON_GetObjectItemCaseSensitive(v, "socket");
	if (s && (!cJSON_IsString(s) || s->valuestring[0] != '/' ||
		  strlen(s->valuestring) >= sizeof(((struct sockaddr_un *)0)->sun_path))) {
		log_err("%s: \"docker.socket\" must be an absolute path of under 108 bytes", where);
		return -EINVAL;
	}
	if (s)
		snprintf(dk.upstream, sizeof(dk.upstream), "%s", s->valuestring);
	return 0;
}

int ef_docker_setup(struct ef_daemon *d)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &dk };
	struct stat st;

	snprintf(dk.run_dir, sizeof(dk.run_dir), "%s", d->run_dir);
	if (!dk.upstream[0])
		snprintf(dk.upstream, sizeof(dk.upstream), "/run/docker.sock");
	if (!stat("/proc/self/ns/net", &st))
		dk.host_netns = st.st_ino;
	if (pipe2(dk.pipe, O_CLOEXEC | O_NONBLOCK))
		return -errno;
	/* the threads' end blocks: a report waits for room, never is lost */
	fcntl(dk.pipe[1], F_SETFL, 0);
	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, dk.pipe[0], &ev))
		return -errno;
	return 0;
}

void ef_docker_close(struct ef_daemon *d)
{
	/* threads still serving hold the write end: they finish on their own
	 * (egressd exits after this) */
	if (dk.pipe[0] >= 0) {
		epoll_ctl(d->epfd, EPOLL_CTL_DEL, dk.pipe[0], NULL);
	}
}

static struct ef_dk_job *dj_of(struct ef_job_rec *j);
static void reap(struct ef_daemon *d, const char *job, const char *cgroup_rel, bool stage);

int ef_docker_take(struct ef_daemon *d, struct ef_job_rec *j, const struct ef_peer *peer, int fd)
{
	const struct ef_policy *p = j->pol->pol;
	pthread_attr_t at;
	pthread_t th;
	struct conn *c;
	int flags;

	if (!(p->flags & EF_PF_DOCKER) || dk.pipe[1] < 0)
		return -EPERM;
	if (!dj_of(j) || j->docker->conns >= JOB_CONNS_MAX) {
		log_warn("job %s: Docker endpoint connection refused: %d of the job's already "
			 "served", j->id, JOB_CONNS_MAX);
		close(fd);
		return 0;
	}
	if (atomic_fetch_add(&dk.conns, 1) >= CONNS_MAX) {
		atomic_fetch_sub(&dk.conns, 1);
		log_warn("job %s: Docker endpoint connection refused: %d already served", j->id,
			 CONNS_MAX);
		close(fd);
		return 0;
	}
	j->docker->conns++;
	c = calloc(1, sizeof(*c));
	if (!c)
		goto fail;
	c->fd = fd;
	snprintf(c->job, sizeof(c->job), "%s", j->id);
	snprintf(c->cgroup_abs, sizeof(c->cgroup_abs), "%s", j->cgroup);
	snprintf(c->cgroup_rel, sizeof(c->cgroup_rel), "%s", j->cgroup + strlen(d->cgroup_mount));
	snprintf(c->workdir, sizeof(c->workdir), "%s", j->workdir ? j->workdir : "");
	c->pid = peer->pid;
	c->uid = peer->uid;
	c->gid = peer->gid;
	if (p->n_docker_binds) {
		c->binds = calloc(p->n_docker_binds, sizeof(char *));
		if (!c->binds)
			goto fail;
		for (; c->n_binds < p->n_docker_binds; c->n_binds++)
			if (!(c->binds[c->n_binds] = strdup(p->docker_binds[c->n_binds])))
				goto fail;
	}
	/* the thread's reads block */
	flags = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
	c->pol = j->pol;
	j->pol->refs++;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&at, 1u << 20);
	if (pthread_create(&th, &at, thread_main, c)) {
		pthread_attr_destroy(&at);
		ef_pol_put(d, j->pol);
		j->docker->conns--;
		goto fail;
	}
	pthread_attr_destroy(&at);
	return 0;
fail:
	if (c) {
		for (size_t i = 0; i < c->n_binds; i++)
			free(c->binds[i]);
		free(c->binds);
	}
	free(c);
	atomic_fetch_sub(&dk.conns, 1);
	close(fd);
	return 0;
}

static struct ef_dk_job *dj_of(struct ef_job_rec *j)
{
	if (!j->docker) {
		j->docker = calloc(1, sizeof(*j->docker));
		if (j->docker)
			j->docker->last_pid = 0;
	}
	return j->docker;
}

void ef_docker_io(struct ef_daemon *d)
{
	struct msg m;

	for (int i = 0; i < 64 && read(dk.pipe[0], &m, sizeof(m)) == (ssize_t)sizeof(m); i++) {
		struct ef_job_rec *j = ef_job_by_id(d, m.job);
		struct ef_dk_job *dj;

		m.job[sizeof(m.job) - 1] = '\0';
		m.detail[sizeof(m.detail) - 1] = '\0';
		switch (m.type) {
		case MSG_DONE:
			ef_pol_put(d, m.pol);
			if (j && j->docker && j->docker->conns > 0)
				j->docker->conns--;
			/* a request still in flight when the job ended may have made
			 * a container after the job's cleanup: cleaned again */
			if (!j)
				reap(d, m.job, m.detail, false);
			break;
		case MSG_TAMPER: {
			struct ef_peer peer = { .pid = m.pid, .uid = m.uid, .gid = m.gid, .pidfd = -1 };

			m.detail[sizeof(m.detail) - 1] = '\0';
			if (j)
				ef_tamper_user(d, j, &peer, true, EF_R_TAMPER_DOCKER, EF_TAMPER_DOCKER,
					       m.detail);
			break;
		}
		case MSG_NETNS:
			if (j)
				ef_dns_netns_open_pid(d, j, m.pid);
			/* the container was frozen for it (watch_poll()) */
			if (j && strlen(m.id) == 64 && strspn(m.id, "0123456789abcdef") == 64) {
				char cg[EF_PATH_MAX + 80];

				snprintf(cg, sizeof(cg), "%s/%s", j->cgroup, m.id);
				ef_cgroup_freeze(cg, false);
			}
			break;
		case MSG_SELF:
		case MSG_STARTED:
			if (!j || !(dj = dj_of(j)))
				break;
			if (m.type == MSG_SELF) {
				memcpy(dj->self_id, m.id, sizeof(m.id));
				dj->last_pid = 0;
			}
			for (int k = 0; k < dj->n; k++)
				if (!strcmp(dj->c[k].id, m.id))
					goto known;
			if (dj->n >= CONTAINERS_MAX) {
				dj->n_more++;
				break;
			}
			memcpy(dj->c[dj->n].id, m.id, sizeof(m.id));
			memcpy(dj->c[dj->n].name, m.name, sizeof(m.name));
			memcpy(dj->c[dj->n].image, m.image, sizeof(m.image));
			dj->n++;
			dj->last_pid = 0;
			log_info("job %s: container %s (%.12s, %s) started", j->id, m.name, m.id,
				 m.image);
known:
			break;
		}
	}
}

/* ---- the job's end ---- */

struct reap {
	char job[EF_JOB_ID_MAX + 1];
	char cgroup_rel[EF_PATH_MAX];
	char stage[EF_PATH_MAX + 96];
};

static void *reap_main(void *arg)
{
	struct reap *r = arg;
	char path[EF_DK_TARGET_MAX], f[256], enc[512], *body = NULL;
	cJSON *a, *e;
	int st;

	/* containers, with their anonymous volumes */
	snprintf(f, sizeof(f), "{\"label\":[\"%s=%s\"]}", EF_DK_LABEL, r->job);
	ef_dk_query_escape(f, enc, sizeof(enc));
	snprintf(path, sizeof(path), "/containers/json?all=1&filters=%s", enc);
	if (!up_request("GET", path, &st, &body) && st == 200 && (a = cJSON_Parse(body))) {
		cJSON_ArrayForEach(e, a) {
			const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "Id"), *cp;
			char *rb = NULL;
			cJSON *o;
			bool ours;

			if (!cJSON_IsString(id) || !ref_plain(id->valuestring))
				continue;
			/* the label may have come with an image: the cgroup parent
			 * only the endpoint sets */
			o = up_json("/containers/%s/json", id->valuestring, &st);
			cp = cJSON_GetObjectItemCaseSensitive(
				cJSON_GetObjectItemCaseSensitive(o, "HostConfig"), "CgroupParent");
			ours = cJSON_IsString(cp) && !strcmp(cp->valuestring, r->cgroup_rel);
			cJSON_Delete(o);
			if (!ours)
				continue;
			snprintf(path, sizeof(path), "/containers/%s?force=1&v=1", id->valuestring);
			if (!up_request("DELETE", path, &st, &rb))
				log_info("job %s: container %.12s removed (%d)", r->job,
					 id->valuestring, st);
			free(rb);
		}
		cJSON_Delete(a);
	}
	free(body);
	body = NULL;
	snprintf(path, sizeof(path), "/networks?filters=%s", enc);
	if (!up_request("GET", path, &st, &body) && st == 200 && (a = cJSON_Parse(body))) {
		cJSON_ArrayForEach(e, a) {
			const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "Id");
			char *rb = NULL;

			if (!cJSON_IsString(id) || !ref_plain(id->valuestring))
				continue;
			snprintf(path, sizeof(path), "/networks/%s", id->valuestring);
			up_request("DELETE", path, &st, &rb);
			free(rb);
		}
		cJSON_Delete(a);
	}
	free(body);
	/* the bind mounts */
	if (r->stage[0]) {
		DIR *dir = opendir(r->stage);
		struct dirent *de;

		while (dir && (de = readdir(dir))) {
			char p[EF_PATH_MAX + 400];

			if (de->d_name[0] == '.')
				continue;
			snprintf(p, sizeof(p), "%s/%s", r->stage, de->d_name);
			umount2(p, MNT_DETACH);
			if (rmdir(p) && errno == ENOTDIR)
				unlink(p);
		}
		if (dir)
			closedir(dir);
		rmdir(r->stage);
	}
	free(r);
	return NULL;
}

static void reap(struct ef_daemon *d, const char *job, const char *cgroup_rel, bool stage)
{
	struct reap *r = calloc(1, sizeof(*r));
	pthread_attr_t at;
	pthread_t th;

	if (!r)
		return;
	snprintf(r->job, sizeof(r->job), "%s", job);
	snprintf(r->cgroup_rel, sizeof(r->cgroup_rel), "%s", cgroup_rel);
	if (stage)
		snprintf(r->stage, sizeof(r->stage), "%s/docker/%s", d->run_dir, job);
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &at, reap_main, r))
		free(r);
	pthread_attr_destroy(&at);
}

/* Only the job's containers keep its cgroup populated: the job's own
 * processes are in no other part of it. */
static bool only_containers(const char *cg)
{
	char p[EF_PATH_MAX + 300], *buf = NULL;
	struct dirent *de;
	bool any = false, other = false;
	DIR *dir;

	snprintf(p, sizeof(p), "%s/cgroup.procs", cg);
	if (ef_read_file(p, 1 << 16, &buf, NULL) || buf[0]) {
		free(buf);
		return false;
	}
	free(buf);
	dir = opendir(cg);
	while (dir && (de = readdir(dir)) && !other) {
		size_t n = strlen(de->d_name);

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", cg, de->d_name);
		if (n == 64 && strspn(de->d_name, "0123456789abcdef") == 64)
			any = true;
		else if (ef_cgroup_populated(p) == 1)
			other = true;
	}
	if (dir)
		closedir(dir);
	return any && !other;
}

void ef_docker_tick(struct ef_daemon *d)
{
	for (struct ef_job_rec *j = d->jobs; j; j = j->next) {
		struct ef_dk_job *dj = j->docker;

		if (!(j->pol->pol->flags & EF_PF_DOCKER) && !dj)
			continue;
		if (dj && dj->reaping) {
			if (ef_now_boot_ns() - dj->reap_ns > REAP_KILL_NS) {
				log_warn("job %s: its containers outlived their removal; killed",
					 j->id);
				ef_cgroup_kill(j->cgroup);
				dj->reap_ns = ef_now_boot_ns();
			}
			continue;
		}
		if (!only_containers(j->cgroup) || !(dj = dj_of(j)))
			continue;
		log_info("job %s: its processes have ended; removing its containers", j->id);
		dj->reaping = true;
		dj->reap_ns = ef_now_boot_ns();
		reap(d, j->id, j->cgroup + strlen(d->cgroup_mount), false);
	}
}

void ef_docker_job_end(struct ef_daemon *d, struct ef_job_rec *j)
{
	if (!(j->pol->pol->flags & EF_PF_DOCKER) && !j->docker)
		return;
	reap(d, j->id, j->cgroup + strlen(d->cgroup_mount), true);
}

void ef_docker_job_free(struct ef_job_rec *j)
{
	free(j->docker);
	j->docker = NULL;
}

/* ---- spans ---- */

/* The container process pid is in (container.c: its id in the process's
 * cgroup path, dockerd's cgroupfs layout <parent>/<id>), else the one the
 * job itself was started in; the last process looked up is kept. */
static const char *container_of(struct ef_job_rec *j, pid_t pid, uint64_t start)
{
	struct ef_dk_job *dj = j->docker;

	if (dj->last_pid == pid && dj->last_start == start)
		return dj->last_id;
	if (!ef_container_of_pid(pid, dj->last_id))
		memcpy(dj->last_id, dj->self_id, sizeof(dj->self_id));
	dj->last_pid = pid;
	dj->last_start = start;
	return dj->last_id;
}

void ef_docker_span(struct ef_daemon *d, struct ef_span *s, const struct ef_job_rec *cj,
		    pid_t pid, uint64_t start_ns)
{
	struct ef_job_rec *j = (struct ef_job_rec *)cj;
	const char *id;

	if (!j || !j->docker || pid <= 0)
		return;
	id = container_of(j, pid, start_ns);
	if (!id[0])
		return;
	ef_span_str(s, "container.id", ef_span_strdup(s, id));
	for (int k = 0; k < j->docker->n; k++) {
		if (strcmp(j->docker->c[k].id, id))
			continue;
		if (j->docker->c[k].name[0])
			ef_span_str(s, "container.name", ef_span_strdup(s, j->docker->c[k].name));
		if (j->docker->c[k].image[0])
			ef_span_str(s, "container.image.name",
				    ef_span_strdup(s, j->docker->c[k].image));
		break;
	}
}

void ef_docker_job_span(struct ef_span *s, const struct ef_job_rec *j)
{
	char buf[4096];
	size_t o = 0;

	if (!j->docker || !j->docker->n)
		return;
	for (int k = 0; k < j->docker->n && o < sizeof(buf) - 1; k++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s (%.12s, %s)", k ? ", " : "",
				      j->docker->c[k].name, j->docker->c[k].id, j->docker->c[k].image);
	if (j->docker->n_more && o < sizeof(buf) - 1)
		snprintf(buf + o, sizeof(buf) - o, " and %d more", j->docker->n_more);
	ef_span_str(s, "egress.job.containers", ef_span_strdup(s, buf));
	ef_span_int(s, "egress.job.container_count", j->docker->n + j->docker->n_more);
}

/* ---- a job that runs inside a container (container.c) ---- */

const char *ef_docker_upstream(void)
{
	return dk.upstream;
}

struct self_ask {
	char job[EF_JOB_ID_MAX + 1];
	char id[65];
	pid_t pid;
};

/* the pid namespace of /proc/PID; 0 if gone */
static ino_t pidns_of(pid_t pid)
{
	char p[64];
	struct stat st;

	snprintf(p, sizeof(p), "/proc/%d/ns/pid", (int)pid);
	return stat(p, &st) ? 0 : st.st_ino;
}

/* dockerd's container of that id, if the job's first process is in its
 * pid namespace (a cgroup's name alone is anyone's to choose): the job's
 * own container from then on (MSG_SELF), with its name and image */
static void *self_main(void *arg)
{
	struct self_ask *a = arg;
	struct msg m = { .type = MSG_SELF };
	const cJSON *n, *img, *pid;
	ino_t want = pidns_of(a->pid);
	cJSON *o;
	int st;

	snprintf(m.job, sizeof(m.job), "%s", a->job);
	memcpy(m.id, a->id, sizeof(m.id));
	o = up_json("/containers/%s/json", a->id, &st);
	if (!o) {
		log_warn("job %s: started in a cgroup of container %.12s, which dockerd does not "
			 "know (HTTP %d): its decisions do not name it", a->job, a->id, st);
		goto out;
	}
	pid = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, "State"),
					       "Pid");
	if (!want || !cJSON_IsNumber(pid) || pid->valuedouble < 1 ||
	    pidns_of((pid_t)pid->valuedouble) != want) {
		log_warn("job %s: started in a cgroup of container %.12s, but not in its pid "
			 "namespace: its decisions do not name it", a->job, a->id);
		cJSON_Delete(o);
		goto out;
	}
	n = cJSON_GetObjectItemCaseSensitive(o, "Name");
	img = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, "Config"),
					       "Image");
	snprintf(m.name, sizeof(m.name), "%s",
		 cJSON_IsString(n) ? n->valuestring + (n->valuestring[0] == '/') : "");
	snprintf(m.image, sizeof(m.image), "%s", cJSON_IsString(img) ? img->valuestring : "");
	cJSON_Delete(o);
	post(&m);
out:
	free(a);
	return NULL;
}

void ef_docker_self(struct ef_daemon *d, struct ef_job_rec *j, const char *id, pid_t pid)
{
	struct ef_dk_job *dj = dj_of(j);
	struct self_ask *a;
	pthread_attr_t at;
	pthread_t th;

	(void)d;
	if (!dj)
		return;
	a = calloc(1, sizeof(*a));
	if (!a || dk.pipe[1] < 0) {
		free(a);
		return;
	}
	snprintf(a->job, sizeof(a->job), "%s", j->id);
	snprintf(a->id, sizeof(a->id), "%s", id);
	a->pid = pid;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&at, 1u << 20);
	if (pthread_create(&th, &at, self_main, a))
		free(a);
	pthread_attr_destroy(&at);
}
