/* gpuslots.so, the SPANK entry object: what Slurm loads into srun, sbatch, salloc, slurmd, every
 * slurmstepd and every prolog/epilog process. It is C and needs only libc: it registers the
 * options and loads the core (gpuslots-core.so, the C++ that does the work, with yaml-cpp and
 * SQLite) only in the hooks that have work for this job, so a job that does not use gpuslots
 * does not pay for loading the C++ runtime (about 1-2 ms per process; tests/bench/README.md).
 *
 * When the core is loaded, per context and hook:
 *   srun/sbatch/salloc  init            never for valid plugstack arguments (the entry object
 *                                       registers the options); for invalid ones, to word the
 *                                       error
 *                       option callback always (the value is checked against the config)
 *                       init_post_opt   only once an option callback has loaded it: without a
 *                                       callback no component carried a value, and there is
 *                                       nothing to check
 *   job_prolog/epilog                   when the job gave either option (Slurm passes it in
 *                                       the environment, spank_option_getopt() reads it) or
 *                                       Slurm's gres/gpu gave it GPUs (SLURM_JOB_GPUS, set by
 *                                       slurmd: a `slurm: follow` server records them); the
 *                                       prolog reserves for no other job, so no other job
 *                                       holds anything to release
 *   slurmstepd          init_post_opt   unless the job has nothing on this node: no file of
 *                                       its own in the record directory, no option and no GPUs
 *                                       from Slurm's gres/gpu on the step, and the step settings
 *                                       the core keeps there are valid for the config's bytes
 *                                       as they are now; the entry object
 *                                       then hides the GPUs (or not) as those say
 *                                       (gpuslots/step_settings.h says why that is safe)
 *                       task_init_privileged  after that fast path, only for a step that asks
 *                                       for slots (the core refuses it: its job holds none)
 *   slurmd              init            always (once per slurmd start)
 * The core is found next to this file (symbolic links resolved), so a build tree, a package
 * and a copy into a cluster's plugin directory all work alike; it is loaded RTLD_LOCAL (its
 * symbols, and those of the C++ runtime, yaml-cpp and SQLite, stay out of Slurm's way) and
 * RTLD_NOW (a broken core fails here, with its reason, not later in a hook).
 *
 * Failure semantics of a core that cannot be loaded (missing, not a shared object, from
 * another build), decided here:
 *   - a job that does not use gpuslots never notices: its hooks do not need the core; its
 *     steps get the GPU variables set and empty (fail closed, as for an unreadable config)
 *   - srun/sbatch/salloc with --gpu-slots/--cpu-slots stop, saying why: no job is queued
 *   - job_prolog/job_epilog of a job that needs the core fail: a node that cannot load its
 *     plugin is a node fault, and Slurm drains it (README, "what drains a node")
 *   - in slurmstepd, the tasks of a step that asks for slots fail with the reason; others run
 *     without GPUs
 *   - in slurmd, it is logged */
#include <dlfcn.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core_abi.h"
#include "gpuslots/step_settings.h"

#define EXPORT __attribute__((visibility("default")))

EXPORT const char plugin_name[] = "gpuslots";
EXPORT const char plugin_type[] = "spank";
EXPORT const unsigned int plugin_version = SLURM_VERSION_NUMBER;
EXPORT const unsigned int spank_plugin_version = 1;

static int on_option(int val, const char* optarg, int remote);

/* Registered with spank_option_register() (sbatch ignores a static spank_options table). */
static struct spank_option options[] = {
    {"gpu-slots", "N",
     "Reserve N GPU slots on each node of the job (gpuslots); the job sees exactly those GPUs", 1,
     GPUSLOTS_GPU_SLOTS, on_option},
    {"cpu-slots", "N", "Reserve N CPU slots on each node of the job (gpuslots)", 1,
     GPUSLOTS_CPU_SLOTS, on_option},
    SPANK_OPTIONS_TABLE_END,
};

/* Slurm's name for an option's value in a command's environment (submit.cpp reads it too). */
static const char* const replay_variable[2] = {
    "SLURM_SPANK__SLURM_SPANK_OPTION_gpuslots_gpu_slots",
    "SLURM_SPANK__SLURM_SPANK_OPTION_gpuslots_cpu_slots",
};

/* The core's default variables (SlurmConfig::visible_devices_env), to fail closed without it. */
static const char* const default_visible_devices_env[] = {
    "CUDA_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES", "ZE_AFFINITY_MASK", "GPU_DEVICE_ORDINAL"};

static void log_error(const char* hook, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_error(const char* hook, const char* fmt, ...) {
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    slurm_error("gpuslots: %s: %s", hook, line);
}

/* ---- loading the core: once per process ---- */

static const struct gpuslots_core* core;
static int core_tried;
static char core_error[PATH_MAX + 256]; /* why it could not be loaded, once tried */

static const struct gpuslots_core* load_core(void) {
    if (core_tried) return core;
    core_tried = 1;
    Dl_info self;
    char here[PATH_MAX];
    if (dladdr((const void*)plugin_name, &self) == 0 || self.dli_fname == NULL ||
        realpath(self.dli_fname, here) == NULL) {
        snprintf(core_error, sizeof core_error,
                 "cannot tell where gpuslots.so was loaded from, to find " GPUSLOTS_CORE_FILE
                 " next to it; reinstall gpuslots");
        return NULL;
    }
    char* slash = strrchr(here, '/');
    char path[PATH_MAX];
    if (slash == NULL || (size_t)snprintf(path, sizeof path, "%.*s/%s", (int)(slash - here), here,
                                          GPUSLOTS_CORE_FILE) >= sizeof path) {
        snprintf(core_error, sizeof core_error, "cannot name the core next to %s", here);
        return NULL;
    }
    void* handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        const char* why = dlerror();
        snprintf(core_error, sizeof core_error,
                 "cannot load the gpuslots core: %s; reinstall gpuslots", why != NULL ? why : path);
        return NULL;
    }
    const struct gpuslots_core* found = dlsym(handle, GPUSLOTS_CORE_SYMBOL);
    if (found == NULL) {
        snprintf(core_error, sizeof core_error,
                 "%s is not a gpuslots core (no " GPUSLOTS_CORE_SYMBOL "); reinstall gpuslots",
                 path);
        return NULL;
    }
    if (found->abi != GPUSLOTS_CORE_ABI || found->version == NULL ||
        strcmp(found->version, GPUSLOTS_VERSION) != 0) {
        snprintf(core_error, sizeof core_error,
                 "%s is from another gpuslots build (ABI %u, version %s; gpuslots.so: ABI %d, "
                 "version %s); reinstall gpuslots",
                 path, found->abi, found->version != NULL ? found->version : "?", GPUSLOTS_CORE_ABI,
                 GPUSLOTS_VERSION);
        return NULL;
    }
    const struct gpuslots_core_host host = {options};
    found->attach(&host);
    core = found;
    return core;
}

/* Exactly what parse_plugin_args() accepts: nothing, or at most one absolute config= and one
 * absolute record_dir=. Anything else is an error, which the core words. */
static int plain_args(int ac, char** av) {
    int config = 0, record_dir = 0;
    for (int i = 0; i < ac; ++i) {
        if (strncmp(av[i], "config=/", 8) == 0) {
            ++config;
        } else if (strncmp(av[i], "record_dir=/", 12) == 0) {
            ++record_dir;
        } else {
            return 0;
        }
    }
    return config <= 1 && record_dir <= 1;
}

static int asked_for_slots(spank_t sp) {
    for (int i = GPUSLOTS_GPU_SLOTS; i <= GPUSLOTS_CPU_SLOTS; ++i) {
        char* value = NULL;
        if (spank_option_getopt(sp, &options[i], &value) == ESPANK_SUCCESS) return 1;
    }
    return 0;
}

/* ---- srun, sbatch, salloc ---- */

static struct gpuslots_submit_start submit;
static int submit_started;
static int submit_rc;

static int start_submit_core(const char* hook) {
    if (submit_started) return submit_rc;
    if (load_core() == NULL) {
        log_error(hook, "%s", core_error);
        return -1;
    }
    submit_started = 1;
    submit_rc = core->submit_start(&submit);
    return submit_rc;
}

static int on_option(int val, const char* optarg, int remote) {
    /* In slurmstepd the value is not trusted anyway: the prolog and the step check it again. */
    if (remote != 0) return 0;
    if (start_submit_core("option") != 0) return -1;
    return core->on_option(val, optarg, remote);
}

static int register_options(spank_t sp) {
    for (int i = GPUSLOTS_GPU_SLOTS; i <= GPUSLOTS_CPU_SLOTS; ++i) {
        const spank_err_t rc = spank_option_register(sp, &options[i]);
        if (rc != ESPANK_SUCCESS) {
            log_error("init", "cannot register --%s: %s", options[i].name, spank_strerror(rc));
            return -1;
        }
    }
    return 0;
}

static int submit_init(spank_t sp, int ac, char** av) {
    submit.ac = ac;
    submit.av = av;
    for (int i = GPUSLOTS_GPU_SLOTS; i <= GPUSLOTS_CPU_SLOTS; ++i) {
        const char* v = getenv(replay_variable[i]); /* before Slurm writes it */
        submit.env_at_start[i] = v != NULL ? strdup(v) : NULL;
        if (v != NULL && submit.env_at_start[i] == NULL) {
            log_error("init", "out of memory");
            return -1;
        }
    }
    if (!plain_args(ac, av) && start_submit_core("init") != 0) return -1;
    return register_options(sp);
}

/* ---- a step of a job with nothing here: the fast path ---- */

static int fast_step; /* init_post_opt set the step's GPU variables without the core */

/* The step of a job that holds nothing on this node, set up from the step settings without
 * loading the core (gpuslots/step_settings.h). 1: done; 0: the core must look. */
static int step_without_core(spank_t sp, int ac, char** av) {
    if (!plain_args(ac, av)) return 0;
    const char* config = NULL;
    const char* record_dir = NULL;
    for (int i = 0; i < ac; ++i) {
        if (strncmp(av[i], "config=", 7) == 0) {
            config = av[i] + 7;
        } else {
            record_dir = av[i] + 11; /* "record_dir=" */
        }
    }
    if (config == NULL) { /* as resolve_config_path() */
        const char* env = getenv("GPUSLOTS_CONFIG");
        config = env != NULL && *env != '\0' ? env : GPUSLOTS_STEP_DEFAULT_CONFIG;
    }
    if (record_dir == NULL) record_dir = GPUSLOTS_STEP_DEFAULT_RECORD_DIR;
    const char* node = getenv("SLURMD_NODENAME"); /* as spank::node_name(); else the core */
    uint32_t id = 0;
    if (node == NULL || *node == '\0' || spank_get_item(sp, S_JOB_ID, &id) != ESPANK_SUCCESS) {
        return 0;
    }
    /* GPUs from Slurm's gres/gpu, set or not (even empty): the core decides what they mean.
     * An option's replay variable: the step asks for slots (its values cannot be read before
     * task_init_privileged, where the core would have to be loaded in every forked task). */
    static const char* const present[] = {"SLURM_STEP_GPUS", "SLURM_JOB_GPUS",
                                          "SLURM_SPANK__SLURM_SPANK_OPTION_gpuslots_gpu_slots",
                                          "SLURM_SPANK__SLURM_SPANK_OPTION_gpuslots_cpu_slots"};
    for (size_t i = 0; i < sizeof present / sizeof *present; ++i) {
        char value[2];
        if (spank_getenv(sp, present[i], value, sizeof value) != ESPANK_ENV_NOEXIST) return 0;
    }
    char job_id[16];
    snprintf(job_id, sizeof job_id, "%u", id);
    if (gpuslots_step_job_has_files(record_dir, node, job_id)) return 0;
    struct gpuslots_step_settings settings;
    if (!gpuslots_step_settings_read(record_dir, config, GPUSLOTS_VERSION_LINE, &settings)) {
        return 0;
    }
    if (settings.hide) {
        for (int i = 0; i < settings.vars; ++i) {
            if (spank_setenv(sp, settings.var[i], "", 1) != ESPANK_SUCCESS) return 0;
        }
    }
    slurm_info(
        "gpuslots: init_post_opt: job %u on %s: no reservation (GPUs %s; from the step "
        "settings in %s)",
        id, node, settings.hide ? "hidden" : "left as they are", record_dir);
    return 1;
}

/* ---- the hooks ---- */

EXPORT int slurm_spank_init(spank_t sp, int ac, char** av) {
    switch (spank_context()) {
        case S_CTX_LOCAL:
        case S_CTX_ALLOCATOR:
            return submit_init(sp, ac, av);
        case S_CTX_REMOTE:
            /* Never fail the step's launch (dispatch.cpp); bad arguments only go unregistered. */
            if (plain_args(ac, av)) {
                register_options(sp);
            } else if (load_core() != NULL) {
                core->init(sp, ac, av);
            } else {
                log_error("init", "%s", core_error);
            }
            return 0;
        case S_CTX_SLURMD:
            /* Once per slurmd start, before the core is loaded (so also when it cannot be):
             * which build slurmd loaded, in the words of `gpuslots --version`, so that a node
             * still running an older plugin stands out in its log. */
            slurm_info("gpuslots: slurmd: loaded %s", GPUSLOTS_VERSION_LINE);
            if (load_core() == NULL) {
                log_error("slurmd", "%s", core_error);
                return 0;
            }
            return core->init(sp, ac, av);
        default:
            return 0; /* job_script never calls init */
    }
}

EXPORT int slurm_spank_init_post_opt(spank_t sp, int ac, char** av) {
    switch (spank_context()) {
        case S_CTX_LOCAL:
        case S_CTX_ALLOCATOR:
            if (!submit_started) {
                ++submit.components_done;
                return 0;
            }
            return submit_rc != 0 ? -1 : core->init_post_opt(sp, ac, av);
        case S_CTX_REMOTE:
            if (step_without_core(sp, ac, av)) {
                fast_step = 1;
                return 0;
            }
            if (load_core() != NULL) return core->init_post_opt(sp, ac, av);
            log_error("init_post_opt", "%s", core_error);
            for (size_t i = 0;
                 i < sizeof default_visible_devices_env / sizeof *default_visible_devices_env; ++i)
                spank_setenv(sp, default_visible_devices_env[i], "", 1);
            return 0;
        default:
            return 0;
    }
}

EXPORT int slurm_spank_task_init_privileged(spank_t sp, int ac, char** av) {
    if (spank_context() != S_CTX_REMOTE) return 0;
    if (core != NULL) return core->task_init_privileged(sp, ac, av);
    if (!asked_for_slots(sp)) return 0;
    if (fast_step && load_core() != NULL) {
        /* A step that asks for slots without Slurm's replay variable for it (see
         * step_without_core), of a job that holds none here: the core words the refusal (its
         * lookup runs in this task, once: the step is refused). */
        core->init_post_opt(sp, ac, av);
        return core->task_init_privileged(sp, ac, av);
    }
    uint32_t id = 0;
    spank_get_item(sp, S_JOB_ID, &id);
    char line[sizeof core_error + 64];
    const int n = snprintf(line, sizeof line, "gpuslots: job %u cannot run: %s\n", id,
                           core_tried ? core_error : "the gpuslots core was not loaded");
    if (n > 0 &&
        write(STDERR_FILENO, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1) < 0) {
        /* Nowhere better to say it; the slurmd log has it from init_post_opt. */
    }
    return -1;
}

/* job_prolog and job_epilog: a fresh process per node; see the top of this file. */
static int job_script(const char* hook, spank_t sp, int ac, char** av, int prolog) {
    const char* gpus = getenv("SLURM_JOB_GPUS");
    if (plain_args(ac, av) && !asked_for_slots(sp) && (gpus == NULL || *gpus == '\0')) {
        uint32_t id = 0;
        spank_get_item(sp, S_JOB_ID, &id);
        slurm_info("gpuslots: %s: job %u: no slots asked for%s", hook, id,
                   prolog ? "" : ", nothing to release");
        return 0;
    }
    if (load_core() == NULL) {
        log_error(hook, "%s (node fault: failing the %s)", core_error, hook);
        return -1;
    }
    return prolog ? core->job_prolog(sp, ac, av) : core->job_epilog(sp, ac, av);
}

EXPORT int slurm_spank_job_prolog(spank_t sp, int ac, char** av) {
    return job_script("job_prolog", sp, ac, av, 1);
}

EXPORT int slurm_spank_job_epilog(spank_t sp, int ac, char** av) {
    return job_script("job_epilog", sp, ac, av, 0);
}
