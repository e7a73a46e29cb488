/* The step's fast path: what slurmstepd needs to start a step of a job that holds nothing on
 * this node, without loading the C++ core (about 1.5 ms per step; tests/bench/README.md).
 *
 * A step of a job without a reservation only has to hide the GPUs, or not, as the config says
 * (slurm.hide_gpus_without_reservation, slurm.visible_devices_env). Those two settings are kept
 * in a small file, the step settings, in the record directory (gpuslots/job_record.hpp) by the
 * core each time it has read the config (slurmd's start, every GPU job's prolog and epilog,
 * every step that loads the core), together with the size and a hash of the exact bytes of
 * the config it parsed. The entry object (plugin/entry.c, C, libc alone) uses them only when
 * all of these hold; otherwise it loads the core, which looks the job up as before:
 *   - the job has no file of its own in the record directory (<node>+<job>.job, .refused,
 *     .release): every prolog that reserves, or refuses in the ledger, writes the job's record
 *     first, and a job whose record cannot be written is not given slots (slurm_job.cpp);
 *   - the step neither carries a gpuslots option (Slurm's replay variables of the options) nor
 *     GPUs from Slurm's gres/gpu (SLURM_STEP_GPUS, SLURM_JOB_GPUS);
 *   - the settings file is whole, of this format and this build's version, for this config
 *     path, and the config file read now has the same size and hash: an edit is seen by the
 *     very next step, whatever the file's times say (a clock stepped back, a network
 *     filesystem's attribute cache), since the bytes themselves are compared;
 *   - the directory and the file belong to this process's user and nobody else may write them.
 * Every prolog, every step that loads the core and slurmd's start (once the reboot rule has
 * released the jobs of an earlier boot) check, on the ledger they have open, that every Slurm
 * reservation on this node has its file in this directory, and write the settings only then;
 * otherwise they remove them and say why in the log. So a directory wiped, or record_dir=
 * pointed elsewhere, while jobs run hides no job's GPUs for longer than until the node's next
 * such hook; drain a node before changing record_dir= all the same.
 *
 * Shared by the C reader (step_settings_read.c, linked into the entry object) and the C++ writer
 * (step_settings.cpp, in the core). */
#ifndef GPUSLOTS_STEP_SETTINGS_H
#define GPUSLOTS_STEP_SETTINGS_H

#ifdef __cplusplus
extern "C" {
#endif

/* Must equal kDefaultConfigPath and kDefaultRecordDir (step_settings.cpp checks it when built). */
#define GPUSLOTS_STEP_DEFAULT_CONFIG "/etc/gpuslots/gpuslots.yaml"
#define GPUSLOTS_STEP_DEFAULT_RECORD_DIR "/run/gpuslots"

#define GPUSLOTS_STEP_SETTINGS_FILE "step-settings"
#define GPUSLOTS_STEP_SETTINGS_MAGIC "gpuslots-step-settings 2"
#define GPUSLOTS_STEP_SETTINGS_MAX_BYTES 4096
#define GPUSLOTS_STEP_SETTINGS_MAX_VARS 16
#define GPUSLOTS_STEP_SETTINGS_MAX_NAME 128 /* a variable's name, with its NUL */
#define GPUSLOTS_STEP_CONFIG_MAX_BYTES (1024 * 1024) /* kMaxConfigBytes: a larger one is invalid */

struct gpuslots_step_settings {
    int hide; /* slurm.hide_gpus_without_reservation */
    int vars; /* how many of `var` are set */
    char var[GPUSLOTS_STEP_SETTINGS_MAX_VARS][GPUSLOTS_STEP_SETTINGS_MAX_NAME];
};

/* The hash of a config's bytes the settings name (FNV-1a over 64-bit words: a check that the
 * bytes are the same, not a secret; only root writes either file). */
unsigned long long gpuslots_step_hash(const void* bytes, unsigned long size);

/* 1: the settings in `record_dir` are valid for `config_path` and `version` (filled in `out`);
 * 0: they are missing, damaged, stale, of another build or not trustworthy: load the core. */
int gpuslots_step_settings_read(const char* record_dir, const char* config_path,
                                const char* version, struct gpuslots_step_settings* out);

/* 0: `record_dir` holds no file of this job on this node (no record, refusal or kept release);
 * 1: it holds one, or that cannot be told (load the core). */
int gpuslots_step_job_has_files(const char* record_dir, const char* node, const char* job_id);

/* The name of a job's file in the record directory: "<node>+<job id><suffix>", every byte but
 * [A-Za-z0-9._-] written %XX (job_record.cpp's file_name() does the same). 0 when it does not
 * fit in `size` bytes. */
int gpuslots_step_file_name(char* out, unsigned long size, const char* node, const char* job_id,
                            const char* suffix);

#ifdef __cplusplus
}
#endif

#endif
