/* journal: the change journal (AIGW_AUDIT_LOG) — one JSON object per line, appended with a single
 * write() on an O_APPEND file then fsync'd; a torn last line (crash, full disk) is ended before
 * the next record and skipped by readers; read back by change_id for revert_change (change.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "change.h"
#include "platform.h"

/* Creates every missing directory above path (mode 0700). */
static int make_parents(const char *path, util_error *err)
{
    char *dir = util_strdup(path);
    int rc = 0;
    for (char *p = dir + 1; *p && !rc; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int e = platform_mkdir_private(dir);
        if (e != 0 && e != EEXIST)
            rc = util_error_set(err, UTIL_EIO, "cannot create the journal directory %s (%s); set AIGW_AUDIT_LOG to "
                                "a writable path", dir, strerror(e));
        *p = '/';
    }
    free(dir);
    return rc;
}

/* Opens the journal for appending (creating it and its directories). fd, or -1 with err. */
static int open_journal(const char *path, util_error *err)
{
    if (!path || !*path)
        return util_error_set(err, UTIL_ECONFIG, "no change journal is configured; set AIGW_AUDIT_LOG to a file "
                              "path"), -1;
    if (make_parents(path, err))
        return -1;
    int fd = platform_open_append(path);
    struct stat st;
    const char *why = fd < 0 ? strerror(errno) : NULL;
    if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
        close(fd);
        fd = -1;
        why = "not a regular file";
    }
    if (fd < 0)
        util_error_set(err, UTIL_EIO, "cannot open the change journal %s for writing (%s); set AIGW_AUDIT_LOG to a "
                       "writable file", path, why);
    return fd;
}

int change_journal_check(const char *path, util_error *err)
{
    int fd = open_journal(path, err);
    if (fd < 0)
        return err->code;
    close(fd);
    return 0;
}

/* True when the file ends in the middle of a line (a record cut by a crash or a full disk). */
static bool partial_tail(const char *path)
{
    FILE *f = fopen(path, "rb");
    int last = '\n';
    if (f && fseek(f, -1, SEEK_END) == 0 && (last = fgetc(f)) == EOF)
        last = '\n';
    if (f)
        fclose(f);
    return last != '\n';
}

int change_journal_append(const char *path, const json_t *record, util_error *err)
{
    int fd = open_journal(path, err);
    if (fd < 0)
        return err->code;
    char *json = json_dumps(record, JSON_COMPACT);
    if (!json) {
        close(fd);
        return util_error_set(err, UTIL_ENOMEM, "cannot serialise the journal record");
    }
    /* a partial last line is ended first, in the same write, so the record starts a line of its
     * own (the torn line is skipped by readers as unparseable) */
    char *line = util_printf("%s%s\n", partial_tail(path) ? "\n" : "", json);
    free(json);
    size_t len = strlen(line);
    int rc = 0;
    ssize_t n = write(fd, line, len);
    if (n != (ssize_t)len || (errno = platform_fsync(fd)) != 0)
        rc = util_error_set(err, UTIL_EIO, "cannot write the change journal %s (%s)", path,
                            n < 0 || n == (ssize_t)len ? strerror(errno) : "short write");
    close(fd);
    free(line);
    return rc;
}

/* The record of line [s, e) when its change_id is id (NEW reference), else NULL. */
static json_t *match_line(const char *s, const char *e, const char *id)
{
    if (e - s < 2 || !util_memmem(s, (size_t)(e - s), id, strlen(id)))
        return NULL;
    json_t *rec = json_loadb(s, (size_t)(e - s), 0, NULL);
    const char *cid = json_string_value(json_object_get(rec, "change_id"));
    if (cid && !strcmp(cid, id))
        return rec;
    json_decref(rec);
    return NULL;
}

int change_journal_find(const char *path, const char *id, json_t **record, util_error *err)
{
    *record = NULL;
    if (!path || !*path)
        return util_error_set(err, UTIL_ECONFIG, "no change journal is configured; set AIGW_AUDIT_LOG to a file path");
    char *text = NULL;
    size_t len = 0;
    if (util_read_file(path, CHANGE_JOURNAL_MAX_BYTES, &text, &len, err) != 0) {
        if (err->code == UTIL_ELIMIT)
            return util_error_set(err, UTIL_ELIMIT, "the change journal %s is larger than %u MiB; archive it and "
                                  "revert by hand", path, CHANGE_JOURNAL_MAX_BYTES >> 20);
        char why[UTIL_ERROR_MAX];
        snprintf(why, sizeof why, "%s", err->message);
        return util_error_set(err, UTIL_ENOTFOUND, "change %s cannot be found: the journal cannot be read (%s)", id,
                              why);
    }
    for (const char *s = text, *end = text + len; s < end;) {
        const char *e = memchr(s, '\n', (size_t)(end - s));
        if (!e)
            e = end;
        json_t *rec = match_line(s, e, id);
        if (rec) {
            json_decref(*record);
            *record = rec;
        }
        s = e + 1;
    }
    free(text);
    if (!*record)
        return util_error_set(err, UTIL_ENOTFOUND, "no change %s in the journal %s; use the change_id a write tool "
                              "returned", id, path);
    return 0;
}

json_t *change_journal_pending(const char *path)
{
    char *text = NULL;
    size_t len = 0;
    util_error err = {0};
    json_t *pending = json_array();
    if (!path || !*path || util_read_file(path, CHANGE_JOURNAL_MAX_BYTES, &text, &len, &err) != 0 ||
        !util_memmem(text, len, "\"pending\"", 9)) {
        free(text);
        return pending;
    }
    for (const char *s = text, *end = text + len; s < end;) {
        const char *e = memchr(s, '\n', (size_t)(end - s));
        if (!e)
            e = end;
        json_t *rec = e - s > 1 ? json_loadb(s, (size_t)(e - s), 0, NULL) : NULL;
        const char *status = json_string_value(json_object_get(rec, "status"));
        const char *resolves = json_string_value(json_object_get(rec, "resolves"));
        json_t *p;
        size_t i;
        if (status && !strcmp(status, "pending"))
            json_array_append(pending, rec);
        else if (resolves) /* a later record settled it */
            json_array_foreach(pending, i, p)
                if (!strcmp(json_string_value(json_object_get(p, "change_id")), resolves)) {
                    json_array_remove(pending, i);
                    break;
                }
        json_decref(rec);
        s = e + 1;
    }
    free(text);
    return pending;
}

/* Removes the drill id from open (an object id -> record). */
static void close_drill(json_t *open, const char *id)
{
    if (id)
        json_object_del(open, id);
}

json_t *change_journal_open_drills(const char *path)
{
    char *text = NULL;
    size_t len = 0;
    util_error err = {0};
    json_t *open = json_object(), *out = json_array();
    if (!path || !*path || util_read_file(path, CHANGE_JOURNAL_MAX_BYTES, &text, &len, &err) != 0 ||
        !util_memmem(text, len, "\"drill\"", 7)) {
        free(text);
        json_decref(open);
        return out;
    }
    for (const char *s = text, *end = text + len; s < end;) {
        const char *e = memchr(s, '\n', (size_t)(end - s));
        if (!e)
            e = end;
        json_t *rec = e - s > 1 ? json_loadb(s, (size_t)(e - s), 0, NULL) : NULL;
        const char *id = json_string_value(json_object_get(rec, "change_id"));
        const char *status = json_string_value(json_object_get(rec, "status"));
        if (id && json_is_object(json_object_get(rec, "drill")) && json_is_array(json_object_get(rec, "resources")))
            json_object_set(open, id, rec); /* an open drill, or its later (applied) record */
        close_drill(open, json_string_value(json_object_get(rec, "closes")));
        if (status && !strcmp(status, "applied"))
            close_drill(open, json_string_value(json_object_get(rec, "reverts")));
        json_decref(rec);
        s = e + 1;
    }
    free(text);
    const char *key;
    json_t *v;
    json_object_foreach(open, key, v) /* jansson keeps insertion order: oldest first */
        json_array_append(out, v);
    json_decref(open);
    return out;
}
