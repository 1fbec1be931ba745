/*
 * lacp_actor: datapath/team/lacp.c on real links, for the system test
 * test_lacp_ovs.py, which builds it with cc and runs it against Open
 * vSwitch's LACP bond.  It is the smallest honest user of lacp.h: one
 * AF_PACKET socket per member bound to the slow protocols, the monotonic
 * clock, and vsw_lacp_run() at the time it asks for and after every
 * received frame.
 *
 *   lacp_actor fast|slow IFNAME...
 *
 * Commands on stdin, one per line:
 *   mute N    stop sending on member N (the partner's view: silence)
 *   deaf N    ignore what member N receives (our view: silence)
 *   status    print every member's status, one JSON object per line
 *   quit      exit
 * On stdout, besides: {"event": "distributing", "t": SECONDS,
 * "members": [0|1...]} whenever the generation changes, and
 * {"event": "ready"} once the sockets are open.  Times are
 * CLOCK_MONOTONIC seconds.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lacp.h"

#define ETH_HEADER_LEN 14

struct member {
    int fd;               /* AF_PACKET socket bound to 0x8809 */
    uint8_t mac[6];       /* source MAC of our LACPDUs */
    bool mute;            /* drop what we would send */
    bool deaf;            /* drop what we receive */
    uint64_t last_rx_ns;  /* last LACPDU handed to LACP */
    uint64_t send_errors; /* send() failures */
};

static struct member members[VSW_LACP_MAX_MEMBERS];
static unsigned n_members;

static uint64_t
monotonic_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static double
seconds(uint64_t ns)
{
    return (double)ns / 1e9;
}

static void
send_lacpdu(unsigned index, const uint8_t *pdu, size_t len, void *aux)
{
    struct member *m = &members[index];
    uint8_t frame[ETH_HEADER_LEN + VSW_LACP_PDU_LEN];

    (void)aux;
    if (m->mute || len != VSW_LACP_PDU_LEN) {
        return;
    }
    memcpy(frame, vsw_lacp_dst_mac, 6);
    memcpy(frame + 6, m->mac, 6);
    frame[12] = VSW_LACP_ETHERTYPE >> 8;
    frame[13] = VSW_LACP_ETHERTYPE & 0xff;
    memcpy(frame + ETH_HEADER_LEN, pdu, len);
    if (send(m->fd, frame, sizeof frame, 0) < 0) {
        m->send_errors++;
    }
}

static int
member_open(struct member *m, const char *ifname)
{
    struct sockaddr_ll sll = {
        .sll_family = AF_PACKET,
        .sll_protocol = htons(VSW_LACP_ETHERTYPE),
        .sll_ifindex = (int)if_nametoindex(ifname),
    };
    struct ifreq ifr;

    if (!sll.sll_ifindex || strlen(ifname) >= IFNAMSIZ) {
        return -ENODEV;
    }
    m->fd = socket(AF_PACKET, SOCK_RAW, htons(VSW_LACP_ETHERTYPE));
    if (m->fd < 0) {
        return -errno;
    }
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, ifname);
    if (ioctl(m->fd, SIOCGIFHWADDR, &ifr) < 0 ||
        bind(m->fd, (struct sockaddr *)&sll, sizeof sll) < 0) {
        return -errno;
    }
    memcpy(m->mac, ifr.ifr_hwaddr.sa_data, 6);
    return 0;
}

static void
print_status(const struct vsw_lacp *lacp, uint64_t now)
{
    for (unsigned i = 0; i < n_members; i++) {
        struct vsw_lacp_member_status st;
        const uint8_t *mac;

        vsw_lacp_member_status(lacp, i, &st);
        mac = st.partner.system_mac;
        printf("{\"member\": %u, \"distributing\": %d, \"selected\": %d, "
               "\"current\": %d, \"why\": \"%s\", \"actor_state\": %u, "
               "\"partner_state\": %u, \"partner_key\": %u, "
               "\"partner_port\": %u, \"partner_system\": "
               "\"%02x:%02x:%02x:%02x:%02x:%02x\", \"rx\": %llu, "
               "\"rx_bad\": %llu, \"tx\": %llu, \"send_errors\": %llu, "
               "\"last_rx\": %.6f, \"t\": %.6f}\n",
               i, st.distributing, st.selected, st.current,
               vsw_lacp_why_name(st.why), st.actor.state, st.partner.state,
               st.partner.key, st.partner.port_number, mac[0], mac[1], mac[2],
               mac[3], mac[4], mac[5], (unsigned long long)st.rx_lacpdus,
               (unsigned long long)st.rx_bad,
               (unsigned long long)st.tx_lacpdus,
               (unsigned long long)members[i].send_errors,
               seconds(members[i].last_rx_ns), seconds(now));
    }
}

/* Carries out one command line; returns false on "quit" or end. */
static bool
command(struct vsw_lacp *lacp, const char *line, uint64_t now)
{
    unsigned index;

    if (!strncmp(line, "quit", 4)) {
        return false;
    } else if (!strncmp(line, "status", 6)) {
        print_status(lacp, now);
    } else if (sscanf(line, "mute %u", &index) == 1 && index < n_members) {
        members[index].mute = true;
    } else if (sscanf(line, "deaf %u", &index) == 1 && index < n_members) {
        members[index].deaf = true;
    } else {
        printf("{\"error\": \"unknown command\"}\n");
    }
    return true;
}

/* Reads what stdin has and carries out every whole line of it; returns
 * false on "quit" or end of input. */
static bool
read_commands(struct vsw_lacp *lacp, uint64_t now)
{
    static char buf[1024];
    static size_t used;
    ssize_t n = read(0, buf + used, sizeof buf - 1 - used);
    char *line, *newline;

    if (n <= 0) {
        return false;
    }
    used += (size_t)n;
    buf[used] = '\0';
    line = buf;
    while ((newline = strchr(line, '\n'))) {
        *newline = '\0';
        if (!command(lacp, line, now)) {
            return false;
        }
        line = newline + 1;
    }
    used = strlen(line);
    memmove(buf, line, used);
    if (used == sizeof buf - 1) {
        used = 0; /* a line too long for any command */
    }
    return true;
}

static void
receive_one(struct vsw_lacp *lacp, unsigned index, uint64_t now)
{
    struct member *m = &members[index];
    uint8_t frame[2048];
    ssize_t n = recv(m->fd, frame, sizeof frame, MSG_DONTWAIT);

    if (n <= ETH_HEADER_LEN || m->deaf) {
        return;
    }
    if (!vsw_lacp_receive(lacp, index, frame + ETH_HEADER_LEN,
                          (size_t)n - ETH_HEADER_LEN, now)) {
        m->last_rx_ns = now;
    }
}

int
main(int argc, char *argv[])
{
    struct vsw_lacp_settings settings = {
        .system_priority = 32768,
        .system_mac = {0x02, 0x00, 0x00, 0x00, 0x1a, 0xc9},
        .key = 5,
        .active = true,
    };
    struct pollfd pfds[VSW_LACP_MAX_MEMBERS + 1];
    struct vsw_lacp *lacp;
    uint64_t generation = 0;
    bool running = true;

    if (argc < 3 || argc - 2 > VSW_LACP_MAX_MEMBERS) {
        fprintf(stderr, "usage: lacp_actor fast|slow IFNAME...\n");
        return 2;
    }
    settings.fast = !strcmp(argv[1], "fast");
    lacp = vsw_lacp_create(&settings);
    n_members = (unsigned)argc - 2;
    for (unsigned i = 0; i < n_members; i++) {
        int error = member_open(&members[i], argv[2 + i]);

        if (error) {
            fprintf(stderr, "%s: %s\n", argv[2 + i], strerror(-error));
            return 1;
        }
        vsw_lacp_member_add(lacp, i, (uint16_t)(i + 1), 128);
        vsw_lacp_member_set_carrier(lacp, i, true, monotonic_ns());
        pfds[i] = (struct pollfd){.fd = members[i].fd, .events = POLLIN};
    }
    pfds[n_members] = (struct pollfd){.fd = 0, .events = POLLIN};
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("{\"event\": \"ready\"}\n");

    while (running) {
        uint64_t now = monotonic_ns();
        uint64_t next = vsw_lacp_run(lacp, now, send_lacpdu, NULL);
        int timeout_ms;

        if (vsw_lacp_generation(lacp) != generation) {
            generation = vsw_lacp_generation(lacp);
            printf("{\"event\": \"distributing\", \"t\": %.6f, "
                   "\"members\": [",
                   seconds(now));
            for (unsigned i = 0; i < n_members; i++) {
                printf("%s%d", i ? ", " : "",
                       vsw_lacp_member_distributing(lacp, i));
            }
            printf("]}\n");
        }
        timeout_ms = next <= now ? 0 : (int)((next - now) / 1000000 + 1);
        timeout_ms = timeout_ms > 1000 ? 1000 : timeout_ms;
        if (poll(pfds, n_members + 1, timeout_ms) < 0 && errno != EINTR) {
            break;
        }
        now = monotonic_ns();
        for (unsigned i = 0; i < n_members; i++) {
            if (pfds[i].revents & POLLIN) {
                receive_one(lacp, i, now);
            }
        }
        if (pfds[n_members].revents & (POLLIN | POLLHUP)) {
            running = read_commands(lacp, now);
        }
    }
    vsw_lacp_destroy(lacp);
    for (unsigned i = 0; i < n_members; i++) {
        close(members[i].fd);
    }
    return 0;
}
