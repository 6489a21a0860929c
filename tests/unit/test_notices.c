// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * cli/notice_text.c: a notice of egressd's in words. Each kind (connect,
 * UDP, DNS, socket, attempt on the fence, probe flag, audit mode); the allow
 * command (the rule `policy suggest` writes) and when there is none (a deny
 * rule, metadata); and hostile values: control characters and invalid
 * UTF-8 printed as '?', no allow command made of bytes a shell would act on,
 * malformed notices (missing keys, wrong types) still one line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "../../cli/notices.h"

static char *text_of(const char *json, cJSON **keep)
{
	cJSON *n = cJSON_Parse(json);
	char *t;

	assert_non_null(n);
	t = sup_notice_text(n);
	assert_non_null(t);
	assert_null(strchr(t, '\n'));
	if (keep)
		*keep = n;
	else
		cJSON_Delete(n);
	return t;
}

static void has(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("%s\n  has no: %s", hay, needle);
}

static void test_connect(void **state)
{
	cJSON *n;
	char *t = text_of("{\"kind\":\"connect\",\"decision\":\"deny\",\"reason\":\"no_rule\","
			  "\"why\":\"no rule allows example.org port 443/tcp\",\"policy\":\"ci\","
			  "\"process\":{\"pid\":42,\"executable\":\"curl\"},\"destination\":"
			  "{\"name\":\"example.org\",\"address\":\"93.184.215.14\",\"port\":443,"
			  "\"transport\":\"tcp\"}}", &n);

	(void)state;
	has(t, "egress-fence: refused TCP connection to example.org (93.184.215.14) port 443 "
	       "from curl (pid 42): no rule allows example.org port 443/tcp (policy ci).");
	has(t, "This is the fence's policy, not a network fault.");
	has(t, "To allow it: egressctl policy add ci 'example.org:443'");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(n, "allow_command")),
			    "egressctl policy add ci 'example.org:443'");
	free(t);
	cJSON_Delete(n);
}

static void test_udp_and_audit(void **state)
{
	char *t = text_of("{\"kind\":\"send\",\"decision\":\"would_deny\",\"reason\":\"no_rule\","
			  "\"why\":\"w\",\"policy\":\"ci\",\"destination\":{\"address\":"
			  "\"2001:db8::1\",\"port\":53,\"transport\":\"udp\"}}", NULL);

	(void)state;
	has(t, "egress-fence: would refuse UDP datagram to 2001:db8::1 port 53");
	has(t, "Audit mode: it was let through; enforce mode refuses it.");
	has(t, "egressctl policy add ci '[2001:db8::1]:53/udp'");
	free(t);
}

static void test_dns_socket_tamper_flag(void **state)
{
	char *t;

	(void)state;
	t = text_of("{\"kind\":\"dns\",\"decision\":\"deny\",\"reason\":\"dns_unlisted\",\"why\":"
		    "\"no rule names the host\",\"policy\":\"ci\",\"query\":{\"name\":"
		    "\"pastebin.com\",\"type\":\"AAAA\"}}", NULL);
	has(t, "refused DNS query for pastebin.com (AAAA): no rule names the host (policy ci)");
	has(t, "To allow it: egressctl policy add ci 'pastebin.com:443' (with the port");
	free(t);
	t = text_of("{\"kind\":\"socket\",\"decision\":\"deny\",\"reason\":\"protocol\",\"why\":"
		    "\"protocol 1 is refused\",\"policy\":\"ci\",\"socket\":{\"family\":\"inet\","
		    "\"type\":\"dgram\",\"protocol\":1},\"process\":{\"pid\":7,\"executable\":"
		    "\"ping\"}}", NULL);
	has(t, "refused a socket (inet dgram, protocol icmp) from ping (pid 7)");
	has(t, "\"sockets\" settings");
	assert_null(strstr(t, "egressctl policy add"));
	free(t);
	/* a family as a number (an older egressd's): named if Linux names it */
	t = text_of("{\"kind\":\"socket\",\"decision\":\"deny\",\"reason\":\"family\",\"why\":"
		    "\"w\",\"policy\":\"ci\",\"socket\":{\"family\":41,\"type\":\"seqpacket\","
		    "\"protocol\":0},\"process\":{\"pid\":7}}", NULL);
	has(t, "refused a socket (kcm seqpacket) from pid 7: w");
	free(t);
	t = text_of("{\"kind\":\"socket\",\"decision\":\"deny\",\"reason\":\"family\",\"why\":"
		    "\"w\",\"policy\":\"ci\",\"socket\":{\"family\":50,\"type\":\"dgram\","
		    "\"protocol\":0}}", NULL);
	has(t, "refused a socket (family 50 dgram): w");
	free(t);
	t = text_of("{\"kind\":\"tamper\",\"decision\":\"deny\",\"reason\":\"tamper_bpf\",\"why\":"
		    "\"an attempt on the fence itself (tamper_bpf)\",\"policy\":\"ci\"}", NULL);
	has(t, "egress-fence: refused an attempt on the fence (tamper_bpf). The fence protects "
	       "itself; no policy allows this.");
	assert_null(strstr(t, "network fault"));
	free(t);
	t = text_of("{\"kind\":\"flag\",\"job_id\":\"j1\",\"reason\":\"dest_scan\",\"why\":"
		    "\"12 denied destinations in 60 s\",\"action\":\"freeze\"}", NULL);
	has(t, "egress-fence: the job is flagged as probing (dest_scan): 12 denied destinations "
	       "in 60 s; action: freeze. See: egressctl report j1");
	free(t);
}

static void test_no_allow_command(void **state)
{
	char *t;

	(void)state;
	/* a deny rule: no rule added would help */
	t = text_of("{\"kind\":\"connect\",\"decision\":\"deny\",\"reason\":\"deny_rule\",\"why\":"
		    "\"denied by rule 10.0.0.0/8:*\",\"policy\":\"ci\",\"destination\":{"
		    "\"address\":\"10.1.1.1\",\"port\":22,\"transport\":\"tcp\"}}", NULL);
	has(t, "A deny rule of policy ci refuses it");
	assert_null(strstr(t, "egressctl policy add"));
	free(t);
	/* the canary: refused to every job, no rule allows it */
	t = text_of("{\"kind\":\"connect\",\"decision\":\"deny\",\"reason\":\"canary\",\"why\":"
		    "\"c\",\"policy\":\"ci\",\"destination\":{\"address\":\"192.0.2.1\","
		    "\"port\":9,\"transport\":\"udp\"}}", NULL);
	has(t, "the fence's canary destination");
	assert_null(strstr(t, "egressctl policy add"));
	free(t);
	/* the metadata address: policy suggest leaves it out */
	t = text_of("{\"kind\":\"connect\",\"decision\":\"deny\",\"reason\":\"metadata\",\"why\":"
		    "\"m\",\"policy\":\"ci\",\"destination\":{\"address\":\"169.254.169.254\","
		    "\"port\":80,\"transport\":\"tcp\"}}", NULL);
	assert_null(strstr(t, "egressctl policy add"));
	free(t);
}

static void test_hostile_values(void **state)
{
	cJSON *n;
	char *t;

	(void)state;
	/* terminal escapes, C1, invalid UTF-8 in the executable and the name */
	t = text_of("{\"kind\":\"connect\",\"decision\":\"deny\",\"reason\":\"no_rule\",\"why\":"
		    "\"x\\u001b[2J\",\"policy\":\"ci\",\"process\":{\"pid\":1,\"executable\":"
		    "\"ev\\u001b]0;pwned\\u0007il\\u009b\"},\"destination\":{\"name\":"
		    "\"a\\u001bb.test\",\"address\":\"1.2.3.4\",\"port\":80,\"transport\":\"tcp\"}}",
		    &n);
	assert_null(strchr(t, 0x1b));
	assert_null(strchr(t, 0x07));
	assert_null(strstr(t, "\xc2\x9b"));
	has(t, "from ev?]0;pwned?il? (pid 1)");
	/* a name no rule could be: no command to paste */
	assert_null(cJSON_GetObjectItem(n, "allow_command"));
	free(t);
	cJSON_Delete(n);
	/* a bidi override would make the name read backwards */
	t = text_of("{\"kind\":\"connect\",\"why\":\"w\",\"process\":{\"pid\":2,"
		    "\"executable\":\"gpj.\u202eexe\"}}", NULL);
	has(t, "from gpj.?exe (pid 2)");
	free(t);
	/* DNS names the proxy passes on that a rule would read as a range, a
	 * wildcard or a list: no command (a pasted one would open far more) */
	{
		static const char *const names[] = { "10.0.0.0/8", "*.evil.test", "0.0.0.0/0",
						     "[::]/0", "a.test,b.test", "a.test:1-65535",
						     "198.18.2.0", "1.2.3", "..", "a..b", "" };

		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			cJSON *q, *m = cJSON_Parse("{\"kind\":\"dns\",\"decision\":\"deny\","
						   "\"reason\":\"dns_unlisted\",\"why\":\"w\","
						   "\"policy\":\"ci\",\"query\":{}}");

			q = cJSON_GetObjectItem(m, "query");
			cJSON_AddStringToObject(q, "name", names[i]);
			t = sup_notice_text(m);
			assert_non_null(t);
			if (strstr(t, "egressctl policy add") || cJSON_GetObjectItem(m, "allow_command"))
				fail_msg("an allow command for the name \"%s\": %s", names[i], t);
			free(t);
			cJSON_Delete(m);
		}
	}
	/* a policy name a shell would act on: no command */
	t = text_of("{\"kind\":\"connect\",\"decision\":\"deny\",\"reason\":\"no_rule\",\"why\":"
		    "\"w\",\"policy\":\"ci;rm -rf ~\",\"destination\":{\"address\":\"1.2.3.4\","
		    "\"port\":80,\"transport\":\"tcp\"}}", &n);
	assert_null(cJSON_GetObjectItem(n, "allow_command"));
	assert_null(strstr(t, "egressctl policy add"));
	free(t);
	cJSON_Delete(n);
}

static void test_malformed(void **state)
{
	static const char *const bad[] = {
		"{}",
		"{\"kind\":5}",
		"{\"kind\":\"connect\",\"destination\":{\"port\":\"x\",\"address\":7}}",
		"{\"kind\":\"dns\",\"query\":[]}",
		"{\"kind\":\"socket\",\"socket\":{\"protocol\":1e308}}",
		"{\"kind\":\"socket\",\"socket\":{\"family\":1e308,\"type\":\"raw\"}}",
		"{\"kind\":\"socket\",\"socket\":{\"family\":-1e308,\"type\":\"raw\"}}",
		"{\"kind\":\"flag\"}",
		"{\"kind\":\"connect\",\"process\":{\"pid\":\"1\"},\"policy\":null}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		free(text_of(bad[i], NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connect),
		cmocka_unit_test(test_udp_and_audit),
		cmocka_unit_test(test_dns_socket_tamper_flag),
		cmocka_unit_test(test_no_allow_command),
		cmocka_unit_test(test_hostile_values),
		cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
