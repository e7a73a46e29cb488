/* dlopen_cost ROUNDS SO...: what loading each shared object costs a fresh C process, the way
 * Slurm loads a SPANK plugin into srun, slurmstepd and every prolog: for each round and each
 * SO in turn (interleaved, so that a change in the machine's load hits all alike), a forked
 * child times dlopen(RTLD_NOW | RTLD_LOCAL) and reports it. Prints the median and quartiles
 * per SO, and "@ dlopen.NAME_ms MEDIAN" lines. Slurm's API is stubbed here (defined in this
 * executable, exported with -rdynamic), as srun and slurmstepd define it. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STUB(name) \
    __attribute__((visibility("default"))) int name(void) { return 0; }
STUB(slurm_error)
STUB(slurm_info)
STUB(slurm_debug)
STUB(slurm_verbose)
STUB(slurm_spank_log)
STUB(spank_context)
STUB(spank_get_item)
STUB(spank_getenv)
STUB(spank_setenv)
STUB(spank_unsetenv)
STUB(spank_job_control_setenv)
STUB(spank_option_getopt)
STUB(spank_option_register)
STUB(spank_strerror)

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int by_value(const void* a, const void* b) {
    const double x = *(const double*)a, y = *(const double*)b;
    return (x > y) - (x < y);
}

static double load_once(const char* so) {
    int fd[2];
    if (pipe(fd) != 0) return -1;
    const pid_t pid = fork();
    if (pid == 0) {
        const double t0 = now_ms();
        void* handle = dlopen(so, RTLD_NOW | RTLD_LOCAL);
        double ms = now_ms() - t0;
        if (handle == NULL) {
            fprintf(stderr, "dlopen_cost: %s\n", dlerror());
            ms = -1;
        }
        _exit(write(fd[1], &ms, sizeof ms) == sizeof ms ? 0 : 1);
    }
    double ms = -1;
    if (pid < 0 || read(fd[0], &ms, sizeof ms) != sizeof ms) ms = -1;
    close(fd[0]);
    close(fd[1]);
    if (pid > 0) waitpid(pid, NULL, 0);
    return ms;
}

int main(int argc, char** argv) {
    const int rounds = argc > 2 ? atoi(argv[1]) : 0;
    if (rounds < 1) {
        fprintf(stderr, "usage: dlopen_cost ROUNDS SO...\n");
        return 2;
    }
    const int n = argc - 2;
    double* ms = calloc((size_t)rounds * (size_t)n, sizeof *ms);
    if (ms == NULL) return 1;
    for (int r = 0; r < rounds; ++r) {
        for (int k = 0; k < n; ++k) {
            ms[(size_t)k * (size_t)rounds + (size_t)r] = load_once(argv[2 + k]);
            if (ms[(size_t)k * (size_t)rounds + (size_t)r] < 0) return 1;
        }
    }
    for (int k = 0; k < n; ++k) {
        double* v = ms + (size_t)k * (size_t)rounds;
        qsort(v, (size_t)rounds, sizeof *v, by_value);
        const char* base = strrchr(argv[2 + k], '/');
        base = base != NULL ? base + 1 : argv[2 + k];
        printf("%-24s dlopen median %.3f ms (quartiles %.3f..%.3f)\n", base, v[rounds / 2],
               v[rounds / 4], v[3 * rounds / 4]);
        printf("@ dlopen.%.*s_ms %.3f\n", (int)strcspn(base, "."), base, v[rounds / 2]);
    }
    free(ms);
    return 0;
}
