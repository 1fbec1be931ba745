/*
 * libFuzzer harness for the configuration loader at start: the input is a
 * config.json, read from a file by vsw_config_load() (config-store.c) and
 * turned into a desired state by the pure step mgr_config_parse()
 * (config.c), with no threads, devices or plugins.  Build and run with
 * tests/fuzz/build.sh and run.sh.
 *
 * Oracles besides memory safety and leaks:
 *   - a file the loader refuses is left byte for byte as it was;
 *   - a file it accepts saves back (the desired state written as
 *     config.json keeps it, through vsw_config_save()) to a file that
 *     loads again with nothing rejected and into the same desired state:
 *     load -> save -> load -> save gives equal documents.
 *
 * fuzz-options: -max_len=65536
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config-store.h"
#include "config.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char work_dir[64];
static char input_path[96];
static char saved_path[96];

static void
remove_work_dir(void)
{
    unlink(input_path);
    unlink(saved_path);
    rmdir(work_dir);
}

/* 'desired' as config.json keeps it (config.c's config_to_json(), from a
 * desired state instead of a running manager). */
static json_t *
desired_to_json(const struct mgr_desired *desired)
{
    json_t *switches = json_array();
    json_t *extensions = json_object_get(desired->document, "extensions");

    for (size_t i = 0; i < desired->n_switches; i++) {
        const struct mgr_desired_switch *sw = &desired->switches[i];
        json_t *settings = json_object();
        json_t *ports = json_array();

        vsw_settings_to_json(&mgr_switch_kind, &sw->cfg, settings);
        for (size_t j = 0; j < sw->n_ports; j++) {
            const struct mgr_desired_port *p = &sw->ports[j];
            json_t *port_settings = json_object();
            json_t *obj;

            vsw_settings_to_json(&mgr_port_kind, &p->cfg, port_settings);
            obj =
                json_pack("{s:s, s:o, s:O, s:O}", "name", p->name, "settings",
                          port_settings, "acls", p->acls, "xacls", p->xacls);
            if (p->tap_location) {
                json_object_set(obj, "tap-location", p->tap_location);
            }
            json_array_append_new(ports, obj);
        }
        json_array_append_new(switches,
                              json_pack("{s:s, s:o, s:o}", "name", sw->name,
                                        "settings", settings, "ports", ports));
    }
    return json_pack("{s:i, s:o, s:o}", "format", MGR_CONFIG_FORMAT,
                     "switches", switches, "extensions",
                     extensions ? json_incref(extensions) : json_array());
}

/* Loads the file at 'path' into a desired state, as a start does. */
static int
load(const char *path, struct mgr_desired **desiredp)
{
    char err[512] = "";
    json_t *root = NULL;
    int error;

    *desiredp = NULL;
    error = vsw_config_load(path, &root, err, sizeof err);
    if (error) {
        return error;
    }
    error = mgr_config_parse(root, path, desiredp, err, sizeof err);
    json_decref(root);
    return error;
}

static bool
file_equals(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = malloc(size + 1);
    size_t n = 0;
    bool same;

    if (!f || !buf) {
        abort();
    }
    n = fread(buf, 1, size + 1, f);
    fclose(f);
    same = n == size && !memcmp(buf, data, size);
    free(buf);
    return same;
}

static void
write_file(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");

    if (!f || fwrite(data, 1, size, f) != size || fclose(f)) {
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool initialized;
    struct mgr_desired *first, *second;
    json_t *saved, *saved_again;

    if (!initialized) {
        /* tmpfs when there is one: the fuzzer writes a file per input. */
        snprintf(work_dir, sizeof work_dir, "%s/vsw-config-fuzz.XXXXXX",
                 access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm");
        if (!mkdtemp(work_dir)) {
            abort();
        }
        snprintf(input_path, sizeof input_path, "%s/config.json", work_dir);
        snprintf(saved_path, sizeof saved_path, "%s/saved.json", work_dir);
        atexit(remove_work_dir);
        vsw_log_open("/dev/null");
        initialized = true;
    }
    write_file(input_path, data, size);
    if (load(input_path, &first)) {
        if (!file_equals(input_path, data, size)) {
            abort(); /* a refused file was changed */
        }
        return 0;
    }

    saved = desired_to_json(first);
    if (!saved || vsw_config_save(saved_path, saved)) {
        abort();
    }
    if (load(saved_path, &second)) {
        abort(); /* what the loader accepted does not load back */
    }
    if (second->n_rejected) {
        abort(); /* ... or loses entries on the way */
    }
    saved_again = desired_to_json(second);
    if (!json_equal(saved, saved_again)) {
        abort(); /* ... or means something else */
    }
    json_decref(saved);
    json_decref(saved_again);
    mgr_desired_destroy(first);
    mgr_desired_destroy(second);
    return 0;
}
