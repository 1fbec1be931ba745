/* vswitch-ctl dp show: the datapath's workers, their load and the receive
 * queues each one polls. */
#include "ctl.h"

#include <stdio.h>
#include <stdlib.h>

#include "util.h"

static char *
worker_text(const json_t *row)
{
    return vsw_xasprintf(
        "%lld", (long long)json_integer_value(json_object_get(row, "worker")));
}

static enum vsw_ctl_status
dp_show_cmd(struct vsw_ctl_context *ctx, int argc, char *argv[])
{
    static const struct vsw_ctl_column worker_columns[] = {
        {"WORKER", VSW_TABLE_RIGHT, "worker", NULL},
        {"LOAD", VSW_TABLE_RIGHT, "load", NULL},
        {"CPU", VSW_TABLE_RIGHT, "cpu", NULL},
        {"QUEUES", VSW_TABLE_RIGHT, "queues", NULL},
        {"PACKETS", VSW_TABLE_RIGHT, "packets", NULL},
        {"CACHE-HITS", VSW_TABLE_RIGHT, "cache-hits", NULL},
    };
    static const struct vsw_ctl_column queue_columns[] = {
        {"WORKER", VSW_TABLE_RIGHT, NULL, worker_text},
        {"PORT", VSW_TABLE_LEFT, "port", NULL},
        {"QUEUE", VSW_TABLE_RIGHT, "queue", NULL},
        {"LOAD", VSW_TABLE_RIGHT, "load", NULL},
        {"PPS", VSW_TABLE_RIGHT, "pps", NULL},
        {"PINNED", VSW_TABLE_LEFT, "pinned", NULL},
    };
    enum vsw_ctl_status status;
    json_t *result;
    json_t *workers;
    json_t *queues;

    status = vsw_ctl_query(ctx, argc, argv, &result);
    if (status != VSW_CTL_OK || !result) {
        return status;
    }
    workers = vsw_ctl_result_array(result, "dp.show", "workers");
    if (!workers) {
        json_decref(result);
        return VSW_CTL_ERROR;
    }
    /* One table of queues across workers reads better than one per
     * worker: tag each queue with its worker. */
    queues = json_array();
    for (size_t i = 0; i < json_array_size(workers); i++) {
        json_t *worker = json_array_get(workers, i);
        json_t *rxqs = json_object_get(worker, "rxqs");

        for (size_t j = 0; j < json_array_size(rxqs); j++) {
            json_t *rxq = json_deep_copy(json_array_get(rxqs, j));

            json_object_set(rxq, "worker", json_object_get(worker, "worker"));
            json_array_append_new(queues, rxq);
        }
    }
    printf("busy-poll: %s\n",
           json_is_true(json_object_get(result, "busy-poll")) ? "on" : "off");
    vsw_ctl_print_rows(workers, worker_columns,
                       sizeof worker_columns / sizeof *worker_columns);
    if (json_array_size(queues)) {
        printf("\n");
        vsw_ctl_print_rows(queues, queue_columns,
                           sizeof queue_columns / sizeof *queue_columns);
    }
    json_decref(queues);
    json_decref(result);
    return VSW_CTL_OK;
}

static const char *const pin_queue_names[] = {"port", "queue", "worker", NULL};

const struct vsw_ctl_command vsw_ctl_dp_commands[] = {
    {
        .noun = "dp",
        .verb = "show",
        .args = "",
        .min_args = 0,
        .max_args = 0,
        .method = "dp.show",
        .summary = "show the workers' load and the queues each one polls",
        .help = "Shows each datapath worker thread with its load (the share "
                "of one core it\nspent on packets over the last second), "
                "its CPU (the share of one core the\nthread used at all: "
                "with --busy-poll a whole core, whatever the load), how\n"
                "many receive queues it polls and the frames it has read; "
                "then every receive queue with its worker, port,\n"
                "queue number, load and frames per second.  The daemon "
                "moves a busy queue\nfrom an overloaded worker to an idle "
                "one about once a second.\n",
        .run = dp_show_cmd,
    },
    {
        .noun = "dp",
        .verb = "pin-queue",
        .args = "PORT QUEUE WORKER",
        .min_args = 3,
        .max_args = 3,
        .names = pin_queue_names,
        .method = "dp.pin-queue",
        .summary = "move a receive queue to a worker and keep it there",
        .help = "Moves receive queue QUEUE of PORT to worker WORKER (numbers "
                "as 'dp show'\nprints them) and pins it: automatic "
                "rebalancing no longer moves it.\nPins last until the "
                "daemon restarts.\n",
        .run = vsw_ctl_run_change,
    },
    {.verb = NULL},
};
