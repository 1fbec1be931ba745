/*
 * Unit tests of the extension loader (vswitchd/ext-loader.c) on the real
 * plugins of tests/abi, built by tests/abi/CMakeLists.txt into
 * VSW_ABI_PLUGIN_DIR: every broken plugin is refused with its exact
 * message, the golden plugins (built from the frozen 1.0 header) load and
 * are driven through every op against a fake host, tables of another size
 * are zero-filled or checked, and files with the wrong path, type, owner
 * or mode, or with a truncated or damaged ELF image, are refused without
 * a crash.  Plugins refused by checks 1-3 must not run any code: broken.c
 * has a constructor that leaves a mark when it runs.
 */
#include "ext-loader.h"

#include <check.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef VSW_ABI_PLUGIN_DIR
#error "tests/abi/CMakeLists.txt defines VSW_ABI_PLUGIN_DIR"
#endif

#define ERR_MAX 512

/* The absolute path of plugin 'name' (without ".so"); static storage,
 * valid until the next call. */
static const char *
plugin(const char *name)
{
    static char path[4096];

    snprintf(path, sizeof path, "%s/%s.so", VSW_ABI_PLUGIN_DIR, name);
    return path;
}

/* Opens 'path' and asserts it is refused with 'error' and a message that
 * starts with the path and contains 'text'. */
static void
expect_refused(const char *path, int error, const char *text)
{
    struct vsw_ext_plugin p;
    char err[ERR_MAX];
    int rc;

    rc = vsw_ext_plugin_open(path, getuid(), &p, err, sizeof err);
    ck_assert_msg(rc == error, "%s: got %d (%s), want %d", path, rc, err,
                  error);
    ck_assert_msg(!strncmp(err, path, strlen(path)) &&
                      !strncmp(err + strlen(path), ": ", 2),
                  "message does not start with the path: %s", err);
    ck_assert_msg(strstr(err, text), "message \"%s\" lacks \"%s\"", err, text);
    ck_assert_msg(!strchr(err, '\n'), "message is not one line: %s", err);
    ck_assert_ptr_null(p.dl);
}

/* Opens 'path', which must load; fills '*p'. */
static void
expect_loads(const char *path, uid_t uid, struct vsw_ext_plugin *p)
{
    char err[ERR_MAX];
    int rc;

    rc = vsw_ext_plugin_open(path, uid, p, err, sizeof err);
    ck_assert_msg(rc == 0, "%s: refused (%d): %s", path, rc, err);
    ck_assert_ptr_nonnull(p->dl);
    ck_assert_ptr_nonnull(p->desc);
    ck_assert_str_eq(p->path, path);
}

/* A private directory for copies of plugins; removed by tmp_cleanup(). */
static char tmp_dir[64];

/* Makes the private directory (mode 0700, as mkdtemp() does). */
static void
tmp_setup(void)
{
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/vsw-ext-loader-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp_dir));
}

/* Removes the private directory and everything in it. */
static void
tmp_cleanup(void)
{
    char cmd[128];

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Reads file 'path' whole; '*len' gets its size.  The caller frees. */
static uint8_t *
read_file(const char *path, size_t *len)
{
    struct stat st;
    uint8_t *buf;
    int fd = open(path, O_RDONLY);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(fstat(fd, &st), 0);
    buf = malloc(st.st_size ? st.st_size : 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_int_eq(read(fd, buf, st.st_size), st.st_size);
    close(fd);
    *len = st.st_size;
    return buf;
}

/* Writes 'len' bytes as file 'name' in the private directory with 'mode'
 * (exactly: the umask does not apply); returns its path (static). */
static const char *
write_tmp(const char *name, const void *data, size_t len, mode_t mode)
{
    static char path[256];
    int fd;

    snprintf(path, sizeof path, "%s/%s", tmp_dir, name);
    unlink(path);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
    ck_assert_int_eq(fchmod(fd, mode), 0);
    close(fd);
    return path;
}

/* Copies plugin 'name' into the private directory with 'mode'. */
static const char *
copy_plugin(const char *name, const char *as, mode_t mode)
{
    size_t len;
    uint8_t *image = read_file(plugin(name), &len);
    const char *path = write_tmp(as, image, len, mode);

    free(image);
    return path;
}

/* The golden plugins: name, class, every op, the 1.0 header's layout. */

START_TEST(test_golden_loads)
{
    static const struct {
        const char *file;
        const char *name;
        uint32_t ext_class;
    } golden[] = {
        {"golden_capture", "golden-capture", VSW_EXT_CLASS_CAPTURE},
        {"golden_filter", "golden-filter", VSW_EXT_CLASS_FILTER},
        {"golden_forwarding", "golden-forwarding", VSW_EXT_CLASS_FORWARDING},
    };
    const struct vsw_ext_plugin *prev = NULL;
    struct vsw_ext_plugin p[3];

    for (size_t i = 0; i < 3; i++) {
        expect_loads(plugin(golden[i].file), getuid(), &p[i]);
        ck_assert_str_eq(p[i].name, golden[i].name);
        ck_assert_uint_eq(p[i].ext_class, golden[i].ext_class);
        ck_assert_str_eq(vsw_ext_class_name(p[i].ext_class),
                         golden[i].file + strlen("golden_"));
        ck_assert_uint_eq(p[i].flags, 0);
        ck_assert_uint_eq(p[i].abi_major, 1);
        ck_assert_uint_eq(p[i].abi_minor, 0);
        ck_assert_str_eq(p[i].version, "1.0.0");
        ck_assert_str_eq(p[i].description,
                         "golden 1.0 plugin: every op, every service");
        ck_assert_uint_eq(p[i].ops.size, sizeof(struct vsw_ext_ops));
        ck_assert_uint_eq(p[i].ops.reserved, 0);
        ck_assert_ptr_nonnull(p[i].ops.fini);
        ck_assert_ptr_nonnull(p[i].ops.start);
        ck_assert_ptr_nonnull(p[i].ops.stop);
        ck_assert_ptr_nonnull(p[i].ops.configure);
        ck_assert_ptr_nonnull(p[i].ops.process);
        ck_assert_ptr_nonnull(p[i].ops.port_check);
        ck_assert_ptr_nonnull(p[i].ops.stats);
        ck_assert_ptr_nonnull(p[i].desc->init);
        ck_assert_uint_eq(p[i].desc->magic, VSW_EXT_MAGIC);
        /* Three builds of one source are three separate mappings. */
        ck_assert(!prev || prev->dl != p[i].dl);
        prev = &p[i];
    }
    for (size_t i = 0; i < 3; i++) {
        vsw_ext_plugin_close(&p[i]);
        ck_assert_ptr_null(p[i].dl);
        vsw_ext_plugin_close(&p[i]);
    }
    vsw_ext_plugin_close(NULL);
}
END_TEST

/* Every broken plugin, refused with its exact message. */

START_TEST(test_broken_refused)
{
    char newer[64], major[64];
    const struct {
        const char *file;
        int error;
        const char *text;
    } broken[] = {
        {"broken_newer_minor", -EPROTONOSUPPORT, newer},
        {"broken_wrong_major", -EPROTONOSUPPORT, major},
        {"broken_bad_magic", -ENOEXEC,
         "bad magic 0xdeadbeef (not a vswitch extension)"},
        {"broken_short_descriptor", -ENOEXEC,
         "descriptor is 8 bytes, ABI 1.0 needs at least 64"},
        {"broken_no_descriptor", -ENOEXEC,
         "no vsw_extension_descriptor symbol"},
        {"broken_ops_tail", -EINVAL,
         "ops table is 104 bytes with non-zero bytes past the host's 88"},
        {"broken_bad_name", -EINVAL, "bad name \"Bad Name!\""},
        {"broken_no_process", -EINVAL, "no 'process' callback"},
        {"broken_no_init", -EINVAL, "no 'init' function"},
        {"broken_bad_class", -EINVAL, "unknown extension class 7"},
        {"broken_bad_flags", -EINVAL, "unknown flag bits 0x80"},
        {"broken_reserved", -EINVAL, "descriptor 'reserved' is 0x1"},
        {"broken_short_ops", -EINVAL,
         "ops table is 16 bytes, too short to hold 'process' (48)"},
    };

    snprintf(newer, sizeof newer, "built for ABI %d.%d, host has %d.%d",
             VSW_EXT_ABI_MAJOR, VSW_EXT_ABI_MINOR + 1, VSW_EXT_ABI_MAJOR,
             VSW_EXT_ABI_MINOR);
    snprintf(major, sizeof major, "built for ABI %d.%d, host has %d.%d",
             VSW_EXT_ABI_MAJOR + 1, VSW_EXT_ABI_MINOR, VSW_EXT_ABI_MAJOR,
             VSW_EXT_ABI_MINOR);
    for (size_t i = 0; i < sizeof broken / sizeof *broken; i++) {
        expect_refused(plugin(broken[i].file), broken[i].error,
                       broken[i].text);
    }
}
END_TEST

/* Checks 1-3 refuse before dlopen(): the plugin's constructor never ran.
 * A plugin refused by check 5 was mapped, so its constructor did run,
 * which proves the marker works. */
START_TEST(test_refused_before_any_code_runs)
{
    static const char *const early[] = {
        "broken_newer_minor",      "broken_wrong_major",   "broken_bad_magic",
        "broken_short_descriptor", "broken_no_descriptor",
    };
    struct vsw_ext_plugin p;
    char marker[256];
    char err[ERR_MAX];
    size_t len;
    uint8_t *text;

    tmp_setup();
    snprintf(marker, sizeof marker, "%s/constructors", tmp_dir);
    ck_assert_int_eq(setenv("VSW_ABI_CTOR_MARKER", marker, 1), 0);
    for (size_t i = 0; i < sizeof early / sizeof *early; i++) {
        ck_assert_int_lt(vsw_ext_plugin_open(plugin(early[i]), getuid(), &p,
                                             err, sizeof err),
                         0);
        ck_assert_msg(access(marker, F_OK) && errno == ENOENT,
                      "%s ran code before it was refused", early[i]);
    }
    ck_assert_int_lt(vsw_ext_plugin_open(plugin("broken_ops_tail"), getuid(),
                                         &p, err, sizeof err),
                     0);
    text = read_file(marker, &len);
    ck_assert_uint_eq(len, strlen("broken-ops-tail\n"));
    ck_assert(!memcmp(text, "broken-ops-tail\n", len));
    free(text);
    unsetenv("VSW_ABI_CTOR_MARKER");
    tmp_cleanup();
}
END_TEST

/* A table longer than the host's whose tail is all zero loads; a shorter
 * one (an older minor's) loads with the rest zero-filled, even though the
 * plugin set a member past its declared size. */
START_TEST(test_ops_sizes)
{
    struct vsw_ext_plugin p;

    expect_loads(plugin("broken_ops_zero_tail"), getuid(), &p);
    ck_assert_str_eq(p.name, "broken-ops-zero-tail");
    ck_assert_uint_eq(p.ops.size, sizeof(struct vsw_ext_ops));
    ck_assert_ptr_nonnull(p.ops.process);
    ck_assert_ptr_null(p.ops.stats);
    vsw_ext_plugin_close(&p);

    expect_loads(plugin("broken_old_ops"), getuid(), &p);
    ck_assert_str_eq(p.name, "broken-old-ops");
    ck_assert_uint_eq(p.ops.size, sizeof(struct vsw_ext_ops));
    ck_assert_ptr_nonnull(p.ops.process);
    ck_assert_ptr_null(p.ops.stats);
    vsw_ext_plugin_close(&p);
}
END_TEST

/* Uniqueness is the caller's business: two files named alike both open. */
START_TEST(test_duplicate_names_open)
{
    struct vsw_ext_plugin a, b;

    expect_loads(plugin("broken_dup_a"), getuid(), &a);
    expect_loads(plugin("broken_dup_b"), getuid(), &b);
    ck_assert_str_eq(a.name, "dup-name");
    ck_assert_str_eq(b.name, "dup-name");
    ck_assert_ptr_ne(a.dl, b.dl);
    vsw_ext_plugin_close(&a);
    vsw_ext_plugin_close(&b);
}
END_TEST

/* Check 1: modes. */
START_TEST(test_writable_refused)
{
    struct vsw_ext_plugin p;

    tmp_setup();
    expect_loads(copy_plugin("golden_filter", "ok.so", 0644), getuid(), &p);
    vsw_ext_plugin_close(&p);
    expect_loads(copy_plugin("golden_filter", "ro.so", 0400), getuid(), &p);
    vsw_ext_plugin_close(&p);
    expect_refused(copy_plugin("golden_filter", "g.so", 0664), -EPERM,
                   "group-writable; refusing to load it");
    expect_refused(copy_plugin("golden_filter", "w.so", 0646), -EPERM,
                   "world-writable; refusing to load it");
    expect_refused(copy_plugin("golden_filter", "gw.so", 0666), -EPERM,
                   "world-writable; refusing to load it");
    tmp_cleanup();
}
END_TEST

/* Check 1: owner. */
START_TEST(test_owner_refused)
{
    struct vsw_ext_plugin p;
    struct stat st;
    char err[ERR_MAX];
    const char *path;

    if (geteuid() != 0) {
        fprintf(stderr, "test_owner_refused: needs root for chown\n");
        return;
    }
    tmp_setup();
    path = copy_plugin("golden_filter", "other.so", 0644);
    ck_assert_int_eq(chown(path, 12345, 12345), 0);
    expect_refused(path, -EPERM,
                   "owned by uid 12345, not by root or the daemon's uid 0; "
                   "refusing to load it");
    /* The daemon's own user may own it. */
    ck_assert_int_eq(vsw_ext_plugin_open(path, 12345, &p, err, sizeof err), 0);
    vsw_ext_plugin_close(&p);
    /* Root's file is fine for a daemon of any user. */
    ck_assert_int_eq(stat(plugin("golden_filter"), &st), 0);
    ck_assert_int_eq(st.st_uid, 0);
    expect_loads(plugin("golden_filter"), 4242, &p);
    vsw_ext_plugin_close(&p);
    tmp_cleanup();
}
END_TEST

/* Check 1: paths and file types; check 2: files that are not plugins. */
START_TEST(test_not_a_plugin)
{
    static const char text[] = "#!/bin/sh\necho not a plugin\n";
    struct vsw_ext_plugin p;
    char path[300];
    size_t len;
    uint8_t *image;

    tmp_setup();
    expect_refused("golden_filter.so", -EINVAL, "not an absolute path");
    expect_refused("./golden_filter.so", -EINVAL, "not an absolute path");
    expect_refused("", -EINVAL, "not an absolute path");
    expect_refused(tmp_dir, -EISDIR, "is a directory");
    snprintf(path, sizeof path, "%s/missing.so", tmp_dir);
    expect_refused(path, -ENOENT, "No such file or directory");
    expect_refused("/dev/null", -EINVAL, "not a regular file");
    snprintf(path, sizeof path, "%s/fifo.so", tmp_dir);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    expect_refused(path, -EINVAL, "not a regular file");

    expect_refused(write_tmp("text.so", text, sizeof text - 1, 0644), -ENOEXEC,
                   "not an ELF file");
    expect_refused(write_tmp("empty.so", "", 0, 0644), -ENOEXEC,
                   "not an ELF file");
    image = read_file(plugin("golden_filter"), &len);
    expect_refused(write_tmp("trunc100.so", image, 100, 0644), -ENOEXEC,
                   "truncated or malformed ELF: section headers outside "
                   "the file");
    expect_refused(write_tmp("trunc-half.so", image, len / 2, 0644), -ENOEXEC,
                   "truncated or malformed ELF");
    /* Not a shared object: an executable type, or another machine. */
    ((Elf64_Ehdr *)image)->e_type = ET_EXEC;
    expect_refused(write_tmp("exec.so", image, len, 0644), -ENOEXEC,
                   "not a shared object (ELF type 2)");
    ((Elf64_Ehdr *)image)->e_type = ET_DYN;
    ((Elf64_Ehdr *)image)->e_machine = EM_AARCH64 + 1;
    expect_refused(write_tmp("machine.so", image, len, 0644), -ENOEXEC,
                   "built for ELF machine");
    ((Elf64_Ehdr *)image)->e_machine = EM_X86_64;
    image[EI_CLASS] = ELFCLASS32;
    expect_refused(write_tmp("elf32.so", image, len, 0644), -ENOEXEC,
                   "ELF class or byte order is not this host's");
    free(image);

    /* After symlinks: a link to a good plugin loads. */
    snprintf(path, sizeof path, "%s/link.so", tmp_dir);
    ck_assert_int_eq(symlink(plugin("golden_capture"), path), 0);
    expect_loads(path, getuid(), &p);
    ck_assert_str_eq(p.name, "golden-capture");
    vsw_ext_plugin_close(&p);
    tmp_cleanup();
}
END_TEST

/* Where the descriptor's dynsym entry is in 'image', or NULL; fills
 * 'key_shdrs' with the file offsets of the section headers of .dynsym,
 * .dynstr and the section holding the descriptor. */
static Elf64_Sym *
find_descriptor_sym(uint8_t *image, size_t key_shdrs[3])
{
    Elf64_Ehdr *eh = (Elf64_Ehdr *)image;
    Elf64_Shdr *sh = (Elf64_Shdr *)(image + eh->e_shoff);

    for (size_t i = 0; i < eh->e_shnum; i++) {
        if (sh[i].sh_type == SHT_DYNSYM) {
            Elf64_Sym *syms = (Elf64_Sym *)(image + sh[i].sh_offset);
            const char *strs =
                (const char *)image + sh[sh[i].sh_link].sh_offset;

            for (size_t j = 0; j < sh[i].sh_size / sizeof *syms; j++) {
                if (!strcmp(strs + syms[j].st_name,
                            VSW_EXT_DESCRIPTOR_SYMBOL)) {
                    key_shdrs[0] = eh->e_shoff + i * sizeof *sh;
                    key_shdrs[1] = eh->e_shoff + sh[i].sh_link * sizeof *sh;
                    key_shdrs[2] = eh->e_shoff + syms[j].st_shndx * sizeof *sh;
                    return &syms[j];
                }
            }
        }
    }
    return NULL;
}

/* Damages one copy of 'image' at random in a place the dynamic linker
 * does not read (section headers, the e_sh* fields, the descriptor's
 * symbol entry) or truncates it (VSW_FUZZ_ROUNDS copies, 500 by default), and
 * opens it in a child process: the loader must refuse (or accept) with a
 * proper message, never crash. */
static void
fuzz_one(const uint8_t *image, size_t len, size_t sym_off,
         const size_t key_shdrs[3], unsigned seed)
{
    uint8_t *copy = malloc(len);
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)image;
    size_t shtab = eh->e_shoff;
    size_t shlen = (size_t)eh->e_shnum * sizeof(Elf64_Shdr);
    size_t n = len;
    const char *path;
    pid_t pid;
    int status;

    srand(seed);
    memcpy(copy, image, len);
    switch (rand() % 5) {
    case 0:
        n = (size_t)rand() % len;
        break;
    case 1:
        for (int i = 0; i < 1 + rand() % 4; i++) {
            copy[shtab + (size_t)rand() % shlen] = (uint8_t)rand();
        }
        break;
    case 2: {
        /* e_shoff, e_shentsize, e_shnum, e_shstrndx, never e_ph*. */
        static const size_t fields[] = {0x28, 0x29, 0x2a, 0x2b, 0x2c,
                                        0x2d, 0x2e, 0x2f, 0x3a, 0x3b,
                                        0x3c, 0x3d, 0x3e, 0x3f};

        for (int i = 0; i < 1 + rand() % 3; i++) {
            copy[fields[(size_t)rand() % 14]] = (uint8_t)rand();
        }
        break;
    }
    case 3:
        /* The headers the loader reads most: .dynsym, .dynstr and the
         * section that holds the descriptor. */
        for (int i = 0; i < 1 + rand() % 3; i++) {
            copy[key_shdrs[rand() % 3] + (size_t)rand() % sizeof(Elf64_Shdr)] =
                (uint8_t)rand();
        }
        break;
    default:
        for (int i = 0; i < 1 + rand() % 3; i++) {
            copy[sym_off + (size_t)rand() % sizeof(Elf64_Sym)] =
                (uint8_t)rand();
        }
        break;
    }
    path = write_tmp("fuzz.so", copy, n, 0644);
    free(copy);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (!pid) {
        struct vsw_ext_plugin p;
        char err[ERR_MAX];
        int rc = vsw_ext_plugin_open(path, getuid(), &p, err, sizeof err);
        bool ok = rc == 0 || (rc < 0 && !strncmp(err, path, strlen(path)) &&
                              !strchr(err, '\n'));

        if (!ok) {
            fprintf(stderr, "seed %u: rc %d, message \"%s\"\n", seed, rc, err);
        }
        _exit(ok ? 0 : 1);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(
        WIFEXITED(status) && WEXITSTATUS(status) == 0, "seed %u: child %s %d",
        seed, WIFSIGNALED(status) ? "killed by signal" : "exited",
        WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
}

START_TEST(test_fuzzed_elf)
{
    size_t len;
    uint8_t *image = read_file(plugin("golden_filter"), &len);
    size_t key_shdrs[3];
    Elf64_Sym *sym = find_descriptor_sym(image, key_shdrs);
    const char *rounds = getenv("VSW_FUZZ_ROUNDS");
    unsigned n = rounds ? (unsigned)atoi(rounds) : 500;

    ck_assert_ptr_nonnull(sym);
    tmp_setup();
    for (unsigned seed = 1; seed <= n; seed++) {
        fuzz_one(image, len, (size_t)((uint8_t *)sym - image), key_shdrs,
                 seed);
    }
    free(image);
    tmp_cleanup();
}
END_TEST

START_TEST(test_names_and_classes)
{
    static const char *const good[] = {
        "a", "0", "golden-filter", "a_b-c9", "abcdefghijklmnopqrstuvwxyz01234",
    };
    static const char *const bad[] = {
        "",    "-a",
        "_a",  "Abc",
        "a b", "a.b",
        "a/b", "é",
        "a\n", "abcdefghijklmnopqrstuvwxyz012345", /* 32 characters */
    };

    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        ck_assert_msg(vsw_ext_name_valid(good[i]), "%s", good[i]);
    }
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ck_assert_msg(!vsw_ext_name_valid(bad[i]), "%s", bad[i]);
    }
    ck_assert(!vsw_ext_name_valid(NULL));
    ck_assert_str_eq(vsw_ext_class_name(VSW_EXT_CLASS_CAPTURE), "capture");
    ck_assert_str_eq(vsw_ext_class_name(VSW_EXT_CLASS_FILTER), "filter");
    ck_assert_str_eq(vsw_ext_class_name(VSW_EXT_CLASS_FORWARDING),
                     "forwarding");
    ck_assert_str_eq(vsw_ext_class_name(0), "?");
    ck_assert_str_eq(vsw_ext_class_name(4), "?");
}
END_TEST

/*
 * A fake host, enough to drive the golden plugin through every op and
 * every service from one thread and check what it does.
 */

struct vsw_ext_handle {
    char error[256]; /* last set_error() text */
    int n_errors;    /* set_error() calls */
    int n_logs;      /* log() calls */
};

struct vsw_ext_switch {
    int n_injected;        /* inject() calls */
    uint32_t last_in_port; /* of the last one */
    uint8_t last[64];      /* its first bytes */
};

struct vsw_ext_reply {
    char json[2048]; /* reply_set() text */
};

struct vsw_ext_timer {
    void (*fn)(void *arg); /* callback */
    void *arg;             /* its argument */
    uint32_t interval_ms;  /* as asked */
    int repeat;            /* as asked */
    bool cancelled;        /* timer_cancel() was called */
};

/* A frame with room in front of it. */
struct fake_frame {
    struct vsw_ext_frame f; /* what the plugin sees */
    uint8_t buf[2048];      /* headroom + data */
};

#define FAKE_HEADROOM 64

static struct fake_host {
    struct vsw_ext_timer timer; /* the one timer allowed */
    int n_timers;               /* timer_add() calls */
    struct {
        char method[64];   /* registered name */
        vsw_ext_rpc_fn fn; /* handler */
        void *arg;         /* its argument */
    } methods[4];          /* rpc_register() calls */
    int n_methods;         /* entries in 'methods' */
    struct {
        void (*fn)(void *arg); /* callback */
        void *arg;             /* its argument */
    } deferred[8];             /* defer_free() calls not yet run */
    int n_deferred;            /* entries in 'deferred' */
    int n_frames;              /* frames not yet freed or injected */
    uint32_t dest[32];         /* add_destination() port, per index */
} fake;

/* Counts log lines; their text does not matter here. */
static void
fake_log(struct vsw_ext_handle *h, int level, const char *fmt, ...)
{
    (void)level;
    (void)fmt;
    h->n_logs++;
}

/* Keeps the text, for the tests to compare. */
static void
fake_set_error(struct vsw_ext_handle *h, const char *fmt, ...)
{
    va_list args;

    va_start(args, fmt);
    vsnprintf(h->error, sizeof h->error, fmt, args);
    va_end(args);
    h->n_errors++;
}

/* A zeroed frame of 'len' bytes with FAKE_HEADROOM in front. */
static struct vsw_ext_frame *
fake_frame_alloc(struct vsw_ext_handle *h, uint32_t len)
{
    struct fake_frame *ff = calloc(1, sizeof *ff);

    (void)h;
    ck_assert_uint_le(len, sizeof ff->buf - FAKE_HEADROOM);
    ff->f.size = sizeof ff->f;
    ff->f.len = len;
    ff->f.data = ff->buf + FAKE_HEADROOM;
    ff->f.capacity = sizeof ff->buf - FAKE_HEADROOM;
    ff->f.headroom = FAKE_HEADROOM;
    fake.n_frames++;
    return &ff->f;
}

/* A frame holding a copy of 'pkt'. */
static struct vsw_ext_frame *
fake_frame_clone(struct vsw_ext_handle *h, const struct vsw_ext_packet *pkt)
{
    struct vsw_ext_frame *f = fake_frame_alloc(h, pkt->len);

    memcpy(f->data, pkt->data, pkt->len);
    return f;
}

/* Grows the frame at the front, as the host's frame_push(). */
static uint8_t *
fake_frame_push(struct vsw_ext_frame *f, uint32_t n)
{
    if (n > f->headroom) {
        return NULL;
    }
    f->data -= n;
    f->len += n;
    f->headroom -= n;
    f->capacity += n;
    return f->data;
}

/* Shrinks the frame at the front, as the host's frame_pull(). */
static uint8_t *
fake_frame_pull(struct vsw_ext_frame *f, uint32_t n)
{
    if (n > f->len) {
        return NULL;
    }
    f->data += n;
    f->len -= n;
    f->headroom += n;
    f->capacity -= n;
    return f->data;
}

/* Frees a frame; counts it so that leaks show. */
static void
fake_frame_free(struct vsw_ext_frame *f)
{
    if (f) {
        fake.n_frames--;
        free(f);
    }
}

/* Records what was injected and frees it: ownership passes here. */
static int
fake_inject(struct vsw_ext_switch *sw, struct vsw_ext_frame *f,
            uint32_t in_port, uint32_t out_port)
{
    ck_assert_uint_eq(out_port, VSW_EXT_NO_PORT);
    ck_assert_uint_eq(f->headroom, FAKE_HEADROOM);
    sw->n_injected++;
    sw->last_in_port = in_port;
    memcpy(sw->last, f->data, f->len < 64 ? f->len : 64);
    fake_frame_free(f);
    return 0;
}

/* Records the destination; refuses the packet's own source, as the
 * host does. */
static int
fake_add_destination(const struct vsw_ext_batch *batch, uint32_t index,
                     uint32_t port)
{
    ck_assert_uint_lt(index, batch->count);
    if (port == batch->pkts[index]->in_port) {
        return -EINVAL;
    }
    fake.dest[index] = port;
    return 0;
}

/* Two ports on "sw0": 1 "vm1" and 2 "vm2". */
static int
fake_port_lookup(struct vsw_ext_handle *h, const char *name, uint32_t id,
                 struct vsw_ext_port_info *info)
{
    (void)h;
    ck_assert_uint_eq(info->size, sizeof *info);
    if (name) {
        id = !strcmp(name, "vm1") ? 1 : !strcmp(name, "vm2") ? 2 : 0;
    }
    if (id != 1 && id != 2) {
        return -ENOENT;
    }
    info->id = id;
    snprintf(info->name, sizeof info->name, "vm%u", id);
    snprintf(info->switch_name, sizeof info->switch_name, "sw0");
    info->is_uplink = 0;
    return 0;
}

/* Keeps the one timer; the test fires it by hand. */
static struct vsw_ext_timer *
fake_timer_add(struct vsw_ext_handle *h, uint32_t interval_ms, int repeat,
               void (*fn)(void *arg), void *arg)
{
    (void)h;
    fake.n_timers++;
    fake.timer.fn = fn;
    fake.timer.arg = arg;
    fake.timer.interval_ms = interval_ms;
    fake.timer.repeat = repeat;
    return &fake.timer;
}

/* Marks the timer cancelled (NULL allowed, as in the host). */
static void
fake_timer_cancel(struct vsw_ext_timer *t)
{
    if (t) {
        t->cancelled = true;
    }
}

/* Keeps the method for fake_call(). */
static int
fake_rpc_register(struct vsw_ext_handle *h, const char *method,
                  vsw_ext_rpc_fn fn, void *arg)
{
    (void)h;
    ck_assert_int_lt(fake.n_methods, 4);
    snprintf(fake.methods[fake.n_methods].method,
             sizeof fake.methods[0].method, "%s", method);
    fake.methods[fake.n_methods].fn = fn;
    fake.methods[fake.n_methods].arg = arg;
    fake.n_methods++;
    return 0;
}

/* Keeps the reply text. */
static int
fake_reply_set(struct vsw_ext_reply *reply, const char *json)
{
    snprintf(reply->json, sizeof reply->json, "%s", json);
    return 0;
}

/* Queues the callback for fake_run_deferred(), as the host runs it
 * once no worker can hold the pointer. */
static void
fake_defer_free(struct vsw_ext_handle *h, void (*fn)(void *arg), void *arg)
{
    (void)h;
    ck_assert_int_lt(fake.n_deferred, 8);
    fake.deferred[fake.n_deferred].fn = fn;
    fake.deferred[fake.n_deferred].arg = arg;
    fake.n_deferred++;
}

static const struct vsw_ext_host fake_host = {
    .size = sizeof(struct vsw_ext_host),
    .abi_major = VSW_EXT_ABI_MAJOR,
    .abi_minor = VSW_EXT_ABI_MINOR,
    .log = fake_log,
    .set_error = fake_set_error,
    .frame_alloc = fake_frame_alloc,
    .frame_clone = fake_frame_clone,
    .frame_push = fake_frame_push,
    .frame_pull = fake_frame_pull,
    .frame_free = fake_frame_free,
    .inject = fake_inject,
    .add_destination = fake_add_destination,
    .port_lookup = fake_port_lookup,
    .timer_add = fake_timer_add,
    .timer_cancel = fake_timer_cancel,
    .rpc_register = fake_rpc_register,
    .reply_set = fake_reply_set,
    .defer_free = fake_defer_free,
};

/* Calls registered method 'method' with 'params'; returns its result and
 * leaves the reply in 'reply'. */
static int
fake_call(const char *method, const char *params, struct vsw_ext_reply *reply)
{
    for (int i = 0; i < fake.n_methods; i++) {
        if (!strcmp(fake.methods[i].method, method)) {
            reply->json[0] = '\0';
            return fake.methods[i].fn(fake.methods[i].arg, params, reply);
        }
    }
    ck_abort_msg("method %s not registered", method);
    return -ENOENT;
}

/* Runs the deferred frees. */
static void
fake_run_deferred(void)
{
    for (int i = 0; i < fake.n_deferred; i++) {
        fake.deferred[i].fn(fake.deferred[i].arg);
    }
    fake.n_deferred = 0;
}

/* A batch of 'n' ICMP-sized frames from port 'in_port'. */
struct fake_batch {
    uint8_t frames[4][64];                /* the bytes */
    struct vsw_ext_packet pkts[4];        /* their metadata */
    const struct vsw_ext_packet *ptrs[4]; /* what the batch points to */
    uint32_t verdicts[4];                 /* filled by 'process' */
    struct vsw_ext_batch batch;           /* what 'process' gets */
};

/* Fills 'fb' with a batch of 4 frames from 'in_port' in 'direction'
 * (egress ones go to port 2), each frame 64 bytes of 0x10 + its index. */
static void
fake_batch_init(struct fake_batch *fb, uint32_t direction, uint32_t in_port)
{
    memset(fb, 0, sizeof *fb);
    for (int i = 0; i < 4; i++) {
        memset(fb->frames[i], 0x10 + i, sizeof fb->frames[i]);
        fb->pkts[i].size = sizeof fb->pkts[i];
        fb->pkts[i].data = fb->frames[i];
        fb->pkts[i].len = sizeof fb->frames[i];
        fb->pkts[i].wire_packets = 1;
        fb->pkts[i].in_port = in_port;
        fb->pkts[i].out_port = direction == VSW_EXT_DIR_EGRESS ? 2 : 0;
        fb->ptrs[i] = &fb->pkts[i];
    }
    fb->batch.size = sizeof fb->batch;
    fb->batch.count = 4;
    fb->batch.direction = direction;
    fb->batch.pkts = fb->ptrs;
    fb->batch.verdicts = fb->verdicts;
}

/* Runs 'process' on a fresh batch; every verdict must be 'want'. */
static void
process_expect(const struct vsw_ext_plugin *p, void *ext, void *sw,
               uint32_t direction, uint32_t in_port, uint32_t want)
{
    struct fake_batch fb;

    fake_batch_init(&fb, direction, in_port);
    p->ops.process(ext, sw, &fb.batch);
    for (int i = 0; i < 4; i++) {
        ck_assert_msg(fb.verdicts[i] == want, "verdict %u, want %u",
                      fb.verdicts[i], want);
    }
}

/* True if the report has "key":value. */
static bool
report_has(const char *json, const char *key, unsigned long long value)
{
    char want[64];

    snprintf(want, sizeof want, "\"%s\":%llu,", key, value);
    if (strstr(json, want)) {
        return true;
    }
    snprintf(want, sizeof want, "\"%s\":%llu}", key, value);
    return strstr(json, want) != NULL;
}

/* Drives golden plugin 'file' through init, start, every configuration,
 * process, port_check, stats, the timer and both RPC methods, stop and
 * fini. */
static void
drive_golden(const char *file, const char *name, bool may_inject)
{
    struct vsw_ext_handle handle = {.n_errors = 0};
    struct vsw_ext_switch sw = {.n_injected = 0};
    struct vsw_ext_switch_info info = {
        .size = sizeof info, .n_workers = 2, .name = "sw0", .sw = &sw};
    struct vsw_ext_port_change change = {
        .size = sizeof change,
        .kind = VSW_EXT_PORT_CREATE,
        .port = "vm3",
        .params_json = "{\"name\":\"vm3\"}",
    };
    struct vsw_ext_reply reply;
    struct vsw_ext_plugin p;
    char method[64];
    void *ext = NULL;
    void *swd = NULL;

    memset(&fake, 0, sizeof fake);
    expect_loads(plugin(file), getuid(), &p);
    ck_assert_int_eq(p.desc->init(&handle, &fake_host, &ext), 0);
    ck_assert_ptr_nonnull(ext);
    ck_assert_int_eq(fake.n_timers, 1);
    ck_assert_uint_eq(fake.timer.interval_ms, 100);
    ck_assert_int_eq(fake.timer.repeat, 1);
    ck_assert_int_eq(fake.n_methods, 2);

    /* An unknown verdict is refused at start, with a message. */
    ck_assert_int_eq(p.ops.start(ext, &info, "{\"verdict\":\"maybe\"}", &swd),
                     -EINVAL);
    ck_assert_str_eq(handle.error, "golden: unknown verdict \"maybe\"");
    ck_assert_int_eq(
        p.ops.start(ext, &info,
                    "{\"verdict\": \"continue\", \"inject_every\":2}", &swd),
        0);
    ck_assert_int_eq(fake.n_frames, 0);
    process_expect(&p, ext, swd, VSW_EXT_DIR_INGRESS, 1,
                   VSW_EXT_VERDICT_CONTINUE);
    process_expect(&p, ext, swd, VSW_EXT_DIR_EGRESS, 1,
                   VSW_EXT_VERDICT_CONTINUE);
    if (may_inject) {
        /* Packets 2 and 4 came back, unchanged, on their own port. */
        ck_assert_int_eq(sw.n_injected, 2);
        ck_assert_uint_eq(sw.last_in_port, 1);
        ck_assert_uint_eq(sw.last[0], 0x13);
        ck_assert_uint_eq(sw.last[63], 0x13);
    } else {
        ck_assert_int_eq(sw.n_injected, 0);
    }
    ck_assert_int_eq(fake.n_frames, 0);

    ck_assert_int_eq(p.ops.configure(ext, swd, "{\"verdict\":\"drop\"}"), 0);
    ck_assert_int_eq(fake.n_deferred, 1);
    process_expect(&p, ext, swd, VSW_EXT_DIR_INGRESS, 1, VSW_EXT_VERDICT_DROP);
    fake_run_deferred();
    /* A refused configuration leaves the old one. */
    ck_assert_int_eq(p.ops.configure(ext, swd,
                                     "{\"verdict\":\"continue\", "
                                     "\"fail_configure\": true}"),
                     -EINVAL);
    ck_assert_ptr_nonnull(strstr(handle.error, "fail_configure"));
    process_expect(&p, ext, swd, VSW_EXT_DIR_INGRESS, 1, VSW_EXT_VERDICT_DROP);
    ck_assert_int_eq(p.ops.configure(ext, swd, "{\"verdict\":\"abort\"}"), 0);
    process_expect(&p, ext, swd, VSW_EXT_DIR_INGRESS, 1,
                   VSW_EXT_VERDICT_ABORTED);
    ck_assert_int_eq(p.ops.configure(ext, swd, "{\"verdict\":\"bogus\"}"), 0);
    process_expect(&p, ext, swd, VSW_EXT_DIR_INGRESS, 1, 0x7777);
    /* Forward: to port 2, except what came from port 2. */
    ck_assert_int_eq(
        p.ops.configure(ext, swd, "{\"verdict\":\"forward\",\"dest\":2}"), 0);
    process_expect(&p, ext, swd, VSW_EXT_DIR_INGRESS, 1,
                   VSW_EXT_VERDICT_FORWARD);
    ck_assert_uint_eq(fake.dest[3], 2);
    process_expect(&p, ext, swd, VSW_EXT_DIR_INGRESS, 2,
                   VSW_EXT_VERDICT_CONTINUE);
    fake_run_deferred();

    ck_assert_int_eq(p.ops.port_check(ext, swd, &change), 0);
    ck_assert_int_eq(p.ops.configure(ext, swd, "{\"veto\":true}"), 0);
    ck_assert_int_eq(p.ops.port_check(ext, swd, &change), -EPERM);
    ck_assert_str_eq(handle.error, "golden veto");
    fake_run_deferred();

    ck_assert_int_eq(p.ops.stats(ext, swd, &reply), 0);
    ck_assert_ptr_nonnull(strstr(reply.json, "\"packets\":"));
    for (int i = 0; i < 3; i++) {
        fake.timer.fn(fake.timer.arg);
    }

    snprintf(method, sizeof method, "%s.lookup", name);
    ck_assert_int_eq(fake_call(method, "{\"port\":\"vm2\"}", &reply), 0);
    ck_assert_str_eq(reply.json, "{\"id\":2,\"switch\":\"sw0\","
                                 "\"is_uplink\":false,\"name\":\"vm2\"}");
    ck_assert_int_eq(fake_call(method, "{\"port\":\"nope\"}", &reply),
                     -ENOENT);
    ck_assert_int_eq(fake_call(method, "{}", &reply), -EINVAL);

    snprintf(method, sizeof method, "%s.report", name);
    ck_assert_int_eq(fake_call(method, "{}", &reply), 0);
    ck_assert_msg(
        report_has(reply.json, "init", 1) &&
            report_has(reply.json, "start", 2) &&
            report_has(reply.json, "stop", 0) &&
            report_has(reply.json, "configure", 6) &&
            report_has(reply.json, "process_batches", 8) &&
            report_has(reply.json, "process_packets", 32) &&
            report_has(reply.json, "ingress", 28) &&
            report_has(reply.json, "egress", 4) &&
            report_has(reply.json, "port_check", 2) &&
            report_has(reply.json, "stats", 1) &&
            report_has(reply.json, "timer", 3) &&
            report_has(reply.json, "deferred_freed", 5) &&
            report_has(reply.json, "port_lookup_ok", 2) &&
            report_has(reply.json, "frames_allocated", 1) &&
            report_has(reply.json, "injected", may_inject ? 2 : 0) &&
            report_has(reply.json, "frames_cloned", may_inject ? 2 : 0) &&
            report_has(reply.json, "inject_errors", 0),
        "report: %s", reply.json);

    p.ops.stop(ext, swd);
    ck_assert_int_eq(fake_call(method, "{}", &reply), 0);
    ck_assert_msg(report_has(reply.json, "stop", 1), "%s", reply.json);
    ck_assert(!fake.timer.cancelled);
    p.ops.fini(ext);
    ck_assert(fake.timer.cancelled);
    ck_assert_int_eq(fake.n_frames, 0);
    ck_assert_int_gt(handle.n_logs, 0);
    vsw_ext_plugin_close(&p);
}

START_TEST(test_golden_filter_driven)
{
    drive_golden("golden_filter", "golden-filter", true);
}
END_TEST

START_TEST(test_golden_capture_driven)
{
    drive_golden("golden_capture", "golden-capture", true);
}
END_TEST

/* A forwarding extension may not inject: the golden one does not try. */
START_TEST(test_golden_forwarding_driven)
{
    drive_golden("golden_forwarding", "golden-forwarding", false);
}
END_TEST

/* The suite: loading, refusing, and driving the golden plugins. */
static Suite *
ext_loader_suite(void)
{
    Suite *s = suite_create("ext-loader");
    TCase *load = tcase_create("load");
    TCase *refuse = tcase_create("refuse");
    TCase *drive = tcase_create("drive");

    tcase_add_test(load, test_golden_loads);
    tcase_add_test(load, test_ops_sizes);
    tcase_add_test(load, test_duplicate_names_open);
    tcase_add_test(load, test_names_and_classes);
    suite_add_tcase(s, load);

    tcase_set_timeout(refuse, 120);
    tcase_add_test(refuse, test_broken_refused);
    tcase_add_test(refuse, test_refused_before_any_code_runs);
    tcase_add_test(refuse, test_writable_refused);
    tcase_add_test(refuse, test_owner_refused);
    tcase_add_test(refuse, test_not_a_plugin);
    tcase_add_test(refuse, test_fuzzed_elf);
    suite_add_tcase(s, refuse);

    tcase_add_test(drive, test_golden_filter_driven);
    tcase_add_test(drive, test_golden_capture_driven);
    tcase_add_test(drive, test_golden_forwarding_driven);
    suite_add_tcase(s, drive);
    return s;
}

/* Runs the suite; fails if any test did. */
int
main(void)
{
    SRunner *runner = srunner_create(ext_loader_suite());

    srunner_run_all(runner, CK_NORMAL);
    int n_failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return n_failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
