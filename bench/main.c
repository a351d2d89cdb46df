/*
 * upysock-bench [--scenario NAME[,NAME...]] [--quick] [--pin CPU] [--rounds N] [--only SIDE] [--aa] [--list]
 *
 * One JSON line per comparison on stdout; diagnostics on stderr. Exit status 0 when every
 * scenario ran (a scenario the build cannot run prints a "skipped" line and counts as run),
 * 1 when one failed, 2 for a usage error, 3 when a scenario overran its time limit.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench.h"

static const struct {
    const char *name;
    int (*run)(void);
    bool tls; /* needs the TLS fixture, made before any other OpenSSL call */
} scenarios[] = {
    {"echo", scenario_echo, false},
    {"bulk", scenario_bulk, false},
    {"accept", scenario_accept, false},
    {"pollscale", scenario_pollscale, false},
    {"tls_handshake", scenario_tls_handshake, true},
    {"tls_bulk", scenario_tls_bulk, true},
    {"memory", scenario_memory, true},
};
#define SCENARIO_COUNT (sizeof scenarios / sizeof scenarios[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: upysock-bench [--scenario NAME[,NAME...]] [--quick] [--pin CPU] [--rounds N] [--list]\n"
               "  --scenario  run only these (default: all)\n"
               "  --quick     small sizes and 3 rounds: checks that everything runs, in seconds\n"
               "  --pin CPU   every thread on this CPU (the steadiest placement on a shared machine)\n"
               "  --rounds N  measured rounds per side (default 9, 3 with --quick)\n"
               "  --only SIDE run one side only (upysock, raw, raw-epoll, raw-poll): for profilers;\n"
               "              prints that side's median as \"only\" instead of a comparison\n"
               "  --aa        A/A run: raw code in the upysock slot too; the ratios show the noise floor\n"
               "  --python ...  the Python front's comparison (bench/python/bench_python.py; its own\n"
               "              options follow, e.g. --python --pin 0 --quick), when it was built\n");
}

/* --python: hand over to the Python front's script, with the interpreter and the build tree the
 * extension was made for (python/CMakeLists.txt defines them when it builds the extension). */
static int run_python_bench(char **args)
{
#ifdef UPYSOCK_BENCH_PYTHON
    setenv("PYTHONPATH", UPYSOCK_BENCH_PYTHONPATH, 1);
    size_t n = 0;
    while (args[n])
        n++;
    char **argv = calloc(n + 5, sizeof *argv);
    if (!argv)
        return 1;
    argv[0] = UPYSOCK_BENCH_PYTHON;
    argv[1] = UPYSOCK_BENCH_PYTHON_SCRIPT;
    argv[2] = "--build-dir";
    argv[3] = UPYSOCK_BENCH_BUILD_DIR;
    memcpy(argv + 4, args, n * sizeof *argv);
    execv(argv[0], argv);
    bench_error("--python: cannot run %s", argv[0]);
#else
    (void)args;
    bench_error("--python: this build has no Python front (python3-dev missing)");
#endif
    return 2;
}

/* --- the watchdog: a hung run fails the program instead of hanging CI --------------------- */

static _Atomic(const char *) running;
static atomic_long deadline;

static void *watchdog(void *unused)
{
    (void)unused;
    for (;;) {
        sleep(1);
        const char *name = atomic_load(&running);
        if (name && (long)now_s() > atomic_load(&deadline)) {
            bench_error("scenario %s overran its time limit", name);
            _exit(3);
        }
    }
    return NULL;
}

static int run_scenario(size_t i)
{
    atomic_store(&deadline, (long)now_s() + (bench_cfg.quick ? 120 : 1800));
    atomic_store(&running, scenarios[i].name);
    int rc = scenarios[i].run();
    atomic_store(&running, NULL);
    if (rc < 0)
        bench_error("scenario %s failed", scenarios[i].name);
    return rc;
}

/* --- options --------------------------------------------------------------------------------- */

static bool select_scenarios(const char *list, bool selected[SCENARIO_COUNT])
{
    char copy[256];
    snprintf(copy, sizeof copy, "%s", list);
    for (char *save = NULL, *name = strtok_r(copy, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        size_t i = 0;
        while (i < SCENARIO_COUNT && strcmp(scenarios[i].name, name) != 0)
            i++;
        if (i == SCENARIO_COUNT) {
            bench_error("unknown scenario '%s' (--list shows them)", name);
            return false;
        }
        selected[i] = true;
    }
    return true;
}

static bool parse_int(const char *s, int min, int *out)
{
    char *end;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || end == s || *end || v < min || v > 1 << 20)
        return false;
    *out = (int)v;
    return true;
}

static int parse_args(int argc, char **argv, bool selected[SCENARIO_COUNT])
{
    bool any = false, rounds_given = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--quick") == 0) {
            bench_cfg.quick = true;
        } else if (strcmp(a, "--scenario") == 0 && next) {
            any = true, i++;
            if (!select_scenarios(next, selected))
                return 2;
        } else if (strcmp(a, "--pin") == 0 && parse_int(next, 0, &bench_cfg.pin_cpu)) {
            i++;
        } else if (strcmp(a, "--rounds") == 0 && parse_int(next, 1, &bench_cfg.rounds)) {
            rounds_given = true, i++;
        } else if (strcmp(a, "--aa") == 0) {
            bench_cfg.aa = true;
        } else if (strcmp(a, "--only") == 0 && next) {
            bench_cfg.only = next, i++;
        } else if (strcmp(a, "--list") == 0) {
            for (size_t s = 0; s < SCENARIO_COUNT; s++)
                puts(scenarios[s].name);
            exit(0);
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (bench_cfg.quick && !rounds_given)
        bench_cfg.rounds = 3;
    for (size_t s = 0; !any && s < SCENARIO_COUNT; s++)
        selected[s] = true;
    return 0;
}

/* --- the process ----------------------------------------------------------------------------- */

static int pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    /* Before any thread exists: every thread (and the TLS peer process) inherits it. */
    if (sched_setaffinity(0, sizeof set, &set) < 0) {
        bench_error("--pin %d: cannot run on that CPU", cpu);
        return -1;
    }
    return 0;
}

/* pollscale needs K + a few descriptors; take what the hard limit allows. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "--tls-peer") == 0) {
        snprintf(tls_fx.cert, sizeof tls_fx.cert, "%s", argv[3]);
        snprintf(tls_fx.key, sizeof tls_fx.key, "%s", argv[4]);
        return tls_peer_main(atoi(argv[2]));
    }
    if (argc >= 2 && strcmp(argv[1], "--python") == 0)
        return run_python_bench(argv + 2);
    bool selected[SCENARIO_COUNT] = {false};
    int rc = parse_args(argc, argv, selected);
    if (rc != 0)
        return rc;
    if (bench_cfg.pin_cpu >= 0 && pin(bench_cfg.pin_cpu) < 0)
        return 2;
    signal(SIGPIPE, SIG_IGN); /* a peer that closed first: EPIPE, not death (OpenSSL writes too) */
    raise_fd_limit();
    for (size_t i = 0; i < SCENARIO_COUNT; i++)
        if (selected[i] && scenarios[i].tls) {
            tls_fixture_init(); /* a failure fails the TLS scenarios, which call it again */
            break;
        }
    pthread_t dog;
    pthread_create(&dog, NULL, watchdog, NULL);
    pthread_detach(dog);
    for (size_t i = 0; i < SCENARIO_COUNT; i++)
        if (selected[i] && run_scenario(i) < 0)
            rc = 1;
    return rc;
}
