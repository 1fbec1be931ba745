/*
 * libFuzzer harness for LACP's receive path (datapath/team/lacp.c): a
 * team of two members, negotiated with a well-formed partner, is handed
 * a sequence of frames cut from the input, with the clock moving and the
 * state machines running between them.  Built like the other targets:
 * this file plus datapath/team/lacp.c, with -I datapath/team.
 *
 * Input: records of [member byte][clock step byte][length byte][bytes].
 * A record whose first data byte is 0xff is replaced by a valid LACPDU
 * built from the rest, so the fuzzer can move the partner as well as
 * spoil frames.
 *
 * Besides memory safety it checks vsw_lacp_receive()'s promise: a frame
 * it refuses changes no member's status (rx_bad of the member it came
 * on grows by one when it is malformed, a marker counts nothing).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lacp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define N_MEMBERS 2
#define MS        1000000ULL

static void
discard_send(unsigned member, const uint8_t *pdu, size_t len, void *aux)
{
    (void)member;
    (void)pdu;
    (void)aux;
    if (len != VSW_LACP_PDU_LEN) {
        abort();
    }
}

/* A valid LACPDU from the partner 02:00:00:00:00:bb, its port 'port' and
 * state 'state', key 'key'. */
static void
build_pdu(uint8_t *pdu, uint8_t port, uint8_t state, uint8_t key)
{
    memset(pdu, 0, VSW_LACP_PDU_LEN);
    pdu[0] = 1;
    pdu[1] = 1;
    pdu[2] = 1;
    pdu[3] = 20;
    pdu[4] = 0x80;
    pdu[6] = 0x02;
    pdu[11] = 0xbb;
    pdu[13] = key;
    pdu[14] = 0x00;
    pdu[15] = 0x80;
    pdu[17] = port;
    pdu[18] = state;
    pdu[22] = 2;
    pdu[23] = 20;
    pdu[42] = 3;
    pdu[43] = 16;
}

static void
snapshot(const struct vsw_lacp *lacp, struct vsw_lacp_member_status *st)
{
    for (unsigned m = 0; m < N_MEMBERS; m++) {
        if (vsw_lacp_member_status(lacp, m, &st[m])) {
            abort();
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vsw_lacp_settings settings = {
        .system_priority = 32768,
        .system_mac = {0x02, 0, 0, 0, 0, 0xaa},
        .key = 1,
        .fast = true,
        .active = true,
    };
    struct vsw_lacp_member_status before[N_MEMBERS], after[N_MEMBERS];
    uint8_t frame[VSW_LACP_PDU_LEN + 64];
    struct vsw_lacp *lacp = vsw_lacp_create(&settings);
    uint64_t now = 1000 * MS;
    size_t pos = 0;

    if (!lacp) {
        return 0;
    }
    for (unsigned m = 0; m < N_MEMBERS; m++) {
        vsw_lacp_member_add(lacp, m, (uint16_t)(m + 1), 128);
        vsw_lacp_member_set_carrier(lacp, m, true, now);
        build_pdu(frame, (uint8_t)(m + 1), 0x3f, 7);
        vsw_lacp_receive(lacp, m, frame, VSW_LACP_PDU_LEN, now);
    }
    vsw_lacp_run(lacp, now, discard_send, NULL);

    while (size - pos >= 3) {
        uint8_t control = data[pos];
        unsigned member = control % (N_MEMBERS + 1); /* one unknown */
        size_t len = data[pos + 2];
        int error;

        now += (uint64_t)data[pos + 1] * 20 * MS;
        pos += 3;
        len = len < size - pos ? len : size - pos;
        len = len < sizeof frame ? len : sizeof frame;
        memcpy(frame, data + pos, len);
        pos += len;
        if (len >= 4 && frame[0] == 0xff) {
            build_pdu(frame, frame[1], frame[2], frame[3]);
            len = VSW_LACP_PDU_LEN;
        }
        if (control & 0x80) {
            vsw_lacp_member_set_carrier(lacp, member % N_MEMBERS,
                                        !(control & 0x40), now);
        }

        snapshot(lacp, before);
        error = vsw_lacp_receive(lacp, member, frame, len, now);
        snapshot(lacp, after);
        if (error) {
            if (error != -EINVAL && error != -EPROTO) {
                abort();
            }
            if (error == -EINVAL && member < N_MEMBERS) {
                if (after[member].rx_bad != before[member].rx_bad + 1) {
                    abort();
                }
                after[member].rx_bad = before[member].rx_bad;
            }
            if (memcmp(before, after, sizeof before)) {
                abort();
            }
        } else if (member >= N_MEMBERS) {
            abort();
        }
        vsw_lacp_run(lacp, now, discard_send, NULL);
    }
    vsw_lacp_destroy(lacp);
    return 0;
}
