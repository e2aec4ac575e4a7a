/* platform/windows.c: the Windows implementation of include/platform.h (Win32 API, UTF-8 at the
 * interface, UTF-16 towards Windows). Built with MinGW-w64 (scripts/build-windows.sh) and tested
 * under Wine. */
#ifdef _WIN32
#include "platform.h"

#include <windows.h>
#include <bcrypt.h>
#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    return p ? memcpy(p, s, n) : NULL;
}

static wchar_t *to_wide(const char *s)
{
    int n = MultiByteToWideChar(CP_UTF8, 0, s, -1, NULL, 0);
    wchar_t *w = n > 0 ? malloc((size_t)n * sizeof *w) : NULL;
    if (w && MultiByteToWideChar(CP_UTF8, 0, s, -1, w, n) <= 0) {
        free(w);
        w = NULL;
    }
    return w;
}

static char *to_utf8(const wchar_t *w)
{
    int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL);
    char *s = n > 0 ? malloc((size_t)n) : NULL;
    if (s && WideCharToMultiByte(CP_UTF8, 0, w, -1, s, n, NULL, NULL) <= 0) {
        free(s);
        s = NULL;
    }
    return s;
}

static int errno_of(DWORD e)
{
    switch (e) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_BAD_EXE_FORMAT:
        return ENOENT;
    case ERROR_ACCESS_DENIED:
        return EACCES;
    case ERROR_ALREADY_EXISTS:
    case ERROR_FILE_EXISTS:
        return EEXIST;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
        return ENOMEM;
    default:
        return EIO;
    }
}

/* ---- the program itself ------------------------------------------------------------------- */

char *platform_exe_dir(void)
{
    wchar_t path[32768];
    DWORD n = GetModuleFileNameW(NULL, path, sizeof path / sizeof path[0]);
    if (n == 0 || n >= sizeof path / sizeof path[0])
        return NULL;
    wchar_t *sep = wcsrchr(path, L'\\');
    wchar_t *slash = wcsrchr(path, L'/');
    if (!sep || (slash && slash > sep))
        sep = slash;
    if (!sep)
        return NULL;
    *sep = L'\0';
    return to_utf8(path);
}

void platform_stdio_binary(void)
{
    _setmode(_fileno(stdin), _O_BINARY);
    _setmode(_fileno(stdout), _O_BINARY);
}

void platform_ignore_sigpipe(void) {} /* Windows has no SIGPIPE: a broken pipe is a write error */

static void (*volatile g_on_terminate)(void);
static volatile LONG g_defer;   /* platform_terminate_defer holds */
static volatile LONG g_pending; /* the event that arrived while held (+1), 0 = none */

static BOOL WINAPI on_console_event(DWORD type)
{
    if (InterlockedCompareExchange(&g_defer, 0, 0) > 0 && InterlockedExchange(&g_pending, (LONG)type + 1) == 0)
        return TRUE; /* handled: the holder ends the process once it is done (a second event: now) */
    void (*fn)(void) = g_on_terminate;
    g_on_terminate = NULL;
    if (fn)
        fn();
    return FALSE; /* the default handler ends the process */
}

void platform_on_terminate(void (*fn)(void))
{
    g_on_terminate = fn;
    SetConsoleCtrlHandler(on_console_event, fn || g_defer > 0 ? TRUE : FALSE);
}

void platform_terminate_defer(bool hold)
{
    if (hold) {
        if (InterlockedIncrement(&g_defer) == 1)
            SetConsoleCtrlHandler(on_console_event, TRUE);
        return;
    }
    if (InterlockedDecrement(&g_defer) == 0 && g_pending) {
        void (*fn)(void) = g_on_terminate;
        g_on_terminate = NULL;
        if (fn)
            fn();
        ExitProcess(STATUS_CONTROL_C_EXIT);
    }
}

int platform_terminate_pending(void) { return (int)g_pending; }

bool platform_tls_system_store(void) { return true; }

/* ---- loadable modules --------------------------------------------------------------------- */

void *platform_module_open(const char *path, char *why, size_t n)
{
    wchar_t *w = to_wide(path);
    HMODULE m = w ? LoadLibraryExW(w, NULL, LOAD_WITH_ALTERED_SEARCH_PATH) : NULL;
    DWORD e = GetLastError();
    free(w);
    if (!m && why && n) {
        char msg[256] = "";
        FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, e, 0, msg, sizeof msg, NULL);
        msg[strcspn(msg, "\r\n")] = '\0';
        snprintf(why, n, "%s: %s (error %lu)", path, msg[0] ? msg : "cannot load the module", (unsigned long)e);
    }
    return (void *)m;
}

void *platform_module_symbol(void *module, const char *name)
{
    FARPROC f = GetProcAddress((HMODULE)module, name);
    void *p;
    memcpy(&p, &f, sizeof p);
    return p;
}

/* ---- randomness and time ------------------------------------------------------------------ */

int platform_random_bytes(void *buf, size_t n)
{
    return BCryptGenRandom(NULL, buf, (ULONG)n, BCRYPT_USE_SYSTEM_PREFERRED_RNG) == 0 ? 0 : EIO;
}

int64_t platform_now_ms(void)
{
    FILETIME ft;
    GetSystemTimePreciseAsFileTime(&ft);
    int64_t t = ((int64_t)ft.dwHighDateTime << 32) | ft.dwLowDateTime; /* 100 ns since 1601 */
    return (t - 116444736000000000LL) / 10000;
}

int64_t platform_monotonic_ns(void)
{
    static LARGE_INTEGER freq;
    LARGE_INTEGER now;
    if (!freq.QuadPart)
        QueryPerformanceFrequency(&freq);
    QueryPerformanceCounter(&now);
    return (int64_t)(now.QuadPart / freq.QuadPart) * 1000000000LL +
           (int64_t)(now.QuadPart % freq.QuadPart) * 1000000000LL / freq.QuadPart;
}

void platform_sleep_ms(int64_t ms)
{
    if (ms > 0)
        Sleep(ms > 0x7fffffff ? 0x7fffffff : (DWORD)ms);
}

int platform_gmtime(int64_t epoch_sec, struct tm *out)
{
    __time64_t t = (__time64_t)epoch_sec;
    return _gmtime64_s(out, &t) == 0 ? 0 : -1;
}

unsigned long platform_pid(void) { return (unsigned long)GetCurrentProcessId(); }

bool platform_process_alive(unsigned long pid)
{
    HANDLE h = pid ? OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, (DWORD)pid) : NULL;
    DWORD code = 0;
    bool alive = h && GetExitCodeProcess(h, &code) && code == STILL_ACTIVE;
    if (h)
        CloseHandle(h);
    return alive;
}

/* ---- files, folders, environment ---------------------------------------------------------- */

const char *platform_getenv(const char *name, void *user)
{
    (void)user;
    return getenv(name);
}

char *platform_temp_dir(void)
{
    wchar_t w[MAX_PATH + 2];
    DWORD n = GetTempPathW(sizeof w / sizeof w[0], w);
    if (n == 0 || n >= sizeof w / sizeof w[0])
        return dup_str(".");
    if (n > 1 && (w[n - 1] == L'\\' || w[n - 1] == L'/'))
        w[n - 1] = L'\0';
    return to_utf8(w);
}

char *platform_state_dir(const char *app, platform_getenv_fn fn, void *user, const char **missing)
{
    if (!fn)
        fn = platform_getenv;
    if (missing)
        *missing = "LOCALAPPDATA";
    const char *base = fn("LOCALAPPDATA", user);
    if (!base || !*base)
        return NULL;
    size_t n = strlen(base) + strlen(app) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s\\%s", base, app);
    return p;
}

char *platform_make_temp_dir(const char *parent, const char *prefix)
{
    for (int attempt = 0; attempt < 100; attempt++) {
        unsigned char r[6];
        if (platform_random_bytes(r, sizeof r) != 0) {
            errno = EIO;
            return NULL;
        }
        static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
        char suffix[7];
        for (int i = 0; i < 6; i++)
            suffix[i] = alphabet[r[i] % 36];
        suffix[6] = '\0';
        size_t n = strlen(parent) + strlen(prefix) + 8;
        char *p = malloc(n);
        if (!p) {
            errno = ENOMEM;
            return NULL;
        }
        snprintf(p, n, "%s\\%s%s", parent, prefix, suffix);
        int rc = platform_mkdir_private(p);
        if (rc == 0)
            return p;
        free(p);
        if (rc != EEXIST) {
            errno = rc;
            return NULL;
        }
    }
    errno = EEXIST;
    return NULL;
}

/* The folder inherits the ACL of its parent, which under %LOCALAPPDATA% / %TEMP% is the user's. */
int platform_mkdir_private(const char *path)
{
    wchar_t *w = to_wide(path);
    if (!w)
        return ENOMEM;
    int rc = CreateDirectoryW(w, NULL) ? 0 : errno_of(GetLastError());
    free(w);
    return rc;
}

int platform_open_append(const char *path)
{
    wchar_t *w = to_wide(path);
    if (!w) {
        errno = ENOMEM;
        return -1;
    }
    int fd = _wopen(w, _O_WRONLY | _O_APPEND | _O_CREAT | _O_BINARY | _O_NOINHERIT, _S_IREAD | _S_IWRITE);
    free(w);
    return fd;
}

int platform_fsync(int fd) { return _commit(fd) == 0 ? 0 : errno; }

int platform_remove(const char *path)
{
    wchar_t *w = to_wide(path);
    if (!w)
        return ENOMEM;
    int rc = (DeleteFileW(w) || RemoveDirectoryW(w)) ? 0 : errno_of(GetLastError());
    free(w);
    return rc;
}

bool platform_is_file(const char *path)
{
    wchar_t *w = to_wide(path);
    DWORD a = w ? GetFileAttributesW(w) : INVALID_FILE_ATTRIBUTES;
    free(w);
    return a != INVALID_FILE_ATTRIBUTES && !(a & FILE_ATTRIBUTE_DIRECTORY);
}

int platform_setenv(const char *name, const char *value)
{
    return _putenv_s(name, value ? value : "") == 0 ? 0 : EINVAL;
}

/* ---- child processes ---------------------------------------------------------------------- */

struct platform_child {
    HANDLE process;
    HANDLE lifeline; /* write end of the child's stdin, or NULL */
    HANDLE out[2];   /* read ends of stdout, stderr; NULL when closed or not captured */
    bool reaped;
    DWORD code;
};

static void close_handle(HANDLE *h)
{
    if (*h)
        CloseHandle(*h);
    *h = NULL;
}

/* Appends arg to the command line with the quoting CommandLineToArgvW and the C runtime undo. */
static void quote_arg(wchar_t *cmd, size_t cap, size_t *len, const wchar_t *arg)
{
#define PUT(ch) do { if (*len + 1 < cap) cmd[(*len)++] = (ch); } while (0)
    if (*len)
        PUT(L' ');
    bool plain = *arg && !wcspbrk(arg, L" \t\n\v\"");
    if (plain) {
        for (const wchar_t *p = arg; *p; p++)
            PUT(*p);
    } else {
        PUT(L'"');
        for (const wchar_t *p = arg;; p++) {
            size_t bs = 0;
            while (*p == L'\\') {
                p++;
                bs++;
            }
            if (!*p) {
                for (size_t i = 0; i < bs * 2; i++)
                    PUT(L'\\');
                break;
            }
            if (*p == L'"') {
                for (size_t i = 0; i < bs * 2 + 1; i++)
                    PUT(L'\\');
            } else {
                for (size_t i = 0; i < bs; i++)
                    PUT(L'\\');
            }
            PUT(*p);
        }
        PUT(L'"');
    }
    cmd[*len] = L'\0';
#undef PUT
}

/* A pipe whose `child_end` (0 read, 1 write) is inheritable and whose other end is not. */
static int make_pipe(HANDLE p[2], int child_end)
{
    SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, TRUE};
    if (!CreatePipe(&p[0], &p[1], &sa, 0))
        return errno_of(GetLastError());
    SetHandleInformation(p[1 - child_end], HANDLE_FLAG_INHERIT, 0);
    return 0;
}

int platform_spawn(const char *const argv[], unsigned flags, struct platform_child **out)
{
    *out = NULL;
    enum { CMD_MAX = 32767 };
    wchar_t *cmd = calloc(CMD_MAX, sizeof *cmd);
    size_t len = 0;
    if (!cmd)
        return ENOMEM;
    if (flags & PLATFORM_SPAWN_SCRIPT) { /* az is az.cmd: cmd.exe finds and runs it */
        quote_arg(cmd, CMD_MAX, &len, L"cmd.exe");
        quote_arg(cmd, CMD_MAX, &len, L"/d");
        quote_arg(cmd, CMD_MAX, &len, L"/c");
    }
    for (size_t i = 0; argv[i]; i++) {
        wchar_t *w = to_wide(argv[i]);
        if (!w) {
            free(cmd);
            return ENOMEM;
        }
        quote_arg(cmd, CMD_MAX, &len, w);
        free(w);
    }
    HANDLE in[2] = {NULL, NULL}, o[2] = {NULL, NULL}, e[2] = {NULL, NULL}, nul = NULL;
    int rc = make_pipe(o, 1);
    if (!rc && (flags & PLATFORM_SPAWN_STDIN_LIFELINE))
        rc = make_pipe(in, 0);
    if (!rc && (flags & PLATFORM_SPAWN_CAPTURE_STDERR))
        rc = make_pipe(e, 1);
    if (!rc && !in[0]) {
        SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, TRUE};
        nul = CreateFileW(L"NUL", GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, &sa, OPEN_EXISTING, 0, NULL);
    }
    PROCESS_INFORMATION pi;
    memset(&pi, 0, sizeof pi);
    if (!rc) {
        STARTUPINFOW si;
        memset(&si, 0, sizeof si);
        si.cb = sizeof si;
        si.dwFlags = STARTF_USESTDHANDLES;
        si.hStdInput = in[0] ? in[0] : nul;
        si.hStdOutput = o[1];
        si.hStdError = e[1] ? e[1] : GetStdHandle(STD_ERROR_HANDLE);
        if (!CreateProcessW(NULL, cmd, NULL, NULL, TRUE, CREATE_NO_WINDOW, NULL, NULL, &si, &pi))
            rc = errno_of(GetLastError());
    }
    free(cmd);
    close_handle(&in[0]);
    close_handle(&o[1]);
    close_handle(&e[1]);
    close_handle(&nul);
    struct platform_child *c = rc ? NULL : calloc(1, sizeof *c);
    if (!c) {
        if (!rc) {
            TerminateProcess(pi.hProcess, 1);
            CloseHandle(pi.hProcess);
            CloseHandle(pi.hThread);
            rc = ENOMEM;
        }
        close_handle(&in[1]);
        close_handle(&o[0]);
        close_handle(&e[0]);
        return rc;
    }
    CloseHandle(pi.hThread);
    c->process = pi.hProcess;
    c->lifeline = in[1];
    c->out[0] = o[0];
    c->out[1] = e[0];
    *out = c;
    return 0;
}

/* Anonymous pipes cannot be waited on with a timeout: peek, read what is there, else nap. */
int platform_child_read(struct platform_child *c, int64_t deadline_ms, platform_on_output on_output, void *user)
{
    while (c->out[0] || c->out[1]) {
        bool any = false;
        for (int i = 0; i < 2; i++) {
            if (!c->out[i])
                continue;
            DWORD avail = 0;
            if (!PeekNamedPipe(c->out[i], NULL, 0, NULL, &avail, NULL)) {
                close_handle(&c->out[i]); /* broken pipe: the child closed it */
                continue;
            }
            if (!avail)
                continue;
            char chunk[4096];
            DWORD n = 0;
            if (!ReadFile(c->out[i], chunk, avail < sizeof chunk ? avail : sizeof chunk, &n, NULL) || n == 0) {
                close_handle(&c->out[i]);
                continue;
            }
            any = true;
            if (on_output && on_output(i, chunk, n, user))
                return 0;
        }
        if (any)
            continue;
        if (platform_monotonic_ns() / 1000000 >= deadline_ms)
            return ETIMEDOUT;
        Sleep(5);
    }
    return 0;
}

void platform_child_kill(struct platform_child *c)
{
    if (c && c->process && !c->reaped)
        TerminateProcess(c->process, 1);
}

int platform_child_wait(struct platform_child *c, int *exit_code)
{
    if (!c->reaped) {
        if (WaitForSingleObject(c->process, INFINITE) != WAIT_OBJECT_0)
            return errno_of(GetLastError());
        GetExitCodeProcess(c->process, &c->code);
        c->reaped = true;
    }
    if (exit_code)
        *exit_code = (int)c->code;
    return 0;
}

void platform_child_close_stdin(struct platform_child *c) { close_handle(&c->lifeline); }

void platform_child_stop(struct platform_child *c)
{
    if (!c)
        return;
    platform_child_close_stdin(c);
    /* a child watching its stdin exits on its own; give it a moment, then end it */
    if (c->process && !c->reaped && WaitForSingleObject(c->process, 2000) != WAIT_OBJECT_0)
        TerminateProcess(c->process, 1);
    platform_child_wait(c, NULL);
}

void platform_child_free(struct platform_child *c)
{
    if (!c)
        return;
    close_handle(&c->lifeline);
    close_handle(&c->out[0]);
    close_handle(&c->out[1]);
    close_handle(&c->process);
    free(c);
}
#endif
