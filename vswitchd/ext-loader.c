/*
 * The extension loader (see ext-loader.h).
 *
 * The descriptor's leading members are read from the file with a small
 * ELF64 reader of our own, before dlopen(), because dlopen() runs the
 * plugin's constructors: a plugin built for another ABI must be refused
 * without any of its code running.  The reader trusts nothing in the file:
 * every offset and size is checked against the file before it is used, so
 * a truncated or fuzzed file is refused with a message, never read out of
 * bounds.  Once mapped, every pointer the descriptor holds is checked to
 * lie in the plugin's own loaded segments before it is dereferenced, and
 * plugin memory is copied with memcpy() so that a misaligned table is not
 * undefined behaviour.
 *
 * Errors: -EINVAL (bad path, bad descriptor contents), -ENOENT and other
 * errno values of open()/fstat(), -EISDIR, -EPERM (ownership or mode),
 * -ENOEXEC (not a usable ELF shared object, no or bad descriptor),
 * -EPROTONOSUPPORT (ABI version), -ELIBBAD (dlopen() failed).
 */
#include "ext-loader.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

_Static_assert(sizeof(void *) == 8, "the loader reads ELF64 plugins only");

#if defined(__x86_64__)
#define EXT_ELF_MACHINE EM_X86_64
#elif defined(__aarch64__)
#define EXT_ELF_MACHINE EM_AARCH64
#elif defined(__riscv)
#define EXT_ELF_MACHINE EM_RISCV
#elif defined(__powerpc64__)
#define EXT_ELF_MACHINE EM_PPC64
#elif defined(__s390x__)
#define EXT_ELF_MACHINE EM_S390
#else
#error "ext-loader.c: add this machine's ELF e_machine value"
#endif

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define EXT_ELF_DATA ELFDATA2LSB
#else
#define EXT_ELF_DATA ELFDATA2MSB
#endif

/* Bytes of a member of struct 'type'. */
#define MEMBER_SIZE(type, member) sizeof(((type *)0)->member)

/* The 1.0 descriptor ends with 'init'.  Later minors may append members;
 * none may make a descriptor shorter than this. */
#define DESC_SIZE_1_0                                                         \
    (offsetof(struct vsw_ext_descriptor, init) +                              \
     MEMBER_SIZE(struct vsw_ext_descriptor, init))

/* The members read from the file: the plain integers before 'name'.  The
 * pointers after them are relocated at load time and mean nothing in the
 * file. */
#define DESC_HEAD_SIZE offsetof(struct vsw_ext_descriptor, name)

/* The smallest ops table the host accepts: one that reaches 'process'. */
#define OPS_SIZE_MIN                                                          \
    (offsetof(struct vsw_ext_ops, process) +                                  \
     MEMBER_SIZE(struct vsw_ext_ops, process))

/* Limits on what the ELF reader allocates, whatever a header claims. */
#define ELF_MAX_SECTIONS 65536u
#define ELF_MAX_TABLE    (64u << 20) /* bytes of .dynsym or .dynstr */

/* A plugin file opened for checks 1-3. */
struct elf_file {
    const char *path;  /* for messages */
    int fd;            /* read with pread() only */
    uint64_t size;     /* bytes in the file */
    Elf64_Shdr *shdrs; /* 'shnum' section headers, malloc()ed */
    size_t shnum;      /* entries in 'shdrs' */
    char *err;         /* the caller's message buffer */
    size_t errlen;     /* bytes at 'err' */
};

/* Writes "PATH: MESSAGE" into 'err' and returns 'error' (negative), so a
 * refusal is one statement. */
static int __attribute__((format(printf, 5, 6)))
ext_refuse(char *err, size_t errlen, const char *path, int error,
           const char *fmt, ...)
{
    va_list args;
    int n;

    if (!errlen) {
        return error;
    }
    n = snprintf(err, errlen, "%s: ", path ? path : "(null)");
    if (n >= 0 && (size_t)n < errlen) {
        va_start(args, fmt);
        vsnprintf(err + n, errlen - n, fmt, args);
        va_end(args);
    }
    return error;
}

/* True if 'len' bytes at 'off' lie inside a file of 'size' bytes; written
 * so that no sum can overflow. */
static bool
range_in(uint64_t off, uint64_t len, uint64_t size)
{
    return off <= size && len <= size - off;
}

/* Reads exactly 'len' bytes at 'off' of the file; false on a short read
 * or an error (the caller has checked the range, so either means the file
 * changed under us). */
static bool
elf_read(const struct elf_file *ef, void *buf, size_t len, uint64_t off)
{
    uint8_t *p = buf;

    while (len) {
        ssize_t n = pread(ef->fd, p, len, (off_t)off);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return true;
}

/* Check 1: 'path' is absolute and names a regular file that the daemon's
 * user or root owns and that nobody else may write.  The file stays open
 * in 'ef->fd' so that checks 2 and 3 read the very file checked here. */
static int
ext_check_file(struct elf_file *ef, uid_t daemon_uid, struct stat *st)
{
    const char *path = ef->path;
    int error;

    if (!path || path[0] != '/') {
        return ext_refuse(ef->err, ef->errlen, path, -EINVAL,
                          "not an absolute path");
    }
    if (strlen(path) >= MEMBER_SIZE(struct vsw_ext_plugin, path)) {
        return ext_refuse(ef->err, ef->errlen, path, -ENAMETOOLONG,
                          "path too long");
    }
    /* O_NONBLOCK: opening a FIFO must not wait for a writer. */
    ef->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (ef->fd < 0) {
        error = -errno;
        return ext_refuse(ef->err, ef->errlen, path, error, "%s",
                          strerror(-error));
    }
    if (fstat(ef->fd, st) < 0) {
        error = -errno;
        return ext_refuse(ef->err, ef->errlen, path, error, "%s",
                          strerror(-error));
    }
    if (S_ISDIR(st->st_mode)) {
        return ext_refuse(ef->err, ef->errlen, path, -EISDIR,
                          "is a directory, not a plugin file");
    }
    if (!S_ISREG(st->st_mode)) {
        return ext_refuse(ef->err, ef->errlen, path, -EINVAL,
                          "not a regular file");
    }
    if (st->st_uid != 0 && st->st_uid != daemon_uid) {
        return ext_refuse(ef->err, ef->errlen, path, -EPERM,
                          "owned by uid %u, not by root or the daemon's "
                          "uid %u; refusing to load it",
                          (unsigned)st->st_uid, (unsigned)daemon_uid);
    }
    if (st->st_mode & S_IWOTH) {
        return ext_refuse(ef->err, ef->errlen, path, -EPERM,
                          "world-writable; refusing to load it");
    }
    if (st->st_mode & S_IWGRP) {
        return ext_refuse(ef->err, ef->errlen, path, -EPERM,
                          "group-writable; refusing to load it");
    }
    ef->size = (uint64_t)st->st_size;
    return 0;
}

/* Where private copies go ("" for none), and how many were made. */
static char private_dir[PATH_MAX];
static unsigned long n_private_copies;

/* See ext-loader.h. */
int
vsw_ext_loader_set_private_dir(const char *dir)
{
    struct dirent *de;
    DIR *d;

    private_dir[0] = '\0';
    if (strlen(dir) + 64 >= sizeof private_dir) {
        return -ENAMETOOLONG;
    }
    /* Copies of a daemon that died: nothing maps them any more.  The
     * directory is made again with the first copy. */
    d = opendir(dir);
    if (d) {
        while ((de = readdir(d))) {
            if (de->d_name[0] != '.') {
                unlinkat(dirfd(d), de->d_name, 0);
            }
        }
        closedir(d);
        rmdir(dir);
    } else if (errno != ENOENT) {
        return -errno;
    }
    snprintf(private_dir, sizeof private_dir, "%s", dir);
    return 0;
}

/* Check 4's private copy: copies the file check 1 opened ('ef->fd') into
 * a new read-only file of the private directory named in
 * 'plugin->copy', and makes 'ef' read the copy from then on, so that
 * what is checked is what is mapped. */
static int
ext_private_copy(struct elf_file *ef, struct vsw_ext_plugin *plugin)
{
    const char *base = strrchr(ef->path, '/') + 1;
    char buf[65536];
    uint64_t off = 0;
    int out;

    snprintf(plugin->copy, sizeof plugin->copy, "%s/%lu-%.200s", private_dir,
             ++n_private_copies, base);
    if (mkdir(private_dir, 0700) && errno != EEXIST) {
        int error = -errno;

        plugin->copy[0] = '\0';
        return ext_refuse(ef->err, ef->errlen, ef->path, error,
                          "cannot make %s for its private copy: %s",
                          private_dir, strerror(-error));
    }
    out = open(plugin->copy, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0400);
    if (out < 0) {
        int error = -errno;

        plugin->copy[0] = '\0';
        return ext_refuse(ef->err, ef->errlen, ef->path, error,
                          "cannot make a private copy in %s: %s", private_dir,
                          strerror(-error));
    }
    while (off < ef->size) {
        size_t want = ef->size - off < sizeof buf ? (size_t)(ef->size - off)
                                                  : sizeof buf;
        ssize_t n = pread(ef->fd, buf, want, (off_t)off);

        if (n <= 0 || write(out, buf, (size_t)n) != n) {
            int error = n < 0 ? -errno : -EIO;

            close(out);
            unlink(plugin->copy);
            plugin->copy[0] = '\0';
            return ext_refuse(ef->err, ef->errlen, ef->path, error,
                              "cannot copy it (is it being written?)");
        }
        off += (uint64_t)n;
    }
    close(ef->fd);
    ef->fd = out;
    return 0;
}

/* Check 2, first half: the ELF header says "64-bit shared object for this
 * machine", and its section header table lies inside the file; loads that
 * table into 'ef'. */
static int
elf_load_sections(struct elf_file *ef)
{
    Elf64_Ehdr eh;
    uint64_t shnum;

    if (ef->size < sizeof eh || !elf_read(ef, &eh, sizeof eh, 0) ||
        memcmp(eh.e_ident, ELFMAG, SELFMAG)) {
        return ext_refuse(ef->err, ef->errlen, ef->path, -ENOEXEC,
                          "not an ELF file");
    }
    if (eh.e_ident[EI_CLASS] != ELFCLASS64 ||
        eh.e_ident[EI_DATA] != EXT_ELF_DATA ||
        eh.e_ident[EI_VERSION] != EV_CURRENT) {
        return ext_refuse(ef->err, ef->errlen, ef->path, -ENOEXEC,
                          "ELF class or byte order is not this host's "
                          "(class %u, data %u)",
                          eh.e_ident[EI_CLASS], eh.e_ident[EI_DATA]);
    }
    if (eh.e_machine != EXT_ELF_MACHINE) {
        return ext_refuse(ef->err, ef->errlen, ef->path, -ENOEXEC,
                          "built for ELF machine %u, this host is %u",
                          eh.e_machine, EXT_ELF_MACHINE);
    }
    if (eh.e_type != ET_DYN) {
        return ext_refuse(ef->err, ef->errlen, ef->path, -ENOEXEC,
                          "not a shared object (ELF type %u)", eh.e_type);
    }
    if (!eh.e_shoff) {
        return ext_refuse(ef->err, ef->errlen, ef->path, -ENOEXEC,
                          "no section headers, so no %s symbol",
                          VSW_EXT_DESCRIPTOR_SYMBOL);
    }
    if (eh.e_shentsize != sizeof(Elf64_Shdr)) {
        return ext_refuse(ef->err, ef->errlen, ef->path, -ENOEXEC,
                          "malformed ELF: section header size %u",
                          eh.e_shentsize);
    }
    shnum = eh.e_shnum;
    if (!shnum) {
        /* More than SHN_LORESERVE sections: the count is in the first
         * section header's sh_size. */
        Elf64_Shdr first;

        if (!range_in(eh.e_shoff, sizeof first, ef->size) ||
            !elf_read(ef, &first, sizeof first, eh.e_shoff)) {
            return ext_refuse(ef->err, ef->errlen, ef->path, -ENOEXEC,
                              "truncated or malformed ELF: section headers "
                              "outside the file");
        }
        shnum = first.sh_size;
    }
    if (!shnum || shnum > ELF_MAX_SECTIONS) {
        return ext_refuse(ef->err, ef->errlen, ef->path, -ENOEXEC,
                          "malformed ELF: %llu sections",
                          (unsigned long long)shnum);
    }
    if (!range_in(eh.e_shoff, shnum * sizeof(Elf64_Shdr), ef->size)) {
        return ext_refuse(ef->err, ef->errlen, ef->path, -ENOEXEC,
                          "truncated or malformed ELF: section headers "
                          "outside the file");
    }
    ef->shdrs = malloc(shnum * sizeof(Elf64_Shdr));
    if (!ef->shdrs) {
        return ext_refuse(ef->err, ef->errlen, ef->path, -ENOMEM,
                          "out of memory");
    }
    ef->shnum = shnum;
    if (!elf_read(ef, ef->shdrs, shnum * sizeof(Elf64_Shdr), eh.e_shoff)) {
        return ext_refuse(ef->err, ef->errlen, ef->path, -EIO,
                          "short read of the section headers");
    }
    return 0;
}

/* Reads section 'sh' whole into a malloc()ed buffer in '*buf', after
 * checking that it lies inside the file and is of a sane size. */
static int
elf_read_section(struct elf_file *ef, const Elf64_Shdr *sh, const char *what,
                 void **buf)
{
    *buf = NULL;
    if (sh->sh_type == SHT_NOBITS || sh->sh_size > ELF_MAX_TABLE ||
        !range_in(sh->sh_offset, sh->sh_size, ef->size)) {
        return ext_refuse(ef->err, ef->errlen, ef->path, -ENOEXEC,
                          "truncated or malformed ELF: %s outside the file",
                          what);
    }
    *buf = malloc(sh->sh_size ? sh->sh_size : 1);
    if (!*buf) {
        return ext_refuse(ef->err, ef->errlen, ef->path, -ENOMEM,
                          "out of memory");
    }
    if (!elf_read(ef, *buf, sh->sh_size, sh->sh_offset)) {
        return ext_refuse(ef->err, ef->errlen, ef->path, -EIO,
                          "short read of %s", what);
    }
    return 0;
}

/* Check 2, second half: finds the defined descriptor symbol in the
 * SHT_DYNSYM table (the one the dynamic linker, hence dlsym(), uses) and
 * copies its entry into '*sym'. */
static int
elf_find_descriptor(struct elf_file *ef, Elf64_Sym *sym)
{
    static const char wanted[] = VSW_EXT_DESCRIPTOR_SYMBOL;
    const Elf64_Shdr *symtab = NULL;
    const Elf64_Shdr *strtab;
    Elf64_Sym *syms = NULL;
    char *strs = NULL;
    bool found = false;
    size_t n_syms;
    int error;

    for (size_t i = 0; i < ef->shnum; i++) {
        if (ef->shdrs[i].sh_type == SHT_DYNSYM) {
            symtab = &ef->shdrs[i];
            break;
        }
    }
    if (!symtab) {
        return ext_refuse(ef->err, ef->errlen, ef->path, -ENOEXEC,
                          "no %s symbol (no dynamic symbol table)",
                          VSW_EXT_DESCRIPTOR_SYMBOL);
    }
    if (symtab->sh_entsize != sizeof(Elf64_Sym) ||
        symtab->sh_link >= ef->shnum ||
        ef->shdrs[symtab->sh_link].sh_type != SHT_STRTAB) {
        return ext_refuse(ef->err, ef->errlen, ef->path, -ENOEXEC,
                          "malformed ELF: bad dynamic symbol table header");
    }
    strtab = &ef->shdrs[symtab->sh_link];
    error = elf_read_section(ef, symtab, "the dynamic symbol table",
                             (void **)&syms);
    if (!error) {
        error = elf_read_section(ef, strtab, "the dynamic string table",
                                 (void **)&strs);
    }
    n_syms = symtab->sh_size / sizeof(Elf64_Sym);
    /* Entry 0 is the reserved undefined symbol. */
    for (size_t i = 1; !error && !found && i < n_syms; i++) {
        const Elf64_Sym *s = &syms[i];

        if (s->st_shndx == SHN_UNDEF ||
            !range_in(s->st_name, sizeof wanted, strtab->sh_size) ||
            memcmp(strs + s->st_name, wanted, sizeof wanted)) {
            continue;
        }
        *sym = *s;
        found = true;
    }
    free(syms);
    free(strs);
    if (error) {
        return error;
    }
    if (!found) {
        return ext_refuse(ef->err, ef->errlen, ef->path, -ENOEXEC,
                          "no %s symbol", VSW_EXT_DESCRIPTOR_SYMBOL);
    }
    if (ELF64_ST_TYPE(sym->st_info) != STT_OBJECT) {
        return ext_refuse(ef->err, ef->errlen, ef->path, -ENOEXEC,
                          "%s is not a data object (symbol type %u)",
                          VSW_EXT_DESCRIPTOR_SYMBOL,
                          ELF64_ST_TYPE(sym->st_info));
    }
    return 0;
}

/* Check 3: reads the descriptor's integer members from the file at the
 * offset where the section holding address 'sym->st_value' keeps its
 * bytes, and checks its size, magic and version. */
static int
elf_check_descriptor(struct elf_file *ef, const Elf64_Sym *sym,
                     struct vsw_ext_descriptor *head)
{
    const Elf64_Shdr *home = NULL;
    uint64_t off;

    if (sym->st_size < DESC_SIZE_1_0) {
        return ext_refuse(ef->err, ef->errlen, ef->path, -ENOEXEC,
                          "descriptor is %llu bytes, ABI 1.0 needs at least "
                          "%zu",
                          (unsigned long long)sym->st_size, DESC_SIZE_1_0);
    }
    for (size_t i = 0; i < ef->shnum; i++) {
        const Elf64_Shdr *sh = &ef->shdrs[i];

        if (sh->sh_type != SHT_NOBITS && (sh->sh_flags & SHF_ALLOC) &&
            sym->st_value >= sh->sh_addr &&
            range_in(sym->st_value - sh->sh_addr, DESC_HEAD_SIZE,
                     sh->sh_size)) {
            home = sh;
            break;
        }
    }
    if (!home) {
        return ext_refuse(ef->err, ef->errlen, ef->path, -ENOEXEC,
                          "descriptor at 0x%llx has no contents in the file",
                          (unsigned long long)sym->st_value);
    }
    off = home->sh_offset + (sym->st_value - home->sh_addr);
    if (off < home->sh_offset || !range_in(off, DESC_HEAD_SIZE, ef->size)) {
        return ext_refuse(ef->err, ef->errlen, ef->path, -ENOEXEC,
                          "truncated or malformed ELF: descriptor outside "
                          "the file");
    }
    memset(head, 0, sizeof *head);
    if (!elf_read(ef, head, DESC_HEAD_SIZE, off)) {
        return ext_refuse(ef->err, ef->errlen, ef->path, -EIO,
                          "short read of the descriptor");
    }
    if (head->magic != VSW_EXT_MAGIC) {
        return ext_refuse(ef->err, ef->errlen, ef->path, -ENOEXEC,
                          "bad magic 0x%08x (not a vswitch extension)",
                          head->magic);
    }
    if (head->abi_major != VSW_EXT_ABI_MAJOR ||
        head->abi_minor > VSW_EXT_ABI_MINOR) {
        return ext_refuse(ef->err, ef->errlen, ef->path, -EPROTONOSUPPORT,
                          "built for ABI %u.%u, host has %u.%u",
                          head->abi_major, head->abi_minor, VSW_EXT_ABI_MAJOR,
                          VSW_EXT_ABI_MINOR);
    }
    /* Its minor is not newer, so its descriptor is not larger than ours;
     * every struct of the ABI is a whole number of 8-byte words. */
    if (head->size < DESC_SIZE_1_0 || head->size > sym->st_size ||
        head->size > sizeof(struct vsw_ext_descriptor) || head->size % 8) {
        return ext_refuse(ef->err, ef->errlen, ef->path, -ENOEXEC,
                          "descriptor 'size' is %u; its symbol is %llu "
                          "bytes and ABI %u.%u's descriptor %zu",
                          head->size, (unsigned long long)sym->st_size,
                          VSW_EXT_ABI_MAJOR, VSW_EXT_ABI_MINOR,
                          sizeof(struct vsw_ext_descriptor));
    }
    return 0;
}

/* What plugin_visit() looks for: the readable loaded segment of one
 * object that contains an address. */
struct plugin_range {
    const struct link_map *lm; /* the plugin */
    uintptr_t addr;            /* address asked about */
    size_t avail;              /* out: readable bytes from 'addr' to the
                                  end of its segment; 0 if in none */
};

/* dl_iterate_phdr() callback: fills 'range->avail' from the PT_LOAD
 * segments of the plugin. */
static int
plugin_visit(struct dl_phdr_info *info, size_t size, void *range_)
{
    struct plugin_range *range = range_;

    (void)size;
    if (info->dlpi_addr != range->lm->l_addr || !info->dlpi_name ||
        !range->lm->l_name || strcmp(info->dlpi_name, range->lm->l_name)) {
        return 0;
    }
    for (size_t i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;

        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_R) &&
            range->addr >= start && range->addr - start < ph->p_memsz) {
            range->avail = ph->p_memsz - (range->addr - start);
            return 1;
        }
    }
    return 1;
}

/* dl_iterate_phdr() callback: the span of the plugin's loaded
 * segments, into 'plugin->map_start' and 'map_end'. */
static int
plugin_span_visit(struct dl_phdr_info *info, size_t size, void *span_)
{
    struct plugin_range *span = span_;
    uintptr_t lo = UINTPTR_MAX;
    uintptr_t hi = 0;

    (void)size;
    if (info->dlpi_addr != span->lm->l_addr || !info->dlpi_name ||
        !span->lm->l_name || strcmp(info->dlpi_name, span->lm->l_name)) {
        return 0;
    }
    for (size_t i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;

        if (ph->p_type == PT_LOAD) {
            lo = start < lo ? start : lo;
            hi = start + ph->p_memsz > hi ? start + ph->p_memsz : hi;
        }
    }
    span->addr = lo;
    span->avail = hi > lo ? hi - lo : 0;
    return 1;
}

/* Readable bytes at 'p' inside the plugin's own loaded segments: what the
 * loader may read there without trusting the plugin. */
static size_t
plugin_readable(const struct link_map *lm, const void *p)
{
    struct plugin_range range = {.lm = lm, .addr = (uintptr_t)p};

    if (p) {
        dl_iterate_phdr(plugin_visit, &range);
    }
    return range.avail;
}

/* Copies the descriptor string 's' into 'dst' ('size' bytes), truncated,
 * with anything but printable ASCII replaced by '?': the text ends up in
 * logs and JSON, which want one line of valid UTF-8.  NULL gives "".
 * Returns false if 's' does not point into the plugin. */
static bool
plugin_copy_text(const struct link_map *lm, const char *s, char *dst,
                 size_t size)
{
    size_t avail;
    size_t n;

    dst[0] = '\0';
    if (!s) {
        return true;
    }
    avail = plugin_readable(lm, s);
    if (!avail) {
        return false;
    }
    n = strnlen(s, avail < size - 1 ? avail : size - 1);
    for (size_t i = 0; i < n; i++) {
        dst[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
    }
    dst[n] = '\0';
    return true;
}

/* Check 5, the name: present, inside the plugin, short enough and of the
 * allowed syntax; copied into 'plugin->name'. */
static int
plugin_check_name(const struct link_map *lm, const char *name,
                  struct vsw_ext_plugin *plugin, char *err, size_t errlen)
{
    size_t avail;
    size_t len;

    if (!name) {
        return ext_refuse(err, errlen, plugin->path, -EINVAL, "no name");
    }
    avail = plugin_readable(lm, name);
    if (!avail) {
        return ext_refuse(err, errlen, plugin->path, -EINVAL,
                          "name does not point into the plugin");
    }
    len = strnlen(name, avail < VSW_EXT_NAME_MAX ? avail : VSW_EXT_NAME_MAX);
    if (len >= VSW_EXT_NAME_MAX || len == avail) {
        return ext_refuse(err, errlen, plugin->path, -EINVAL,
                          "name is longer than %d characters",
                          VSW_EXT_NAME_MAX - 1);
    }
    memcpy(plugin->name, name, len + 1);
    if (!vsw_ext_name_valid(plugin->name)) {
        /* Show it, made printable, so the operator sees what is wrong. */
        char shown[VSW_EXT_NAME_MAX];

        plugin_copy_text(lm, name, shown, sizeof shown);
        plugin->name[0] = '\0';
        return ext_refuse(err, errlen, plugin->path, -EINVAL,
                          "bad name \"%s\" (want [a-z0-9][a-z0-9_-]{0,30})",
                          shown);
    }
    return 0;
}

/* Check 5, the ops table at 'ops': inside the plugin, of a sane size,
 * nothing the host does not know about set; copied into the host's layout
 * in 'plugin->ops'. */
static int
plugin_copy_ops(const struct link_map *lm, const void *ops,
                struct vsw_ext_plugin *plugin, char *err, size_t errlen)
{
    const uint8_t *bytes = ops;
    uint32_t reserved;
    uint32_t size;
    size_t avail;

    if (!ops) {
        return ext_refuse(err, errlen, plugin->path, -EINVAL, "no ops table");
    }
    avail = plugin_readable(lm, ops);
    if (avail < 8) {
        return ext_refuse(err, errlen, plugin->path, -EINVAL,
                          "ops table does not point into the plugin");
    }
    memcpy(&size, bytes + offsetof(struct vsw_ext_ops, size), sizeof size);
    memcpy(&reserved, bytes + offsetof(struct vsw_ext_ops, reserved),
           sizeof reserved);
    if (size < 8 || size < OPS_SIZE_MIN) {
        return ext_refuse(err, errlen, plugin->path, -EINVAL,
                          "ops table is %u bytes, too short to hold "
                          "'process' (%zu)",
                          size, OPS_SIZE_MIN);
    }
    if (size % 8) {
        return ext_refuse(err, errlen, plugin->path, -EINVAL,
                          "ops table is %u bytes, not a whole number of "
                          "members",
                          size);
    }
    if (size > avail) {
        return ext_refuse(err, errlen, plugin->path, -EINVAL,
                          "ops table is %u bytes but runs past the end of "
                          "the plugin's segment",
                          size);
    }
    if (reserved) {
        return ext_refuse(err, errlen, plugin->path, -EINVAL,
                          "ops 'reserved' is 0x%x, must be zero", reserved);
    }
    for (size_t i = sizeof plugin->ops; i < size; i++) {
        if (bytes[i]) {
            return ext_refuse(err, errlen, plugin->path, -EINVAL,
                              "ops table is %u bytes with non-zero bytes "
                              "past the host's %zu",
                              size, sizeof plugin->ops);
        }
    }
    memset(&plugin->ops, 0, sizeof plugin->ops);
    memcpy(&plugin->ops, bytes,
           size < sizeof plugin->ops ? size : sizeof plugin->ops);
    plugin->ops.size = sizeof plugin->ops;
    if (!plugin->ops.process) {
        return ext_refuse(err, errlen, plugin->path, -EINVAL,
                          "no 'process' callback (required)");
    }
    return 0;
}

/* Check 5: the descriptor at 'desc' in the mapped plugin matches what the
 * file said ('head'), and its members are acceptable; fills 'plugin'. */
static int
plugin_check_mapped(void *dl, const struct vsw_ext_descriptor *desc,
                    const Elf64_Sym *sym,
                    const struct vsw_ext_descriptor *head,
                    struct vsw_ext_plugin *plugin, char *err, size_t errlen)
{
    const uint32_t known_flags =
        VSW_EXT_F_FAIL_CLOSED | VSW_EXT_F_PLAIN_FRAMES;
    struct vsw_ext_descriptor d;
    struct link_map *lm;
    int error;

    if (dlinfo(dl, RTLD_DI_LINKMAP, &lm) || !lm) {
        return ext_refuse(err, errlen, plugin->path, -ELIBBAD, "dlinfo: %s",
                          dlerror());
    }
    /* The symbol dlsym() found must be the one checked in the file, and
     * still say the same: the file could have been replaced between the
     * checks and dlopen(). */
    if ((uintptr_t)desc != lm->l_addr + sym->st_value ||
        plugin_readable(lm, desc) < head->size) {
        return ext_refuse(err, errlen, plugin->path, -ENOEXEC,
                          "the mapped descriptor is not the one in the "
                          "file (was the file replaced?)");
    }
    memset(&d, 0, sizeof d);
    memcpy(&d, desc, head->size);
    if (memcmp(&d, head, DESC_HEAD_SIZE)) {
        return ext_refuse(err, errlen, plugin->path, -ENOEXEC,
                          "the mapped descriptor differs from the file's "
                          "(was the file replaced?)");
    }
    if (d.reserved) {
        return ext_refuse(err, errlen, plugin->path, -EINVAL,
                          "descriptor 'reserved' is 0x%x, must be zero",
                          d.reserved);
    }
    if (d.ext_class < VSW_EXT_CLASS_CAPTURE ||
        d.ext_class > VSW_EXT_CLASS_FORWARDING) {
        return ext_refuse(err, errlen, plugin->path, -EINVAL,
                          "unknown extension class %u", d.ext_class);
    }
    if (d.flags & ~known_flags) {
        return ext_refuse(err, errlen, plugin->path, -EINVAL,
                          "unknown flag bits 0x%x", d.flags & ~known_flags);
    }
    error = plugin_check_name(lm, d.name, plugin, err, errlen);
    if (error) {
        return error;
    }
    if (!plugin_copy_text(lm, d.version, plugin->version,
                          sizeof plugin->version) ||
        !plugin_copy_text(lm, d.description, plugin->description,
                          sizeof plugin->description)) {
        return ext_refuse(err, errlen, plugin->path, -EINVAL,
                          "version or description does not point into the "
                          "plugin");
    }
    if (!d.init) {
        return ext_refuse(err, errlen, plugin->path, -EINVAL,
                          "no 'init' function (required)");
    }
    error = plugin_copy_ops(lm, d.ops, plugin, err, errlen);
    if (error) {
        return error;
    }
    {
        struct plugin_range span = {.lm = lm};

        dl_iterate_phdr(plugin_span_visit, &span);
        plugin->map_start = span.addr;
        plugin->map_end = span.addr + span.avail;
    }
    plugin->ext_class = d.ext_class;
    plugin->flags = d.flags;
    plugin->abi_major = d.abi_major;
    plugin->abi_minor = d.abi_minor;
    plugin->desc = desc;
    return 0;
}

/* Runs checks 1-5 (see ext-loader.h).  The file stays open from check 1
 * to dlopen() so that its inode cannot be reused while it is checked. */
int
vsw_ext_plugin_open(const char *path, uid_t daemon_uid,
                    struct vsw_ext_plugin *plugin, char *err, size_t errlen)
{
    struct elf_file ef = {
        .path = path,
        .fd = -1,
        .err = err,
        .errlen = errlen,
    };
    struct vsw_ext_descriptor head;
    Elf64_Sym sym = {.st_size = 0};
    const void *desc;
    struct stat st, now;
    int error;

    memset(plugin, 0, sizeof *plugin);
    if (errlen) {
        err[0] = '\0';
    }
    error = ext_check_file(&ef, daemon_uid, &st);
    if (!error && private_dir[0]) {
        error = ext_private_copy(&ef, plugin);
    }
    if (!error) {
        error = elf_load_sections(&ef);
    }
    if (!error) {
        error = elf_find_descriptor(&ef, &sym);
    }
    if (!error) {
        error = elf_check_descriptor(&ef, &sym, &head);
    }
    free(ef.shdrs);
    if (error) {
        if (ef.fd >= 0) {
            close(ef.fd);
        }
        if (plugin->copy[0]) {
            unlink(plugin->copy);
        }
        memset(plugin, 0, sizeof *plugin);
        return error;
    }
    strcpy(plugin->path, path);

    plugin->dl =
        dlopen(plugin->copy[0] ? plugin->copy : path, RTLD_NOW | RTLD_LOCAL);
    if (!plugin->dl) {
        const char *why = dlerror();

        close(ef.fd);
        if (plugin->copy[0]) {
            unlink(plugin->copy);
        }
        memset(plugin, 0, sizeof *plugin);
        return ext_refuse(err, errlen, path, -ELIBBAD, "dlopen failed: %s",
                          why ? why : "?");
    }
    /* dlopen() went by the name: make sure it found the inode we checked,
     * which 'ef.fd' keeps from being reused until now.  (Our private copy
     * is ours alone.) */
    if (!plugin->copy[0] && (stat(path, &now) || now.st_dev != st.st_dev ||
                             now.st_ino != st.st_ino)) {
        error = ext_refuse(err, errlen, path, -ENOEXEC,
                           "file replaced while it was being loaded");
    }
    close(ef.fd);
    if (!error) {
        dlerror();
        desc = dlsym(plugin->dl, VSW_EXT_DESCRIPTOR_SYMBOL);
        error = desc ? plugin_check_mapped(plugin->dl, desc, &sym, &head,
                                           plugin, err, errlen)
                     : ext_refuse(err, errlen, path, -ENOEXEC,
                                  "no %s symbol once loaded",
                                  VSW_EXT_DESCRIPTOR_SYMBOL);
    }
    if (error) {
        dlclose(plugin->dl);
        if (plugin->copy[0]) {
            unlink(plugin->copy);
        }
        memset(plugin, 0, sizeof *plugin);
    }
    return error;
}

/* Unmaps a plugin whose code never ran; leaves it closed, so a second
 * call does nothing. */
void
vsw_ext_plugin_close(struct vsw_ext_plugin *plugin)
{
    if (plugin && plugin->dl) {
        dlclose(plugin->dl);
        plugin->dl = NULL;
        plugin->desc = NULL;
        if (plugin->copy[0]) {
            unlink(plugin->copy);
            plugin->copy[0] = '\0';
        }
    }
}

/* The class's name as `ext list` and the RPC replies show it. */
const char *
vsw_ext_class_name(uint32_t ext_class)
{
    switch (ext_class) {
    case VSW_EXT_CLASS_CAPTURE:
        return "capture";
    case VSW_EXT_CLASS_FILTER:
        return "filter";
    case VSW_EXT_CLASS_FORWARDING:
        return "forwarding";
    default:
        return "?";
    }
}

/* Names are also RPC method prefixes and JSON keys: keep them to a small
 * alphabet that needs no quoting anywhere. */
int
vsw_ext_name_valid(const char *name)
{
    size_t len = 0;

    if (!name || !((name[0] >= 'a' && name[0] <= 'z') ||
                   (name[0] >= '0' && name[0] <= '9'))) {
        return 0;
    }
    for (const char *p = name; *p; p++, len++) {
        bool ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
                  *p == '_' || *p == '-';

        if (!ok || len >= VSW_EXT_NAME_MAX - 1) {
            return 0;
        }
    }
    return 1;
}
