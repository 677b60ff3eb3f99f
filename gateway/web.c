/* web.c - the screens: the staff console and the member portal, files of the web folder loaded
   and compressed once at start-up, served with their cache and security headers */
#include "web.h"
#include "log.h"
#include "metrics.h"
#include <assert.h>
#include <dirent.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define MAX_FILES   1000
#define MAX_BYTES   (32 << 20)              /* the whole folder */
#define MAX_DEPTH   8

/* What a page may load and do: only this origin's files, no inline script or style, never
   framed. */
#define CSP "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " \
            "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

typedef struct {
    char *path;                             /* the URL path: "/console/app.js" */
    const char *type;                       /* Content-Type */
    unsigned char *data;
    size_t size;
    unsigned char *gzip;                    /* NULL when compressing saves nothing */
    size_t gzip_size;
    char etag [24];                         /* "<16 hex>" of the bytes as stored */
    char etag_gzip [28];                    /* "<16 hex>-gz" of the compressed variant */
} s_file_t;

/* A path served as another: the folders' start pages. */
static const struct {
    const char *path, *as;
} s_aliases [] = {
    { "/",          "/console/index.html" },
    { "/console",   "/console/index.html" },
    { "/console/",  "/console/index.html" },
    { "/portal",    "/portal/index.html" },
    { "/portal/",   "/portal/index.html" },
};

static const struct {
    const char *extension, *type;
    bool compress;
} s_types [] = {
    { ".html", "text/html; charset=utf-8", true },
    { ".js",   "text/javascript; charset=utf-8", true },
    { ".mjs",  "text/javascript; charset=utf-8", true },
    { ".css",  "text/css; charset=utf-8", true },
    { ".json", "application/json", true },
    { ".svg",  "image/svg+xml", true },
    { ".txt",  "text/plain; charset=utf-8", true },
    { ".png",  "image/png", false },
    { ".ico",  "image/x-icon", true },
    { ".woff2", "font/woff2", false },
};

static s_file_t *s_files;                   /* sorted by path */
static size_t s_count;
static size_t s_bytes;
static char s_dir [PATH_MAX];
static char **s_folders;                    /* the web folder's top-level folders: "/console/" */
static size_t s_folder_count;

/* The index in s_types of a file's type by its name, or -1 for one the screens do not serve. */
static int
s_type_of (const char *name)
{
    const char *dot = strrchr (name, '.');
    for (size_t i = 0; dot && i < sizeof s_types / sizeof s_types [0]; i++)
        if (strcasecmp (dot, s_types [i].extension) == 0)
            return (int) i;
    return -1;
}

/* Compresses file's bytes with gzip, keeping the result only when it is smaller. */
static void
s_compress (s_file_t *file)
{
    z_stream stream = { 0 };
    if (deflateInit2 (&stream, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
        return;
    size_t bound = deflateBound (&stream, file->size);
    unsigned char *out = malloc (bound);
    stream.next_in = file->data;
    stream.avail_in = (uInt) file->size;
    stream.next_out = out;
    stream.avail_out = (uInt) bound;
    if (out && deflate (&stream, Z_FINISH) == Z_STREAM_END && stream.total_out < file->size) {
        file->gzip = out;
        file->gzip_size = stream.total_out;
        out = NULL;
    }
    deflateEnd (&stream);
    free (out);
}

/* Writes "<16 hex of data's SHA-256><suffix>" as a quoted ETag. */
static void
s_etag (const unsigned char *data, size_t size, const char *suffix, char *etag, size_t etag_size)
{
    unsigned char digest [EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_Digest (data, size, digest, &length, EVP_sha256 (), NULL);
    snprintf (etag, etag_size, "\"%02x%02x%02x%02x%02x%02x%02x%02x%s\"", digest [0], digest [1],
              digest [2], digest [3], digest [4], digest [5], digest [6], digest [7], suffix);
}

/* Reads one file into the table as url. Returns 0, or -1 after logging. */
static int
s_load_file (const char *disk_path, const char *url, off_t size, int type)
{
    if (s_count == MAX_FILES || s_bytes + (size_t) size > MAX_BYTES)
        return log_error ("the web folder '%s' holds more than %d files or %d MiB", s_dir,
                          MAX_FILES, MAX_BYTES >> 20);
    FILE *stream = fopen (disk_path, "rb");
    if (!stream)
        return log_error ("cannot read '%s': %m", disk_path);
    s_file_t file = { .type = s_types [type].type, .size = (size_t) size };
    file.data = malloc (file.size + 1);
    file.path = strdup (url);
    bool read = file.data && file.path && fread (file.data, 1, file.size, stream) == file.size;
    fclose (stream);
    if (!read) {
        free (file.data);
        free (file.path);
        return log_error ("cannot read '%s'", disk_path);
    }
    if (s_types [type].compress)
        s_compress (&file);
    s_etag (file.data, file.size, "", file.etag, sizeof file.etag);
    s_etag (file.data, file.size, "-gz", file.etag_gzip, sizeof file.etag_gzip);
    s_files = realloc (s_files, (s_count + 1) * sizeof *s_files);
    assert (s_files);
    s_files [s_count++] = file;
    s_bytes += file.size;
    return 0;
}

/* Loads the folder disk_path, served under url ("/console"). Links and names starting with
   a dot are left out. Returns 0 or -1. */
static int
s_load_folder (const char *disk_path, const char *url, int depth)
{
    DIR *folder = opendir (disk_path);
    if (!folder)
        return log_error ("cannot read the web folder '%s': %m", disk_path);
    int rc = 0;
    struct dirent *entry;
    while (rc == 0 && (entry = readdir (folder))) {
        if (entry->d_name [0] == '.')
            continue;
        char child [PATH_MAX], child_url [PATH_MAX];
        struct stat status;
        if (snprintf (child, sizeof child, "%s/%s", disk_path, entry->d_name) >= (int) sizeof child
        ||  snprintf (child_url, sizeof child_url, "%s/%s", url, entry->d_name) >= (int) sizeof child_url
        ||  lstat (child, &status) == -1)
            continue;
        if (S_ISDIR (status.st_mode) && depth < MAX_DEPTH) {
            rc = s_load_folder (child, child_url, depth + 1);
            if (rc == 0 && depth == 0) {
                s_folders = realloc (s_folders, (s_folder_count + 1) * sizeof *s_folders);
                assert (s_folders);
                size_t length = strlen (child_url) + 2;
                s_folders [s_folder_count] = malloc (length);
                assert (s_folders [s_folder_count]);
                snprintf (s_folders [s_folder_count++], length, "%s/", child_url);
            }
        }
        else
        if (S_ISREG (status.st_mode) && s_type_of (entry->d_name) >= 0)
            rc = s_load_file (child, child_url, status.st_size, s_type_of (entry->d_name));
    }
    closedir (folder);
    return rc;
}

static int
s_by_path (const void *a, const void *b)
{
    return strcmp (((const s_file_t *) a)->path, ((const s_file_t *) b)->path);
}

/* True when folder holds console/index.html. */
static bool
s_is_web_folder (const char *folder)
{
    char index [PATH_MAX];
    snprintf (index, sizeof index, "%s/console/index.html", folder);
    return access (index, R_OK) == 0;
}

/* Finds the web folder when none is named: see web.h. */
static bool
s_find_folder (char *found, size_t size)
{
    char beside [PATH_MAX];
    ssize_t length = readlink ("/proc/self/exe", beside, sizeof beside - 1);
    beside [length > 0? length: 0] = 0;
    char *slash = strrchr (beside, '/');
    if (slash)
        snprintf (slash, sizeof beside - (size_t) (slash - beside), "/../../web");
    const char *candidates [] = { "web", slash? beside: NULL, "/usr/share/kaiin/web" };
    for (size_t i = 0; i < sizeof candidates / sizeof candidates [0]; i++)
        if (candidates [i] && s_is_web_folder (candidates [i])) {
            if (!realpath (candidates [i], found))
                snprintf (found, size, "%s", candidates [i]);
            return true;
        }
    return false;
}

int
web_init (const char *dir)
{
    if (dir && *dir)
        snprintf (s_dir, sizeof s_dir, "%s", dir);
    else
    if (!s_find_folder (s_dir, sizeof s_dir)) {
        log_warn ("no web folder found (web/ here, beside the binary or /usr/share/kaiin/web): "
                  "the gateway serves no screens; set KAIIN_WEB_DIR");
        *s_dir = 0;
        return -1;
    }
    if (s_load_folder (s_dir, "", 0) == -1) {
        web_destroy ();
        return -1;
    }
    qsort (s_files, s_count, sizeof *s_files, s_by_path);
    size_t compressed = 0;
    for (size_t i = 0; i < s_count; i++)
        compressed += s_files [i].gzip? s_files [i].gzip_size: s_files [i].size;
    log_info ("serving %zu screen files from '%s': %zu KiB, %zu KiB compressed", s_count, s_dir,
              s_bytes / 1024, compressed / 1024);
    return 0;
}

void
web_destroy (void)
{
    for (size_t i = 0; i < s_count; i++) {
        free (s_files [i].path);
        free (s_files [i].data);
        free (s_files [i].gzip);
    }
    free (s_files);
    s_files = NULL;
    s_count = s_bytes = 0;
    for (size_t i = 0; i < s_folder_count; i++)
        free (s_folders [i]);
    free (s_folders);
    s_folders = NULL;
    s_folder_count = 0;
    *s_dir = 0;
}

const char *
web_dir (void)
{
    return s_dir;
}

void
web_security_headers (http_request_t *request)
{
    MHD_add_response_header (request->response, "Content-Security-Policy", CSP);
    MHD_add_response_header (request->response, "Referrer-Policy", "no-referrer");
}

/* True when the client takes gzip: Accept-Encoding names it (or "*") with a q above 0. */
static bool
s_accepts_gzip (const char *header)
{
    while (header && *header) {
        header += strspn (header, " ,");
        size_t name = strcspn (header, " ;,");
        bool gzip = (name == 4 && strncasecmp (header, "gzip", 4) == 0)
                 || (name == 1 && *header == '*');
        const char *end = header + strcspn (header, ",");
        const char *q = strstr (header, ";q=");
        if (!q || q > end)
            q = strstr (header, "; q=");
        bool zero = q && q < end && strtod (strchr (q, '=') + 1, NULL) <= 0;
        if (gzip)
            return !zero;
        header = end;
    }
    return false;
}

static const s_file_t *
s_find (const char *path)
{
    for (size_t i = 0; i < sizeof s_aliases / sizeof s_aliases [0]; i++)
        if (strcmp (path, s_aliases [i].path) == 0)
            path = s_aliases [i].as;
    s_file_t key = { .path = (char *) path };
    return bsearch (&key, s_files, s_count, sizeof *s_files, s_by_path);
}

/* True when path belongs to the screens: a start page, or under a top-level folder. */
static bool
s_is_screen_path (const char *path)
{
    for (size_t i = 0; i < sizeof s_aliases / sizeof s_aliases [0]; i++)
        if (strcmp (path, s_aliases [i].path) == 0)
            return true;
    for (size_t i = 0; i < s_folder_count; i++)
        if (strncmp (path, s_folders [i], strlen (s_folders [i])) == 0)
            return true;
    return false;
}

bool
web_serve (http_request_t *request)
{
    if ((strcmp (request->method, "GET") != 0 && strcmp (request->method, "HEAD") != 0)
    ||  !s_count)
        return false;
    /* Only paths loaded at start-up are served: "..", "//" or an encoded slash can match no
       entry of the table, so nothing outside the web folder is ever read. */
    const s_file_t *file = s_find (request->path);
    if (!file && !s_is_screen_path (request->path))
        return false;
    request->route = metrics_route ("GET", "/{screen}");
    if (!file) {
        http_problem (request, 404, "no such screen file", NULL, NULL);
        web_security_headers (request);
        return true;
    }
    bool gzip = file->gzip && s_accepts_gzip (http_header (request, "Accept-Encoding"));
    snprintf (request->etag, sizeof request->etag, "%s", gzip? file->etag_gzip: file->etag);
    const char *if_none_match = http_header (request, "If-None-Match");
    if (if_none_match && (strstr (if_none_match, request->etag) || strcmp (if_none_match, "*") == 0))
        http_respond_static (request, 304, file->type, "", 0);
    else
        http_respond_static (request, 200, file->type, (const char *) (gzip? file->gzip: file->data),
                             gzip? file->gzip_size: file->size);
    if (gzip && request->status == 200)
        MHD_add_response_header (request->response, "Content-Encoding", "gzip");
    if (file->gzip)
        MHD_add_response_header (request->response, "Vary", "Accept-Encoding");
    /* No versioned names without a build step: the browser asks again each time and gets 304. */
    MHD_add_response_header (request->response, "Cache-Control", "no-cache");
    web_security_headers (request);
    return true;
}
