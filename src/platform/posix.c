/* platform/posix.c: the POSIX implementation of include/platform.h (Linux and macOS; Linux- and
 * Apple-specific calls are marked). Compiled everywhere but Windows. */
#ifndef _WIN32
#include "platform.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__APPLE__)
#include <mach-o/dyld.h>
#elif defined(__linux__)
#include <sys/random.h>
#endif

extern char **environ;

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    return p ? memcpy(p, s, n) : NULL;
}

static char *join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *p = malloc(la + lb + 2);
    if (!p)
        return NULL;
    memcpy(p, a, la);
    p[la] = '/';
    memcpy(p + la + 1, b, lb + 1);
    return p;
}

/* ---- the program itself ------------------------------------------------------------------- */

char *platform_exe_dir(void)
{
    char path[PATH_MAX];
#if defined(__APPLE__)
    char raw[PATH_MAX];
    uint32_t size = sizeof raw;
    if (_NSGetExecutablePath(raw, &size) != 0 || !realpath(raw, path))
        return NULL;
#elif defined(__linux__)
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n <= 0)
        return NULL;
    path[n] = '\0';
#else
#error "platform_exe_dir: no implementation for this system"
#endif
    char *slash = strrchr(path, '/');
    if (!slash)
        return NULL;
    *slash = '\0';
    return dup_str(slash == path ? "/" : path);
}

void platform_stdio_binary(void) {}

void platform_ignore_sigpipe(void) { signal(SIGPIPE, SIG_IGN); }

static void (*volatile g_on_terminate)(void);
static atomic_int g_defer;   /* platform_terminate_defer holds */
static atomic_int g_pending; /* the signal that arrived while held, 0 = none */

static void terminate_now(int sig)
{
    void (*fn)(void) = g_on_terminate;
    g_on_terminate = NULL;
    if (fn)
        fn();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void on_signal(int sig)
{
    /* held: the first signal waits for the holder (putting a drilled member back, bounded by the
     * HTTP timeouts); a second one ends the process now — the journal keeps the open drill for the
     * next start, as after a crash */
    if (atomic_load(&g_defer) > 0 && atomic_exchange(&g_pending, sig) == 0)
        return;
    terminate_now(sig);
}

static void install_handlers(bool on)
{
    static const int sigs[] = {SIGTERM, SIGINT, SIGHUP};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on ? on_signal : SIG_DFL;
        sigemptyset(&sa.sa_mask);
        sigaction(sigs[i], &sa, NULL);
    }
}

void platform_on_terminate(void (*fn)(void))
{
    g_on_terminate = fn;
    install_handlers(fn || atomic_load(&g_defer) > 0);
}

void platform_terminate_defer(bool hold)
{
    if (hold) {
        if (atomic_fetch_add(&g_defer, 1) == 0)
            install_handlers(true);
        return;
    }
    if (atomic_fetch_sub(&g_defer, 1) == 1 && atomic_load(&g_pending))
        terminate_now(atomic_load(&g_pending));
}

int platform_terminate_pending(void) { return atomic_load(&g_pending); }

bool platform_tls_system_store(void) { return false; }

/* ---- loadable modules --------------------------------------------------------------------- */

void *platform_module_open(const char *path, char *why, size_t n)
{
    void *m = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!m && why && n) {
        const char *e = dlerror();
        snprintf(why, n, "%s", e ? e : "cannot load the module");
    }
    return m;
}

void *platform_module_symbol(void *module, const char *name) { return dlsym(module, name); }

/* ---- randomness and time ------------------------------------------------------------------ */

int platform_random_bytes(void *buf, size_t n)
{
#if defined(__APPLE__)
    arc4random_buf(buf, n);
    return 0;
#elif defined(__linux__)
    unsigned char *p = buf;
    while (n) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
#else
#error "platform_random_bytes: no implementation for this system"
#endif
}

int64_t platform_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t platform_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void platform_sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int platform_gmtime(int64_t epoch_sec, struct tm *out)
{
    time_t t = (time_t)epoch_sec;
    return gmtime_r(&t, out) ? 0 : -1;
}

unsigned long platform_pid(void) { return (unsigned long)getpid(); }

bool platform_process_alive(unsigned long pid)
{
    return pid > 0 && pid <= (unsigned long)INT_MAX && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

/* ---- files, folders, environment ---------------------------------------------------------- */

const char *platform_getenv(const char *name, void *user)
{
    (void)user;
    return getenv(name);
}

char *platform_temp_dir(void)
{
    const char *t = getenv("TMPDIR");
    return dup_str(t && *t ? t : "/tmp");
}

char *platform_state_dir(const char *app, platform_getenv_fn fn, void *user, const char **missing)
{
    if (!fn)
        fn = platform_getenv;
    const char *home = fn("HOME", user);
#if defined(__APPLE__)
    if (missing)
        *missing = "HOME";
    if (!home || !*home)
        return NULL;
    char *base = join(home, "Library/Application Support");
#else
    if (missing)
        *missing = "XDG_STATE_HOME or HOME";
    const char *state = fn("XDG_STATE_HOME", user);
    char *base;
    if (state && *state)
        base = dup_str(state);
    else if (home && *home)
        base = join(home, ".local/state");
    else
        return NULL;
#endif
    if (!base)
        return NULL;
    char *dir = join(base, app);
    free(base);
    return dir;
}

char *platform_make_temp_dir(const char *parent, const char *prefix)
{
    size_t n = strlen(parent) + strlen(prefix) + 8;
    char *p = malloc(n + 1);
    if (!p)
        return NULL;
    snprintf(p, n + 1, "%s/%sXXXXXX", parent, prefix);
    if (!mkdtemp(p)) {
        int e = errno;
        free(p);
        errno = e;
        return NULL;
    }
    return p;
}

int platform_mkdir_private(const char *path) { return mkdir(path, 0700) == 0 ? 0 : errno; }

int platform_open_append(const char *path) { return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600); }

int platform_fsync(int fd) { return fsync(fd) == 0 ? 0 : errno; }

int platform_remove(const char *path)
{
    if (unlink(path) == 0 || rmdir(path) == 0)
        return 0;
    return errno;
}

bool platform_is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int platform_setenv(const char *name, const char *value)
{
    int rc = value ? setenv(name, value, 1) : unsetenv(name);
    return rc == 0 ? 0 : errno;
}

/* ---- child processes ---------------------------------------------------------------------- */

struct platform_child {
    pid_t pid;
    int lifeline;  /* write end of the child's stdin, or -1 */
    int out[2];    /* read ends of stdout, stderr; -1 when closed or not captured */
    bool reaped;
    int status;
};

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* A pipe whose two ends are close-on-exec in this process (the child gets its end by dup2). */
static int cloexec_pipe(int p[2])
{
    if (pipe(p) != 0)
        return errno;
    for (int i = 0; i < 2; i++)
        fcntl(p[i], F_SETFD, FD_CLOEXEC);
    return 0;
}

int platform_spawn(const char *const argv[], unsigned flags, struct platform_child **out)
{
    *out = NULL;
    struct platform_child *c = calloc(1, sizeof *c);
    if (!c)
        return ENOMEM;
    c->pid = -1;
    c->lifeline = c->out[0] = c->out[1] = -1;
    int in[2] = {-1, -1}, o[2] = {-1, -1}, e[2] = {-1, -1};
    int rc = cloexec_pipe(o);
    if (!rc && (flags & PLATFORM_SPAWN_STDIN_LIFELINE))
        rc = cloexec_pipe(in);
    if (!rc && (flags & PLATFORM_SPAWN_CAPTURE_STDERR))
        rc = cloexec_pipe(e);
    posix_spawn_file_actions_t fa;
    if (!rc)
        rc = posix_spawn_file_actions_init(&fa);
    if (!rc) {
        if (in[0] >= 0)
            posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
        else
            posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, o[1], STDOUT_FILENO);
        if (e[1] >= 0)
            posix_spawn_file_actions_adddup2(&fa, e[1], STDERR_FILENO);
        rc = posix_spawnp(&c->pid, argv[0], &fa, NULL, (char *const *)argv, environ);
        posix_spawn_file_actions_destroy(&fa);
    }
    close_fd(&in[0]);
    close_fd(&o[1]);
    close_fd(&e[1]);
    if (rc) {
        close_fd(&in[1]);
        close_fd(&o[0]);
        close_fd(&e[0]);
        free(c);
        return rc;
    }
    c->lifeline = in[1];
    c->out[0] = o[0];
    c->out[1] = e[0];
    *out = c;
    return 0;
}

int platform_child_read(struct platform_child *c, int64_t deadline_ms, platform_on_output on_output, void *user)
{
    while (c->out[0] >= 0 || c->out[1] >= 0) {
        int64_t left = deadline_ms - platform_monotonic_ns() / 1000000;
        if (left <= 0)
            return ETIMEDOUT;
        struct pollfd p[2] = {{c->out[0], POLLIN, 0}, {c->out[1], POLLIN, 0}};
        if (poll(p, 2, left > INT_MAX ? INT_MAX : (int)left) < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        for (int i = 0; i < 2; i++) {
            if (c->out[i] < 0 || !p[i].revents)
                continue;
            char chunk[4096];
            ssize_t n = read(c->out[i], chunk, sizeof chunk);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                close_fd(&c->out[i]);
                continue;
            }
            if (on_output && on_output(i, chunk, (size_t)n, user))
                return 0;
        }
    }
    return 0;
}

void platform_child_kill(struct platform_child *c)
{
    if (c && c->pid > 0 && !c->reaped)
        kill(c->pid, SIGKILL);
}

int platform_child_wait(struct platform_child *c, int *exit_code)
{
    if (!c->reaped) {
        while (waitpid(c->pid, &c->status, 0) < 0) {
            if (errno != EINTR)
                return errno;
        }
        c->reaped = true;
    }
    if (exit_code)
        *exit_code = WIFEXITED(c->status) ? WEXITSTATUS(c->status) : -1;
    return 0;
}

void platform_child_close_stdin(struct platform_child *c) { close_fd(&c->lifeline); }

void platform_child_stop(struct platform_child *c)
{
    if (!c)
        return;
    platform_child_close_stdin(c);
    if (c->pid > 0 && !c->reaped)
        kill(c->pid, SIGTERM);
    platform_child_wait(c, NULL);
}

void platform_child_free(struct platform_child *c)
{
    if (!c)
        return;
    close_fd(&c->lifeline);
    close_fd(&c->out[0]);
    close_fd(&c->out[1]);
    free(c);
}
#endif
