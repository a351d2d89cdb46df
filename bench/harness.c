/*
 * The measuring harness: warm-up, alternating rounds, medians, JSON lines; and small helpers
 * shared by every scenario.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

struct bench_config bench_cfg = {.rounds = 9, .pin_cpu = -1};

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double now_s(void)
{
    return clock_s(CLOCK_MONOTONIC);
}

struct stamp stamp_now(void)
{
    return (struct stamp){clock_s(CLOCK_MONOTONIC), clock_s(CLOCK_PROCESS_CPUTIME_ID)};
}

struct sample sample_rate(double work, struct stamp t0, struct stamp t1)
{
    double wall = t1.wall - t0.wall, cpu = t1.cpu - t0.cpu;
    if (wall <= 0)
        return SAMPLE_FAILED;
    return (struct sample){work / wall, cpu > 0 ? work / cpu : NAN, NAN};
}

void bench_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    flockfile(stderr);
    fputs("upysock-bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    funlockfile(stderr);
    va_end(ap);
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (!p) {
        bench_error("out of memory");
        exit(2);
    }
    return p;
}

/* Both sides bind the port this finds, so upysock (which has no getsockname, like the device)
 * and raw code listen the same way. */
int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sin;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof sin) == 0 &&
        getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
        port = ntohs(sin.sin_port);
    if (fd >= 0)
        close(fd);
    if (port < 0)
        bench_error("no free port: %s", strerror(errno));
    return port;
}

long rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, resident = -1;
    if (f) {
        if (fscanf(f, "%ld %ld", &size, &resident) != 2)
            resident = -1;
        fclose(f);
    }
    return resident < 0 ? -1 : resident * sysconf(_SC_PAGESIZE);
}

ssize_t recv_full(const struct net_ops *ops, bsock s, void *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = ops->recv(s, (char *)buf + got, len - got);
        if (n <= 0)
            return n < 0 ? -1 : (ssize_t)got;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

struct bench_thread {
    pthread_t id;
};

bench_thread *thread_start(void *(*fn)(void *), void *arg)
{
    bench_thread *t = xcalloc(1, sizeof *t);
    int rc = pthread_create(&t->id, NULL, fn, arg);
    if (rc != 0) {
        bench_error("pthread_create: %s", strerror(rc));
        free(t);
        return NULL;
    }
    return t;
}

void *thread_join(bench_thread *t)
{
    void *ret = NULL;
    if (t) {
        pthread_join(t->id, &ret);
        free(t);
    }
    return ret;
}

/* --- measuring ----------------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
    double sorted[n];
    memcpy(sorted, v, sizeof sorted);
    qsort(sorted, (size_t)n, sizeof sorted[0], cmp_double);
    return n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

/* One run of side i; a failure is reported with the case's name. */
static int run_side(const struct bench_case *bc, int i, struct sample *value)
{
    /* --aa: the upysock slot runs the first raw side, so the ratio shows the noise floor. */
    *value = bc->run(bc, bc->sides[i == 0 && bench_cfg.aa ? 1 : i]);
    /* Let the kernel finish what the run left behind (sockets are freed after an RCU grace
     * period, 10000 of them after pollscale's largest K) before the next run is timed. */
    usleep(bench_cfg.quick ? 2000 : 20000);
    if (!(value->value >= 0)) {
        bench_error("%s%s%s: the %s run failed", bc->scenario, bc->variant[0] ? " " : "", bc->variant,
                    bc->side_names[i]);
        return -1;
    }
    return 0;
}

/* --only: the index of the side to run, or -1 when this case does not have it. */
static int only_side(const struct bench_case *bc)
{
    for (int i = 0; i < bc->nsides; i++)
        if (strcmp(bc->side_names[i], bench_cfg.only) == 0)
            return i;
    return -1;
}

/* Medians, paired per-round ratios and minimum operation times of sides [first, last]. */
static void summarise(int n, int rounds, int first, int last, double values[][rounds],
                      double cpu_values[][rounds], double op_mins[][rounds], struct bench_result *out)
{
    double ratios[rounds];
    for (int i = first; i <= last; i++) {
        out->median[i] = median(values[i], rounds);
        out->cpu_median[i] = median(cpu_values[i], rounds);
        out->op_min[i] = op_mins[i][0];
        for (int r = 1; r < rounds; r++)
            out->op_min[i] = fmin(out->op_min[i], op_mins[i][r]); /* NaN only if all are */
        for (int r = 0; i > 0 && n > 1 && r < rounds; r++) {
            /* Against a zero figure (raw memory per socket) there is no ratio: NaN prints null. */
            double ratio = ratios[r] = values[i][r] > 0 ? values[0][r] / values[i][r] : NAN;
            if (r == 0 || ratio < out->min_ratio[i] || ratio != ratio)
                out->min_ratio[i] = ratio;
            if (r == 0 || ratio > out->max_ratio[i] || ratio != ratio)
                out->max_ratio[i] = ratio;
        }
        bool paired = i > 0 && n > 1 && out->min_ratio[i] == out->min_ratio[i];
        out->paired_ratio[i] = paired ? median(ratios, rounds) : NAN;
    }
}

int bench_measure(const struct bench_case *bc, struct bench_result *out)
{
    int rounds = bench_cfg.rounds, n = bc->nsides;
    int first = bench_cfg.only ? only_side(bc) : 0, last = bench_cfg.only ? first : n - 1;
    struct sample s;
    double values[BENCH_MAX_SIDES][rounds], cpu_values[BENCH_MAX_SIDES][rounds], op_mins[BENCH_MAX_SIDES][rounds];
    memset(out, 0, sizeof *out);
    out->rounds = rounds;
    out->only = !bench_cfg.only ? -1 : first < 0 ? -2 : first;
    if (first < 0)
        return 0;
    /* Warm-up: caches, page faults, the library's lazy set-up, the kernel's socket slabs. */
    for (int i = first; i <= last; i++)
        if (run_side(bc, i, &s) < 0)
            return -1;
    /* Round r starts with side r % n, so neither side always runs first (after the other has
     * warmed a cache, or just before a noisy neighbour starts). */
    for (int r = 0; r < rounds; r++)
        for (int k = 0; k < n; k++) {
            int i = (r + k) % n;
            if (i < first || i > last)
                continue;
            if (run_side(bc, i, &s) < 0)
                return -1;
            values[i][r] = s.value, cpu_values[i][r] = s.cpu_value, op_mins[i][r] = s.op_min;
        }
    summarise(bench_cfg.only ? 1 : n, rounds, first, last, values, cpu_values, op_mins, out);
    return 0;
}

/* --- JSON ---------------------------------------------------------------------------------- */

/* Every string printed is one of ours (scenario names, reasons): no escaping needed but quotes
 * and backslashes, which we replace rather than let through. */
static void put_string(const char *s)
{
    putchar('"');
    for (; *s; s++)
        putchar(*s == '"' || *s == '\\' || (unsigned char)*s < 0x20 ? '\'' : *s);
    putchar('"');
}

static void put_number(const char *key, double v)
{
    /* JSON has no inf/nan: a ratio against a zero figure is null. */
    if (v != v || v > 1e300 || v < -1e300)
        printf(",\"%s\":null", key);
    else
        printf(",\"%s\":%.6g", key, v);
}

static void put_head(const char *scenario, const char *variant)
{
    printf("{\"scenario\":");
    put_string(scenario);
    if (variant && *variant) {
        printf(",\"variant\":");
        put_string(variant);
    }
}

static void put_placement(void)
{
    printf(",\"placement\":");
    if (bench_cfg.pin_cpu >= 0)
        printf("\"cpu%d\"", bench_cfg.pin_cpu);
    else
        put_string("unpinned");
    if (bench_cfg.aa)
        printf(",\"aa\":true");
    /* How busy the machine was: other processes' load is the main noise on a shared box. */
    double load = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &load) != 1)
            load = -1;
        fclose(f);
    }
    if (load >= 0)
        printf(",\"load1\":%.2f", load);
}

/* --only: one side's median, for a profiling session (not a comparison). */
static void print_only(const struct bench_case *bc, const struct bench_result *r)
{
    if (r->only < 0)
        return; /* this case has no such side */
    put_head(bc->scenario, bc->variant);
    printf(",\"unit\":");
    put_string(bc->unit);
    printf(",\"only\":");
    put_string(bc->side_names[r->only]);
    put_number("median", r->median[r->only]);
    printf(",\"rounds\":%d", r->rounds);
    put_placement();
    printf("}\n");
    fflush(stdout);
}

void bench_print(const struct bench_case *bc, const struct bench_result *r,
                 void (*extra)(const struct bench_case *bc, const struct bench_result *r, int side,
                               char *buf, size_t size))
{
    if (r->only != -1) {
        print_only(bc, r);
        return;
    }
    for (int i = 1; i < (bc->nprinted ? bc->nprinted : bc->nsides); i++) {
        put_head(bc->scenario, bc->variant);
        printf(",\"unit\":");
        put_string(bc->unit);
        if ((bc->nprinted ? bc->nprinted : bc->nsides) > 2) {
            printf(",\"raw_side\":");
            put_string(bc->side_names[i]);
        }
        put_number("upysock", r->median[0]);
        put_number("raw", r->median[i]);
        put_number("ratio", r->median[i] > 0 ? r->median[0] / r->median[i] : NAN);
        printf(",\"rounds\":%d", r->rounds);
        put_number("min_ratio", r->min_ratio[i]);
        put_number("max_ratio", r->max_ratio[i]);
        if (r->paired_ratio[i] == r->paired_ratio[i])
            put_number("paired_ratio", r->paired_ratio[i]);
        if (r->cpu_median[0] == r->cpu_median[0] && r->cpu_median[i] > 0)
            put_number("cpu_ratio", r->cpu_median[0] / r->cpu_median[i]);
        if (r->op_min[0] > 0 && r->op_min[i] > 0) {
            put_number("upysock_op_min_us", r->op_min[0] * 1e6);
            put_number("raw_op_min_us", r->op_min[i] * 1e6);
            put_number("op_min_ratio", r->op_min[i] / r->op_min[0]); /* as a rate: upysock/raw */
        }
        put_placement();
        char more[256] = "";
        if (extra)
            extra(bc, r, i, more, sizeof more);
        if (more[0])
            printf(",%s", more);
        printf("}\n");
    }
    fflush(stdout);
}

void bench_print_skipped(const char *scenario, const char *variant, const char *reason)
{
    put_head(scenario, variant);
    printf(",\"skipped\":");
    put_string(reason);
    printf("}\n");
    fflush(stdout);
}

int bench_compare(const struct bench_case *bc)
{
    struct bench_result r;
    if (bench_measure(bc, &r) < 0)
        return -1;
    bench_print(bc, &r, NULL);
    return 0;
}
