/*
 * The observers (docs/observe.md) checked with the tools a reader uses: tshark on the pcap (it
 * must parse it without a warning, follow the tutorials' conversations under the device
 * addresses, show a reset as RST, and decrypt tutorial 3 with the key log), jq on the trace.
 * Tests that need tshark skip, saying so, when it is not installed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host/host.h"
#include "testutil.h"
#include "tlspeer.h"
#include "upysock/uerrno.h"
#include "upysock/upy_config.h"
#include "upysock/uselect.h"
#include "upysock/ussl.h"
#include "upysock/usocket.h"

#define WAIT_MS 10000
#define FLASH UPYSOCK_TEST_BIN_DIR "/flash"

static char dir[256];
static char out_path[320];

static const char *path(const char *name)
{
    static char buf[4][320];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, sizeof buf[0], "%s/%s", dir, name);
    return p;
}

static bool have(const char *tool)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", tool);
    return system(cmd) == 0;
}

static void need_tshark(void)
{
    if (!have("tshark")) {
        fprintf(stderr, "tshark is not installed (scripts/install-deps.sh installs it): skipped\n");
        skip();
    }
}

/* Runs a shell command line (bounded by timeout(1)); its stdout and stderr, with tshark's note
 * about running as root taken out, into a static buffer. */
static const char *sh(const char *fmt, ...)
{
    static char out[65536];
    char line[2048], cmd[2500];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "timeout 60 sh -c '%s' 2>&1 | sed \"/^Running as user/d\" > %s", line, out_path);
    assert_int_equal(system(cmd), 0);
    FILE *f = fopen(out_path, "r");
    assert_non_null(f);
    out[fread(out, 1, sizeof out - 1, f)] = '\0';
    fclose(f);
    return out;
}

/* tshark reads the file with every checksum checked: no warning, no bad checksum. */
static void assert_clean_pcap(const char *file)
{
    const char *checks = "-o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE -o udp.check_checksum:TRUE";
    assert_string_equal(sh("tshark -r %s %s -Y \"ip.checksum.status == 0 || tcp.checksum.status == 0 || "
                           "udp.checksum.status == 0\"", file, checks), "");
    const char *all = sh("tshark -r %s %s -q -z expert,warn", file, checks);
    assert_null(strstr(all, "Warning"));
    assert_null(strstr(all, "Error"));
}

/* The server a test started and has not stopped (its pid: the test's tu_proc is gone with its
 * frame once an assertion fails): the teardown kills it, so no failure leaves a process behind. */
static pid_t running;

static int start_server(tu_proc *server, const char *program, const char *extra)
{
    char pcap[400];
    snprintf(pcap, sizeof pcap, "UPYSOCK_PCAP=%s", path("server.pcap"));
    char *argv[] = {(char *)tu_example(program), NULL};
    char *env[] = {"UPYSOCK_REMAP=*:6543=127.0.0.1:0", "UPYSOCK_LOG=fd:3", "UPYSOCK_FLASH=" FLASH, pcap,
                   (char *)extra, NULL};
    tu_proc_start(server, argv, env);
    running = server->pid;
    int port = tu_proc_listen_port(server, WAIT_MS);
    assert_true(port > 0);
    return port;
}

/* A client program to the tutorial address, mapped to port; its pcap, trace and key log in dir. */
static void run_client(tu_proc *client, const char *program, int port, const char *extra)
{
    char remap[80], pcap[400], trace[400];
    snprintf(remap, sizeof remap, "UPYSOCK_REMAP=192.168.0.234:6543=127.0.0.1:%d", port);
    snprintf(pcap, sizeof pcap, "UPYSOCK_PCAP=%s", path("client.pcap"));
    snprintf(trace, sizeof trace, "UPYSOCK_TRACE=%s", path("client.jsonl"));
    char *argv[] = {(char *)tu_example(program), NULL};
    char *env[] = {remap, pcap, trace, "UPYSOCK_TRACE_DATA=16", "UPYSOCK_FLASH=" FLASH, (char *)extra, NULL};
    assert_int_equal(tu_run(client, argv, env, WAIT_MS), 0);
}

static void stop(tu_proc *server)
{
    running = 0;
    assert_true(tu_proc_stop(server, SIGTERM, WAIT_MS));
}

static int stop_left_server(void **state)
{
    (void)state;
    if (running > 0 && kill(running, SIGKILL) == 0)
        waitpid(running, NULL, 0); /* SIGKILL: bounded */
    running = 0;
    return 0;
}

/* Tutorial 2's client against tutorial 1's server: both pcaps, each from its own board. */
static void test_tutorials_1_and_2_in_tshark(void **state)
{
    (void)state;
    need_tshark();
    tu_proc server, client;
    int port = start_server(&server, "tutorial_server", NULL);
    run_client(&client, "tutorial_client", port, NULL);
    assert_true(tu_proc_wait_count(&server, "Received: b'Data to send'", 2, false, WAIT_MS) == 2);
    stop(&server);

    assert_clean_pcap(path("client.pcap"));
    const char *conv = sh("tshark -r %s -q -z conv,tcp", path("client.pcap"));
    assert_int_equal(tu_count(conv, "192.168.0.249:"), 2);     /* the board, its two sockets */
    assert_int_equal(tu_count(conv, "192.168.0.234:6543 "), 2); /* the server as the program named it */
    const char *follow = sh("tshark -r %s -q -z follow,tcp,ascii,0 -z follow,tcp,ascii,1", path("client.pcap"));
    assert_int_equal(tu_count(follow, "Data to send"), 2);
    assert_non_null(strstr(follow, "\n0\n"));                   /* the server's counter, one per connection */
    assert_non_null(strstr(follow, "\n1\n"));

    /* The server's board: itself on 6543, the client (an unmapped loopback peer) as 127.0.0.1. */
    assert_clean_pcap(path("server.pcap"));
    conv = sh("tshark -r %s -q -z conv,tcp", path("server.pcap"));
    assert_int_equal(tu_count(conv, "192.168.0.249:6543 "), 2);
    assert_int_equal(tu_count(conv, "127.0.0.1:"), 2);
    follow = sh("tshark -r %s -q -z follow,tcp,ascii,0", path("server.pcap"));
    assert_non_null(strstr(follow, "Data to send"));
    /* Each connection: SYN, SYN-ACK; the server's FIN (it never reads the client's). */
    assert_string_equal(sh("tshark -r %s -Y \"tcp.flags.syn == 1\" | wc -l", path("server.pcap")), "4\n");
    assert_string_equal(sh("tshark -r %s -Y \"tcp.flags.fin == 1\" | wc -l", path("server.pcap")), "2\n");
}

/* The peer resets each connection after the client's send: the client's pcap shows the RST. */
static void test_reset_is_an_rst(void **state)
{
    (void)state;
    need_tshark();
    int port, listener = tu_listener(&port);
    char remap[80], pcap[400];
    snprintf(remap, sizeof remap, "UPYSOCK_REMAP=*:6543=127.0.0.1:%d", port);
    snprintf(pcap, sizeof pcap, "UPYSOCK_PCAP=%s", path("reset.pcap"));
    char *argv[] = {(char *)tu_example("tutorial_client"), NULL};
    char *env[] = {remap, pcap, NULL};
    tu_proc client;
    tu_proc_start(&client, argv, env);
    for (int i = 0; i < 2; i++) {
        int c = tu_accept(listener, WAIT_MS);
        assert_true(c >= 0);
        char buf[12];
        assert_int_equal(tu_read_exact(c, buf, sizeof buf, WAIT_MS), 12);
        tu_reset(c);
    }
    assert_true(tu_proc_wait(&client, WAIT_MS));
    close(listener);
    assert_clean_pcap(path("reset.pcap"));
    const char *rst = sh("tshark -r %s -Y \"tcp.flags.reset == 1\" -T fields -e ip.src -e tcp.srcport",
                         path("reset.pcap"));
    assert_int_equal(tu_count(rst, "192.168.0.234\t6543\n"), 2);
}

/* Tutorial 2's client with nothing listening: each non-blocking connect is a SYN answered by an
 * RST-ACK, and no handshake is made up. */
static void test_refused_connect_is_syn_then_rst(void **state)
{
    (void)state;
    need_tshark();
    char remap[80], pcap[400];
    snprintf(remap, sizeof remap, "UPYSOCK_REMAP=*:6543=127.0.0.1:%d", tu_closed_port());
    snprintf(pcap, sizeof pcap, "UPYSOCK_PCAP=%s", path("refused.pcap"));
    char *argv[] = {(char *)tu_example("tutorial_client"), NULL};
    char *env[] = {remap, pcap, NULL};
    tu_proc client;
    assert_int_equal(tu_run(&client, argv, env, WAIT_MS), 0);
    assert_clean_pcap(path("refused.pcap"));
    const char *file = path("refused.pcap");
    assert_string_equal(sh("tshark -r %s | wc -l", file), "4\n");
    assert_string_equal(sh("tshark -r %s -Y \"ip.src == 192.168.0.249 && tcp.flags.syn == 1 && tcp.flags.ack == 0\""
                           " | wc -l", file), "2\n");
    assert_string_equal(sh("tshark -r %s -Y \"ip.src == 192.168.0.234 && tcp.srcport == 6543 && "
                           "tcp.flags.reset == 1 && tcp.flags.ack == 1\" | wc -l", file), "2\n");
}

/* Tutorial 3: the key log (UPYSOCK_KEYLOG on the client, SSLKEYLOGFILE on the server) lets
 * tshark decrypt each side's pcap down to the tutorial's payload. */
static void test_tutorial_3_decrypted_with_the_key_log(void **state)
{
    (void)state;
    need_tshark();
    char server_keys[400], client_keys[400];
    snprintf(server_keys, sizeof server_keys, "SSLKEYLOGFILE=%s", path("server.keys"));
    snprintf(client_keys, sizeof client_keys, "UPYSOCK_KEYLOG=%s", path("client.keys"));
    tu_proc server, client;
    int port = start_server(&server, "tls_server", server_keys);
    run_client(&client, "tutorial_ssl_client", port, client_keys);
    assert_true(tu_proc_wait_output(&server, "Received: b'Data to send'", false, WAIT_MS));
    stop(&server);

    assert_clean_pcap(path("client.pcap"));
    const char *plain = sh("tshark -r %s -q -z follow,tls,ascii,0", path("client.pcap"));
    assert_null(strstr(plain, "Data to send")); /* without the keys: records only */
    const char *side[][2] = {{"client.pcap", "client.keys"}, {"server.pcap", "server.keys"}};
    for (int i = 0; i < 2; i++) {
        const char *keys = sh("cat %s", path(side[i][1]));
        assert_non_null(strstr(keys, "CLIENT_RANDOM ") ? keys : strstr(keys, "CLIENT_TRAFFIC_SECRET_0 "));
        const char *shown = sh("tshark -r %s -o tls.keylog_file:%s -q -z follow,tls,ascii,0", path(side[i][0]),
                               path(side[i][1]));
        assert_non_null(strstr(shown, "Data to send"));
    }
}

/* The trace of tutorial 2's client: the fields of a call that raised, and the docs' jq line. */
static void test_trace_fields(void **state)
{
    (void)state;
    tu_proc server, client;
    int port = start_server(&server, "tutorial_server", NULL);
    run_client(&client, "tutorial_client", port, NULL);
    stop(&server);
    char port_text[16];
    snprintf(port_text, sizeof port_text, ":%d\"", port);
    const char *trace = sh("cat %s", path("client.jsonl"));
    /* The non-blocking connect: device and host address, EINPROGRESS as the board numbers it
     * (119) from the kernel's (115), then the OSError raised at the API. */
    const char *connect = strstr(trace, "\"call\":\"connect\",\"sock\":1,\"fileno\":54,");
    assert_non_null(connect);
    assert_non_null(strstr(connect, "\"dev\":\"192.168.0.234:6543\",\"host\":\"127.0.0.1:"));
    assert_non_null(strstr(connect, port_text));
    assert_non_null(strstr(connect, "\"errno\":119,\"kernel_errno\":115,\"kernel_error\":\"EINPROGRESS\"}"));
    assert_non_null(strstr(connect, "\"call\":\"raise\",\"exc\":\"OSError\",\"code\":119}"));
    assert_non_null(strstr(trace, "\"call\":\"send\",\"sock\":1,\"fileno\":54,"));
    assert_non_null(strstr(trace, "\"len\":12,\"result\":12,\"data\":\"Data to send\"}"));
    assert_int_equal(tu_count(trace, "\"call\":\"close\""), 2);
    /* The poll thread's first poll: the first socket (fileno 54) writable, POLLOUT being 4. */
    assert_non_null(strstr(trace, "\"call\":\"poll\",\"poller\":1,\"timeout_ms\":-1,\"result\":"));
    assert_non_null(strstr(trace, ",\"revents\":[[54,4]"));
    /* The virtual LAN's decision: the rule that moved the tutorial's address. */
    char remap[160];
    snprintf(remap, sizeof remap, "\"call\":\"vnet\",\"decision\":\"remap\",\"dev\":\"192.168.0.234:6543\","
             "\"host\":\"127.0.0.1:%d\"}", port);
    assert_int_equal(tu_count(trace, remap), 2);
    assert_int_equal(tu_count(trace, "{\"t\":"), tu_count(trace, "}\n"));
    if (!have("jq")) {
        fprintf(stderr, "jq is not installed: its check skipped\n");
        return;
    }
    /* docs/observe.md: every call that raised. */
    const char *raised = sh("jq -c \"select(.call == \\\"raise\\\")\" %s", path("client.jsonl"));
    assert_int_equal(tu_count(raised, "\n"), 2);
    assert_int_equal(tu_count(raised, "\"code\":119"), 2);
}

/* How many records of `trace` are of `call`, on the socket whose fileno is `fileno` (-1: on no
 * socket, -2: on any or none), with `fields` in them. */
static int records(const char *trace, const char *call, int fileno, const char *fields)
{
    char name[64], socket[64], line[1200];
    snprintf(name, sizeof name, "\"call\":\"%s\",", call);
    snprintf(socket, sizeof socket, "\"fileno\":%d,\"kfd\":", fileno);
    int n = 0;
    for (const char *at = trace; *at; at = strchr(at, '\n') + 1) {
        snprintf(line, sizeof line, "%.*s", (int)(strchr(at, '\n') - at), at);
        bool on = fileno == -1 ? !strstr(line, "\"fileno\":") : fileno == -2 || strstr(line, socket);
        n += strstr(line, name) && strstr(line, fields) && on;
    }
    return n;
}

/* `call` has exactly one record, and it is the one described. */
static void assert_one_call(const char *trace, const char *call, int fileno, const char *fields)
{
    if (records(trace, call, -2, "") != 1 || records(trace, call, fileno, fields) != 1)
        fail_msg("%s: %d records, %d on fileno %d with %s", call, records(trace, call, -2, ""),
                 records(trace, call, fileno, fields), fileno, fields);
}

/* Every public call on a socket, poll object or TLS layer that no seam hook records is one
 * record of its own, named after the call, in the device's numbers (docs/observe.md). */
static void test_every_call_is_one_record(void **state)
{
    (void)state;
    assert_int_equal(upy_config_trace(path("calls.jsonl")), 0);
    usocket *l = usocket_socket(USOCKET_AF_INET, USOCKET_SOCK_STREAM, 0);
    assert_non_null(l);
    int fl = usocket_fileno(l);
    usocket_addr any = {"", 0};
    assert_int_equal(usocket_bind(l, &any), 0);
    assert_int_equal(usocket_listen(l, 3), 0);
    assert_int_equal(usocket_settimeout(l, 2.5), 0);
    assert_int_equal(usocket_setblocking(l, true), 0);
    assert_int_equal(usocket_setsockopt_int(l, USOCKET_SOL_SOCKET, USOCKET_SO_KEEPALIVE, 1), 0);
    assert_ptr_equal(usocket_makefile(l, "rb"), l);
    usocket_addrinfo ai;
    assert_int_equal(usocket_getaddrinfo("localhost", 80, &ai), 1);

    uselect_poller *p = uselect_poll();
    assert_non_null(p);
    uselect_event ev[2];
    assert_int_equal(uselect_poll_register(p, l, USELECT_POLLIN), 0);
    assert_int_equal(uselect_poll_modify(p, l, USELECT_POLLIN | USELECT_POLLOUT), 0);
    assert_int_equal(uselect_poll_poll(p, 0, 0, ev, 2), 0);
    assert_int_equal(uselect_poll_unregister(p, l), 0);
    uselect_poll_free(p);

    /* lwIP's answers without the kernel: a second connect, recv on a socket never connected */
    usocket *c = tu_tcp();
    usocket_addr to = {"127.0.0.1", tu_usock_port(l)};
    assert_int_equal(usocket_connect(c, &to), 0);
    assert_int_equal(usocket_connect(c, &to), -1);
    int fc = usocket_fileno(c);
    usocket *fresh = tu_tcp();
    assert_int_equal(usocket_setblocking(fresh, false), 0);
    char buf[8];
    assert_int_equal(usocket_recv(fresh, buf, sizeof buf), 0);
    int ff = usocket_fileno(fresh);

    usocket *raw = tu_tcp();
    usocket *tls = ussl_wrap_socket(raw, NULL);
    assert_non_null(tls);
    assert_int_equal(ussl_do_handshake(tls), -1);
    assert_null(ussl_save_session(tls));
    int ft = usocket_fileno(tls);
    usocket *u = tu_udp();
    assert_int_equal(usocket_sendto(u, "", 0, &to), 0);
    int fu = usocket_fileno(u);
    assert_int_equal(usocket_close(l), 0);
    assert_int_equal(usocket_close(l), 0);
    assert_int_equal(upy_config_trace(""), 0);
    usocket_release(l), usocket_release(c), usocket_release(fresh), usocket_release(tls), usocket_release(raw);
    usocket_release(u);

    const char *trace = sh("cat %s", path("calls.jsonl"));
    assert_int_equal(records(trace, "socket", -2, ""), 5);
    assert_int_equal(records(trace, "socket", fl, "\"af\":2,\"type\":1,\"result\":0}"), 1);
    assert_int_equal(records(trace, "socket", fu, "\"af\":2,\"type\":2,\"result\":0}"), 1);
    assert_one_call(trace, "bind", fl, "\"dev\":\"0.0.0.0:0\",\"host\":\"127.0.0.1:0\",\"result\":0}");
    assert_one_call(trace, "listen", fl, "\"backlog\":3,\"result\":0}");
    assert_one_call(trace, "settimeout", fl, "\"timeout_ms\":2500,\"result\":0}");
    assert_one_call(trace, "setsockopt", fl, "\"level\":4095,\"opt\":8,\"len\":4,\"value\":1,\"result\":0}");
    assert_one_call(trace, "makefile", fl, "\"mode\":\"rb\",\"result\":0}");
    assert_one_call(trace, "getaddrinfo", -1, "\"name\":\"localhost\",\"port\":80,\"ip\":\"127.0.0.1\",\"result\":1}");
    assert_one_call(trace, "poll_new", -1, "\"poller\":");
    assert_one_call(trace, "register", fl, ",\"mask\":1,\"result\":0}");
    assert_one_call(trace, "modify", fl, ",\"mask\":5,\"result\":0}");
    assert_one_call(trace, "poll", -1, ",\"timeout_ms\":0,\"result\":0}");
    assert_one_call(trace, "unregister", fl, "\"poller\":");
    assert_one_call(trace, "poll_free", -1, "\"poller\":");
    /* the first connect is the seam's record, the second lwIP's EISCONN (127) */
    assert_int_equal(records(trace, "connect", -2, ""), 2);
    assert_int_equal(records(trace, "connect", fc, "\"host\":\"127.0.0.1:"), 2);
    assert_int_equal(records(trace, "connect", fc, "\"errno\":127}"), 1);
    assert_one_call(trace, "recv", ff, "\"len\":8,\"errno\":11}");
    assert_one_call(trace, "wrap_socket", ft, "\"server_side\":0,\"cert_reqs\":0,\"result\":0}");
    assert_one_call(trace, "do_handshake", ft, "\"errno\":-78}");
    assert_one_call(trace, "save_session", ft, "\"errno\":-28928}");
    char nothing[120]; /* sendto(b'', addr): lwIP's answer, with both addresses */
    snprintf(nothing, sizeof nothing, "\"len\":0,\"dev\":\"127.0.0.1:%d\",\"host\":\"127.0.0.1:%d\",\"result\":0}",
             to.port, to.port);
    assert_one_call(trace, "sendto", fu, nothing);
    /* fileno() on each socket once (54.. on the board); setblocking on l and on fresh */
    assert_int_equal(records(trace, "fileno", -2, ""), 5);
    int fds[] = {fl, fc, ff, ft, fu};
    for (int i = 0; i < 5; i++) {
        char result[32];
        snprintf(result, sizeof result, "\"result\":%d}", fds[i]);
        assert_int_equal(records(trace, "fileno", fds[i], result), 1);
    }
    assert_int_equal(records(trace, "setblocking", -2, ""), 2);
    assert_int_equal(records(trace, "setblocking", fl, "\"timeout_ms\":-1,\"result\":0}"), 1);
    assert_int_equal(records(trace, "setblocking", ff, "\"timeout_ms\":0,\"result\":0}"), 1);
    /* close: the first is the seam's record, the second (already closed) the call's */
    assert_int_equal(records(trace, "close", fl, ""), 2);
    char count[32]; /* every record valid JSON */
    snprintf(count, sizeof count, "%s", sh("wc -l < %s", path("calls.jsonl")));
    if (have("jq"))
        assert_string_equal(sh("jq -c . %s | wc -l", path("calls.jsonl")), count);
}

/* A peer that connected to the board appears under the address accept() returned, mapped back
 * through the rules: in the trace's accept record (with the new socket's fileno) and in the
 * pcap's conversation. */
static void test_accept_shows_the_device_peer(void **state)
{
    (void)state;
    assert_int_equal(upy_config_remap("192.168.0.77=127.0.0.5"), 0);
    int port;
    usocket *l = tu_usock_listener(2, &port);
    int fl = usocket_fileno(l);
    assert_int_equal(upy_config_trace(path("accept.jsonl")), 0);
    assert_int_equal(upy_config_pcap(path("accept.pcap")), 0);
    int k = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in at = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000005)};
    socklen_t size = sizeof at;
    assert_int_equal(bind(k, (struct sockaddr *)&at, sizeof at), 0);
    assert_int_equal(getsockname(k, (struct sockaddr *)&at, &size), 0);
    int kport = ntohs(at.sin_port);
    at.sin_addr.s_addr = htonl(0x7f000001), at.sin_port = htons((uint16_t)port);
    assert_int_equal(connect(k, (struct sockaddr *)&at, sizeof at), 0);
    usocket_addr peer;
    usocket *a = usocket_accept(l, &peer);
    assert_non_null(a);
    assert_string_equal(peer.ip, "192.168.0.77");
    assert_int_equal(peer.port, kport);
    assert_int_equal(usocket_send(a, "hi", 2), 2);
    char buf[2];
    assert_int_equal(tu_read_exact(k, buf, sizeof buf, WAIT_MS), 2);
    int fa = usocket_fileno(a);
    usocket_release(a);
    usocket_release(l);
    close(k);
    assert_int_equal(upy_config_pcap(""), 0);
    assert_int_equal(upy_config_trace(""), 0);
    assert_int_equal(upy_config_remap(""), 0);

    const char *trace = sh("cat %s", path("accept.jsonl"));
    char fields[160];
    snprintf(fields, sizeof fields, "\"new_fileno\":%d,\"dev\":\"192.168.0.77:%d\",\"host\":\"127.0.0.5:%d\","
             "\"result\":0}", fa, kport, kport);
    assert_one_call(trace, "accept", fl, fields);
    if (!have("tshark")) {
        fprintf(stderr, "tshark is not installed: the pcap's check skipped\n");
        return;
    }
    assert_clean_pcap(path("accept.pcap"));
    const char *conv = sh("tshark -r %s -q -z conv,tcp", path("accept.pcap"));
    char peer_text[40];
    snprintf(peer_text, sizeof peer_text, "192.168.0.77:%d ", kport);
    assert_int_equal(tu_count(conv, peer_text), 1);
    assert_null(strstr(conv, "127.0.0.5"));
    assert_string_equal(sh("tshark -r %s -Y \"tcp.flags.syn == 1 && ip.src == 192.168.0.77\" | wc -l",
                           path("accept.pcap")), "1\n");
}

/* A kernel UDP socket at 127.0.0.<host>, on an ephemeral port (*port). */
static int udp_at(int host, int *port)
{
    int k = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in at = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000000u | (uint32_t)host)};
    socklen_t size = sizeof at;
    assert_int_equal(bind(k, (struct sockaddr *)&at, sizeof at), 0);
    assert_int_equal(getsockname(k, (struct sockaddr *)&at, &size), 0);
    *port = ntohs(at.sin_port);
    return k;
}

/* Datagrams in device terms: sendto names the destination as the program did and as it was
 * mapped; recvfrom names the source as it returns it (mapped back through the rules) and as
 * the kernel gave it; one record per call, a failed recvfrom with the kernel's errno; a
 * connected UDP socket's connect has both addresses, its recv and send (which return none)
 * none, as on a TCP socket. */
static void test_datagrams_show_device_and_host_addresses(void **state)
{
    (void)state;
    assert_int_equal(upy_config_remap("192.168.0.60=127.0.0.6"), 0);
    int kport;
    int k = udp_at(6, &kport);
    int uport;
    usocket *u = tu_usock_udp(&uport);
    usocket *c = tu_udp();
    int fu = usocket_fileno(u), fc = usocket_fileno(c);
    assert_int_equal(upy_config_trace(path("udp.jsonl")), 0);
    assert_int_equal(upy_config_trace_data(8), 0);
    usocket_addr peer = {"192.168.0.60", kport}, from;
    assert_int_equal(usocket_sendto(u, "ping", 4, &peer), 4);
    char buf[8];
    assert_true(tu_readable(k, WAIT_MS));
    assert_int_equal(recv(k, buf, sizeof buf, 0), 4);
    tu_udp_sendto(k, "pong!", 5, uport);
    assert_true(tu_usock_ready(u, POLLIN, WAIT_MS));
    assert_int_equal(usocket_recvfrom(u, buf, sizeof buf, &from), 5);
    assert_string_equal(from.ip, "192.168.0.60");
    assert_int_equal(from.port, kport);
    assert_int_equal(usocket_settimeout(u, 0), 0);
    assert_int_equal(usocket_recvfrom(u, buf, sizeof buf, &from), -1);
    assert_true(upy_exc_is_errno(UERRNO_EAGAIN));

    assert_int_equal(usocket_connect(c, &peer), 0);
    assert_int_equal(usocket_send(c, "abc", 3), 3);
    struct sockaddr_in src;
    socklen_t size = sizeof src;
    assert_true(tu_readable(k, WAIT_MS));
    assert_int_equal(recvfrom(k, buf, sizeof buf, 0, (struct sockaddr *)&src, &size), 3);
    tu_udp_sendto(k, "xyz", 3, ntohs(src.sin_port));
    assert_true(tu_usock_ready(c, POLLIN, WAIT_MS));
    assert_int_equal(usocket_recv(c, buf, sizeof buf), 3);
    assert_int_equal(upy_config_trace(""), 0);
    assert_int_equal(upy_config_trace_data(0), 0);
    assert_int_equal(upy_config_remap(""), 0);
    usocket_release(u);
    usocket_release(c);
    close(k);

    const char *trace = sh("cat %s", path("udp.jsonl"));
    char fields[200];
    snprintf(fields, sizeof fields, "\"len\":4,\"dev\":\"192.168.0.60:%d\",\"host\":\"127.0.0.6:%d\",\"result\":4,"
             "\"data\":\"ping\"}", kport, kport);
    assert_one_call(trace, "sendto", fu, fields);
    assert_int_equal(records(trace, "recvfrom", -2, ""), 2);
    snprintf(fields, sizeof fields, "\"len\":8,\"dev\":\"192.168.0.60:%d\",\"host\":\"127.0.0.6:%d\",\"result\":5,"
             "\"data\":\"pong!\"}", kport, kport);
    assert_int_equal(records(trace, "recvfrom", fu, fields), 1);
    assert_int_equal(records(trace, "recvfrom", fu, "\"len\":8,\"errno\":11,\"kernel_errno\":11,"
                                                    "\"kernel_error\":\"EAGAIN\"}"), 1);
    snprintf(fields, sizeof fields, "\"dev\":\"192.168.0.60:%d\",\"host\":\"127.0.0.6:%d\",\"result\":0}", kport,
             kport);
    assert_one_call(trace, "connect", fc, fields);
    assert_one_call(trace, "send", fc, "\"len\":3,\"result\":3,\"data\":\"abc\"}");
    assert_one_call(trace, "recv", fc, "\"len\":8,\"result\":3,\"data\":\"xyz\"}");
}

/* Every kind of getaddrinfo (a name a rule maps, "localhost", a dotted quad, a name the sandbox
 * does not resolve, a name an injected dnsfail fails): one `getaddrinfo` record each, beside the
 * virtual LAN's decision and, for a name (not a number), the seam's `resolve`, all saying the
 * same thing: the address it stands for, or EAI_FAIL (202) and no address at all. */
static void test_every_lookup_is_coherent(void **state)
{
    (void)state;
    assert_int_equal(upy_config_remap("broker.local:1883=127.0.0.7:2883, mqtt.local=127.0.0.8"), 0);
    assert_int_equal(upy_config_faults("dnsfail host=mqtt.local"), 0);
    assert_int_equal(upy_config_trace(path("resolve.jsonl")), 0);
    usocket_addrinfo ai;
    assert_int_equal(usocket_getaddrinfo("broker.local", 1883, &ai), 1);
    assert_string_equal(ai.sockaddr.ip, "127.0.0.7");
    assert_int_equal(ai.sockaddr.port, 2883);
    assert_int_equal(usocket_getaddrinfo("localhost", 80, &ai), 1);
    assert_int_equal(usocket_getaddrinfo("10.1.2.3", 8080, &ai), 1);
    assert_int_equal(usocket_getaddrinfo("example.com", 443, &ai), -1);
    assert_true(upy_exc_is_errno(UERRNO_EAI_FAIL));
    assert_int_equal(usocket_getaddrinfo("mqtt.local", 1883, &ai), -1);
    assert_true(upy_exc_is_errno(UERRNO_EAI_FAIL));
    assert_int_equal(upy_config_trace(""), 0);
    assert_int_equal(upy_config_faults(""), 0);
    assert_int_equal(upy_config_remap(""), 0);

    const char *trace = sh("cat %s", path("resolve.jsonl"));
    static const char *const expect[][2] = {
        {"resolve", "\"name\":\"broker.local\",\"ip\":\"127.0.0.7\",\"result\":0}"},
        {"vnet", "\"decision\":\"resolve\",\"dev\":\"broker.local\",\"host\":\"127.0.0.7:2883\"}"},
        {"getaddrinfo", "\"name\":\"broker.local\",\"port\":1883,\"ip\":\"127.0.0.7\",\"result\":1}"},
        {"resolve", "\"name\":\"localhost\",\"ip\":\"127.0.0.1\",\"result\":0}"},
        {"vnet", "\"decision\":\"resolve\",\"dev\":\"localhost\",\"host\":\"127.0.0.1:80\"}"},
        {"getaddrinfo", "\"name\":\"localhost\",\"port\":80,\"ip\":\"127.0.0.1\",\"result\":1}"},
        {"vnet", "\"decision\":\"resolve\",\"dev\":\"10.1.2.3\",\"host\":\"10.1.2.3:8080\"}"},
        {"getaddrinfo", "\"name\":\"10.1.2.3\",\"port\":8080,\"ip\":\"10.1.2.3\",\"result\":1}"},
        {"resolve", "\"name\":\"example.com\",\"errno\":202}"},
        {"vnet", "\"decision\":\"resolve_failed\",\"dev\":\"example.com\"}"},
        {"getaddrinfo", "\"name\":\"example.com\",\"port\":443,\"errno\":202}"},
        {"raise", "\"exc\":\"OSError\",\"code\":202}"},
        {"fault", "\"effect\":\"dnsfail\",\"rule\":1}"},
        {"resolve", "\"name\":\"mqtt.local\",\"errno\":202}"},
        {"vnet", "\"decision\":\"resolve_failed\",\"dev\":\"mqtt.local\"}"},
        {"getaddrinfo", "\"name\":\"mqtt.local\",\"port\":1883,\"errno\":202}"},
        {"raise", "\"exc\":\"OSError\",\"code\":202}"},
    };
    int n = (int)(sizeof expect / sizeof *expect);
    assert_int_equal(tu_count(trace, "\n"), n); /* these and nothing else, in this order */
    const char *at = trace;
    for (int i = 0; i < n; i++, at = strchr(at, '\n') + 1) {
        char call[48], line[1200];
        snprintf(call, sizeof call, "\"call\":\"%s\",", expect[i][0]);
        snprintf(line, sizeof line, "%.*s", (int)(strchr(at, '\n') - at), at);
        if (!strstr(line, call) || strstr(line, "\"fileno\":") ||
            strcmp(line + strlen(line) - strlen(expect[i][1]), expect[i][1]) != 0)
            fail_msg("record %d: %s, not %s %s", i, line, expect[i][0], expect[i][1]);
    }
}

/* The records of one socket (by fileno), their call names in order, comma-separated; with
 * calls_only, the calls' records and no seam event beneath them (wire_send, wire_recv, wait). */
static const char *calls_of(const char *trace, int fileno, bool calls_only)
{
    static char out[4096];
    char socket[64];
    snprintf(socket, sizeof socket, "\"fileno\":%d,", fileno);
    size_t len = 0;
    out[0] = '\0';
    for (const char *at = trace; *at; at = strchr(at, '\n') + 1) {
        const char *end = strchr(at, '\n'), *call = strstr(at, "\"call\":\""), *on = strstr(at, socket);
        if (!call || call > end || !on || on > end)
            continue;
        call += 8;
        int n = (int)(strchr(call, '"') - call);
        if (!calls_only || (strncmp(call, "wire_", 5) != 0 && strncmp(call, "wait\"", 5) != 0))
            len += (size_t)snprintf(out + len, sizeof out - len, "%s%.*s", len ? "," : "", n, call);
    }
    return out;
}

/* A TLS socket: each of the program's calls is one record named after it, in the bytes the
 * program got or gave, also when OpenSSL answers with no socket call (the rest of a record
 * already read, recv of 0 bytes, after close_notify, after a failure); the TLS records beneath
 * are wire_recv / wire_send, the seam's. */
static void test_tls_calls_are_the_programs(void **state)
{
    (void)state;
    static const char *const replies[] = {"hello", "world!", NULL};
    tu_tls_script sc = {.cert = tu_cert("server.pem"), .key = tu_cert("server.key"), .read_first = true,
                        .replies = replies, .end = TU_TLS_CLOSE_NOTIFY};
    assert_int_equal(upy_config_trace(path("tls.jsonl")), 0);
    assert_int_equal(upy_config_trace_data(8), 0);
    tu_tls_pair p;
    tu_tls_peer *peer = tu_tls_pair_connected(&p, &sc, NULL);
    int ft = usocket_fileno(p.ssl);
    char buf[16];
    assert_int_equal(usocket_send(p.ssl, "ping", 4), 4);
    assert_int_equal(usocket_settimeout(p.ssl, 5), 0);
    assert_int_equal(usocket_recv(p.ssl, buf, 2), 2);        /* "he": the record read, 3 bytes kept */
    assert_int_equal(usocket_recv(p.ssl, buf, sizeof buf), 3); /* "llo": from OpenSSL's buffer */
    assert_int_equal(usocket_recv(p.ssl, buf, 0), 0);
    assert_int_equal(usocket_recv(p.ssl, buf, sizeof buf), 6);
    assert_int_equal(usocket_recv(p.ssl, buf, sizeof buf), 0); /* close_notify */
    assert_int_equal(usocket_recv(p.ssl, buf, sizeof buf), 0); /* and again, from the state */
    tu_tls_report r;
    assert_true(tu_tls_peer_join(peer, &r, WAIT_MS));
    assert_int_equal(usocket_close(p.ssl), 0);
    assert_int_equal(usocket_close(p.ssl), 0);

    /* a reset: the failure, then the same failure from the socket's memory, then a send */
    assert_int_equal(upy_config_trace(path("tls-reset.jsonl")), 0);
    tu_tls_pair q;
    sc.read_first = false, sc.replies = NULL, sc.end = TU_TLS_RST;
    peer = tu_tls_pair_connected(&q, &sc, NULL);
    int fq = usocket_fileno(q.ssl);
    assert_true(tu_tls_peer_join(peer, NULL, WAIT_MS));
    assert_int_equal(usocket_recv(q.ssl, buf, sizeof buf), -1);
    assert_true(upy_exc_is_errno(-80));
    assert_int_equal(usocket_recv(q.ssl, buf, sizeof buf), -1);
    assert_true(upy_exc_is_errno(-80));
    assert_int_equal(usocket_send(q.ssl, "abc", 3), -1);
    assert_true(upy_exc_is_errno(UERRNO_ECONNRESET));
    assert_int_equal(upy_config_trace(""), 0);
    assert_int_equal(upy_config_trace_data(0), 0);
    tu_tls_pair_release(&p);
    tu_tls_pair_release(&q);

    const char *trace = sh("cat %s", path("tls.jsonl"));
    assert_string_equal(calls_of(trace, ft, true), "socket,wrap_socket,connect,tls_handshake,fileno,send,settimeout,"
                                                   "recv,recv,recv,recv,recv,recv,close,close");
    /* no socket call for the rest of a record read already, for 0 bytes, nor after close_notify;
     * close sends its own close_notify */
    assert_non_null(strstr(calls_of(trace, ft, false), ",recv,recv,recv,"));
    assert_non_null(strstr(calls_of(trace, ft, false), ",recv,recv,wire_send,close,close"));
    static const char *const reads[] = {
        "\"len\":2,\"result\":2,\"data\":\"he\"}", "\"len\":16,\"result\":3,\"data\":\"llo\"}",
        "\"len\":0,\"result\":0}", "\"len\":16,\"result\":6,\"data\":\"world!\"}", "\"len\":16,\"result\":0}",
    };
    for (int i = 0; i < 5; i++)
        assert_int_equal(records(trace, "recv", ft, reads[i]), i == 4 ? 2 : 1);
    assert_one_call(trace, "send", ft, "\"len\":4,\"result\":4,\"data\":\"ping\"}");
    assert_one_call(trace, "settimeout", ft, "\"timeout_ms\":5000,\"result\":0}");
    /* the wire records are the TLS records' bytes: a record header first */
    /* the wire records are the TLS records' bytes, each header read first: two of application
     * data (23), the close_notify alert (21) */
    const char *header = "\"len\":5,\"result\":5,\"data\":\"\\u00%s\\u0003\\u0003\\u0000";
    char data_header[80], alert_header[80];
    snprintf(data_header, sizeof data_header, header, "17");
    snprintf(alert_header, sizeof alert_header, header, "15");
    assert_int_equal(records(trace, "wire_recv", ft, data_header), 2);
    assert_int_equal(records(trace, "wire_recv", ft, alert_header), 1);

    trace = sh("cat %s", path("tls-reset.jsonl"));
    const char *calls = calls_of(trace, fq, false);
    const char *tail = ",tls_handshake,fileno,wire_recv,recv,recv,wire_send,send";
    assert_string_equal(calls + strlen(calls) - strlen(tail), tail);
    assert_int_equal(records(trace, "wire_recv", fq, "\"len\":5,\"errno\":104,\"kernel_errno\":104,"
                                                     "\"kernel_error\":\"ECONNRESET\"}"), 1);
    assert_int_equal(records(trace, "recv", fq, "\"len\":16,\"errno\":-80}"), 2);
    assert_one_call(trace, "send", fq, "\"len\":3,\"errno\":104}");
}

/* A TLS socket's close leaves the program's exception as it was without raising it again:
 * no raise record after a clean close, and only the failure's own after a reset. */
static void test_tls_close_raises_nothing(void **state)
{
    (void)state;
    tu_tls_script sc = {.cert = tu_cert("server.pem"), .key = tu_cert("server.key"), .end = TU_TLS_CLOSE_NOTIFY};
    char buf[16];
    assert_int_equal(upy_config_trace(path("tls-close.jsonl")), 0);
    tu_tls_pair p;
    tu_tls_peer *peer = tu_tls_pair_connected(&p, &sc, NULL);
    assert_int_equal(usocket_recv(p.ssl, buf, sizeof buf), 0);
    assert_true(tu_tls_peer_join(peer, NULL, WAIT_MS));
    assert_int_equal(usocket_close(p.ssl), 0);
    assert_int_equal(upy_config_trace(path("tls-close-reset.jsonl")), 0);
    tu_tls_pair q;
    sc.end = TU_TLS_RST;
    peer = tu_tls_pair_connected(&q, &sc, NULL);
    assert_true(tu_tls_peer_join(peer, NULL, WAIT_MS));
    assert_int_equal(usocket_recv(q.ssl, buf, sizeof buf), -1);
    assert_true(upy_exc_is_errno(-80));
    assert_int_equal(usocket_close(q.ssl), 0);
    assert_true(upy_exc_is_errno(-80)); /* the program's exception, kept */
    assert_int_equal(upy_config_trace(""), 0);
    tu_tls_pair_release(&p);
    tu_tls_pair_release(&q);

    const char *trace = sh("cat %s", path("tls-close.jsonl"));
    assert_null(strstr(trace, "\"call\":\"raise\""));
    assert_int_equal(tu_count(trace, "\"call\":\"close\""), 1);
    trace = sh("cat %s", path("tls-close-reset.jsonl"));
    assert_int_equal(tu_count(trace, "\"call\":\"raise\""), 1);
    assert_int_equal(tu_count(trace, "\"call\":\"raise\",\"exc\":\"OSError\",\"code\":-80}"), 1);
}

/* The trace replaced again and again while another thread writes records: every record is in
 * exactly one of the files, whole, and none went to a descriptor the library had closed (each
 * replacement is followed at once by an open that would reuse its number). */
enum { SWITCHES = 40, RECORDS_MAX = 200000 };

struct switch_writer {
    usocket *s;
    atomic_int written;
    atomic_bool stop;
};

static void *write_records(void *arg)
{
    struct switch_writer *w = arg;
    while (!atomic_load(&w->stop) && atomic_load(&w->written) < RECORDS_MAX) {
        assert_true(usocket_fileno(w->s) >= 0); /* one record, no kernel call */
        atomic_fetch_add(&w->written, 1);
    }
    return NULL;
}

static void test_trace_replaced_while_written(void **state)
{
    (void)state;
    struct switch_writer w = {.s = tu_tcp()};
    char name[64];
    int probes[SWITCHES];
    assert_int_equal(upy_config_trace(path("switch-0.jsonl")), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, write_records, &w), 0);
    while (atomic_load(&w.written) == 0) /* bounded by the test's timeout */
        sched_yield();
    for (int i = 1; i < SWITCHES; i++) {
        snprintf(name, sizeof name, "switch-%d.jsonl", i);
        assert_int_equal(upy_config_trace(path(name)), 0);
        snprintf(name, sizeof name, "probe-%d", i);
        probes[i - 1] = open(path(name), O_RDWR | O_CREAT | O_TRUNC, 0600);
        assert_true(probes[i - 1] >= 0);
    }
    atomic_store(&w.stop, true);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(upy_config_trace(""), 0);
    probes[SWITCHES - 1] = open(path("probe-last"), O_RDWR | O_CREAT | O_TRUNC, 0600);
    usocket_release(w.s);

    struct stat st;
    for (int i = 0; i < SWITCHES; i++) {
        assert_int_equal(fstat(probes[i], &st), 0);
        assert_int_equal(st.st_size, 0);
        close(probes[i]);
    }
    int lines = 0, written = atomic_load(&w.written);
    char line[1200];
    for (int i = 0; i < SWITCHES; i++) {
        snprintf(name, sizeof name, "switch-%d.jsonl", i);
        FILE *f = fopen(path(name), "r");
        assert_non_null(f);
        for (; fgets(line, sizeof line, f); lines++) {
            assert_memory_equal(line, "{\"t\":", 5);
            assert_non_null(strstr(line, "\"call\":\"fileno\","));
            assert_string_equal(line + strlen(line) - 2, "}\n");
        }
        fclose(f);
    }
    assert_int_equal(lines, written);
    fprintf(stderr, "%d records over %d files\n", lines, SWITCHES);
}

/* A trace that cannot be written (a full disk) stops with one message; the program runs on. */
static void test_full_disk_ends_the_trace(void **state)
{
    (void)state;
    tu_proc server, client;
    int port = start_server(&server, "tutorial_server", NULL);
    char remap[80];
    snprintf(remap, sizeof remap, "UPYSOCK_REMAP=*:6543=127.0.0.1:%d", port);
    char *argv[] = {(char *)tu_example("tutorial_client"), NULL};
    char *env[] = {remap, "UPYSOCK_TRACE=/dev/full", NULL};
    assert_int_equal(tu_run(&client, argv, env, WAIT_MS), 0);
    stop(&server);
    assert_int_equal(tu_count(client.out, "upysock: trace stopped: No space left on device\n"), 1);
    assert_int_equal(tu_count(client.out, "Data received: "), 2);
}

/* A trace, pcap and key log on a pipe whose reader is gone (`fd:3 | head -1` once head exits)
 * stop with one message each, as on a full disk; SIGPIPE does not end the program. */
static void test_a_closed_pipe_ends_the_outputs(void **state)
{
    (void)state;
    tu_proc server, client;
    int port = start_server(&server, "tls_server", NULL);
    int p[2];
    assert_int_equal(pipe(p), 0); /* inherited by the client */
    close(p[0]);
    char remap[80], trace[32], pcap[48], keylog[48];
    snprintf(remap, sizeof remap, "UPYSOCK_REMAP=192.168.0.234:6543=127.0.0.1:%d", port);
    snprintf(trace, sizeof trace, "UPYSOCK_TRACE=fd:%d", p[1]);
    snprintf(pcap, sizeof pcap, "UPYSOCK_PCAP=/dev/fd/%d", p[1]);
    snprintf(keylog, sizeof keylog, "UPYSOCK_KEYLOG=/dev/fd/%d", p[1]);
    char *argv[] = {(char *)tu_example("tutorial_ssl_client"), NULL};
    char *env[] = {remap, trace, pcap, keylog, "UPYSOCK_FLASH=" FLASH, NULL};
    int status = tu_run(&client, argv, env, WAIT_MS);
    close(p[1]);
    stop(&server);
    assert_int_equal(status, 0);
    assert_int_equal(tu_count(client.out, "upysock: trace stopped: Broken pipe\n"), 1);
    assert_int_equal(tu_count(client.out, "upysock: pcap stopped: Broken pipe\n"), 1);
    assert_int_equal(tu_count(client.out, "upysock: keylog stopped: Broken pipe\n"), 1);
    assert_int_equal(tu_count(client.out, "stopped"), 3);
}

/* Two sockets of this process talk through `listener` (then released): the client connects to
 * dev_ip:port, sends "ping", the server answers "pong!", the client closes first. */
static void ping_pong_here(usocket *listener, const char *dev_ip, int port)
{
    usocket *c = tu_tcp();
    usocket_addr to = {.port = port};
    snprintf(to.ip, sizeof to.ip, "%s", dev_ip);
    assert_int_equal(usocket_connect(c, &to), 0);
    usocket *a = usocket_accept(listener, NULL);
    assert_non_null(a);
    assert_int_equal(usocket_send(c, "ping", 4), 4);
    char buf[8];
    assert_int_equal(usocket_recv(a, buf, sizeof buf), 4);
    assert_int_equal(usocket_send(a, "pong!", 5), 5);
    assert_int_equal(usocket_recv(c, buf, sizeof buf), 5);
    usocket_release(c);
    assert_int_equal(usocket_recv(a, buf, sizeof buf), 0);
    usocket_release(a);
    usocket_release(listener);
}

/* Both ends in this process: each segment and datagram is written once, in the connecting
 * end's view. */
static void test_both_ends_here_written_once(void **state)
{
    (void)state;
    need_tshark();
    assert_int_equal(upy_config_pcap(path("here.pcap")), 0);
    int port;
    usocket *listener = tu_usock_listener(2, &port);
    ping_pong_here(listener, "192.168.0.10", port);

    usocket *u1 = tu_udp(), *u2 = tu_udp();
    usocket_addr any = {"", 0};
    assert_int_equal(usocket_bind(u2, &any), 0);
    usocket_addr u2_at = {"192.168.0.20", tu_usock_port(u2)};
    assert_int_equal(usocket_sendto(u1, "datagram", 8, &u2_at), 8);
    usocket_addr from;
    char buf[8];
    assert_int_equal(usocket_recvfrom(u2, buf, sizeof buf, &from), 8);
    usocket_release(u1);
    usocket_release(u2);
    assert_int_equal(upy_config_pcap(""), 0);

    assert_clean_pcap(path("here.pcap"));
    char conv_line[80];
    snprintf(conv_line, sizeof conv_line, "<-> 192.168.0.10:%d ", port);
    const char *conv = sh("tshark -r %s -q -z conv,tcp", path("here.pcap"));
    assert_int_equal(tu_count(conv, conv_line), 1);
    /* 3 handshake, 2 data, FIN + ACK each way */
    assert_string_equal(sh("tshark -r %s -Y tcp | wc -l", path("here.pcap")), "9\n");
    const char *follow = sh("tshark -r %s -q -z follow,tcp,ascii,0", path("here.pcap"));
    assert_int_equal(tu_count(follow, "ping"), 1);
    assert_int_equal(tu_count(follow, "pong!"), 1);
    const char *udp = sh("tshark -r %s -Y udp -T fields -e ip.src -e ip.dst -e udp.dstport -e data.data",
                         path("here.pcap"));
    char expect[96];
    snprintf(expect, sizeof expect, "192.168.0.249\t192.168.0.20\t%d\t646174616772616d\n", u2_at.port);
    assert_string_equal(udp, expect);
}

/* Datagrams in the pcap, each once and under the addresses the program knows: a source that
 * never heard from us under the address the rules map it back to (as recvfrom would return
 * it), also for a plain recv; a connected UDP socket's connect writes nothing (UDP has no
 * handshake) and its send to a socket of ours is written once, by the sender. */
static void test_datagrams_in_the_pcap(void **state)
{
    (void)state;
    need_tshark();
    assert_int_equal(upy_config_remap("192.168.0.60=127.0.0.6"), 0);
    assert_int_equal(upy_config_pcap(path("udp.pcap")), 0);
    int kport, uport;
    int k = udp_at(6, &kport);
    usocket *u = tu_usock_udp(&uport), *c = tu_udp();
    char buf[8];
    tu_udp_sendto(k, "hello", 5, uport);
    assert_true(tu_usock_ready(u, POLLIN, WAIT_MS));
    assert_int_equal(usocket_recv(u, buf, sizeof buf), 5);
    usocket_addr u_at = {"192.168.0.20", uport};
    assert_int_equal(usocket_connect(c, &u_at), 0);
    assert_int_equal(usocket_send(c, "conn", 4), 4);
    assert_true(tu_usock_ready(u, POLLIN, WAIT_MS));
    assert_int_equal(usocket_recv(u, buf, sizeof buf), 4);
    int cport = tu_usock_port(c);
    usocket_release(c);
    usocket_release(u);
    close(k);
    assert_int_equal(upy_config_pcap(""), 0);
    assert_int_equal(upy_config_remap(""), 0);

    assert_clean_pcap(path("udp.pcap"));
    assert_string_equal(sh("tshark -r %s -Y tcp | wc -l", path("udp.pcap")), "0\n");
    char expect[200];
    snprintf(expect, sizeof expect, "192.168.0.60\t%d\t%d\t68656c6c6f\n192.168.0.249\t%d\t%d\t636f6e6e\n",
             kport, uport, cport, uport);
    assert_string_equal(sh("tshark -r %s -T fields -e ip.src -e udp.srcport -e udp.dstport -e data.data",
                           path("udp.pcap")), expect);
    assert_string_equal(sh("tshark -r %s -T fields -e ip.dst | tail -1", path("udp.pcap")), "192.168.0.20\n");
}

/* A Wi-Fi drop (linkdown) under a conversation of two sockets here: after the data before it,
 * nothing more. lwIP's tcp_abort cannot send its RST through a netif that is down, and the
 * kernel's FIN (the fault module shuts the sockets) and the closes are not the board's. */
static void test_a_link_drop_writes_nothing_more(void **state)
{
    (void)state;
    need_tshark();
    int port;
    usocket *listener = tu_usock_listener(2, &port);
    assert_int_equal(upy_config_pcap(path("drop.pcap")), 0);
    usocket *c = tu_tcp();
    usocket_addr to = {"192.168.0.41", port};
    assert_int_equal(usocket_connect(c, &to), 0);
    usocket_addr from;
    usocket *a = usocket_accept(listener, &from);
    assert_non_null(a);
    assert_int_equal(usocket_send(c, "before", 6), 6);
    char buf[8];
    assert_int_equal(usocket_recv(a, buf, sizeof buf), 6);
    assert_int_equal(upy_config_faults("linkdown at=0s for=3600s"), 0);
    assert_int_equal(usocket_recv(c, buf, sizeof buf), -1);
    assert_true(upy_exc_is_errno(UERRNO_ECONNABORTED));
    assert_int_equal(usocket_send(a, "after", 5), -1);
    assert_true(upy_exc_is_errno(UERRNO_ECONNABORTED));
    usocket_release(c);
    usocket_release(a);
    usocket_release(listener);
    assert_int_equal(upy_config_faults(""), 0);
    assert_int_equal(upy_config_pcap(""), 0);

    assert_clean_pcap(path("drop.pcap"));
    /* SYN, SYN-ACK, ACK, the data: no FIN, no RST, nothing after */
    assert_string_equal(sh("tshark -r %s -Y tcp | wc -l", path("drop.pcap")), "4\n");
    assert_string_equal(sh("tshark -r %s -Y \"tcp.flags.fin == 1 || tcp.flags.reset == 1\" | wc -l",
                           path("drop.pcap")), "0\n");
    assert_string_equal(sh("tshark -r %s -Y \"tcp.len > 0\" -T fields -e tcp.payload", path("drop.pcap")),
                        "6265666f7265\n");
}

/* A TLS socket's connect whose handshake fails: the seam's record of the TCP connect (0), then
 * the call's own connect record with the mbedTLS code it raises (-80: the peer reset it in the
 * handshake), then the raise; the last record before the raise says what the call did. */
static void test_a_failed_tls_connect_records_its_code(void **state)
{
    (void)state;
    tu_tls_script sc = {.start = TU_TLS_RAW_RST};
    int port;
    tu_tls_peer *peer = tu_tls_peer_start(&sc, &port);
    assert_int_equal(upy_config_trace(path("tlsfail.jsonl")), 0);
    tu_tls_pair p;
    assert_int_equal(tu_tls_pair_connect(&p, port, NULL), -1);
    assert_true(upy_exc_is_errno(-80));
    int fd = usocket_fileno(p.ssl);
    assert_int_equal(upy_config_trace(""), 0);
    assert_true(tu_tls_peer_join(peer, NULL, WAIT_MS));
    tu_tls_pair_release(&p);

    const char *trace = sh("cat %s", path("tlsfail.jsonl"));
    assert_int_equal(records(trace, "connect", -2, ""), 2);
    char fields[120];
    snprintf(fields, sizeof fields, "\"dev\":\"127.0.0.1:%d\",\"host\":\"127.0.0.1:%d\",\"errno\":-80}", port,
             port);
    assert_int_equal(records(trace, "connect", fd, fields), 1);
    const char *failed = strstr(trace, fields), *raised = strstr(trace, "\"call\":\"raise\"");
    assert_true(failed && raised && failed < raised);
}

/* An injected FIN (fault `fin`) between two sockets here is the peer's FIN in the pcap, written
 * when the program reads the end; the peer's own close later adds nothing. */
static void test_an_injected_fin_here_is_a_fin(void **state)
{
    (void)state;
    need_tshark();
    int port;
    usocket *listener = tu_usock_listener(2, &port);
    char rule[48];
    snprintf(rule, sizeof rule, "fin *:%d after=4", port);
    assert_int_equal(upy_config_faults(rule), 0);
    assert_int_equal(upy_config_pcap(path("fin.pcap")), 0);
    usocket *c = tu_tcp();
    usocket_addr to = {"192.168.0.42", port}, from;
    assert_int_equal(usocket_connect(c, &to), 0);
    usocket *a = usocket_accept(listener, &from);
    assert_non_null(a);
    assert_int_equal(usocket_send(a, "abcd", 4), 4);
    char buf[8];
    assert_true(tu_usock_ready(c, POLLIN, WAIT_MS));
    assert_int_equal(usocket_recv(c, buf, sizeof buf), 4);
    assert_int_equal(usocket_recv(c, buf, sizeof buf), 0);
    usocket_release(c);
    usocket_release(a);
    usocket_release(listener);
    assert_int_equal(upy_config_pcap(""), 0);
    assert_int_equal(upy_config_faults(""), 0);

    assert_clean_pcap(path("fin.pcap"));
    /* the peer's first (the one injected), then the board's at close */
    assert_string_equal(sh("tshark -r %s -Y \"tcp.flags.fin == 1\" -T fields -e ip.src", path("fin.pcap")),
                        "192.168.0.42\n192.168.0.249\n");
    /* 3 handshake, the data, FIN + ACK each way */
    assert_string_equal(sh("tshark -r %s -Y tcp | wc -l", path("fin.pcap")), "8\n");
}

/* A delayed connection (fault injection's delay line, docs/faults.md) between two sockets of this
 * process is one conversation too, whichever end is delayed: the real connection leaves from the
 * client socket's own port, and a delayed accepted socket is known by the real connection's
 * address. nth=1: the client's end only; nth=2: the server's; no nth: both. */
static void test_a_delayed_conversation_here_is_written_once(void **state)
{
    (void)state;
    need_tshark();
    const char *const which[] = {" nth=1", " nth=2", ""};
    for (int i = 0; i < 3; i++) {
        int port;
        usocket *listener = tu_usock_listener(2, &port);
        char rules[64], file[32], dev_ip[16];
        snprintf(rules, sizeof rules, "delay *:%d delay=20ms%s", port, which[i]);
        snprintf(file, sizeof file, "delayed%d.pcap", i);
        snprintf(dev_ip, sizeof dev_ip, "192.168.0.%d", 12 + i);
        assert_int_equal(upy_config_faults(rules), 0);
        assert_int_equal(upy_config_pcap(path(file)), 0);
        ping_pong_here(listener, dev_ip, port);
        assert_int_equal(upy_config_pcap(""), 0);
        assert_int_equal(upy_config_faults(""), 0);

        assert_clean_pcap(path(file));
        const char *conv = sh("tshark -r %s -q -z conv,tcp", path(file));
        assert_int_equal(tu_count(conv, "<->"), 1);
        char conv_line[80];
        snprintf(conv_line, sizeof conv_line, "<-> %s:%d ", dev_ip, port);
        assert_int_equal(tu_count(conv, conv_line), 1);
        /* 3 handshake, 2 data, FIN + ACK each way: each once */
        assert_string_equal(sh("tshark -r %s -Y tcp | wc -l", path(file)), "9\n");
        /* the rule chose the end it names: ping and pong each crossed one delayed end (both: two) */
        double took = strtod(sh("tshark -r %s -T fields -e frame.time_relative | tail -1", path(file)), NULL);
        assert_true(took >= (i == 2 ? 0.08 : 0.04));
    }
}

/* refuse and hang send the connect to the fault module's own helper sockets (a refusing port, a
 * full listener): none of them is in the pcap or the trace, which show the device's connect
 * only: SYN then RST from the address named (refuse), a SYN alone (hang). */
static void test_the_fault_modules_sockets_not_shown(void **state)
{
    (void)state;
    need_tshark();
    const char *const rules[] = {"refuse 192.168.0.41:7000", "hang 192.168.0.42:7000"};
    const char *const names[] = {"refuse", "hang"};
    for (int i = 0; i < 2; i++) {
        char file[40];
        snprintf(file, sizeof file, "%s.pcap", names[i]);
        assert_int_equal(upy_config_pcap(path(file)), 0);
        snprintf(file, sizeof file, "%s.jsonl", names[i]);
        assert_int_equal(upy_config_trace(path(file)), 0);
        assert_int_equal(upy_config_faults(rules[i]), 0);
        usocket *c = tu_tcp();
        usocket_addr to = {.port = 7000};
        snprintf(to.ip, sizeof to.ip, "192.168.0.%d", 41 + i);
        if (i == 1)
            assert_int_equal(usocket_setblocking(c, false), 0);
        assert_int_equal(usocket_connect(c, &to), -1);
        assert_true(upy_exc_is_errno(i == 0 ? UERRNO_ECONNRESET : UERRNO_EINPROGRESS));
        assert_int_equal(usocket_close(c), 0);
        usocket_release(c);
        assert_int_equal(upy_config_faults(""), 0);
        assert_int_equal(upy_config_trace(""), 0);
        assert_int_equal(upy_config_pcap(""), 0);
    }
    const char *fields = "-T fields -e ip.src -e tcp.srcport -e ip.dst -e tcp.dstport";
    const char *shown = sh("tshark -r %s %s", path("refuse.pcap"), fields);
    assert_int_equal(tu_count(shown, "\t192.168.0.41\t7000\n"), 1);
    assert_int_equal(tu_count(shown, "\n"), 2);
    assert_int_equal(tu_count(shown, "192.168.0.249\t"), 2);
    assert_int_equal(tu_count(shown, "192.168.0.41\t7000\t192.168.0.249\t"), 1);
    assert_string_equal(sh("tshark -r %s -Y \"tcp.flags.syn == 1 && tcp.flags.ack == 0\" | wc -l",
                           path("refuse.pcap")), "1\n");
    assert_string_equal(sh("tshark -r %s -Y \"ip.src == 192.168.0.41 && tcp.flags.reset == 1\" | wc -l",
                           path("refuse.pcap")), "1\n");
    shown = sh("tshark -r %s %s", path("hang.pcap"), fields);
    assert_int_equal(tu_count(shown, "\n"), 1);
    assert_int_equal(tu_count(shown, "\t192.168.0.42\t7000\n"), 1);
    assert_string_equal(sh("tshark -r %s -Y \"ip.src == 192.168.0.249 && ip.dst == 192.168.0.42 && "
                           "tcp.dstport == 7000 && tcp.flags.syn == 1 && tcp.flags.ack == 0\" | wc -l",
                           path("hang.pcap")), "1\n");
    for (int i = 0; i < 2; i++) {
        const char *trace = sh("cat %s/%s.jsonl", dir, names[i]);
        assert_null(strstr(trace, "\"fileno\":0,"));
        assert_int_equal(tu_count(trace, "\"call\":\"connect\""), 1);
    }
}

/* The fault module's reset rule cuts the connection at its first recv: the trace has the rule's
 * record, on the socket, then the recv's device errno; the pcap has the RST from the peer. */
static void test_an_injected_reset_is_an_rst(void **state)
{
    (void)state;
    need_tshark();
    int port, listener = tu_listener(&port);
    char rule[64];
    snprintf(rule, sizeof rule, "reset 192.168.0.40:%d", port);
    assert_int_equal(upy_config_pcap(path("fault.pcap")), 0);
    assert_int_equal(upy_config_trace(path("fault.jsonl")), 0);
    assert_int_equal(upy_config_faults(rule), 0);
    usocket *c = tu_tcp();
    usocket_addr to = {"192.168.0.40", port};
    assert_int_equal(usocket_connect(c, &to), 0);
    int peer = tu_accept(listener, WAIT_MS);
    assert_true(peer >= 0);
    char buf[8];
    assert_int_equal(usocket_recv(c, buf, sizeof buf), -1);
    assert_true(upy_exc_is_errno(UERRNO_ECONNRESET));
    int fd = usocket_fileno(c);
    assert_int_equal(upy_config_faults(""), 0);
    assert_int_equal(upy_config_trace(""), 0);
    assert_int_equal(upy_config_pcap(""), 0);
    usocket_release(c);
    close(peer);
    close(listener);

    assert_clean_pcap(path("fault.pcap"));
    char rst[120];
    snprintf(rst, sizeof rst, "192.168.0.40\t%d\n", port);
    assert_string_equal(sh("tshark -r %s -Y \"tcp.flags.reset == 1\" -T fields -e ip.src -e tcp.srcport",
                           path("fault.pcap")), rst);
    const char *trace = sh("cat %s", path("fault.jsonl"));
    assert_int_equal(tu_count(trace, "\"call\":\"fault\""), 1);
    assert_int_equal(records(trace, "fault", fd, "\"effect\":\"reset\",\"rule\":1}"), 1);
    /* the module resets the kernel socket (docs/faults.md): the kernel's errno is there too */
    assert_int_equal(records(trace, "recv", fd, "\"len\":8,\"errno\":104,\"kernel_errno\":104,"
                                                "\"kernel_error\":\"ECONNRESET\"}"), 1);
    assert_true(strstr(trace, "\"call\":\"fault\"") < strstr(trace, "\"call\":\"recv\""));
}

/* A send longer than the board's MSS is cut as its lwIP would cut it: 1436-byte segments. */
static void test_segments_cut_at_the_boards_mss(void **state)
{
    (void)state;
    need_tshark();
    int port, listener = tu_listener(&port);
    assert_int_equal(upy_config_pcap(path("mss.pcap")), 0);
    usocket *c = tu_tcp();
    usocket_addr to = {"192.168.0.41", port};
    assert_int_equal(usocket_connect(c, &to), 0);
    int peer = tu_accept(listener, WAIT_MS);
    assert_true(peer >= 0);
    static char big[3000];
    assert_int_equal(usocket_send(c, big, sizeof big), (int)sizeof big);
    char got[3000];
    assert_int_equal(tu_read_exact(peer, got, sizeof got, WAIT_MS), (int)sizeof got);
    assert_int_equal(upy_config_pcap(""), 0);
    usocket_release(c);
    close(peer);
    close(listener);
    assert_string_equal(sh("tshark -r %s -Y \"tcp.len > 0\" -T fields -e tcp.len", path("mss.pcap")),
                        "1436\n1436\n128\n");
}

/* Four threads sending at once: every line whole (one write(2) each), payload bytes escaped. */
enum { SENDERS = 4, SENDS = 250 };

static pid_t sender_tids[SENDERS];
static atomic_int senders_started;

static void *send_many(void *arg)
{
    usocket_addr *to = arg;
    sender_tids[atomic_fetch_add(&senders_started, 1)] = gettid();
    usocket *u = tu_udp();
    static const char payload[] = "q\"\\\x00\xff";
    for (int i = 0; i < SENDS; i++)
        assert_int_equal(usocket_sendto(u, payload, sizeof payload - 1, to), (int)sizeof payload - 1);
    usocket_release(u);
    return NULL;
}

static void test_trace_lines_whole_under_threads(void **state)
{
    (void)state;
    assert_int_equal(upy_config_trace(path("threads.jsonl")), 0);
    assert_int_equal(upy_config_trace_data(8), 0);
    int port, sink = tu_udp_peer(&port);
    usocket_addr to = {"192.168.0.30", port};
    pthread_t t[SENDERS];
    for (int i = 0; i < SENDERS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, send_many, &to), 0);
    for (int i = 0; i < SENDERS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(upy_config_trace(""), 0);
    assert_int_equal(upy_config_trace_data(0), 0);
    close(sink);

    FILE *f = fopen(path("threads.jsonl"), "r");
    assert_non_null(f);
    char line[1200];
    int sends = 0, per_thread[SENDERS] = {0};
    unsigned long long last_t[SENDERS] = {0};
    char expect[200];
    snprintf(expect, sizeof expect, "\"len\":5,\"dev\":\"192.168.0.30:%d\",\"host\":\"127.0.0.1:%d\","
             "\"result\":5,\"data\":\"q\\\"\\\\\\u0000\\u00ff\"}\n", port, port);
    while (fgets(line, sizeof line, f)) {
        assert_memory_equal(line, "{\"t\":", 5);
        assert_string_equal(line + strlen(line) - 2, "}\n");
        if (strstr(line, "\"call\":\"sendto\"")) {
            assert_non_null(strstr(line, expect));
            sends++;
            /* the sender's kernel thread id; its records' t never goes back */
            unsigned long long at, thread;
            assert_int_equal(sscanf(line, "{\"t\":%llu,\"thread\":%llu,", &at, &thread), 2);
            int i = 0;
            while (i < SENDERS && (unsigned long long)sender_tids[i] != thread)
                i++;
            assert_true(i < SENDERS);
            assert_true(at >= last_t[i]);
            last_t[i] = at;
            per_thread[i]++;
        }
    }
    fclose(f);
    assert_int_equal(sends, SENDERS * SENDS);
    for (int i = 0; i < SENDERS; i++)
        assert_int_equal(per_thread[i], SENDS); /* four threads, four different ids */
}

/* A record holds what the docs promise: 4096 payload bytes (escaped, not cut), a name in UTF-8
 * as it was given, and a link drop's fault records (the window's, and one per connection it
 * aborts, with the socket). Read back with jq, which fails on a line that is not JSON. */
static void test_trace_holds_4096_bytes_utf8_names_and_link_drops(void **state)
{
    (void)state;
    if (!have("jq"))
        skip();
    int kport, k = tu_udp_peer(&kport), peer;
    usocket *u = tu_udp(), *c = tu_usock_connected(&peer);
    assert_int_equal(upy_config_trace(path("big.jsonl")), 0);
    assert_int_equal(upy_config_trace_data(4096), 0);
    static char big[4000];
    memset(big, '\x01', sizeof big);
    usocket_addr to = tu_loopback(kport);
    assert_int_equal(usocket_sendto(u, big, sizeof big, &to), (ssize_t)sizeof big);
    usocket_addrinfo ai;
    assert_int_equal(usocket_getaddrinfo("caf\xc3\xa9.example", 80, &ai), -1);
    assert_int_equal(upy_config_faults("linkdown at=0s for=3600s"), 0);
    char b[4];
    assert_int_equal(usocket_recv(c, b, sizeof b), -1);
    assert_true(upy_exc_is_errno(UERRNO_ECONNABORTED));
    assert_int_equal(upy_config_faults(""), 0);
    assert_int_equal(upy_config_trace(""), 0);
    assert_int_equal(upy_config_trace_data(0), 0);

    const char *f = path("big.jsonl");
    assert_string_equal(sh("jq -r \"select(.call==\\\"sendto\\\") | [(.data | length), (.cut // false)] | @tsv\" %s", f),
                        "4000\tfalse\n");
    assert_string_equal(sh("jq -r \"select(.call==\\\"getaddrinfo\\\") | .name\" %s", f), "caf\xc3\xa9.example\n");
    char expect[64];
    snprintf(expect, sizeof expect, "none\t1\n%d\t1\n", usocket_fileno(c));
    assert_string_equal(sh("jq -r \"select(.call==\\\"fault\\\") | [(.fileno // \\\"none\\\"), .rule] | @tsv\" %s", f),
                        expect);
    usocket_release(u);
    usocket_release(c);
    close(k);
    close(peer);
}

static int setup(void **state)
{
    (void)state;
    tu_clear_upysock_env();
    unsetenv("SSLKEYLOGFILE");
    snprintf(dir, sizeof dir, "%s/observe-XXXXXX", UPYSOCK_TEST_BIN_DIR);
    assert_non_null(mkdtemp(dir));
    snprintf(out_path, sizeof out_path, "%s/sh.out", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_tutorials_1_and_2_in_tshark, stop_left_server),
        cmocka_unit_test_teardown(test_reset_is_an_rst, stop_left_server),
        cmocka_unit_test_teardown(test_refused_connect_is_syn_then_rst, stop_left_server),
        cmocka_unit_test_teardown(test_tutorial_3_decrypted_with_the_key_log, stop_left_server),
        cmocka_unit_test_teardown(test_trace_fields, stop_left_server),
        cmocka_unit_test_teardown(test_full_disk_ends_the_trace, stop_left_server),
        cmocka_unit_test_teardown(test_a_closed_pipe_ends_the_outputs, stop_left_server),
        cmocka_unit_test_teardown(test_both_ends_here_written_once, stop_left_server),
        cmocka_unit_test_teardown(test_a_delayed_conversation_here_is_written_once, stop_left_server),
        cmocka_unit_test_teardown(test_trace_lines_whole_under_threads, stop_left_server),
        cmocka_unit_test_teardown(test_segments_cut_at_the_boards_mss, stop_left_server),
        cmocka_unit_test_teardown(test_an_injected_reset_is_an_rst, stop_left_server),
        cmocka_unit_test_teardown(test_the_fault_modules_sockets_not_shown, stop_left_server),
        cmocka_unit_test_teardown(test_every_call_is_one_record, stop_left_server),
        cmocka_unit_test_teardown(test_accept_shows_the_device_peer, stop_left_server),
        cmocka_unit_test_teardown(test_datagrams_show_device_and_host_addresses, stop_left_server),
        cmocka_unit_test_teardown(test_every_lookup_is_coherent, stop_left_server),
        cmocka_unit_test_teardown(test_tls_calls_are_the_programs, stop_left_server),
        cmocka_unit_test_teardown(test_tls_close_raises_nothing, stop_left_server),
        cmocka_unit_test_teardown(test_trace_replaced_while_written, stop_left_server),
        cmocka_unit_test(test_trace_holds_4096_bytes_utf8_names_and_link_drops),
        cmocka_unit_test(test_datagrams_in_the_pcap),
        cmocka_unit_test(test_a_link_drop_writes_nothing_more),
        cmocka_unit_test(test_an_injected_fin_here_is_a_fin),
        cmocka_unit_test_teardown(test_a_failed_tls_connect_records_its_code, stop_left_server),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
