#include "rcu.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

struct rcu_callback {
    struct rcu_callback *next; /* next younger callback */
    uint64_t epoch;            /* epoch of the hand-over */
    void (*fn)(void *arg);     /* what to run */
    void *arg;                 /* its argument */
};

struct vsw_rcu {
    _Atomic uint64_t epoch;         /* hand-overs so far, starts at 1 */
    unsigned n_readers;             /* entries in 'readers' */
    struct vsw_rcu_reader *readers; /* one per worker */
    struct rcu_callback *head;      /* oldest pending callback */
    struct rcu_callback **tail;     /* where the next one goes */
    size_t n_pending;               /* callbacks in the list */
    void (*wake)(void *aux);        /* makes sleeping readers quiesce */
    void *wake_aux;                 /* its argument */
};

struct vsw_rcu *
vsw_rcu_create(unsigned n_readers, void (*wake)(void *aux), void *aux)
{
    struct vsw_rcu *rcu = calloc(1, sizeof *rcu);

    if (!rcu) {
        return NULL;
    }
    rcu->readers = calloc(n_readers ? n_readers : 1, sizeof *rcu->readers);
    if (!rcu->readers) {
        free(rcu);
        return NULL;
    }
    atomic_init(&rcu->epoch, 1);
    for (unsigned i = 0; i < n_readers; i++) {
        atomic_init(&rcu->readers[i].seen, 1);
    }
    rcu->n_readers = n_readers;
    rcu->tail = &rcu->head;
    rcu->wake = wake;
    rcu->wake_aux = aux;
    return rcu;
}

void
vsw_rcu_destroy(struct vsw_rcu *rcu)
{
    if (!rcu) {
        return;
    }
    while (rcu->head) {
        struct rcu_callback *cb = rcu->head;

        rcu->head = cb->next;
        cb->fn(cb->arg);
        free(cb);
    }
    free(rcu->readers);
    free(rcu);
}

struct vsw_rcu_reader *
vsw_rcu_reader(struct vsw_rcu *rcu, unsigned index)
{
    return &rcu->readers[index];
}

void
vsw_rcu_quiesce(struct vsw_rcu *rcu, struct vsw_rcu_reader *reader)
{
    atomic_store(&reader->seen, atomic_load(&rcu->epoch));
}

/* True once no reader can hold a pointer from before 'epoch'. */
static bool
grace_period_over(const struct vsw_rcu *rcu, uint64_t epoch)
{
    for (unsigned i = 0; i < rcu->n_readers; i++) {
        if (atomic_load(&rcu->readers[i].seen) < epoch) {
            return false;
        }
    }
    return true;
}

static void
wait_grace_period(const struct vsw_rcu *rcu, uint64_t epoch)
{
    const struct timespec tick = {0, 100 * 1000};

    while (!grace_period_over(rcu, epoch)) {
        nanosleep(&tick, NULL);
    }
}

int
vsw_rcu_defer(struct vsw_rcu *rcu, void (*fn)(void *arg), void *arg)
{
    struct rcu_callback *cb = malloc(sizeof *cb);
    uint64_t epoch = atomic_fetch_add(&rcu->epoch, 1) + 1;

    rcu->wake(rcu->wake_aux);
    if (!cb) {
        wait_grace_period(rcu, epoch);
        fn(arg);
        return -ENOMEM;
    }
    cb->next = NULL;
    cb->epoch = epoch;
    cb->fn = fn;
    cb->arg = arg;
    *rcu->tail = cb;
    rcu->tail = &cb->next;
    rcu->n_pending++;
    return 0;
}

size_t
vsw_rcu_reclaim(struct vsw_rcu *rcu)
{
    while (rcu->head && grace_period_over(rcu, rcu->head->epoch)) {
        struct rcu_callback *cb = rcu->head;

        rcu->head = cb->next;
        if (!rcu->head) {
            rcu->tail = &rcu->head;
        }
        rcu->n_pending--;
        cb->fn(cb->arg);
        free(cb);
    }
    return rcu->n_pending;
}

void
vsw_rcu_barrier(struct vsw_rcu *rcu)
{
    const struct timespec tick = {0, 100 * 1000};

    while (vsw_rcu_reclaim(rcu)) {
        nanosleep(&tick, NULL);
    }
}
