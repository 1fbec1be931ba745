/*
 * Deliberately wrong plugins for the loader, one source built once per
 * variant (tests/abi/CMakeLists.txt names them broken_<variant>.so).  The
 * descriptor is written out by hand instead of with
 * VSW_EXTENSION_DESCRIPTOR() so that each variant can get one member
 * wrong.  Built against the current header: "newer minor" must stay one
 * newer than whatever the host is.
 *
 * Variants (-DBROKEN_<VARIANT>), with what the host must do:
 *   NEWER_MINOR      ABI minor + 1                      refused (check 3)
 *   WRONG_MAJOR      ABI major + 1                      refused (check 3)
 *   BAD_MAGIC        magic 0xdeadbeef                   refused (check 3)
 *   SHORT_DESCRIPTOR the symbol is an 8-byte integer    refused (check 3)
 *   NO_DESCRIPTOR    exports nothing                    refused (check 2)
 *   OPS_TAIL         ops table 16 bytes longer than the host's, non-zero
 *                    past it                            refused (check 5)
 *   OPS_ZERO_TAIL    the same with an all-zero tail     LOADS
 *   OLD_OPS          ops table of an older minor: 'size' ends before
 *                    'stats' (which is set, and must not be copied)
 *                                                       LOADS, zero-filled
 *   DUP_NAME         named "dup-name" (built twice)     second refused by
 *                                                       the daemon
 *   BAD_NAME         named "Bad Name!"                  refused (check 5)
 *   NO_PROCESS       'process' NULL                     refused (check 5)
 *   NO_INIT          'init' NULL                        refused (check 5)
 *   BAD_CLASS        class 7                            refused (check 5)
 *   BAD_FLAGS        an unknown flag bit                refused (check 5)
 *   RESERVED         descriptor 'reserved' non-zero     refused (check 5)
 *   SHORT_OPS        ops 'size' 16                      refused (check 5)
 *
 * Each has a constructor that appends its name to the file named by
 * $VSW_ABI_CTOR_MARKER, if set: the unit test proves with it that a
 * plugin refused by checks 1-3 never ran any code.  The plugins that load
 * are class filter and pass every packet on.
 */
#include <vswitch/extension.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(BROKEN_BAD_NAME)
#define BROKEN_NAME "Bad Name!"
#elif defined(BROKEN_DUP_NAME)
#define BROKEN_NAME "dup-name"
#elif !defined(BROKEN_NAME)
#define BROKEN_NAME "broken"
#endif

/* Records that this plugin's code ran. */
static void __attribute__((constructor)) broken_constructor(void)
{
    const char *marker = getenv("VSW_ABI_CTOR_MARKER");
    int fd;

    if (!marker) {
        return;
    }
    fd = open(marker, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0) {
        ssize_t n = write(fd, BROKEN_NAME "\n", sizeof BROKEN_NAME);

        (void)n;
        close(fd);
    }
}

#ifdef BROKEN_SHORT_DESCRIPTOR
/* The right name on an object far too small to be a descriptor (it holds
 * the magic, which must not fool the host). */
__attribute__((visibility("default")))
const uint64_t vsw_extension_descriptor = VSW_EXT_MAGIC;
#elif defined(BROKEN_NO_DESCRIPTOR)
/* Something for the linker to put in the object; exported is nothing. */
int broken_nothing_exported(void);

/* Hidden, like everything in this variant. */
int
broken_nothing_exported(void)
{
    return 0;
}
#else

#ifndef BROKEN_NO_PROCESS
/* Passes every packet on. */
static void
broken_process(void *ext_data, void *sw_data,
               const struct vsw_ext_batch *batch)
{
    (void)ext_data;
    (void)sw_data;
    for (uint32_t i = 0; i < batch->count; i++) {
        batch->verdicts[i] = VSW_EXT_VERDICT_CONTINUE;
    }
}
#endif

#ifdef BROKEN_OLD_OPS
/* Must never be called: the table declares a size that ends before it. */
static int
broken_stats(void *ext_data, void *sw_data, struct vsw_ext_reply *reply)
{
    (void)ext_data;
    (void)sw_data;
    (void)reply;
    abort();
}
#endif

#ifndef BROKEN_NO_INIT
/* Nothing to set up. */
static int
broken_init(struct vsw_ext_handle *h, const struct vsw_ext_host *host,
            void **ext_data)
{
    (void)h;
    (void)host;
    *ext_data = NULL;
    return 0;
}
#endif

/* An ops table as a later minor might build it: two more members. */
struct broken_big_ops {
    struct vsw_ext_ops ops; /* the host's members */
    uint64_t later[2];      /* members the host does not know */
};

#if defined(BROKEN_OPS_TAIL) || defined(BROKEN_OPS_ZERO_TAIL)
static const struct broken_big_ops broken_ops = {
    .ops =
        {
            .size = sizeof(struct broken_big_ops),
            .process = broken_process,
        },
#ifdef BROKEN_OPS_TAIL
    .later = {0, 1},
#else
    .later = {0, 0},
#endif
};
#define BROKEN_OPS (&broken_ops.ops)
#else
static const struct vsw_ext_ops broken_ops = {
#if defined(BROKEN_OLD_OPS)
    .size = offsetof(struct vsw_ext_ops, stats),
#elif defined(BROKEN_SHORT_OPS)
    .size = 16,
#else
    .size = sizeof(struct vsw_ext_ops),
#endif
#ifndef BROKEN_NO_PROCESS
    .process = broken_process,
#endif
#ifdef BROKEN_OLD_OPS
    .stats = broken_stats,
#endif
};
#define BROKEN_OPS (&broken_ops)
#endif

__attribute__((visibility("default")))
const struct vsw_ext_descriptor vsw_extension_descriptor = {
#ifdef BROKEN_BAD_MAGIC
    .magic = 0xdeadbeef,
#else
    .magic = VSW_EXT_MAGIC,
#endif
#ifdef BROKEN_WRONG_MAJOR
    .abi_major = VSW_EXT_ABI_MAJOR + 1,
#else
    .abi_major = VSW_EXT_ABI_MAJOR,
#endif
#ifdef BROKEN_NEWER_MINOR
    .abi_minor = VSW_EXT_ABI_MINOR + 1,
#else
    .abi_minor = VSW_EXT_ABI_MINOR,
#endif
    .size = sizeof(struct vsw_ext_descriptor),
#ifdef BROKEN_BAD_CLASS
    .ext_class = 7,
#else
    .ext_class = VSW_EXT_CLASS_FILTER,
#endif
#ifdef BROKEN_BAD_FLAGS
    .flags = 0x80,
#else
    .flags = 0,
#endif
#ifdef BROKEN_RESERVED
    .reserved = 1,
#else
    .reserved = 0,
#endif
    .name = BROKEN_NAME,
    .version = "0.0.1",
    .description = "broken plugin: " BROKEN_NAME,
    .ops = BROKEN_OPS,
#ifdef BROKEN_NO_INIT
    .init = NULL,
#else
    .init = broken_init,
#endif
};
#endif
