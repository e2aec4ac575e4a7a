/* test_util_text: text from outside made safe (issue 14) — ANSI escapes and control characters
 * stripped, invalid UTF-8 replaced, cuts on character boundaries, and secrets scrubbed BEFORE a
 * message is cut to its cap (a secret straddling the cap must not leak its head). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "util.h"

static void test_text_clean(void **state)
{
    (void)state;
    char s[] = "a\x1b[31mred\x1b[0m\r\x07 b\n\tc\xc2\x85" "d\xff\x1b]0;title\x07" "e\x7f" "f\xc3\xa9";
    util_text_clean(s);
    assert_string_equal(s, "ared b\n\tcd?ef\xc3\xa9");
    char overlong[] = "\xc0\xaf\xe0\x80\xaf.";
    util_text_clean(overlong);
    assert_string_equal(overlong, "?????.");
}

static void test_utf8_cut(void **state)
{
    (void)state;
    char s[] = "ab\xc3\xa9\xe2\x82\xac";
    util_utf8_cut(s, 3); /* inside é */
    assert_string_equal(s, "ab");
    char t[] = "ab\xc3\xa9\xe2\x82\xac";
    util_utf8_cut(t, 6); /* inside € */
    assert_string_equal(t, "ab\xc3\xa9");
    char u[] = "abc";
    util_utf8_cut(u, 10);
    assert_string_equal(u, "abc");
}

static void test_scrub_before_cut(void **state)
{
    (void)state;
    const char *secret = "FAKE-test-secret-not-real-0042";
    util_log_add_secret(secret);
    char pad[UTIL_ERROR_MAX];
    memset(pad, 'p', sizeof pad);
    pad[UTIL_ERROR_MAX - 12] = '\0'; /* the secret starts 11 bytes before the cap */
    util_error err;
    util_error_set(&err, UTIL_EAUTH, "%s%s", pad, secret);
    assert_null(strstr(err.message, "FAKE-test"));
    assert_true(strlen(err.message) < UTIL_ERROR_MAX);
    /* a prefix is formatted whole too: a secret at its own cap is scrubbed, not cut to a head */
    util_error_set(&err, UTIL_EAUTH, "tail");
    util_error_prefix(&err, "%s%s", pad, secret);
    assert_null(strstr(err.message, "FAKE-test"));
    assert_true(strlen(err.message) < UTIL_ERROR_MAX);
    /* a message cut inside a character stays valid UTF-8 */
    char buf[8];
    util_format(buf, sizeof buf, "%s", "abcdef\xc3\xa9");
    assert_string_equal(buf, "abcdef");
    /* control characters from a remote answer never reach a message */
    util_error_set(&err, UTIL_EREMOTE, "Azure said: %s", "\x1b[2J\x1b[Hboom\r\n");
    assert_string_equal(err.message, "Azure said: boom\n");
    util_log_free_all();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_clean),
        cmocka_unit_test(test_utf8_cut),
        cmocka_unit_test(test_scrub_before_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
