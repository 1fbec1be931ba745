#include "config-store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The rest of the file open as 'fd', in a buffer the caller frees; its
 * length in '*lenp'.  NULL, with errno set, on a read error or no
 * memory. */
static char *
read_all(int fd, size_t *lenp)
{
    size_t len = 0, size = 4096;
    char *text = malloc(size);

    while (text) {
        ssize_t n;
        char *bigger;

        if (len == size) {
            bigger = realloc(text, size * 2);
            if (!bigger) {
                break;
            }
            text = bigger;
            size *= 2;
        }
        n = read(fd, text + len, size - len);
        if (n == 0) {
            *lenp = len;
            return text;
        }
        if (n < 0 && errno != EINTR) {
            break;
        }
        len += n > 0 ? (size_t)n : 0;
    }
    free(text);
    return NULL;
}

int
vsw_config_load(const char *path, json_t **root, char *errbuf, size_t errlen)
{
    json_error_t jerr;
    struct stat st;
    json_t *json;
    char *text;
    size_t len;
    int error;
    int fd;

    *root = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    if (fstat(fd, &st) < 0) {
        error = -errno;
        close(fd);
        return error;
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return -EISDIR;
    }
    /* Read whole, then parsed: json_loadfd() reads a byte per system
     * call. */
    text = read_all(fd, &len);
    error = text ? 0 : -errno;
    close(fd);
    if (!text) {
        return error;
    }
    /* A key given twice would leave it to chance which value wins. */
    json = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (!json) {
        snprintf(errbuf, errlen, "%s: line %d column %d: %s", path, jerr.line,
                 jerr.column, jerr.text);
        return -EINVAL;
    }
    if (!json_is_object(json)) {
        snprintf(errbuf, errlen, "%s: top level is not a JSON object", path);
        json_decref(json);
        return -EINVAL;
    }
    *root = json;
    return 0;
}

/* Makes a rename in the directory of 'path' durable. */
static int
config_sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    int error = 0;
    int fd;

    if (!slash) {
        dir = strdup(".");
    } else {
        dir = strndup(path, slash == path ? 1 : (size_t)(slash - path));
    }
    if (!dir) {
        return -ENOMEM;
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) < 0) {
        error = -errno;
    }
    if (fd >= 0) {
        close(fd);
    }
    free(dir);
    return error;
}

/* Writes 'text' and a newline to the new file 'tmp', durably.  Returns 0
 * or a negative errno. */
static int
config_write_file(const char *tmp, const char *text)
{
    size_t len = strlen(text);
    FILE *stream;
    int error = 0;
    int fd;

    /* O_NOFOLLOW: a symlink planted at the temporary name must not
     * redirect the write. */
    fd =
        open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        return -errno;
    }
    stream = fdopen(fd, "w");
    if (!stream) {
        error = -errno;
        close(fd);
        return error;
    }
    /* The umask may only take bits away, but a stale file reused by
     * O_TRUNC keeps its old mode. */
    errno = 0;
    if (fchmod(fd, 0600) < 0 || fwrite(text, 1, len, stream) != len ||
        fputc('\n', stream) == EOF || fflush(stream) == EOF || fsync(fd) < 0) {
        error = errno ? -errno : -EIO;
    }
    if (fclose(stream) == EOF && !error) {
        error = -errno;
    }
    return error;
}

int
vsw_config_save_text(const char *path, const char *text)
{
    char *tmp;
    int error;

    if (asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0) {
        return -ENOMEM;
    }
    error = config_write_file(tmp, text);
    if (!error && rename(tmp, path) < 0) {
        error = -errno;
    }
    if (error) {
        unlink(tmp);
        free(tmp);
        return error;
    }
    free(tmp);
    /* Past the rename the new file is in place; an error here means only
     * that it might not survive a crash. */
    return config_sync_dir(path);
}

int
vsw_config_save(const char *path, const json_t *root)
{
    char *text;
    int error;

    /* Never write what vsw_config_load() would refuse. */
    if (!json_is_object(root)) {
        return -EINVAL;
    }
    /* Made in memory and written at once: json_dumpf() would call
     * fwrite() for every token. */
    errno = 0;
    text = json_dumps(root, VSW_CONFIG_DUMP_FLAGS);
    if (!text) {
        /* jansson fails without errno only if it cannot encode 'root'. */
        return errno ? -errno : -EINVAL;
    }
    error = vsw_config_save_text(path, text);
    free(text);
    return error;
}
