/*
 * Fault rules (UPYSOCK_FAULTS): what the grammar says, parsed into plain data. No state, no
 * clock, no socket: fault.c decides and acts; this file only reads text, so a fuzzer can drive
 * fault_parse alone. docs/faults.md has the grammar with examples.
 */
#ifndef UPYSOCK_FAULTRULE_H
#define UPYSOCK_FAULTRULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FAULT_RULES_MAX 32
#define FAULT_HOST_MAX 64
#define FAULT_DEFAULT_SEED 1

/* Named after what happens in the field. */
enum fault_effect {
    FAULT_REFUSE,    /* connect: the peer answers the SYN with RST */
    FAULT_HANG,      /* connect: no answer at all (the SYN is lost) */
    FAULT_RESET,     /* the peer resets the connection after `after` bytes */
    FAULT_FIN,       /* the peer closes (FIN, no close_notify on TLS) after `after` bytes */
    FAULT_DELAY,     /* latency (+ jitter) per transfer, or a bandwidth cap */
    FAULT_SHORT,     /* a transfer moves at most `max` bytes */
    FAULT_EAGAIN,    /* the next `count` non-blocking transfers would block */
    FAULT_DNSFAIL,   /* getaddrinfo fails */
    FAULT_DNSSLOW,   /* getaddrinfo answers after `delay` */
    FAULT_TLS_ALERT, /* the server answers the ClientHello with a fatal alert */
    FAULT_TLS_STALL, /* the server never answers the handshake */
    FAULT_LINKDOWN,  /* the Wi-Fi station is disconnected */
    FAULT_EXHAUST,   /* socket()/accept() find every lwIP slot taken */
    FAULT_EFFECTS
};

enum fault_dir { FAULT_BOTH, FAULT_SEND, FAULT_RECV };
enum fault_call { FAULT_ON_NONE, FAULT_ON_SOCKET, FAULT_ON_ACCEPT };

struct fault_rule {
    enum fault_effect effect;
    /* selectors */
    bool has_addr, any_ip;
    uint32_t ip;          /* device address, host byte order */
    int port;             /* -1: any */
    char host[FAULT_HOST_MAX]; /* "" any */
    enum fault_dir dir;
    long nth, every;      /* 0: not set */
    uint32_t p;           /* chance in 2^32ths; UINT32_MAX with p_all */
    bool p_set;
    uint64_t at_us, for_us; /* window from the start; for_us 0: no end */
    /* parameters */
    long after, max, count, rate;
    uint64_t delay_us, jitter_us;
    enum fault_call on;
    uint64_t draw; /* set by fault_decide: the seeded draw of the event it fired at (jitter) */
};

struct fault_set {
    uint64_t seed;
    int count;
    struct fault_rule rule[FAULT_RULES_MAX];
};

/* Parse a whole UPYSOCK_FAULTS value into *out. 0, or -1 with a message naming the rule in err
 * (*out is then unspecified). An empty value is no rules. */
int fault_parse(const char *spec, struct fault_set *out, char *err, size_t errsize);

/* The effect's name in the grammar ("reset"), for messages. */
const char *fault_effect_name(enum fault_effect e);

#endif
