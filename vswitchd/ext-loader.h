/*
 * The extension loader: turns a path into a checked, mapped plugin whose
 * code has not run yet.
 *
 * Checks, in this order, each failure with a message that names the file
 * and what is wrong with it:
 *   1. the path is absolute, names a regular file (after symlinks), owned
 *      by root or by the daemon's user, and not group- or world-writable;
 *   2. the file is an ELF shared object for this machine, and its dynamic
 *      symbol table has VSW_EXT_DESCRIPTOR_SYMBOL ("no descriptor");
 *   3. read from the file, without mapping it: the symbol is at least as
 *      large as the 1.0 descriptor ("too short"), the magic matches, the
 *      major equals the host's, the minor is not newer ("built for ABI
 *      1.3, host has 1.0"), and 'size' is sane;
 *   4. only then dlopen(RTLD_NOW | RTLD_LOCAL) (a plugin should have no
 *      constructors; the checks above keep a wrong plugin's from running);
 *      with a private directory set, checks 2-5 and dlopen() work on a
 *      private copy made there from the file check 1 opened, so that
 *      overwriting the original (a plain `cp` of a new build truncates and
 *      rewrites the mapped inode) changes nothing that runs;
 *   5. the mapped descriptor again, its name (syntax), class, flags,
 *      reserved members, 'init' and 'ops'; the ops table is copied into
 *      the host's layout: zero-filled when the plugin's is smaller,
 *      refused when it is larger and a byte past the host's size is not
 *      zero, and 'process' must be set.
 * Uniqueness of names is the caller's business (it knows what is loaded).
 *
 * Threads: main thread.
 */
#ifndef VSW_EXT_LOADER_H
#define VSW_EXT_LOADER_H 1

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <vswitch/extension.h>

#define VSW_EXT_NAME_MAX 32 /* name with its NUL */

/* A plugin that passed every check.  Its code has not run. */
struct vsw_ext_plugin {
    char path[4096];             /* as given (absolute) */
    char copy[4096];             /* the private copy mapped, or "" */
    uintptr_t map_start;         /* lowest address of its loaded segments */
    uintptr_t map_end;           /* and one past the highest (crash blame) */
    char name[VSW_EXT_NAME_MAX]; /* descriptor name, copied */
    char version[64];            /* descriptor version, copied */
    char description[160];       /* descriptor description */
    uint32_t ext_class;          /* VSW_EXT_CLASS_* */
    uint32_t flags;              /* VSW_EXT_F_* */
    uint16_t abi_major;          /* ABI it was built for */
    uint16_t abi_minor;
    void *dl;                              /* dlopen() handle */
    const struct vsw_ext_descriptor *desc; /* in the mapped plugin */
    struct vsw_ext_ops ops;                /* its table in the host's
                                              layout ('size' = the host's) */
};

/* Makes later loads map private copies in 'dir' (made, mode 0700, with
 * the first copy; the copies an earlier daemon left are removed now):
 * see check 4.  Returns 0
 * or a negative errno; on failure plugins are mapped from their path. */
int vsw_ext_loader_set_private_dir(const char *dir);

/* Runs checks 1-5 on 'path' for a daemon running as 'daemon_uid'.
 * Returns 0 and fills '*plugin', or a negative errno with a one-line
 * message in 'err' ('errlen' bytes) that starts with the path. */
int vsw_ext_plugin_open(const char *path, uid_t daemon_uid,
                        struct vsw_ext_plugin *plugin, char *err,
                        size_t errlen);

/* Unmaps a plugin whose 'init' has not been called (a duplicate name).
 * Once init ran the daemon never unmaps it.  NULL is allowed. */
void vsw_ext_plugin_close(struct vsw_ext_plugin *plugin);

/* "capture", "filter", "forwarding", or "?" */
const char *vsw_ext_class_name(uint32_t ext_class);

/* True if 'name' is a valid extension name: [a-z0-9][a-z0-9_-]{0,30}. */
int vsw_ext_name_valid(const char *name);

#endif /* VSW_EXT_LOADER_H */
