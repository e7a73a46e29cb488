/* What the entry object (entry.c, gpuslots.so) and the core (gpuslots-core.so: dispatch.cpp and
 * the files of each context) agree on. The entry object is C and needs only libc, so that srun,
 * sbatch and the prolog of a job that does not use gpuslots never load the C++ runtime,
 * yaml-cpp or SQLite; it dlopen()s the core, next to itself, in the hooks that have work.
 * Both come from one build: the entry object refuses a core of another ABI or version. */
#ifndef GPUSLOTS_CORE_ABI_H
#define GPUSLOTS_CORE_ABI_H

#include <slurm/spank.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GPUSLOTS_CORE_ABI 1
#define GPUSLOTS_CORE_FILE "gpuslots-core.so"
#define GPUSLOTS_CORE_SYMBOL "gpuslots_core_v1"

/* Indices into the option table, also the options' `val`. */
enum { GPUSLOTS_GPU_SLOTS = 0, GPUSLOTS_CPU_SLOTS = 1 };

/* What the entry object hands the core once it is loaded. */
struct gpuslots_core_host {
    /* The option table the entry object registered ([GPUSLOTS_GPU_SLOTS], [GPUSLOTS_CPU_SLOTS]);
     * the core reads the values back with spank_option_getopt() on these. */
    struct spank_option* options;
};

/* The submit side's state from slurm_spank_init, which ran before the core was loaded. */
struct gpuslots_submit_start {
    int ac;
    char** av;
    /* Slurm's replay variables of both options as the command found them (NULL: unset). */
    const char* env_at_start[2];
    /* init_post_opt calls (hetjob components) that ended before the core was loaded: no
     * option callback had run, so they carried nothing. */
    int components_done;
};

struct gpuslots_core {
    unsigned int abi;    /* GPUSLOTS_CORE_ABI */
    const char* version; /* the build's version: the entry object's must be the same */
    void (*attach)(const struct gpuslots_core_host* host);
    /* Each returns what the hook returns to Slurm (dispatch.cpp's table). */
    spank_f* init; /* slurmstepd (bad plugstack arguments) and slurmd */
    int (*submit_start)(const struct gpuslots_submit_start* start);
    spank_opt_cb_f on_option;
    spank_f* init_post_opt;
    spank_f* task_init_privileged;
    spank_f* job_prolog;
    spank_f* job_epilog;
};

#ifdef __cplusplus
}
#endif

#endif
