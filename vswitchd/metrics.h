/*
 * Prometheus metrics: an HTTP endpoint (libevent's evhttp, on the control
 * thread's loop) that serves GET /metrics in the text exposition format
 * 0.0.4.
 *
 * A scrape reads the figures through the daemon's own read-only methods
 * (port.stats, system.status, acl.list, ext.stats, ...), called in
 * process, so that every series equals what `vswitch-ctl` shows and no
 * counter is read a second way.  Those methods read the workers' counters
 * without locks, so a scrape never blocks a worker.
 *
 * Bounds: at most VSW_METRICS_MAX_CONNECTIONS connections at once (more
 * are closed on accept), request headers of at most 8 KiB, no request
 * body, and an idle connection is closed after 10 s.  Other paths get
 * 404, other methods 405.
 */
#ifndef VSW_METRICS_H
#define VSW_METRICS_H 1

#include <stddef.h>

struct event_base;
struct vsw_rpc_server;
struct vsw_metrics;

#define VSW_METRICS_MAX_CONNECTIONS 16

/* Checks that 'address' is "IPV4:PORT" or "[IPV6]:PORT" with a port from
 * 1 to 65535.  Returns 0, or -EINVAL with a sentence in 'err'. */
int vsw_metrics_check_address(const char *address, char *err, size_t size);

/* Listens on 'address' (as vsw_metrics_check_address() accepts) on
 * 'base'.  Scrapes answer 503 until vsw_metrics_set_source() is called.
 * Returns 0 and stores the endpoint in '*metricsp' (the caller owns it),
 * or a negative errno with a sentence in 'err'. */
int vsw_metrics_create(struct event_base *base, const char *address,
                       struct vsw_metrics **metricsp, char *err, size_t size);

/* Scrapes read the figures through the methods of 'server' (borrowed: it
 * must outlive 'metrics' or be replaced by NULL first).  'metrics' may be
 * NULL (no endpoint): nothing happens. */
void vsw_metrics_set_source(struct vsw_metrics *metrics,
                            struct vsw_rpc_server *server);

/* Renders every series of the daemon behind 'server' in the text
 * exposition format.  Returns a NUL-terminated text the caller frees with
 * free(), or NULL if out of memory. */
char *vsw_metrics_render(struct vsw_rpc_server *server);

/* Closes every connection and the listener and frees 'metrics'.  NULL is
 * allowed. */
void vsw_metrics_destroy(struct vsw_metrics *metrics);

#endif /* VSW_METRICS_H */
