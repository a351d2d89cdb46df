/* Fault rules: the UPYSOCK_FAULTS grammar (every part, good and bad, as the ValueError the user
 * sees) and the decision engine (selectors, counts, the seeded chance, time windows), with the
 * determinism guarantee: the same rules and seed give the same decisions. */
#include <stdio.h>
#include <string.h>

#include <upysock/upy.h>

#include "fault.h"
#include "testutil.h"

static struct fault_set set;
static char err[512];

static const struct fault_rule *parse_one(const char *spec)
{
    if (fault_parse(spec, &set, err, sizeof err) < 0)
        fail_msg("'%s' was rejected: %s", spec, err);
    assert_int_equal(set.count, 1);
    return &set.rule[0];
}

static void test_fault_rules_parse_every_option(void **state)
{
    (void)state;
    assert_int_equal(fault_parse(" seed=42 ; reset 192.168.0.234:6543 after=100 dir=recv nth=2 ;; ", &set, err,
                                 sizeof err), 0);
    assert_int_equal(set.seed, 42);
    assert_int_equal(set.count, 1);
    const struct fault_rule *r = &set.rule[0];
    assert_int_equal(r->effect, FAULT_RESET);
    assert_true(r->has_addr && !r->any_ip);
    assert_int_equal(r->ip, 0xc0a800ea);
    assert_int_equal(r->port, 6543);
    assert_int_equal(r->after, 100);
    assert_int_equal(r->dir, FAULT_RECV);
    assert_int_equal(r->nth, 2);

    r = parse_one("refuse *:1883 every=3 p=0.5 at=1500ms for=2s");
    assert_true(r->any_ip);
    assert_int_equal(r->port, 1883);
    assert_int_equal(r->every, 3);
    assert_int_equal(r->p, 0x80000000u);
    assert_int_equal(r->at_us, 1500000);
    assert_int_equal(r->for_us, 2000000);

    r = parse_one("delay 10.0.0.1 delay=20ms jitter=5ms rate=1000 dir=send");
    assert_int_equal(r->port, -1);
    assert_int_equal(r->delay_us, 20000);
    assert_int_equal(r->jitter_us, 5000);
    assert_int_equal(r->rate, 1000);
    assert_int_equal(parse_one("dnsslow host=broker.local delay=300us")->delay_us, 300);
    assert_string_equal(parse_one("dnsfail host=Broker.local")->host, "Broker.local");
    assert_int_equal(parse_one("short max=3")->max, 3);
    assert_int_equal(parse_one("eagain count=4")->count, 4);
    assert_int_equal(parse_one("eagain")->count, 1);
    assert_int_equal(parse_one("exhaust on=accept nth=2")->on, FAULT_ON_ACCEPT);
    assert_int_equal(parse_one("linkdown at=5s for=2s")->effect, FAULT_LINKDOWN);
    assert_int_equal(parse_one("tls-alert *:8883")->effect, FAULT_TLS_ALERT);
    assert_int_equal(parse_one("tls-stall p=1")->p, UINT32_MAX);
    assert_int_equal(parse_one("fin after=0 p=0")->p, 0);
    assert_int_equal(fault_parse("", &set, err, sizeof err), 0);
    assert_int_equal(set.count, 0);
    assert_int_equal(set.seed, FAULT_DEFAULT_SEED);
}

/* Each malformed part of the grammar, as upy_config_faults reports it; the old rules stay. */
static void test_fault_rules_bad_rule_for_each_part_of_the_grammar(void **state)
{
    (void)state;
    static const struct {
        const char *rule, *message;
    } cases[] = {
        {"explode", "ValueError: bad rule 'explode': unknown effect 'explode' (want refuse, hang, reset, fin, delay, "
                    "short, eagain, dnsfail, dnsslow, tls-alert, tls-stall, linkdown or exhaust)"},
        {"seed=x", "ValueError: bad rule 'seed=x': seed= wants a number"},
        {"reset colour=red", "ValueError: bad rule 'reset colour=red': unknown option 'colour='"},
        {"reset 300.1.1.1:80", "ValueError: bad rule 'reset 300.1.1.1:80': '300.1.1.1:80': want an address "
                               "IP[:PORT] or *:PORT"},
        {"refuse *", "ValueError: bad rule 'refuse *': '*': want an address IP[:PORT] or *:PORT"},
        {"refuse *:0", "ValueError: bad rule 'refuse *:0': '*:0': want an address IP[:PORT] or *:PORT"},
        {"refuse *:65536", "ValueError: bad rule 'refuse *:65536': '*:65536': want an address IP[:PORT] or *:PORT"},
        {"dnsfail host=", "ValueError: bad rule 'dnsfail host=': 'host=': want a hostname of 1-63 characters"},
        {"refuse host=a", "ValueError: bad rule 'refuse host=a': 'host=a' does not apply to refuse"},
        {"reset dir=up", "ValueError: bad rule 'reset dir=up': 'dir=up': want send or recv"},
        {"reset nth=0", "ValueError: bad rule 'reset nth=0': 'nth=0': want a count from 1"},
        {"reset every=-1", "ValueError: bad rule 'reset every=-1': 'every=-1': want a count from 1"},
        {"reset nth=2 every=2", "ValueError: bad rule 'reset nth=2 every=2': nth= and every= cannot be combined"},
        {"reset p=0.5x", "ValueError: bad rule 'reset p=0.5x': 'p=0.5x': want a probability 0, 1 or 0.d (up to 9 "
                         "decimals)"},
        {"reset p=1.5", "ValueError: bad rule 'reset p=1.5': 'p=1.5': want a probability 0, 1 or 0.d (up to 9 "
                        "decimals)"},
        {"linkdown at=5", "ValueError: bad rule 'linkdown at=5': 'at=5': want a duration such as 200ms or 5s"},
        {"linkdown for=2h", "ValueError: bad rule 'linkdown for=2h': 'for=2h': want a duration such as 200ms or 5s"},
        {"linkdown nth=1", "ValueError: bad rule 'linkdown nth=1': 'nth=1' does not apply to linkdown"},
        {"reset after=x", "ValueError: bad rule 'reset after=x': 'after=x': want a number of bytes"},
        {"short", "ValueError: bad rule 'short': short needs max="},
        {"short max=0", "ValueError: bad rule 'short max=0': 'max=0': want a number of bytes from 1"},
        {"eagain count=0", "ValueError: bad rule 'eagain count=0': 'count=0': want a count from 1"},
        {"delay", "ValueError: bad rule 'delay': delay needs delay=, jitter= or rate="},
        {"delay rate=0", "ValueError: bad rule 'delay rate=0': 'rate=0': want bytes per second, from 1"},
        {"delay delay=1s jitter=5", "ValueError: bad rule 'delay delay=1s jitter=5': 'jitter=5': want a duration "
                                    "such as 200ms or 5s"},
        {"dnsslow", "ValueError: bad rule 'dnsslow': dnsslow needs delay="},
        {"exhaust on=bind", "ValueError: bad rule 'exhaust on=bind': 'on=bind': want socket or accept"},
        {"exhaust nth=2", "ValueError: bad rule 'exhaust nth=2': exhaust needs on=socket or on=accept"},
        {"fin max=3", "ValueError: bad rule 'fin max=3': 'max=3' does not apply to fin"},
        {"exhaust on=socket *:80", "ValueError: bad rule 'exhaust on=socket *:80': a new socket has no address yet: "
                                   "exhaust on=socket takes none"},
        {"reset after=1 after=2", "ValueError: bad rule 'reset after=1 after=2': 'after=2': after= given twice"},
        {"reset *:80 *:81", "ValueError: bad rule 'reset *:80 *:81': '*:81': an address given twice"},
        {"reset dir=send dir=recv", "ValueError: bad rule 'reset dir=send dir=recv': 'dir=recv': dir= given twice"},
        {"refuse nth=1 nth=1", "ValueError: bad rule 'refuse nth=1 nth=1': 'nth=1': nth= given twice"},
        {"seed=1; seed=2", "ValueError: bad rule 'seed=2': seed= given twice"},
    };
    assert_int_equal(upy_config_faults("refuse *:1"), 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(upy_config_faults(cases[i].rule), -1);
        assert_string_equal(tu_exc_text(), cases[i].message);
    }
    char many[33 * 8 + 1] = "refuse";
    for (int i = 1; i < 32; i++)
        strcat(many, "; refuse");
    assert_int_equal(upy_config_faults(many), 0); /* 32 rules: the limit */
    strcat(many, "; refuse");
    assert_int_equal(upy_config_faults(many), -1);
    assert_string_equal(tu_exc_text(), "ValueError: bad rule 'refuse': more than 32 rules");
    assert_true(atomic_load(&fault_active)); /* the good rules stayed */
    assert_int_equal(upy_config_faults(""), 0);
    assert_false(atomic_load(&fault_active));
}

static void test_fault_rules_bad_environment_names_the_variable(void **state)
{
    (void)state;
    tu_proc proc;
    char *argv[] = {(char *)tu_test_bin("env_probe"), "check", "faults=refuse", "check", NULL};
    char *env[] = {"UPYSOCK_FAULTS=reset after=1;refuse *:80 nth=x", NULL};
    assert_int_equal(tu_run(&proc, argv, env, 10000), 0);
    assert_string_equal(proc.out, "check: ValueError: UPYSOCK_FAULTS: bad rule 'refuse *:80 nth=x': 'nth=x': want a "
                                  "count from 1\nfaults=refuse: ok\ncheck: ok\n");
}

/* The engine: the outcome of n events under the current rules, as a string of 0/1. */
static void decide_run(const char *rules, const struct fault_event *ev, unsigned effects, int n, char *out)
{
    struct fault_rule r;
    assert_int_equal(upy_config_faults(rules), 0);
    for (int i = 0; i < n; i++)
        out[i] = fault_decide(ev, effects, &r) ? '1' : '0';
    out[n] = '\0';
}

static const struct fault_event connect_1883 = {
    .kind = FAULT_EV_CONNECT, .peer_ip = 0xc0a80001, .peer_port = 1883, .local_ip = 0xc0a800ea, .local_port = 50000};
#define ALL ((1u << FAULT_EFFECTS) - 1)

static void test_fault_engine_counts_nth_and_every(void **state)
{
    (void)state;
    char got[16];
    decide_run("refuse *:1883 nth=3", &connect_1883, ALL, 6, got);
    assert_string_equal(got, "001000");
    decide_run("refuse every=2", &connect_1883, ALL, 6, got);
    assert_string_equal(got, "010101");
    decide_run("refuse", &connect_1883, ALL, 3, got);
    assert_string_equal(got, "111");
    decide_run("refuse", &connect_1883, 1u << FAULT_RESET, 3, got); /* not asked for: never */
    assert_string_equal(got, "000");
}

static void test_fault_engine_selects_by_address_port_host_and_direction(void **state)
{
    (void)state;
    char got[4];
    decide_run("refuse *:1884", &connect_1883, ALL, 2, got);
    assert_string_equal(got, "00");
    decide_run("refuse 192.168.0.1", &connect_1883, ALL, 2, got);
    assert_string_equal(got, "11");
    decide_run("refuse 192.168.0.234:50000", &connect_1883, ALL, 1, got); /* the local end counts too */
    assert_string_equal(got, "1");
    decide_run("refuse 192.168.0.2:1883", &connect_1883, ALL, 1, got);
    assert_string_equal(got, "0");
    struct fault_event dns = {.kind = FAULT_EV_RESOLVE, .host = "BROKER.local"};
    decide_run("dnsfail host=broker.local", &dns, ALL, 1, got);
    assert_string_equal(got, "1");
    dns.host = "other.local";
    decide_run("dnsfail host=broker.local", &dns, ALL, 1, got);
    assert_string_equal(got, "0");
    struct fault_event send = {.kind = FAULT_EV_SEND, .dir = FAULT_SEND};
    decide_run("fin", &send, ALL, 1, got); /* a connection's, not a call's */
    assert_string_equal(got, "0");
    decide_run("short max=1 dir=recv", &send, ALL, 1, got);
    assert_string_equal(got, "0");
    decide_run("short max=1 dir=send", &send, ALL, 1, got);
    assert_string_equal(got, "1");
    struct fault_event accept = {.kind = FAULT_EV_ACCEPT};
    decide_run("exhaust on=socket", &accept, ALL, 1, got);
    assert_string_equal(got, "0");
    decide_run("exhaust on=accept", &accept, ALL, 1, got);
    assert_string_equal(got, "1");
}

static void test_fault_engine_windows_count_from_the_rules_installation(void **state)
{
    (void)state;
    char got[4];
    decide_run("refuse at=0s for=3600s", &connect_1883, ALL, 2, got);
    assert_string_equal(got, "11");
    decide_run("refuse at=3600s", &connect_1883, ALL, 2, got);
    assert_string_equal(got, "00");
    uint64_t end, next;
    assert_int_equal(upy_config_faults("linkdown at=0s for=3600s; linkdown at=7200s for=1s"), 0);
    assert_true(fault_link_down(fault_origin_us(), &end, &next));
    assert_int_equal(end - fault_origin_us(), 3600000000ull);
    assert_int_equal(next - fault_origin_us(), 7200000000ull);
    assert_false(fault_link_down(fault_origin_us() + 3600000000ull, &end, &next));
}

/* The guarantee: same rules and seed, same decisions; another seed, other decisions; a rule's
 * decisions do not depend on another rule being consulted in between. */
static void test_fault_engine_same_seed_same_outcomes(void **state)
{
    (void)state;
    char a[65], b[65], c[65];
    decide_run("seed=7; refuse p=0.3", &connect_1883, ALL, 64, a);
    decide_run("seed=7; refuse p=0.3", &connect_1883, ALL, 64, b);
    assert_string_equal(a, b);
    assert_int_not_equal(tu_count(a, "1"), 0);
    assert_int_not_equal(tu_count(a, "0"), 0);
    decide_run("seed=8; refuse p=0.3", &connect_1883, ALL, 64, c);
    assert_string_not_equal(a, c);
    decide_run("seed=7; refuse p=0.3; dnsfail p=0.5", &connect_1883, ALL, 64, c);
    assert_string_equal(a, c);
}

/* Two rules on one event: each counts every event it matches, whether or not a rule before it
 * fired, so nth= means the same with or without the other rule (docs/faults.md "Selectors"). */
static void test_fault_engine_every_matching_rule_counts_the_event(void **state)
{
    (void)state;
    char got[8];
    decide_run("refuse nth=1; hang nth=2", &connect_1883, ALL, 4, got);
    assert_string_equal(got, "1100");
    struct fault_rule r;
    assert_int_equal(upy_config_faults("refuse nth=1; hang nth=2"), 0);
    assert_true(fault_decide(&connect_1883, ALL, &r));
    assert_int_equal(r.effect, FAULT_REFUSE);
    assert_true(fault_decide(&connect_1883, ALL, &r));
    assert_int_equal(r.effect, FAULT_HANG);
}

/* A delay rule decides once per connection (a LINK event), never per transfer: asked for either
 * direction first, a dir=send or both rule answers; asked for recv, only a recv-only rule does. */
static void test_fault_engine_delay_is_decided_per_connection_and_direction(void **state)
{
    (void)state;
    assert_int_equal(upy_config_faults("delay delay=20ms jitter=5ms rate=1000 dir=send; delay delay=7ms dir=recv"), 0);
    struct fault_rule r;
    struct fault_event send = {.kind = FAULT_EV_SEND, .dir = FAULT_SEND};
    assert_false(fault_decide(&send, ALL, &r));
    struct fault_event link = {.kind = FAULT_EV_LINK, .dir = FAULT_SEND};
    assert_true(fault_decide(&link, ALL, &r));
    assert_int_equal(r.dir, FAULT_SEND);
    assert_int_equal(r.delay_us, 20000);
    assert_int_equal(r.jitter_us, 5000);
    assert_int_equal(r.rate, 1000);
    link.dir = FAULT_RECV;
    assert_true(fault_decide(&link, ALL, &r));
    assert_int_equal(r.delay_us, 7000);
    assert_int_equal(upy_config_faults("delay delay=1s nth=2"), 0);
    link.dir = FAULT_SEND;
    assert_false(fault_decide(&link, ALL, &r)); /* the first connection */
    link.dir = FAULT_RECV;
    assert_false(fault_decide(&link, ALL, &r)); /* a both-ways rule is not asked twice */
    link.dir = FAULT_SEND;
    assert_true(fault_decide(&link, ALL, &r)); /* the second */
    assert_int_equal(r.dir, FAULT_BOTH);
}

/* Fuzz-style: random strings over the grammar's alphabet and its words never crash the parser, and
 * a rejection always says why (ASan and UBSan builds check the rest). */
static void test_fault_rules_parser_survives_random_text(void **state)
{
    (void)state;
    static const char *const words[] = {"reset", "refuse", "fin", "delay", "short", "eagain", "linkdown", "exhaust",
                                        "tls-alert", "dnsfail", "seed=", "after=", "max=", "p=0.", "at=", "for=",
                                        "ms", "s", "us", "*:", "192.168.0.1", ":", "=", ";", " ", "dir=", "on=",
                                        "host=", "nth=", "every=", "99999999999999999999", "0", "1", "."};
    uint64_t x = 12345;
    char text[512];
    for (int round = 0; round < 20000; round++) {
        size_t len = 0;
        int n = (int)(x % 24);
        for (int i = 0; i < n; i++) {
            x = fault_draw(x, i, (uint64_t)round);
            const char *w = words[x % (sizeof words / sizeof words[0])];
            size_t wl = strlen(w);
            if (len + wl + 2 >= sizeof text)
                break;
            memcpy(text + len, w, wl);
            len += wl;
            if (x & 0x100)
                text[len++] = (char)(x >> 16); /* any byte, NUL excepted below */
            if (!text[len - 1])
                text[len - 1] = '\x01';
        }
        text[len] = '\0';
        err[0] = '\0';
        int rc = fault_parse(text, &set, err, sizeof err);
        assert_true(rc == 0 || (rc == -1 && err[0]));
        assert_true(set.count >= 0 && set.count <= FAULT_RULES_MAX);
    }
}

static int clear(void **state)
{
    (void)state;
    return upy_config_faults("");
}

#define T(fn) cmocka_unit_test_teardown(fn, clear)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_fault_rules_parse_every_option),
        T(test_fault_rules_bad_rule_for_each_part_of_the_grammar),
        T(test_fault_rules_bad_environment_names_the_variable),
        T(test_fault_engine_counts_nth_and_every),
        T(test_fault_engine_selects_by_address_port_host_and_direction),
        T(test_fault_engine_windows_count_from_the_rules_installation),
        T(test_fault_engine_same_seed_same_outcomes),
        T(test_fault_engine_every_matching_rule_counts_the_event),
        T(test_fault_engine_delay_is_decided_per_connection_and_direction),
        T(test_fault_rules_parser_survives_random_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
