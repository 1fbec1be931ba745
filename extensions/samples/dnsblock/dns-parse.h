/*
 * DNS queries in Ethernet frames, for dnsblock: finding the query, reading
 * its names, and turning a copy of it into an NXDOMAIN answer.
 *
 * Every read is bounds-checked against the frame (and, inside, against
 * the IP and UDP lengths the headers state); nothing here allocates, so
 * the workers call it freely.
 */
#ifndef DNS_PARSE_H
#define DNS_PARSE_H 1

#include <stdbool.h>
#include <stdint.h>

/* Longest name in text form: 253 characters plus a spare byte. */
#define DNS_NAME_TEXT_MAX 256

/* Most labels a name of at most 255 wire bytes can have. */
#define DNS_NAME_LABELS_MAX 128

/* Questions one query may hold before dnsblock calls it malformed. */
#define DNS_QUESTIONS_MAX 16

/* What dns_query_find() found in a frame. */
enum dns_frame_kind {
    DNS_FRAME_OTHER,     /* not a DNS query over UDP to port 53 */
    DNS_FRAME_QUERY,     /* a standard query with at least one question */
    DNS_FRAME_MALFORMED, /* to UDP port 53 but cut short or inconsistent */
};

/* Where a query sits in its frame. */
struct dns_query {
    uint32_t l3_ofs;      /* IPv4 or IPv6 header */
    uint32_t l4_ofs;      /* UDP header */
    uint32_t dns_ofs;     /* DNS header */
    uint32_t dns_end;     /* end of the DNS message within the frame */
    uint16_t n_questions; /* QDCOUNT */
    uint8_t ip_version;   /* 4 or 6 */
    bool answerable;      /* an answer can be made from it: not a fragment,
                             and IPv6 without extension headers */
};

/* A name read from a message: lower-case text with dots between labels,
 * and where each label starts in the text. */
struct dns_name {
    char text[DNS_NAME_TEXT_MAX];                /* NUL-terminated */
    uint16_t len;                                /* bytes of 'text' */
    uint16_t n_labels;                           /* 0 for the root */
    uint16_t label_ofs[DNS_NAME_LABELS_MAX + 1]; /* start of each label
                                                    in 'text' */
};

/* Finds a DNS query in the 'len' bytes at 'frame' (from its Ethernet
 * header; up to two VLAN tags): IPv4 or IPv6 (extension headers walked),
 * UDP to port 53, QR clear, opcode QUERY, QDCOUNT non-zero.  Fills '*q'
 * for DNS_FRAME_QUERY. */
enum dns_frame_kind dns_query_find(const uint8_t *frame, uint32_t len,
                                   struct dns_query *q);

/* Reads the name at offset '*ofs' of the 'msg_len'-byte DNS message at
 * 'msg' into '*name' and moves '*ofs' past it.  Compression pointers are
 * followed when they point strictly before every part of the name read so
 * far (so a name can never loop).  Returns 0, or -1 if the name runs past
 * the message, has a label type other than length or pointer, or exceeds
 * 255 wire bytes. */
int dns_name_read(const uint8_t *msg, uint32_t msg_len, uint32_t *ofs,
                  struct dns_name *name);

/* Turns 'frame' (a writable copy of the frame 'q' describes, at least
 * 'q->dns_end' bytes) into the NXDOMAIN answer to it: MACs, addresses and
 * ports swapped, header flags of an answer with RCODE 3, no answer,
 * authority or additional records (the questions are kept, 'questions_end'
 * is where they end in the frame), lengths and IPv4 and UDP checksums
 * recomputed.  Returns the answer's length. */
uint32_t dns_make_nxdomain(uint8_t *frame, const struct dns_query *q,
                           uint32_t questions_end);

/* Normalizes a name given by an operator ("Example.TEST." ->
 * "example.test") into 'out' (DNS_NAME_TEXT_MAX bytes).  Returns 0, or -1
 * if it is empty, the root, longer than 253 characters, has an empty
 * label or one over 63 characters, or holds a space or control byte. */
int dns_name_normalize(const char *in, char *out);

#endif /* DNS_PARSE_H */
