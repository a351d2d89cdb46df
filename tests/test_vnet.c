/* The virtual LAN: address parsing as the firmware parses, remap rules and their precedence, the
 * loopback sandbox (also through real sockets), reverse mapping, getaddrinfo answers, /flash and
 * the log. */
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <upysock/usocket.h>

#include "internal.h"
#include "testutil.h"
#include "vnet.h"

#define LOOPBACK 0x7f000001u
#define BAD_RULE_HINT " (want ADDR[:PORT]=IP[:PORT], ADDR a dotted quad, * or a hostname)"
#define NOT_LOOPBACK_HINT ", which is not loopback (set UPYSOCK_NET=host to reach real networks)"

static int reset_vnet(void **state)
{
    (void)state;
    return upy_config_remap("") | upy_config_net("sandbox") | upy_config_log(-1) | upy_config_flash("./flash");
}

static usocket_addr addr(const char *ip, int port)
{
    usocket_addr a = {.port = port};
    snprintf(a.ip, sizeof a.ip, "%s", ip);
    return a;
}

/* The internal calls' results as the public calls report them (-1 with the exception). */
static int parse(const usocket_addr *a, uint32_t *v, int *port)
{
    int rc = vnet_parse(a, v, port);
    return rc < 0 ? upy__raise(rc) : rc;
}

static uint32_t parsed_ip(const char *ip)
{
    uint32_t v = 0xdeadbeef;
    int port = -1;
    usocket_addr a = addr(ip, 1);
    if (parse(&a, &v, &port) < 0)
        fail_msg("'%s' was rejected: %s", ip, tu_exc_text());
    assert_int_equal(port, 1);
    return v;
}

static void assert_parse_rejects(const char *ip, int port, const char *message)
{
    uint32_t v;
    int p;
    usocket_addr a = addr(ip, port);
    assert_int_equal(parse(&a, &v, &p), -1);
    assert_exc_msg(UPY_EXC_VALUEERROR, message);
}

/* The host endpoint a device endpoint lands on, as "a.b.c.d:port". */
static const char *mapped(const char *ip, int port)
{
    static char text[32];
    host_addr h;
    usocket_addr a = addr(ip, port);
    int rc = vnet_map_out(&a, &h, NULL);
    if (rc < 0 && upy__raise(rc))
        fail_msg("(%s, %d) did not map: %s", ip, port, tu_exc_text());
    char quad[16];
    vnet_format_ip(h.ip, quad);
    snprintf(text, sizeof text, "%s:%u", quad, h.port);
    return text;
}

/* The device view of a host endpoint, as "a.b.c.d:port". */
static const char *seen_as(uint32_t ip, uint16_t port)
{
    static char text[32];
    usocket_addr a;
    vnet_map_in((host_addr){ip, port}, &a);
    snprintf(text, sizeof text, "%s:%d", a.ip, a.port);
    return text;
}

static const char *resolved(const char *host, int port)
{
    static char text[64];
    usocket_addrinfo ai;
    if (usocket_getaddrinfo(host, port, &ai) != 1)
        fail_msg("getaddrinfo('%s', %d) failed: %s", host, port, tu_exc_text());
    snprintf(text, sizeof text, "(%d, %d, %d, '%s', ('%s', %d))", ai.family, ai.socktype, ai.proto, ai.canonname,
             ai.sockaddr.ip, ai.sockaddr.port);
    return text;
}

static void assert_resolve_fails(const char *host, int port, int code)
{
    usocket_addrinfo ai;
    assert_int_equal(usocket_getaddrinfo(host, port, &ai), -1);
    assert_oserror(code);
}

/* --- parsing ------------------------------------------------------------------------------ */

static void test_parse_dotted_quads(void **state)
{
    (void)state;
    assert_int_equal(parsed_ip("192.168.0.249"), 0xC0A800F9);
    assert_int_equal(parsed_ip("0.0.0.0"), 0);
    assert_int_equal(parsed_ip(""), 0); /* netutils: an empty string is 0.0.0.0 */
    assert_int_equal(parsed_ip("255.255.255.255"), 0xFFFFFFFF);
    assert_int_equal(parsed_ip("001.002.003.004"), 0x01020304);
    /* Like netutils, each part is truncated to 8 bits instead of rejected. */
    assert_int_equal(parsed_ip("256.1.2.3"), 0x00010203);
    assert_int_equal(parsed_ip("300.0.0.1"), 0x2C000001);
    assert_int_equal(parsed_ip("999.999.999.999"), 0xE7E7E7E7);
}

static void test_parse_rejects_what_is_not_four_parts(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "localhost", "example.com", "1.2.3", "a.b.c.d", "1.2.3.4.5", "1..2.3", "1.2.3.", ".1.2.3",
        "1.2.3.4a", " 1.2.3.4", "1.2.3.4 ", "1.2.3.-4", "1234.1.1.1", "0x7f.0.0.1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_parse_rejects(bad[i], 80, "invalid arguments");
    /* An ip field with no terminator is not a string the firmware could have been given. */
    usocket_addr unterminated = {.port = 80};
    memset(unterminated.ip, '1', sizeof unterminated.ip);
    uint32_t v;
    int p;
    assert_int_equal(parse(&unterminated, &v, &p), -1);
    assert_exc_msg(UPY_EXC_VALUEERROR, "invalid arguments");
    assert_int_equal(parse(NULL, &v, &p), -1);
    assert_exc_msg(UPY_EXC_TYPEERROR, "address must be a (ip, port) tuple, not NULL");
}

static void test_parse_port_range(void **state)
{
    (void)state;
    uint32_t v;
    int p;
    usocket_addr a = addr("10.0.0.1", 0);
    assert_int_equal(parse(&a, &v, &p), 0);
    assert_int_equal(p, 0);
    a.port = 65535;
    assert_int_equal(parse(&a, &v, &p), 0);
    assert_int_equal(p, 65535);
    assert_parse_rejects("10.0.0.1", -1, "port must be 0-65535");
    assert_parse_rejects("10.0.0.1", 65536, "port must be 0-65535");
}

static void test_format_ip(void **state)
{
    (void)state;
    char out[16];
    vnet_format_ip(0, out);
    assert_string_equal(out, "0.0.0.0");
    vnet_format_ip(0xFFFFFFFF, out);
    assert_string_equal(out, "255.255.255.255");
    vnet_format_ip(0xC0A800F9, out);
    assert_string_equal(out, "192.168.0.249");
}

/* --- mapping out -------------------------------------------------------------------------- */

static void test_sandbox_maps_every_ipv4_to_loopback_same_port(void **state)
{
    (void)state;
    assert_string_equal(mapped("192.168.0.249", 6543), "127.0.0.1:6543");
    assert_string_equal(mapped("192.168.1.10", 1), "127.0.0.1:1");
    assert_string_equal(mapped("8.8.8.8", 53), "127.0.0.1:53");
    assert_string_equal(mapped("255.255.255.255", 65535), "127.0.0.1:65535");
    assert_string_equal(mapped("0.0.0.0", 80), "127.0.0.1:80");
    assert_string_equal(mapped("", 0), "127.0.0.1:0");
    /* Loopback addresses stay what they are. */
    assert_string_equal(mapped("127.0.0.1", 80), "127.0.0.1:80");
    assert_string_equal(mapped("127.3.2.1", 80), "127.3.2.1:80");
}

static void test_host_mode_passes_addresses_through(void **state)
{
    (void)state;
    assert_int_equal(upy_config_net("host"), 0);
    assert_string_equal(mapped("10.1.2.3", 80), "10.1.2.3:80");
    assert_string_equal(mapped("", 6543), "0.0.0.0:6543");
    assert_string_equal(mapped("127.0.0.1", 80), "127.0.0.1:80");
    assert_int_equal(upy_config_net("sandbox"), 0);
    assert_string_equal(mapped("10.1.2.3", 80), "127.0.0.1:80");
    assert_int_equal(upy_config_net("wat"), -1);
    assert_exc_msg(UPY_EXC_VALUEERROR, "unknown mode 'wat' (want sandbox or host)");
    assert_int_equal(upy_config_net(NULL), -1);
    assert_exc_msg(UPY_EXC_VALUEERROR, "invalid arguments");
}

static void test_each_rule_kind(void **state)
{
    (void)state;
    /* ip:port=ip:port — one endpoint. */
    assert_int_equal(upy_config_remap("192.168.0.249:6543=127.0.0.1:16543"), 0);
    assert_string_equal(mapped("192.168.0.249", 6543), "127.0.0.1:16543");
    assert_string_equal(mapped("192.168.0.249", 6544), "127.0.0.1:6544");
    assert_string_equal(mapped("192.168.0.250", 6543), "127.0.0.1:6543");
    /* ip:port=ip — the port is kept. */
    assert_int_equal(upy_config_remap("192.168.0.249:6543=127.0.0.5"), 0);
    assert_string_equal(mapped("192.168.0.249", 6543), "127.0.0.5:6543");
    assert_string_equal(mapped("192.168.0.249", 80), "127.0.0.1:80");
    /* ip=ip — every port of one address. */
    assert_int_equal(upy_config_remap("192.168.0.249=127.0.0.2"), 0);
    assert_string_equal(mapped("192.168.0.249", 80), "127.0.0.2:80");
    assert_string_equal(mapped("192.168.0.249", 6543), "127.0.0.2:6543");
    assert_string_equal(mapped("192.168.0.248", 80), "127.0.0.1:80");
    /* *:port=ip:port — one port of every address; port 0 asks the kernel for a free one. */
    assert_int_equal(upy_config_remap("*:6543=127.0.0.3:0"), 0);
    assert_string_equal(mapped("10.0.0.1", 6543), "127.0.0.3:0");
    assert_string_equal(mapped("", 6543), "127.0.0.3:0");
    assert_string_equal(mapped("10.0.0.1", 6544), "127.0.0.1:6544");
    /* *=ip — everything. */
    assert_int_equal(upy_config_remap("*=127.0.0.4"), 0);
    assert_string_equal(mapped("10.0.0.1", 9), "127.0.0.4:9");
    assert_string_equal(mapped("127.0.0.1", 9), "127.0.0.4:9");
    assert_string_equal(mapped("", 9), "127.0.0.4:9");
    /* name[:port]=ip[:port] — only getaddrinfo answers; addresses are untouched. */
    assert_int_equal(upy_config_remap("broker.local=127.0.0.9"), 0);
    assert_string_equal(mapped("192.168.0.249", 1883), "127.0.0.1:1883");
    /* "" clears. */
    assert_int_equal(upy_config_remap(""), 0);
    assert_string_equal(mapped("192.168.0.249", 6543), "127.0.0.1:6543");
}

static void assert_precedence(const char *rules)
{
    assert_int_equal(upy_config_remap(rules), 0);
    assert_string_equal(mapped("192.168.0.249", 6543), "127.0.0.1:16543"); /* endpoint */
    assert_string_equal(mapped("192.168.0.249", 80), "127.0.0.2:80");      /* address */
    assert_string_equal(mapped("10.0.0.1", 6543), "127.0.0.3:6543");       /* port */
    assert_string_equal(mapped("10.0.0.1", 80), "127.0.0.4:80");           /* everything */
}

/* The most specific rule wins, wherever it stands in the list. */
static void test_rule_precedence(void **state)
{
    (void)state;
    assert_precedence("*=127.0.0.4,*:6543=127.0.0.3,192.168.0.249=127.0.0.2,192.168.0.249:6543=127.0.0.1:16543");
    assert_precedence("192.168.0.249:6543=127.0.0.1:16543,192.168.0.249=127.0.0.2,*:6543=127.0.0.3,*=127.0.0.4");
    assert_precedence("*:6543=127.0.0.3,*=127.0.0.4,192.168.0.249:6543=127.0.0.1:16543,192.168.0.249=127.0.0.2");
    /* Between equally specific rules, the first. */
    assert_int_equal(upy_config_remap("*=127.0.0.5,*=127.0.0.6"), 0);
    assert_string_equal(mapped("10.0.0.1", 80), "127.0.0.5:80");
}

static void test_rules_trim_spaces_and_skip_empty_items(void **state)
{
    (void)state;
    assert_int_equal(upy_config_remap(" 192.168.0.249=127.0.0.2 ,, *:80=127.0.0.3 ,"), 0);
    assert_string_equal(mapped("192.168.0.249", 1), "127.0.0.2:1");
    assert_string_equal(mapped("10.0.0.1", 80), "127.0.0.3:80");
}

static void test_malformed_rules_are_named_and_change_nothing(void **state)
{
    (void)state;
    static const struct {
        const char *spec, *message;
    } bad[] = {
        {"garbage", "bad rule 'garbage'" BAD_RULE_HINT},
        {"192.168.0.1=broker.local", "bad rule '192.168.0.1=broker.local'" BAD_RULE_HINT},
        {"192.168.0.1:0=127.0.0.1", "bad rule '192.168.0.1:0=127.0.0.1'" BAD_RULE_HINT},
        {"192.168.0.1:65536=127.0.0.1", "bad rule '192.168.0.1:65536=127.0.0.1'" BAD_RULE_HINT},
        {"192.168.0.1=127.0.0.1:65536", "bad rule '192.168.0.1=127.0.0.1:65536'" BAD_RULE_HINT},
        {"192.168.0.1=127.0.0.1:-1", "bad rule '192.168.0.1=127.0.0.1:-1'" BAD_RULE_HINT},
        {"*:http=127.0.0.1", "bad rule '*:http=127.0.0.1'" BAD_RULE_HINT},
        /* A port is plain decimal digits: no sign, no space. */
        {"*:+5=127.0.0.1", "bad rule '*:+5=127.0.0.1'" BAD_RULE_HINT},
        {"*: 5=127.0.0.1", "bad rule '*: 5=127.0.0.1'" BAD_RULE_HINT},
        {"*:5=127.0.0.1:-0", "bad rule '*:5=127.0.0.1:-0'" BAD_RULE_HINT},
        {"*:5=127.0.0.1:+0", "bad rule '*:5=127.0.0.1:+0'" BAD_RULE_HINT},
        {"*:5 =127.0.0.1", "bad rule '*:5 =127.0.0.1'" BAD_RULE_HINT},
        {"1.2.3=127.0.0.1", "bad rule '1.2.3=127.0.0.1'" BAD_RULE_HINT},
        {"bad_name=127.0.0.1", "bad rule 'bad_name=127.0.0.1'" BAD_RULE_HINT},
        {"=127.0.0.1", "bad rule '=127.0.0.1'" BAD_RULE_HINT},
        {"192.168.0.1=", "bad rule '192.168.0.1='" BAD_RULE_HINT},
        /* The bad one among good ones, trimmed. */
        {"192.168.0.1=127.0.0.2,  nonsense  ,*=127.0.0.3", "bad rule 'nonsense'" BAD_RULE_HINT},
        /* A long rule is shown by its first 60 characters. */
        {"this-name-is-long-enough-to-be-cut-in-the-message.example=1.2.3.4.5",
         "bad rule 'this-name-is-long-enough-to-be-cut-in-the-message.example=1.'" BAD_RULE_HINT},
        {NULL, "invalid arguments"},
    };
    assert_int_equal(upy_config_remap("192.168.0.249:6543=127.0.0.1:16543"), 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(upy_config_remap(bad[i].spec), -1);
        assert_exc_msg(UPY_EXC_VALUEERROR, bad[i].message);
        assert_string_equal(mapped("192.168.0.249", 6543), "127.0.0.1:16543");
    }
}

static void test_at_most_64_rules(void **state)
{
    (void)state;
    char spec[64 * 24 + 32] = "";
    for (int i = 1; i <= 64; i++)
        snprintf(spec + strlen(spec), sizeof spec - strlen(spec), "10.0.0.%d=127.0.0.%d,", i, i);
    assert_int_equal(upy_config_remap(spec), 0);
    assert_string_equal(mapped("10.0.0.64", 80), "127.0.0.64:80");
    strcat(spec, "10.0.1.1=127.0.1.1");
    assert_int_equal(upy_config_remap(spec), -1);
    assert_exc_msg(UPY_EXC_VALUEERROR, "more than 64 rules");
}

/* --- the sandbox -------------------------------------------------------------------------- */

static void test_sandbox_rejects_rules_leaving_loopback(void **state)
{
    (void)state;
    assert_int_equal(upy_config_remap("192.168.0.249:6543=127.0.0.1:16543"), 0);
    assert_int_equal(upy_config_remap("*:80=127.0.0.1,*=10.0.0.1"), -1);
    assert_exc_msg(UPY_EXC_VALUEERROR, "rule 2 targets 10.0.0.1" NOT_LOOPBACK_HINT);
    assert_int_equal(upy_config_remap("*=0.0.0.0"), -1);
    assert_exc_msg(UPY_EXC_VALUEERROR, "rule 1 targets 0.0.0.0" NOT_LOOPBACK_HINT);
    assert_int_equal(upy_config_remap("broker.local=192.168.0.2"), -1);
    assert_exc_msg(UPY_EXC_VALUEERROR, "rule 1 targets 192.168.0.2" NOT_LOOPBACK_HINT);
    assert_string_equal(mapped("192.168.0.249", 6543), "127.0.0.1:16543");
}

static void test_sandbox_cannot_be_entered_with_rules_leaving_loopback(void **state)
{
    (void)state;
    assert_int_equal(upy_config_net("host"), 0);
    assert_int_equal(upy_config_remap("10.9.9.9=10.0.0.1"), 0);
    assert_string_equal(mapped("10.9.9.9", 80), "10.0.0.1:80");
    assert_int_equal(upy_config_net("sandbox"), -1);
    assert_exc_msg(UPY_EXC_VALUEERROR, "rule 1 targets 10.0.0.1" NOT_LOOPBACK_HINT);
    /* Still in host mode, rule and all. */
    assert_string_equal(mapped("10.9.9.9", 80), "10.0.0.1:80");
    assert_string_equal(mapped("10.1.1.1", 80), "10.1.1.1:80");
    assert_int_equal(upy_config_remap(""), 0);
    assert_int_equal(upy_config_net("sandbox"), 0);
    assert_string_equal(mapped("10.9.9.9", 80), "127.0.0.1:80");
}

/* A raw socket on a loopback port: what lands there came from this machine. */
static int udp_receiver(int *port)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sin;
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    *port = ntohs(sin.sin_port);
    return fd;
}

static void assert_connect_lands_on(const char *ip, int listener, int port)
{
    usocket *s = usocket_socket(USOCKET_AF_INET, USOCKET_SOCK_STREAM, USOCKET_IPPROTO_TCP);
    assert_non_null(s);
    usocket_addr to = addr(ip, port);
    if (usocket_connect(s, &to) < 0)
        fail_msg("connect(('%s', %d)) failed: %s", ip, port, tu_exc_text());
    int peer = tu_accept(listener, 5000);
    assert_true(peer >= 0);
    struct sockaddr_in from;
    socklen_t len = sizeof from;
    assert_int_equal(getpeername(peer, (struct sockaddr *)&from, &len), 0);
    assert_int_equal(ntohl(from.sin_addr.s_addr), LOOPBACK);
    close(peer);
    usocket_release(s);
}

/* The tutorial's LAN address and a public one both reach a listener on 127.0.0.1: nothing is
 * sent anywhere else. */
static void test_sandbox_connects_and_sends_land_on_loopback(void **state)
{
    (void)state;
    int port, listener = tu_listener(&port);
    assert_connect_lands_on("192.168.1.10", listener, port);
    assert_connect_lands_on("8.8.8.8", listener, port);
    close(listener);

    int receiver = udp_receiver(&port);
    usocket *u = usocket_socket(USOCKET_AF_INET, USOCKET_SOCK_DGRAM, USOCKET_IPPROTO_UDP);
    usocket_addr to = addr("10.0.0.1", port);
    assert_int_equal(usocket_sendto(u, "ping", 4, &to), 4);
    assert_true(tu_readable(receiver, 5000));
    char got[8];
    assert_int_equal(recv(receiver, got, sizeof got, 0), 4);
    assert_memory_equal(got, "ping", 4);
    usocket_release(u);
    close(receiver);
}

/* --- mapping in --------------------------------------------------------------------------- */

static void test_peers_are_shown_by_their_device_address(void **state)
{
    (void)state;
    assert_int_equal(upy_config_remap("192.168.0.249:6543=127.0.0.1:16543,192.168.0.10=127.0.0.2,"
                                      "192.168.0.11:5000=127.0.0.3,*:7000=127.0.0.4:17000"),
                     0);
    assert_string_equal(seen_as(LOOPBACK, 16543), "192.168.0.249:6543");
    assert_string_equal(seen_as(0x7f000002, 40000), "192.168.0.10:40000");
    assert_string_equal(seen_as(0x7f000003, 5000), "192.168.0.11:5000");
    /* Anything else is shown as it is: many device addresses share it. */
    assert_string_equal(seen_as(LOOPBACK, 40000), "127.0.0.1:40000");
    assert_string_equal(seen_as(0x7f000003, 5001), "127.0.0.3:5001");
    assert_string_equal(seen_as(0x7f000004, 17000), "127.0.0.4:17000");
}

/* --- getaddrinfo -------------------------------------------------------------------------- */

static void test_getaddrinfo_numeric_and_localhost(void **state)
{
    (void)state;
    /* The device's answer: one entry, the address itself (the remap happens at connect). */
    assert_string_equal(resolved("192.168.0.234", 6543), "(2, 1, 0, '', ('192.168.0.234', 6543))");
    assert_string_equal(resolved("8.8.8.8", 1), "(2, 1, 0, '', ('8.8.8.8', 1))");
    assert_string_equal(resolved("localhost", 65535), "(2, 1, 0, '', ('127.0.0.1', 65535))");
    /* lwIP's dns.c: "localhost" exactly (strcmp), then ipaddr_aton's BSD forms. */
    assert_resolve_fails("LocalHost", 80, 202);
    assert_string_equal(resolved("127.1", 80), "(2, 1, 0, '', ('127.0.0.1', 80))");
    assert_string_equal(resolved("0x7f.0.0.2", 80), "(2, 1, 0, '', ('127.0.0.2', 80))");
    assert_string_equal(resolved("192.168.010.1", 80), "(2, 1, 0, '', ('192.168.8.1', 80))");
    assert_resolve_fails("::1", 80, 202); /* IPv6 is not usable from usocket */
}

static void test_getaddrinfo_name_rules(void **state)
{
    (void)state;
    assert_int_equal(upy_config_remap("broker.local=127.0.0.5,mqtt.example:1883=127.0.0.6:11883,"
                                      "api.example=127.0.0.7:8443"),
                     0);
    assert_string_equal(resolved("broker.local", 1883), "(2, 1, 0, '', ('127.0.0.5', 1883))");
    assert_string_equal(resolved("BROKER.Local", 80), "(2, 1, 0, '', ('127.0.0.5', 80))");
    assert_string_equal(resolved("mqtt.example", 1883), "(2, 1, 0, '', ('127.0.0.6', 11883))");
    assert_string_equal(resolved("api.example", 443), "(2, 1, 0, '', ('127.0.0.7', 8443))");
    assert_resolve_fails("mqtt.example", 1884, 202); /* the rule is for one port */
}

static void test_getaddrinfo_failures(void **state)
{
    (void)state;
    /* The sandbox has no DNS: a name without a rule fails as lwIP's DNS failure does. */
    assert_resolve_fails("example.com", 80, 202);
    assert_resolve_fails("", 80, 202);
    /* The port is checked before the name. */
    assert_resolve_fails("192.168.0.234", 0, 201);
    assert_resolve_fails("example.com", 0, 201);
    assert_resolve_fails("example.com", -1, 201);
    assert_resolve_fails("localhost", 65536, 201);
    assert_string_equal(tu_exc_text(), "OSError: [Errno 201] EAI_SERVICE");
    usocket_addrinfo ai;
    assert_int_equal(usocket_getaddrinfo(NULL, 80, &ai), -1);
    assert_exc_msg(UPY_EXC_TYPEERROR, "host must be a string, not NULL");
    assert_int_equal(usocket_getaddrinfo("localhost", 80, NULL), -1);
    assert_exc_msg(UPY_EXC_TYPEERROR, "NULL result");
}

/* lwIP's DNS takes names up to 255 characters. */
static void test_getaddrinfo_name_length_limit(void **state)
{
    (void)state;
    char name[300], rule[320];
    memset(name, 'a', 255);
    name[255] = '\0';
    snprintf(rule, sizeof rule, "%s=127.0.0.8", name);
    assert_int_equal(upy_config_remap(rule), 0);
    assert_string_equal(resolved(name, 80), "(2, 1, 0, '', ('127.0.0.8', 80))");
    strcpy(name + 255, "a");
    assert_resolve_fails(name, 80, 202);
    assert_resolve_fails(name, 0, 201);
}

/* --- /flash ------------------------------------------------------------------------------- */

static const char *flash_path(const char *path)
{
    static char out[4200];
    size_t n = upy_config_map_path(path, out, sizeof out);
    assert_int_equal(n, strlen(out));
    return out;
}

static void test_flash_paths_map_to_the_flash_directory(void **state)
{
    (void)state;
    assert_string_equal(flash_path("/flash/cert/ca.pem"), "./flash/cert/ca.pem");
    assert_int_equal(upy_config_flash("/srv/board"), 0);
    assert_string_equal(flash_path("/flash/cert/ca.pem"), "/srv/board/cert/ca.pem");
    assert_string_equal(flash_path("/flash"), "/srv/board");
    assert_string_equal(flash_path("/flash/"), "/srv/board/");
    /* Only /flash itself is mapped. */
    assert_string_equal(flash_path("/flashy/ca.pem"), "/flashy/ca.pem");
    assert_string_equal(flash_path("flash/ca.pem"), "flash/ca.pem");
    assert_string_equal(flash_path("/sd/ca.pem"), "/sd/ca.pem");
    assert_string_equal(flash_path("ca.pem"), "ca.pem");
    assert_string_equal(flash_path(NULL), "");
    /* snprintf-style: the length it needs, what fits, terminated. */
    char small[8];
    assert_int_equal(upy_config_map_path("/flash/cert/ca.pem", small, sizeof small), strlen("/srv/board/cert/ca.pem"));
    assert_string_equal(small, "/srv/bo");
}

static void test_flash_directory_errors(void **state)
{
    (void)state;
    assert_int_equal(upy_config_flash(""), -1);
    assert_exc_msg(UPY_EXC_VALUEERROR, "flash directory must be a non-empty path");
    char long_dir[5000];
    memset(long_dir, 'd', sizeof long_dir - 1);
    long_dir[sizeof long_dir - 1] = '\0';
    assert_int_equal(upy_config_flash(long_dir), -1);
    assert_exc_msg(UPY_EXC_VALUEERROR, "flash directory path is longer than 4095 bytes");
    assert_int_equal(upy_config_flash(NULL), -1);
    assert_exc_msg(UPY_EXC_VALUEERROR, "invalid arguments");
    assert_string_equal(flash_path("/flash/a"), "./flash/a");
}

static tu_proc proc;

static void test_flash_directory_from_environment(void **state)
{
    (void)state;
    char *argv[] = {(char *)tu_test_bin("env_probe"), "map=/flash/cert/ca.pem", "flash=/other",
                    "map=/flash/cert/ca.pem", NULL};
    assert_int_equal(tu_run(&proc, argv, (char *const[]){"UPYSOCK_FLASH=/srv/board", NULL}, 10000), 0);
    assert_string_equal(proc.out, "map: /srv/board/cert/ca.pem\n"
                                  "flash=/other: ok\n"
                                  "map: /other/cert/ca.pem\n");
}

static void test_remap_and_net_from_environment(void **state)
{
    (void)state;
    char *argv[] = {(char *)tu_test_bin("env_probe"), "resolve=broker.local", "resolve=example.com", NULL};
    char *env[] = {"UPYSOCK_REMAP=broker.local=127.0.0.5:1884", "UPYSOCK_NET=sandbox", NULL};
    assert_int_equal(tu_run(&proc, argv, env, 10000), 0);
    assert_string_equal(proc.out, "resolve: ('127.0.0.5', 1884)\n"
                                  "resolve=example.com: OSError: [Errno 202] EAI_FAIL\n");
}

/* --- the log ------------------------------------------------------------------------------ */

static void test_log_lines(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(upy_config_log(fds[1]), 0);
    char buf[1024];
    size_t len = 0;

    usocket_addr device = addr("192.168.0.10", 80);
    vnet_log("connect", &device, (host_addr){LOOPBACK, 80});
    assert_true(tu_read_until(fds[0], buf, sizeof buf, &len, "\n", 5000));
    assert_string_equal(buf, "upysock: connect 192.168.0.10:80 -> 127.0.0.1:80\n");

    /* Through the socket calls: bind, then listen with the port the kernel chose. */
    assert_int_equal(upy_config_remap("*:6543=127.0.0.1:0"), 0);
    usocket *s = usocket_socket(USOCKET_AF_INET, USOCKET_SOCK_STREAM, USOCKET_IPPROTO_TCP);
    assert_int_equal(usocket_bind(s, &(usocket_addr){"", 6543}), 0);
    assert_int_equal(usocket_listen(s, 5), 0);
    len = 0;
    assert_true(tu_read_until(fds[0], buf, sizeof buf, &len, "listen", 5000));
    assert_true(tu_read_until(fds[0], buf, sizeof buf, &len, "\n", 5000));
    int port = 0;
    assert_int_equal(sscanf(buf, "upysock: bind 0.0.0.0:6543 -> 127.0.0.1:0\n"
                                 "upysock: listen 0.0.0.0:6543 -> 127.0.0.1:%d\n", &port), 1);
    assert_true(port > 0);
    char expect[128];
    snprintf(expect, sizeof expect, "upysock: bind 0.0.0.0:6543 -> 127.0.0.1:0\n"
                                    "upysock: listen 0.0.0.0:6543 -> 127.0.0.1:%d\n", port);
    assert_string_equal(buf, expect);
    usocket_release(s);

    /* -1 stops it; a closed or invalid fd is refused. */
    assert_int_equal(upy_config_log(-1), 0);
    vnet_log("connect", &device, (host_addr){LOOPBACK, 80});
    assert_false(tu_readable(fds[0], 0));
    close(fds[0]);
    close(fds[1]);
    assert_int_equal(upy_config_log(fds[1]), -1);
    assert_exc_msg(UPY_EXC_VALUEERROR, "log fd is not open");
    assert_int_equal(upy_config_log(-2), -1);
    assert_exc_msg(UPY_EXC_VALUEERROR, "log fd is not open");
}

#define VNET_TEST(fn) cmocka_unit_test_setup_teardown(fn, reset_vnet, reset_vnet)

int main(void)
{
    tu_clear_upysock_env();
    const struct CMUnitTest tests[] = {
        VNET_TEST(test_parse_dotted_quads),
        VNET_TEST(test_parse_rejects_what_is_not_four_parts),
        VNET_TEST(test_parse_port_range),
        VNET_TEST(test_format_ip),
        VNET_TEST(test_sandbox_maps_every_ipv4_to_loopback_same_port),
        VNET_TEST(test_host_mode_passes_addresses_through),
        VNET_TEST(test_each_rule_kind),
        VNET_TEST(test_rule_precedence),
        VNET_TEST(test_rules_trim_spaces_and_skip_empty_items),
        VNET_TEST(test_malformed_rules_are_named_and_change_nothing),
        VNET_TEST(test_at_most_64_rules),
        VNET_TEST(test_sandbox_rejects_rules_leaving_loopback),
        VNET_TEST(test_sandbox_cannot_be_entered_with_rules_leaving_loopback),
        VNET_TEST(test_sandbox_connects_and_sends_land_on_loopback),
        VNET_TEST(test_peers_are_shown_by_their_device_address),
        VNET_TEST(test_getaddrinfo_numeric_and_localhost),
        VNET_TEST(test_getaddrinfo_name_rules),
        VNET_TEST(test_getaddrinfo_failures),
        VNET_TEST(test_getaddrinfo_name_length_limit),
        VNET_TEST(test_flash_paths_map_to_the_flash_directory),
        VNET_TEST(test_flash_directory_errors),
        VNET_TEST(test_flash_directory_from_environment),
        VNET_TEST(test_remap_and_net_from_environment),
        VNET_TEST(test_log_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
