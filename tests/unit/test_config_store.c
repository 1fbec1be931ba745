/* The crash-safe configuration file. */
#include "config-store.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* A fresh directory per test, removed with its contents on teardown. */
static char dir[64];
static char path[128];

static void
setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/vsw-test-config-%ld-XXXXXX",
             (long)getpid());
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/config.json", dir);
}

static void
teardown(void)
{
    DIR *d = opendir(dir);
    struct dirent *de;

    while (d && (de = readdir(d))) {
        char name[512];

        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            snprintf(name, sizeof name, "%s/%s", dir, de->d_name);
            unlink(name);
        }
    }
    if (d) {
        closedir(d);
    }
    rmdir(dir);
}

/* Number of entries in the test directory besides "." and "..". */
static int
count_files(void)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;

    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d))) {
        n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
    }
    closedir(d);
    return n;
}

static void
write_file(const char *name, const char *text)
{
    FILE *f = fopen(name, "w");

    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

/* The whole text of the file at 'name' (the caller frees it). */
static char *
read_file(const char *name)
{
    FILE *f = fopen(name, "r");
    char *text = calloc(1, 1 << 20);

    ck_assert_ptr_nonnull(f);
    ck_assert_uint_gt(fread(text, 1, (1 << 20) - 1, f), 0);
    fclose(f);
    return text;
}

static json_t *
sample_config(void)
{
    return json_pack("{s:{s:{s:i, s:[i,i]}}, s:s, s:b}", "switches", "br0",
                     "vlan", 10, "trunk", 20, 30, "name", "caf\xc3\xa9",
                     "enabled", 1);
}

START_TEST(test_round_trip)
{
    json_t *config = sample_config();
    json_t *loaded = NULL;
    char errbuf[256] = "";
    struct stat st;
    char *text;

    ck_assert_int_eq(vsw_config_save(path, config), 0);
    ck_assert_int_eq(vsw_config_load(path, &loaded, errbuf, sizeof errbuf), 0);
    ck_assert(json_equal(config, loaded));

    /* Sorted, indented, ending in a newline; private to the daemon. */
    text = read_file(path);
    ck_assert_ptr_nonnull(strstr(text, "{\n  \"enabled\": true,\n"));
    ck_assert_int_eq(text[strlen(text) - 1], '\n');
    free(text);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0600);

    /* Saving again replaces the file, and no temporary file is left. */
    json_object_set_new(config, "enabled", json_false());
    ck_assert_int_eq(vsw_config_save(path, config), 0);
    json_decref(loaded);
    ck_assert_int_eq(vsw_config_load(path, &loaded, errbuf, sizeof errbuf), 0);
    ck_assert(json_equal(config, loaded));
    ck_assert_int_eq(count_files(), 1);

    json_decref(loaded);
    json_decref(config);
}
END_TEST

/* A file of many read buffers (the loader reads it whole, growing its
 * buffer, before parsing) loads as it was saved. */
START_TEST(test_round_trip_large)
{
    json_t *config = json_object();
    json_t *ports = json_array();
    json_t *loaded = NULL;
    char errbuf[256] = "";

    for (int i = 0; i < 5000; i++) {
        json_array_append_new(ports, json_pack("{s:i, s:s}", "vlan", i % 4094,
                                               "name", "a-port-name"));
    }
    json_object_set_new(config, "ports", ports);
    ck_assert_int_eq(vsw_config_save(path, config), 0);
    ck_assert_int_eq(vsw_config_load(path, &loaded, errbuf, sizeof errbuf), 0);
    ck_assert(json_equal(config, loaded));
    json_decref(loaded);
    json_decref(config);
}
END_TEST

START_TEST(test_relative_path)
{
    json_t *config = sample_config();
    json_t *loaded = NULL;

    ck_assert_int_eq(chdir(dir), 0);
    ck_assert_int_eq(vsw_config_save("config.json", config), 0);
    ck_assert_int_eq(vsw_config_load("config.json", &loaded, NULL, 0), 0);
    ck_assert(json_equal(config, loaded));
    ck_assert_int_eq(count_files(), 1);
    json_decref(loaded);
    json_decref(config);
}
END_TEST

START_TEST(test_load_missing)
{
    json_t *loaded = json_null();
    char errbuf[256];

    ck_assert_int_eq(vsw_config_load(path, &loaded, errbuf, sizeof errbuf),
                     -ENOENT);
    ck_assert_ptr_null(loaded);
}
END_TEST

START_TEST(test_load_invalid)
{
    static const char *const bad[] = {
        "garbage",
        "{\"a\": 1",
        "[1, 2]",
        "42",
        "{\"a\": 1, \"a\": 2}",
        "{\"a\": \"\xff\"}",
        "",
    };
    char errbuf[256];

    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *loaded = json_null();

        write_file(path, bad[i]);
        errbuf[0] = '\0';
        ck_assert_int_eq(vsw_config_load(path, &loaded, errbuf, sizeof errbuf),
                         -EINVAL);
        ck_assert_ptr_null(loaded);
        ck_assert_msg(strstr(errbuf, path) != NULL, "message: %s", errbuf);
    }
    ck_assert_int_eq(
        vsw_config_load(dir, &(json_t *){NULL}, errbuf, sizeof errbuf),
        -EISDIR);
}
END_TEST

START_TEST(test_save_missing_dir)
{
    char missing[192];
    json_t *config = sample_config();

    snprintf(missing, sizeof missing, "%s/nonexistent/config.json", dir);
    ck_assert_int_eq(vsw_config_save(missing, config), -ENOENT);
    ck_assert_int_eq(count_files(), 0);

    /* A regular file where the directory should be. */
    write_file(path, "{}");
    snprintf(missing, sizeof missing, "%s/config.json", path);
    ck_assert_int_eq(vsw_config_save(missing, config), -ENOTDIR);
    ck_assert_int_eq(count_files(), 1);
    json_decref(config);
}
END_TEST

/* Writes 'config', which must fail with 'error', over a valid file, and
 * checks that the old file is intact and no temporary file remains. */
static void
check_failed_save(const json_t *config, int error)
{
    json_t *old = sample_config();
    json_t *loaded = NULL;

    ck_assert_int_eq(vsw_config_save(path, old), 0);
    ck_assert_int_eq(vsw_config_save(path, config), error);
    ck_assert_int_eq(vsw_config_load(path, &loaded, NULL, 0), 0);
    ck_assert(json_equal(old, loaded));
    ck_assert_int_eq(count_files(), 1);
    json_decref(loaded);
    json_decref(old);
}

/* The write itself fails half-way (here: the file size limit, which root
 * is subject to as well). */
START_TEST(test_save_write_fails)
{
    struct rlimit limit = {.rlim_cur = 4096, .rlim_max = RLIM_INFINITY};
    json_t *config = json_object();
    char key[32];

    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "key%d", i);
        json_object_set_new(config, key, json_string("some value"));
    }
    signal(SIGXFSZ, SIG_IGN);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &limit), 0);
    check_failed_save(config, -EFBIG);
    json_decref(config);
}
END_TEST

/* The rename fails: a directory sits where the temporary file would be
 * renamed to... */
START_TEST(test_save_rename_fails)
{
    json_t *config = sample_config();
    char target[160];

    snprintf(target, sizeof target, "%s/sub", dir);
    ck_assert_int_eq(mkdir(target, 0700), 0);
    ck_assert_int_eq(vsw_config_save(target, config), -EISDIR);
    ck_assert_int_eq(count_files(), 1);
    ck_assert_int_eq(rmdir(target), 0);
    json_decref(config);
}
END_TEST

/* ...and a root that vsw_config_load() would refuse is never written. */
START_TEST(test_save_not_object)
{
    json_t *array = json_array();

    check_failed_save(array, -EINVAL);
    json_decref(array);
}
END_TEST

START_TEST(test_save_long_path)
{
    char *long_path = malloc(PATH_MAX + 16);
    json_t *config = sample_config();

    snprintf(long_path, PATH_MAX + 16, "%s/", dir);
    memset(long_path + strlen(long_path), 'a', NAME_MAX + 1);
    long_path[strlen(dir) + 1 + NAME_MAX + 1] = '\0';
    ck_assert_int_eq(vsw_config_save(long_path, config), -ENAMETOOLONG);
    ck_assert_int_eq(count_files(), 0);
    free(long_path);
    json_decref(config);
}
END_TEST

static Suite *
config_suite(void)
{
    Suite *s = suite_create("config-store");
    TCase *tc = tcase_create("config-store");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_round_trip_large);
    tcase_add_test(tc, test_relative_path);
    tcase_add_test(tc, test_load_missing);
    tcase_add_test(tc, test_load_invalid);
    tcase_add_test(tc, test_save_missing_dir);
    tcase_add_test(tc, test_save_write_fails);
    tcase_add_test(tc, test_save_rename_fails);
    tcase_add_test(tc, test_save_not_object);
    tcase_add_test(tc, test_save_long_path);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(config_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
