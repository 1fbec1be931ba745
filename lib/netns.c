#include "netns.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

struct netns_call {
    int nsfd;             /* namespace to join */
    int (*fn)(void *arg); /* what to run there */
    void *arg;            /* its argument */
    int result;           /* fn's result, or -errno of setns */
};

static void *
netns_call_thread(void *call_)
{
    struct netns_call *call = call_;

    if (setns(call->nsfd, CLONE_NEWNET) < 0) {
        call->result = -errno;
        return NULL;
    }
    call->result = call->fn(call->arg);
    return NULL;
}

int
vsw_netns_call(int nsfd, int (*fn)(void *arg), void *arg)
{
    struct netns_call call = {.nsfd = nsfd, .fn = fn, .arg = arg};
    pthread_t thread;
    int error;

    error = pthread_create(&thread, NULL, netns_call_thread, &call);
    if (error) {
        return -error;
    }
    pthread_join(thread, NULL);
    return call.result;
}

int
vsw_netns_pin(int nsfd, const char *path)
{
    char source[64];
    int fd;

    vsw_netns_unpin(path);
    fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0400);
    if (fd < 0) {
        return -errno;
    }
    close(fd);
    snprintf(source, sizeof source, "/proc/self/fd/%d", nsfd);
    if (mount(source, path, "none", MS_BIND, NULL) < 0) {
        int error = -errno;

        unlink(path);
        return error;
    }
    return 0;
}

int
vsw_netns_unpin(const char *path)
{
    /* A path may carry more than one mount if an earlier daemon died
     * between mounting and recording; peel them all. */
    while (umount2(path, MNT_DETACH) == 0) {
        continue;
    }
    if (unlink(path) < 0 && errno != ENOENT) {
        return -errno;
    }
    return 0;
}

bool
vsw_netns_same(int a, int b)
{
    struct stat sa, sb;

    return !fstat(a, &sa) && !fstat(b, &sb) && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

ino_t
vsw_netns_inode(int nsfd)
{
    struct stat st;

    return fstat(nsfd, &st) ? 0 : st.st_ino;
}
