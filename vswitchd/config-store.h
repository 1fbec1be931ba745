/*
 * The configuration file: the daemon's desired state as one JSON document
 * in the state directory.  Writes are crash-safe: the new text goes to a
 * temporary file in the same directory, which is fsync'ed and renamed over
 * the old one, and the directory is fsync'ed, so after a crash at any
 * moment the file holds either the old or the new configuration, never a
 * mix.  Runs on the control thread.
 */
#ifndef VSW_CONFIG_STORE_H
#define VSW_CONFIG_STORE_H 1

#include <jansson.h>
#include <stddef.h>

/* Reads the JSON object at 'path'.  Returns 0 and stores a new reference
 * in '*root'; -ENOENT if the file does not exist; -EINVAL if it is not a
 * JSON object (with a description in 'errbuf', 'errlen' bytes); or another
 * negative errno. */
int vsw_config_load(const char *path, json_t **root, char *errbuf,
                    size_t errlen);

/* Replaces the file at 'path' with 'root' (borrowed), crash-safely.
 * Returns 0 or a negative errno; on failure the old file is untouched and
 * no temporary file is left behind. */
int vsw_config_save(const char *path, const json_t *root);

/* The same with the document already as text ('text', without the final
 * newline), as vsw_config_save() writes it: json_dumps() with
 * VSW_CONFIG_DUMP_FLAGS. */
#define VSW_CONFIG_DUMP_FLAGS (JSON_INDENT(2) | JSON_SORT_KEYS)
int vsw_config_save_text(const char *path, const char *text);

#endif /* VSW_CONFIG_STORE_H */
