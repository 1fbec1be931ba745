/*
 * Extensions inside the daemon: the loaded extensions and their bindings
 * to switches, shared by manager-ext.c (the model, the ext.* methods,
 * persistence, the breaker) and ext-host.c (the services plugins call,
 * the crash handler, the watchdog).  Not for other modules.
 *
 * Threads: main thread, except where a comment says otherwise.
 */
#ifndef VSW_EXT_PRIVATE_H
#define VSW_EXT_PRIVATE_H 1

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>

#include <vswitch/extension.h>

#include "ext-loader.h"
#include "ext-stage.h"
#include "rpc-server.h"

struct vsw_manager;
struct mgr_switch;

enum mgr_ext_state {
    MGR_EXT_READY,       /* loaded and initialised */
    MGR_EXT_FAILED,      /* loaded, but 'init' refused */
    MGR_EXT_QUARANTINED, /* crashed or hung: not loaded until cleared */
    MGR_EXT_MISSING,     /* its file was gone at start: not loaded */
};

struct ext_method;
struct ext_timer_list;
struct mgr_port;

/* A port as an extension was last told about it (ABI 1.1 port events). */
struct ext_port_seen {
    struct vsw_ext_port_info info; /* what the plugin was given */
    uint64_t fingerprint;          /* of its settings, ACLs, device */
};

/* One loaded (or quarantined) extension; the plugin's vsw_ext_handle. */
struct vsw_ext_handle {
    struct vsw_ext_handle *next;  /* next of the manager's */
    struct vsw_manager *mgr;      /* owner */
    char name[VSW_EXT_NAME_MAX];  /* unique */
    char path[PATH_MAX];          /* the .so */
    enum mgr_ext_state state;     /* see above */
    char error[256];              /* last error text set_error() gave,
                                     or why it is not ready */
    bool loaded;                  /* 'plugin' is valid (mapped) */
    struct vsw_ext_plugin plugin; /* descriptor and ops */
    void *ext_data;               /* from 'init' */
    struct ext_method *methods;   /* RPC methods it registered */
    struct vsw_ext_timer *timers; /* its running timers */
    json_t *kept_configs;         /* switch name -> configuration kept by
                                     a disable, for the next enable */
    bool staging;                 /* a reload's new version, not live yet:
                                     its methods wait for the swap */
};

/* An extension enabled on a switch; the plugin's vsw_ext_switch. */
struct vsw_ext_switch {
    struct vsw_ext_switch *next;      /* next of the switch, in order */
    struct vsw_ext_handle *ext;       /* the extension */
    struct mgr_switch *sw;            /* the switch */
    json_t *config;                   /* its configuration (an object) */
    struct vsw_ext_instance *inst;    /* running: the datapath's view, with
                                         counters; NULL when it is not (its
                                         extension is not ready) */
    bool tripped;                     /* the breaker is open */
    uint64_t breaker_failures;        /* failures at the last tick */
    uint64_t breaker_packets;         /* packets at the last tick */
    struct vsw_ext_totals carried;    /* counted by the versions a reload
                                         replaced, so that counters go on */
    struct ext_port_seen *ports_seen; /* the switch's ports as the running
                                         instance knows them (port_added
                                         ...), NULL: none announced */
    size_t n_ports_seen;              /* entries of 'ports_seen' */
};

/* A timer of an extension. */
struct vsw_ext_timer {
    struct vsw_ext_timer *next; /* next of the extension's */
    struct vsw_ext_handle *ext; /* owner */
    struct event *event;        /* libevent timer */
    uint32_t interval_ms;       /* period */
    bool repeat;                /* fire again */
    void (*fn)(void *arg);      /* the plugin's callback */
    void *arg;                  /* its argument */
};

/* An RPC method of an extension. */
struct ext_method {
    struct ext_method *next;      /* next of the extension's */
    struct vsw_ext_handle *ext;   /* owner */
    char name[96];                /* "<extension>.<verb>" */
    vsw_ext_rpc_fn fn;            /* the plugin's, or NULL and: */
    vsw_ext_rpc_switch_fn sw_fn;  /* called for one switch (ABI 1.1) */
    void *arg;                    /* its argument */
    bool registered;              /* on the RPC server already */
    struct vsw_rpc_method method; /* what the server calls */
};

/* What an RPC method or 'stats' replies. */
struct vsw_ext_reply {
    json_t *result; /* NULL until reply_set() */
};

/* ext-host.c */

/* Fills the host services table (once). */
const struct vsw_ext_host *ext_host_table(void);

/* Starts the crash handler and the watchdog: a fatal signal or a call
 * into an extension that takes longer than 'hang_ms' records that
 * extension's name in 'marker_path' (and a hang aborts the daemon). */
int ext_host_start_guards(const char *marker_path, unsigned hang_ms);

/* Records (or forgets) where the loaded plugin of 'ext' is mapped, so
 * that the crash handler blames a fault whose instruction or address is
 * in it even when no thread was inside the extension by the book. */
void ext_host_note_mapping(const struct vsw_ext_handle *ext);
void ext_host_forget_mapping(const struct vsw_ext_handle *ext);

/* Marks the calling (main) thread as inside 'ext' until ext_call_end(). */
void ext_call_begin(struct vsw_ext_handle *ext);
void ext_call_end(void);

/* Hands the deferred frees workers asked for to the datapath. */
void ext_host_flush_deferred(struct vsw_manager *mgr);

/* The bound of the deferred frees waiting for the tick (bounds.h). */
struct vsw_bounds;
void ext_host_bounds(struct vsw_manager *mgr, struct vsw_bounds *bounds);

/* Frees timers of 'ext'. */
void ext_host_cancel_timers(struct vsw_ext_handle *ext);

/* Unregisters the methods of 'ext' from 'server' (NULL: there is none
 * yet) and frees them: it is being unloaded. */
void ext_host_forget_methods(struct vsw_ext_handle *ext,
                             struct vsw_rpc_server *server);

/* Registers the methods of 'ext' not on 'server' yet. */
void ext_host_register_methods(struct vsw_ext_handle *ext,
                               struct vsw_rpc_server *server);

/* Describes 'port' as port_lookup() does, with the host's 'size'. */
void ext_host_port_info(const struct mgr_port *port,
                        struct vsw_ext_port_info *info);

/* Deletes the state blob (state_save()) of the extension named 'name'. */
void ext_host_state_delete(struct vsw_manager *mgr, const char *name);

#endif /* VSW_EXT_PRIVATE_H */
