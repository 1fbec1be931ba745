/*
 * Deferred freeing for data the workers read without locks.
 *
 * The control thread replaces a shared object (a configuration snapshot, a
 * removed port) by publishing a new pointer, then hands the old object to
 * vsw_rcu_defer().  It is freed only once every worker has passed a
 * quiescent point after the hand-over: between two batches, or while
 * asleep waiting for traffic.  Workers never wait for the control thread.
 *
 * A global epoch counts hand-overs.  Each worker publishes the epoch it
 * last saw at a quiescent point (0 while offline, i.e. asleep); an object
 * handed over at epoch E may go once every worker has seen >= E.  A
 * worker counts as holding pointers from the epoch it last saw even while
 * it sleeps in epoll_wait(), because the events epoll returns (port
 * pointers) were registered earlier; so the datapath wakes sleeping
 * workers after a hand-over instead of letting them go "offline".
 */
#ifndef VSW_RCU_H
#define VSW_RCU_H 1

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct vsw_rcu;

/* One per worker thread; owned by the worker, read by the control
 * thread. */
struct vsw_rcu_reader {
    _Atomic uint64_t seen; /* epoch at the last quiescent point */
};

/* Creates the domain for 'n_readers' workers.  After every hand-over it
 * calls 'wake'('aux') so that sleeping workers pass a quiescent point.
 * Returns NULL on allocation failure. */
struct vsw_rcu *vsw_rcu_create(unsigned n_readers, void (*wake)(void *aux),
                               void *aux);

/* Runs every pending callback (readers must have stopped) and frees
 * 'rcu'.  NULL is allowed. */
void vsw_rcu_destroy(struct vsw_rcu *rcu);

/* The reader state of worker 'index'. */
struct vsw_rcu_reader *vsw_rcu_reader(struct vsw_rcu *rcu, unsigned index);

/* Worker: marks a quiescent point: it holds no pointer loaded before. */
void vsw_rcu_quiesce(struct vsw_rcu *rcu, struct vsw_rcu_reader *reader);

/* Control thread: calls 'fn'('arg') once no worker can still hold a
 * pointer it loaded before this call.  Returns 0 or -ENOMEM (in which
 * case it waits for the grace period itself and calls 'fn' at once). */
int vsw_rcu_defer(struct vsw_rcu *rcu, void (*fn)(void *arg), void *arg);

/* Control thread: runs the callbacks whose grace period has ended.
 * Returns how many are still pending. */
size_t vsw_rcu_reclaim(struct vsw_rcu *rcu);

/* Control thread: waits (polling) until every callback deferred so far
 * has run. */
void vsw_rcu_barrier(struct vsw_rcu *rcu);

#endif /* VSW_RCU_H */
