/* The entry object's side of the step settings (gpuslots/step_settings.h): C and libc alone,
 * because it runs in every slurmstepd. Any doubt answers "load the core": a wrong "no" here
 * could hand a job GPUs the config would hide, or hide those it holds. */
#include "gpuslots/step_settings.h"

#include <errno.h>
#include <fcntl.h>
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

unsigned long long gpuslots_step_hash(const void* bytes, unsigned long size) {
    /* FNV-1a over 64-bit words (then the last bytes one by one): eight times fewer rounds than
     * byte by byte, for the large configs that list every server (450 KB for 10,000). */
    unsigned long long h = 0xcbf29ce484222325ULL;
    const unsigned char* p = (const unsigned char*)bytes;
    unsigned long i = 0;
    for (; i + 8 <= size; i += 8) {
        unsigned long long word;
        memcpy(&word, p + i, sizeof word);
        h ^= word;
        h *= 0x100000001b3ULL;
        h ^= h >> 29;
    }
    for (; i < size; ++i) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* "SIZE HASH" of the config at `path` as it reads now; 0 when it cannot be read whole or is
 * not a regular file of at most GPUSLOTS_STEP_CONFIG_MAX_BYTES (the core would refuse it). */
static int config_content(const char* path, char* out, size_t size) {
    const int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return 0;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 0 ||
        st.st_size > GPUSLOTS_STEP_CONFIG_MAX_BYTES) {
        close(fd);
        return 0;
    }
    /* One byte more than it says: a file that grows meanwhile does not read as whole. */
    const size_t want = (size_t)st.st_size + 1;
    unsigned char* text = malloc(want);
    size_t got = 0;
    int ok = text != NULL;
    while (ok && got < want) {
        const ssize_t n = read(fd, text + got, want - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            ok = n == 0;
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    ok = ok && got < want && got <= GPUSLOTS_STEP_CONFIG_MAX_BYTES; /* got == want: it grew */
    if (ok) {
        snprintf(out, size, "%lu %016llx", (unsigned long)got,
                 gpuslots_step_hash(text, (unsigned long)got));
    }
    free(text);
    return ok;
}

int gpuslots_step_settings_read(const char* record_dir, const char* config_path,
                                const char* version, struct gpuslots_step_settings* out) {
    const int dfd = open_record_dir(record_dir);
    if (dfd < 0) return 0;
    const int fd =
        openat(dfd, GPUSLOTS_STEP_SETTINGS_FILE, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
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

    char* rest = text;
    const char* v;
    char* line = next_line(&rest);
    if (line == NULL || strcmp(line, GPUSLOTS_STEP_SETTINGS_MAGIC) != 0) return 0;
    if ((v = value_of(next_line(&rest), "version")) == NULL || strcmp(v, version) != 0) return 0;
    if ((v = value_of(next_line(&rest), "config")) == NULL || strcmp(v, config_path) != 0) return 0;
    const char* content = value_of(next_line(&rest), "content");
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
    if (*rest != '\0' || content == NULL) return 0;
    /* Last, the dearest: the config's bytes as they are now. */
    char now[64];
    return config_content(config_path, now, sizeof now) && strcmp(content, now) == 0;
}
