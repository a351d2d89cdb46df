/*
 * The UPYSOCK_FAULTS grammar (docs/faults.md):
 *
 *   value  := item { ';' item }
 *   item   := 'seed=' N | effect { ' ' option }
 *   option := ADDR | key '=' value        ADDR: IP[:PORT] or *:PORT, the device side
 *
 * Every option says which effects it applies to (one table); anything else is an error that
 * quotes the rule, so a typo never silently turns a fault off.
 */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "faultrule.h"

#define MAX_DURATION_US (86400ull * 1000000) /* a day: longer is surely a typo */

static const char *const effect_names[FAULT_EFFECTS] = {
    "refuse", "hang", "reset", "fin", "delay", "short", "eagain",
    "dnsfail", "dnsslow", "tls-alert", "tls-stall", "linkdown", "exhaust",
};

const char *fault_effect_name(enum fault_effect e)
{
    return effect_names[e];
}

#define E(x) (1u << FAULT_##x)
#define ANY_EFFECT ((1u << FAULT_EFFECTS) - 1)
#define CONNECTION (E(REFUSE) | E(HANG) | E(RESET) | E(FIN) | E(DELAY) | E(SHORT) | E(EAGAIN) | \
                    E(TLS_ALERT) | E(TLS_STALL) | E(EXHAUST))
#define TRANSFER (E(RESET) | E(DELAY) | E(SHORT) | E(EAGAIN))

struct parse {
    struct fault_rule *r;
    const char *value;
    const char *want; /* set by a failing reader: what the value should have been */
};

typedef bool (*reader)(struct parse *p);

static bool number_in(const char *s, long min, long *out)
{
    long v;
    return config_parse_digits(s, &v) && v >= min && v <= 1000000000L && (*out = v, true);
}

/* N followed by us, ms or s. */
static bool read_duration(const char *s, uint64_t *out)
{
    static const struct { const char *unit; uint64_t us; } units[] = {{"us", 1}, {"ms", 1000}, {"s", 1000000}};
    size_t digits = strspn(s, "0123456789");
    char number[24];
    long v;
    if (digits == 0 || digits >= sizeof number)
        return false;
    memcpy(number, s, digits);
    number[digits] = '\0';
    if (!config_parse_digits(number, &v))
        return false;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(s + digits, units[i].unit) == 0 && (uint64_t)v <= MAX_DURATION_US / units[i].us) {
            *out = (uint64_t)v * units[i].us;
            return true;
        }
    return false;
}

/* 0, 1, or 0.ddd (up to 9 decimals), exactly, as a share of 2^32 (1 is "always"). */
static bool read_probability(const char *s, uint32_t *out)
{
    if (strcmp(s, "1") == 0 || strcmp(s, "1.0") == 0) {
        *out = UINT32_MAX;
        return true;
    }
    if (strcmp(s, "0") == 0) {
        *out = 0;
        return true;
    }
    if (s[0] != '0' || s[1] != '.')
        return false;
    size_t n = strlen(s + 2);
    uint64_t frac = 0, scale = 1;
    if (n == 0 || n > 9 || strspn(s + 2, "0123456789") != n)
        return false;
    for (size_t i = 0; i < n; i++, scale *= 10)
        frac = frac * 10 + (uint64_t)(s[2 + i] - '0');
    *out = (uint32_t)((frac << 32) / scale);
    return true;
}

static bool read_quad(const char *s, size_t len, uint32_t *ip)
{
    unsigned a, b, c, d;
    char tail;
    char text[16];
    if (len >= sizeof text)
        return false;
    memcpy(text, s, len);
    text[len] = '\0';
    if (strspn(text, "0123456789.") != len || sscanf(text, "%3u.%3u.%3u.%3u%c", &a, &b, &c, &d, &tail) != 4 ||
        a > 255 || b > 255 || c > 255 || d > 255)
        return false;
    *ip = a << 24 | b << 16 | c << 8 | d;
    return true;
}

/* IP, IP:PORT or *:PORT. */
static bool read_addr(struct parse *p)
{
    const char *s = p->value, *colon = strchr(s, ':');
    size_t iplen = colon ? (size_t)(colon - s) : strlen(s);
    long port = -1;
    p->want = "an address IP[:PORT] or *:PORT";
    p->r->any_ip = iplen == 1 && s[0] == '*';
    if (colon && (!number_in(colon + 1, 1, &port) || port > 65535))
        return false;
    if (p->r->any_ip ? !colon : !read_quad(s, iplen, &p->r->ip))
        return false;
    p->r->port = (int)port;
    p->r->has_addr = true;
    return true;
}

static bool read_host(struct parse *p)
{
    size_t n = strlen(p->value);
    p->want = "a hostname of 1-63 characters";
    if (n == 0 || n >= FAULT_HOST_MAX)
        return false;
    memcpy(p->r->host, p->value, n + 1);
    return true;
}

static bool read_dir(struct parse *p)
{
    p->want = "send or recv";
    p->r->dir = strcmp(p->value, "send") == 0 ? FAULT_SEND : strcmp(p->value, "recv") == 0 ? FAULT_RECV : FAULT_BOTH;
    return p->r->dir != FAULT_BOTH;
}

static bool read_on(struct parse *p)
{
    p->want = "socket or accept";
    p->r->on = strcmp(p->value, "accept") == 0 ? FAULT_ON_ACCEPT
               : strcmp(p->value, "socket") == 0 ? FAULT_ON_SOCKET : FAULT_ON_NONE;
    return p->r->on != FAULT_ON_NONE;
}

#define COUNT_READER(field, min, what)                      \
    static bool read_##field(struct parse *p)               \
    {                                                       \
        p->want = what;                                     \
        return number_in(p->value, min, &p->r->field);     \
    }
COUNT_READER(nth, 1, "a count from 1")
COUNT_READER(every, 1, "a count from 1")
COUNT_READER(after, 0, "a number of bytes")
COUNT_READER(max, 1, "a number of bytes from 1")
COUNT_READER(count, 1, "a count from 1")
COUNT_READER(rate, 1, "bytes per second, from 1")

#define DURATION_READER(field)                              \
    static bool read_##field(struct parse *p)               \
    {                                                       \
        p->want = "a duration such as 200ms or 5s";         \
        return read_duration(p->value, &p->r->field);       \
    }
DURATION_READER(at_us)
DURATION_READER(for_us)
DURATION_READER(delay_us)
DURATION_READER(jitter_us)

static bool read_p(struct parse *p)
{
    p->want = "a probability 0, 1 or 0.d (up to 9 decimals)";
    p->r->p_set = true;
    return read_probability(p->value, &p->r->p);
}

static const struct option {
    const char *key; /* "" for the bare address */
    reader read;
    unsigned effects;
} options[] = {
    {"", read_addr, CONNECTION},
    {"host", read_host, E(DNSFAIL) | E(DNSSLOW)},
    {"dir", read_dir, TRANSFER},
    {"nth", read_nth, ANY_EFFECT & ~E(LINKDOWN)},
    {"every", read_every, ANY_EFFECT & ~E(LINKDOWN)},
    {"p", read_p, ANY_EFFECT & ~E(LINKDOWN)},
    {"at", read_at_us, ANY_EFFECT},
    {"for", read_for_us, ANY_EFFECT},
    {"after", read_after, E(RESET) | E(FIN)},
    {"max", read_max, E(SHORT)},
    {"count", read_count, E(EAGAIN)},
    {"delay", read_delay_us, E(DELAY) | E(DNSSLOW)},
    {"jitter", read_jitter_us, E(DELAY)},
    {"rate", read_rate, E(DELAY)},
    {"on", read_on, E(EXHAUST)},
};

static const struct option *find_option(const char *key, size_t len)
{
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++)
        if (strlen(options[i].key) == len && memcmp(options[i].key, key, len) == 0)
            return &options[i];
    return NULL;
}

static int bad(char *err, size_t errsize, const char *rule, const char *why)
{
    snprintf(err, errsize, "bad rule '%s': %s", rule, why);
    return -1;
}

static bool read_effect(const char *word, enum fault_effect *e)
{
    for (int i = 0; i < FAULT_EFFECTS; i++)
        if (strcmp(word, effect_names[i]) == 0) {
            *e = (enum fault_effect)i;
            return true;
        }
    return false;
}

/* What an effect cannot go without. */
static const char *missing(const struct fault_rule *r)
{
    if (r->effect == FAULT_SHORT && r->max == 0)
        return "short needs max=";
    if (r->effect == FAULT_DNSSLOW && r->delay_us == 0)
        return "dnsslow needs delay=";
    if (r->effect == FAULT_EXHAUST && r->on == FAULT_ON_NONE)
        return "exhaust needs on=socket or on=accept";
    if (r->effect == FAULT_DELAY && r->delay_us == 0 && r->jitter_us == 0 && r->rate == 0)
        return "delay needs delay=, jitter= or rate=";
    if (r->nth && r->every)
        return "nth= and every= cannot be combined";
    if (r->effect == FAULT_EXHAUST && r->on == FAULT_ON_SOCKET && r->has_addr)
        return "a new socket has no address yet: exhaust on=socket takes none";
    return NULL;
}

/* One rule, already cut out of the value and NUL-terminated; words are separated by spaces. */
static int parse_rule(char *text, struct fault_rule *r, char *err, size_t errsize)
{
    char rule[256], why[256];
    snprintf(rule, sizeof rule, "%s", text);
    *r = (struct fault_rule){.port = -1, .count = 1};
    char *save = NULL, *word = strtok_r(text, " \t", &save);
    unsigned given = 0; /* the options seen, by their index in options[]: each may come once */
    if (!read_effect(word, &r->effect)) {
        snprintf(why, sizeof why, "unknown effect '%.40s' (want refuse, hang, reset, fin, delay, short, eagain, "
                 "dnsfail, dnsslow, tls-alert, tls-stall, linkdown or exhaust)", word);
        return bad(err, errsize, rule, why);
    }
    while ((word = strtok_r(NULL, " \t", &save))) {
        char *eq = strchr(word, '=');
        const struct option *o = eq ? find_option(word, (size_t)(eq - word)) : &options[0];
        struct parse p = {.r = r, .value = eq ? eq + 1 : word};
        if (!o)
            snprintf(why, sizeof why, "unknown option '%.*s='", (int)(eq - word) > 40 ? 40 : (int)(eq - word), word);
        else if (!(o->effects & 1u << r->effect))
            snprintf(why, sizeof why, "'%.40s' does not apply to %s", word, effect_names[r->effect]);
        else if (given & 1u << (o - options))
            snprintf(why, sizeof why, "'%.40s': %s%s given twice", word, o == options ? "an address" : o->key,
                     o == options ? "" : "=");
        else if (!o->read(&p))
            snprintf(why, sizeof why, "'%.40s': want %s", word, p.want);
        else {
            given |= 1u << (o - options);
            continue;
        }
        return bad(err, errsize, rule, why);
    }
    const char *lack = missing(r);
    return lack ? bad(err, errsize, rule, lack) : 0;
}

static int parse_item(char *item, struct fault_set *out, bool *seed_given, char *err, size_t errsize)
{
    if (strncmp(item, "seed=", 5) == 0) {
        long seed;
        if (!config_parse_digits(item + 5, &seed) || seed == LONG_MAX)
            return bad(err, errsize, item, "seed= wants a number");
        if (*seed_given)
            return bad(err, errsize, item, "seed= given twice");
        *seed_given = true;
        out->seed = (uint64_t)seed;
        return 0;
    }
    if (out->count == FAULT_RULES_MAX) {
        char why[32];
        snprintf(why, sizeof why, "more than %d rules", FAULT_RULES_MAX);
        return bad(err, errsize, item, why);
    }
    return parse_rule(item, &out->rule[out->count++], err, errsize);
}

/* Trim spaces at both ends in place. */
static char *trim(char *s)
{
    s += strspn(s, " \t");
    for (size_t n = strlen(s); n && (s[n - 1] == ' ' || s[n - 1] == '\t'); n--)
        s[n - 1] = '\0';
    return s;
}

int fault_parse(const char *spec, struct fault_set *out, char *err, size_t errsize)
{
    char copy[4096];
    *out = (struct fault_set){.seed = FAULT_DEFAULT_SEED};
    if (strlen(spec) >= sizeof copy) {
        snprintf(err, errsize, "longer than %zu characters", sizeof copy - 1);
        return -1;
    }
    strcpy(copy, spec);
    char *save = NULL;
    bool seed_given = false;
    for (char *item = strtok_r(copy, ";", &save); item; item = strtok_r(NULL, ";", &save)) {
        item = trim(item);
        if (*item && parse_item(item, out, &seed_given, err, errsize) < 0)
            return -1;
    }
    return 0;
}
