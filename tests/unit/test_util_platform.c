/* test_util_platform: the platform layer (include/platform.h) on this system — the executable's
 * folder, randomness, clocks, the state folder per OS convention, private temporary folders,
 * durable appends, environment changes, and child processes: output capture, the stdin lifeline
 * (the child sees EOF when we let go), a missing program, a deadline and a kill; and the portable
 * string helpers that replaced glibc extensions (util_strndup, util_printf, util_strcasestr,
 * util_memmem). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "platform.h"
#include "util.h"

static const char *fake_getenv(const char *name, void *user)
{
    const char *const *kv = user;
    for (size_t i = 0; kv[i]; i += 2)
        if (!strcmp(kv[i], name))
            return kv[i + 1];
    return NULL;
}

static void test_exe_dir(void **state)
{
    (void)state;
#ifdef _WIN32
    assert_true(platform_tls_system_store());
#else
    assert_false(platform_tls_system_store()); /* SSL_CERT_FILE / the distribution's CA bundle */
#endif
    char *dir = platform_exe_dir();
    assert_non_null(dir);
    char *self = util_printf("%s/test_util_platform%s", dir, PLATFORM_EXE_SUFFIX);
    assert_true(platform_is_file(self)); /* this very test binary */
    assert_false(platform_is_file(dir)); /* a folder is not a file */
    free(self);
    free(dir);
}

static void test_random_and_time(void **state)
{
    (void)state;
    unsigned char a[32] = {0}, b[32] = {0}, zero[32] = {0};
    assert_int_equal(platform_random_bytes(a, sizeof a), 0);
    assert_int_equal(platform_random_bytes(b, sizeof b), 0);
    assert_memory_not_equal(a, b, sizeof a);
    assert_memory_not_equal(a, zero, sizeof a);
    int64_t wall = platform_now_ms();
    assert_true(wall / 1000 - (int64_t)time(NULL) <= 1 && (int64_t)time(NULL) - wall / 1000 <= 1);
    int64_t t0 = platform_monotonic_ns();
    platform_sleep_ms(20);
    assert_true(platform_monotonic_ns() - t0 >= 20 * 1000000LL);
    struct tm tm;
    assert_int_equal(platform_gmtime(86400 * 365, &tm), 0);
    assert_int_equal(tm.tm_year, 71);
    assert_int_equal(tm.tm_yday, 0);
}

static void test_state_dir(void **state)
{
    (void)state;
    const char *missing = NULL;
    const char *none[] = {NULL};
    assert_null(platform_state_dir("app", fake_getenv, (void *)none, &missing));
    assert_non_null(missing);
    const char *home[] = {"HOME", "/home/u", "LOCALAPPDATA", "C:\\Users\\u\\AppData\\Local", NULL};
    const char *xdg[] = {"HOME", "/home/u", "XDG_STATE_HOME", "/state", NULL};
    char *h = platform_state_dir("app", fake_getenv, (void *)home, NULL);
    char *x = platform_state_dir("app", fake_getenv, (void *)xdg, NULL);
#if defined(_WIN32)
    assert_string_equal(h, "C:\\Users\\u\\AppData\\Local\\app");
#elif defined(__APPLE__)
    assert_string_equal(h, "/home/u/Library/Application Support/app");
    assert_string_equal(x, "/home/u/Library/Application Support/app");
#else
    assert_string_equal(h, "/home/u/.local/state/app");
    assert_string_equal(x, "/state/app");
#endif
    free(h);
    free(x);
}

static void test_temp_dir_and_files(void **state)
{
    (void)state;
    char *tmp = platform_temp_dir();
    assert_non_null(tmp);
    char *d1 = platform_make_temp_dir(tmp, "aigw-test-");
    char *d2 = platform_make_temp_dir(tmp, "aigw-test-");
    assert_non_null(d1);
    assert_non_null(d2);
    assert_string_not_equal(d1, d2);
    assert_int_equal(platform_mkdir_private(d1), EEXIST);
    char *sub = util_printf("%s/sub", d1);
    assert_int_equal(platform_mkdir_private(sub), 0);
    char *f = util_printf("%s/file", sub);
    for (int i = 0; i < 2; i++) {
        int fd = platform_open_append(f);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "ab", 2), 2);
        assert_int_equal(platform_fsync(fd), 0);
        close(fd);
    }
    char *text = NULL;
    size_t len = 0;
    util_error err;
    util_error_clear(&err);
    assert_int_equal(util_read_file(f, 100, &text, &len, &err), 0);
    assert_string_equal(text, "abab"); /* appended, not truncated */
    free(text);
    assert_true(platform_is_file(f));
    assert_int_not_equal(platform_remove(sub), 0); /* not empty */
    assert_int_equal(platform_remove(f), 0);
    assert_false(platform_is_file(f));
    assert_int_equal(platform_remove(sub), 0);
    assert_int_equal(platform_remove(d1), 0);
    assert_int_equal(platform_remove(d2), 0);
    assert_int_equal(platform_mkdir_private(d1), 0); /* really gone */
    assert_int_equal(platform_remove(d1), 0);
    free(f);
    free(sub);
    free(d1);
    free(d2);
    free(tmp);
}

static void test_setenv(void **state)
{
    (void)state;
    assert_int_equal(platform_setenv("AIGW_PLATFORM_TEST", "v1"), 0);
    assert_string_equal(getenv("AIGW_PLATFORM_TEST"), "v1");
    assert_int_equal(platform_setenv("AIGW_PLATFORM_TEST", NULL), 0);
    assert_true(!getenv("AIGW_PLATFORM_TEST") || !*getenv("AIGW_PLATFORM_TEST"));
}

static int collect(int stream, const char *data, size_t n, void *user)
{
    util_buf *b = user;
    util_buf_append(&b[stream], data, n);
    return 0;
}

#ifndef _WIN32
static void test_spawn_capture(void **state)
{
    (void)state;
    const char *argv[] = {"sh", "-c", "printf out; printf err >&2; exit 3", NULL};
    struct platform_child *c = NULL;
    assert_int_equal(platform_spawn(argv, PLATFORM_SPAWN_CAPTURE_STDERR, &c), 0);
    util_buf b[2];
    util_buf_init(&b[0], 0);
    util_buf_init(&b[1], 0);
    assert_int_equal(platform_child_read(c, util_monotonic_ms() + 10000, collect, b), 0);
    int code = 0;
    assert_int_equal(platform_child_wait(c, &code), 0);
    assert_int_equal(code, 3);
    assert_string_equal(b[0].data, "out");
    assert_string_equal(b[1].data, "err");
    platform_child_free(c);
    util_buf_free(&b[0]);
    util_buf_free(&b[1]);
}

/* The child's stdin is EOF once we close our end (what happens when we die), and not before. */
static void test_spawn_lifeline(void **state)
{
    (void)state;
    const char *argv[] = {"sh", "-c", "cat >/dev/null; echo eof", NULL};
    struct platform_child *c = NULL;
    assert_int_equal(platform_spawn(argv, PLATFORM_SPAWN_STDIN_LIFELINE, &c), 0);
    util_buf b[2];
    util_buf_init(&b[0], 0);
    util_buf_init(&b[1], 0);
    /* still waiting for EOF: nothing within 300 ms */
    assert_int_equal(platform_child_read(c, util_monotonic_ms() + 300, collect, b), ETIMEDOUT);
    assert_null(b[0].data);
    /* a second child must not inherit the lifeline (else the first never sees EOF) */
    const char *argv2[] = {"sh", "-c", "exec sleep 30", NULL};
    struct platform_child *c2 = NULL;
    assert_int_equal(platform_spawn(argv2, 0, &c2), 0);
    platform_child_close_stdin(c); /* as when we die: cat reads EOF, sh prints eof and exits 0 */
    assert_int_equal(platform_child_read(c, util_monotonic_ms() + 10000, collect, b), 0);
    assert_string_equal(b[0].data, "eof\n");
    int code = -2;
    assert_int_equal(platform_child_wait(c, &code), 0);
    assert_int_equal(code, 0);
    platform_child_free(c);
    platform_child_kill(c2);
    assert_int_equal(platform_child_wait(c2, &code), 0);
    assert_int_equal(code, -1); /* ended by a signal */
    platform_child_free(c2);
    util_buf_free(&b[0]);
    util_buf_free(&b[1]);
}

static void test_spawn_missing_and_timeout(void **state)
{
    (void)state;
    const char *missing[] = {"aigw-no-such-program-here", NULL};
    struct platform_child *c = NULL;
    assert_int_equal(platform_spawn(missing, 0, &c), ENOENT);
    assert_null(c);
    const char *slow[] = {"sleep", "30", NULL};
    assert_int_equal(platform_spawn(slow, 0, &c), 0);
    int64_t t0 = util_monotonic_ms();
    assert_int_equal(platform_child_read(c, t0 + 200, collect, NULL), ETIMEDOUT);
    platform_child_kill(c);
    int code = 0;
    assert_int_equal(platform_child_wait(c, &code), 0);
    assert_int_equal(code, -1);
    platform_child_free(c);
}
#endif

static void test_regex(void **state)
{
    (void)state;
    /* the tools' own patterns (get_metrics api_id, revert_change change_id) */
    const char *id = "^[A-Za-z0-9][A-Za-z0-9._~-]{0,255}$";
    assert_int_equal(platform_regex_match(id, "aoai-completions"), 1);
    assert_int_equal(platform_regex_match(id, "-leading-dash"), 0);
    assert_int_equal(platform_regex_match(id, "a b"), 0);
    assert_int_equal(platform_regex_match("^(ab|cd)+$", "abcdab"), 1);
    assert_int_equal(platform_regex_match("^(ab|cd)+$", "abc"), 0);
    assert_int_equal(platform_regex_match("[unclosed", "x"), -1);
}

static void test_strings(void **state)
{
    (void)state;
    char *s = util_strndup("abcdef", 3);
    assert_string_equal(s, "abc");
    free(s);
    s = util_strndup("ab", 10);
    assert_string_equal(s, "ab");
    free(s);
    s = util_printf("%s-%d-%.2f", "x", 42, 1.5);
    assert_string_equal(s, "x-42-1.50");
    free(s);
    s = util_printf("%s", "");
    assert_string_equal(s, "");
    free(s);
    const char *path = "/subscriptions/s/Providers/Microsoft.ApiManagement/service/a/BACKENDS/b";
    assert_ptr_equal(util_strcasestr(path, "/backends/"), strstr(path, "/BACKENDS/"));
    assert_null(util_strcasestr(path, "/pools/"));
    assert_ptr_equal(util_strcasestr(path, ""), path);
    const char hay[] = {'a', 0, 'b', 'c', 'd'};
    assert_ptr_equal(util_memmem(hay, sizeof hay, "cd", 2), hay + 3);
    assert_null(util_memmem(hay, sizeof hay, "de", 2));
    assert_null(util_memmem(hay, 1, "ab", 2));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exe_dir),
        cmocka_unit_test(test_random_and_time),
        cmocka_unit_test(test_state_dir),
        cmocka_unit_test(test_temp_dir_and_files),
        cmocka_unit_test(test_setenv),
#ifndef _WIN32
        cmocka_unit_test(test_spawn_capture),
        cmocka_unit_test(test_spawn_lifeline),
        cmocka_unit_test(test_spawn_missing_and_timeout),
#endif
        cmocka_unit_test(test_regex),
        cmocka_unit_test(test_strings),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    util_log_free_all();
    return rc;
}
