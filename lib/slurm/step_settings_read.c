/* The entry object's side of the step settings (gpuslots/step_settings.h): C and libc alone,
 * because it runs in every slurmstepd. Any doubt answers "load the core": a wrong "no" here
 * could hand a job GPUs the config would hide, or hide those it holds. */
#include "gpuslots/step_settings.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int plain(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
}

static int append_part(char* out, unsigned long size, unsigned long* at, const char* part) {
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char* p = (const unsigned char*)part; *p != '\0'; ++p) {
        if (plain(*p)) {
            if (*at + 1 >= size) return 0;
            out[(*at)++] = (char)*p;
        } else {
            if (*at + 3 >= size) return 0;
            out[(*at)++] = '%';
            out[(*at)++] = hex[*p >> 4];
            out[(*at)++] = hex[*p & 0xF];
        }
    }
    return 1;
}

int gpuslots_step_file_name(char* out, unsigned long size, const char* node, const char* job_id,
                            const char* suffix) {
    unsigned long at = 0;
    if (size == 0 || !append_part(out, size, &at, node) || at + 1 >= size) return 0;
    out[at++] = '+';
    if (!append_part(out, size, &at, job_id)) return 0;
    const size_t n = strlen(suffix);
    if (at + n >= size) return 0;
    memcpy(out + at, suffix, n + 1);
    return 1;
}

/* The record directory, opened without following a link, if it is what RecordDir accepts: a
 * directory of this process's user that nobody else may write. -1 otherwise. */
static int open_record_dir(const char* record_dir) {
    const int fd = open(record_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return -1;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
        (st.st_mode & 022) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int gpuslots_step_job_has_files(const char* record_dir, const char* node, const char* job_id) {
    static const char* const suffixes[] = {".job", ".refused", ".release"};
    const int dfd = open_record_dir(record_dir);
    if (dfd < 0) return 1;
    int found = 0;
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes && !found; ++i) {
        char name[NAME_MAX + 1];
        struct stat st;
        if (!gpuslots_step_file_name(name, sizeof name, node, job_id, suffixes[i]) ||
            fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT) {
            found = 1;
        }
    }
    close(dfd);
    return found;
}

/* The next line of `*text` (without its '\n'), or NULL when there is no whole line left. */
static char* next_line(char** text) {
    char* line = *text;
    char* end = strchr(line, '\n');
    if (end == NULL) return NULL;
    *end = '\0';
    *text = end + 1;
    return line;
}

/* "KEY VALUE": VALUE, or NULL when the line is not that key. */
static const char* value_of(const char* line, const char* key) {
    const size_t n = strlen(key);
    if (line == NULL || strncmp(line, key, n) != 0 || line[n] != ' ') return NULL;
    return line + n + 1;
}

int gpuslots_step_settings_read(const char* record_dir, const char* config_path,
                                const char* version, struct gpuslots_step_settings* out) {
    const int dfd = open_record_dir(record_dir);
    if (dfd < 0) return 0;
    const int fd = openat(dfd, GPUSLOTS_STEP_SETTINGS_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    close(dfd);
    if (fd < 0) return 0;
    struct stat st;
    char text[GPUSLOTS_STEP_SETTINGS_MAX_BYTES + 1];
    ssize_t n = -1;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
        (st.st_mode & 022) == 0) {
        n = read(fd, text, sizeof text);
    }
    close(fd);
    if (n <= 0 || n > GPUSLOTS_STEP_SETTINGS_MAX_BYTES || memchr(text, '\0', (size_t)n) != NULL) {
        return 0;
    }
    text[n] = '\0';

    struct stat config;
    if (stat(config_path, &config) != 0) return 0;
    char expected[160];
    snprintf(expected, sizeof expected,
             "%" PRIuMAX " %" PRIuMAX " %" PRIdMAX " %" PRIdMAX " %ld %" PRIdMAX " %ld",
             (uintmax_t)config.st_dev, (uintmax_t)config.st_ino, (intmax_t)config.st_size,
             (intmax_t)config.st_mtim.tv_sec, config.st_mtim.tv_nsec,
             (intmax_t)config.st_ctim.tv_sec, config.st_ctim.tv_nsec);

    char* rest = text;
    const char* v;
    char* line = next_line(&rest);
    if (line == NULL || strcmp(line, GPUSLOTS_STEP_SETTINGS_MAGIC) != 0) return 0;
    if ((v = value_of(next_line(&rest), "version")) == NULL || strcmp(v, version) != 0) return 0;
    if ((v = value_of(next_line(&rest), "config")) == NULL || strcmp(v, config_path) != 0) return 0;
    if ((v = value_of(next_line(&rest), "file")) == NULL || strcmp(v, expected) != 0) return 0;
    if ((v = value_of(next_line(&rest), "hide")) == NULL ||
        (strcmp(v, "0") != 0 && strcmp(v, "1") != 0)) {
        return 0;
    }
    out->hide = v[0] == '1';
    out->vars = 0;
    for (;;) {
        line = next_line(&rest);
        if (line == NULL) return 0; /* no "end": torn */
        if (strcmp(line, "end") == 0) break;
        v = value_of(line, "env");
        const size_t len = v != NULL ? strlen(v) : 0;
        if (len == 0 || len >= GPUSLOTS_STEP_SETTINGS_MAX_NAME ||
            out->vars == GPUSLOTS_STEP_SETTINGS_MAX_VARS || strchr(v, ' ') != NULL) {
            return 0;
        }
        memcpy(out->var[out->vars++], v, len + 1);
    }
    return *rest == '\0';
}
