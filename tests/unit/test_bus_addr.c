// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The socket paths egressctl run covers from DBUS_SESSION_BUS_ADDRESS
 * (cli/bus_addr.c): every unix:path= of the list, unescaped; nothing from
 * other transports, abstract sockets, relative paths, bad escapes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../cli/bus_addr.h"

/* the paths of addr, joined by '|' */
static const char *paths(const char *addr, size_t len)
{
	static char all[1024];
	char one[256];
	const char *cur = addr;

	all[0] = 0;
	if (len > sizeof(one))
		len = sizeof(one);
	while (ef_bus_next_path(&cur, one, len)) {
		if (all[0])
			strcat(all, "|");
		strcat(all, one);
	}
	return all;
}

static void test_usual(void **state)
{
	(void)state;
	assert_string_equal(paths("unix:path=/run/user/1000/bus", 256), "/run/user/1000/bus");
	assert_string_equal(paths("unix:path=/tmp/x,guid=0123456789abcdef", 256), "/tmp/x");
	assert_string_equal(paths("unix:guid=ab,path=/tmp/y", 256), "/tmp/y");
	assert_string_equal(paths("unix:path=/tmp/dbus%2dbus/b%2Cc", 256), "/tmp/dbus-bus/b,c");
}

static void test_several(void **state)
{
	(void)state;
	assert_string_equal(paths("unix:path=/a;tcp:host=x,port=1;unix:path=/b,guid=1", 256),
			    "/a|/b");
	assert_string_equal(paths(";;unix:path=/a;;", 256), "/a");
	/* relative: libdbus connects from the working directory; the caller resolves it */
	assert_string_equal(paths("unix:path=relative/bus", 256), "relative/bus");
	/* a second path= in one address is not a second socket the library would use,
	 * but covering it is harmless */
	assert_string_equal(paths("unix:path=/a,path=/b", 256), "/a");
}

static void test_passed_over(void **state)
{
	(void)state;
	assert_string_equal(paths("", 256), "");
	assert_string_equal(paths("unix:abstract=/tmp/dbus-XYZ,guid=1", 256), "");
	assert_string_equal(paths("unix:tmpdir=/tmp", 256), "");
	assert_string_equal(paths("tcp:host=127.0.0.1,port=4", 256), "");
	assert_string_equal(paths("unix:path=", 256), "");
	assert_string_equal(paths("unix:", 256), "");
	assert_string_equal(paths("unix", 256), "");
	assert_string_equal(paths("unixpath=/x", 256), "");
	assert_string_equal(paths("unix:path=/a%2", 256), "");
	assert_string_equal(paths("unix:path=/a%zz", 256), "");
	assert_string_equal(paths("unix:path=/a%00b", 256), "");
	assert_string_equal(paths("unix:path=/a%", 256), "");
	/* a bad one does not hide the next */
	assert_string_equal(paths("unix:path=/a%;unix:path=/b", 256), "/b");
}

static void test_room(void **state)
{
	char out[4];
	const char *cur = "unix:path=/abcd;unix:path=/ab";

	(void)state;
	assert_int_equal(ef_bus_next_path(&cur, out, sizeof(out)), 1);
	assert_string_equal(out, "/ab");
	assert_int_equal(ef_bus_next_path(&cur, out, sizeof(out)), 0);
	cur = "unix:path=/a";
	assert_int_equal(ef_bus_next_path(&cur, out, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_usual),
		cmocka_unit_test(test_several),
		cmocka_unit_test(test_passed_over),
		cmocka_unit_test(test_room),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
