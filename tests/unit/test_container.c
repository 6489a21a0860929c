// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A job started inside a container: which container a cgroup path names
 * (daemon/docker/container.c), and what `egressctl run` there refuses to find
 * bound in from the host (cli/container_reach.c), against mountinfo files
 * written here: a runtime socket bound at any path, or a directory above
 * it, refuses; the fence's files read-write refuse, read-only pass; other
 * devices, and the same device's other directories, pass.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "docker/container.h"
#include "../../cli/container_reach.h"

/* what daemon/docker/container.o needs of docker.c */
const char *ef_docker_upstream(void)
{
	return "/run/docker.sock";
}

static void test_container_of_cgroup(void **state)
{
	static const struct {
		const char *path;
		int found;
	} cases[] = {
		{ "/docker/%s", 1 },
		{ "/system.slice/docker-%s.scope", 1 },
		{ "/machine.slice/libpod-%s.scope/container", 1 },
		{ "/kubepods/besteffort/pod1/cri-containerd-%s.scope", 1 },
		{ "/kubepods.slice/crio-%s.scope", 1 },
		{ "/ef/job-x/%s\n", 1 },
		{ "/user.slice/user-1000.slice/session-2.scope", 0 },
		{ "/docker/%.63s", 0 },	     /* 63 hex */
		{ "/docker/%sa", 0 },	     /* 65 hex */
		{ "/docker/X%.63s", 0 },     /* not hex */
		{ "/podman-%s.scope", 0 },   /* no such prefix */
		{ "/", 0 },
		{ "", 0 },
	};
	const char *hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	char path[256], id[65];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(path, sizeof(path), cases[i].path, hex);
		assert_int_equal(ef_container_of_cgroup(path, id), cases[i].found);
		if (cases[i].found)
			assert_string_equal(id, hex);
		else
			assert_string_equal(id, "");
	}
	/* the innermost of two */
	snprintf(path, sizeof(path), "/docker/%s/inner/docker-%.60sffff.scope", hex, hex);
	assert_true(ef_container_of_cgroup(path, id));
	assert_memory_equal(id + 60, "ffff", 4);
}

/* the reach list as egressd sends it: dockerd's socket and the fence's run
 * directory on the host's /run (0:25), its policies on / (8:1) */
static cJSON *reach(void)
{
	cJSON *c = cJSON_Parse(
		"{\"id\":\"x\",\"reach\":["
		"{\"path\":\"/run/docker.sock\",\"kind\":\"runtime\",\"dev\":\"0:25\","
		"\"root\":\"/docker.sock\"},"
		"{\"path\":\"/run/egress-fence\",\"kind\":\"fence\",\"dev\":\"0:25\","
		"\"root\":\"/egress-fence\"},"
		"{\"path\":\"/etc/egress-fence/policies\",\"kind\":\"fence\",\"dev\":\"8:1\","
		"\"root\":\"/etc/egress-fence/policies\"}]}");

	assert_non_null(c);
	return c;
}

/* the container's own mounts, then the line given */
static int check_with(const char *line, char *why, size_t whylen)
{
	char path[] = "/tmp/ef-test-mountinfo-XXXXXX";
	int fd = mkstemp(path), ret;
	FILE *f;
	cJSON *c = reach();

	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs("600 500 0:60 / / rw,relatime master:1 - overlay overlay rw\n"
	      "601 600 0:61 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n"
	      "602 600 0:62 / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755\n"
	      "603 600 8:1 /var/lib/docker/containers/abc/hosts /etc/hosts rw,relatime - "
	      "ext4 /dev/sda1 rw\n",
	      f);
	fputs(line, f);
	fclose(f);
	ret = ef_container_reach_check_in(c, path, why, whylen);
	unlink(path);
	cJSON_Delete(c);
	return ret;
}

static void test_reach(void **state)
{
	static const struct {
		const char *line;
		int ret;
		const char *word;
	} cases[] = {
		/* nothing of the host's fence: passes */
		{ "", 0, NULL },
		/* the control socket, read-only: passes */
		{ "610 600 0:25 /egress-fence/control.sock /run/egress-fence/control.sock "
		  "ro,nosuid,nodev - tmpfs tmpfs rw\n", 0, NULL },
		/* read-write: refused */
		{ "610 600 0:25 /egress-fence/control.sock /run/egress-fence/control.sock "
		  "rw,nosuid,nodev - tmpfs tmpfs rw\n", -EPERM, "read-write" },
		/* the whole run directory, read-write */
		{ "610 600 0:25 /egress-fence /efrun rw - tmpfs tmpfs rw\n", -EPERM,
		  "read-write" },
		/* dockerd's socket at its own path, and at another */
		{ "610 600 0:25 /docker.sock /var/run/docker.sock rw - tmpfs tmpfs rw\n", -EPERM,
		  "/var/run/docker.sock" },
		{ "610 600 0:25 /docker.sock /x/d\\040s ro - tmpfs tmpfs rw\n", -EPERM,
		  "/x/d s" },
		/* all of /run, read-only: the socket is there */
		{ "610 600 0:25 / /hostrun ro - tmpfs tmpfs rw\n", -EPERM, "/hostrun/docker.sock" },
		/* another directory of the same /run: passes */
		{ "610 600 0:25 /user/1000 /run/user rw - tmpfs tmpfs rw\n", 0, NULL },
		/* a name that only starts the same: passes */
		{ "610 600 0:25 /docker.sockets /s rw - tmpfs tmpfs rw\n", 0, NULL },
		{ "610 600 0:25 /egress-fence2 /s rw - tmpfs tmpfs rw\n", 0, NULL },
		/* another device with the same path: passes */
		{ "610 600 0:26 /docker.sock /var/run/docker.sock rw - tmpfs tmpfs rw\n", 0, NULL },
		/* the host's /etc bound read-write: the policies are below it */
		{ "610 600 8:1 /etc /host-etc rw - ext4 /dev/sda1 rw\n", -EPERM, "read-write" },
		{ "610 600 8:1 /etc /host-etc ro - ext4 /dev/sda1 rw\n", 0, NULL },
		/* a line cut short: not a mount */
		{ "610 600 0:25\n", 0, NULL },
	};
	char why[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		why[0] = '\0';
		int ret = check_with(cases[i].line, why, sizeof(why));

		if (ret != cases[i].ret)
			fail_msg("case %zu (%s): %d, want %d (%s)", i, cases[i].line, ret,
				 cases[i].ret, why);
		if (cases[i].word && !strstr(why, cases[i].word))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, why, cases[i].word);
	}
}

/* a host service bound in: refused as a runtime's socket; a path egressd
 * could not locate: refused whatever the mounts */
static void test_reach_service_and_unlocated(void **state)
{
	cJSON *svc = cJSON_Parse("{\"reach\":[{\"path\":\"/run/dbus\",\"kind\":\"service\","
				 "\"dev\":\"0:25\",\"root\":\"/dbus\"}]}");
	cJSON *unl = cJSON_Parse("{\"reach\":[{\"path\":\"/etc/egress-fence\",\"kind\":"
				 "\"fence\",\"unlocated\":\"No such device\"}]}");
	char path[] = "/tmp/ef-test-mountinfo-XXXXXX", why[512];
	int fd = mkstemp(path);
	FILE *f;

	(void)state;
	assert_true(fd >= 0 && svc && unl);
	f = fdopen(fd, "w");
	fputs("600 500 0:60 / / ro,relatime - overlay overlay rw\n"
	      "610 600 0:25 /dbus/system_bus_socket /run/dbus/system_bus_socket ro - tmpfs t rw\n",
	      f);
	fclose(f);
	assert_int_equal(ef_container_reach_check_in(svc, path, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "service /run/dbus"));
	assert_int_equal(ef_container_reach_check_in(unl, path, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "cannot tell"));
	/* the root filesystem: read-only here; the last mount on / counts */
	assert_int_equal(ef_container_root_ro_in(path), 1);
	f = fopen(path, "a");
	fputs("700 600 0:70 / / rw - tmpfs t rw\n", f);
	fclose(f);
	assert_int_equal(ef_container_root_ro_in(path), 0);
	unlink(path);
	assert_true(ef_container_root_ro_in(path) < 0);
	cJSON_Delete(svc);
	cJSON_Delete(unl);
}

/* a reach list egressd did not send, or malformed: refused */
static void test_reach_malformed(void **state)
{
	const char *bad[] = { "{}", "{\"reach\":{}}",
			      "{\"reach\":[{\"path\":\"/x\",\"kind\":\"fence\",\"dev\":\"0:60\"}]}",
			      "{\"reach\":[{\"path\":\"/x\",\"kind\":\"fence\",\"dev\":\"0:60\","
			      "\"root\":\"rel\"}]}" };
	char why[512];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cJSON *c = cJSON_Parse(bad[i]);

		assert_non_null(c);
		assert_int_equal(ef_container_reach_check_in(c, "/proc/self/mountinfo", why,
							     sizeof(why)), -EINVAL);
		cJSON_Delete(c);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_container_of_cgroup),
		cmocka_unit_test(test_reach),
		cmocka_unit_test(test_reach_malformed),
		cmocka_unit_test(test_reach_service_and_unlocated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
