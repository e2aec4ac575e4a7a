/*
 * platform: every operating-system-specific call of the project, behind one interface, with a
 * POSIX implementation (Linux, macOS: src/platform/posix.c) and a Windows one
 * (src/platform/windows.c). It sits at the bottom beside util (util uses it, never the reverse)
 * and depends on nothing of the project. It owns: the executable's path, child processes
 * (apim-sim for --demo, `az` for the CLI credential), loading the engine library, random bytes,
 * clocks and sleeping, the temporary and per-user state folders, environment changes, private
 * folders and durable writes, termination cleanup, and binary-mode stdio.
 *
 * Paths are UTF-8 (converted to UTF-16 on Windows). Errors are errno values (ENOENT, EIO, ...),
 * never messages: callers write the sentence. Ownership: every char * returned is malloc'd and
 * the caller's to free; a platform_child is freed by platform_child_free().
 */
#ifndef AIGW_PLATFORM_H
#define AIGW_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- the program itself ------------------------------------------------------------------- */

/* The folder holding the running executable (no trailing separator), or NULL. */
char *platform_exe_dir(void);

/* The file name suffix of executables ("" or ".exe"). Paths may use "/" everywhere. */
#ifdef _WIN32
#define PLATFORM_EXE_SUFFIX ".exe"
#else
#define PLATFORM_EXE_SUFFIX ""
#endif

/* Sets stdin and stdout to binary mode (no CRLF translation on Windows; nothing on POSIX). */
void platform_stdio_binary(void);

/* A write to a closed pipe returns an error instead of killing the process (SIGPIPE). */
void platform_ignore_sigpipe(void);

/* Runs fn (async-signal-safe work only: unlink, rmdir) when the process is asked to terminate
 * (SIGTERM, SIGINT, SIGHUP; console close or Ctrl-C on Windows), then lets the default action
 * end the process. One function; a second call replaces it; NULL removes it. */
void platform_on_terminate(void (*fn)(void));
/* Holds (hold true) or releases a deferral of termination: while at least one hold is on, SIGTERM,
 * SIGINT and SIGHUP (console events on Windows) are only recorded (platform_terminate_pending);
 * when the last hold is released with one recorded, the process terminates as it would have
 * (the platform_on_terminate function first). A second signal (event) while held terminates at
 * once. For work that must finish before exit (putting a drilled backend back). */
void platform_terminate_defer(bool hold);
/* The termination signal recorded while deferred (non-zero), else 0. Async-signal-safe. */
int platform_terminate_pending(void);

/* true where TLS trust comes from the system's certificate store rather than a CA file (Windows:
 * libcurl with OpenSSL then needs CURLSSLOPT_NATIVE_CA). */
bool platform_tls_system_store(void);

/* Matches s against a POSIX extended regular expression (the MCP layer's JSON Schema "pattern"):
 * 1 when it matches, 0 when not, -1 when the pattern does not compile. POSIX regcomp; on Windows
 * PCRE2's POSIX interface (built with the other Windows dependencies). */
int platform_regex_match(const char *pattern, const char *s);

/* ---- loadable modules --------------------------------------------------------------------- */

/* Opens a module; NULL with a sentence in why (the loader's own message) on failure. */
void *platform_module_open(const char *path, char *why, size_t n);
void *platform_module_symbol(void *module, const char *name);

/* ---- randomness and time ------------------------------------------------------------------ */

/* n bytes from the operating system's CSPRNG. Returns 0 or an errno value. */
int platform_random_bytes(void *buf, size_t n);

int64_t platform_now_ms(void);       /* wall clock, ms since the Unix epoch */
int64_t platform_monotonic_ns(void); /* monotonic clock, ns from an unspecified origin */
void platform_sleep_ms(int64_t ms);
/* gmtime_r / gmtime_s: returns 0 or -1. */
struct tm;
int platform_gmtime(int64_t epoch_sec, struct tm *out);
/* The process id (for log lines and fallback ids). */
unsigned long platform_pid(void);
/* True when a process with that id runs (ids are reused: a hint, not a proof). */
bool platform_process_alive(unsigned long pid);

/* ---- files, folders, environment ---------------------------------------------------------- */

/* getenv as a function, for the lookups below (tests pass their own). */
typedef const char *(*platform_getenv_fn)(const char *name, void *user);
const char *platform_getenv(const char *name, void *user);

/* The temporary folder: TMPDIR (else /tmp) on POSIX, GetTempPath on Windows. */
char *platform_temp_dir(void);

/* The per-user folder for app's state (its change journal): Windows %LOCALAPPDATA%\app, macOS
 * ~/Library/Application Support/app, elsewhere $XDG_STATE_HOME/app or ~/.local/state/app.
 * Variables are read through fn (NULL: the real environment). NULL when none is set; `missing`
 * (may be NULL) then names what to set. */
char *platform_state_dir(const char *app, platform_getenv_fn fn, void *user, const char **missing);

/* Creates a new private (0700) folder under parent with a random name starting with prefix.
 * Returns its path, or NULL with errno set. */
char *platform_make_temp_dir(const char *parent, const char *prefix);

/* mkdir with owner-only access; EEXIST is returned as such. Returns 0 or an errno value. */
int platform_mkdir_private(const char *path);

/* Opens (creating it owner-only, 0600, when missing) a file for appending; not inherited by
 * children. Returns the descriptor, or -1 with errno set. */
int platform_open_append(const char *path);

/* Flushes a file descriptor's data to the disk (fsync / _commit). Returns 0 or an errno value. */
int platform_fsync(int fd);

/* Removes a file or an empty folder. Async-signal-safe on POSIX (unlink, rmdir). Returns 0 or an
 * errno value. */
int platform_remove(const char *path);

/* true when path names an existing regular file. */
bool platform_is_file(const char *path);

/* setenv (value non-NULL) or unsetenv (value NULL). Returns 0 or an errno value. */
int platform_setenv(const char *name, const char *value);

/* ---- child processes ---------------------------------------------------------------------- */

struct platform_child;

enum {
    /* The child's stdin is a pipe only this process holds: it reads EOF as soon as this process
     * ends, however it ends (killed included), which is the child's cue to exit (apim-sim's
     * --exit-on-stdin-eof). Without it the child's stdin is the null device. */
    PLATFORM_SPAWN_STDIN_LIFELINE = 1,
    /* Capture stderr (read as stream 1); without it the child writes to our stderr. */
    PLATFORM_SPAWN_CAPTURE_STDERR = 2,
    /* The program may be a script wrapper found on PATH (az is az.cmd on Windows: run it through
     * cmd.exe). No effect on POSIX. */
    PLATFORM_SPAWN_SCRIPT = 4,
};

/* Starts argv[0] (looked up on PATH when it has no separator) with argv and our environment;
 * stdout is captured (stream 0). Returns 0, ENOENT when the program does not exist, or another
 * errno value. */
int platform_spawn(const char *const argv[], unsigned flags, struct platform_child **out);

/* Called with every chunk the child writes; return non-zero to stop reading. */
typedef int (*platform_on_output)(int stream, const char *data, size_t n, void *user);

/* Reads the child's captured streams until they all close, on_output asks to stop, or the
 * monotonic deadline (platform_monotonic_ns()/1000000 scale, ms) passes. Returns 0, or ETIMEDOUT
 * at the deadline. */
int platform_child_read(struct platform_child *c, int64_t deadline_ms, platform_on_output on_output, void *user);

/* Closes our end of the child's stdin lifeline: the child reads EOF. */
void platform_child_close_stdin(struct platform_child *c);
/* Asks the child to stop: closes its stdin lifeline (if any) and sends SIGTERM (TerminateProcess
 * on Windows), then waits for it. */
void platform_child_stop(struct platform_child *c);
/* Kills the child at once (SIGKILL / TerminateProcess); platform_child_wait still reaps it. */
void platform_child_kill(struct platform_child *c);
/* Waits for the child to exit. *exit_code: its exit status, or -1 when a signal ended it.
 * Returns 0 or an errno value. */
int platform_child_wait(struct platform_child *c, int *exit_code);
/* Closes our ends of the pipes and frees c (the child is not stopped: see platform_child_stop). */
void platform_child_free(struct platform_child *c);

#endif
