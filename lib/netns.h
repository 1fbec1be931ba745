/*
 * Network namespaces: running a piece of code inside another namespace,
 * and keeping a namespace alive through a bind mount, the way `ip netns`
 * does.
 */
#ifndef VSW_NETNS_H
#define VSW_NETNS_H 1

#include <stdbool.h>
#include <sys/types.h>

/* Runs 'fn'('arg') on a short-lived thread that has joined the network
 * namespace 'nsfd', so the caller's own namespace never changes.  Sockets
 * and TAP fds made by 'fn' stay bound to that namespace after it returns.
 * Returns what 'fn' returns, or a negative errno if the thread could not
 * be started or could not join the namespace. */
int vsw_netns_call(int nsfd, int (*fn)(void *arg), void *arg);

/* Makes 'path' a bind mount of the namespace 'nsfd' (creating the file
 * and its directory as needed and replacing an earlier mount there), so
 * the namespace outlives every process in it.  Returns 0 or a negative
 * errno. */
int vsw_netns_pin(int nsfd, const char *path);

/* Undoes vsw_netns_pin(): unmounts and removes 'path'.  Quiet when there
 * is nothing there.  Returns 0 or a negative errno. */
int vsw_netns_unpin(const char *path);

/* True if the namespaces behind fds 'a' and 'b' are the same. */
bool vsw_netns_same(int a, int b);

/* Inode number of the namespace behind 'nsfd' (what `ip netns identify`
 * and /proc/PID/ns/net show), or 0 on error. */
ino_t vsw_netns_inode(int nsfd);

#endif /* VSW_NETNS_H */
